"""Canned responses on the agent screen: the composer's search and filling, a use counted when
the reply is sent, and each agent's own page (only their own answers)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configuration.models import CannedResponse
from tests.factories import make_customer, make_ticket, make_user
from tickets.models import Message

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ticket(account):
    customer = make_customer(kind=account.kind, name="Ayşe <b>Kaya</b>")
    return make_ticket(account=account, customer=customer, body="Siparişim gelmedi")


@pytest.fixture
def iade(db):
    return CannedResponse.objects.create(
        shortcut="iade",
        title="İade süreci",
        text="Merhaba {{ customer_name }}, ben {{ agent_name }}. Talep #{{ ticket_number }}.",
        language="tr",
    )


@pytest.fixture
def burak_own(db):
    burak = make_user("burak")
    return CannedResponse.objects.create(owner=burak, shortcut="b", title="Burak's", text="x")


# --- the composer ---------------------------------------------------------------------------


def test_the_composer_carries_the_canned_list_as_a_listbox(agent_client, ticket):
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert f'id="canned-list-{ticket.pk}" role="listbox"' in page
    assert f'data-canned-for="reply-body-{ticket.pk}"' in page
    assert "js/canned.js" in page


def test_search_lists_matching_answers_marking_the_agents_own(agent_client, agent, iade):
    CannedResponse.objects.create(owner=agent, shortcut="iade2", title="Benim iadem", text="x")
    CannedResponse.objects.create(shortcut="kargo", title="Kargo", text="x")
    response = agent_client.get(reverse("canned-search"), {"q": "İA"})
    html = response.content.decode()
    assert html.count('role="option"') == 2
    own_first = html.index(">/iade2</span>") < html.index(">/iade</span>")
    assert own_first
    assert "Mine" in html and "Kargo" not in html


def test_search_runs_the_same_queries_for_three_answers_or_thirty(agent_client, agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent_client.get(reverse("canned-search"), {"q": "a"}).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        CannedResponse.objects.create(shortcut=f"a{i}", title=f"A {i}", text="x")
    few = count()
    for i in range(3, 30):
        CannedResponse.objects.create(shortcut=f"a{i}", title=f"A {i}", text="x", owner=agent)
    assert count() == few <= 3  # session, user, the answers


def test_search_finds_nothing_and_says_so(agent_client, iade):
    html = agent_client.get(reverse("canned-search"), {"q": "zzz"}).content.decode()
    assert 'aria-disabled="true"' in html and "No canned response matches." in html


def test_search_never_shows_another_agents_own_answers(agent_client, burak_own):
    html = agent_client.get(reverse("canned-search"), {"q": ""}).content.decode()
    assert "Burak" not in html


def test_inserting_fills_the_variables_for_the_ticket_as_plain_text(
    agent_client, agent, ticket, iade, django_assert_max_num_queries
):
    agent.first_name, agent.last_name = "Ayla", "Demir"
    agent.save()
    url = reverse("canned-render", args=[ticket.pk, iade.pk])
    with django_assert_max_num_queries(4):  # session, user, ticket with customer, answer
        response = agent_client.get(url)
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "id": iade.pk,
        "text": f"Merhaba Ayşe <b>Kaya</b>, ben Ayla Demir. Talep #{ticket.pk}.",
    }


def test_another_agents_own_answer_cannot_be_inserted(agent_client, ticket, burak_own):
    url = reverse("canned-render", args=[ticket.pk, burak_own.pk])
    assert agent_client.get(url).status_code == 404


def test_a_reply_with_an_answer_counts_a_use_but_a_note_does_not(agent_client, ticket, iade):
    url = reverse("ticket-reply", args=[ticket.pk])
    agent_client.post(url, {"body": "Merhaba", "note": "on", "canned": [iade.pk]}, **HTMX)
    iade.refresh_from_db()
    assert iade.usage_count == 0

    agent_client.post(url, {"body": "Merhaba", "canned": [iade.pk, iade.pk]}, **HTMX)
    iade.refresh_from_db()
    assert iade.usage_count == 1
    assert Message.objects.filter(ticket=ticket, direction="out").count() == 1


def test_a_refused_reply_counts_no_use(agent_client, ticket, iade):
    url = reverse("ticket-reply", args=[ticket.pk])
    agent_client.post(url, {"body": "   ", "canned": [iade.pk]}, **HTMX)
    iade.refresh_from_db()
    assert iade.usage_count == 0


# --- the agent's own page -------------------------------------------------------------------


def test_an_agent_adds_edits_and_deletes_their_own_answer(agent_client, agent):
    response = agent_client.post(
        reverse("canned-add"),
        {
            "title": "Kargom",
            "shortcut": "kargom",
            "text": "Kargonuz yolda.",
            "language": "any",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    answer = CannedResponse.objects.get(owner=agent)

    agent_client.post(
        reverse("canned-edit", args=[answer.pk]),
        {
            "title": "Kargo",
            "shortcut": "kargo",
            "text": "Yolda {{ customer_name }}.",
            "language": "tr",
            "is_active": "on",
        },
    )
    answer.refresh_from_db()
    assert (answer.title, answer.shortcut, answer.owner) == ("Kargo", "kargo", agent)
    page = agent_client.get(reverse("canned-list")).content.decode()
    assert "/kargo" in page

    agent_client.post(reverse("canned-delete", args=[answer.pk]))
    assert not CannedResponse.objects.exists()


def test_an_agent_is_told_about_a_repeated_shortcut_or_an_unknown_variable(agent_client, agent):
    CannedResponse.objects.create(owner=agent, shortcut="iade", title="İade", text="x")
    response = agent_client.post(
        reverse("canned-add"),
        {"title": "Again", "shortcut": "IADE", "text": "{{ order }}", "language": "any"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "already uses the shortcut" in html and "Unknown variable" in html
    assert CannedResponse.objects.count() == 1


def test_a_shared_shortcut_may_be_reused_for_an_agents_own(agent_client, agent, iade):
    response = agent_client.post(
        reverse("canned-add"),
        {"title": "My iade", "shortcut": "iade", "text": "x", "language": "any"},
    )
    assert response.status_code == 302
    assert CannedResponse.objects.filter(owner=agent, shortcut="iade").exists()


def test_an_agent_cannot_see_edit_or_delete_another_agents_or_a_shared_answer(
    agent_client, burak_own, iade
):
    for answer in (burak_own, iade):
        assert agent_client.get(reverse("canned-edit", args=[answer.pk])).status_code == 404
        edit = agent_client.post(
            reverse("canned-edit", args=[answer.pk]),
            {"title": "Mine now", "shortcut": "x", "text": "x", "language": "any"},
        )
        assert edit.status_code == 404
        assert agent_client.post(reverse("canned-delete", args=[answer.pk])).status_code == 404
    assert CannedResponse.objects.count() == 2
    assert not CannedResponse.objects.filter(title="Mine now").exists()
    page = agent_client.get(reverse("canned-list")).content.decode()
    assert "Burak" not in page and "İade süreci" not in page


def test_the_own_page_runs_the_same_queries_for_two_answers_or_twenty(agent_client, agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent_client.get(reverse("canned-list")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(2):
        CannedResponse.objects.create(owner=agent, shortcut=f"s{i}", title=f"S {i}", text="x")
    few = count()
    for i in range(2, 20):
        CannedResponse.objects.create(owner=agent, shortcut=f"s{i}", title=f"S {i}", text="x")
    assert count() == few


def test_search_escapes_what_an_agent_wrote_in_a_title_or_text(agent_client, agent):
    CannedResponse.objects.create(
        owner=agent, shortcut="x", title="<img src=x onerror=alert(1)>", text="<b>hi</b>"
    )
    html = agent_client.get(reverse("canned-search"), {"q": "x"}).content.decode()
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
