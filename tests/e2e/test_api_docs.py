"""The API docs page (Swagger UI from the app's own static files) works under the site's
strict Content-Security-Policy and shows the API's endpoints."""

from __future__ import annotations

import pytest

from tests.e2e.test_csp import RECORD_VIOLATIONS, _violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_page_renders_the_schema_without_csp_violations(new_page, live):
    page = new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.add_init_script(RECORD_VIOLATIONS)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    # Swagger UI's bundle is 1.5 MB: on a busy machine it takes longer than a page of ours.
    response = page.goto("/api/v1/docs/", wait_until="commit")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_text("/api/v1/tickets/", exact=True).first.wait_for(timeout=60_000)
    assert page.get_by_text("Omnico API").first.is_visible()
    assert _violations(page, console) == []
    assert all(url.startswith(live) or url.startswith("data:") for url in requests), requests
