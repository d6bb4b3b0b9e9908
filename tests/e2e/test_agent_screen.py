"""The agent screen in a real browser: a customer's message arrives by webhook, the agent sees it
without reloading, answers it, works the ticket, and a second agent sees it all live."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from configuration.models import ActivityCategory
from tests.e2e.conftest import HOOK_SECRET, login, off_loop
from tests.factories import make_user
from tickets.models import Message, Ticket
from tickets.routing import agent_go_active

pytestmark = pytest.mark.django_db(transaction=True)

#: Wraps window.WebSocket so a test can wait until the page's live socket has joined its groups
#: (the server's "hello" envelope) and the open ticket's group ("watching"), and can keep the
#: page offline (``window.__blockSockets``: new sockets go to a path of this site that has no
#: websocket route, so they fail; another port would be another origin, which the page's
#: Content-Security-Policy refuses before any connection is tried).
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__hello = 0;
  window.__watching = null;
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      super(window.__blockSockets ? url.replace("/ws/agent/", "/ws/offline/") : url, ...rest);
      window.__sockets.push(this);
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        if (event.data.includes('data-live="hello"')) window.__hello += 1;
        const watching = event.data.match(/data-live="watching" data-ticket="(\\d*)"/);
        if (watching) window.__watching = watching[1];
      });
    }
  };
})();
"""


def wait_live(page) -> None:
    """Until the page's websocket is open and in the agents' groups."""
    page.wait_for_function("() => window.__hello > 0")


def wait_watching(page, ticket_id: int) -> None:
    """Until the page's websocket is in the group of the ticket it shows."""
    page.wait_for_function(f"() => window.__watching === '{ticket_id}'")


def open_inbox(page, path: str = "/inbox/") -> None:
    page.add_init_script(TRACK_SOCKETS)
    page.goto(path)
    wait_live(page)
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"


_update_ids = iter(range(9000, 10**6))


