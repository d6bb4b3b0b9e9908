import json
import secrets
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from tests.omnico.helpers import REPO, clean_env, settings_in_subprocess

FULL_STACK = {
    "DATABASE_URL": "postgres://omnico:pw@127.0.0.1:5999/omnico",
    "REDIS_URL": "redis://127.0.0.1:6999/0",
}


def read_settings(env, *names):
    result = settings_in_subprocess(env, *names)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_services_omnico_runs_embedded(tmp_path):
    values = read_settings(
        clean_env(tmp_path),
        "DATABASES",
        "CHANNEL_LAYERS",
        "CELERY_TASK_ALWAYS_EAGER",
        "OMNICO_SCHEDULER",
    )

    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert str(tmp_path / "var") in values["DATABASES"]["default"]["NAME"]
    assert values["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert values["CELERY_TASK_ALWAYS_EAGER"] is True
    assert values["OMNICO_SCHEDULER"] is True


def test_with_database_and_redis_urls_omnico_runs_the_full_stack(tmp_path):
    values = read_settings(
        clean_env(tmp_path, **FULL_STACK),
        "DATABASES",
        "CHANNEL_LAYERS",
        "CELERY_TASK_ALWAYS_EAGER",
        "CELERY_BROKER_URL",
        "OMNICO_SCHEDULER",
    )

    database = values["DATABASES"]["default"]
    # Django's PostgreSQL backend with a pool that survives a server restart.
    assert database["ENGINE"] == "omnico.core.postgres"
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["connect_timeout"] == 2
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("127.0.0.1", 5999, "omnico")
    layer = values["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert values["CELERY_TASK_ALWAYS_EAGER"] is False
    assert values["CELERY_BROKER_URL"] == FULL_STACK["REDIS_URL"]
    assert values["OMNICO_SCHEDULER"] is False  # Celery beat drives the schedule instead


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "maybe"), ("OMNICO_DB_POOL_MAX", "lots"), ("OMNICO_MAIL_POLL_SECONDS", "0")],
)
def test_a_bad_environment_value_fails_at_start_naming_the_variable(tmp_path, name, value):
    result = settings_in_subprocess(clean_env(tmp_path, **FULL_STACK, **{name: value}), "DEBUG")

    assert result.returncode != 0
    assert name in result.stderr
    assert value in result.stderr


def test_deploy_checks_pass_with_production_settings(tmp_path):
    env = clean_env(
        tmp_path,
        **FULL_STACK,
        DEBUG="0",
        OMNICO_HTTPS="1",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="omnico.example.com",
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_healthz_answers_without_login_with_the_database_ok(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if django_settings.REDIS_URL else "embedded")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_reports_an_unreachable_redis_as_unhealthy(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"] == "error"
    assert response.json()["database"] == "ok"
