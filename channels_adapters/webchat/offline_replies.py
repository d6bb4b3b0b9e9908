"""Where an agent's reply to an offline message goes: by e-mail, through the first enabled
mail account, to the address the customer left in the offline form (``meta["contact"]`` of
the form's message). Kept apart from ``offline`` because the outbound path imports it."""

from __future__ import annotations

from django.utils.translation import gettext as _

from configuration.models import ChannelKind, MailAccount
from customers.models import Identity
from tickets.errors import TicketRuleError
from tickets.models import Message, Ticket


def reply_mail_account() -> MailAccount | None:
    """The mail account that answers offline messages: the first enabled one."""
    return MailAccount.objects.filter(enabled=True).order_by("pk").first()


def offline_contact(*, ticket: Ticket) -> dict[str, str]:
    """The contact the customer left in the ticket's latest offline form (name, email, phone);
    the customer's own e-mail and phone when they left none. One query."""
    metas = Message.objects.filter(
        ticket=ticket, direction=Message.Direction.INBOUND, meta__has_key="contact"
    ).order_by("-sent_at", "-pk")
    for meta in metas.values_list("meta", flat=True)[:1]:
        contact = meta.get("contact") if isinstance(meta, dict) else None
        if isinstance(contact, dict):
            return {k: str(contact.get(k) or "") for k in ("name", "email", "phone")}
    customer = ticket.customer
    return {"name": customer.name, "email": customer.email, "phone": customer.phone}


def offline_reply_problem(*, ticket: Ticket) -> str:
    """Why an agent's reply to this offline message cannot go out by e-mail ("" when it can):
    the customer left no address (only a phone), or no mail account is set up."""
    if not offline_contact(ticket=ticket)["email"]:
        return _(
            "This offline message left no e-mail address, only a phone number: a reply cannot "
            "reach the customer. Call them, or add an internal note."
        )
    if reply_mail_account() is None:
        return _(
            "No mail account is set up, so replies to offline messages cannot be sent by "
            "e-mail. An admin adds one under Mail accounts."
        )
    return ""


def offline_reply_account(*, ticket: Ticket) -> MailAccount:
    """The mail account an agent's reply to an offline message goes out through; refused with
    a ``TicketRuleError`` saying why when it cannot go out."""
    problem = offline_reply_problem(ticket=ticket)
    account = reply_mail_account()
    if problem or account is None:
        raise TicketRuleError(problem)
    return account


def offline_recipient(*, ticket: Ticket, kind: str = ChannelKind.EMAIL) -> Identity | None:
    """The address a reply to an offline message goes to, as an (unsaved) identity."""
    contact = offline_contact(ticket=ticket)
    if not contact["email"]:
        return None
    return Identity(
        customer=ticket.customer, kind=kind, external_id=contact["email"], display=contact["name"]
    )
