import threading

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator

from omnico.asgi import django_asgi_app


async def _thread_of_a_request() -> str:
    response = await HttpCommunicator(
        django_asgi_app, "GET", "/thread/", headers=[(b"host", b"testserver")]
    ).get_response()
    assert response["status"] == 200
    return response["body"].decode()


@pytest.mark.urls("tests.omnico.urls_thread")
def test_requests_one_after_another_reuse_one_thread_instead_of_starting_one_each(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    # Django starts a thread for every request from the event loop (and joins it after): with
    # many sockets on one process that stalled the loop on every request.
    before = threading.active_count()

    async def scenario() -> list[str]:
        return [await _thread_of_a_request() for _ in range(5)]

    threads = async_to_sync(scenario)()

    assert len(set(threads)) == 1
    assert threading.active_count() <= before + 1
