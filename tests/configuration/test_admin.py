"""The configuration admin: lists, add/edit/delete with the handbook's success messages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib import admin as django_admin
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from configuration.models import ActivityCategory, BreakReason, ChannelAccount, Subject
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_subject_list_shows_subjects_and_searches(admin_client):
    Subject.objects.create(name="Donation")
    Subject.objects.create(name="Billing information")
    url = reverse("admin:configuration_subject_changelist")

    page = admin_client.get(url).content.decode()
    assert "Donation" in page
    assert "Billing information" in page

    found = admin_client.get(url, {"q": "donat"}).content.decode()
    assert "Donation" in found
    assert "Billing information" not in found


def test_adding_a_subject_confirms_it(admin_client):
    response = admin_client.post(
        reverse("admin:configuration_subject_add"),
        {"name": "Donation", "is_active": "on", "position": "0"},
        follow=True,
    )
    assert Subject.objects.filter(name="Donation").exists()
    assert _messages(response) == ["Subject “Donation” added."]
    assert "Subject “Donation” added." in response.content.decode()


def test_editing_a_subject_says_update_successful(admin_client):
    subject = Subject.objects.create(name="Donaton")
    response = admin_client.post(
        reverse("admin:configuration_subject_change", args=[subject.pk]),
        {"name": "Donation", "is_active": "on", "position": "0"},
        follow=True,
    )
    subject.refresh_from_db()
    assert subject.name == "Donation"
    assert _messages(response) == ["Update successful: subject “Donation”."]


def test_deleting_a_subject_says_delete_successful(admin_client):
    subject = Subject.objects.create(name="Donation")
    response = admin_client.post(
        reverse("admin:configuration_subject_delete", args=[subject.pk]),
        {"post": "yes"},
        follow=True,
    )
    assert not Subject.objects.filter(pk=subject.pk).exists()
    assert _messages(response) == ["Delete successful: subject “Donation”."]


def test_subject_names_are_unique_ignoring_case(admin_client):
    Subject.objects.create(name="Donation")
    response = admin_client.post(
        reverse("admin:configuration_subject_add"),
        {"name": "DONATION", "is_active": "on", "position": "0"},
    )
    assert response.status_code == 200  # the form comes back with an error
    assert Subject.objects.count() == 1


def test_customer_text_in_names_is_escaped_in_the_message(admin_client):
    response = admin_client.post(
        reverse("admin:configuration_breakreason_add"),
        {"name": "<b>Lunch</b>", "is_active": "on", "position": "0"},
        follow=True,
    )
    assert BreakReason.objects.filter(name="<b>Lunch</b>").exists()
    page = response.content.decode()
    assert "<b>Lunch</b>" not in page
    assert "&lt;b&gt;Lunch&lt;/b&gt;" in page


def test_category_page_adds_subcategories_inline(admin_client):
    response = admin_client.post(
        reverse("admin:configuration_activitycategory_add"),
        {
            "parent": "",
            "name": "Incident",
            "is_active": "on",
            "position": "0",
            "subcategories-TOTAL_FORMS": "2",
            "subcategories-INITIAL_FORMS": "0",
            "subcategories-0-name": "Login",
            "subcategories-0-is_active": "on",
            "subcategories-0-position": "0",
            "subcategories-1-name": "Payment failure",
            "subcategories-1-is_active": "on",
            "subcategories-1-position": "1",
        },
        follow=True,
    )
    assert _messages(response) == ["Activity category “Incident” added."]
    incident = ActivityCategory.objects.get(name="Incident", parent=None)
    assert sorted(incident.subcategories.values_list("name", flat=True)) == [
        "Login",
        "Payment failure",
    ]


def test_category_list_filters_main_categories_and_subcategories(admin_client):
    question = ActivityCategory.objects.create(name="Question")
    ActivityCategory.objects.create(name="Pricing", parent=question)
    url = reverse("admin:configuration_activitycategory_changelist")

    top = admin_client.get(url, {"level": "top"})
    sub = admin_client.get(url, {"level": "sub"})

    assert [c.name for c in top.context["cl"].result_list] == ["Question"]
    assert [c.name for c in sub.context["cl"].result_list] == ["Pricing"]


def test_a_subcategory_cannot_be_the_parent_of_another(admin_client):
    question = ActivityCategory.objects.create(name="Question")
    pricing = ActivityCategory.objects.create(name="Pricing", parent=question)
    response = admin_client.post(
        reverse("admin:configuration_activitycategory_add"),
        {"parent": str(pricing.pk), "name": "Discounts", "is_active": "on", "position": "0"},
    )
    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not ActivityCategory.objects.filter(name="Discounts").exists()


def test_channel_account_list_leaves_out_mail_accounts(admin_client):
    make_account(kind="telegram", name="support-bot")
    ChannelAccount.objects.create(kind="email", name="legacy-mail")
    response = admin_client.get(reverse("admin:configuration_channelaccount_changelist"))
    names = [a.name for a in response.context["cl"].result_list]
    assert names == ["support-bot"]


def test_a_channel_account_cannot_be_added_with_the_email_kind(admin_client):
    response = admin_client.post(
        reverse("admin:configuration_channelaccount_add"),
        {"kind": "email", "name": "mail", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "kind" in response.context["adminform"].form.errors
    assert not ChannelAccount.objects.filter(name="mail").exists()


def test_agents_cannot_open_the_configuration_admin(agent_client):
    response = agent_client.get(reverse("admin:configuration_subject_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_every_admin_page_opens_on_the_demo_data(admin_client, settings):
    settings.OMNICO_DEMO_PASSWORD = "demo-pass-Zq81"
    call_command("seed_demo", stdout=StringIO())
    apps = {"configuration", "customers", "tickets"}
    for model, model_admin in django_admin.site._registry.items():
        opts = model._meta
        if opts.app_label not in apps:
            continue
        base = f"admin:{opts.app_label}_{opts.model_name}"
        listing = admin_client.get(reverse(f"{base}_changelist"))
        assert listing.status_code == 200, opts.label
        obj = model_admin.get_queryset(listing.wsgi_request).first()
        if obj is not None:
            change_url = reverse(f"{base}_change", args=[obj.pk])
            # the list shows the demo rows, each a link to its page, which shows that row
            assert f'href="{change_url}"' in listing.content.decode(), opts.label
            detail = admin_client.get(change_url)
            assert detail.status_code == 200, opts.label
            assert escape(str(obj)) in detail.content.decode(), opts.label
        if model_admin.has_add_permission(listing.wsgi_request):
            add = admin_client.get(reverse(f"{base}_add"))
            assert add.status_code == 200, opts.label
            assert 'name="_save"' in add.content.decode(), opts.label
