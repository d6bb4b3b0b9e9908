"""Which department a new ticket goes to, remembered per process (``omnico.core.shared_memo``).

Every ticket opened with a subject or group type (every web-chat conversation) needs the
department they send it to: two reads per ticket of rows an admin changes a few times a year.
The whole mapping (a few dozen rows) is read once per process and version; a save or delete
of a subject, a group type or a department moves the version once its transaction commits
(deleting a department clears the subjects' and group types' link with an ``UPDATE`` that
sends no signal of theirs, hence its own), and every process reads it again on its next use.

Connected in ``ConfigurationConfig.ready``.
"""

from __future__ import annotations

from configuration.models import Department, GroupType, Subject
from omnico.core.shared_memo import SharedMemo

MEMO = SharedMemo("departments")
_KEY = "by-subject-and-group-type"

#: The rows the mapping is read from.
WATCHED = (Subject, GroupType, Department)


def _load() -> tuple[dict[int, int], dict[int, int]]:
    subjects = Subject.objects.filter(department__isnull=False).order_by()
    group_types = GroupType.objects.filter(department__isnull=False).order_by()
    return (
        dict(subjects.values_list("pk", "department_id")),
        dict(group_types.values_list("pk", "department_id")),
    )


def department_for(*, subject_id: int | None, group_type_id: int | None) -> int | None:
    """The department of a new ticket on this subject and group type: the subject's, else the
    group type's; None (any agent) when neither has one. No query while none changed."""
    if subject_id is None and group_type_id is None:
        return None
    by_subject, by_group_type = MEMO.get(_KEY, _load)
    if subject_id is not None and subject_id in by_subject:
        return by_subject[subject_id]
    if group_type_id is not None:
        return by_group_type.get(group_type_id)
    return None


def connect() -> None:
    MEMO.watch(*WATCHED)
