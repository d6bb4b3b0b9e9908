"""The composer's messaging window: the time left on WhatsApp and Messenger tickets (none on
the other channels), and once WhatsApp's window closed the template picker, its fields, its
errors and its send."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels_adapters.models import WhatsAppTemplate
from tests.factories import make_account, make_customer
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive

HTMX = {"HTTP_HX_REQUEST": "true"}


def _ticket(kind: str, *, wrote_ago: timedelta, **account_fields):
    account = make_account(kind, **account_fields)
    return ticket_receive(
        channel_account=account,
        customer=make_customer(kind=kind),
        incoming=Incoming(body="Soru", external_id="in-1", sent_at=timezone.now() - wrote_ago),
    ).ticket


def _template(ticket, name="siparis", *, status="APPROVED", body="Merhaba {{1}}, {{2}} yolda."):
    return WhatsAppTemplate.objects.create(
        channel_account=ticket.channel_account,
        name=name,
        language="tr",
        status=status,
        category="UTILITY",
        body_text=body,
        parameter_count=body.count("{{"),
        synced_at=timezone.now(),
    )


def _page(client, ticket) -> str:
    response = client.get(reverse("ticket-detail", args=[ticket.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_open_whatsapp_window_shows_the_time_left(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(hours=18, minutes=47, seconds=30))

    html = _page(agent_client, ticket)

    assert "Window open — 5 h 12 min left" in html
    assert 'data-window-state="open"' in html
    assert "data-template-form" not in html


@pytest.mark.parametrize("kind", ["telegram", "api", "email"])
def test_channels_without_a_window_show_nothing_of_it(agent_client, kind):
    ticket = _ticket(kind, wrote_ago=timedelta(days=3))

    html = _page(agent_client, ticket)

    assert "data-window" not in html
    assert "Window open" not in html


def test_closed_whatsapp_window_offers_approved_templates_and_only_notes_as_text(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(hours=24, minutes=1))
    approved = _template(ticket)
    _template(ticket, "beklemede", status="PENDING")

    html = _page(agent_client, ticket)

    assert "WhatsApp accepts only an approved message template" in html
    assert f'<option value="{approved.pk}">siparis (tr)</option>' in html
    assert "beklemede" not in html
    # The text box still takes internal notes, and only them.
    assert 'name="note" value="on" checked disabled' in html


def test_messenger_past_24h_with_the_tag_says_how_the_reply_goes(agent_client):
    ticket = _ticket("messenger", wrote_ago=timedelta(days=2, seconds=-30), human_agent_tag=True)

    html = _page(agent_client, ticket)

    assert "Human Agent tag — 120 h 0 min left" in html
    assert "replies go out with Messenger&#x27;s Human Agent tag" in html


def test_messenger_past_24h_without_the_tag_explains_why_it_cannot_send(agent_client):
    ticket = _ticket("messenger", wrote_ago=timedelta(days=2))

    html = _page(agent_client, ticket)

    assert "this page may not use Messenger&#x27;s Human Agent tag" in html
    assert "data-template-form" not in html


def test_free_text_reply_after_the_window_closed_is_refused_with_the_reason(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(days=2))

    response = agent_client.post(
        reverse("ticket-reply", args=[ticket.pk]), {"body": "Merhaba"}, **HTMX
    )

    assert "approved message template" in response.content.decode()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_choosing_a_template_shows_its_body_and_a_field_per_parameter(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(days=2))
    template = _template(ticket)

    response = agent_client.get(
        reverse("ticket-template-fields", args=[ticket.pk]), {"template": template.pk}, **HTMX
    )

    html = response.content.decode()
    assert "Merhaba {{1}}, {{2}} yolda." in html
    assert 'name="parameter_1"' in html and 'name="parameter_2"' in html
    assert 'name="parameter_3"' not in html


def test_a_template_with_header_and_link_button_variables_asks_for_each(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(days=2))
    template = WhatsAppTemplate.objects.create(
        channel_account=ticket.channel_account,
        name="kargo",
        language="tr",
        status="APPROVED",
        body_text="Merhaba {{customer_name}}",
        header_format="TEXT",
        header_text="Kargo {{1}}",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Kargo {{1}}"},
            {"type": "BODY", "text": "Merhaba {{customer_name}}"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Takip et", "url": "https://k.example.com/{{1}}"}
                ],
            },
        ],
        synced_at=timezone.now(),
    )

    response = agent_client.get(
        reverse("ticket-template-fields", args=[ticket.pk]), {"template": template.pk}, **HTMX
    )

    html = response.content.decode()
    assert 'name="header_1"' in html and "Header parameter" in html
    assert 'name="parameter_customer_name"' in html
    assert 'name="button_0"' in html
    assert "End of the link of the button “Takip et”" in html
    assert "https://k.example.com/{{1}}" in html


def test_a_template_with_an_empty_parameter_is_refused_next_to_the_field(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(days=2))
    template = _template(ticket)

    response = agent_client.post(
        reverse("ticket-template-send", args=[ticket.pk]),
        {"template": template.pk, "parameter_1": "Ayşe", "parameter_2": ""},
        **HTMX,
    )

    html = response.content.decode()
    assert "Fill in parameter {{2}}." in html
    assert 'value="Ayşe"' in html  # what the agent typed stays
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_sending_a_template_shows_its_rendered_text_in_the_conversation(
    agent_client, django_capture_on_commit_callbacks
):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(days=2))
    template = _template(ticket)

    with django_capture_on_commit_callbacks():  # delivery is not run: the fake is not needed
        response = agent_client.post(
            reverse("ticket-template-send", args=[ticket.pk]),
            {"template": template.pk, "parameter_1": "<b>Ayşe</b>", "parameter_2": "4521"},
            **HTMX,
        )

    html = response.content.decode()
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.body == "Merhaba <b>Ayşe</b>, 4521 yolda."
    assert message.meta["template"]["values"] == {
        "parameter_1": "<b>Ayşe</b>",
        "parameter_2": "4521",
    }
    assert "Merhaba &lt;b&gt;Ayşe&lt;/b&gt;, 4521 yolda." in html  # escaped
    assert "Template queued for delivery." in html


def test_window_refresh_at_zero_switches_the_composer(agent_client):
    ticket = _ticket("whatsapp", wrote_ago=timedelta(hours=24, seconds=1))
    _template(ticket)

    response = agent_client.get(reverse("ticket-window", args=[ticket.pk]), **HTMX)

    html = response.content.decode()
    assert 'data-window-state="closed"' in html
    assert "data-template-form" in html
    assert f'id="reply-form-{ticket.pk}"' in html and 'hx-swap-oob="true"' in html


@pytest.mark.parametrize(
    ("kind", "wrote_ago", "queries"),
    [
        ("whatsapp", timedelta(hours=1), 1),  # the customer's last message
        ("whatsapp", timedelta(days=2), 2),  # and the account's templates
        ("telegram", timedelta(hours=1), 0),
    ],
)
def test_the_window_costs_at_most_two_queries(agent_client, kind, wrote_ago, queries):
    from inbox.window_selectors import window_context

    ticket = _ticket(kind, wrote_ago=wrote_ago)
    _template(ticket) if kind == "whatsapp" else None

    with CaptureQueriesContext(connection) as ctx:
        window_context(ticket=ticket)

    assert len(ctx.captured_queries) == queries
