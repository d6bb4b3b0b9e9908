from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from configuration.models import OperatorProfile

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
