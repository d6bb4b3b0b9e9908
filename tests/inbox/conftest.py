import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.fixture
def count_queries():
    """GET a page and return (status code, number of SQL queries, the SQL for failure output)."""

    def run(client, url, **extra):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, **extra)
        return response.status_code, len(ctx.captured_queries), [q["sql"] for q in ctx]

    return run
