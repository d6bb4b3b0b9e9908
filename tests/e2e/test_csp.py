"""The agent pages keep their Content-Security-Policy: nothing on them is blocked by it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.e2e.conftest import login
from tests.factories import make_account, make_ticket, make_user

pytestmark = pytest.mark.django_db(transaction=True)

#: Every CSP violation the page reports, and every console error that mentions the policy.
RECORD_VIOLATIONS = """
(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    const where = `${e.sourceFile}:${e.lineNumber}`;
    window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
  });
})();
"""


def _violations(page, console: list[str]) -> list[str]:
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__csp") + [m for m in console if "Content Security" in m]


def test_the_agent_pages_pass_their_content_security_policy(new_page, live):
    staff = make_user("sena", staff=True, first_name="Sena")
    ticket = make_ticket(account=make_account(), body="Kargom nerede? <b>acil</b>")
    page = new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.add_init_script(RECORD_VIOLATIONS)

    response = page.goto(reverse("login"))
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert _violations(page, console) == []

    login(page, staff.username)
    pages = [
        reverse("home"),
        reverse("inbox"),
        reverse("ticket-detail", args=[ticket.pk]),
        reverse("ticket-list"),
        reverse("reports"),
        reverse("admin:index"),
        reverse("admin:configuration_channelaccount_changelist"),
        reverse("admin:configuration_channelaccount_add"),
    ]
    found = {}
    for url in pages:
        response = page.goto(url)
        assert "content-security-policy" in response.headers, url
        if problems := _violations(page, console):
            found[url] = problems
        console.clear()

    assert found == {}
