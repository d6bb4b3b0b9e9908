from celery import shared_task


@shared_task(name="omnico.ping")
def ping(token: str) -> str:
    """Answered by whichever worker takes it: /healthz/worker uses it to prove a worker runs."""
    return f"pong:{token}"
