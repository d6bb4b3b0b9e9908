"""The chat box: the thread, attachments behind login, sanitised e-mail, read marker, the
reply box's rules (break, web chat), and paging back through long threads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from configuration.models import BreakReason, GroupType, Subject
from tests.factories import make_account, make_customer, make_ticket
from tickets.models import AgentPresence, Attachment, Message, Ticket

HTMX = {"HTTP_HX_REQUEST": "true"}
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def ticket(db, account):
    return make_ticket(account=account, body="Where is my parcel?")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _file(ticket, name, content_type, data=b"data") -> Attachment:
    attachment = Attachment(
        message=ticket.messages.get(), filename=name, content_type=content_type, size=len(data)
    )
    attachment.file.save(name, ContentFile(data), save=True)
    return attachment


def test_opening_a_ticket_marks_it_read(agent_client, ticket):
    assert ticket.unread
    agent_client.get(reverse("ticket-detail", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert not ticket.unread


def test_marking_read_tells_every_inbox_once(ticket, django_capture_on_commit_callbacks):
    from omnico.core import realtime
    from tickets.services import ticket_mark_read

    sent = []
    original = realtime.publish
    realtime.publish = lambda group, kind, **payload: sent.append((group, kind, payload))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert ticket_mark_read(ticket=ticket) is True
            assert ticket_mark_read(ticket=ticket) is False
    finally:
        realtime.publish = original
    assert sent == [
        (realtime.AGENTS_GROUP, "inbox.ticket", {"ticket_id": ticket.pk, "created": False})
    ]


def test_htmx_open_returns_the_pane_without_the_page(agent_client, ticket):
    content = agent_client.get(reverse("ticket-detail", args=[ticket.pk]), **HTMX).content
    content = content.decode()
    assert "<html" not in content
    assert f'id="conversation-{ticket.pk}"' in content and f'id="panel-{ticket.pk}"' in content


def test_subject_and_group_type_are_shown_at_the_top(agent_client, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(
        subject=Subject.objects.create(name="Bağış"),
        group_type=GroupType.objects.create(name="Allianz"),
    )
    content = agent_client.get(reverse("ticket-conversation", args=[ticket.pk])).content.decode()
    assert content.index("Bağış") < content.index(f'id="conversation-{ticket.pk}"')
    assert "Allianz" in content


def test_customer_text_and_html_are_escaped_or_sanitised(agent_client, account):
    customer = make_customer(name=f"Eve {EVIL}")
    ticket = make_ticket(account=account, customer=customer, body=f"hi {EVIL}")
    Message.objects.create(
        ticket=ticket,
        channel_account=account,
        direction="in",
        body="",
        body_html=(
            '<p onclick="x()">Hello <b>there</b></p><script>alert(2)</script>'
            '<img src="https://tracker.example/p.gif"><a href="javascript:alert(3)">j</a>'
            '<a href="https://shop.example/o/1">order</a>'
        ),
        sent_at=timezone.now(),
    )
    customer.attributes = {"note": EVIL}
    customer.save()
    for url in (
        reverse("ticket-detail", args=[ticket.pk]),
        reverse("ticket-panel", args=[ticket.pk]),
        reverse("ticket-conversation", args=[ticket.pk]),
    ):
        content = agent_client.get(url).content.decode()
        assert "<script>" not in content.replace('<script src="', ""), url
        assert "alert(2)" not in content and "javascript:" not in content, url
        assert "onclick" not in content and "tracker.example" not in content, url
    content = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<b>there</b>" in content
    assert 'href="https://shop.example/o/1"' in content


def test_attachment_view_needs_login(client, ticket, media):
    attachment = _file(ticket, "invoice.pdf", "application/pdf")
    response = client.get(reverse("attachment", args=[attachment.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_attachment_file_downloads_with_its_name(agent_client, ticket, media):
    attachment = _file(ticket, "invoice.pdf", "application/pdf", b"%PDF-1.4 hello")
    response = agent_client.get(reverse("attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 hello"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "invoice.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_images_show_inline_but_svg_downloads(agent_client, ticket, media):
    photo = _file(ticket, "photo.png", "image/png", b"\x89PNG")
    svg = _file(ticket, "logo.svg", "image/svg+xml", b"<svg onload='x()'/>")
    response = agent_client.get(reverse("attachment", args=[photo.pk]))
    assert response["Content-Disposition"].startswith("inline;")
    assert response["Content-Type"] == "image/png"
    response = agent_client.get(reverse("attachment", args=[svg.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"

    content = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert (
        f'<img class="attachment-image" src="{reverse("attachment", args=[photo.pk])}"' in content
    )
    assert f'href="{reverse("attachment", args=[svg.pk])}" download' in content
    assert "/media/" not in content


def test_unknown_attachment_is_404(agent_client, db):
    assert agent_client.get(reverse("attachment", args=[999])).status_code == 404


def test_agent_on_break_is_told_why_the_reply_is_refused(agent_client, agent, ticket):
    AgentPresence.objects.create(
        user=agent, is_active=False, break_reason=BreakReason.objects.create(name="Lunch")
    )
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "You are on a break" in page
    response = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]), {"body": "Hello there"}, **HTMX
    )
    content = response.content.decode()
    assert "toast-error" in content and "Go active to reply" in content
    assert "Hello there" in content  # the text stays in the reply box
    assert not Message.objects.filter(ticket=ticket, direction="out").exists()


@pytest.mark.parametrize(
    ("state", "told", "not_told"),
    [
        ("away", "You are away (no agent screen was open)", "You are on a break"),
        ("offline", "You are offline (signed out)", "You are on a break"),
    ],
)
def test_an_agent_away_or_signed_out_is_told_their_own_state_not_a_break(
    agent_client, agent, ticket, state, told, not_told
):
    AgentPresence.objects.create(user=agent, is_active=False, state=state)
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert told in page and not_told not in page
    assert f'data-off-state="{state}"' in page


def test_web_chat_tickets_take_replies_like_other_channels(agent_client, db):
    # Issue 9: the web chat has an adapter now; replies were refused ("not available yet").
    ticket = make_ticket(account=make_account(kind="webchat"))
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert "available yet" not in page
    agent_client.post(reverse("ticket-reply", args=[ticket.pk]), {"body": "Hi"}, **HTMX)
    assert Message.objects.filter(ticket=ticket, direction="out", body="Hi").exists()


def test_reply_over_htmx_appends_only_the_new_message_and_an_empty_reply_box(agent_client, ticket):
    response = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]), {"body": "On its way"}, **HTMX
    )
    content = response.content.decode()
    reply = Message.objects.get(ticket=ticket, body="On its way")
    assert response["HX-Reswap"] == "beforeend"  # into #conversation-<id>, the form's target
    assert content.startswith(f'<li class="msg msg-out" id="message-{reply.pk}"')
    assert "On its way" in content and "Pending" in content
    assert "Where is my parcel?" not in content  # the thread is not sent again
    box = content[content.index(f'id="reply-form-{ticket.pk}"') :]
    assert 'hx-swap-oob="true"' in box
    assert "On its way" not in box


def test_refused_reply_returns_the_thread_and_the_box_with_the_text_kept(agent_client, ticket):
    response = agent_client.post(reverse("ticket-reply", args=[ticket.pk]), {"body": "   "}, **HTMX)
    content = response.content.decode()
    assert "HX-Reswap" not in response
    assert content.startswith(f'<ol class="messages" id="conversation-{ticket.pk}"')
    assert not Message.objects.filter(ticket=ticket, direction="out").exists()


def test_long_thread_shows_the_latest_messages_and_loads_earlier_ones(
    agent_client, ticket, monkeypatch
):
    from inbox import ticket_selectors

    monkeypatch.setattr(ticket_selectors, "CONVERSATION_SIZE", 4)
    start = timezone.now()
    same_time = start + timedelta(minutes=5)
    for i in range(9):
        Message.objects.create(
            ticket=ticket,
            channel_account_id=ticket.channel_account_id,
            direction="in",
            body=f"line-{i:02d}",
            # three messages share a timestamp: the id breaks the tie
            sent_at=same_time if 3 <= i <= 5 else start + timedelta(minutes=i + 1),
        )
    url = reverse("ticket-conversation", args=[ticket.pk])
    seen: list[str] = []
    content = agent_client.get(url).content.decode()
    for _page in range(5):
        found = sorted(
            (content.index(f"line-{i:02d}"), f"line-{i:02d}")
            for i in range(9)
            if f"line-{i:02d}" in content
        )
        seen = [name for _pos, name in found] + seen
        if "?before=" not in content:
            break
        before = content.split("?before=")[1].split('"')[0]
        content = agent_client.get(url, {"before": before}, **HTMX).content.decode()
    expected = sorted(
        Message.objects.filter(ticket=ticket, body__startswith="line-"),
        key=lambda m: (m.sent_at, m.pk),
    )
    assert seen == [m.body for m in expected]
    assert "Where is my parcel?" in content  # the first message is on the last page


def test_thread_resync_returns_the_message_list_with_messages_missed(agent_client, ticket):
    from tickets.services import message_add_outbound

    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    resync = f"{reverse('ticket-conversation', args=[ticket.pk])}?thread=1"
    assert f'hx-get="{resync}" hx-trigger="resync"' in page
    message_add_outbound(ticket=ticket, author=None, body="Sent while offline", note=True)
    content = agent_client.get(resync, **HTMX).content.decode()
    assert content.startswith(f'<ol class="messages" id="conversation-{ticket.pk}"')
    assert "Sent while offline" in content and "reply-form" not in content
