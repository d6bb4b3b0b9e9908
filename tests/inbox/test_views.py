"""The agent pages: access, layout, language, ticket actions, escaping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import Activity, Message, Ticket, TicketStatus
from tickets.services import activity_add, ticket_assign

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ticket(db, account):
    return make_ticket(account=account, body="My order has not arrived")


@pytest.mark.parametrize("name", ["home", "inbox", "ticket-list", "reports"])
def test_every_page_redirects_anonymous_visitors_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


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


def test_login_page_renders_and_signs_in(client, agent):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post(
        reverse("login"), {"username": "agent-a", "password": "pw-for-tests-only"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_logout_is_a_post_and_returns_to_login(agent_client):
    page = agent_client.get(reverse("home"))
    assert f'action="{reverse("logout")}"'.encode() in page.content
    response = agent_client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert agent_client.get(reverse("home")).status_code == 302


def test_admin_link_is_shown_to_staff_only(client, agent, admin_user):
    admin_url = reverse("admin:index").encode()
    client.force_login(agent)
    assert admin_url not in client.get(reverse("home")).content
    client.force_login(admin_user)
    assert admin_url in client.get(reverse("home")).content


def test_top_bar_shows_navigation_and_user_name(agent_client):
    content = agent_client.get(reverse("home")).content.decode()
    for name in ("home", "inbox", "ticket-list", "reports"):
        assert f'href="{reverse(name)}"' in content
    assert "agent-a" in content


def test_switching_language_to_turkish_marks_pages_turkish(agent_client):
    assert 'lang="en"' in agent_client.get(reverse("home")).content.decode()
    response = agent_client.post(
        reverse("set_language"), {"language": "tr", "next": reverse("inbox")}
    )
    assert response.status_code == 302
    assert 'lang="tr"' in agent_client.get(reverse("inbox")).content.decode()


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
    assert 'id="ticket-body"' in content
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


def test_inbox_tabs_split_mine_unassigned_and_all(agent_client, agent, account):
    mine = make_ticket(account=account, customer=make_customer(name="Mine Person"))
    ticket_assign(ticket=mine, assignee=agent)
    other_agent = make_user("agent-b")
    theirs = make_ticket(account=account, customer=make_customer(name="Their Person"))
    ticket_assign(ticket=theirs, assignee=other_agent)
    make_ticket(account=account, customer=make_customer(name="Pool Person"))
    done = make_ticket(account=account, customer=make_customer(name="Done Person"))
    Ticket.objects.filter(pk=done.pk).update(status=TicketStatus.CLOSED)

    def names(tab):
        return agent_client.get(reverse("inbox"), {"tab": tab}).content.decode()

    assert "Mine Person" in names("mine") and "Pool Person" not in names("mine")
    assert "Pool Person" in names("unassigned") and "Mine Person" not in names("unassigned")
    everything = names("all")
    assert all(n in everything for n in ("Mine Person", "Their Person", "Pool Person"))
    assert "Done Person" not in everything


def test_inbox_row_shows_channel_icon_preview_unread_and_exact_time(agent_client, agent, db):
    account = make_account(kind="whatsapp")
    ticket = make_ticket(account=account, body="Where is my parcel?")
    ticket_assign(ticket=ticket, assignee=agent)
    content = agent_client.get(reverse("inbox")).content.decode()
    assert "icon-whatsapp" in content
    assert "Where is my parcel?" in content
    assert "is-unread" in content
    assert "<time datetime=" in content and "title=" in content


def test_inbox_load_more_continues_where_the_page_ended(agent_client, account, monkeypatch):
    from inbox import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    for i in range(5):
        make_ticket(account=account, customer=make_customer(name=f"Person{i}"))
    seen: list[str] = []
    url = reverse("inbox") + "?tab=all"
    pages = 0
    for _ in range(5):
        pages += 1
        response = agent_client.get(url, **HTMX) if "cursor" in url else agent_client.get(url)
        content = response.content.decode()
        found = [f"Person{i}" for i in range(5) if f">Person{i}<" in content]
        seen += sorted(found, key=lambda name: content.index(f">{name}<"))
        if 'id="load-more"' not in content:
            break
        url = reverse("inbox") + content.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert pages == 3
    assert seen == [f"Person{i}" for i in reversed(range(5))]  # newest first, none twice


def test_ticket_list_filters_by_status_channel_and_assignee(agent_client, agent, db):
    telegram = make_account(kind="telegram")
    email = make_account(kind="email")
    a = make_ticket(account=telegram, customer=make_customer(name="Tele Gram"))
    make_ticket(account=email, customer=make_customer(kind="email", name="E Mail"))
    ticket_assign(ticket=a, assignee=agent)

    def page(**params):
        return agent_client.get(reverse("ticket-list"), params).content.decode()

    assert "Tele Gram" in page(channel="telegram") and "E Mail" not in page(channel="telegram")
    assert "E Mail" in page(assignee="none") and "Tele Gram" not in page(assignee="none")
    assert "Tele Gram" in page(assignee=str(agent.pk))
    assert "Tele Gram" not in page(status="closed")
    assert "Tele Gram" in page(status="open", channel="bogus")  # bad filter value: ignored


def test_customer_text_is_escaped_everywhere(agent_client, agent, account):
    evil = "<script>alert(1)</script>"
    customer = make_customer(name=f"Eve {evil}")
    ticket = make_ticket(account=account, customer=customer, body=f"hi {evil}")
    ticket_assign(ticket=ticket, assignee=agent)
    for url in (
        reverse("home"),
        reverse("inbox"),
        reverse("ticket-list"),
        reverse("ticket-detail", args=[ticket.pk]),
    ):
        content = agent_client.get(url).content.decode()
        assert evil not in content, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content, url


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
