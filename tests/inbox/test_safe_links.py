"""Links a sender supplied: never a way to another site disguised as ours, never a script."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.templatetags.omnico_ui import safe_href
from tests.factories import make_ticket
from tickets.models import Attachment


@pytest.mark.parametrize(
    "url",
    [
        "/\\evil.example/x",
        "\\\\evil.example/x",
        "//evil.example/x",
        "/\\/evil.example",
        " /\\evil.example/x",
        "/\t/evil.example/x",
        "/\n/evil.example",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "https:evil.example",
        "https://shop.example/\x00",
        "",
    ],
)
def test_unsafe_or_ambiguous_addresses_give_no_link(url):
    assert safe_href(url) == ""


@pytest.mark.parametrize(
    "url",
    ["/tickets/3/", "/inbox/?q=a", "https://shop.example/o/1", "HTTP://shop.example/a b"],
)
def test_site_paths_and_web_addresses_stay_links(url):
    assert safe_href(url) == url.strip()


@pytest.fixture
def sender_link(db, account):
    ticket = make_ticket(account=account, body="See my receipt")
    return Attachment.objects.create(
        message=ticket.messages.get(),
        filename="receipt.pdf",
        url="https://evil.example/phish",
        content_type="application/pdf",
    )


def test_attachment_view_never_redirects_to_an_address_the_sender_gave(agent_client, sender_link):
    response = agent_client.get(reverse("attachment", args=[sender_link.pk]))

    assert response.status_code == 404
    assert "Location" not in response


def test_a_sender_link_is_shown_in_the_chat_as_a_plain_link(agent_client, sender_link):
    ticket_id = sender_link.message.ticket_id

    content = agent_client.get(reverse("ticket-detail", args=[ticket_id])).content.decode()

    assert 'href="https://evil.example/phish" rel="noopener noreferrer"' in content
    assert reverse("attachment", args=[sender_link.pk]) not in content
