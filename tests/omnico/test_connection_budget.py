"""The connection budget (README, "Connection budget"): a worker holds at most its concurrency
in database connections (one per prefork child), and one setting sizes the worker and the
ingest slots alike."""

from __future__ import annotations

import json

from omnico.celery import pool_of_one
from tests.omnico.helpers import clean_env, settings_in_subprocess


def test_a_worker_childs_pool_holds_one_connection():
    databases = {
        "default": {"OPTIONS": {"pool": {"min_size": 2, "max_size": 20, "timeout": 10}}},
        "sqlite": {"OPTIONS": {}},
    }

    pool_of_one(databases)

    assert databases["default"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 1, "timeout": 10}
    assert databases["sqlite"] == {"OPTIONS": {}}


def test_every_worker_child_shrinks_the_configured_pools_when_it_starts(monkeypatch):
    from celery.signals import worker_process_init
    from django.conf import settings

    shrunk = []
    monkeypatch.setattr("omnico.celery.pool_of_one", shrunk.append)

    worker_process_init.send(sender=None)

    assert shrunk == [settings.DATABASES]


def test_worker_concurrency_sets_the_ingest_slots_unless_they_are_given(tmp_path):
    names = ("CELERY_WORKER_CONCURRENCY", "OMNICO_INGEST_SLOTS")

    tied = settings_in_subprocess(clean_env(tmp_path, OMNICO_WORKER_CONCURRENCY="6"), *names)
    given = settings_in_subprocess(
        clean_env(tmp_path, OMNICO_WORKER_CONCURRENCY="6", OMNICO_INGEST_SLOTS="12"), *names
    )

    assert json.loads(tied.stdout) == {"CELERY_WORKER_CONCURRENCY": 6, "OMNICO_INGEST_SLOTS": 6}
    assert json.loads(given.stdout) == {"CELERY_WORKER_CONCURRENCY": 6, "OMNICO_INGEST_SLOTS": 12}
