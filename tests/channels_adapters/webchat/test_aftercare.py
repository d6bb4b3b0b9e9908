"""The end of a web chat: ending it, the rating, the transcript by e-mail (real SMTP), and
agents' replies mailed to a visitor who is away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from channels_adapters.models import WebchatVisitor
from channels_adapters.services import reply_send
from channels_adapters.webchat import aftercare
from channels_adapters.webchat.tasks import webchat_away_mail_sweep
from channels_adapters.webchat.visitor import COOKIE, visitor_from_cookies
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets import services as ticket_services
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


def chatting(page, captured, **answers) -> tuple[Client, Ticket]:
    client = start(Client(), page, name="Ayşe <b>", **answers)
    with captured(execute=True):
        assert (
            say(client, page, "My invoice <script>x</script> is wrong", "c-0000000001")["status"]
            == 200
        )
    return client, Ticket.objects.get()


def _reply(ticket, body, agent=None, captured=None):
    agent = agent or make_user(first_name="Ayla", last_name="Demir")
    with captured(execute=True):
        return reply_send(ticket=ticket, author=agent, body=body)


def visitor_id(client) -> str:
    return visitor_from_cookies({COOKIE: client.cookies[COOKIE].value})


# --- ending ----------------------------------------------------------------------------------


def test_ending_the_chat_adds_a_system_line_for_the_agent_and_keeps_the_status(
    page, django_capture_on_commit_callbacks
):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    assert b"End the chat" in client.get("/support/help/").content
    response = client.post("/support/help/end/")
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.customer_ended_at is not None and ticket.status == "open"
    line = Message.objects.get(ticket=ticket, direction="system")
    assert line.body == "The customer ended the chat."
    client.post("/support/help/end/")  # twice adds nothing
    assert Message.objects.filter(ticket=ticket, direction="system").count() == 1


def test_after_ending_the_page_asks_for_a_rating_and_offers_a_new_chat(
    page, django_capture_on_commit_callbacks
):
    client, _ticket = chatting(page, django_capture_on_commit_callbacks)
    client.post("/support/help/end/")
    html = client.get("/support/help/").content.decode()
    assert "How was this chat?" in html and 'name="rating" value="4"' in html
    assert "Start a new chat" in html
    assert "data-composer hidden" in html


def test_a_new_chat_hides_the_old_one_and_goes_through_the_steps_again(
    page, django_capture_on_commit_callbacks
):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    client.post("/support/help/end/")
    client.post("/support/help/new/")
    html = client.get("/support/help/").content.decode()
    assert "Who are we talking to?" in html and "My invoice" not in html
    ticket.refresh_from_db()
    assert ticket.customer_ended_at is None  # still their active ticket, no longer ended
    assert Message.objects.filter(ticket=ticket, body="The customer started a new chat.").exists()


def test_a_visitor_without_a_chat_cannot_end_one(page, client):
    start(client, page, name="Ayşe")
    client.post("/support/help/end/")
    assert not Ticket.objects.exists()


# --- the rating ------------------------------------------------------------------------------


def test_a_resolved_chat_is_rated_and_the_agent_sees_it(page, django_capture_on_commit_callbacks):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    agent = make_user("ayla", first_name="Ayla", staff=True)
    ticket_services.ticket_set_status(ticket=ticket, status="resolved", actor=agent)
    assert b"How was this chat?" in client.get("/support/help/").content
    client.post("/support/help/rate/", {"rating": "4", "comment": "Quick <b>help</b>"})
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (4, "Quick <b>help</b>")
    assert ticket.rated_at is not None
    assert "You rated this chat 4 out of 5" in client.get("/support/help/").content.decode()
    agent_client = Client()
    agent_client.force_login(agent)
    panel = agent_client.get(f"/inbox/{ticket.pk}/panel/").content.decode()
    assert 'data-rating="4"' in panel
    assert "Quick &lt;b&gt;help&lt;/b&gt;" in panel


def test_a_second_rating_replaces_the_first(page, django_capture_on_commit_callbacks):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    client.post("/support/help/end/")
    client.post("/support/help/rate/", {"rating": "2"})
    client.post("/support/help/rate/", {"rating": "5", "comment": "Sorted after all"})
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (5, "Sorted after all")


def test_a_chat_still_going_cannot_be_rated(page, django_capture_on_commit_callbacks):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    response = client.post("/support/help/rate/", {"rating": "5"}, follow=True)
    assert "The chat can be rated once it is over." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.rating is None


@pytest.mark.parametrize("bad", ["0", "6", "five", ""])
def test_a_rating_outside_one_to_five_is_refused(page, django_capture_on_commit_callbacks, bad):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    client.post("/support/help/end/")
    response = client.post("/support/help/rate/", {"rating": bad}, follow=True)
    assert "Choose a rating from 1 to 5." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.rating is None


def test_the_rating_is_a_group_of_labelled_radio_buttons(page, django_capture_on_commit_callbacks):
    client, _ticket = chatting(page, django_capture_on_commit_callbacks)
    client.post("/support/help/end/")
    html = client.get("/support/help/").content.decode()
    assert "<fieldset" in html and "<legend>" in html
    for n in range(1, 6):
        assert f'<input type="radio" name="rating" value="{n}" id="support-star-{n}"' in html
        assert f'<label for="support-star-{n}"' in html


# --- the transcript --------------------------------------------------------------------------


def test_the_transcript_is_mailed_as_text_and_escaped_html(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    _reply(ticket, "Hello <i>Ayşe</i>, fixed.", captured=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/support/help/transcript/", {"email": "ayse@example.com"}, follow=True
        )
    assert "The transcript is on its way to your e-mail." in response.content.decode()
    assert len(smtp_sink.mails) == 1
    to, _mail = smtp_sink.mails[0]
    assert to == ["ayse@example.com"]
    mail, text, html = smtp_sink.parts()
    assert mail["Subject"] == f"Your chat with Acme & Co [#{ticket.pk}]"
    assert mail["From"] == "Acme Support <support@acme.test>"
    assert "My invoice <script>x</script> is wrong" in text
    assert "Hello <i>Ayşe</i>, fixed." in text and "Ayla Demir" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "Hello &lt;i&gt;Ayşe&lt;/i&gt;" in html
    assert "Ayşe &lt;b&gt;" in html  # the customer's name, escaped too


def test_the_transcript_is_in_the_visitors_language(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/support/help/transcript/", {"email": "ayse@example.com"}, HTTP_ACCEPT_LANGUAGE="tr"
        )
    mail, text, _html = smtp_sink.parts()
    assert mail["Subject"] == f"Acme & Co ile sohbetiniz [#{ticket.pk}]"


def test_a_second_transcript_within_minutes_is_refused(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    client, _ticket = chatting(page, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/support/help/transcript/", {"email": "ayse@example.com"})
        response = client.post(
            "/support/help/transcript/", {"email": "ayse@example.com"}, follow=True
        )
    assert "A transcript was sent a moment ago" in response.content.decode()
    assert len(smtp_sink.mails) == 1
    WebchatVisitor.objects.update(transcript_sent_at=timezone.now() - timedelta(minutes=6))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/support/help/transcript/", {"email": "ayse@example.com"})
    assert len(smtp_sink.mails) == 2


def test_a_transcript_needs_a_valid_address(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    client, _ticket = chatting(page, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/support/help/transcript/", {"email": "not-an-address"}, follow=True
        )
    assert "Enter a valid e-mail address." in response.content.decode()
    assert smtp_sink.mails == []


def test_the_given_address_is_offered_for_the_transcript(page, django_capture_on_commit_callbacks):
    client, _ticket = chatting(page, django_capture_on_commit_callbacks, email="ayse@example.com")
    assert 'value="ayse@example.com"' in client.get("/support/help/").content.decode()


# --- replies while away ----------------------------------------------------------------------


def test_replies_a_visitor_did_not_see_are_mailed_in_one_batch(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    client, ticket = chatting(
        page, django_capture_on_commit_callbacks, email="ayse@example.com", notify_away="on"
    )
    agent = make_user(first_name="Ayla")
    first = _reply(ticket, "Checking <now>", agent, django_capture_on_commit_callbacks)
    second = _reply(ticket, "Found it.", agent, django_capture_on_commit_callbacks)
    assert set(Message.objects.filter(direction="out").values_list("delivery", flat=True)) == {
        "sent"
    }
    assert webchat_away_mail_sweep() == 0  # the agent may still be writing
    later = timezone.now() + timedelta(seconds=121)
    assert aftercare.away_mail_due(now=later) == [
        (WebchatVisitor.objects.get().pk, ticket.pk, second.pk)
    ]
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(
        sent_at=timezone.now() - timedelta(seconds=121)
    )
    assert webchat_away_mail_sweep() == 1
    assert len(smtp_sink.mails) == 1
    _mail, text, html = smtp_sink.parts()
    assert "Checking <now>" in text and "Found it." in text
    assert "Checking &lt;now&gt;" in html
    assert webchat_away_mail_sweep() == 0  # never twice
    assert len(smtp_sink.mails) == 1


def test_replies_the_visitor_saw_are_not_mailed(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    client, ticket = chatting(
        page, django_capture_on_commit_callbacks, email="ayse@example.com", notify_away="on"
    )
    _reply(ticket, "Checking now", captured=django_capture_on_commit_callbacks)
    client.get("/support/help/")  # the page showed it: delivered
    Message.objects.filter(direction="out").update(sent_at=timezone.now() - timedelta(hours=1))
    assert webchat_away_mail_sweep() == 0
    assert smtp_sink.mails == []


def test_replies_are_not_mailed_to_a_visitor_who_did_not_ask(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    _client, ticket = chatting(page, django_capture_on_commit_callbacks, email="ayse@example.com")
    _reply(ticket, "Checking now", captured=django_capture_on_commit_callbacks)
    Message.objects.filter(direction="out").update(sent_at=timezone.now() - timedelta(hours=1))
    assert webchat_away_mail_sweep() == 0
    assert smtp_sink.mails == []


def test_asking_for_replies_while_away_in_the_chat_needs_an_address(
    page, django_capture_on_commit_callbacks
):
    client, _ticket = chatting(page, django_capture_on_commit_callbacks)
    response = client.post("/support/help/preferences/", {"notify_away": "on"}, follow=True)
    assert "Enter a valid e-mail address." in response.content.decode()
    client.post("/support/help/preferences/", {"notify_away": "on", "email": "a@example.com"})
    visitor = WebchatVisitor.objects.get(visitor_id=visitor_id(client))
    assert visitor.notify_away and visitor.email == "a@example.com"


def test_a_failed_away_mail_is_tried_again_by_the_next_sweep(
    page, desk_mail, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    _client, ticket = chatting(
        page, django_capture_on_commit_callbacks, email="ayse@example.com", notify_away="on"
    )
    _reply(ticket, "Checking now", captured=django_capture_on_commit_callbacks)
    Message.objects.filter(direction="out").update(sent_at=timezone.now() - timedelta(hours=1))
    port = desk_mail.smtp_port
    type(desk_mail).objects.filter(pk=desk_mail.pk).update(smtp_port=1)
    assert webchat_away_mail_sweep() == 1
    assert smtp_sink.mails == [] and WebchatVisitor.objects.get().away_mailed_through == 0
    type(desk_mail).objects.filter(pk=desk_mail.pk).update(smtp_port=port)
    webchat_away_mail_sweep()
    assert len(smtp_sink.mails) == 1


def test_the_ticket_admin_lists_and_filters_by_rating(page, django_capture_on_commit_callbacks):
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    client.post("/support/help/end/")
    client.post("/support/help/rate/", {"rating": "3"})
    admin = Client()
    admin.force_login(make_user("boss", staff=True))
    html = admin.get("/admin/tickets/ticket/?rating=3").content.decode()
    assert f"/admin/tickets/ticket/{ticket.pk}/change/" in html
    assert (
        f"/admin/tickets/ticket/{ticket.pk}/change/"
        not in admin.get("/admin/tickets/ticket/?rating=5").content.decode()
    )
    detail = admin.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Rating comment" in detail or "rating comment" in detail.lower()


def test_a_page_that_missed_the_end_of_the_chat_learns_it_when_it_re_fetches(
    page, django_capture_on_commit_callbacks
):
    """A dropped socket (or a lost frame) misses the "over" frame: the history the page
    re-fetches on reconnect says the chat is over, so the rating is asked all the same."""
    client, ticket = chatting(page, django_capture_on_commit_callbacks)
    assert "X-Chat-Over" not in client.get("/support/help/history/")
    agent = make_user("ayla", first_name="Ayla")
    ticket_services.ticket_set_status(ticket=ticket, status="resolved", actor=agent)
    assert client.get("/support/help/history/")["X-Chat-Over"] == "1"
    client.post("/support/help/new/")  # a new chat: the old one is no longer "over" here
    assert "X-Chat-Over" not in client.get("/support/help/history/")
