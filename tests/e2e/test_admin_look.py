"""The admin ("Settings") in a real browser: staff get there from the app's navigation, and
an edit or a delete is confirmed by a toast in the top-right corner, like the agent app's."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from configuration.models import Subject
from tests.e2e.conftest import login
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _in_top_right_corner(page, locator) -> None:
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box is not None
    assert box["y"] < 120, box
    assert width - (box["x"] + box["width"]) < 40, box


@pytest.mark.parametrize(
    "locale,nav_label,updated,deleted",
    [
        ("en-US", "Settings", "Update successful", "Delete successful"),
        ("tr-TR", "Ayarlar", "Güncelleme başarılı", "Silme işlemi başarılı"),
    ],
    ids=["en", "tr"],
)
def test_staff_edit_and_delete_in_settings_and_see_toasts_top_right(
    live, new_page, locale, nav_label, updated, deleted
):
    make_user("selin", staff=True, capacity=None)
    subject = Subject.objects.create(name="Donaton")
    page = new_page(locale=locale)
    login(page, "selin")

    page.locator(".mainnav").get_by_role("link", name=nav_label).click()
    expect(page.locator("#header.omnico-topbar")).to_be_visible()

    page.goto(f"/admin/configuration/subject/{subject.pk}/change/")
    page.fill("input[name=name]", "Donation")
    page.locator("input[name=_save]").click()
    toast = page.locator("#toasts .toast-success")
    expect(toast).to_contain_text(updated)
    expect(toast).to_contain_text("Donation")
    _in_top_right_corner(page, toast)

    page.goto(f"/admin/configuration/subject/{subject.pk}/delete/")
    page.locator("#content form input[type=submit]").click()
    expect(page.locator("#toasts .toast-success")).to_contain_text(deleted)
    _in_top_right_corner(page, page.locator("#toasts .toast-success"))
    assert not Subject.objects.filter(pk=subject.pk).exists()
