"""Database helpers shared by the apps (the floor: imports Django, never an app)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast

from django.db import DatabaseError, InterfaceError, OperationalError, connections, router
from django.db.models import F, Field, Lookup, Model, Q, Value

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


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
    db = router.db_for_write(model, instance=instance)
    connection = connections[db]
    sql, values = _insert_ignoring_conflicts(model, [instance], connection, conflict_fields, ())
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = db
    return True


def insert_many_unless_duplicate(
    instances: Sequence[Model], *, conflict_fields: Sequence[str]
) -> list[bool]:
    """``insert_unless_duplicate`` for many rows of one model in one statement: for each
    instance, True when it was stored (its pk is then set), False when a row with the same
    ``conflict_fields`` existed (or came earlier in ``instances``). The rows are told apart by
    those fields, which the statement returns with the new ids."""
    if not instances:
        return []
    model = type(instances[0])
    db = router.db_for_write(model, instance=instances[0])
    connection = connections[db]
    meta = model._meta
    keys = [cast("Field[Any, Any]", meta.get_field(name)).attname for name in conflict_fields]
    sql, values = _insert_ignoring_conflicts(model, instances, connection, conflict_fields, keys)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        stored = {tuple(row[1:]): row[0] for row in cursor.fetchall()}
    result = []
    for instance in instances:
        pk = stored.pop(tuple(getattr(instance, key) for key in keys), None)
        if pk is not None:
            instance.pk = pk
            instance._state.adding = False
            instance._state.db = db
        result.append(pk is not None)
    return result


def _insert_ignoring_conflicts(
    model: type[Model],
    instances: Sequence[Model],
    connection: Any,
    conflict_fields: Sequence[str],
    returning: Sequence[str],
) -> tuple[str, list[Any]]:
    """``INSERT ... VALUES (...), ... ON CONFLICT DO NOTHING RETURNING id[, returning]`` and
    its parameters. Defaults and ``auto_now_add`` are applied as ``save()`` applies them."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    values = [
        f.get_db_prep_save(f.pre_save(instance, True), connection)
        for instance in instances
        for f in fields
    ]
    target = ", ".join(
        quote(cast("Field[Any, Any]", meta.get_field(name)).column) for name in conflict_fields
    )
    row = f"({', '.join(['%s'] * len(fields))})"
    columns = [quote(meta.pk.column)] + [
        quote(cast("Field[Any, Any]", meta.get_field(name)).column) for name in returning
    ]
    # Only quoted names from the model's own metadata go into the text; values are parameters.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(instances))} "
        f"ON CONFLICT {f'({target}) ' if target else ''}DO NOTHING "
        f"RETURNING {', '.join(columns)}"
    )
    return sql, values


_pool_wait: ContextVar[float | None] = ContextVar("omnico_pool_wait", default=None)


@contextmanager
def pool_wait(seconds: float) -> Iterator[None]:
    """Wait at most ``seconds`` for a pooled database connection inside this block (this
    thread or task); past it a query raises ``django.db.OperationalError``. A connection the
    code already holds is unaffected, and so is a database without the pool (SQLite, or
    ``OMNICO_DB_POOL=0``). Read by ``omnico.core.postgres``."""
    token = _pool_wait.set(seconds)
    try:
        yield
    finally:
        _pool_wait.reset(token)


def pool_wait_seconds() -> float | None:
    """The wait ``pool_wait`` set here, or None (the pool's own timeout)."""
    return _pool_wait.get()


def sqlstate_of(exc: BaseException) -> str:
    """The SQLSTATE of the driver's error under a Django database error, or "none" (a
    connection that never reached a server, a closed one)."""
    cause = exc.__cause__ or exc.__context__
    return getattr(cause, "sqlstate", None) or getattr(exc, "sqlstate", None) or "none"


