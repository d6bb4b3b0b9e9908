"""IMAP in: every enabled mail account's folder read by UID cursor into InboundEvents.

Per batch, one transaction stores the fetched mails and advances the folder's cursor, so a
connection that drops mid-way loses nothing and the next poll resumes after the last committed
batch. Mails are fetched with ``BODY.PEEK[]``: nothing is marked read, moved or deleted. When the
folder's UIDVALIDITY changes the folder is read again from UID 1; the Message-ID dedupe key keeps
that from storing anything twice.

One poll of an account runs at a time, under a lock that dies with its holder
(``channels_adapters.email.poll_lock``): a poller killed mid-poll blocks nothing, and the next
poll starts by queueing ingest for the account's events still pending, which a killed poll may
have committed without living to queue their ingest task.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from imapclient import IMAPClient

from channels_adapters.email.adapter import mail_dedupe_key
from channels_adapters.email.errors import FolderMissing, describe_error
from channels_adapters.email.poll_lock import PollLock, mail_poll_lock
from channels_adapters.models import InboundEvent, MailboxCursor
from channels_adapters.services import event_record, ingest_kick
from configuration.models import MailAccount

logger = logging.getLogger(__name__)

IMAP_TIMEOUT = 30
#: Mails per FETCH and per stored batch, and the most bytes one batch may hold in memory.
BATCH_SIZE = 100
BATCH_BYTES = 32 * 1024 * 1024


def imap_connect(account: MailAccount, *, timeout: float = IMAP_TIMEOUT) -> IMAPClient:
    """A logged-in IMAP session with the account's security setting."""
    context = ssl.create_default_context()
    client = IMAPClient(
        account.imap_host,
        port=account.imap_port,
        ssl=account.imap_security == MailAccount.Security.SSL,
        ssl_context=context,
        timeout=timeout,
    )
    try:
        if account.imap_security == MailAccount.Security.STARTTLS:
            client.starttls(context)
        client.login(account.login, account.password)
    except BaseException:
        with contextlib.suppress(Exception):  # already broken: the first error matters
            client.shutdown()
        raise
    return client


def imap_select(client: IMAPClient, folder: str) -> int:
    """Select ``folder`` read-only; returns its UIDVALIDITY."""
    try:
        info = client.select_folder(folder, readonly=True)
    except IMAPClient.Error as exc:
        raise FolderMissing(folder) from exc
    return int(info[b"UIDVALIDITY"])


@dataclass
class PollResult:
    account: str
    fetched: int = 0
    stored: int = 0
    error: str = ""
    #: Another poll of this account was running: this one did nothing.
    busy: bool = False


def _batches(sizes: dict[int, int], uids: list[int], *, count: int, limit: int) -> list[list[int]]:
    """``uids`` in order, cut into batches of at most ``count`` mails and ``limit`` bytes (a
    mail larger than ``limit`` goes alone)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= count or total + size > limit):
            batches.append(batch)
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        batches.append(batch)
    return batches


def _cursor(account: MailAccount, folder: str, uidvalidity: int) -> MailboxCursor:
    cursor, _created = MailboxCursor.objects.get_or_create(
        mail_account=account, folder=folder, defaults={"uidvalidity": uidvalidity}
    )
    return cursor


def _store_batch(
    *, account: MailAccount, cursor_id: int, uidvalidity: int, uids: list[int], data: dict
) -> int:
    """One transaction: the batch's events and the cursor moved past them."""
    stored = 0
    with transaction.atomic():
        cursor = MailboxCursor.objects.select_for_update().get(pk=cursor_id)
        floor = cursor.last_uid if cursor.uidvalidity == uidvalidity else 0
        for uid in uids:
            if uid <= floor:
                continue  # another poller committed it meanwhile
            body = (data.get(uid) or {}).get(b"BODY[]")
            if body is None:
                continue  # expunged between SEARCH and FETCH
            _event, created = event_record(
                account=account, body=bytes(body), dedupe_key=mail_dedupe_key(bytes(body))
            )
            stored += int(created)
        cursor.uidvalidity = uidvalidity
        cursor.last_uid = max([floor, *uids])
        cursor.save(update_fields=["uidvalidity", "last_uid", "updated_at"])
    return stored


