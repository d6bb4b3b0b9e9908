"""Tickets: list with filters and keyset pages, read, create, change; replies and notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from configuration.models import ApiAuditLog, BreakReason, ChannelKind
from tests.api.conftest import error
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import Message, Ticket, TicketEvent, TicketStatus
from tickets.presence import agent_go_active
from tickets.services import activity_add, ticket_add_tag, ticket_assign

TICKETS = "/api/v1/tickets/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def _all_pages(api, params) -> list[int]:
    ids, url, query = [], TICKETS, dict(params)
    while url:
        response = api.get(url, query) if query else api.get(url)
        ids += _ids(response)
        url, query = response.json()["next"], None
    return ids


def test_the_list_is_newest_first_with_the_ticket_fields(api):
    first, second = make_ticket(), make_ticket()
    ticket_add_tag(ticket=second, name="vip")
    rows = api.get(TICKETS).json()["results"]
    assert [row["id"] for row in rows] == [second.pk, first.pk]
    row = rows[0]
    assert row["status"] == "open"
    assert row["customer"] == {"id": second.customer_id, "name": "Ayşe"}
    assert row["tags"] == ["vip"]
    assert row["assignee"] is None
    assert row["preview"] == "Merhaba"


def test_filters_status_assignee_channel_customer_updated_since(api, agent):
    telegram = make_ticket()
    email = make_ticket(account=make_account(ChannelKind.EMAIL))
    mine = make_ticket()
    ticket_assign(ticket=mine, assignee=agent)
    Ticket.objects.filter(pk=telegram.pk).update(
        status=TicketStatus.RESOLVED, updated_at=timezone.now() - timedelta(days=2)
    )

    assert _ids(api.get(TICKETS, {"status": "resolved"})) == [telegram.pk]
    assert set(_ids(api.get(TICKETS, {"status": ["open", "resolved"]}))) == {
        telegram.pk,
        email.pk,
        mine.pk,
    }
    assert _ids(api.get(TICKETS, {"assignee": agent.pk})) == [mine.pk]
    assert _ids(api.get(TICKETS, {"assignee": "none"})) == [email.pk, telegram.pk]
    assert _ids(api.get(TICKETS, {"channel": "email"})) == [email.pk]
    assert _ids(api.get(TICKETS, {"customer": email.customer_id})) == [email.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(api.get(TICKETS, {"updated_since": since})) == [mine.pk, email.pk]


def test_a_bad_filter_is_400_naming_it(api):
    response = api.get(TICKETS, {"status": "lost", "updated_since": "yesterday"})
    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"status", "updated_since"}


def test_keyset_pages_are_stable_when_tickets_arrive_between_pages(api):
    account = make_account()
    made = [make_ticket(account=account).pk for _ in range(7)]
    first = api.get(TICKETS, {"limit": 3})
    assert _ids(first) == made[::-1][:3]
    newcomers = [make_ticket(account=account).pk for _ in range(4)]
    rest, url = [], first.json()["next"]
    while url:
        page = api.get(url)
        rest += _ids(page)
        url = page.json()["next"]
    assert rest == made[::-1][3:]  # nothing skipped, nothing twice, newcomers not mixed in
    assert not set(rest) & set(newcomers)
    assert _all_pages(api, {"limit": 3})[:4] == newcomers[::-1]


def _list_queries(api, limit: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(TICKETS, {"limit": limit})
    assert len(_ids(response)) == limit
    return len(ctx.captured_queries)


def test_the_list_runs_the_same_few_queries_whatever_the_page_size(api, agent):
    account = make_account()
    for n in range(12):
        ticket = make_ticket(account=account)
        ticket_add_tag(ticket=ticket, name=f"tag{n % 3}")
        if n % 2:
            ticket_assign(ticket=ticket, assignee=agent)
    api.get(TICKETS)  # last_used_at written: the next reads do not write it
    small, large = _list_queries(api, 2), _list_queries(api, 12)
    # token, page (with customer and agent), tags
    assert small == large == 3


def test_read_a_ticket_with_its_messages_oldest_first(api, agent):
    ticket = make_ticket(body="İlk mesaj")
    from tickets.services import message_add_outbound

    message_add_outbound(ticket=ticket, author=agent, body="A note", note=True)
    body = api.get(f"{TICKETS}{ticket.pk}/").json()
    assert [m["body"] for m in body["messages"]] == ["İlk mesaj", "A note"]
    assert body["messages"][1]["direction"] == "note"
    assert body["messages"][1]["author"]["id"] == agent.pk


def test_reading_an_unknown_ticket_is_404(api):
    assert error(api.get(f"{TICKETS}424242/"))["code"] == "not_found"


# --- create -----------------------------------------------------------------------------------


@pytest.fixture
def active_agent(db):
    agent = make_user("routed")
    agent_go_active(user=agent)
    return agent


def test_create_opens_a_ticket_that_routing_gives_to_an_active_agent(
    api, active_agent, django_capture_on_commit_callbacks
):
    account = make_account(ChannelKind.API)
    customer = make_customer(kind=ChannelKind.API)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            TICKETS,
            {
                "customer": customer.pk,
                "channel_account": account.pk,
                "body": "Order #12 never arrived",
                "title": "Missing order",
                "external_id": "crm-1",
            },
        )
    assert response.status_code == 201, response.json()
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert (ticket.title, ticket.customer_id, ticket.assignee_id) == (
        "Missing order",
        customer.pk,
        active_agent.pk,
    )
    assert response.json()["messages"][0]["body"] == "Order #12 never arrived"
    assert ApiAuditLog.objects.get().object_id == str(ticket.pk)


def test_create_with_the_same_external_id_creates_nothing_more(api):
    account, customer = make_account(), make_customer()
    payload = {
        "customer": customer.pk,
        "channel_account": account.pk,
        "body": "Hello",
        "external_id": "crm-7",
    }
    first = api.post(TICKETS, payload)
    again = api.post(TICKETS, payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1


def test_create_with_an_unknown_account_or_customer_is_refused(api):
    customer = make_customer()
    bad_account = api.post(TICKETS, {"customer": customer.pk, "channel_account": 999, "body": "x"})
    assert error(bad_account)["fields"] == {"channel_account": ["No such channel account."]}
    account = make_account()
    no_customer = api.post(TICKETS, {"customer": 999, "channel_account": account.pk, "body": "x"})
    assert no_customer.status_code == 404
    assert error(api.post(TICKETS, {}))["fields"].keys() >= {"customer", "body"}


def test_create_needs_the_tickets_write_scope(make_api):
    api = make_api(scopes=["tickets:read"])
    account, customer = make_account(), make_customer()
    response = api.post(
        TICKETS, {"customer": customer.pk, "channel_account": account.pk, "body": "x"}
    )
    assert response.status_code == 403
    assert not Ticket.objects.exists()


# --- change -----------------------------------------------------------------------------------


def test_patch_changes_status_priority_and_tags_as_the_acting_agent(make_api, agent):
    api = make_api(acts_as=agent)
    ticket = make_ticket()
    ticket_add_tag(ticket=ticket, name="old")
    response = api.patch(
        f"{TICKETS}{ticket.pk}/",
        {"status": "pending", "priority": "urgent", "tags": ["VIP", "refund"]},
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["priority"]) == ("pending", "urgent")
    assert set(response.json()["tags"]) == {"refund", "VIP"}
    status_event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.STATUS)
    assert status_event.actor == agent
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.TAG_REMOVED).exists()


def test_resolving_with_an_open_activity_is_a_clear_400(api):
    ticket = make_ticket()
    activity_add(ticket=ticket, call_reason="Call back")
    response = api.patch(f"{TICKETS}{ticket.pk}/", {"status": "resolved"})
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "rule"
    assert "Call back" in body["message"]
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ApiAuditLog.objects.get().status_code == 400


def test_patch_with_an_unknown_status_is_400_naming_the_field(api):
    ticket = make_ticket()
    response = api.patch(f"{TICKETS}{ticket.pk}/", {"status": "done"})
    assert error(response)["fields"].keys() == {"status"}


# --- replies and notes ------------------------------------------------------------------------


def test_a_reply_goes_out_as_the_acting_agent(make_api, django_capture_on_commit_callbacks):
    agent = make_user("bot-agent")
    agent_go_active(user=agent)
    api = make_api(acts_as=agent)
    ticket = make_ticket()
    with django_capture_on_commit_callbacks() as queued:
        response = api.post(f"{TICKETS}{ticket.pk}/messages/", {"body": "We are on it."})
    assert response.status_code == 201, response.json()
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.direction, message.author, message.delivery) == ("out", agent, "pending")
    assert queued  # its delivery is queued after commit, like a reply from the agent screen
    audit = ApiAuditLog.objects.get()
    assert (audit.object_type, audit.object_id) == ("message", str(message.pk))


def test_an_internal_note_is_not_sent(make_api, agent):
    api = make_api(acts_as=agent)
    ticket = make_ticket()
    response = api.post(f"{TICKETS}{ticket.pk}/messages/", {"body": "VIP", "note": True})
    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.direction, message.delivery) == ("note", "")


def test_a_token_acting_as_nobody_cannot_reply(api):
    ticket = make_ticket()
    response = api.post(f"{TICKETS}{ticket.pk}/messages/", {"body": "Hi"})
    assert response.status_code == 403
    assert "acts as no agent" in error(response)["message"]
    assert not Message.objects.exclude(direction="in").exists()


def test_a_reply_from_an_agent_on_a_break_is_refused_with_the_rule(make_api, agent):
    from tickets.presence import agent_go_passive

    agent_go_active(user=agent)
    agent_go_passive(user=agent, break_reason=BreakReason.objects.create(name="Lunch"))
    api = make_api(acts_as=agent)
    ticket = make_ticket()
    response = api.post(f"{TICKETS}{ticket.pk}/messages/", {"body": "Hi"})
    assert response.status_code == 400
    assert error(response)["code"] == "rule"


def test_an_empty_reply_is_400(make_api, agent):
    api = make_api(acts_as=agent)
    ticket = make_ticket()
    response = api.post(f"{TICKETS}{ticket.pk}/messages/", {"body": ""})
    assert error(response)["fields"].keys() == {"body"}


def test_create_with_an_unknown_subject_or_group_type_is_400_naming_them(api):
    account, customer = make_account(), make_customer()
    response = api.post(
        TICKETS,
        {
            "customer": customer.pk,
            "channel_account": account.pk,
            "body": "x",
            "subject": 999,
            "group_type": 998,
        },
    )
    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"subject", "group_type"}
    assert not Ticket.objects.exists()
