"""What keeps the agent pages cheap to render, asserted as behaviour an agent would notice:
the tag filter is a field with suggestions (not a list of every tag), the ticket page shows the
ticket at once and lets the list fetch its rows, times and labels are right in both languages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from configuration.models import ChannelKind
from inbox.templatetags.omnico_ui import ticket_url, when
from tests.factories import make_account, make_customer, make_ticket
from tickets.models import Tag, Ticket
from tickets.services import ticket_add_tag, ticket_assign, ticket_set_priority

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def tickets(db, agent):
    account = make_account()
    made = []
    for name in ("Ayla Demir", "Burak Şen"):
        ticket = make_ticket(account=account, customer=make_customer(name=name))
        ticket_assign(ticket=ticket, assignee=agent)
        made.append(ticket)
    return made


def test_inbox_tag_filter_suggests_tags_instead_of_listing_every_tag(agent_client, tickets):
    Tag.objects.bulk_create(Tag(name=f"kampanya-{i:03d}") for i in range(60))
    page = agent_client.get(reverse("inbox"), {"tab": "all"}).content.decode()
    assert "kampanya-0" not in page  # no <option> per tag on every page
    field = re.search(r'<input[^>]*name="tag"[^>]*>', page)
    assert field, "no tag field"
    assert 'list="filter-tag-options"' in field.group(0)
    assert f'hx-get="{reverse("tag-options")}"' in field.group(0)
    assert '<datalist id="filter-tag-options">' in page

    # What the field fetches as the agent types: matching names, first ten.
    options = agent_client.get(reverse("tag-options"), {"tag": "kampanya-05"}).content.decode()
    assert re.findall(r'value="([^"]+)"', options) == [f"kampanya-{i:03d}" for i in range(50, 60)]


def test_inbox_filters_by_tag_name_in_any_case_or_by_an_old_links_tag_id(agent_client, tickets):
    tagged, other = tickets
    tag = ticket_add_tag(ticket=tagged, name="İade")

    def shown(value: str) -> str:
        return agent_client.get(
            reverse("inbox-list"), {"tab": "all", "tag": value}
        ).content.decode()

    assert "Ayla Demir" in shown("İade") and "Burak Şen" not in shown("İade")
    assert "Ayla Demir" in shown(str(tag.pk)) and "Burak Şen" not in shown(str(tag.pk))
    assert "Ayla Demir" not in shown("kargo")
    assert 'value="İade"' in agent_client.get(reverse("inbox"), {"tag": "İade"}).content.decode()


def test_tickets_list_tag_filter_is_a_suggesting_field_too(agent_client, tickets):
    Tag.objects.bulk_create(Tag(name=f"etiket-{i}") for i in range(30))
    ticket_add_tag(ticket=tickets[1], name="vip")
    page = agent_client.get(reverse("ticket-list"), {"tag": "VIP"}).content.decode()
    assert "etiket-1" not in page
    assert 'list="filter-tag-options"' in page
    assert "Burak Şen" in page and "Ayla Demir" not in page


def test_ticket_page_shows_the_ticket_at_once_and_the_list_fetches_its_rows(agent_client, tickets):
    opened, other = tickets
    page = agent_client.get(reverse("ticket-detail", args=[opened.pk]), {"tab": "all"})
    content = page.content.decode()
    assert f'id="conversation-{opened.pk}"' in content and f'id="panel-{opened.pk}"' in content
    # The list is there with its filters, live attributes and a request for its rows...
    inbox_list = re.search(r'<ul id="inbox-list"[^>]*>', content).group(0)
    assert 'hx-trigger="load, resync"' in inbox_list
    assert f'hx-get="{reverse("inbox-list")}"' in inbox_list
    assert 'hx-include="#inbox-filters"' in inbox_list and "data-live-filter=" in inbox_list
    assert 'id="inbox-filters"' in content
    # ...which it gets from the list view, with the filters of the page.
    assert f"ticket-row-{other.pk}" not in content
    rows = agent_client.get(reverse("inbox-list"), {"tab": "all"}, **HTMX).content.decode()
    assert f'id="ticket-row-{other.pk}"' in rows and f'id="ticket-row-{opened.pk}"' in rows


def test_opening_a_ticket_already_read_writes_nothing(agent_client, tickets):
    ticket = tickets[0]
    url = reverse("ticket-detail", args=[ticket.pk])
    agent_client.get(url)
    assert not Ticket.objects.get(pk=ticket.pk).unread
    with CaptureQueriesContext(connection) as ctx:
        assert agent_client.get(url).status_code == 200
    writes = [q["sql"] for q in ctx if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert not [sql for sql in writes if "tickets_ticket" in sql], writes


def test_ticket_page_queries_do_not_grow_with_the_number_of_tags(agent_client, tickets):
    url = reverse("ticket-detail", args=[tickets[0].pk])

    def count() -> int:
        agent_client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            agent_client.get(url)
        return len(ctx)

    before = count()
    Tag.objects.bulk_create(Tag(name=f"t{i}") for i in range(40))
    for i in range(5):
        ticket_add_tag(ticket=tickets[0], name=f"t{i}")
    assert count() == before


def test_times_show_relative_with_the_exact_local_time_on_hover(settings):
    settings.TIME_ZONE = "Europe/Istanbul"
    value = timezone.now() - timedelta(hours=3, minutes=5)
    local = timezone.localtime(value)
    with translation.override("en"):
        html = str(when(value))
        assert f'datetime="{local.isoformat()}"' in html
        assert f'title="{date_format(local, "DATETIME_FORMAT")}"' in html
        assert ">3\xa0hours ago</time>" in html
    with translation.override("tr"):
        html = str(when(value))
        assert f'title="{date_format(local, "DATETIME_FORMAT")}"' in html
        assert ">3\xa0saat önce</time>" in html
    assert str(when(None)) == '<span class="muted">—</span>'


def test_row_labels_follow_the_language_of_the_page(agent_client, tickets):
    ticket = tickets[0]
    ticket_set_priority(ticket=ticket, priority="urgent")
    english = agent_client.get(reverse("inbox-list"), {"tab": "all"}, **HTMX).content.decode()
    turkish = agent_client.get(
        reverse("inbox-list"), {"tab": "all"}, HTTP_ACCEPT_LANGUAGE="tr", **HTMX
    ).content.decode()
    translation.deactivate()
    assert '<span class="badge badge-status-open">Open</span>' in english
    assert '<span class="badge badge-status-open">Açık</span>' in turkish
    assert "badge-priority-urgent" in turkish and ">Urgent<" not in turkish
    channel = ChannelKind(ticket.source).label
    assert f'title="{channel}"' in english  # the channel's name on hover


def test_row_links_open_the_ticket_at_its_address():
    assert ticket_url(42) == reverse("ticket-detail", args=[42])
    assert ticket_url(987654321 + 1) == reverse("ticket-detail", args=[987654322])
