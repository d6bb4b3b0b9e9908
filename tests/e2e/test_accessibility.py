"""Pages everyone can use: axe-core finds no critical or serious violation on the agent pages,
the Settings (admin) pages supervisors use, and every step of the support page, in English and
Turkish (there is no dark theme: the admin's is switched off in templates/admin/base_site.html);
the reply box keeps the focus after Send.

A new page joins by adding its URL to a list below, or with ``assert_accessible`` from
``tests/e2e/accessibility.py`` in its own test."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from configuration.models import (
    BreakReason,
    CannedResponse,
    ChannelAccount,
    ChannelKind,
    Department,
    GroupType,
    Holiday,
    MailAccount,
    Subject,
    SupportPage,
)
from tests.e2e.accessibility import ANY_IMPACT, AccessibilityAudit
from tests.e2e.conftest import login, off_loop
from tests.e2e.test_agent_screen import eventually, open_inbox, wait_watching
from tests.factories import make_account, make_ticket, make_user
from tickets.models import Message, Ticket
from tickets.routing import agent_go_active

pytestmark = pytest.mark.django_db(transaction=True)

LOCALES = pytest.mark.parametrize("locale", ["en-US", "tr-TR"], ids=["en", "tr"])


@pytest.fixture
def desk(live):
    """A staff agent (sees Settings and the team) who is active, with a ticket of her own."""
    sena = make_user("sena", staff=True, first_name="Sena", last_name="Yıldız")
    make_user("burak", first_name="Burak", last_name="Şahin")
    off_loop(agent_go_active, user=sena)
    BreakReason.objects.create(name="Lunch")
    department = Department.objects.create(name="Billing")
    GroupType.objects.create(name="Allianz", position=1, department=department)
    Subject.objects.create(name="Billing information", position=1)
    CannedResponse.objects.create(title="Greeting", text="Hello, how can I help?")
    ticket = off_loop(make_ticket, account=make_account(), body="Kargom nerede? <b>acil</b>")
    ticket.refresh_from_db()
    return ticket


@LOCALES
def test_agent_pages_have_no_critical_or_serious_violations(desk, new_page, locale):
    ticket = desk
    audit = AccessibilityAudit()
    page = new_page(locale=locale)
    page.goto(reverse("login"))
    audit.check(page, "login")

    login(page, "sena")
    for where, url in [
        ("home", reverse("home")),
        ("tickets list", reverse("ticket-list")),
        ("tickets list, sorted", reverse("ticket-list") + "?sort=priority"),
        ("while I was away", reverse("ticket-list") + "?missed=1"),
        ("canned responses", reverse("canned-list")),
        ("new canned response", reverse("canned-add")),
        ("team", reverse("presence-team")),
        ("reports", reverse("reports")),
        ("password change", reverse("admin:password_change")),
    ]:
        page.goto(url)
        audit.check(page, where)

    open_inbox(page)
    audit.check(page, "inbox")
    open_inbox(page, reverse("ticket-detail", args=[ticket.pk]))
    wait_watching(page, ticket.pk)
    expect(page.locator(f"#panel-{ticket.pk}")).to_be_visible()
    audit.check(page, "inbox with a ticket open, with its panel")
    # Two regions both called "Conversation" (the pane and the chat) is only "moderate" for axe,
    # but a screen reader's landmark list cannot tell them apart.
    audit.check(page, "inbox: landmark names", rules=["landmark-unique"], impacts=ANY_IMPACT)
    audit.assert_clean()


ADMIN_MODELS = [
    "configuration_subject",
    "configuration_grouptype",
    "configuration_department",
    "configuration_breakreason",
    "configuration_operatorprofile",
    "configuration_channelaccount",
    "configuration_mailaccount",
    "configuration_supportpage",
    "configuration_cannedresponse",
    "configuration_routingsettings",
    "configuration_businesshours",
    "configuration_holiday",
    "configuration_activitycategory",
]


@LOCALES
def test_settings_pages_have_no_critical_or_serious_violations(desk, new_page, locale):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    SupportPage.objects.create(channel_account=account, company_name="Acme")
    MailAccount.objects.create(
        name="desk",
        email_address="desk@example.com",
        imap_host="imap.example.com",
        smtp_host="smtp.example.com",
    )
    audit = AccessibilityAudit()
    page = new_page(locale=locale)
    login(page, "sena")
    page.goto(reverse("admin:index"))
    audit.check(page, "admin index")
    from django.apps import apps

    for name in ADMIN_MODELS:
        app_label, model_name = name.split("_", 1)
        model = apps.get_model(app_label, model_name)
        page.goto(reverse(f"admin:{name}_changelist"))
        audit.check(page, f"{name} list")
        if obj := model.objects.first():
            page.goto(reverse(f"admin:{name}_change", args=[obj.pk]))
            audit.check(page, f"{name} form")
        else:
            page.goto(reverse(f"admin:{name}_add"))
            audit.check(page, f"{name} new")
    audit.assert_clean()


@pytest.fixture
def support(live):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    GroupType.objects.create(name="Allianz", position=1)
    GroupType.objects.create(name="AXA", position=2)
    Subject.objects.create(name="Billing information", position=1)
    Subject.objects.create(name="Membership cancellation", position=2)
    return SupportPage.objects.create(
        channel_account=account, company_name="Acme Insurance", welcome_text="Hi!"
    )


@LOCALES
def test_every_step_of_the_support_page_has_no_critical_or_serious_violations(
    support, new_page, locale
):
    ayla = make_user("ayla", first_name="Ayla", last_name="Demir")
    off_loop(agent_go_active, user=ayla)
    audit = AccessibilityAudit()
    page = new_page(width=390, height=800, locale=locale)
    page.goto("/support/")
    audit.check(page, "support: group type")
    page.get_by_role("link", name="Allianz").click()
    expect(page.get_by_role("link", name="Membership cancellation")).to_be_visible()
    audit.check(page, "support: subject")
    page.get_by_role("link", name="Membership cancellation").click()
    expect(page.locator("input[name=name]")).to_be_visible()
    audit.check(page, "support: details")
    page.fill("input[name=name]", "Zeynep Kaya")
    page.fill("input[name=email]", "zeynep@example.com")
    page.locator("form.support-form button[type=submit]").click()
    box = page.locator("textarea[name=text]")
    box.fill("Is my policy renewed?")
    box.press("Enter")
    expect(page.locator("li.entry-in").last).to_contain_text("Is my policy renewed?")
    audit.check(page, "support: chat")

    ticket = eventually(lambda: Ticket.objects.filter(source="webchat", assignee=ayla).first())
    assert ticket is not None
    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent, reverse("ticket-detail", args=[ticket.pk]))
    agent.locator(f"#ticket-status-{ticket.pk}").select_option("resolved")
    expect(page.locator("input[name=rating]").first).to_be_attached()
    audit.check(page, "support: rating")

    Holiday.objects.create(date=ticket.created_at.date(), name="Republic Day")
    offline = new_page(width=390, height=800, locale=locale)
    offline.goto("/support/")
    expect(offline.locator("textarea[name=message]")).to_be_visible()
    audit.check(offline, "support: offline form")
    audit.assert_clean()


def test_after_send_with_the_button_the_focus_stays_in_the_reply_box(desk, new_page):
    ticket = desk
    page = new_page()
    login(page, "sena")
    open_inbox(page, reverse("ticket-detail", args=[ticket.pk]))
    wait_watching(page, ticket.pk)
    box = page.locator(f"#chat-{ticket.pk} textarea[name=body]")
    box.fill("Bakıyorum.")
    page.locator(f"#chat-{ticket.pk} form button[type=submit]").first.click()
    reply = eventually(lambda: Message.objects.filter(ticket=ticket, direction="out").first())
    assert reply is not None
    expect(page.locator(f"#message-{reply.pk}")).to_be_visible()
    expect(box).to_have_value("")
    page.wait_for_timeout(200)
    assert page.evaluate("document.activeElement?.name") == "body", page.evaluate(
        "document.activeElement?.outerHTML?.slice(0, 120)"
    )


FOCUSED_TEXT = (
    "(() => { const e = document.activeElement;"
    " return (e.innerText || e.value || e.getAttribute('aria-label') || '').trim(); })()"
)


def tab_to(page, *, text: str | None = None, name: str | None = None, limit: int = 20) -> None:
    """Press Tab until the focused element shows ``text`` or is the field called ``name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if text is not None and text in page.evaluate(FOCUSED_TEXT):
            return
        if name is not None and page.evaluate("document.activeElement.name") == name:
            return
    pytest.fail(f"{limit} presses of Tab did not reach {text or name!r}")


