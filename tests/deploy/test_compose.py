"""docker-compose.yml: valid by the Compose Specification's schema, and safe by default (the web
port on localhost only, no default database password, HTTPS settings on, one beat with a health
check, connection budget under PostgreSQL's limit). No engine here: the file is read and
interpolated as Compose does, and Omnico's settings are loaded with its environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.deploy.compose import InterpolationError, environment, interpolate, load, raw
from tests.omnico.helpers import clean_env, settings_in_subprocess

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "compose_spec/compose-spec.json").read_text())
#: The least a deployment's .env must hold.
DOT_ENV = {"POSTGRES_PASSWORD": "correct-horse-battery"}
OMNICO_SERVICES = ("migrate", "web", "worker", "beat")


def _image_env() -> dict[str, str]:
    """The ENV of scripts/Dockerfile (what every container starts with), PATH aside."""
    text = re.sub(r"\\\n", " ", (ROOT / "scripts/Dockerfile").read_text())
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    env.pop("PATH")
    return env


def _container_env(tmp_path: Path, service: str, **dot_env: str) -> dict[str, str]:
    compose = load({**DOT_ENV, **dot_env})
    env = clean_env(tmp_path, **_image_env())
    env.update(environment(compose["services"][service]))
    env["OMNICO_VAR_DIR"] = str(tmp_path / "var")
    env["OMNICO_STATIC_ROOT"] = str(tmp_path / "static")
    return env


def test_the_file_is_valid_by_the_compose_specification_schema():
    jsonschema.Draft201909Validator(SCHEMA).validate(raw())
    jsonschema.Draft201909Validator(SCHEMA).validate(load(DOT_ENV))


def test_the_schema_catches_a_broken_file():
    broken = raw()
    broken["services"]["web"]["healthcheck"]["retries"] = "three"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(SCHEMA).validate(broken)


def test_interpolation_follows_compose():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$HOSTNAME", env) == (
        "x d  d $HOSTNAME"
    )
    with pytest.raises(InterpolationError, match="EMPTY: needed"):
        interpolate("${EMPTY:?needed}", env)


def test_compose_refuses_to_start_without_a_database_password():
    with pytest.raises(InterpolationError, match="POSTGRES_PASSWORD"):
        load({})
    with pytest.raises(InterpolationError, match="POSTGRES_PASSWORD"):
        load({"POSTGRES_PASSWORD": ""})


def test_the_database_password_is_the_one_given_everywhere():
    services = load(DOT_ENV)["services"]

    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == "correct-horse-battery"
    for name in OMNICO_SERVICES:
        url = environment(services[name])["DATABASE_URL"]
        assert url == "postgres://omnico:correct-horse-battery@pgbouncer:6432/omnico"
    assert environment(services["pgbouncer"])["DB_PASSWORD"] == "correct-horse-battery"
    assert "omnico}" not in (ROOT / "docker-compose.yml").read_text()  # no ${...:-omnico}


def test_the_web_port_listens_on_localhost_unless_told_otherwise():
    assert load(DOT_ENV)["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]
    published = load({**DOT_ENV, "OMNICO_BIND": "0.0.0.0", "OMNICO_PORT": "80"})  # noqa: S104
    assert published["services"]["web"]["ports"] == ["0.0.0.0:80:8000"]
    for name, service in load(DOT_ENV)["services"].items():
        assert name == "web" or "ports" not in service, f"{name} publishes a port"


def test_a_stopping_worker_is_given_the_time_its_ingest_task_may_run():
    """A warm shutdown waits for running tasks; the ingest task at a trickle hands over only
    after INGEST_TASK_SECONDS. Docker's default of 10 s would kill it first."""
    from channels_adapters.services.inbound import INGEST_TASK_SECONDS

    grace = load(DOT_ENV)["services"]["worker"].get("stop_grace_period", "10s")
    match = re.fullmatch(r"(\d+)s", grace)
    assert match, grace
    assert int(match[1]) > INGEST_TASK_SECONDS + 5


