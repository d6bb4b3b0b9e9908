"""Database helpers shared by the apps (the floor: imports Django, never an app)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connections, router
from django.db.models import Field, Model


def insert_unless_duplicate(instance: Model, *, conflict_fields: Sequence[str] = ()) -> bool:
    """Insert ``instance`` in one statement unless a row with the same unique key exists.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (PostgreSQL and SQLite 3.35+): True when
    the row was stored (``instance.pk`` is then set), False when it was a duplicate. Why not
    ``save()`` in a savepoint and catch ``IntegrityError``: the hot paths (a webhook's event, an
    inbound message) would pay a savepoint and, on a redelivery, an error round trip; and why
    not a look-up first: a concurrent insert would slip between the two. ``conflict_fields``
    names the unique key to watch; left empty, any unique conflict (including a partial unique
    index, which a conflict target would have to repeat the predicate of) means "duplicate".
    Defaults and ``auto_now_add`` are applied as ``save()`` applies them; no signals are sent.
    """
    model = type(instance)
    meta = model._meta
    db = router.db_for_write(model, instance=instance)
    connection = connections[db]
    quote = connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    target = ", ".join(
        quote(cast("Field[Any, Any]", meta.get_field(name)).column) for name in conflict_fields
    )
    # Only quoted names from the model's own metadata go into the text; values are parameters.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT {f'({target}) ' if target else ''}DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = db
    return True