def retry_on_lost_connection(func: Callable[P, R]) -> Callable[P, R]:
    """Run an idempotent task's body once more when the database failed it.

    For Celery tasks (under ``@shared_task``) that are safe to run twice: a PostgreSQL restart
    or failover drops the connection a task is using ("terminating connection due to
    administrator command"), and without this the task is lost until a sweep finds its work.
    On ``OperationalError`` or ``InterfaceError`` (a dropped connection, the database out of
    reach, also a deadlock) every connection of this thread is closed, handed back to the pool
    (which discards a broken one), and the body runs again at once: the pool hands out only a
    connection that answers, waiting up to its timeout for the server. A second failure is
    raised. Inside a transaction (an eager task run by its caller) the error is the caller's.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            alive = connections.all(initialized_only=True)
            if any(conn.in_atomic_block for conn in alive):
                raise
            # The class and SQLSTATE only: the server's text may quote the statement's values,
            # and a warning for a retried task must not read like a failed one in the log.
            logger.warning(
                "%s: database error (%s, SQLSTATE %s); running it once more",
                func.__qualname__,
                exc.__class__.__name__,
                sqlstate_of(exc),
            )
            for conn in alive:
                with suppress(DatabaseError):  # a broken connection may fail to close
                    conn.close()
        return func(*args, **kwargs)

    return wrapper


# --- queries built once per process ---------------------------------------------------------


class _Slot:
    """Where a value of a ``PreparedQuery`` goes (compared by identity, never sent)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class QueryValues:
    """What a ``PreparedQuery``'s builder gets: ``one(name)`` for a value compared with ``=``
    (or any lookup that takes an expression), ``any_in(field, name)`` for ``field IN values``.
    Building the SQL they stand for ``%s`` placeholders filled at each run; building a plain
    queryset (SQLite) they are the values themselves."""

    def __init__(self, values: dict[str, Any] | None) -> None:
        self.values = values  # None: compiling with slots

    def one(self, name: str) -> Any:
        if self.values is not None:
            return self.values[name]
        return Value(_Slot(name), output_field=Field())

    def any_in(self, field: str, name: str) -> Any:
        if self.values is not None:
            return Q(**{f"{field}__in": self.values[name]})
        # PostgreSQL's ``= ANY(array)``: one text whatever the number of values.
        return _AnyOf(F(field), Value(_Slot(name), output_field=Field()))


class _AnyOf(Lookup):
    """``lhs = ANY(rhs)``, rhs one array parameter (PostgreSQL)."""

    lookup_name = "omnico_any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


class PreparedQuery:
    """A queryset whose SQL Django builds once per process and database, then runs again with
    other values: for the statements run for every inbound message, where building the
    query (filters, joins, ``select_related``, compiling) cost more CPU than running it.

    ``build(values)`` returns the queryset, taking every changing value from ``values``
    (``QueryValues``); nothing else in it may change between runs. ``instances(**values)``
    returns model instances as the queryset would (``select_related`` included), ``rows``
    the rows of a ``values_list`` one. ``limit`` appends ``LIMIT`` (the builder must not
    slice). On a database other than PostgreSQL the queryset is built and run as usual."""

    def __init__(self, build: Callable[[QueryValues], Any]) -> None:
        self.build = build
        self._compiled: dict[str, Any] = {}

    def _plain(self, values: dict[str, Any], limit: int | None) -> Any:
        queryset = self.build(QueryValues(values))
        return queryset[:limit] if limit is not None else queryset

    def _compile(self, connection: Any) -> Any:
        compiled = self._compiled.get(connection.alias)
        if compiled is None:
            queryset = self.build(QueryValues(None))
            compiler = queryset.query.get_compiler(using=connection.alias)
            sql, params = compiler.as_sql()
            fields = [s[0] for s in compiler.select[: compiler.col_count]]
            converters = compiler.get_converters(fields)
            compiled = self._compiled[connection.alias] = (sql, tuple(params), compiler, converters)
        return compiled

    def _execute(
        self, connection: Any, values: dict[str, Any], limit: int | None
    ) -> tuple[list[tuple[Any, ...]], Any]:
        sql, template, compiler, converters = self._compile(connection)
        params = [values[p.name] if isinstance(p, _Slot) else p for p in template]
        if limit is not None:
            sql, params = f"{sql} LIMIT %s", [*params, limit]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            converted = []
            for row in rows:
                row = list(row)
                for pos, (convs, expression) in converters.items():
                    value = row[pos]
                    for convert in convs:
                        value = convert(value, expression, connection)
                    row[pos] = value
                converted.append(tuple(row))
            rows = converted
        return rows, compiler

    def rows(self, *, limit: int | None = None, **values: Any) -> list[tuple[Any, ...]]:
        from django.db import connection

        if connection.vendor != "postgresql":
            return list(self._plain(values, limit))
        return self._execute(connection, values, limit)[0]

    def instances(self, *, limit: int | None = None, **values: Any) -> list[Any]:
        from django.db import connection
        from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

        if connection.vendor != "postgresql":
            return list(self._plain(values, limit))
        rows, compiler = self._execute(connection, values, limit)
        klass_info, select = compiler.klass_info, compiler.select
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [f[0].target.attname for f in select[start:end]]
        populators = get_related_populators(klass_info, select, connection.alias)
        found = []
        for row in rows:
            obj = model.from_db(connection.alias, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            found.append(obj)
        return found
