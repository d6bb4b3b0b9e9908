"""Small builders for test data: plain functions over the real services where one exists."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from configuration.models import ChannelAccount, ChannelKind, OperatorProfile
from customers.models import Customer
from customers.services import customer_resolve
from tickets.models import Ticket
from tickets.receiving import Incoming, ticket_receive

_seq = itertools.count(1)


def make_user(username: str | None = None, *, staff: bool = False, capacity: int | None = 5, **kw):
    username = username or f"user{next(_seq)}"
    user = get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", is_staff=staff, is_superuser=staff, **kw
    )
    if capacity is not None:
        OperatorProfile.objects.create(user=user, capacity=capacity)
    return user


def make_account(kind: str = ChannelKind.TELEGRAM, name: str | None = None, **kw) -> ChannelAccount:
    return ChannelAccount.objects.create(
        kind=kind, name=name or f"{kind}-{next(_seq)}", token="t0ken", secret="s3cret", **kw
    )


def make_customer(kind: str = ChannelKind.TELEGRAM, external_id: str | None = None, name="Ayşe"):
    return customer_resolve(kind=kind, external_id=external_id or str(next(_seq)), name=name)


def make_ticket(
    *, account: ChannelAccount | None = None, customer: Customer | None = None, body="Merhaba"
) -> Ticket:
    account = account or make_account()
    customer = customer or make_customer(kind=account.kind)
    return ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body=body, external_id=f"m{next(_seq)}"),
    ).ticket
