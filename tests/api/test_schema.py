"""The OpenAPI schema and its docs page, served by the app itself (no CDN)."""

from __future__ import annotations

import re

from django.test import Client


def test_the_schema_describes_every_endpoint_and_the_error_shape(db):
    response = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/customers/",
        "/api/v1/customers/{customer_id}/",
        "/api/v1/customers/{customer_id}/merge/",
        "/api/v1/carts/",
        "/api/v1/tickets/",
        "/api/v1/tickets/{ticket_id}/",
        "/api/v1/tickets/{ticket_id}/messages/",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    error = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "fields"]
    answers = schema["paths"]["/api/v1/tickets/"]["get"]["responses"]
    assert {"200", "400", "401", "403", "429"} <= set(answers)


def test_the_docs_page_loads_only_this_sites_files(db):
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)
    assert "<style" not in page
    assert re.search(r"<script>", page) is None  # no inline script (strict CSP)
    script_url = next(s for s in sources if "script" in s).replace("&amp;", "&")
    script = Client().get(script_url)
    assert script.status_code == 200
    assert "/api/v1/schema/" in script.content.decode()
