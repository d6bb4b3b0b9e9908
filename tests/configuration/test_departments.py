"""The department a new ticket goes to, remembered per process and forgotten when it changes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from configuration.models import Department, GroupType, Subject
from tickets.receiving import ticket_department_for

pytestmark = pytest.mark.django_db


def test_the_subjects_department_wins_over_the_group_types_without_a_query_once_read():
    sales, billing = Department.objects.create(name="Sales"), Department.objects.create(name="B")
    axa = GroupType.objects.create(name="AXA", department=sales)
    invoice = Subject.objects.create(name="Invoice", department=billing)
    other = Subject.objects.create(name="Other")
    ticket_department_for(subject_id=invoice.pk, group_type_id=axa.pk)

    with CaptureQueriesContext(connection) as ctx:
        assert ticket_department_for(subject_id=invoice.pk, group_type_id=axa.pk) == billing.pk
        assert ticket_department_for(subject_id=other.pk, group_type_id=axa.pk) == sales.pk
        assert ticket_department_for(subject_id=other.pk, group_type_id=None) is None
        assert ticket_department_for(subject_id=None, group_type_id=None) is None

    assert ctx.captured_queries == []


def test_a_department_changed_in_the_admin_is_used_by_the_next_ticket():
    sales, support = Department.objects.create(name="Sales"), Department.objects.create(name="S")
    axa = GroupType.objects.create(name="AXA", department=sales)
    assert ticket_department_for(subject_id=None, group_type_id=axa.pk) == sales.pk

    axa.department = support
    axa.save()
    assert ticket_department_for(subject_id=None, group_type_id=axa.pk) == support.pk

    invoice = Subject.objects.create(name="Invoice", department=sales)
    assert ticket_department_for(subject_id=invoice.pk, group_type_id=axa.pk) == sales.pk


def test_a_deleted_department_sends_the_next_ticket_to_any_agent():
    # Deleting a department clears the group type's link with an UPDATE (no signal of its own).
    sales = Department.objects.create(name="Sales")
    axa = GroupType.objects.create(name="AXA", department=sales)
    assert ticket_department_for(subject_id=None, group_type_id=axa.pk) == sales.pk

    sales.delete()

    assert ticket_department_for(subject_id=None, group_type_id=axa.pk) is None
