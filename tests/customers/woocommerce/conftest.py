import pytest

from customers.models import WooCommerceConnection
from tests.fakes.woocommerce import FakeWooCommerce


@pytest.fixture
def shop():
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def connection(db, shop):
    return WooCommerceConnection.objects.create(
        store_url=shop.url, consumer_key=shop.key, consumer_secret=shop.secret, timeout_seconds=2
    )
