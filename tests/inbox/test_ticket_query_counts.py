"""The ticket view, its conversation and its panel run a fixed number of SQL queries, whatever
the number of messages, attachments, tags, activities, history entries and carts."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from configuration.models import ActivityCategory, Department
from customers.models import ShoppingCart
from tests.factories import make_customer, make_ticket, make_user
from tickets.models import Attachment
from tickets.receiving import Incoming, ticket_receive
from tickets.services import (
    activity_add,
    activity_start_call,
    message_add_outbound,
    ticket_add_tag,
    ticket_set_priority,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def busy_ticket(db, account, agent, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer()
    ticket = make_ticket(account=account, customer=customer)
    question = ActivityCategory.objects.create(name="Question")
    ActivityCategory.objects.create(name="Billing", parent=question)
    Department.objects.create(name="Sales")

    def grow(factor: int) -> None:
        for i in range(4 * factor):
            received = ticket_receive(
                channel_account=account,
                customer=customer,
                incoming=Incoming(body=f"msg {i}", external_id=None),
            )
            Attachment.objects.create(
                message=received.message, url="https://x.example/f", filename=f"f{i}"
            )
            image = Attachment(
                message=received.message, filename=f"p{i}.png", content_type="image/png"
            )
            image.file.save(f"p{i}.png", ContentFile(b"\x89PNG"), save=True)
            message_add_outbound(ticket=ticket, author=agent, body=f"re {i}")
            message_add_outbound(ticket=ticket, author=make_user(), body=f"note {i}", note=True)
            activity = activity_add(
                ticket=ticket, call_reason=f"reason {i}", category=question, actor=agent
            )
            activity_start_call(activity=activity, actor=make_user())
            ticket_add_tag(ticket=ticket, name=f"t{factor}-{i}", actor=make_user())
            ticket_set_priority(ticket=ticket, priority=["low", "high"][i % 2], actor=agent)
            ShoppingCart.objects.create(customer=customer, total=i, updated_at=timezone.now())
            customer.identities.create(kind="email", external_id=f"c{factor}-{i}@example.com")

    return ticket, grow


def _measure(client, count_queries, url, grow, **extra) -> int:
    grow(1)
    status, small, _sql = count_queries(client, url, **extra)
    assert status == 200
    grow(3)
    status, large, sql = count_queries(client, url, **extra)
    assert status == 200
    assert small == large, "\n".join(sql)
    return small


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "pane"])
def test_ticket_view_runs_the_same_queries_for_n_and_3n_of_everything(
    agent_client, count_queries, busy_ticket, htmx
):
    ticket, grow = busy_ticket
    url = reverse("ticket-detail", args=[ticket.pk])
    queries = _measure(agent_client, count_queries, url, grow, **(HTMX if htmx else {}))
    assert queries <= 20


def test_conversation_runs_the_same_queries_for_n_and_3n_messages(
    agent_client, count_queries, busy_ticket
):
    ticket, grow = busy_ticket
    url = reverse("ticket-conversation", args=[ticket.pk])
    assert _measure(agent_client, count_queries, url, grow, **HTMX) <= 8


def test_panel_runs_the_same_queries_for_n_and_3n_tags_activities_and_events(
    agent_client, count_queries, busy_ticket
):
    ticket, grow = busy_ticket
    url = reverse("ticket-panel", args=[ticket.pk])
    assert _measure(agent_client, count_queries, url, grow, **HTMX) <= 14


def test_earlier_messages_page_runs_the_same_queries_whatever_the_thread_length(
    agent_client, count_queries, busy_ticket, monkeypatch
):
    from inbox import ticket_selectors

    monkeypatch.setattr(ticket_selectors, "CONVERSATION_SIZE", 3)
    ticket, grow = busy_ticket
    grow(1)
    page = agent_client.get(reverse("ticket-conversation", args=[ticket.pk]), **HTMX)
    before = page.content.decode().split("?before=")[1].split('"')[0]
    url = reverse("ticket-conversation", args=[ticket.pk]) + f"?before={before}"
    status, small, _ = count_queries(agent_client, url, **HTMX)
    grow(3)
    status, large, sql = count_queries(agent_client, url, **HTMX)
    assert status == 200
    assert small == large, "\n".join(sql)
    assert large <= 6, "\n".join(sql)
