"""The support page's offline side: the offline form, its ticket, its acknowledgement, the
maximum wait, and agents' replies by e-mail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_adapters.models import InboundEvent
from channels_adapters.services import reply_send
from configuration.models import Holiday
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets.errors import TicketRuleError
from tickets.models import Message, Ticket
from tickets.selectors import home_counts, pool_list
from tickets.services import ticket_assign

pytestmark = pytest.mark.django_db

CID = "0b0e2f9c-2222-4c4c-9d9d-000000000001"
FORM_CID = "0b0e2f9c-2222-4c4c-9d9d-00000000f0f0"


@pytest.fixture
def closed_today(db) -> Holiday:
    return Holiday.objects.create(date=timezone.localdate(), name="Republic Day")


def leave(client, page, **fields):
    data = {"client_id": FORM_CID, "name": "Ayşe", "message": "Please call me back", **fields}
    return client.post(f"/support/{page.channel_account.name}/offline/", data)


def test_out_of_hours_the_page_is_the_offline_form_with_the_active_subjects(
    client, page, choices, closed_today
):
    html = client.get("/support/help/").content.decode()
    assert "Republic Day" in html
    for name in ("name", "email", "phone", "subject", "message"):
        assert f'name="{name}"' in html
    assert "Billing information" in html and "Membership cancellation" in html
    assert "csrfmiddlewaretoken" in html
    assert 'name="group_type"' not in html and "Start the chat" not in html


def test_the_offline_form_needs_an_email_or_a_phone_and_says_so_by_the_field(
    client, page, closed_today
):
    response = leave(client, page)
    assert response.status_code == 400
    assert "Give an e-mail address or a phone number." in response.content.decode()
    response = leave(client, page, email="not-an-address", phone="call me")
    html = response.content.decode()
    assert "Enter a valid email address." in html and "Enter a valid phone number." in html
    assert 'value="Ayşe"' in html and "Please call me back" in html  # nothing typed is lost
    assert not InboundEvent.objects.exists()


def test_the_subject_is_required_when_there_are_subjects(client, page, choices, closed_today):
    response = leave(client, page, email="ayse@example.com")
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_an_offline_message_becomes_an_offline_ticket_out_of_the_pool(
    client, page, choices, closed_today, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = leave(
            client, page, email="ayse@example.com", subject=choices["cancel"].pk, phone=""
        )
    assert response.status_code == 302 and response["Location"] == "/support/help/?sent=1"
    ticket = Ticket.objects.get()
    assert ticket.is_offline and ticket.subject == choices["cancel"]
    assert ticket.source == "webchat" and ticket.customer.name == "Ayşe"
    assert Message.objects.get().body == "Please call me back"
    assert pool_list() == []
    counts = home_counts(user=make_user("ayla"))
    assert (counts.offline, counts.pool) == (1, 0)
    html = client.get(response["Location"]).content.decode()
    assert "Thank you, we received your message" in html


def test_a_double_submit_of_the_form_stores_one_message(
    client, page, closed_today, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, phone="+90 555 000 00 00")
        leave(client, page, phone="+90 555 000 00 00")
    assert InboundEvent.objects.count() == 1 and Ticket.objects.count() == 1


def test_an_offline_ticket_is_not_routed_to_a_free_agent(
    client, page, closed_today, django_capture_on_commit_callbacks
):
    from tickets.models import AgentPresence

    agent = make_user("ayla")
    AgentPresence.objects.update_or_create(user=agent, defaults={"is_active": True})
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, phone="+90 555 000 00 00")
    assert Ticket.objects.get().assignee is None


def test_the_acknowledgement_goes_by_email_through_the_mail_account(
    client, page, closed_today, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    smtp_sink.account()
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, email="ayse@example.com")
    (recipients, mail), *_ = smtp_sink.wait_for(1)
    assert recipients == ["ayse@example.com"]
    assert mail["From"] == "Acme Support <support@acme.test>"
    assert mail["Subject"] == "We received your message"
    assert "Hello Ayşe," in mail.get_content() and "Acme & Co" in mail.get_content()


def test_without_a_mail_account_the_acknowledgement_uses_django_mail(
    client, page, closed_today, mailoutbox, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, email="ayse@example.com", HTTP_ACCEPT_LANGUAGE="tr")
    assert [m.to for m in mailoutbox] == [["ayse@example.com"]]


def test_no_acknowledgement_by_email_when_only_a_phone_was_given(
    client, page, closed_today, mailoutbox, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, phone="+90 555 000 00 00")
    assert mailoutbox == []


def test_a_visitor_in_a_live_chat_keeps_chatting_after_hours(
    client, page, django_capture_on_commit_callbacks
):
    start(client, page, name="Ayşe")
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hello", CID)
    Holiday.objects.create(date=timezone.localdate())
    html = client.get("/support/help/").content.decode()
    assert "data-composer" in html and 'name="message"' not in html


# --- maximum wait ---------------------------------------------------------------------------


def wait(client, page) -> dict:
    return client.post(f"/support/{page.channel_account.name}/wait/").json()


def test_after_the_maximum_wait_the_ticket_becomes_an_offline_message_and_the_form_is_offered(
    client, page, choices, django_capture_on_commit_callbacks
):
    page.max_wait_minutes = 5
    page.save()
    start(client, page, name="Ayşe", email="ayse@example.com", subject=choices["billing"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Is anyone there?", CID)
    html = client.get("/support/help/").content.decode()
    assert 'data-offline-wait="/support/help/wait/"' in html
    answer = wait(client, page)
    assert answer["state"] == "waiting" and 1 <= answer["retry_in"] <= 20
    ticket = Ticket.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(
        pool_entered_at=timezone.now() - timedelta(minutes=6)
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = wait(client, page)
    assert answer["state"] == "offline"
    assert 'value="ayse@example.com"' in answer["html"] and 'value="Ayşe"' in answer["html"]
    ticket.refresh_from_db()
    assert ticket.is_offline and ticket.assignee is None and pool_list() == []
    # The page offers the form from now on; what they leave lands in the same ticket.
    html = client.get("/support/help/").content.decode()
    assert "No agent could take your chat in time" in html
    client_id = re.search(r'name="client_id" value="([^"]+)"', html).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/support/help/offline/",
            {
                "client_id": client_id,
                "name": "Ayşe",
                "email": "ayse@example.com",
                "subject": choices["billing"].pk,
                "message": "Please write to me",
            },
        )
    assert response.status_code == 302
    assert Ticket.objects.count() == 1
    assert list(ticket.messages.values_list("body", flat=True).order_by("pk")) == [
        "Is anyone there?",
        "Please write to me",
    ]


def test_an_assigned_chat_never_runs_out_of_wait(client, page, django_capture_on_commit_callbacks):
    page.max_wait_minutes = 1
    page.save()
    start(client, page, name="Ayşe")
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hello", CID)
    ticket = Ticket.objects.get()
    ticket_assign(ticket=ticket, assignee=make_user("ayla"))
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert wait(client, page)["state"] == "done"
    ticket.refresh_from_db()
    assert not ticket.is_offline


def test_without_a_maximum_wait_the_page_does_not_ask(client, page):
    start(client, page, name="Ayşe")
    assert "data-offline-wait" not in client.get("/support/help/").content.decode()
    assert wait(client, page)["state"] == "done"


# --- replies by e-mail ----------------------------------------------------------------------


def test_an_agents_reply_to_an_offline_message_goes_out_by_email(
    client, page, closed_today, smtp_sink, eager_tasks, django_capture_on_commit_callbacks
):
    account = smtp_sink.account()
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, email="ayse@example.com", phone="")
    smtp_sink.wait_for(1)  # the acknowledgement
    ticket = Ticket.objects.get()
    agent = make_user("ayla", first_name="Ayla")
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=ticket, author=agent, body="We will refund you <today>.")
    (recipients, mail) = smtp_sink.wait_for(2)[1]
    assert recipients == ["ayse@example.com"]
    assert "We will refund you <today>." in mail.get_content()
    assert f"[#{ticket.pk}]" in mail["Subject"]
    reply.refresh_from_db()
    assert reply.channel_account_id == account.pk and reply.delivery == Message.Delivery.SENT


def test_a_reply_to_an_offline_message_with_only_a_phone_is_refused_clearly(
    client, page, closed_today, smtp_sink, django_capture_on_commit_callbacks
):
    smtp_sink.account()
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, phone="+90 555 000 00 00")
    ticket = Ticket.objects.get()
    with pytest.raises(TicketRuleError, match="no e-mail address, only a phone number"):
        reply_send(ticket=ticket, author=make_user("ayla"), body="Hello")
    assert not Message.objects.filter(direction="out").exists()


def test_a_reply_to_an_offline_message_without_a_mail_account_is_refused(
    client, page, closed_today, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, email="ayse@example.com")
    with pytest.raises(TicketRuleError, match="No mail account"):
        reply_send(ticket=Ticket.objects.get(), author=make_user("ayla"), body="Hello")


def test_the_composer_says_where_the_reply_goes_or_why_it_cannot_before_writing(
    client, page, closed_today, smtp_sink, django_capture_on_commit_callbacks
):
    smtp_sink.account()
    with django_capture_on_commit_callbacks(execute=True):
        leave(client, page, phone="+90 555 000 00 00")
    with django_capture_on_commit_callbacks(execute=True):
        leave(client.__class__(), page, email="mehmet@example.com", client_id=CID, name="Mehmet")
    phone_only = Ticket.objects.get(customer__name="Ayşe")
    by_mail = Ticket.objects.get(customer__name="Mehmet")
    agent = make_user("ayla")
    client.force_login(agent)
    html = client.get(f"/inbox/{phone_only.pk}/").content.decode()
    assert "no e-mail address, only a phone number" in html
    html = client.get(f"/inbox/{by_mail.pk}/").content.decode()
    assert "your reply goes out by e-mail to mehmet@example.com" in html


def test_a_visitor_flooding_the_offline_form_is_refused_after_the_limit(
    client, page, closed_today, settings, django_capture_on_commit_callbacks
):
    settings.OMNICO_SUPPORT_RATE_OFFLINE_PER_ADDRESS = "3/hour"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            leave(client, page, phone="+90 555 000 00 00", client_id=f"{FORM_CID[:-4]}{i:04d}")
            for i in range(5)
        ]
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    assert "Please slow down" in answers[3].content.decode()
    assert int(answers[3]["Retry-After"]) >= 1
    assert InboundEvent.objects.count() == 3


def test_the_offline_form_in_a_company_site_frame_is_framed_like_the_page(
    client, page, closed_today
):
    page.embed_origins = "https://shop.example"
    page.save()
    response = leave(client, page)  # missing contact: the form comes back with its errors
    assert response.status_code == 400
    assert "frame-ancestors 'self' https://shop.example" in response["Content-Security-Policy"]
    assert "X-Frame-Options" not in response
