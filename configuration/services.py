from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from configuration.models import CannedResponse, OperatorProfile

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def operator_set_capacity(*, actor: User, agent: User, capacity: int) -> OperatorProfile:
    """Only an admin (staff) sets an agent's capacity; agents never set their own."""
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied(_("Only an administrator can change an agent's capacity."))
    if capacity < 0:
        raise ValueError("capacity must not be negative")
    profile, _created = OperatorProfile.objects.select_for_update().get_or_create(user=agent)
    profile.capacity = capacity
    profile.save(update_fields=["capacity"])
    return profile


# --- canned responses -----------------------------------------------------------------------


def canned_response_count_sent(*, user: User, ids: Iterable[int]) -> int:
    """One more use for each answer (that ``user`` may use) inserted in a reply just sent.

    An atomic ``usage_count + 1`` in one UPDATE, so concurrent replies never lose a count; an
    id listed twice counts once. Returns how many answers were counted.
    """
    wanted = set(ids)
    if not wanted:
        return 0
    return (
        CannedResponse.objects.filter(pk__in=wanted)
        .filter(Q(owner__isnull=True) | Q(owner=user))
        .update(usage_count=F("usage_count") + 1)
    )


@transaction.atomic
def canned_response_save(*, owner: User | None, answer: CannedResponse) -> CannedResponse:
    """Save an answer validated by its form, as ``owner``'s (``None``: shared, admin only).

    A shortcut taken by a concurrent save is settled by the unique constraint: the caller gets
    a ``ValidationError`` on the shortcut, never a duplicate.
    """
    if answer.pk is not None and answer.owner_id != (owner.pk if owner else None):
        raise PermissionDenied(_("This canned response is not yours."))
    answer.owner = owner
    try:
        with transaction.atomic():
            answer.save()
    except IntegrityError as error:
        raise ValidationError(
            {"shortcut": _("You already have a canned response with this shortcut.")}
        ) from error
    return answer


@transaction.atomic
def canned_response_delete(*, user: User, answer: CannedResponse) -> None:
    """Delete one of ``user``'s own answers; a shared one or another agent's is refused."""
    if answer.owner_id != user.pk:
        raise PermissionDenied(_("This canned response is not yours."))
    answer.delete()