def mailbox_poll(
    *,
    account: MailAccount,
    batch_size: int = BATCH_SIZE,
    batch_bytes: int = BATCH_BYTES,
    connect: Callable[[MailAccount], IMAPClient] = imap_connect,
) -> PollResult:
    """Fetch the account's new mails into InboundEvents. Raises on connection errors; what
    was committed before stays committed. Returns at once (``busy``) when another poll of the
    account is running.

    Under the account's poll lock, first the account's pending events get an ingest task
    (``_queue_left_events``), then the folder is read batch by batch; the lock is checked
    before each batch's FETCH, and a lost lock (``PollLockLost``) ends the poll."""
    result = PollResult(account=account.name)
    with mail_poll_lock(account=account) as lock:
        if lock is None:
            result.busy = True
            return result
        _queue_left_events(account)
        _poll(
            account, result, lock, batch_size=batch_size, batch_bytes=batch_bytes, connect=connect
        )
    return result


def _queue_left_events(account: MailAccount) -> None:
    """Queue ingest now for the account's events still pending. A poll killed between a
    batch's commit and its after-commit kick left its events with no task; without this they
    would wait for the periodic sweep. The kick is coalesced (one ``SET NX`` when a task is
    already queued; at most one more task when one is already working them), so pending events
    that do have a task cost next to nothing. That is why there is no age threshold: it would
    delay exactly the events of a poller restarted at once. Embedded (eager Celery) the kick
    ingests them here, before the poll."""
    if InboundEvent.objects.filter(
        channel_account=account, status=InboundEvent.Status.PENDING
    ).exists():
        logger.info("mail account %s: pending events found; queueing ingest", account.name)
        ingest_kick()


def _poll(
    account: MailAccount,
    result: PollResult,
    lock: PollLock,
    *,
    batch_size: int,
    batch_bytes: int,
    connect: Callable[[MailAccount], IMAPClient],
) -> None:
    folder = account.imap_folder or "INBOX"
    client = connect(account)
    try:
        uidvalidity = imap_select(client, folder)
        cursor = _cursor(account, folder, uidvalidity)
        last_uid = cursor.last_uid if cursor.uidvalidity == uidvalidity else 0
        if cursor.uidvalidity != uidvalidity:
            logger.info(
                "mail account %s: %s changed UIDVALIDITY, reading again", account.name, folder
            )
        # "n:*" always answers the highest UID, even when it is below n: filter.
        uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
        sizes = {
            uid: int(item.get(b"RFC822.SIZE") or 0)
            for uid, item in (client.fetch(uids, ["RFC822.SIZE"]) if uids else {}).items()
        }
        for batch in _batches(sizes, uids, count=batch_size, limit=batch_bytes):
            lock.check()
            data = client.fetch(batch, ["BODY.PEEK[]"])
            result.fetched += len(batch)
            result.stored += _store_batch(
                account=account,
                cursor_id=cursor.pk,
                uidvalidity=uidvalidity,
                uids=batch,
                data=data,
            )
        if not uids and cursor.uidvalidity != uidvalidity:
            MailboxCursor.objects.filter(pk=cursor.pk).update(uidvalidity=uidvalidity, last_uid=0)
    finally:
        with contextlib.suppress(Exception):  # the connection may already be gone
            client.logout()


def mail_accounts_poll(*, batch_size: int = BATCH_SIZE) -> list[PollResult]:
    """Poll every enabled mail account; one account's failure is logged and the rest go on."""
    results = []
    for account in MailAccount.objects.filter(enabled=True).order_by("pk"):
        try:
            result = mailbox_poll(account=account, batch_size=batch_size)
        except Exception as exc:
            error = describe_error(
                exc, host=account.imap_host, port=account.imap_port, secret=account.password
            )
            logger.warning("mail account %s: polling failed: %s", account.name, error)
            result = PollResult(account=account.name, error=error)
        else:
            if result.busy:
                logger.info("mail account %s: a poll is still running; skipped", account.name)
            elif result.stored:
                logger.info("mail account %s: %s new mails", account.name, result.stored)
        results.append(result)
    return results
