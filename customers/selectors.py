"""Reads of customers that more than one app needs."""

from __future__ import annotations

from collections.abc import Iterable

from customers.models import Customer, Identity


def customers_by_identity(*, kind: str, external_ids: Iterable[str]) -> dict[str, Customer]:
    """The known customers behind many identities of one channel kind, in one query, by
    external id. Unknown ids are not in the result (``customer_resolve`` creates them)."""
    ids = set(external_ids)
    if not ids:
        return {}
    identities = Identity.objects.select_related("customer").filter(kind=kind, external_id__in=ids)
    return {identity.external_id: identity.customer for identity in identities}
