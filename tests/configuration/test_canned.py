"""Canned responses: their variables, the admin's shared answers, search, usage and ownership."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from configuration.canned import canned_text_render, text_fold, validate_canned_text
from configuration.models import CannedResponse
from configuration.selectors import canned_response_search
from configuration.services import canned_response_count_sent, canned_response_delete
from tests.factories import make_user


def shared(shortcut: str, title: str, *, text: str = "Merhaba", **kw) -> CannedResponse:
    return CannedResponse.objects.create(shortcut=shortcut, title=title, text=text, **kw)


# --- variables ------------------------------------------------------------------------------


def test_variables_are_filled_with_or_without_spaces_inside_the_braces():
    text = "Merhaba {{ customer_name }}, ben {{agent_name}}. Talep no: {{  ticket_number }}."
    values = {"customer_name": "Ayşe", "agent_name": "Ayla Demir", "ticket_number": "42"}
    assert canned_text_render(text=text, values=values) == (
        "Merhaba Ayşe, ben Ayla Demir. Talep no: 42."
    )


def test_a_customer_name_that_looks_like_a_variable_or_html_is_inserted_as_it_is():
    values = {"customer_name": "<b>{{ agent_name }}</b>", "agent_name": "X", "ticket_number": "1"}
    rendered = canned_text_render(text="Hi {{ customer_name }}!", values=values)
    assert rendered == "Hi <b>{{ agent_name }}</b>!"  # plain text: filled once, never parsed


@pytest.mark.parametrize(
    "text",
    ["Hello {{ customer }}", "Hi {{ customer_name }} {{ order_id }}", "Hi {{ customer_name }"],
)
def test_unknown_or_unclosed_variables_are_refused(text):
    with pytest.raises(ValidationError):
        validate_canned_text(text)


def test_known_variables_and_plain_braces_are_accepted():
    validate_canned_text("{{ customer_name }} {{agent_name}} #{{ ticket_number }} {x} }}")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("iade", "İade"), ("IADE", "iade"), ("tesekkur", "Teşekkür"), ("degisim", "DEĞİŞİM")],
)
def test_search_folding_ignores_case_accents_and_turkish_dotted_i(typed, stored):
    assert text_fold(typed) in text_fold(stored)


# --- search ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_finds_shortcut_or_title_without_accents_in_one_query(
    django_assert_num_queries,
):
    agent = make_user("ayla")
    shared("iade", "İade süreci", position=2)
    shared("kargo", "Kargo takibi", position=1)
    shared("refund", "Refund", language="en", position=3)

    with django_assert_num_queries(1):
        found = canned_response_search(user=agent, query="ia", language="tr")
    assert [answer.shortcut for answer in found] == ["iade"]
    by_title = canned_response_search(user=agent, query="IADE SUR", language="tr")
    assert [answer.shortcut for answer in by_title] == ["iade"]
    assert canned_response_search(user=agent, query="ship", language="tr") == []


@pytest.mark.django_db
def test_search_lists_the_wanted_language_then_own_then_the_admins_order():
    ayla, burak = make_user("ayla"), make_user("burak")
    shared("b-shared", "Second", position=2)
    shared("a-shared", "First", position=1)
    shared("en-only", "English one", language="en", position=0)
    CannedResponse.objects.create(owner=ayla, shortcut="mine", title="Mine", text="x", position=9)
    CannedResponse.objects.create(owner=burak, shortcut="burak", title="Burak's", text="x")
    shared("off", "Inactive", is_active=False)

    found = canned_response_search(user=ayla, query="", language="tr")
    assert [a.shortcut for a in found] == ["mine", "a-shared", "b-shared", "en-only"]
    english = canned_response_search(user=ayla, query="", language="en")
    assert [a.shortcut for a in english] == ["mine", "en-only", "a-shared", "b-shared"]


# --- usage and ownership ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_send_counts_each_usable_answer_once():
    ayla, burak = make_user("ayla"), make_user("burak")
    one = shared("one", "One")
    mine = CannedResponse.objects.create(owner=ayla, shortcut="mine", title="Mine", text="x")
    others = CannedResponse.objects.create(owner=burak, shortcut="his", title="His", text="x")

    assert canned_response_count_sent(user=ayla, ids=[one.pk, one.pk, mine.pk, others.pk]) == 2
    canned_response_count_sent(user=ayla, ids=[one.pk])

    counts = dict(CannedResponse.objects.values_list("shortcut", "usage_count"))
    assert counts == {"one": 2, "mine": 1, "his": 0}


@pytest.mark.django_db
def test_an_agent_cannot_delete_a_shared_answer_or_another_agents():
    ayla, burak = make_user("ayla"), make_user("burak")
    one = shared("one", "One")
    his = CannedResponse.objects.create(owner=burak, shortcut="his", title="His", text="x")
    for answer in (one, his):
        with pytest.raises(PermissionDenied):
            canned_response_delete(user=ayla, answer=answer)
    assert CannedResponse.objects.count() == 2


@pytest.mark.django_db
def test_the_same_shortcut_twice_for_one_owner_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    ayla = make_user("ayla")
    shared("iade", "İade")
    CannedResponse.objects.create(owner=ayla, shortcut="iade", title="My own İade", text="x")
    for owner in (None, ayla):
        with pytest.raises(IntegrityError), transaction.atomic():
            CannedResponse.objects.create(owner=owner, shortcut="IADE", title="again", text="x")


# --- the admin (shared answers) ---------------------------------------------------------------


def _admin_post(admin_client, **fields):
    data = {"title": "İade", "shortcut": "iade", "text": "Merhaba", "language": "tr"}
    data.update({"is_active": "on", "position": "1", **fields})
    return admin_client.post(reverse("admin:configuration_cannedresponse_add"), data)


@pytest.mark.django_db
def test_admin_adds_a_shared_answer(admin_client):
    response = _admin_post(admin_client, text="Merhaba {{ customer_name }}, ben {{ agent_name }}.")
    assert response.status_code == 302
    answer = CannedResponse.objects.get()
    assert answer.owner is None and answer.language == "tr" and answer.position == 1


@pytest.mark.django_db
def test_admin_is_told_about_an_unknown_variable_and_the_help_names_the_known_ones(admin_client):
    page = admin_client.get(reverse("admin:configuration_cannedresponse_add")).content.decode()
    assert "{{ customer_name }}" in page and "{{ ticket_number }}" in page

    response = _admin_post(admin_client, text="Merhaba {{ musteri }}")
    assert response.status_code == 200
    assert "Unknown variable(s): {{ musteri }}" in response.content.decode()
    assert not CannedResponse.objects.exists()


@pytest.mark.django_db
def test_admin_cannot_give_two_shared_answers_one_shortcut(admin_client):
    shared("iade", "İade")
    response = _admin_post(admin_client, shortcut="IADE")
    assert response.status_code == 200
    assert "already uses the shortcut" in response.content.decode()
    assert CannedResponse.objects.count() == 1


@pytest.mark.django_db
def test_admin_lists_only_the_shared_answers_with_their_usage(admin_client):
    agent = make_user("ayla")
    shared("iade", "İade iade", usage_count=7)
    CannedResponse.objects.create(owner=agent, shortcut="own", title="Ayla's own", text="x")
    page = admin_client.get(reverse("admin:configuration_cannedresponse_changelist"))
    assert [a.shortcut for a in page.context["cl"].result_list] == ["iade"]
    assert "Ayla&#x27;s own" not in page.content.decode()
