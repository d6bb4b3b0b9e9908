"""The embed snippet on a company's own site, in a real browser: the site (another origin,
``localhost`` on another port: another *site* than the server's ``127.0.0.1``, so the frame is a
third-party one) shows the launcher, the visitor chats inside the frame both ways, Escape
closes it; a site not in the page's allowed origins gets no support page in its frame."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from configuration.models import ChannelAccount, ChannelKind, GroupType, Subject, SupportPage
from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import eventually, open_inbox
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

OPEN = "Chat with Acme Insurance"


def _shop(omnico: str) -> ThreadingHTTPServer:
    """A company's page with the snippet, under a strict CSP of its own that allows only the
    snippet's script and frame (no inline style or script at all)."""
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title></head>"
        f'<body><h1>Our shop</h1><script src="{omnico}/support/help/embed.js" async></script>'
        "</body></html>"
    ).encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'none'; script-src {omnico}; frame-src {omnico}",
            )
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def shops(live) -> Iterator[Callable[[], str]]:
    """``shop()`` → the URL of a new company site, ``http://localhost:<its port>/``."""
    servers: list[ThreadingHTTPServer] = []

    def shop() -> str:
        server = _shop(live)
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}"

    yield shop
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def support(live):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    GroupType.objects.create(name="Allianz", position=1)
    GroupType.objects.create(name="AXA", position=2)
    Subject.objects.create(name="Billing information", position=1)
    return SupportPage.objects.create(
        channel_account=account, company_name="Acme Insurance", colour="#1d4ed8"
    )


def test_the_launcher_opens_the_chat_in_a_frame_on_another_site_and_both_sides_talk(
    live,
    support,
    shops,
    ayla,  # noqa: F811
    new_page,
):
    shop = shops()
    support.embed_origins = shop
    support.save()
    customer = new_page()
    customer.goto(shop + "/")
    launcher = customer.get_by_role("button", name=OPEN)
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    box = launcher.bounding_box()
    assert box is not None and box["x"] > 1100 and box["y"] > 650  # bottom right corner
    assert customer.evaluate("Object.keys(window).filter(k => /omnico/i.test(k))") == []

    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = customer.frame_locator("iframe[title='Support · Acme Insurance']")
    frame.get_by_role("link", name="Allianz").click()
    frame.locator("input[name=name]").fill("Zeynep Kaya")
    frame.locator("form.support-form button[type=submit]").click()
    text = frame.locator("textarea[name=text]")
    text.fill("Hello from your shop")
    text.press("Enter")
    expect(frame.locator("li.entry-in").last).to_contain_text("Delivered")

    ticket = eventually(lambda: Ticket.objects.filter(source="webchat").first())
    assert ticket is not None and ticket.group_type.name == "Allianz"
    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent)
    agent.locator(f"#ticket-row-{ticket.pk} a").first.click()
    expect(agent.locator(f"#conversation-{ticket.pk}")).to_contain_text("Hello from your shop")
    reply = agent.locator("textarea[name=body]").first
    reply.fill("Hi Zeynep, how can I help?")
    reply.press("Enter")
    # The reply arrives over the visitor socket inside the third-party frame.
    expect(frame.locator("li.entry-out").last).to_contain_text("Hi Zeynep, how can I help?")
    assert eventually(lambda: Message.objects.filter(direction="out", delivery="delivered"))

    # Escape inside the frame closes the panel (the frame asks the launcher).
    text.press("Escape")
    expect(customer.locator("iframe")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()
    # Opened again, the conversation is still there (the partitioned cookies).
    launcher.press("Enter")
    expect(frame.locator("li.entry-out")).to_contain_text(["Hi Zeynep, how can I help?"])
    customer.keyboard.press("Escape")
    expect(customer.locator("iframe")).to_be_hidden()


def test_on_a_phone_the_chat_fills_the_screen_and_closes_again(live, support, shops, new_page):
    shop = shops()
    support.embed_origins = shop
    support.save()
    phone = new_page(width=390, height=800)
    phone.goto(shop + "/")
    phone.get_by_role("button", name=OPEN).click()
    frame = phone.locator("iframe")
    expect(frame).to_be_visible()
    dialog = phone.get_by_role("dialog", name="Support · Acme Insurance")
    box = dialog.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 800}
    phone.frame_locator("iframe").get_by_role("link", name="AXA").wait_for()
    phone.get_by_role("button", name="Close the chat").click()
    expect(frame).to_be_hidden()
    expect(phone.get_by_role("button", name=OPEN)).to_be_visible()


def test_a_site_not_in_the_list_gets_no_support_page_in_its_frame(live, support, shops, new_page):
    allowed, foreign = shops(), shops()
    support.embed_origins = allowed
    support.save()
    response = new_page().request.get(live + "/support/help/")
    policy = response.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {allowed}" in policy
    assert foreign not in policy

    visitor = new_page()
    visitor.goto(foreign + "/")
    # Chromium refuses the frame and says why on the console (generous: a busy machine).
    with visitor.expect_console_message(
        lambda message: "frame-ancestors" in message.text, timeout=30_000
    ) as refusal:
        visitor.get_by_role("button", name=OPEN).click()
    assert "violates" in refusal.value.text
    expect(visitor.locator("iframe")).to_be_visible()
    expect(visitor.frame_locator("iframe").get_by_role("link", name="Allianz")).to_have_count(0)
