import os
import sys

import pytest
from django.core.management import CommandError, call_command

from omnico.management.commands import serve
from tests.omnico.helpers import Process, clean_env, free_port, wait_until_ok


@pytest.fixture
def fake_uvicorn(monkeypatch):
    calls = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    return calls


@pytest.fixture
def fake_scheduler(monkeypatch):
    events = []

    class FakeScheduler:
        entries = ["mail"]

        @classmethod
        def from_settings(cls):
            return cls()

        def start(self):
            events.append("start")

        def stop(self):
            events.append("stop")

    monkeypatch.setattr(serve, "Scheduler", FakeScheduler)
    return events


def test_serve_runs_the_asgi_app_with_websockets_on_the_given_address(
    fake_uvicorn, fake_scheduler, settings
):
    settings.OMNICO_SCHEDULER = False
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    call_command("serve", host="127.0.0.2", port=8123, workers=3, no_collectstatic=True)

    [(app, kwargs)] = fake_uvicorn
    assert app == "omnico.asgi:application"
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.2", 8123, 3)
    assert fake_scheduler == []


@pytest.mark.parametrize("compression", [True, False])
def test_serve_compresses_each_websocket_frame_once_for_every_socket_unless_turned_off(
    fake_uvicorn, fake_scheduler, settings, compression
):
    from omnico.ws_protocol import SharedDeflateProtocol

    settings.OMNICO_SCHEDULER = False
    settings.OMNICO_WS_COMPRESSION = compression

    call_command("serve", no_collectstatic=True)

    [(_app, kwargs)] = fake_uvicorn
    assert kwargs["ws"] is SharedDeflateProtocol
    assert kwargs["ws_per_message_deflate"] is compression


def test_serve_runs_the_embedded_scheduler_while_serving(fake_uvicorn, fake_scheduler, settings):
    settings.OMNICO_SCHEDULER = True

    call_command("serve", no_collectstatic=True)

    assert fake_scheduler == ["start", "stop"]
    assert len(fake_uvicorn) == 1


def test_serve_refuses_several_workers_without_redis(fake_uvicorn, fake_scheduler, settings):
    settings.REDIS_URL = ""

    with pytest.raises(CommandError, match="REDIS_URL"):
        call_command("serve", workers=2, no_collectstatic=True)

    assert fake_uvicorn == []


def test_static_files_are_collected_once_then_again_only_after_a_change(
    settings, tmp_path, fake_uvicorn
):
    source = tmp_path / "static-src"
    (source / "css").mkdir(parents=True)
    style = source / "css" / "extra.css"
    style.write_text("body { color: black; }")
    settings.STATICFILES_DIRS = [source]
    settings.STATIC_ROOT = tmp_path / "collected"

    assert serve.collectstatic_if_needed() is True
    assert (tmp_path / "collected" / "css" / "extra.css").exists()
    assert (tmp_path / "collected" / "admin" / "css" / "base.css").exists()
    assert serve.collectstatic_if_needed() is False

    style.write_text("body { color: navy; }")
    later = style.stat().st_mtime + 10  # an edit made after the last collection
    os.utime(style, (later, later))
    assert serve.collectstatic_if_needed() is True
    assert "navy" in (tmp_path / "collected" / "css" / "extra.css").read_text()


def test_serve_answers_http_embedded_without_any_service(tmp_path):
    port = free_port()
    process = Process(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        env=clean_env(tmp_path, OMNICO_MAIL_POLL_SECONDS="1"),
        log=tmp_path / "serve.log",
    )
    try:
        status, body = wait_until_ok(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.stop()

    assert status == 200
    assert (body["database"], body["redis"]) == ("ok", "embedded")
    assert "Embedded scheduler" in process.output()
    assert (tmp_path / "var" / "staticfiles" / "admin" / "css" / "base.css").exists()


def test_static_files_are_collected_again_when_the_storage_changes(settings, tmp_path):
    """A checkout collected plainly before OMNICO_STATIC_COLLECTED=1 has no manifest: every
    page would fail until the files are collected again with the manifest storage."""
    source = tmp_path / "static-src"
    source.mkdir()
    (source / "site.css").write_text("body { color: black; }")
    settings.STATICFILES_DIRS = [source]
    settings.STATIC_ROOT = tmp_path / "collected"
    assert serve.collectstatic_if_needed() is True

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }

    assert serve.collectstatic_if_needed() is True
    assert (tmp_path / "collected" / "staticfiles.json").exists()
