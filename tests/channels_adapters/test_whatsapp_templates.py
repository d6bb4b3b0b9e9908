"""WhatsApp message templates: synced from the Graph API's paged list, checked, and sent through
the Cloud API as type "template"; the real client against the loopback fake."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.utils import timezone

from channels_adapters import tasks
from channels_adapters.models import WhatsAppTemplate
from channels_adapters.whatsapp.templates import (
    TemplateSendError,
    TemplateSyncError,
    template_reply_send,
    whatsapp_templates_offered,
    whatsapp_templates_sync,
)
from customers.services import customer_resolve
from tests.factories import make_user
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive

WABA = "102290129340398"


def graph_template(
    name, *, status="APPROVED", language="tr", body="Merhaba {{1}}", header=None, buttons=None
):
    components = [{"type": "BODY", "text": body}]
    if header:
        components.insert(0, {"type": "HEADER", **header})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {
        "id": f"id-{name}-{language}",
        "name": name,
        "language": language,
        "status": status,
        "category": "UTILITY",
        "components": components,
    }


@pytest.fixture
def whatsapp(channel):
    return channel("whatsapp", waba_id=WABA)


@pytest.fixture
def templates(fake):
    fake.whatsapp_templates[WABA] = [
        graph_template("siparis_kargoda", body="Merhaba {{1}}, {{2}} numaralı siparişiniz yolda."),
        graph_template("siparis_kargoda", language="en", body="Hi {{1}}, order {{2}} shipped."),
        graph_template("bekleyen", status="PENDING"),
        graph_template(
            "fatura",
            body="Faturanız ekte, {{1}}.",
            header={"format": "DOCUMENT", "example": {"header_handle": ["h"]}},
        ),
        graph_template("reddedilen", status="REJECTED"),
        graph_template("adli", body="Merhaba {{customer_name}}"),
        graph_template(  # a coupon-code button needs a value Omnico does not ask for
            "kupon",
            body="İndirim kodunuz hazır.",
            buttons=[{"type": "COPY_CODE", "example": "INDIRIM25"}],
        ),
    ]
    return fake.whatsapp_templates[WABA]


def test_sync_follows_every_page_and_offers_only_approved_ones(whatsapp, fake, templates):
    count = whatsapp_templates_sync(account=whatsapp)

    assert count == 7
    listing = fake.calls("message_templates")
    assert len(listing) == 4  # pages of two
    assert listing[0].path == f"/{WABA}/message_templates"
    assert listing[0].headers["Authorization"] == "Bearer graph-token"
    assert [call.query.get("after") for call in listing] == [None, "2", "4", "6"]
    offered = whatsapp_templates_offered(channel_account_id=whatsapp.pk)
    assert [(t.name, t.language) for t in offered] == [
        ("adli", "tr"),
        ("fatura", "tr"),
        ("siparis_kargoda", "en"),
        ("siparis_kargoda", "tr"),
    ]
    kargo = next(t for t in offered if t.language == "tr" and t.name == "siparis_kargoda")
    assert kargo.parameter_count == 2
    fatura = next(t for t in offered if t.name == "fatura")
    assert fatura.header_format == "DOCUMENT" and fatura.media_header


def test_sync_again_drops_templates_meta_no_longer_lists(whatsapp, fake, templates):
    whatsapp_templates_sync(account=whatsapp)
    fake.whatsapp_templates[WABA] = [graph_template("yeni")]

    whatsapp_templates_sync(account=whatsapp)

    assert list(WhatsAppTemplate.objects.values_list("name", flat=True)) == ["yeni"]


def test_sync_never_sends_the_token_to_a_paging_link_on_another_host(whatsapp, fake, monkeypatch):
    fake.whatsapp_templates[WABA] = [graph_template("a"), graph_template("b"), graph_template("c")]
    real_answer = fake._meta_window

    def evil(req, parts):
        status, kind, body = real_answer(req, parts)
        return status, kind, body.replace(b"http://127.0.0.1", b"http://evil.example")

    monkeypatch.setattr(fake, "_meta_window", evil)

    assert whatsapp_templates_sync(account=whatsapp) == 2
    assert len(fake.requests) == 1


def test_sync_without_a_waba_id_says_what_is_missing(channel):
    with pytest.raises(TemplateSyncError, match="WhatsApp Business Account id"):
        whatsapp_templates_sync(account=channel("whatsapp"))


def test_sync_shows_the_graph_error(whatsapp, fake):
    fake.graph_error_next({"message": "Invalid OAuth access token.", "code": 190}, status=401)

    with pytest.raises(TemplateSyncError, match="401: Invalid OAuth access token"):
        whatsapp_templates_sync(account=whatsapp)


def test_periodic_task_syncs_accounts_with_a_waba_id(whatsapp, channel, fake, templates):
    tasks.sync_whatsapp_templates.delay()

    assert WhatsAppTemplate.objects.filter(channel_account=whatsapp).count() == 7


def test_admin_action_syncs_the_chosen_account(whatsapp, templates, admin_client):
    response = admin_client.post(
        "/admin/configuration/channelaccount/",
        {"action": "sync_templates", "_selected_action": [whatsapp.pk]},
        follow=True,
    )

    assert "7 message templates synced" in response.content.decode()
    assert WhatsAppTemplate.objects.count() == 7


def test_template_admin_is_a_read_only_list(whatsapp, templates, admin_client):
    whatsapp_templates_sync(account=whatsapp)

    page = admin_client.get("/admin/channels_adapters/whatsapptemplate/")

    assert page.status_code == 200
    assert "siparis_kargoda" in page.content.decode()
    model_admin = site.get_model_admin(WhatsAppTemplate)
    assert not model_admin.has_add_permission(page.wsgi_request)
    assert not model_admin.has_change_permission(page.wsgi_request)


# --- sending ------------------------------------------------------------------------------------


@pytest.fixture
def closed_ticket(whatsapp, templates):
    """A WhatsApp ticket whose customer wrote 2 days ago: its window is closed."""
    whatsapp_templates_sync(account=whatsapp)
    customer = customer_resolve(kind="whatsapp", external_id="905551112233")
    return ticket_receive(
        channel_account=whatsapp,
        customer=customer,
        incoming=Incoming(
            body="Soru", external_id="in-1", sent_at=timezone.now() - timedelta(days=2)
        ),
    ).ticket


def _template(name, language="tr"):
    return WhatsAppTemplate.objects.get(name=name, language=language)


def _send(ticket, capture, template, parameters, header_link=""):
    with capture(execute=True):
        message = template_reply_send(
            ticket=ticket,
            author=make_user(),
            template_id=template.pk,
            values=(
                {f"parameter_{n}": value for n, value in enumerate(parameters, start=1)}
                if isinstance(parameters, list)
                else parameters
            ),
            header_link=header_link,
        )
    message.refresh_from_db()
    return message


def test_template_is_sent_with_its_body_parameters_and_shown_rendered(
    closed_ticket, fake, django_capture_on_commit_callbacks
):
    message = _send(
        closed_ticket,
        django_capture_on_commit_callbacks,
        _template("siparis_kargoda"),
        ["Ayşe", " 4521 "],
    )

    (call,) = fake.calls("messages")
    assert call.path == "/1122334455667/messages"
    assert call.data == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "905551112233",
        "type": "template",
        "template": {
            "name": "siparis_kargoda",
            "language": {"code": "tr"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ayşe"},
                        {"type": "text", "text": "4521"},
                    ],
                }
            ],
        },
    }
    assert message.body == "Merhaba Ayşe, 4521 numaralı siparişiniz yolda."
    assert message.delivery == Message.Delivery.SENT


def test_template_with_a_document_header_sends_its_link(
    closed_ticket, fake, django_capture_on_commit_callbacks
):
    _send(
        closed_ticket,
        django_capture_on_commit_callbacks,
        _template("fatura"),
        ["Ayşe"],
        header_link="https://files.example.com/fatura.pdf",
    )

    (call,) = fake.calls("messages")
    header, body = call.data["template"]["components"]
    assert header == {
        "type": "header",
        "parameters": [
            {"type": "document", "document": {"link": "https://files.example.com/fatura.pdf"}}
        ],
    }
    assert body["parameters"] == [{"type": "text", "text": "Ayşe"}]


def test_template_send_error_shows_metas_code_title_and_details_on_the_failed_message(
    closed_ticket, fake, django_capture_on_commit_callbacks
):
    fake.graph_error_next(
        {
            "message": "(#132001) Template name does not exist in the translation",
            "type": "OAuthException",
            "code": 132001,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "template name (siparis_kargoda) does not exist in tr",
            },
        }
    )

    message = _send(
        closed_ticket, django_capture_on_commit_callbacks, _template("siparis_kargoda"), ["A", "1"]
    )

    assert message.delivery == Message.Delivery.FAILED
    assert message.delivery_error == (
        "HTTP 400: (#132001) Template name does not exist in the translation: "
        "template name (siparis_kargoda) does not exist in tr"
    )


@pytest.mark.parametrize(
    ("parameters", "field", "words"),
    [
        (["Ayşe"], "template", "takes 2 parameters; 1 were given"),
        (["Ayşe", "  "], "parameter_2", "Fill in parameter {{2}}"),
        (["Ayşe", "x" * 1025], "parameter_2", "longer than 1024 characters"),
        (["Ayşe", "a\nb"], "parameter_2", "new line"),
    ],
)
def test_wrong_parameters_are_refused_before_anything_is_sent(
    closed_ticket, fake, django_capture_on_commit_callbacks, parameters, field, words
):
    with pytest.raises(TemplateSendError) as refused:
        _send(
            closed_ticket,
            django_capture_on_commit_callbacks,
            _template("siparis_kargoda"),
            parameters,
        )

    assert words in refused.value.errors[field]
    assert fake.calls("messages") == []
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


@pytest.mark.parametrize("link", ["", "http://files.example.com/f.pdf", "not a link"])
def test_a_media_header_needs_an_https_link(
    closed_ticket, fake, django_capture_on_commit_callbacks, link
):
    with pytest.raises(TemplateSendError) as refused:
        _send(
            closed_ticket,
            django_capture_on_commit_callbacks,
            _template("fatura"),
            ["Ayşe"],
            header_link=link,
        )

    assert "header_link" in refused.value.errors
    assert fake.calls("messages") == []


def test_a_template_not_approved_cannot_be_sent(
    closed_ticket, fake, django_capture_on_commit_callbacks
):
    with pytest.raises(TemplateSendError, match="approved template"):
        _send(closed_ticket, django_capture_on_commit_callbacks, _template("bekleyen"), ["x"])


@pytest.fixture
def rich_templates(whatsapp, fake):
    fake.whatsapp_templates[WABA] = [
        graph_template("adli", body="Merhaba {{customer_name}}, siparişiniz {{order_id}}."),
        graph_template(
            "baslikli",
            body="Siparişiniz {{1}} yola çıktı.",
            header={"format": "TEXT", "text": "Kargo {{1}}"},
            buttons=[
                {"type": "QUICK_REPLY", "text": "Teşekkürler"},
                {"type": "URL", "text": "Takip et", "url": "https://kargo.example.com/t/{{1}}"},
            ],
        ),
        graph_template("magaza", body="Mağazamız sizi bekliyor.", header={"format": "LOCATION"}),
    ]
    whatsapp_templates_sync(account=whatsapp)


def test_named_parameters_are_sent_with_their_names(
    closed_ticket, fake, rich_templates, django_capture_on_commit_callbacks
):
    message = _send(
        closed_ticket,
        django_capture_on_commit_callbacks,
        _template("adli"),
        {"parameter_customer_name": "Ayşe", "parameter_order_id": "4521"},
    )

    (call,) = fake.calls("messages")
    assert call.data["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Ayşe", "parameter_name": "customer_name"},
                {"type": "text", "text": "4521", "parameter_name": "order_id"},
            ],
        }
    ]
    assert message.body == "Merhaba Ayşe, siparişiniz 4521."


def test_header_text_and_link_button_variables_are_sent_and_shown(
    closed_ticket, fake, rich_templates, django_capture_on_commit_callbacks
):
    message = _send(
        closed_ticket,
        django_capture_on_commit_callbacks,
        _template("baslikli"),
        {"header_1": "Yurtiçi", "parameter_1": "4521", "button_1": "TR4521"},
    )

    (call,) = fake.calls("messages")
    assert call.data["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "Yurtiçi"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "4521"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": "TR4521"}],
        },
    ]
    assert message.body == (
        "Kargo Yurtiçi\n\nSiparişiniz 4521 yola çıktı.\n\n"
        "Takip et: https://kargo.example.com/t/TR4521"
    )


def test_a_location_header_is_sent_with_its_place(
    closed_ticket, fake, rich_templates, django_capture_on_commit_callbacks
):
    message = _send(
        closed_ticket,
        django_capture_on_commit_callbacks,
        _template("magaza"),
        {
            "location_latitude": "41.0370",
            "location_longitude": "28.9850",
            "location_name": "Taksim Mağazası",
            "location_address": "",
        },
    )

    (call,) = fake.calls("messages")
    assert call.data["template"]["components"] == [
        {
            "type": "header",
            "parameters": [
                {
                    "type": "location",
                    "location": {
                        "latitude": "41.0370",
                        "longitude": "28.9850",
                        "name": "Taksim Mağazası",
                    },
                }
            ],
        }
    ]
    assert message.body.startswith("📍 Taksim Mağazası (41.0370, 28.9850)")


@pytest.mark.parametrize(
    ("name", "values", "field", "words"),
    [
        (
            "adli",
            {"parameter_customer_name": "Ayşe", "parameter_order_id": " "},
            "parameter_order_id",
            "Fill in parameter {{order_id}}",
        ),
        (
            "baslikli",
            {"header_1": "", "parameter_1": "1", "button_1": "a"},
            "header_1",
            "header's parameter",
        ),
        (
            "baslikli",
            {"header_1": "x", "parameter_1": "1", "button_1": "a b"},
            "button_1",
            "may not contain spaces",
        ),
        ("baslikli", {"header_1": "x", "parameter_1": "1", "button_1": ""}, "button_1", "Takip et"),
        (
            "magaza",
            {
                "location_latitude": "95",
                "location_longitude": "28",
                "location_name": "",
                "location_address": "",
            },
            "location_latitude",
            "-90 to 90",
        ),
        (
            "magaza",
            {
                "location_latitude": "41",
                "location_longitude": "doğu",
                "location_name": "",
                "location_address": "",
            },
            "location_longitude",
            "-180 to 180",
        ),
    ],
)
def test_wrong_header_button_and_location_values_are_refused(
    closed_ticket,
    fake,
    rich_templates,
    django_capture_on_commit_callbacks,
    name,
    values,
    field,
    words,
):
    with pytest.raises(TemplateSendError) as refused:
        _send(closed_ticket, django_capture_on_commit_callbacks, _template(name), values)

    assert words in refused.value.errors[field]
    assert fake.calls("messages") == []


def test_a_template_reply_queued_before_components_were_stored_still_goes_out_whole():
    from channels_adapters.whatsapp.payloads import template_payload

    stored = {
        "name": "fatura",
        "language": "tr",
        "parameters": ["Ayşe"],
        "header_format": "DOCUMENT",
        "header_link": "https://files.example.com/f.pdf",
    }

    assert template_payload(stored)["template"]["components"] == [
        {
            "type": "header",
            "parameters": [
                {"type": "document", "document": {"link": "https://files.example.com/f.pdf"}}
            ],
        },
        {"type": "body", "parameters": [{"type": "text", "text": "Ayşe"}]},
    ]
