"""The support page in a company's own site: who may frame it, its cookies in a third-party
frame, the launcher's script and the admin's snippet."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from channels_adapters.webchat.visitor import COOKIE
from configuration.models import embed_origins_parse
from tests.channels_adapters.webchat.conftest import start

pytestmark = pytest.mark.django_db


@pytest.fixture
def embeddable(page):
    page.embed_origins = "https://shop.example\n\nhttp://localhost:8080/\n"
    page.save()
    return page


def _frame_ancestors(response) -> str:
    policy = response["Content-Security-Policy"]
    return next(d for d in policy.split(";") if d.strip().startswith("frame-ancestors")).strip()


def test_a_page_with_embedding_origins_may_be_framed_by_them_only(client, embeddable):
    response = client.get("/support/help/")
    assert response.status_code == 200
    assert _frame_ancestors(response) == (
        "frame-ancestors 'self' https://shop.example http://localhost:8080"
    )
    assert "X-Frame-Options" not in response


def test_the_default_page_url_carries_the_same_policy(client, embeddable):
    embeddable.is_default = True
    embeddable.save()
    response = client.get("/support/")
    assert "https://shop.example" in _frame_ancestors(response)
    assert "X-Frame-Options" not in response


def test_a_page_without_embedding_origins_is_never_framed(client, page):
    response = client.get("/support/help/")
    assert _frame_ancestors(response) == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"


def test_the_rest_of_the_site_keeps_deny_when_a_page_allows_embedding(client, embeddable):
    for url in ("/accounts/login/", "/support/help/theme.css"):
        response = client.get(url)
        assert response["X-Frame-Options"] == "DENY", url
        assert _frame_ancestors(response) == "frame-ancestors 'none'", url


def test_a_failed_start_is_framed_like_the_page(client, embeddable):
    response = client.post("/support/help/start/", {"email": "not-an-address"})
    assert response.status_code == 400
    assert "https://shop.example" in _frame_ancestors(response)


def _cookie_line(response, name: str) -> str:
    return response.cookies[name].output(header="").strip()


def test_cookies_of_an_embeddable_page_work_in_a_third_party_frame(embeddable):
    """SameSite=None; Secure; Partitioned (CHIPS): Chromium keeps no other cookie in a
    cross-site frame (see channels_adapters/webchat/embedding.py)."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/support/help/", HTTP_HOST="127.0.0.1:8000")
    csrf = _cookie_line(page, "csrftoken")
    assert "SameSite=None; Partitioned" in csrf and "Secure" in csrf
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/support/help/start/",
        {"name": "Ayşe", "csrfmiddlewaretoken": token},
        HTTP_HOST="127.0.0.1:8000",
    )
    assert response.status_code == 302
    for name in (COOKIE, f"omnico_support_{embeddable.channel_account_id}"):
        line = _cookie_line(response, name)
        assert "SameSite=None; Partitioned" in line and "Secure" in line and "HttpOnly" in line


def test_over_https_the_cookies_are_partitioned_too(embeddable):
    client = Client()
    response = client.post("/support/help/start/", {"name": "A"}, secure=True)
    assert "SameSite=None; Partitioned" in _cookie_line(response, COOKIE)


def test_on_plain_http_off_loopback_the_cookies_stay_lax(embeddable, settings):
    """Secure cookies cannot be set there: the page frames, but the cookies stay Lax."""
    settings.ALLOWED_HOSTS = ["help.example"]
    client = Client()
    response = client.post("/support/help/start/", {"name": "A"}, HTTP_HOST="help.example")
    line = _cookie_line(response, COOKIE)
    assert "SameSite=Lax" in line and "Partitioned" not in line


def test_a_page_without_embedding_origins_keeps_lax_cookies(page):
    client = Client()
    response = client.post("/support/help/start/", {"name": "A"}, HTTP_HOST="127.0.0.1:8000")
    line = _cookie_line(response, COOKIE)
    assert "SameSite=Lax" in line and "Partitioned" not in line
    page_response = client.get("/support/help/", HTTP_HOST="127.0.0.1:8000")
    assert "Partitioned" not in _cookie_line(page_response, "csrftoken")


def test_the_chat_works_with_partitioned_cookies(embeddable):
    client = start(Client(), embeddable, name="Ayşe")
    response = client.post(
        "/support/help/messages/",
        {"text": "Hello from the frame", "client_id": "c-0000000001"},
        HTTP_ACCEPT="application/json",
    )
    assert response.json() == {"state": "delivered"}


# --- the origins field --------------------------------------------------------------------


def test_origins_are_one_a_line_lower_case_without_duplicates():
    assert embed_origins_parse(
        " https://Shop.Example/ \n\nhttp://127.0.0.1:9000\nhttps://shop.example"
    ) == [
        "https://shop.example",
        "http://127.0.0.1:9000",
    ]


@pytest.mark.parametrize(
    "line",
    [
        "shop.example",
        "ftp://shop.example",
        "https://shop.example/page",
        "https://*.shop.example",
        "https://user@shop.example",
        "https://shop.example:99999",
        "https://shop.example?x=1",
        "'self'",
    ],
)
def test_a_line_that_is_not_an_origin_is_refused_by_name(page, line):
    page.embed_origins = f"https://ok.example\n{line}"
    with pytest.raises(ValidationError) as error:
        page.full_clean()
    assert line in str(error.value)


# --- the launcher's script ----------------------------------------------------------------


def test_the_launcher_script_points_at_the_page_with_its_colour(client, embeddable):
    response = client.get("/support/help/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert '"url": "http://testserver/support/help/"' in body
    assert '"colour": "#2f855a"' in body
    assert "__OMNICO_EMBED_CONFIG__" not in body
    assert "public" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]
    again = client.get("/support/help/embed.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_the_launcher_script_names_the_public_url_and_escapes_the_company(
    client, embeddable, settings
):
    settings.OMNICO_PUBLIC_URL = "https://help.example.com"
    embeddable.company_name = "</script><script>alert(1)</script>"
    embeddable.save()
    body = client.get("/support/help/embed.js").content.decode()
    assert '"url": "https://help.example.com/support/help/"' in body
    assert "</script>" not in body and "<script>" not in body


def test_the_launcher_script_changes_its_etag_with_the_colour(client, embeddable):
    first = client.get("/support/help/embed.js")["ETag"]
    embeddable.colour = "#123456"
    embeddable.save()
    assert client.get("/support/help/embed.js", HTTP_IF_NONE_MATCH=first).status_code == 200


def test_the_launcher_speaks_the_visitors_language(client, embeddable):
    body = client.get("/support/help/embed.js", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Acme \\u0026 Co" in body
    assert "Sohbeti kapat" in body


def test_the_admin_shows_the_snippet_to_copy(admin_client, embeddable, settings):
    response = admin_client.get(f"/admin/configuration/supportpage/{embeddable.pk}/change/")
    assert (
        "&lt;script src=&quot;http://testserver/support/help/embed.js&quot; async&gt;"
        "&lt;/script&gt;" in response.content.decode()
    ) or (
        '&lt;script src="http://testserver/support/help/embed.js" async&gt;&lt;/script&gt;'
        in response.content.decode()
    )
    settings.OMNICO_PUBLIC_URL = "https://help.example.com"
    response = admin_client.get(f"/admin/configuration/supportpage/{embeddable.pk}/change/")
    assert "https://help.example.com/support/help/embed.js" in response.content.decode()
