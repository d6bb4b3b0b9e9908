"""The ticket panel: inline edits saved at once, tags with autocomplete, activities, customer
details, cart, and a human-readable history."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from configuration.models import ActivityCategory, Department
from customers.models import ShoppingCart
from tests.factories import make_ticket, make_user
from tickets.models import AgentPresence, Tag, TicketEvent, TicketStatus
from tickets.services import activity_add, ticket_add_tag

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ticket(db, account):
    return make_ticket(account=account, body="Hello")


def post(client, name, ticket, data=None, *args):
    return client.post(reverse(name, args=[ticket.pk, *args]), data or {}, **HTMX)


def test_priority_edit_returns_the_panel_with_the_new_value_and_a_toast(agent_client, ticket):
    response = post(agent_client, "ticket-priority", ticket, {"priority": "high"})
    content = response.content.decode()
    assert f'id="panel-{ticket.pk}"' in content
    assert '<option value="high" selected>' in content
    assert "toast-success" in content and "Priority changed" in content
    ticket.refresh_from_db()
    assert ticket.priority == "high"


def test_resolving_with_an_open_activity_keeps_the_status_and_shows_the_rule(
    agent_client, agent, ticket
):
    activity_add(ticket=ticket, call_reason="Call the courier", actor=agent)
    content = post(agent_client, "ticket-status", ticket, {"status": "resolved"}).content.decode()
    assert '<option value="open" selected>' in content
    assert '<option value="resolved" selected>' not in content
    assert "toast-error" in content and "Mark every activity done first" in content
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_department_and_agent_can_be_changed_and_cleared(agent_client, agent, ticket):
    sales = Department.objects.create(name="Sales")
    other = make_user("agent-b")
    AgentPresence.objects.create(user=other, is_active=True)  # only active agents get tickets
    post(agent_client, "ticket-department", ticket, {"department": sales.pk})
    content = post(agent_client, "ticket-assignee", ticket, {"assignee": other.pk}).content
    ticket.refresh_from_db()
    assert (ticket.department, ticket.assignee) == (sales, other)
    assert f'<option value="{other.pk}" selected>'.encode() in content

    post(agent_client, "ticket-department", ticket, {"department": ""})
    post(agent_client, "ticket-assignee", ticket, {"assignee": ""})
    ticket.refresh_from_db()
    assert ticket.department is None and ticket.assignee is None


def test_unknown_agent_is_refused_with_a_message(agent_client, ticket):
    content = post(agent_client, "ticket-assignee", ticket, {"assignee": 999_999}).content
    assert b"toast-error" in content
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_tags_are_added_and_removed_from_the_panel(agent_client, ticket):
    content = post(agent_client, "ticket-tag-add", ticket, {"name": "  Kargo  gecikti "}).content
    tag = Tag.objects.get()
    assert tag.name == "Kargo gecikti"
    assert b"Kargo gecikti" in content
    remove = reverse("ticket-tag-remove", args=[ticket.pk, tag.pk])
    assert remove.encode() in content

    content = agent_client.post(remove, **HTMX).content
    assert not ticket.tags.exists()
    assert b"No tags." in content


def test_removing_a_tag_the_ticket_does_not_have_is_404(agent_client, ticket, account):
    other = make_ticket(account=account)
    tag = ticket_add_tag(ticket=other, name="vip")
    response = agent_client.post(reverse("ticket-tag-remove", args=[ticket.pk, tag.pk]))
    assert response.status_code == 404
    assert other.tags.filter(pk=tag.pk).exists()


def test_tag_autocomplete_offers_matching_names_prefix_first(agent_client, db):
    for name in ("Refund", "Late refund", "Shipping", "refurbished"):
        Tag.objects.create(name=name)
    content = agent_client.get(reverse("tag-options"), {"q": "ref"}).content.decode()
    assert "Shipping" not in content
    assert content.index("Refund") < content.index("refurbished") < content.index("Late refund")
    markup = agent_client.get(reverse("tag-options"), {"q": "<x>"})
    assert markup.status_code == 200
    assert "<x>" not in markup.content.decode()  # what was typed comes back escaped, if at all


def test_tag_autocomplete_needs_login(client, db):
    response = client.get(reverse("tag-options"), {"q": "a"})
    assert response.status_code == 302


def test_subcategory_options_follow_the_chosen_category(agent_client, db):
    question = ActivityCategory.objects.create(name="Question")
    incident = ActivityCategory.objects.create(name="Incident")
    ActivityCategory.objects.create(name="Billing", parent=question)
    ActivityCategory.objects.create(name="Outage", parent=incident)
    content = agent_client.get(
        reverse("activity-subcategories"), {"category": question.pk}
    ).content.decode()
    assert "Billing" in content and "Outage" not in content
    empty = agent_client.get(reverse("activity-subcategories"), {"category": ""}).content
    assert b"Billing" not in empty


def test_running_call_shows_a_timer_and_stop_button(agent_client, agent, ticket):
    activity = activity_add(ticket=ticket, call_reason="Courier", actor=agent)
    content = post(
        agent_client, "activity-call", ticket, {"action": "start"}, activity.pk
    ).content.decode()
    assert "data-call-running" in content and 'value="stop"' in content
    content = post(
        agent_client, "activity-call", ticket, {"action": "stop"}, activity.pk
    ).content.decode()
    assert "data-call-running" not in content and 'value="start"' in content


def test_history_reads_like_a_sentence(agent_client, ticket):
    user = make_user("ayse", first_name="Ayşe")
    agent_client.force_login(user)
    post(agent_client, "ticket-priority", ticket, {"priority": "high"})
    post(agent_client, "ticket-tag-add", ticket, {"name": "vip"})
    content = agent_client.get(reverse("ticket-panel", args=[ticket.pk])).content.decode()
    assert "Ayşe changed priority from Medium to High" in content
    assert "Ayşe added tag “vip”" in content
    assert TicketEvent.objects.filter(ticket=ticket).count() >= 2


def test_history_is_translated_to_turkish(agent_client, ticket):
    post(agent_client, "ticket-priority", ticket, {"priority": "high"})
    content = agent_client.get(
        reverse("ticket-panel", args=[ticket.pk]), HTTP_ACCEPT_LANGUAGE="tr"
    ).content.decode()
    assert 'id="panel-' in content  # renders in Turkish without errors


def test_customer_details_are_edited_inline(agent_client, ticket):
    customer = ticket.customer
    customer.attributes = {"loyalty": "gold", "orders": 3}
    customer.save()
    url = reverse("ticket-customer", args=[ticket.pk])
    form = agent_client.get(url, {"edit": "1"}, **HTMX).content.decode()
    assert 'name="location"' in form and 'name="attr:loyalty"' in form
    assert "<html" not in form

    response = agent_client.post(
        url,
        {
            "name": "Ayşe Yılmaz",
            "gender": "female",
            "age": "34",
            "size": "M",
            "location": "İzmir",
            "email": "ayse@example.com",
            "phone": "+905551112233",
            "attr:loyalty": "platinum",
            "attr:orders": "4",
        },
        **HTMX,
    )
    content = response.content.decode()
    customer.refresh_from_db()
    assert (customer.name, customer.age, customer.location) == ("Ayşe Yılmaz", 34, "İzmir")
    assert customer.attributes == {"loyalty": "platinum", "orders": "4"}
    assert "İzmir" in content and "toast-success" in content
    assert 'name="location"' not in content  # back to the read-only view


def test_invalid_customer_edit_keeps_the_form_and_changes_nothing(agent_client, ticket):
    url = reverse("ticket-customer", args=[ticket.pk])
    response = agent_client.post(url, {"name": "", "email": "not-an-email"}, **HTMX)
    content = response.content.decode()
    assert "toast-error" in content and 'name="email"' in content
    ticket.customer.refresh_from_db()
    assert ticket.customer.name == "Ayşe"


def test_cart_panel_shows_latest_cart_history_and_empty_state(agent_client, ticket):
    url = reverse("ticket-panel", args=[ticket.pk])
    assert b"No cart yet" in agent_client.get(url).content
    for total in (10, 20, 30):
        ShoppingCart.objects.create(
            customer=ticket.customer,
            total=total,
            items=[{"name": f"Shoe {total}", "quantity": 1}],
            updated_at=timezone.now(),
        )
    content = agent_client.get(url).content.decode()
    assert "30.00" in content and "Shoe 30" in content and "Cart history" in content
    assert content.index("30.00") < content.index("20.00")


def test_panel_actions_need_login(client, ticket):
    response = client.post(reverse("ticket-priority", args=[ticket.pk]), {"priority": "high"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.priority == "medium"


def _oob_badges(content: str, ticket) -> str:
    """The header's badges sent out of band with a panel response ('' if absent)."""
    match = re.search(
        rf'<span class="ticket-badges" id="ticket-badges-{ticket.pk}" hx-swap-oob="true">'
        r"((?:.*?</span>){2})",
        content,
        re.S,
    )
    return match.group(1) if match else ""


