"""Keeping the shop data of the customers being served fresh, in the background."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

from customers.models import WooCommerceConnection, WooCustomer
from customers.woocommerce import services
from customers.woocommerce.services import woo_refresh_request
from inbox.shop import woo_refresh_active
from omnico import scheduler
from omnico.celery import app as omnico_app
from tests.factories import make_customer, make_ticket
from tests.fakes.woocommerce import FakeWooCommerce
from tickets.models import Ticket


@pytest.fixture
def shop():
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def eager():
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


@pytest.fixture
def connection(db, shop):
    return WooCommerceConnection.objects.create(
        store_url=shop.url, consumer_key=shop.key, consumer_secret=shop.secret
    )


def test_the_schedule_refreshes_customers_of_open_and_pending_tickets_only(
    connection, account, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", queued.extend)
    served = [make_ticket(account=account) for _ in range(2)]
    Ticket.objects.filter(pk=served[1].pk).update(status="pending")
    done = make_ticket(account=account)
    Ticket.objects.filter(pk=done.pk).update(status="resolved")

    with django_capture_on_commit_callbacks(execute=True):
        woo_refresh_active()
        woo_refresh_active()  # queued already: nothing more

    assert sorted(queued) == sorted(t.customer_id for t in served)


def test_beat_and_the_embedded_scheduler_share_the_entry():
    entry = settings.CELERY_BEAT_SCHEDULE["woocommerce-refresh-active"]
    omnico_app.loader.import_default_modules()  # what a worker does: autodiscovery
    assert entry["task"] in omnico_app.tasks
    parsed = scheduler.parse_schedule(settings.CELERY_BEAT_SCHEDULE)
    assert "woocommerce-refresh-active" in {e.name for e in parsed}


def test_embedded_the_refresh_runs_on_the_scheduler_thread_not_in_the_request(
    shop, connection, eager, monkeypatch, django_capture_on_commit_callbacks
):
    """Without a broker tasks run eagerly: the refresh is handed to the running scheduler
    (OmnicoTask, a background task), so the page that asked does not wait for the shop."""
    deferred = []

    class Running:
        running = True

        def call_later(self, delay, job):
            deferred.append(job)

    monkeypatch.setattr(scheduler, "_running", Running())
    customer = make_customer()
    customer.email = "ayse@example.com"
    customer.save(update_fields=["email"])
    shop.add_order(email="ayse@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        assert woo_refresh_request(customer_id=customer.pk)

    assert shop.requests == [] and len(deferred) == 1
    deferred[0]()  # the scheduler's thread, later
    record = WooCustomer.objects.get(customer=customer)
    assert record.order_count == 1 and record.requested_at is None
