"""Demo data for a first look at Omnico: ``manage.py seed_demo``.

Idempotent: configuration rows are looked up by their natural keys (names, kind + name,
usernames) and created only when missing; the demo tickets are skipped when they exist already.
Tickets and messages are made through the ticket services, like real traffic.

This module sits on top of every app (it needs users, customers and tickets); nothing in
``configuration`` imports it, only the management command.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from configuration.models import (
    ActivityCategory,
    BreakReason,
    BusinessHours,
    CannedResponse,
    ChannelAccount,
    ChannelKind,
    Department,
    GroupType,
    MailAccount,
    OperatorProfile,
    Subject,
    SupportPage,
)
from customers.models import Customer
from customers.services import customer_resolve, customer_update
from tickets import services as ticket_services
from tickets.models import AgentPresence, Message, PresenceState, Priority, TicketStatus
from tickets.receiving import Incoming, ticket_receive

DEMO_NAME = "demo"
DEMO_EXTERNAL_PREFIX = "demo-"

SUBJECTS = [
    "Donation",
    "Information",
    "Suggestion",
    "Appointment",
    "Help request",
    "Thanks",
    "Membership cancellation",
    "Campaigns",
    "Billing information",
]
GROUP_TYPES = ["Allianz", "Individual", "Corporate", "VIP"]
BREAK_REASONS = ["Lunch", "Meeting", "Training", "Personal break", "Technical issue"]
DEPARTMENTS = ["Sales", "Support", "Billing"]
ACTIVITY_CATEGORIES = {
    "Question": ["Product", "Order status", "Pricing"],
    "Incident": ["Login", "Payment failure", "Delivery"],
    "Problem": ["Recurring outage", "Data mismatch"],
    "Feature Request": ["Mobile app", "Reporting", "Integrations"],
}
#: Around the clock (23:59 is "until midnight"), so whoever tries the demo, whenever, can chat
#: on /support/; change them under Settings (or add today as a holiday) to see the offline form.
BUSINESS_HOURS = [(day, dt.time(0), dt.time(23, 59)) for day in range(7)]

#: username, first name, last name, staff, capacity, active (None: no presence row). agent1 works
#: five of the demo tickets; a capacity of 8 leaves slots for the chats a newcomer starts.
USERS = [
    ("admin", "Admin", "Omnico", True, None, None),
    ("agent1", "Ayşe", "Yılmaz", False, 8, True),
    ("agent2", "Mehmet", "Demir", False, 3, True),
    ("agent3", "Emma", "Clark", False, 4, False),
]

#: kind, external id, name, e-mail, location
CUSTOMERS = [
    (ChannelKind.TELEGRAM, "100200301", "Zeynep Kaya", "", "İstanbul"),
    (ChannelKind.TELEGRAM, "100200302", "Oliver Brown", "", "London"),
    (ChannelKind.WHATSAPP, "905321112233", "Mustafa Öztürk", "", "Ankara"),
    (ChannelKind.WHATSAPP, "447700900123", "Sarah Williams", "", "Manchester"),
    (ChannelKind.MESSENGER, "6201000000001", "Elif Şahin", "", "İzmir"),
    (ChannelKind.MESSENGER, "6201000000002", "James Taylor", "", "Leeds"),
    (ChannelKind.EMAIL, "can.yildiz@example.com", "Can Yıldız", "can.yildiz@example.com", "Bursa"),
    (ChannelKind.EMAIL, "emily.j@example.org", "Emily Johnson", "emily.j@example.org", "Bristol"),
    (ChannelKind.API, "bip-905551234567", "Gülşen Arslan", "", "Antalya"),
    (ChannelKind.WEBCHAT, "demo-visitor-1", "Hakan Çelik", "hakan@example.com", "Eskişehir"),
    (ChannelKind.WEBCHAT, "demo-visitor-2", "Lucy Evans", "lucy@example.net", "Cardiff"),
]


@dataclass
class DemoTicket:
    customer: int  # index in CUSTOMERS
    messages: list[tuple[str, str]]  # ("in" | "out", text)
    subject: str | None = None
    group_type: str | None = None
    priority: str = Priority.MEDIUM
    status: str = TicketStatus.OPEN
    assignee: str | None = None
    department: str | None = None
    tags: list[str] = field(default_factory=list)
    #: (call reason, category, subcategory, done)
    activities: list[tuple[str, str, str, bool]] = field(default_factory=list)


TICKETS = [
    DemoTicket(
        0,
        [
            ("in", "Merhaba, bağış makbuzumu e-posta ile alabilir miyim?"),
            ("out", "Merhaba Zeynep Hanım, makbuzunuzu bugün gönderiyoruz."),
            ("in", "Çok teşekkürler!"),
        ],
        subject="Donation",
        group_type="Individual",
        status=TicketStatus.RESOLVED,
        assignee="agent1",
        department="Support",
        tags=["receipt"],
        activities=[("Receipt request", "Question", "Product", True)],
    ),
    DemoTicket(
        1,
        [("in", "Hi, I'd like to book an appointment for next Tuesday.")],
        subject="Appointment",
        group_type="Allianz",
        priority=Priority.HIGH,
    ),
    DemoTicket(
        2,
        [
            ("in", "Faturamda iki kez ücret alınmış görünüyor."),
            ("out", "Kontrol ediyorum, birkaç dakika içinde dönüş yapacağım."),
        ],
        subject="Billing information",
        group_type="Allianz",
        priority=Priority.URGENT,
        status=TicketStatus.PENDING,
        assignee="agent2",
        department="Billing",
        tags=["billing", "refund"],
        activities=[
            ("Double charge check", "Incident", "Payment failure", True),
            ("Refund follow-up", "Problem", "Data mismatch", False),
        ],
    ),
    DemoTicket(
        3,
        [("in", "How do I cancel my membership?")],
        subject="Membership cancellation",
        group_type="Individual",
        assignee="agent1",
        department="Sales",
    ),
    DemoTicket(
        4,
        [
            ("in", "Kampanya kodu çalışmıyor."),
            ("out", "Kodu tekrar tanımladık, yeniden dener misiniz?"),
        ],
        subject="Campaigns",
        group_type="Corporate",
        status=TicketStatus.WAITING_ON_CUSTOMER,
        assignee="agent2",
        tags=["campaign"],
    ),
    DemoTicket(
        5,
        [("in", "Just wanted to say thanks for the quick help yesterday!")],
        subject="Thanks",
        priority=Priority.LOW,
        status=TicketStatus.CLOSED,
        assignee="agent1",
    ),
    DemoTicket(
        6,
        [
            ("in", "Şifremi sıfırlayamıyorum, bağlantı gelmiyor."),
            ("out", "Yeni bir bağlantı gönderdik, gereksiz klasörünü de kontrol eder misiniz?"),
        ],
        subject="Help request",
        group_type="VIP",
        priority=Priority.HIGH,
        assignee="agent1",
        department="Support",
        tags=["login"],
        activities=[("Password reset", "Incident", "Login", False)],
    ),
    DemoTicket(
        7,
        [("in", "Could you send me information about your corporate plans?")],
        subject="Information",
        group_type="Corporate",
        status=TicketStatus.WAITING_ON_THIRD_PARTY,
        assignee="agent2",
        department="Sales",
    ),
    DemoTicket(
        8,
        [("in", "BiP üzerinden yazıyorum: siparişim nerede?")],
        subject="Information",
        priority=Priority.MEDIUM,
    ),
    DemoTicket(
        9,
        [
            ("in", "Uygulamaya karanlık mod eklemeyi düşünür müsünüz?"),
            ("out", "Önerinizi ürün ekibimize ilettik, teşekkürler!"),
        ],
        subject="Suggestion",
        priority=Priority.LOW,
        assignee="agent1",
        tags=["feature"],
        activities=[("Dark mode request", "Feature Request", "Mobile app", True)],
        status=TicketStatus.RESOLVED,
    ),
    DemoTicket(
        10,
        [("in", "Hello, is anyone there? My delivery is three days late.")],
        subject="Help request",
        group_type="Individual",
        priority=Priority.URGENT,
    ),
    DemoTicket(
        0,
        [("in", "Bir sorum daha var: bağışımı aylık yapabilir miyim?")],
        subject="Donation",
        group_type="Individual",
    ),
]


@dataclass
class DemoResult:
    password: str
    password_from_env: bool
    secret: str
    secret_from_env: bool
    usernames: list[str]
    tickets_created: int


def _named(model: type[Any], name: str, position: int, **extra: Any) -> Any:
    obj = model.objects.filter(name__iexact=name, **extra).first()
    if obj is None:
        obj = model.objects.create(name=name, position=position, **extra)
    return obj


def _seed_templates() -> None:
    for model, names in (
        (Subject, SUBJECTS),
        (GroupType, GROUP_TYPES),
        (BreakReason, BREAK_REASONS),
        (Department, DEPARTMENTS),
    ):
        for position, name in enumerate(names):
            _named(model, name, position)
    for position, (name, children) in enumerate(ACTIVITY_CATEGORIES.items()):
        top = _named(ActivityCategory, name, position, parent=None)
        for child_position, child in enumerate(children):
            _named(ActivityCategory, child, child_position, parent=top)
    for weekday, opens_at, closes_at in BUSINESS_HOURS:
        if not BusinessHours.objects.filter(weekday=weekday).exists():
            BusinessHours.objects.create(weekday=weekday, opens_at=opens_at, closes_at=closes_at)


#: Shared canned responses: (shortcut, title, language, text), in the admin's order.
CANNED_RESPONSES = [
    (
        "merhaba",
        "Karşılama",
        "tr",
        "Merhaba {{ customer_name }}, ben {{ agent_name }}. Size nasıl yardımcı olabilirim?",
    ),
    (
        "iade",
        "İade süreci",
        "tr",
        "Merhaba {{ customer_name }}, iade talebiniz #{{ ticket_number }} numarasıyla alındı. "
        "Ürünü 14 gün içinde kargoya vermeniz yeterli; kargo kodunu SMS ile göndereceğiz.",
    ),
    (
        "kargo",
        "Kargo takibi",
        "tr",
        "{{ customer_name }}, siparişiniz kargoya verildi. Takip numarası birkaç saat içinde SMS "
        "ile gelecek.",
    ),
    (
        "tesekkur",
        "Teşekkür",
        "tr",
        "Bize yazdığınız için teşekkür ederiz, {{ customer_name }}. İyi günler dileriz.",
    ),
    (
        "hello",
        "Greeting",
        "en",
        "Hello {{ customer_name }}, I'm {{ agent_name }}. How can I help you today?",
    ),
    (
        "refund",
        "Refund process",
        "en",
        "Hi {{ customer_name }}, your refund request is registered as ticket "
        "#{{ ticket_number }}. Please send the item back within 14 days; we will text you the "
        "shipping code.",
    ),
    (
        "thanks",
        "Thanks",
        "en",
        "Thank you for writing to us, {{ customer_name }}. Have a nice day!",
    ),
]


def _seed_canned_responses() -> None:
    for position, (shortcut, title, language, text) in enumerate(CANNED_RESPONSES):
        if not CannedResponse.objects.filter(owner=None, shortcut__iexact=shortcut).exists():
            CannedResponse.objects.create(
                shortcut=shortcut, title=title, language=language, text=text, position=position
            )


def _seed_users(password: str) -> list[str]:
    user_model = get_user_model()
    lunch = BreakReason.objects.filter(name__iexact="Lunch").first()
    for username, first, last, staff, capacity, active in USERS:
        user, _created = user_model.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@omnico.test"},
        )
        user.is_staff = staff
        user.is_superuser = staff
        user.is_active = True
        user.set_password(password)
        user.save()
        if capacity is not None:
            OperatorProfile.objects.get_or_create(user=user, defaults={"capacity": capacity})
        if active is not None:
            AgentPresence.objects.update_or_create(
                user=user,
                defaults={
                    "is_active": active,
                    "state": PresenceState.ACTIVE if active else PresenceState.PASSIVE,
                    "break_reason": None if active else lunch,
                },
            )
    return [row[0] for row in USERS]


def _existing_demo_secret() -> str:
    account = ChannelAccount.objects.filter(kind=ChannelKind.TELEGRAM, name=DEMO_NAME).first()
    return account.secret if account is not None else ""


def _seed_accounts(secret: str) -> None:
    for kind in ChannelKind.values:
        if kind == ChannelKind.EMAIL:
            continue
        account, created = ChannelAccount.objects.get_or_create(
            kind=kind,
            name=DEMO_NAME,
            defaults={
                "display_name": f"Demo {ChannelKind(kind).label}",
                "token": f"demo-token-{kind}",
                "secret": secret,
                "verify_token": secret,
            },
        )
        if not created and (account.secret != secret or account.verify_token != secret):
            account.secret = secret
            account.verify_token = secret
            account.save(update_fields=["secret", "verify_token"])
    webchat = ChannelAccount.objects.get(kind=ChannelKind.WEBCHAT, name=DEMO_NAME)
    SupportPage.objects.get_or_create(
        channel_account=webchat,
        defaults={
            "company_name": "Omnico Demo",
            "welcome_text": "Hello! Pick what your question is about and an agent will answer.",
            "is_default": not SupportPage.objects.filter(is_default=True).exists(),
        },
    )
    if not MailAccount.objects.filter(kind=ChannelKind.EMAIL, name=DEMO_NAME).exists():
        MailAccount.objects.create(
            name=DEMO_NAME,
            display_name="Demo mailbox",
            # No mail server on a laptop: switch it on once IMAP/SMTP point somewhere real.
            enabled=False,
            email_address="support@omnico.test",
            password="demo",  # noqa: S106 - a placeholder for a disabled local mailbox
            imap_host="127.0.0.1",
            imap_port=143,
            imap_security=MailAccount.Security.NONE,
            smtp_host="127.0.0.1",
            smtp_port=25,
            smtp_security=MailAccount.Security.NONE,
        )


def _seed_customers() -> list[Customer]:
    customers = []
    for kind, external_id, name, email, location in CUSTOMERS:
        customer = customer_resolve(kind=kind, external_id=external_id, name=name, email=email)
        if customer.location != location:
            customer = customer_update(customer=customer, location=location)
        customers.append(customer)
    return customers


def _demo_tickets_exist() -> bool:
    return Message.objects.filter(external_id__startswith=DEMO_EXTERNAL_PREFIX).exists()


def _seed_tickets(customers: list[Customer]) -> int:
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="agent")}
    accounts = {
        a.kind: a
        for a in ChannelAccount.objects.filter(name=DEMO_NAME).exclude(kind=ChannelKind.EMAIL)
    }
    accounts[ChannelKind.EMAIL] = MailAccount.objects.get(kind=ChannelKind.EMAIL, name=DEMO_NAME)
    subjects = {s.name: s for s in Subject.objects.all()}
    group_types = {g.name: g for g in GroupType.objects.all()}
    departments = {d.name: d for d in Department.objects.all()}
    categories = {
        (c.parent.name if c.parent else None, c.name): c
        for c in ActivityCategory.objects.select_related("parent")
    }
    admin = get_user_model().objects.get(username="admin")

    seq = 0
    created = 0
    for spec in TICKETS:
        customer = customers[spec.customer]
        account = accounts[CUSTOMERS[spec.customer][0]]
        agent = users.get(spec.assignee) if spec.assignee else None
        ticket = None
        for direction, text in spec.messages:
            if direction == "in":
                seq += 1
                received = ticket_receive(
                    channel_account=account,
                    customer=customer,
                    incoming=Incoming(
                        body=text,
                        external_id=f"{DEMO_EXTERNAL_PREFIX}{seq}",
                        subject_id=subjects[spec.subject].pk if spec.subject else None,
                        group_type_id=(
                            group_types[spec.group_type].pk if spec.group_type else None
                        ),
                    ),
                )
                ticket = received.ticket
                created += int(received.ticket_created)
            else:
                assert ticket is not None  # every demo conversation opens with the customer
                message = ticket_services.message_add_outbound(
                    ticket=ticket, author=agent or admin, body=text
                )
                # Demo history: these replies count as delivered long ago, not as a queue.
                Message.objects.filter(pk=message.pk).update(delivery=Message.Delivery.SENT)
        assert ticket is not None
        if agent is not None:
            ticket_services.ticket_assign(ticket=ticket, assignee=agent, actor=admin)
        if spec.department:
            ticket_services.ticket_set_department(
                ticket=ticket, department=departments[spec.department], actor=agent
            )
        ticket_services.ticket_set_priority(ticket=ticket, priority=spec.priority, actor=agent)
        for tag in spec.tags:
            ticket_services.ticket_add_tag(ticket=ticket, name=tag, actor=agent)
        for reason, category, subcategory, done in spec.activities:
            activity = ticket_services.activity_add(
                ticket=ticket,
                call_reason=reason,
                category=categories[(None, category)],
                subcategory=categories[(category, subcategory)],
                actor=agent,
            )
            if done:
                ticket_services.activity_mark_done(activity=activity, actor=agent)
        ticket_services.ticket_set_status(ticket=ticket, status=spec.status, actor=agent)
    return created


#: Approved WhatsApp templates of the demo account (a real account syncs them from Meta), so
#: the composer's template picker has something to offer once a demo window has closed.
DEMO_WHATSAPP_TEMPLATES = (
    ("siparis_kargoda", "tr", "Merhaba {{1}}, {{2}} numaralı siparişiniz kargoya verildi."),
    ("order_shipped", "en", "Hello {{1}}, your order {{2}} has shipped."),
    ("tekrar_yazin", "tr", "Merhaba {{1}}, sorunuzla ilgili size yardımcı olmak isteriz."),
)


def _seed_whatsapp_templates() -> None:
    from channels_adapters.models import WhatsAppTemplate
    from channels_adapters.whatsapp.payloads import parameter_count

    account = ChannelAccount.objects.get(kind=ChannelKind.WHATSAPP, name=DEMO_NAME)
    for name, language, body in DEMO_WHATSAPP_TEMPLATES:
        WhatsAppTemplate.objects.get_or_create(
            channel_account=account,
            name=name,
            language=language,
            defaults={
                "status": "APPROVED",
                "category": "UTILITY",
                "body_text": body,
                "parameter_count": parameter_count(body),
                "components": [{"type": "BODY", "text": body}],
                "synced_at": timezone.now(),
            },
        )


def _seed_nobody_at_a_screen() -> None:
    """The working agents replied to the demo tickets above as active agents; now nobody has a
    screen open, so they are away until their first screen opens
    (``tickets.presence.presence_screen_seen``). A newcomer who signs in as agent1 thus gets the
    chat they start on /support/ themselves, whichever of the two they do first, instead of it
    going to an agent nobody is watching. The one on a lunch break stays on it."""
    AgentPresence.objects.filter(state=PresenceState.ACTIVE).update(
        is_active=False, state=PresenceState.AWAY
    )


@transaction.atomic
def demo_seed() -> DemoResult:
    """Create (or complete) the demo data set and say how to log in."""
    password = settings.OMNICO_DEMO_PASSWORD or secrets.token_urlsafe(12)
    secret = settings.OMNICO_DEMO_SECRET or _existing_demo_secret() or secrets.token_urlsafe(24)
    _seed_templates()
    _seed_canned_responses()
    usernames = _seed_users(password)
    _seed_accounts(secret)
    _seed_whatsapp_templates()
    customers = _seed_customers()
    tickets_created = 0 if _demo_tickets_exist() else _seed_tickets(customers)
    _seed_nobody_at_a_screen()
    return DemoResult(
        password=password,
        password_from_env=bool(settings.OMNICO_DEMO_PASSWORD),
        secret=secret,
        secret_from_env=bool(settings.OMNICO_DEMO_SECRET),
        usernames=usernames,
        tickets_created=tickets_created,
    )
