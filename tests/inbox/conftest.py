import re
from typing import NamedTuple

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

#: A ticket's row in the inbox (ticket-row-N) or in the tickets list (list-row-N).
ROW_ID = re.compile(r'id="(?:ticket|list)-row-\d+"')


class PageCost(NamedTuple):
    status: int
    queries: int
    sql: list[str]
    rows: int
    content: str


@pytest.fixture
def count_queries():
    """GET a page and return (status code, number of SQL queries, the SQL for failure output)."""

    def run(client, url, **extra):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, **extra)
        return response.status_code, len(ctx.captured_queries), [q["sql"] for q in ctx]

    return run


@pytest.fixture
def measure_page():
    """GET a page and return what a query-count test needs: status, number of SQL queries,
    the SQL (for failure output) and how many ticket rows the page shows."""

    def run(client, url, **extra) -> PageCost:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, **extra)
        content = response.content.decode()
        rows = len(ROW_ID.findall(content))
        return PageCost(response.status_code, len(ctx), [q["sql"] for q in ctx], rows, content)

    return run
