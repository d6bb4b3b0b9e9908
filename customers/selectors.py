"""Reads of customers that more than one app needs."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from customers.models import Customer, Identity
from omnico.core.db import PreparedQuery, QueryValues


def customers_by_identity(*, kind: str, external_ids: Iterable[str]) -> dict[str, Customer]:
    """The known customers behind many identities of one channel kind, in one query, by
    external id. Unknown ids are not in the result (``customer_resolve`` creates them)."""
    ids = set(external_ids)
    if not ids:
        return {}
    identities = _BY_IDENTITY.instances(kind=kind, ids=sorted(ids))
    return {identity.external_id: identity.customer for identity in identities}


def _by_identity(values: QueryValues) -> QuerySet[Identity]:
    return Identity.objects.select_related("customer").filter(
        values.any_in("external_id", "ids"), kind=values.one("kind")
    )


#: Run for every inbound message: its SQL built once per process (``PreparedQuery``).
_BY_IDENTITY = PreparedQuery(_by_identity)