def test_the_app_refuses_a_networked_database_without_a_password(tmp_path):
    env = _container_env(tmp_path, "web")
    env["DATABASE_URL"] = "postgres://omnico:@postgres:5432/omnico"

    result = settings_in_subprocess(env, "DATABASES")

    assert result.returncode != 0
    assert "DATABASE_URL names the PostgreSQL server 'postgres' without a password" in (
        result.stderr
    )


def test_https_settings_are_on_with_the_compose_defaults(tmp_path):
    result = settings_in_subprocess(
        _container_env(tmp_path, "web"),
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "DEBUG",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "DEBUG": False,
    }


def test_a_plain_http_trial_turns_them_off(tmp_path):
    env = _container_env(tmp_path, "web", OMNICO_HTTPS="0")

    result = settings_in_subprocess(env, "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE")

    assert json.loads(result.stdout) == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
    }


def test_check_deploy_is_clean_with_the_compose_defaults(tmp_path):
    services = load(DOT_ENV)["services"]
    assert all(
        environment(services[name]) == environment(services["web"]) for name in OMNICO_SERVICES
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=_container_env(tmp_path, "web"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_one_beat_with_a_health_check_that_pings_it():
    services = load(DOT_ENV)["services"]
    beat = services["beat"]

    assert "deploy" not in beat and "scale" not in beat  # replicas: one
    assert beat["command"][:4] == ["celery", "-A", "omnico", "beat"]
    assert "--schedule" not in beat["command"]  # in memory: see omnico/beat.py
    assert beat["healthcheck"]["test"] == [
        "CMD-SHELL",
        "celery -A omnico inspect ping --destination celerybeat@$HOSTNAME --timeout 5",
    ]


def test_every_long_running_service_has_a_health_check():
    for name, service in load(DOT_ENV)["services"].items():
        if name != "migrate":
            assert not service["healthcheck"].get("disable"), name


def test_the_connection_budget_of_the_defaults_and_a_scaled_stack_fits_postgres():
    services = load(DOT_ENV)["services"]
    web_env = environment(services["web"])
    max_connections = int(
        re.search(r"max_connections=(\d+)", " ".join(services["postgres"]["command"]))[1]
    )
    web_workers = int(services["web"]["command"][services["web"]["command"].index("--workers") + 1])
    pool = int(web_env["OMNICO_DB_POOL_MAX"])
    concurrency = int(environment(services["worker"])["OMNICO_WORKER_CONCURRENCY"])
    usable = max_connections - 3  # PostgreSQL's superuser_reserved_connections

    def budget(webs: int, workers: int) -> int:
        return webs * web_workers * pool + workers * concurrency + 1  # + migrate

    bouncer = environment(services["pgbouncer"])
    bouncer_pool = int(bouncer["PGBOUNCER_POOL_SIZE"])
    assert budget(1, 1) == 25
    # Every client connection of a scaled stack gets a server connection without waiting, and
    # PgBouncer never asks PostgreSQL for more than it allows.
    assert budget(3, 2) <= bouncer_pool <= usable
    assert budget(3, 2) <= int(bouncer["PGBOUNCER_MAX_CLIENT_CONN"])


def test_omnico_reaches_postgres_only_through_pgbouncer_in_transaction_pooling(tmp_path):
    services = load(DOT_ENV)["services"]
    for name in OMNICO_SERVICES:
        assert "pgbouncer" in services[name]["depends_on"], name
        assert "postgres" not in services[name]["depends_on"], name
    assert services["pgbouncer"]["build"]["context"] == "scripts/pgbouncer"
    assert "ports" not in services["pgbouncer"]
    entrypoint = (ROOT / "scripts/pgbouncer/entrypoint.sh").read_text()
    assert "pool_mode = transaction" in entrypoint

    result = settings_in_subprocess(_container_env(tmp_path, "web"), "DATABASES")

    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)["DATABASES"]["default"]
    assert (database["HOST"], database["PORT"]) == ("pgbouncer", 6432)
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["OPTIONS"]["prepare_threshold"] is None
