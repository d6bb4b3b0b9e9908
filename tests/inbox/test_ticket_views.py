"""The ticket screen's actions: access, replies, status/priority, activities, retry."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_ticket
from tickets.models import Activity, Message, TicketStatus
from tickets.services import activity_add

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ticket(db, account):
    return make_ticket(account=account, body="My order has not arrived")


def test_ticket_page_lives_under_the_inbox_and_the_old_address_redirects(agent_client, ticket):
    assert reverse("ticket-detail", args=[ticket.pk]) == f"/inbox/{ticket.pk}/"
    response = agent_client.get(f"/tickets/{ticket.pk}/")
    assert response.status_code == 301
    assert response["Location"] == f"/inbox/{ticket.pk}/"


def test_ticket_page_and_actions_redirect_anonymous_visitors_to_login(client, ticket):
    for url in (
        reverse("ticket-detail", args=[ticket.pk]),
        reverse("ticket-status", args=[ticket.pk]),
    ):
        response = client.post(url, {"status": "closed"}) if "status" in url else client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_unknown_ticket_is_404(agent_client, db):
    assert agent_client.get(reverse("ticket-detail", args=[999_999])).status_code == 404
    response = agent_client.post(reverse("ticket-status", args=[999_999]), {"status": "closed"})
    assert response.status_code == 404


def test_ticket_page_shows_conversation_in_order_with_notes_and_delivery(agent_client, ticket):
    agent_client.post(reverse("ticket-reply", args=[ticket.pk]), {"body": "We are on it"})
    agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]), {"body": "Check courier", "note": "on"}
    )
    content = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    first = content.index("My order has not arrived")
    reply = content.index("We are on it")
    note = content.index("Check courier")
    assert first < reply < note
    assert "msg-in" in content and "msg-out" in content and "msg-note" in content
    assert "Delivery" in content and "Pending" in content


def test_reply_through_the_view_creates_a_pending_outbound_message(agent_client, agent, ticket):
    response = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]), {"body": "Hello!"}, **HTMX
    )
    assert response.status_code == 200
    message = Message.objects.get(ticket=ticket, direction=Message.Direction.OUTBOUND)
    assert message.body == "Hello!"
    assert message.author == agent
    assert message.delivery == Message.Delivery.PENDING
    assert "Hello!" in response.content.decode()


def test_empty_reply_is_refused_with_a_message(agent_client, ticket):
    response = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]), {"body": "  "}, follow=True
    )
    assert response.status_code == 200
    assert "toast-error" in response.content.decode()
    assert not Message.objects.filter(ticket=ticket, direction="out").exists()


def test_status_change_through_the_view_is_saved(agent_client, ticket):
    response = agent_client.post(
        reverse("ticket-status", args=[ticket.pk]), {"status": "pending"}, follow=True
    )
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING
    assert "Status changed" in response.content.decode()


def test_resolving_with_open_activity_is_refused_and_says_why(agent_client, agent, ticket):
    activity_add(ticket=ticket, call_reason="Call the courier", actor=agent)

    response = agent_client.post(
        reverse("ticket-status", args=[ticket.pk]), {"status": "resolved"}, follow=True
    )
    content = response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert "toast-error" in content
    assert "Call the courier" in content and "Mark every activity done first" in content


def test_resolving_with_open_activity_over_htmx_returns_the_panel_and_error_toast(
    agent_client, agent, ticket
):
    activity_add(ticket=ticket, call_reason="Call the courier", actor=agent)
    response = agent_client.post(
        reverse("ticket-status", args=[ticket.pk]), {"status": "closed"}, **HTMX
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content  # a partial, not the whole page
    assert f'id="panel-{ticket.pk}"' in content
    assert 'value="open" selected' in content  # the status select shows the status it kept
    assert 'hx-swap-oob="true"' in content and "Mark every activity done first" in content
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_activity_can_be_added_called_done_and_then_ticket_resolved(agent_client, ticket, db):
    from configuration.models import ActivityCategory

    question = ActivityCategory.objects.create(name="Question")
    billing = ActivityCategory.objects.create(name="Billing", parent=question)
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "Question" in page and "Billing" in page

    agent_client.post(
        reverse("activity-add", args=[ticket.pk]),
        {"call_reason": "Refund", "category": question.pk, "subcategory": billing.pk},
    )
    activity = Activity.objects.get(ticket=ticket)
    assert (activity.category, activity.subcategory) == (question, billing)

    call_url = reverse("activity-call", args=[ticket.pk, activity.pk])
    agent_client.post(call_url, {"action": "start"})
    activity.refresh_from_db()
    assert activity.call_started_at is not None and activity.call_ended_at is None
    agent_client.post(call_url, {"action": "stop"})
    activity.refresh_from_db()
    assert activity.call_ended_at is not None

    agent_client.post(reverse("activity-done", args=[ticket.pk, activity.pk]))
    activity.refresh_from_db()
    assert activity.status == Activity.Status.DONE
    agent_client.post(reverse("ticket-status", args=[ticket.pk]), {"status": "resolved"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED


def test_subcategory_of_another_category_is_refused(agent_client, ticket, db):
    from configuration.models import ActivityCategory

    question = ActivityCategory.objects.create(name="Question")
    incident = ActivityCategory.objects.create(name="Incident")
    outage = ActivityCategory.objects.create(name="Outage", parent=incident)
    response = agent_client.post(
        reverse("activity-add", args=[ticket.pk]),
        {"call_reason": "Refund", "category": question.pk, "subcategory": outage.pk},
        follow=True,
    )
    assert not Activity.objects.filter(ticket=ticket).exists()
    assert "does not belong" in response.content.decode()


def test_activity_of_another_ticket_is_404(agent_client, agent, ticket, account):
    other = make_ticket(account=account)
    activity = activity_add(ticket=other, call_reason="x", actor=agent)
    response = agent_client.post(reverse("activity-done", args=[ticket.pk, activity.pk]))
    assert response.status_code == 404
    activity.refresh_from_db()
    assert activity.status == Activity.Status.OPEN


def test_priority_change_through_the_view_is_saved(agent_client, ticket):
    agent_client.post(reverse("ticket-priority", args=[ticket.pk]), {"priority": "urgent"})
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert ticket.priority_rank == 0


def test_attachment_with_javascript_address_is_not_a_link(agent_client, ticket):
    from tickets.models import Attachment

    message = ticket.messages.get()
    Attachment.objects.create(message=message, url="javascript:alert(1)", filename="evil.pdf")
    Attachment.objects.create(message=message, url="https://cdn.example/a.pdf", filename="a.pdf")
    content = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "javascript:alert" not in content
    assert 'href="https://cdn.example/a.pdf"' in content
    assert "evil.pdf" in content


def test_reply_is_queued_for_delivery_but_a_note_is_not(
    agent_client, ticket, monkeypatch, django_capture_on_commit_callbacks
):
    from channels_adapters import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.deliver_message, "delay", queued.append)
    url = reverse("ticket-reply", args=[ticket.pk])
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(url, {"body": "Reply"})
    reply = Message.objects.get(ticket=ticket, direction="out")
    assert queued == [reply.pk]

    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(url, {"body": "Note", "note": "on"})
    assert Message.objects.filter(ticket=ticket, direction="note").exists()
    assert queued == [reply.pk]


def test_failed_reply_shows_its_error_and_can_be_sent_again(agent_client, agent, ticket):
    from tickets.services import message_add_outbound

    message = message_add_outbound(ticket=ticket, author=agent, body="Hello")
    Message.objects.filter(pk=message.pk).update(
        delivery=Message.Delivery.FAILED, delivery_error="Chat not found"
    )
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "Failed" in page and "Chat not found" in page
    retry_url = reverse("message-retry", args=[ticket.pk, message.pk])
    assert retry_url in page

    agent_client.post(retry_url)
    message.refresh_from_db()
    assert message.delivery == Message.Delivery.PENDING

    response = agent_client.post(retry_url, follow=True)  # no longer failed: refused
    assert "Only a failed reply can be sent again" in response.content.decode()
