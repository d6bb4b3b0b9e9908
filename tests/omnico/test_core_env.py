"""omnico.core.env.require_database_password: a PostgreSQL server reached over the network
needs a password (the compose stack's used to default to one anyone could read)."""

from __future__ import annotations

import pytest

from omnico.core.env import ImproperlyConfiguredEnv, require_database_password


@pytest.fixture(autouse=True)
def _no_libpq_password(monkeypatch):
    for name in ("PGPASSWORD", "PGPASSFILE", "OMNICO_DB_PASSWORDLESS"):
        monkeypatch.delenv(name, raising=False)


def test_a_networked_server_without_a_password_is_refused_naming_the_host():
    with pytest.raises(ImproperlyConfiguredEnv, match="'db.internal' without a password"):
        require_database_password({"HOST": "db.internal", "PASSWORD": ""})


@pytest.mark.parametrize(
    "database",
    [
        {"HOST": "db.internal", "PASSWORD": "s3cret"},
        {"HOST": "127.0.0.1", "PASSWORD": ""},
        {"HOST": "localhost"},
        {"HOST": "", "PASSWORD": ""},
        {"HOST": "/var/run/postgresql"},
    ],
)
def test_a_password_loopback_or_unix_socket_is_accepted(database):
    require_database_password(database)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PGPASSWORD", "s3cret"),
        ("PGPASSFILE", "/run/secrets/pgpass"),
        ("OMNICO_DB_PASSWORDLESS", "1"),
    ],
)
def test_libpqs_own_password_or_an_explicit_opt_out_is_accepted(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    require_database_password({"HOST": "db.internal", "PASSWORD": ""})