def test_changing_priority_or_status_updates_the_header_badges_too(agent_client, ticket):
    content = post(agent_client, "ticket-priority", ticket, {"priority": "urgent"}).content
    badges = _oob_badges(content.decode(), ticket)
    assert '<span class="badge badge-priority-urgent">Urgent</span>' in badges
    content = post(agent_client, "ticket-status", ticket, {"status": "pending"}).content
    badges = _oob_badges(content.decode(), ticket)
    assert '<span class="badge badge-status-pending">Pending</span>' in badges
    assert '<span class="badge badge-priority-urgent">Urgent</span>' in badges


def test_the_live_panel_refresh_brings_the_header_badges_along(agent_client, ticket):
    ticket.priority = "high"
    ticket.save(update_fields=["priority"])
    url = reverse("ticket-panel", args=[ticket.pk])
    badges = _oob_badges(agent_client.get(url, **HTMX).content.decode(), ticket)
    assert '<span class="badge badge-priority-high">High</span>' in badges


def test_the_ticket_page_header_has_the_badges_that_panel_responses_replace(agent_client, ticket):
    content = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert content.count(f'id="ticket-badges-{ticket.pk}"') == 1
    assert f'id="ticket-badges-{ticket.pk}" hx-swap-oob' not in content


def _text(html: str) -> str:
    """What the agent reads: the markup without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_cart_lines_show_how_many_of_each(agent_client, ticket):
    ShoppingCart.objects.create(
        customer=ticket.customer,
        total="1099.70",
        items=[
            {"name": "Running shoe", "quantity": 2, "price": "499.90"},
            {"name": "Socks", "qty": 3},
            {"name": "Cap"},
        ],
        updated_at=timezone.now(),
    )
    text = _text(agent_client.get(reverse("ticket-panel", args=[ticket.pk])).content.decode())
    assert "2 × Running shoe · 499.90 TRY" in text
    assert "3 × Socks" in text
    assert "1 × Cap" in text
