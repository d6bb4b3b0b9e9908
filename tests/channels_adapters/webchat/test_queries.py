"""How many queries the support page runs: each step, and the chat and its history endpoint
the same for a long conversation (with files and unread replies) as for a short one."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from channels_adapters.services import reply_send
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets.models import Attachment, Message, Ticket
from tickets.services import ticket_assign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def cid(n: int) -> str:
    return f"0b0e2f9c-4444-4c4c-9d9d-{n:012d}"


def conversation(client: Client, page, capture, *, length: int) -> Ticket:
    """``length`` visitor messages, each answered by an agent with a file (replies unread),
    the ticket given to an agent and then to another."""
    agents = [make_user(first_name="Ayla"), make_user(first_name="Burak")]
    for n in range(length):
        with capture(execute=True):
            say(client, page, f"question {n}", cid(n))
        ticket = Ticket.objects.get()
        with capture(execute=True):
            reply = reply_send(ticket=ticket, author=agents[0], body=f"answer {n}")
        shared = Attachment(message=reply, filename=f"a{n}.png", content_type="image/png")
        shared.file.save(f"a{n}.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    for agent in agents:
        with capture(execute=True):
            ticket_assign(ticket=ticket, assignee=agent)
    assert Message.objects.filter(direction="out", delivery="sent").count() == length
    return ticket


def test_each_step_before_the_chat(client, page, choices, django_assert_num_queries):
    # The page, today's holiday and the business hours (is it open?), the group types.
    with django_assert_num_queries(4):
        assert client.get("/support/help/").status_code == 200
    # The page is remembered from now on (settings_memo); + the subjects.
    with django_assert_num_queries(4):
        client.get(f"/support/help/?group_type={choices['axa'].pk}")
    with django_assert_num_queries(4):
        client.get(f"/support/help/?group_type={choices['axa'].pk}&subject={choices['billing'].pk}")


def test_the_chat_before_the_first_message(client, page, django_assert_num_queries):
    start(client, page)
    # The visitor's ticket (none) for the maximum wait and for the chat, their messages not
    # yet in a ticket, their preferences (replies by e-mail), and whether the page is open
    # (holiday, business hours). The page itself is remembered (settings_memo).
    with django_assert_num_queries(6):
        assert client.get("/support/help/").status_code == 200


@pytest.mark.parametrize("length", [1, 12])
def test_the_chat_of_any_length(
    client, page, length, django_capture_on_commit_callbacks, django_assert_num_queries
):
    start(client, page)
    conversation(client, page, django_capture_on_commit_callbacks, length=length)
    # The ticket, its messages, their files, who joined, the agents' names, the messages not
    # yet in a ticket; the unread replies (found, listed, marked delivered); the visitor's
    # preferences, and whether the page is open (holiday, business hours). The page itself is
    # remembered (settings_memo).
    with django_assert_num_queries(12):
        html = client.get("/support/help/").content.decode()
    assert html.count('class="entry entry-out"') == length
    assert html.count("entry-image") == length
    assert "Burak joined the chat." in html
    assert Message.objects.filter(direction="out", delivery="delivered").count() == length
    with django_assert_num_queries(10):  # nothing unread any more: one query for that
        client.get("/support/help/")


@pytest.mark.parametrize("length", [1, 12])
def test_the_history_of_any_length(
    client, page, length, django_capture_on_commit_callbacks, django_assert_num_queries
):
    start(client, page)
    conversation(client, page, django_capture_on_commit_callbacks, length=length)
    with django_assert_num_queries(9):  # the page itself is remembered (settings_memo)
        html = client.get("/support/help/history/").content.decode()
    assert html.count('class="entry entry-out"') == length
