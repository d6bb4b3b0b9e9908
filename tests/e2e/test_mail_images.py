"""Remote pictures in a mail are not loaded until the agent asks, for that message only;
pictures sent with the mail (``cid:``) always show."""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from configuration.models import ChannelKind
from tests.e2e.conftest import login
from tests.e2e.test_csp import RECORD_VIOLATIONS, _violations
from tests.factories import make_account, make_ticket, make_user
from tickets.models import Attachment, Message

pytestmark = pytest.mark.django_db(transaction=True)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


class Pixels(ThreadingHTTPServer):
    """A loopback image server that counts the requests for its tracking pixel."""

    def __init__(self):
        self.hits = 0
        pixels = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                pixels.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/pixel.png"


@pytest.fixture
def pixels():
    server = Pixels()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _image_shown(locator) -> bool:
    return locator.evaluate("img => img.complete && img.naturalWidth > 0")


def test_remote_images_load_only_after_the_click_and_inline_ones_always_show(
    new_page, live, pixels, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    staff = make_user("sena", staff=True, first_name="Sena")
    account = make_account(ChannelKind.EMAIL)
    ticket = make_ticket(account=account, body="Kargom nerede?")
    message = Message.objects.create(
        ticket=ticket,
        channel_account=account,
        direction="in",
        body="Logo ve takip pikseli",
        body_html=(
            f'<p>Merhaba, logomuz: <img src="cid:logo@shop.example" alt="logo"></p>'
            f'<p><img src="{pixels.url}" alt="pixel" width="1" height="1"></p>'
        ),
        sent_at=timezone.now(),
        meta={"message_id": "img-1@shop.example"},
    )
    logo = Attachment(
        message=message,
        filename="logo.png",
        content_type="image/png",
        size=len(PNG),
        content_id="logo@shop.example",
        is_inline=True,
    )
    logo.file.save("logo.png", ContentFile(PNG), save=True)
    page = new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.add_init_script(RECORD_VIOLATIONS)
    login(page, staff.username)

    page.goto(reverse("ticket-detail", args=[ticket.pk]))

    body = page.locator(f"#mail-body-{message.pk}")
    expect(body.locator(".remote-images")).to_contain_text("Remote images blocked")
    inline = body.locator("img[alt=logo]")
    expect(inline).to_have_attribute("src", reverse("attachment", args=[logo.pk]))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=inline.element_handle()
    )
    assert pixels.url not in page.content()
    assert _violations(page, console) == []
    assert pixels.hits == 0

    body.get_by_text("Load images").click()

    frame = page.frame_locator(f"#mail-body-{message.pk} iframe.mail-frame")
    expect(frame.locator("img[alt=pixel]")).to_have_attribute("src", pixels.url)
    deadline = time.monotonic() + 10
    while pixels.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pixels.hits == 1
    assert _image_shown(frame.locator("img[alt=pixel]"))
    assert _image_shown(frame.locator("img[alt=logo]"))
    # The agent page's own policy was not loosened: nothing on it was blocked either.
    assert page.evaluate("window.__csp") == []
    assert [m for m in console if "Content Security" in m] == []
