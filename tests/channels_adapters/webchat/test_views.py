"""The support page: steps, the durable visitor message, history, and visitor isolation."""

from __future__ import annotations

import pytest
from django.test import Client

from channels_adapters.models import InboundEvent
from channels_adapters.services import reply_send
from channels_adapters.webchat.visitor import COOKIE
from customers.models import Identity
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

CID = "0b0e2f9c-1111-4c4c-9d9d-000000000001"


def test_group_types_are_cards_of_active_ones_in_the_admins_order(client, page, choices):
    html = client.get("/support/").content.decode()
    assert html.index("AXA") < html.index("Allianz")
    assert "Old" not in html
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in html  # the welcome text is escaped
    assert f'href="?group_type={choices["axa"].pk}"' in html


def test_then_subjects_then_contact_with_the_choices(client, page, choices):
    gt = choices["axa"].pk
    html = client.get(f"/support/help/?group_type={gt}").content.decode()
    assert "Billing information" in html and "Membership cancellation" in html
    sid = choices["cancel"].pk
    html = client.get(f"/support/help/?group_type={gt}&subject={sid}").content.decode()
    assert f'name="group_type" value="{gt}"' in html
    assert f'name="subject" value="{sid}"' in html
    assert "csrfmiddlewaretoken" in html


def test_a_list_of_one_skips_its_step(client, page, choices):
    choices["allianz"].delete()
    choices["hidden"].delete()
    html = client.get("/support/help/").content.decode()
    assert "Choose a subject" in html  # the only group type was taken


def test_no_group_types_and_no_subjects_goes_straight_to_contact(client, page):
    html = client.get("/support/help/").content.decode()
    assert 'name="email"' in html


def test_the_visitor_cookie_is_signed_httponly_and_lax(client, page):
    response = client.post("/support/help/start/", {"name": "Ayşe"})
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert ":" in cookie.value  # value:signature


def test_a_message_is_stored_before_it_is_acknowledged_and_opens_a_ticket_with_the_choices(
    client, page, choices, django_capture_on_commit_callbacks
):
    start(
        client,
        page,
        group_type=choices["axa"].pk,
        subject=choices["billing"].pk,
        name="Ayşe",
        email="ayse@example.com",
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = say(client, page, "My invoice is wrong", CID)
    assert answer == {"status": 200, "state": "delivered"}
    assert InboundEvent.objects.filter(channel_account=page.channel_account).count() == 1
    ticket = Ticket.objects.get()
    assert (ticket.group_type, ticket.subject) == (choices["axa"], choices["billing"])
    assert ticket.source == "webchat" and ticket.customer.name == "Ayşe"
    assert Identity.objects.get(kind="webchat").customer == ticket.customer


def test_a_resend_with_the_same_client_id_never_duplicates(
    client, page, django_capture_on_commit_callbacks
):
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        assert say(client, page, "Hello", CID)["status"] == 200
        assert say(client, page, "Hello", CID)["status"] == 200  # after a reconnect
    assert InboundEvent.objects.count() == 1
    assert Message.objects.filter(direction="in").count() == 1


def test_two_visitors_may_use_the_same_client_id(page, django_capture_on_commit_callbacks):
    one, two = start(Client(), page), start(Client(), page)
    with django_capture_on_commit_callbacks(execute=True):
        say(one, page, "From one", CID)
        say(two, page, "From two", CID)
    assert Ticket.objects.count() == 2
    assert sorted(Message.objects.values_list("body", flat=True)) == ["From one", "From two"]


def test_history_survives_a_reload_and_shows_the_agents_reply_delivered(
    client, page, django_capture_on_commit_callbacks
):
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Is anyone there?", CID)
    ticket = Ticket.objects.get()
    agent = make_user("ayla", first_name="Ayla", last_name="Demir")
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=ticket, author=agent, body="Yes, <Ayla> here")
    reply.refresh_from_db()
    assert reply.delivery == "sent"
    html = client.get("/support/help/").content.decode()
    assert "Is anyone there?" in html and "Yes, &lt;Ayla&gt; here" in html
    reply.refresh_from_db()
    assert reply.delivery == "delivered"  # the visitor's page showed it


def test_internal_notes_never_reach_the_visitor(client, page, django_capture_on_commit_callbacks):
    from tickets.services import message_add_outbound

    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hi", CID)
    message_add_outbound(
        ticket=Ticket.objects.get(), author=make_user(), body="secret note", note=True
    )
    assert "secret note" not in client.get("/support/help/history/").content.decode()


def test_another_visitor_sees_nothing_of_the_first(page, django_capture_on_commit_callbacks):
    one = start(Client(), page)
    with django_capture_on_commit_callbacks(execute=True):
        say(one, page, "my private words", CID)
    other = start(Client(), page)
    assert "my private words" not in other.get("/support/help/").content.decode()
    assert "my private words" not in other.get("/support/help/history/").content.decode()


def test_a_forged_or_tampered_cookie_is_no_visitor(page, django_capture_on_commit_callbacks):
    one = start(Client(), page)
    with django_capture_on_commit_callbacks(execute=True):
        say(one, page, "my private words", CID)
    visitor = Identity.objects.get(kind="webchat").external_id
    forger = Client()
    forger.cookies[COOKIE] = visitor  # the bare id, unsigned
    assert forger.get("/support/help/history/").status_code == 404
    forger.cookies[COOKIE] = visitor + ":forgedsignature"
    assert forger.get("/support/help/history/").status_code == 404


def test_a_message_without_the_contact_step_is_refused(client, page):
    assert say(client, page, "Hi", CID)["status"] == 403
    assert not InboundEvent.objects.exists()


def test_web_chat_has_no_webhook(client, page):
    response = client.post("/hooks/webchat/help/", b"{}", content_type="application/json")
    assert response.status_code == 404


def test_the_messages_form_needs_csrf(page):
    client = Client(enforce_csrf_checks=True)
    client.post("/support/help/start/", {"name": "x"})  # refused too: no token
    response = client.post("/support/help/messages/", {"text": "Hi", "client_id": CID})
    assert response.status_code == 403


def test_turkish_from_the_browsers_language(client, page):
    html = client.get("/support/help/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert 'lang="tr"' in html


def test_the_colour_is_served_as_a_stylesheet(client, page):
    response = client.get("/support/help/theme.css")
    assert response["Content-Type"].startswith("text/css")
    assert "#2f855a" in response.content.decode()


def test_an_unknown_page_is_404(client, page):
    assert client.get("/support/nope/").status_code == 404


def test_a_group_type_removed_after_it_was_chosen_does_not_lose_the_message(
    client, page, choices, django_capture_on_commit_callbacks
):
    start(client, page, group_type=choices["axa"].pk, subject=choices["cancel"].pk)
    choices["axa"].delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert say(client, page, "Still there?", CID)["status"] == 200
    ticket = Ticket.objects.get()
    assert ticket.group_type is None and ticket.subject == choices["cancel"]
