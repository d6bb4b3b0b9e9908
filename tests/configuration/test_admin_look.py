"""The admin ("Settings") looks like the agent app: its top bar and stylesheet, and the
handbook's success messages as the app's toasts, in English and Turkish."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from configuration.models import Subject
from tests.factories import make_customer
from tickets.models import Tag

pytestmark = pytest.mark.django_db

#: A script the browser would run that is written into the page (CSP script-src 'self').
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>")


def _toasts(html: str) -> list[tuple[str, str]]:
    """(kind, text) of each toast in the page's top-right toast box."""
    assert '<div id="toasts" class="toasts"' in html
    found = re.findall(
        r'<div class="toast toast-(\w+)"[^>]*>\s*<span class="toast-text">(.*?)</span>', html, re.S
    )
    return [(kind, " ".join(text.split())) for kind, text in found]


def _edit(client, subject, name, **headers):
    return client.post(
        reverse("admin:configuration_subject_change", args=[subject.pk]),
        {"name": name, "is_active": "on", "position": "0"},
        follow=True,
        **headers,
    )


def _delete(client, subject, **headers):
    return client.post(
        reverse("admin:configuration_subject_delete", args=[subject.pk]),
        {"post": "yes"},
        follow=True,
        **headers,
    )


def test_admin_pages_wear_the_apps_top_bar_and_stylesheet(admin_client):
    for url in (
        reverse("admin:index"),
        reverse("admin:configuration_subject_changelist"),
        reverse("admin:configuration_subject_add"),
    ):
        html = admin_client.get(url).content.decode()
        assert "/static/css/admin.css" in html
        assert 'class="omnico-topbar"' in html
        assert re.search(r'<a href="/admin/" aria-current="page">Settings</a>', html)
        assert re.search(r'<a href="/inbox/">Inbox</a>', html)
        assert "Django administration" not in html
        assert not INLINE_SCRIPT.findall(html), url
        assert "<style" not in html


def test_an_edit_says_update_successful_in_a_toast(admin_client):
    subject = Subject.objects.create(name="Donaton")
    html = _edit(admin_client, subject, "Donation").content.decode()
    assert _toasts(html) == [("success", "Update successful: subject “Donation”.")]
    assert 'class="messagelist"' not in html


def test_a_delete_says_delete_successful_in_a_toast(admin_client):
    subject = Subject.objects.create(name="Donation")
    html = _delete(admin_client, subject).content.decode()
    assert _toasts(html) == [("success", "Delete successful: subject “Donation”.")]


def test_the_toasts_speak_turkish(admin_client):
    turkish = {"HTTP_ACCEPT_LANGUAGE": "tr"}
    subject = Subject.objects.create(name="Bagis")
    html = _edit(admin_client, subject, "Bağış", **turkish).content.decode()
    assert _toasts(html) == [("success", "Güncelleme başarılı: konu “Bağış”.")]
    assert "Ayarlar" in html
    html = _delete(admin_client, subject, **turkish).content.decode()
    assert _toasts(html) == [("success", "Silme işlemi başarılı: konu “Bağış”.")]


def test_a_warning_is_a_warning_toast(admin_client):
    response = admin_client.post(
        reverse("admin:configuration_subject_changelist"),
        {"action": "delete_selected", "index": "0"},  # no row chosen
        follow=True,
    )
    kinds = [kind for kind, _text in _toasts(response.content.decode())]
    assert kinds == ["warning"]


def test_tags_and_customers_confirm_in_the_same_words(admin_client):
    tag = Tag.objects.create(name="vip")
    html = admin_client.post(
        reverse("admin:tickets_tag_change", args=[tag.pk]), {"name": "VIP"}, follow=True
    ).content.decode()
    assert _toasts(html) == [("success", "Update successful: tag “VIP”.")]

    customer = make_customer(name="Ayse")
    html = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        {
            "name": "Ayşe",
            "attributes": "{}",
            "identities-TOTAL_FORMS": "1",
            "identities-INITIAL_FORMS": "1",
            "identities-0-id": str(customer.identities.get().pk),
            "identities-0-customer": str(customer.pk),
            "carts-TOTAL_FORMS": "0",
            "carts-INITIAL_FORMS": "0",
        },
        follow=True,
    ).content.decode()
    assert _toasts(html) == [("success", "Update successful: customer “Ayşe”.")]
