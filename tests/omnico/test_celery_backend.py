import threading

from omnico.celery import app


def _backend_seen_from_new_thread() -> object:
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(app.backend))
    thread.start()
    thread.join()
    return seen[0]


def test_tasks_queued_from_request_threads_share_one_result_backend():
    # Django answers each ASGI request on a new thread; a backend per thread was built (its
    # connection pool, its URL parsed) for every request that queued a task.
    first = _backend_seen_from_new_thread()
    second = _backend_seen_from_new_thread()

    assert first is second
    assert app.backend is first
