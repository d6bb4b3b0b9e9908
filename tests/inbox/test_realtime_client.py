"""static/js/live.js in Debian's Chromium, with the websocket replaced by a stub the test drives.

No server: the page is htmx + live.js and a small inbox/conversation DOM following the agreed
ids; each test feeds frames as the consumer sends them and looks at the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from tests.browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")

#: A WebSocket stand-in: window.sockets lists every one opened; the test pushes frames.
STUB = """
window.sockets = [];
class StubSocket {
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; window.sockets.push(this);
    setTimeout(() => { this.readyState = 1; this.onopen && this.onopen({}); }, 0); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() {}
  push(text) { this.onmessage && this.onmessage({data: text}); }
  drop(code) { this.readyState = 3; this.onclose && this.onclose({code: code}); }
}
StubSocket.OPEN = 1;
window.WebSocket = StubSocket;
"""

PAGE = """<!doctype html><html lang="{language}"><head>{labels}</head><body>
<header class="topbar"><div class="topbar-right"></div></header>
<div id="toasts"></div>
<ul id="inbox-list" data-live-filter='{"tab": "mine"}'>
  <li id="ticket-row-30" data-sort="3000.30">thirty</li>
  <li id="ticket-row-10" data-sort="1000.10">ten</li>
</ul>
<ol id="conversation-5"><li id="message-1">first</li></ol>
</body></html>"""


def row(ticket: int, sort: str, assignee: str, text: str, status: str = "open") -> str:
    return (
        f'<template data-live="row" data-ticket="{ticket}" data-sort-recent="{sort}" '
        f'data-assignee="{assignee}" data-status="{status}" data-source="telegram" '
        f'data-department="" data-active="1" data-slot="1" data-created="0">'
        f'<li id="ticket-row-{ticket}">{text}</li></template>'
    )


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def page_html(language: str = "en") -> str:
    """The test page, with the indicator's labels as base.html renders them in ``language``."""
    with translation.override(language):
        labels = render_to_string("inbox/fragments/live_labels.html")
    return PAGE.replace("{language}", language).replace("{labels}", labels)


@pytest.fixture
def page(browser):
    yield from open_page(browser, "en")


def open_page(browser, language: str):
    page = browser.new_page()
    page.set_content(page_html(language))
    page.add_script_tag(content=STUB)
    page.add_script_tag(path=str(ROOT / "static" / "vendor" / "htmx.min.js"))
    page.evaluate(
        """() => { window.resyncs = [];
        document.addEventListener('resync', e => window.resyncs.push(e.target.id)); }"""
    )
    page.add_script_tag(path=str(ROOT / "static" / "js" / "live.js"))
    page.wait_for_function("window.sockets.length === 1 && window.sockets[0].readyState === 1")
    push(page, '<template data-live="hello" data-user="7"></template>')
    yield page
    page.close()


def push(page, text: str) -> None:
    page.evaluate("t => window.sockets[window.sockets.length - 1].push(t)", text)


def row_ids(page) -> list[str]:
    return page.eval_on_selector_all("#inbox-list > li", "els => els.map(e => e.id)")


def test_page_watches_the_ticket_it_shows_and_says_it_is_live(page):
    assert page.evaluate("window.sockets[0].sent") == [{"action": "watch", "ticket": 5}]
    assert page.evaluate("window.sockets[0].url").endswith("/ws/agent/")
    assert "Live" in page.inner_text("#live-status")


def test_a_row_of_mine_is_placed_by_its_last_message_time(page):
    push(page, row(20, "2000.20", "7", "twenty"))
    assert row_ids(page) == ["ticket-row-30", "ticket-row-20", "ticket-row-10"]
    push(page, row(10, "4000.10", "7", "ten, new message"))
    assert row_ids(page) == ["ticket-row-10", "ticket-row-30", "ticket-row-20"]
    assert page.inner_text("#ticket-row-10") == "ten, new message"


def test_a_row_taken_by_another_agent_leaves_my_tab(page):
    push(page, row(30, "3000.30", "8", "thirty"))
    assert row_ids(page) == ["ticket-row-10"]
    push(page, row(40, "5000.40", "", "not mine"))
    assert row_ids(page) == ["ticket-row-10"]


def test_a_resolved_ticket_leaves_the_inbox(page):
    push(
        page,
        '<template data-live="row" data-ticket="10" data-sort-recent="1000.10" '
        'data-assignee="7" data-status="resolved" data-active="0" data-slot="0" '
        'data-source="telegram" data-department=""><li id="ticket-row-10">x</li></template>',
    )
    assert row_ids(page) == ["ticket-row-30"]


def test_a_search_result_list_re_syncs_instead_of_guessing(page):
    page.evaluate(
        """() => document.getElementById('inbox-list')
        .setAttribute('data-live-filter', '{"tab": "all", "q": "kargo"}')"""
    )
    push(page, row(50, "9000.50", "7", "fifty"))
    page.wait_for_function("window.resyncs.includes('inbox-list')")
    assert "ticket-row-50" not in row_ids(page)


def test_a_new_message_is_appended_and_a_delivery_change_replaces_it(page):
    push(
        page,
        '<template data-live="message" data-ticket="5" data-message="2">'
        '<li id="message-2">reply · pending</li></template>',
    )
    push(
        page,
        '<template data-live="message" data-ticket="5" data-message="2">'
        '<li id="message-2">reply · failed</li></template>',
    )
    texts = page.eval_on_selector_all("#conversation-5 > li", "els => els.map(e => e.textContent)")
    assert texts == ["first", "reply · failed"]


def test_a_pushed_toast_shows_in_the_corner(page):
    push(page, '<template data-live="toast"><div class="toast">Assigned</div></template>')
    assert page.inner_text("#toasts") == "Assigned"


def test_a_dropped_socket_reconnects_and_re_syncs_what_it_missed(page):
    page.evaluate("window.sockets[0].drop(1006)")
    assert "Reconnecting" in page.inner_text("#live-status")
    page.wait_for_function("window.sockets.length === 2", timeout=5000)
    page.wait_for_function("window.sockets[1].sent.length > 0", timeout=5000)
    assert page.evaluate("window.sockets[1].sent") == [{"action": "watch", "ticket": 5}]
    page.wait_for_function(
        "window.resyncs.includes('inbox-list') && window.resyncs.includes('conversation-5')"
    )
    assert "Live" in page.inner_text("#live-status")


def test_an_ended_session_stops_reconnecting(page):
    page.evaluate("window.sockets[0].drop(4401)")
    page.wait_for_timeout(1200)
    assert page.evaluate("window.sockets.length") == 1
    assert "Signed out" in page.inner_text("#live-status")


@pytest.fixture
def turkish_page(browser):
    yield from open_page(browser, "tr")


def test_the_connection_indicator_speaks_the_language_the_page_is_in(turkish_page):
    assert turkish_page.inner_text("#live-status") == "\u25cf Canlı"
    turkish_page.evaluate("window.sockets[0].drop(1006)")
    assert "Yeniden bağlanıyor" in turkish_page.inner_text("#live-status")


def test_live_js_writes_no_visible_text_of_its_own():
    script = (ROOT / "static" / "js" / "live.js").read_text()
    for words in ("Canlı", "Bağlanıyor", "Live", "Connecting", "Reconnecting", "Signed out"):
        assert f'"{words}' not in script
