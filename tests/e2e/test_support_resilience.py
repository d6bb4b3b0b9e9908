"""The support page's chat when things go wrong, in a real browser: a send that fails is shown
failed and a retry delivers it exactly once; a dropped connection says "Reconnecting…" and,
once back, shows the reply written meanwhile without a reload; a closed tab reopened shows the
whole conversation; and a picture the visitor attaches reaches the agent's screen live."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import expect

from channels_adapters.models import InboundEvent
from channels_adapters.services import reply_send
from tests.e2e.conftest import login, off_loop
from tests.e2e.test_agent_screen import eventually, open_inbox
from tests.e2e.test_support_page import support, visitor_opens_the_chat  # noqa: F401
from tickets.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

#: Keeps the page's sockets in ``window.__sockets``; while ``window.__down`` is true, every
#: new socket goes to a closed port (the network is down for this page only).
DROPPABLE_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__down = false;
  window.__noReload = true;
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      super(window.__down ? "ws://127.0.0.1:9/" : url, ...rest);
      window.__sockets.push(this);
    }
  };
})();
"""


def first_message(customer, text: str) -> Ticket:
    box = customer.locator("textarea[name=text]")
    box.fill(text)
    box.press("Enter")
    expect(customer.locator("li.entry-in").last).to_contain_text("Delivered")
    ticket = eventually(lambda: Ticket.objects.filter(source="webchat").first())
    assert ticket is not None
    return ticket


def png(width: int = 4, height: int = 4) -> bytes:
    """A real (tiny, red) PNG, so the browser can draw it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_a_failed_send_shows_failed_and_a_retry_delivers_it_exactly_once(
    live,
    support,  # noqa: F811
    ayla,  # noqa: F811
    new_page,
):
    customer = new_page(width=390, height=800)
    visitor_opens_the_chat(customer)
    # The chat is under way (its ticket open, the agent joined), so nothing else refreshes
    # the page while the second message fails.
    first_message(customer, "Hello")
    expect(customer.locator("li.entry-system").last).to_contain_text("Ayla Demir joined")
    calls = {"n": 0}

    def lose_the_answer(route):
        # 1st try: the request never leaves the browser. 2nd try: it is stored by the server
        # but the answer is lost on the way back. The page cannot tell the two apart.
        calls["n"] += 1
        if calls["n"] == 1:
            route.abort()
        elif calls["n"] == 2:
            route.fetch()
            route.abort()
        else:
            route.continue_()

    customer.route("**/support/help/messages/", lose_the_answer)
    box = customer.locator("textarea[name=text]")
    box.fill("My card was charged twice")
    box.press("Enter")
    mine = customer.locator("li.entry-in").last
    expect(mine).to_contain_text("Not sent")
    retry = mine.get_by_role("button", name="Retry")
    retry.click()
    expect(mine).to_contain_text("Not sent")
    assert eventually(lambda: Message.objects.filter(direction="in").count() == 2)
    mine.get_by_role("button", name="Retry").click()
    expect(mine).to_contain_text("Delivered")
    expect(mine.get_by_role("button", name="Retry")).to_have_count(0)
    assert calls["n"] == 3
    assert Message.objects.filter(direction="in", body="My card was charged twice").count() == 1
    assert InboundEvent.objects.count() == 2

    customer.reload()
    expect(customer.locator("li.entry-in")).to_have_count(2)


def test_a_dropped_connection_says_reconnecting_and_then_shows_the_missed_reply(
    live,
    support,  # noqa: F811
    ayla,  # noqa: F811
    new_page,
):
    customer = new_page(width=390, height=800)
    customer.add_init_script(DROPPABLE_SOCKETS)
    visitor_opens_the_chat(customer)
    ticket = first_message(customer, "Where is my refund?")
    status = customer.locator("[data-connection]")
    expect(status).to_be_hidden()

    customer.evaluate("window.__down = true; window.__sockets.at(-1).close()")
    expect(status).to_be_visible()
    expect(status).to_have_text("Reconnecting…")
    off_loop(reply_send, ticket=ticket, author=ayla, body="It left us yesterday.")
    assert eventually(lambda: Message.objects.filter(direction="out", delivery="sent").exists())
    expect(customer.locator("li.entry-out")).to_have_count(0)  # the page is cut off

    customer.evaluate("window.__down = false")
    expect(customer.locator("li.entry-out")).to_contain_text(["It left us yesterday."])
    expect(status).to_be_hidden()
    assert customer.evaluate("window.__noReload === true"), "the page was reloaded"
    assert eventually(
        lambda: Message.objects.filter(direction="out", delivery="delivered").exists()
    ), "the page showed the reply but it was not marked delivered"


def test_a_closed_tab_reopened_shows_the_whole_conversation(
    live,
    support,  # noqa: F811
    ayla,  # noqa: F811
    new_page,
):
    customer = new_page(width=390, height=800)
    visitor_opens_the_chat(customer)
    ticket = first_message(customer, "Can I change my plan?")
    context = customer.context
    customer.close()

    off_loop(reply_send, ticket=ticket, author=ayla, body="Yes, from your account page.")
    assert eventually(lambda: Message.objects.filter(direction="out", delivery="sent").exists())

    again = context.new_page()
    again.goto("/support/help/")
    expect(again.locator("li.entry-in")).to_contain_text(["Can I change my plan?"])
    expect(again.locator("li.entry-out")).to_contain_text(["Yes, from your account page."])
    expect(again.locator("li.entry-system")).to_contain_text(["Ayla Demir joined the chat."])


def test_the_visitor_attaches_a_picture_and_the_agent_sees_it_live(
    live,
    support,  # noqa: F811
    ayla,  # noqa: F811
    new_page,
):
    customer = new_page(width=390, height=800)
    visitor_opens_the_chat(customer)
    ticket = first_message(customer, "The damage is in the photo")

    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent)
    agent.locator(f"#ticket-row-{ticket.pk} a").first.click()
    conversation = agent.locator(f"#conversation-{ticket.pk}")
    expect(conversation).to_contain_text("The damage is in the photo")

    customer.get_by_label("Attach a file").set_input_files(
        {"name": "damage.png", "mimeType": "image/png", "buffer": png()}
    )
    mine = customer.locator("li.entry-in").last
    expect(mine.locator("img.entry-image")).to_have_attribute("alt", "damage.png")
    expect(mine).to_contain_text("Delivered")
    # The browser drew the picture: it was served to the visitor as an image (waited for: the
    # entry shows before the picture has loaded).
    customer.wait_for_function(
        "() => { const i = document.querySelector('img.entry-image');"
        " return i && i.complete && i.naturalWidth === 4; }",
        timeout=10_000,
    )
    picture = conversation.locator("img.attachment-image")
    expect(picture).to_have_attribute("alt", "damage.png")
    assert Attachment.objects.get().filename == "damage.png"

    # A file of a type the page does not take: a clear error next to the composer.
    customer.get_by_label("Attach a file").set_input_files(
        {"name": "setup.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00 a program"}
    )
    expect(customer.locator("[data-composer-error]")).to_contain_text(
        "This type of file cannot be sent"
    )
    assert Attachment.objects.count() == 1
