"""Long-lived processes freeze what their start-up made (``omnico.core.gc_freeze``): a full
garbage collection then walks only what the process made since, instead of the ~130,000
objects its imports hold, which paused a web process's sockets and a worker's ingest for
50-190 ms at a time."""

from __future__ import annotations

import subprocess
import sys

from tests.omnico.helpers import REPO, clean_env

#: Run in a fresh interpreter after ``setup``: the objects frozen, and those a full collection
#: still walks.
PROBE = """
import gc
{setup}
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def _probe(tmp_path, setup: str) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        cwd=REPO,
        env={**clean_env(tmp_path), "DJANGO_SETTINGS_MODULE": "omnico.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    frozen, tracked = done.stdout.split()
    return int(frozen), int(tracked)


def test_a_web_process_freezes_its_start_up_and_collections_walk_only_the_rest(tmp_path):
    frozen, tracked = _probe(tmp_path, "import omnico.asgi")
    assert frozen > 50_000  # Django, the apps and their libraries (about 130,000)
    assert tracked < frozen / 10  # what a full collection still walks


def test_a_worker_child_freezes_what_it_inherited(tmp_path):
    setup = (
        "import django; django.setup()\n"
        "from celery.signals import worker_process_init\n"
        "from omnico.celery import app\n"
        "worker_process_init.send(sender=None)"
    )
    frozen, tracked = _probe(tmp_path, setup)
    assert frozen > 50_000
    assert tracked < frozen / 10
