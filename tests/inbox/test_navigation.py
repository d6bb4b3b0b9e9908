"""The top bar's navigation: staff reach the settings (the admin) from it, agents do not."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SETTINGS_LINK = re.compile(r'<a href="/admin/"[^>]*>(Settings|Ayarlar)</a>')


def test_staff_get_a_settings_entry_leading_to_the_admin(admin_client):
    page = admin_client.get(reverse("home")).content.decode()
    assert SETTINGS_LINK.search(page).group(1) == "Settings"
    assert admin_client.get("/admin/").status_code == 200


def test_the_settings_entry_is_translated(admin_client):
    admin_client.cookies["django_language"] = "tr"
    page = admin_client.get(reverse("home")).content.decode()
    assert SETTINGS_LINK.search(page).group(1) == "Ayarlar"


def test_agents_get_no_settings_entry_and_the_admin_refuses_them(agent_client):
    page = agent_client.get(reverse("home")).content.decode()
    assert not SETTINGS_LINK.search(page)
    assert 'href="/admin/' not in page
    for url in ("/admin/", reverse("admin:configuration_subject_changelist")):
        response = agent_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    login = agent_client.get(reverse("admin:login")).content.decode()
    assert "not authorized to access this page" in login
