"""The favicon, and the 404 and 500 pages: styled like the app, in the visitor's language."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.utils import translation
from django.views import defaults

TURKISH = {"HTTP_ACCEPT_LANGUAGE": "tr"}


@pytest.fixture(autouse=True)
def _back_to_english_afterwards():
    yield
    translation.deactivate()


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/img/favicon.svg")
    assert finders.find("img/favicon.svg")


@pytest.mark.django_db
def test_pages_link_the_favicon(client):
    page = client.get("/accounts/login/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/img/favicon.svg"', page)


@pytest.mark.django_db
def test_404_page_is_styled_and_says_not_found(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "/static/css/omnico.css" in html
    text = _text(html)
    assert "Page not found" in text and "Back to the home page" in text


@pytest.mark.django_db
def test_404_page_speaks_turkish(client):
    response = client.get("/no-such-page/", **TURKISH)
    assert response.status_code == 404
    text = _text(response.content.decode())
    assert "Sayfa bulunamadı" in text and "Ana sayfaya dön" in text
    assert "Page not found" not in text


@pytest.mark.django_db
def test_404_page_keeps_the_top_bar_for_a_signed_in_agent(agent_client):
    html = agent_client.get("/no-such-page/").content.decode()
    assert 'class="topbar"' in html and "Page not found" in _text(html)


@pytest.mark.urls("tests.omnico.urls_failing")
@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers,words",
    [({}, "Something went wrong on our side"), (TURKISH, "Bizim tarafımızda bir sorun oluştu")],
    ids=["en", "tr"],
)
def test_500_page_is_styled_and_translated(headers, words):
    client = Client(raise_request_exception=False)
    response = client.get("/fail/", **headers)
    assert response.status_code == 500
    html = response.content.decode()
    assert "/static/css/omnico.css" in html
    assert words in _text(html)


def test_500_page_needs_no_database_and_no_request_context():
    # No django_db mark: any query would fail the test. The handler gets no request context.
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in _text(response.content.decode())