def customer_writes(base_url: str, account, *, chat_id: int, name: str, text: str) -> None:
    """The customer's message, as Telegram posts it to the webhook (secret header included)."""
    update_id = next(_update_ids)
    first, _, last = name.partition(" ")
    body = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first},
            "from": {"id": chat_id, "is_bot": False, "first_name": first, "last_name": last},
            "text": text,
        },
    }
    response = httpx.post(
        f"{base_url}/hooks/telegram/{account.name}/",
        content=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def shot(page, name: str) -> None:
    """Keep a screenshot for a human when OMNICO_E2E_SCREENSHOTS names a directory."""
    if out := os.environ.get("OMNICO_E2E_SCREENSHOTS"):
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"))


def eventually(check, timeout: float = 10.0):
    """Poll the database (committed by the server's threads) until ``check()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def activity_categories(live):
    question = ActivityCategory.objects.create(name="Question", position=1)
    ActivityCategory.objects.create(name="Order status", parent=question, position=1)
    ActivityCategory.objects.create(name="Incident", position=2)


@pytest.fixture
def burak(live):
    """A second agent, not taking new tickets (so new ones go to Ayla)."""
    return make_user("burak", first_name="Burak", last_name="Şahin")


def test_customer_message_appears_in_the_inbox_without_reload(live, telegram, ayla, new_page):
    page = new_page()
    login(page, "ayla")
    open_inbox(page)

    customer_writes(live, telegram, chat_id=777001, name="Zeynep Kaya", text="Kargom nerede?")

    ticket = eventually(lambda: Ticket.objects.filter(customer__name__contains="Zeynep").first())
    assert ticket is not None
    row = page.locator(f"#ticket-row-{ticket.pk}")
    expect(row).to_contain_text("Zeynep")
    expect(row).to_contain_text("Kargom nerede?")
    assert_not_reloaded(page)

    # A second message from the same customer updates the same row, still without reload.
    customer_writes(live, telegram, chat_id=777001, name="Zeynep Kaya", text="Acil lütfen")
    expect(row).to_contain_text("Acil lütfen")
    expect(page.locator("#inbox-list [id^=ticket-row-]")).to_have_count(1)
    assert_not_reloaded(page)


def test_after_a_dropped_socket_the_list_catches_up_with_what_it_missed(
    live, telegram, ayla, new_page
):
    page = new_page()
    login(page, "ayla")
    open_inbox(page)
    page.evaluate("window.__blockSockets = true; window.__sockets.forEach((s) => s.close())")
    expect(page.get_by_role("status").filter(has_text=re.compile("connect", re.I))).to_be_visible()

    customer_writes(live, telegram, chat_id=777005, name="Deniz Ak", text="Beni duyan var mı?")
    ticket = eventually(lambda: Ticket.objects.first())
    assert ticket is not None
    page.wait_for_timeout(300)
    expect(page.locator(f"#ticket-row-{ticket.pk}")).to_have_count(0)  # offline: nothing came

    page.evaluate("window.__blockSockets = false")
    page.wait_for_function("() => window.__hello >= 2", timeout=20_000)  # reconnected
    expect(page.locator(f"#ticket-row-{ticket.pk}")).to_contain_text("Beni duyan var mı?")
    assert_not_reloaded(page)


def test_agent_opens_ticket_replies_with_enter_and_sees_delivery_state(
    live, telegram, fake_provider, ayla, new_page
):
    customer_writes(live, telegram, chat_id=777002, name="Mert Aydın", text="Fatura lazım")
    ticket = eventually(lambda: Ticket.objects.first())
    page = new_page()
    login(page, "ayla")
    open_inbox(page)

    page.locator(f"#ticket-row-{ticket.pk} a").first.click()
    conversation = page.locator(f"#conversation-{ticket.pk}")
    expect(conversation).to_contain_text("Fatura lazım")

    fake_provider.delay = 1.5  # the Bot API answers slowly: the reply is pending meanwhile
    box = page.locator("textarea[name=body]").first
    box.fill("Hemen gönderiyorum.")
    box.press("Shift+Enter")
    box.type("İyi günler")
    box.press("Enter")

    reply = eventually(lambda: Message.objects.filter(direction="out").first())
    assert reply is not None, "Enter did not send the reply"
    page.wait_for_timeout(300)
    assert Message.objects.filter(direction="out").count() == 1, "Enter sent it twice"
    assert reply.body == "Hemen gönderiyorum.\nİyi günler"
    bubble = page.locator(f"#message-{reply.pk}")
    expect(bubble).to_contain_text("Hemen gönderiyorum.")
    expect(bubble).to_contain_text(re.compile("pending", re.I))
    expect(bubble).to_contain_text(re.compile(r"\bsent\b", re.I))
    # The reply's own answer and the socket both bring the message: it shows once.
    expect(bubble).to_have_count(1)
    expect(conversation.locator(".msg-out")).to_have_count(1)
    expect(box).to_have_value("")  # the box is emptied for the next reply
    assert fake_provider.calls("sendMessage")[0].data["text"] == reply.body
    assert_not_reloaded(page)


def _panel(page, ticket_id: int):
    return page.locator(f"#panel-{ticket_id}")


def settle(page) -> None:
    """Until htmx has no request or swap under way (after the live refresh's 150 ms debounce)."""
    page.wait_for_timeout(250)
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _choose(panel, name: str, value: str) -> None:
    """Pick a value in one of the panel's inline-edit selects (saved at once, by htmx)."""
    panel.locator(f"select[name={name}]").select_option(value)
    settle(panel.page)


def _add_tag(panel, name: str) -> None:
    box = panel.locator("[data-tag-input]")
    box.fill(name)
    box.press("Enter")
    expect(panel.locator(".tag-list")).to_contain_text(name)
    settle(panel.page)


def test_agent_edits_priority_status_tags_and_works_an_activity(
    live, telegram, ayla, new_page, activity_categories
):
    customer_writes(live, telegram, chat_id=777003, name="Elif Şahin", text="İade istiyorum")
    ticket = eventually(lambda: Ticket.objects.first())
    page = new_page()
    login(page, "ayla")
    open_inbox(page, f"/inbox/{ticket.pk}/")
    wait_watching(page, ticket.pk)
    panel = _panel(page, ticket.pk)

    _choose(panel, "priority", "urgent")
    assert eventually(lambda: Ticket.objects.get(pk=ticket.pk).priority == "urgent")
    expect(page.locator(f"#ticket-row-{ticket.pk}")).to_contain_text(re.compile("urgent", re.I))

    _choose(panel, "status", "waiting_on_customer")
    assert eventually(lambda: Ticket.objects.get(pk=ticket.pk).status == "waiting_on_customer")

    _add_tag(panel, "iade")
    _add_tag(panel, "vip")
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["iade", "vip"]
    panel.get_by_role("button", name="Remove tag vip").click()
    expect(panel.locator(".tag-list")).not_to_contain_text("vip")
    assert eventually(lambda: list(ticket.tags.values_list("name", flat=True)) == ["iade"])
    settle(page)

    # An activity: call reason and category, call timer started and stopped.
    panel.locator("details.add-activity summary").click()
    panel.locator("input[name=call_reason]").fill("Ürün iadesi")
    panel.locator("select[name=category]").select_option(label="Question")
    settle(page)  # the subcategories of "Question" are fetched
    panel.locator("select[name=subcategory]").select_option(label="Order status")
    panel.locator("input[name=call_reason]").press("Enter")
    activity = eventually(lambda: ticket.activities.first())
    assert activity is not None
    assert (activity.category.name, activity.subcategory.name) == ("Question", "Order status")
    row = panel.locator(f"#activity-{activity.pk}")
    expect(row).to_contain_text("Ürün iadesi")
    settle(page)
    row.get_by_role("button", name=re.compile("start", re.I)).click()
    expect(row.locator(".call-timer.is-running")).to_be_visible()
    assert ticket.activities.get().call_started_at is not None
    settle(page)
    row.get_by_role("button", name=re.compile("stop", re.I)).click()
    expect(row.locator(".call-timer.is-running")).to_have_count(0)
    assert eventually(lambda: ticket.activities.get().call_ended_at is not None)
    settle(page)

    # The rule: resolving with an activity not done shows the message; the status stays.
    _choose(panel, "status", "resolved")
    expect(page.locator("#toasts")).to_contain_text("Mark every activity done first")
    assert Ticket.objects.get(pk=ticket.pk).status == "waiting_on_customer"
    expect(panel.locator("select[name=status]")).to_have_value("waiting_on_customer")

    settle(page)
    row.get_by_role("button", name=re.compile("done", re.I)).click()
    assert eventually(lambda: ticket.activities.get().status == "done")
    settle(page)
    _choose(panel, "status", "resolved")
    assert eventually(lambda: Ticket.objects.get(pk=ticket.pk).status == "resolved")
    assert_not_reloaded(page)


def test_two_agents_see_each_others_changes_live(live, telegram, ayla, burak, new_page):
    customer_writes(live, telegram, chat_id=777004, name="Can Yıldız", text="Şifremi unuttum")
    ticket = eventually(lambda: Ticket.objects.first())
    pages = {}
    for name in ("ayla", "burak"):
        page = new_page()
        login(page, name)
        open_inbox(page, f"/inbox/{ticket.pk}/?tab=all")
        wait_watching(page, ticket.pk)
        pages[name] = page
    a, b = pages["ayla"], pages["burak"]
    assert ticket.assignee_id == ayla.pk  # routed to the one active agent
    expect(b.locator(f"#ticket-row-{ticket.pk}")).to_contain_text("Ayla")

    # Ayla hands the ticket to Burak: his list row and panel say it is his. (A hand-over goes
    # only to an agent who takes tickets now: Burak goes active first.)
    off_loop(agent_go_active, user=burak)
    _choose(_panel(a, ticket.pk), "assignee", str(burak.pk))
    assert eventually(lambda: Ticket.objects.get(pk=ticket.pk).assignee_id == burak.pk)
    expect(b.locator(f"#ticket-row-{ticket.pk}")).to_contain_text("Burak")
    expect(_panel(b, ticket.pk).locator("select[name=assignee]")).to_have_value(str(burak.pk))

    # Ayla raises the priority and tags it: Burak's panel follows.
    _choose(_panel(a, ticket.pk), "priority", "high")
    expect(_panel(b, ticket.pk).locator("select[name=priority]")).to_have_value("high")
    _add_tag(_panel(a, ticket.pk), "şifre")
    expect(_panel(b, ticket.pk).locator(".tag-list")).to_contain_text("şifre")

    # Ayla replies: the reply shows in Burak's conversation; the customer's answer in both.
    box = a.locator("[data-reply-body]").first
    box.fill("Sıfırlama bağlantısı gönderdim.")
    box.press("Enter")
    expect(b.locator(f"#conversation-{ticket.pk}")).to_contain_text("Sıfırlama bağlantısı")
    customer_writes(live, telegram, chat_id=777004, name="Can Yıldız", text="Geldi, teşekkürler")
    for page in (a, b):
        expect(page.locator(f"#conversation-{ticket.pk}")).to_contain_text("Geldi, teşekkürler")
        assert_not_reloaded(page)


def test_keyboard_j_k_move_in_the_inbox_r_focuses_the_reply_e_resolves(
    live, telegram, ayla, new_page
):
    for chat_id, name in ((777011, "Ali Veli"), (777012, "Banu Cem"), (777013, "Cem Dal")):
        customer_writes(live, telegram, chat_id=chat_id, name=name, text=f"Merhaba, ben {name}")
    assert eventually(lambda: Ticket.objects.count() == 3)
    page = new_page()
    login(page, "ayla")
    open_inbox(page)
    rows = page.locator("#inbox-list [id^=ticket-row-]")
    expect(rows).to_have_count(3)
    ids = [row.get_attribute("id").removeprefix("ticket-row-") for row in rows.all()]

    page.keyboard.press("j")
    expect(page.locator(f"#conversation-{ids[0]}")).to_be_visible()
    page.keyboard.press("j")
    expect(page.locator(f"#conversation-{ids[1]}")).to_be_visible()
    expect(page.locator(f"#ticket-row-{ids[1]}")).to_have_class(re.compile("is-selected"))
    focused_row = page.evaluate("document.activeElement.closest('[id^=ticket-row-]')?.id")
    assert focused_row == f"ticket-row-{ids[1]}"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the selected row shows no focus ring"
    shot(page, "keyboard-j")
    page.keyboard.press("k")
    expect(page.locator(f"#conversation-{ids[0]}")).to_be_visible()

    page.locator(f"#ticket-row-{ids[2]} a").first.click()  # the mouse opens another one
    expect(page.locator(f"#conversation-{ids[2]}")).to_be_visible()
    page.keyboard.press("r")
    reply_box = page.locator("[data-reply-body]").first
    expect(reply_box).to_be_focused()
    page.keyboard.type("jk typed here")  # typing in the box is not a shortcut
    expect(reply_box).to_have_value("jk typed here")
    expect(page.locator(f"#conversation-{ids[2]}")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("k")  # from the ticket open now, not the last one j/k chose
    expect(page.locator(f"#conversation-{ids[1]}")).to_be_visible()

    wait_watching(page, int(ids[1]))
    page.keyboard.press("e")
    assert eventually(lambda: Ticket.objects.get(pk=ids[1]).status == "resolved")
    expect(page.locator("[data-ticket-status]")).to_have_value("resolved")


@pytest.mark.parametrize("width,height", [(1280, 800), (1366, 768)], ids=["1280px", "laptop"])
def test_screen_with_a_ticket_open_fits_the_window(live, telegram, ayla, new_page, width, height):
    """The three columns sit side by side, nothing scrolls sideways, and the reply box is in
    view; OMNICO_E2E_SCREENSHOTS=dir keeps a screenshot for a human to look at."""
    customer_writes(live, telegram, chat_id=777021, name="Zeynep Kaya", text="Kargom nerede?")
    customer_writes(live, telegram, chat_id=777022, name="Oliver Brown", text="Where is my order?")
    ticket = eventually(lambda: Ticket.objects.filter(customer__name="Zeynep Kaya").first())
    page = new_page(width=width, height=height)
    login(page, "ayla")
    open_inbox(page, f"/inbox/{ticket.pk}/")
    box = page.locator("[data-reply-body]").first
    box.fill("Merhaba Zeynep Hanım, kargonuz yolda.")
    box.press("Enter")
    expect(page.locator(f"#conversation-{ticket.pk}")).to_contain_text("kargonuz yolda")
    expect(page.locator(f"#conversation-{ticket.pk}")).to_contain_text(re.compile("sent", re.I))
    settle(page)

    columns = [
        page.locator("#inbox-list").bounding_box(),
        page.locator(f"#conversation-{ticket.pk}").bounding_box(),
        page.locator(f"#panel-{ticket.pk}").bounding_box(),
    ]
    assert all(columns), "a column is not shown"
    assert columns[0]["x"] < columns[1]["x"] < columns[2]["x"], "columns are not side by side"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    reply_box = page.locator("[data-reply-body]").bounding_box()
    assert reply_box and reply_box["y"] + reply_box["height"] <= height, "reply box off screen"
    shot(page, f"agent-screen-{width}")


#: Pairs of visible top-bar controls whose boxes intersect (each control once, leaves only).
OVERLAPS = """
() => {
  const boxes = [...document.querySelectorAll(
    ".topbar a, .topbar button, .topbar select, .topbar .username, .topbar [role=status]," +
    " .topbar .presence-state"
  )].filter((el) => el.offsetWidth && el.offsetHeight && !el.closest(".visually-hidden"))
    .map((el) => [el.textContent.trim() || el.tagName, el.getBoundingClientRect()]);
  const hits = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, r] = boxes[i], [b, q] = boxes[j];
      const across = r.left < q.right - 1 && q.left < r.right - 1;
      if (across && r.top < q.bottom - 1 && q.top < r.bottom - 1) hits.push(`${a} / ${b}`);
    }
  }
  const bar = document.querySelector(".topbar").getBoundingClientRect();
  for (const [name, r] of boxes) {
    if (r.bottom > bar.bottom + 1) hits.push(`${name} / below the bar`);
  }
  return hits;
}
"""


@pytest.mark.parametrize("width", [1280, 1366])
def test_top_bar_controls_do_not_overlap(live, ayla, new_page, width):
    page = new_page(width=width, height=768)
    login(page, "ayla")
    open_inbox(page)
    settle(page)  # the presence control is loaded by htmx
    assert page.evaluate(OVERLAPS) == []


def test_an_agent_working_in_turkish_gets_live_rows_in_turkish(live, telegram, ayla, new_page):
    page = new_page()
    login(page, "ayla")
    page.goto("/inbox/")
    page.select_option("#language-select", "tr")  # the top bar's language switch
    page.wait_for_function("document.documentElement.lang === 'tr'")
    open_inbox(page)
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.locator("#live-status")).to_have_text("\u25cf Canlı")  # the socket's state

    customer_writes(live, telegram, chat_id=777031, name="Ahmet Kılıç", text="Sipariş iptali")
    ticket = eventually(lambda: Ticket.objects.first())
    row = page.locator(f"#ticket-row-{ticket.pk}")
    expect(row).to_contain_text("Sipariş iptali")
    expect(row).to_contain_text("Açık")  # status "Open", pushed already translated
    expect(row).to_contain_text("Orta")  # priority "Medium"
    assert_not_reloaded(page)
