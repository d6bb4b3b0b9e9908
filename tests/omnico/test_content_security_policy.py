"""Every page carries a strict Content-Security-Policy (the browser test: tests/e2e/test_csp.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_ticket


@pytest.mark.parametrize("name", ["home", "inbox", "ticket-list", "reports", "admin:index"])
def test_agent_pages_allow_scripts_and_styles_from_this_site_only(admin_client, name):
    policy = admin_client.get(reverse(name))["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_base_page_tells_htmx_to_need_no_inline_style_or_eval(admin_client):
    content = admin_client.get(reverse("home")).content.decode()

    assert '"includeIndicatorStyles": false, "allowEval": false' in content


def test_an_attachment_keeps_its_own_stricter_policy(admin_client, account, settings, tmp_path):
    from django.core.files.base import ContentFile

    from tickets.models import Attachment

    settings.MEDIA_ROOT = tmp_path
    ticket = make_ticket(account=account)
    attachment = Attachment(
        message=ticket.messages.get(), filename="a.png", content_type="image/png"
    )
    attachment.file.save("a.png", ContentFile(b"\x89PNG"), save=True)

    response = admin_client.get(reverse("attachment", args=[attachment.pk]))

    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
