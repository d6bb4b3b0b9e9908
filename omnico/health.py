"""Health checks for load balancers and docker-compose."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "embedded"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks: dict[str, str] = {}
    healthy = True
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            logger.warning("health check %s failed: %s", name, exc.__class__.__name__)
            checks[name] = "error"
            healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


@never_cache
@require_GET
def healthz_worker(request):
    """Send a task and wait for a worker to answer it: proves the queue end to end."""
    from omnico.tasks import ping

    token = uuid.uuid4().hex
    try:
        result = ping.apply_async(args=(token,), ignore_result=False)
        answer = result.get(timeout=10)
    except Exception as exc:  # noqa: BLE001
        logger.warning("worker health check failed: %s", exc.__class__.__name__)
        return JsonResponse({"status": "error", "worker": "no answer"}, status=503)
    healthy = answer == f"pong:{token}"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "worker": answer}, status=200 if healthy else 503
    )