def assert_skip_link_works(page) -> None:
    """The first Tab shows "Skip to main content"; Enter moves the focus to <main>."""
    page.keyboard.press("Tab")
    link = page.locator(".skip-link")
    expect(link).to_be_focused()
    expect(link).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_an_agent_page_starts_with_a_skip_link_to_the_main_content(desk, new_page):
    page = new_page()
    login(page, "sena")
    page.goto(reverse("ticket-list"))
    expect(page.locator(".skip-link")).not_to_be_in_viewport()
    assert_skip_link_works(page)


def test_a_visitor_goes_through_the_support_page_with_the_keyboard_alone(support, new_page):
    page = new_page(width=390, height=800)
    page.goto("/support/")
    assert_skip_link_works(page)
    tab_to(page, text="Allianz")
    page.keyboard.press("Enter")
    expect(page.locator("h2")).to_have_text("Choose a subject")
    page.wait_for_load_state()
    tab_to(page, text="Membership cancellation")
    page.keyboard.press("Enter")
    expect(page.locator("input[name=name]")).to_be_visible()
    page.wait_for_load_state()
    tab_to(page, name="name")
    page.keyboard.type("Zeynep Kaya")
    tab_to(page, name="email", limit=3)
    page.keyboard.type("zeynep@example.com")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("textarea[name=text]")).to_be_visible()
    page.wait_for_load_state()
    tab_to(page, name="text", limit=30)
    page.keyboard.type("Hello")
    page.keyboard.press("Enter")
    expect(page.locator("li.entry-in").last).to_contain_text("Hello")
    # The page shows the line once the server has the event; its ingest (in the live server's
    # thread) may still be writing. Ending the test then made the database's flush fail.
    assert eventually(lambda: Message.objects.filter(body="Hello").exists())
