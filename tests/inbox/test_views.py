"""The agent pages: access, layout, language, escaping (ticket screen: test_ticket_*.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import Ticket, TicketStatus
from tickets.services import ticket_assign

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ticket(db, account):
    return make_ticket(account=account, body="My order has not arrived")


@pytest.mark.parametrize("name", ["home", "inbox", "ticket-list", "reports"])
def test_every_page_redirects_anonymous_visitors_to_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_renders_and_signs_in(client, agent):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post(
        reverse("login"), {"username": "agent-a", "password": "pw-for-tests-only"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def _sign_in(client, password: str, *, address: str = "203.0.113.7", language: str = ""):
    extra = {"REMOTE_ADDR": address}
    if language:
        extra["HTTP_ACCEPT_LANGUAGE"] = language
    return client.post(reverse("login"), {"username": "agent-a", "password": password}, **extra)


def test_wrong_passwords_lock_that_username_from_that_address_with_a_clear_page(
    client, agent, settings
):
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong = _sign_in(client, "guess")
        assert wrong.status_code == 200 and b'role="alert"' in wrong.content
    locked = _sign_in(client, "guess")
    assert locked.status_code == 429
    assert b"Too many wrong passwords" in locked.content and b"15 minutes" in locked.content

    # Locked now even with the right password: guessing on would be pointless.
    assert _sign_in(client, "pw-for-tests-only").status_code == 429
    # The agent, from their own desk, still signs in.
    assert _sign_in(client, "pw-for-tests-only", address="198.51.100.4").status_code == 302


def test_the_admin_sign_in_is_guarded_too(client, admin_user, settings):
    url = reverse("admin:login")
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": admin_user.username, "password": "guess"})
    assert (
        client.post(url, {"username": admin_user.username, "password": "guess"}).status_code == 429
    )


def test_the_lockout_page_speaks_turkish(client, agent, settings):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        page = _sign_in(client, "guess", language="tr")
    assert page.status_code == 429
    assert "çok fazla yanlış parola girildi" in page.content.decode()


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
        load_more = content.split('id="load-more"')[1]
        url = load_more.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
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


def test_the_turkish_inbox_gives_the_live_indicator_its_turkish_words(agent_client):
    page = agent_client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    labels = re.search(r'<template id="live-labels"[^>]*>', page)
    assert labels, "static/js/live.js reads its words from #live-labels"
    turkish = ("Canlı", "Bağlanıyor…", "Yeniden bağlanıyor…", "Oturum kapandı: sayfayı yenileyin")
    for text in turkish:
        assert text in labels.group(0)


def test_a_failed_request_toast_takes_its_words_from_the_pages_language(agent_client):
    page = agent_client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    labels = re.search(r'<template id="ui-labels"[^>]*>', page)
    assert labels, "static/js/omnico.js reads its words from #ui-labels"
    assert "Bir hata oluştu. Sayfayı yenileyip tekrar deneyin." in labels.group(0)
    script = (Path(settings.BASE_DIR) / "static" / "js" / "omnico.js").read_text()
    assert "Bir hata" not in script and "Something went wrong" not in script
