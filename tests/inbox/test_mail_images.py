"""Remote pictures in a mail are left out of the agent page (tracking pixels) with a notice;
"Load images" swaps in that one message, framed, with its pictures; ``cid:`` pictures sent
with the mail always show from their attachment."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from configuration.models import ChannelKind
from tests.factories import make_account, make_ticket
from tickets.models import Attachment, Message

TRACKER = "https://tracker.example/open.gif?u=42"
HTML = (
    '<p>Merhaba <img src="cid:logo@shop.example" alt="logo"></p>'
    f'<img src="{TRACKER}" alt="pixel"><img srcset="https://tracker.example/2x.gif 2x" alt="s">'
    '<p style="background:url(https://tracker.example/bg.gif)">x</p><script>alert(1)</script>'
)


@pytest.fixture
def mail(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    account = make_account(ChannelKind.EMAIL)
    ticket = make_ticket(account=account, body="Kargom nerede?")
    message = Message.objects.create(
        ticket=ticket,
        channel_account=account,
        direction="in",
        body="Merhaba",
        body_html=HTML,
        sent_at=timezone.now(),
    )
    logo = Attachment(
        message=message,
        filename="logo.png",
        content_type="image/png",
        content_id="logo@shop.example",
    )
    logo.file.save("logo.png", ContentFile(b"\x89PNG"), save=True)
    return message, logo


def test_the_ticket_page_blocks_remote_images_and_shows_inline_ones(agent_client, mail):
    message, logo = mail

    content = agent_client.get(reverse("ticket-detail", args=[message.ticket_id])).content.decode()

    assert "tracker.example" not in content
    assert "Remote images blocked" in content
    assert reverse("message-images", args=[message.ticket_id, message.pk]) in content
    assert f'<img src="{reverse("attachment", args=[logo.pk])}" alt="logo">' in content
    assert "alert(1)" not in content


def test_a_mail_without_remote_images_has_no_notice(agent_client, mail):
    message, _logo = mail
    Message.objects.filter(pk=message.pk).update(
        body_html='<p>Hi <img src="cid:logo@shop.example"></p>'
    )

    content = agent_client.get(reverse("ticket-detail", args=[message.ticket_id])).content.decode()

    assert "Remote images blocked" not in content


def test_load_images_swaps_in_the_message_framed(agent_client, mail, django_assert_num_queries):
    message, _logo = mail
    url = reverse("message-images", args=[message.ticket_id, message.pk])

    with django_assert_num_queries(4):  # session, user, ticket, message
        response = agent_client.get(url, HTTP_HX_REQUEST="true")

    content = response.content.decode()
    assert f'id="mail-body-{message.pk}"' in content
    assert reverse("message-mail-document", args=[message.ticket_id, message.pk]) in content
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in content
    assert "tracker.example" not in content


def test_the_framed_mail_may_load_remote_images_and_nothing_else(agent_client, mail):
    message, logo = mail

    response = agent_client.get(
        reverse("message-mail-document", args=[message.ticket_id, message.pk])
    )

    content = response.content.decode()
    assert f'src="{TRACKER.replace("&", "&amp;")}"' in content
    assert f'src="{reverse("attachment", args=[logo.pk])}"' in content
    assert "srcset" not in content and "bg.gif" not in content and "alert(1)" not in content
    policy = response["Content-Security-Policy"]
    assert "img-src 'self' http: https: data:" in policy
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_the_agent_page_policy_still_allows_images_from_here_only(agent_client, mail):
    message, _logo = mail
    response = agent_client.get(reverse("ticket-detail", args=[message.ticket_id]))
    assert "img-src 'self' data:;" in response["Content-Security-Policy"] + ";"


def test_loading_images_needs_login(client, mail):
    message, _logo = mail
    for name in ("message-images", "message-mail-document"):
        response = client.get(reverse(name, args=[message.ticket_id, message.pk]))
        assert response.status_code == 302
        assert "tracker.example" not in response.content.decode()


def test_a_message_of_another_ticket_is_not_found(agent_client, mail):
    message, _logo = mail
    other = make_ticket(account=message.channel_account, body="x")
    response = agent_client.get(reverse("message-mail-document", args=[other.pk, message.pk]))
    assert response.status_code == 404
