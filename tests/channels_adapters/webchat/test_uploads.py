"""The support page's files: type checked by content, size limits, a resend kept once, and a
visitor who can download only their own conversation's files."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from channels_adapters.models import InboundEvent
from channels_adapters.webchat import services as webchat_services
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db

CID = "0b0e2f9c-2222-4c4c-9d9d-000000000001"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def send_file(client: Client, page, name: str, content: bytes, client_id: str = CID, **extra):
    response = client.post(
        f"/support/{page.channel_account.name}/upload/",
        {"client_id": client_id, "file": SimpleUploadedFile(name, content, "image/png")},
        HTTP_ACCEPT="application/json",
        **extra,
    )
    return response


def test_an_image_is_stored_before_it_is_acknowledged_and_the_agent_gets_it(
    client, page, django_capture_on_commit_callbacks
):
    start(client, page, name="Ayşe")
    with django_capture_on_commit_callbacks(execute=True):
        response = send_file(client, page, "photo.png", PNG)
    assert response.status_code == 200 and response.json() == {"state": "delivered"}
    message = Message.objects.get(direction="in")
    attachment = message.attachments.get()
    assert (attachment.filename, attachment.content_type) == ("photo.png", "image/png")
    assert attachment.size == len(PNG)
    assert attachment.file.read() == PNG
    # The agent screen shows it as a picture.
    agent = make_user("ayla", staff=True)
    client_agent = Client()
    client_agent.force_login(agent)
    agent_file = client_agent.get(f"/inbox/attachments/{attachment.pk}/")
    assert agent_file.status_code == 200


def test_the_type_is_judged_by_content_not_by_name(client, page):
    start(client, page)
    response = send_file(client, page, "invoice.png", b"<html><script>alert(1)</script></html>")
    assert response.status_code == 400
    assert "cannot be sent" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_svg_is_refused_even_named_as_text(client, page):
    start(client, page)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert send_file(client, page, "logo.svg", svg).status_code == 400
    assert send_file(client, page, "logo.txt.svg", svg).status_code == 400
    assert not InboundEvent.objects.exists()


def test_text_and_pdf_files_are_taken(client, page, django_capture_on_commit_callbacks):
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_file(client, page, "notes.txt", "Merhaba dünya\n".encode()).status_code == 200
        pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
        other = "0b0e2f9c-2222-4c4c-9d9d-000000000002"
        assert send_file(client, page, "form.pdf", pdf, client_id=other).status_code == 200
    assert sorted(Attachment.objects.values_list("content_type", flat=True)) == [
        "application/pdf",
        "text/plain",
    ]


def test_a_file_over_the_limit_is_refused_with_a_clear_error(client, page, settings):
    settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES = 2048
    start(client, page)
    response = send_file(client, page, "big.png", PNG + b"\x00" * 4096)
    assert response.status_code == 413  # reading stopped at the limit
    assert "too big" in response.json()["error"] and "2.0" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(client, page, settings):
    settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES = 2048
    start(client, page)
    response = send_file(client, page, "huge.png", PNG + b"\x00" * 200_000)
    assert response.status_code == 413
    assert "too big" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_the_error_is_in_turkish_for_a_turkish_visitor(client, page):
    start(client, page)
    response = send_file(
        client, page, "a.png", b"MZ\x90\x00 not allowed", HTTP_ACCEPT_LANGUAGE="tr"
    )
    assert response.status_code == 400
    assert "gönderilemez" in response.json()["error"]


def test_a_resend_with_the_same_client_id_keeps_one_message_and_one_file(
    client, page, media, django_capture_on_commit_callbacks
):
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_file(client, page, "photo.png", PNG).status_code == 200
        assert send_file(client, page, "photo.png", PNG).status_code == 200  # a retry
    assert InboundEvent.objects.count() == 1
    assert Message.objects.filter(direction="in").count() == 1
    assert Attachment.objects.count() == 1
    assert len([p for p in media.rglob("*") if p.is_file()]) == 1


def test_the_upload_needs_csrf_and_a_started_chat(page):
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = start(Client(), page).cookies
    assert send_file(strict, page, "photo.png", PNG).status_code == 403
    assert send_file(Client(), page, "photo.png", PNG).status_code == 403  # no visitor
    assert not InboundEvent.objects.exists()


def test_a_forged_event_cannot_attach_another_visitors_file(page):
    from channels_adapters.base import InboundError
    from channels_adapters.webchat.adapter import validate

    data = {
        "id": CID,
        "visitor": "a" * 24,
        "text": "",
        "file": {
            "name": f"webchat/{page.channel_account_id}/{'b' * 24}/x/p.png",
            "filename": "p.png",
            "type": "image/png",
        },
    }
    with pytest.raises(InboundError):
        validate(data, account_id=page.channel_account_id)


def test_the_visitor_sees_and_downloads_their_image_served_safely(
    client, page, django_capture_on_commit_callbacks
):
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        send_file(client, page, "photo.png", PNG)
    attachment = Attachment.objects.get()
    html = client.get("/support/help/history/").content.decode()
    assert f'src="/support/files/{attachment.pk}/"' in html
    response = client.get(f"/support/files/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == PNG


def test_a_document_downloads_and_is_never_rendered(
    client, page, django_capture_on_commit_callbacks
):
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        send_file(client, page, "notes.txt", b"hello")
    attachment = Attachment.objects.get()
    response = client.get(f"/support/files/{attachment.pk}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")


def test_another_visitor_gets_404_for_the_file(page, django_capture_on_commit_callbacks):
    one = start(Client(), page)
    with django_capture_on_commit_callbacks(execute=True):
        send_file(one, page, "photo.png", PNG)
    attachment = Attachment.objects.get()
    other = start(Client(), page)
    assert other.get(f"/support/files/{attachment.pk}/").status_code == 404
    assert Client().get(f"/support/files/{attachment.pk}/").status_code == 404


def test_an_internal_notes_file_is_never_served_to_the_visitor(
    client, page, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from tickets.services import message_add_outbound

    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hi", "0b0e2f9c-2222-4c4c-9d9d-000000000009")
    note = message_add_outbound(
        ticket=Ticket.objects.get(), author=make_user(), body="note", note=True
    )
    secret = Attachment(message=note, filename="s.png", content_type="image/png")
    secret.file.save("s.png", ContentFile(PNG))
    assert client.get(f"/support/files/{secret.pk}/").status_code == 404


def test_an_agents_reply_file_is_shown_to_the_visitor(
    client, page, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from tickets.services import message_add_outbound

    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hi", "0b0e2f9c-2222-4c4c-9d9d-000000000009")
    reply = message_add_outbound(ticket=Ticket.objects.get(), author=make_user(), body="here")
    shared = Attachment(message=reply, filename="guide.pdf", content_type="application/pdf")
    shared.file.save("guide.pdf", ContentFile(b"%PDF-1.4"))
    html = client.get("/support/help/history/").content.decode()
    assert f'href="/support/files/{shared.pk}/"' in html and "guide.pdf" in html
    assert client.get(f"/support/files/{shared.pk}/").status_code == 200


def test_the_too_big_message_names_the_limit():
    assert "10.0" in webchat_services.upload_too_big_message()


def test_a_reply_pushed_to_the_visitors_socket_carries_its_file(
    client, page, django_capture_on_commit_callbacks
):
    import json

    from django.core.files.base import ContentFile

    from channels_adapters.webchat.realtime import render_reply
    from tickets.services import message_add_outbound

    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hi", "0b0e2f9c-2222-4c4c-9d9d-000000000009")
    reply = message_add_outbound(ticket=Ticket.objects.get(), author=make_user(), body="look")
    shared = Attachment(message=reply, filename="map.png", content_type="image/png")
    shared.file.save("map.png", ContentFile(PNG))
    frame = json.loads(render_reply({"message_id": reply.pk}, "en"))
    assert f'src="/support/files/{shared.pk}/"' in frame["html"]


def test_a_file_not_ingested_yet_is_shown_by_name_without_a_link(client, page):
    start(client, page)
    assert send_file(client, page, "photo.png", PNG).status_code == 200  # no worker ran yet
    html = client.get("/support/help/history/").content.decode()
    assert '<span class="entry-file">photo.png</span>' in html
    assert "/support/files/" not in html
