"""Reads of configuration: the canned responses an agent may use and manage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from configuration.canned import text_fold
from configuration.models import CannedResponse

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

#: Answers listed by the composer's search at most.
CANNED_SEARCH_LIMIT = 12


def canned_responses_usable(*, user: User | AnonymousUser) -> QuerySet[CannedResponse]:
    """Active answers ``user`` may insert: the shared ones and their own."""
    return CannedResponse.objects.filter(
        Q(owner__isnull=True) | Q(owner_id=user.pk), is_active=True
    )


def canned_responses_own(*, user: User | AnonymousUser) -> QuerySet[CannedResponse]:
    """The answers ``user`` owns (active or not): the ones their page lists and edits."""
    return CannedResponse.objects.filter(owner_id=user.pk).order_by("position", "title", "pk")


def canned_response_get_usable(*, user: User | AnonymousUser, pk: int) -> CannedResponse:
    """One answer ``user`` may insert; 404 for anyone else's, or an inactive one."""
    found = canned_responses_usable(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def canned_response_get_own(*, user: User | AnonymousUser, pk: int) -> CannedResponse:
    """One of ``user``'s own answers; 404 for a shared one or another agent's."""
    found = canned_responses_own(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def canned_response_search(
    *, user: User | AnonymousUser, query: str, language: str, limit: int = CANNED_SEARCH_LIMIT
) -> list[CannedResponse]:
    """Answers whose shortcut or title contains ``query`` (case, accents and Turkish dotted or
    dotless i ignored: "iade" finds "İade"), in one query.

    Order: answers in ``language`` (or in any language) first, then the agent's own before the
    shared ones, then the admin's order. A desk has tens or hundreds of answers: they are
    matched here rather than in SQL, which cannot fold Turkish letters the same way everywhere.
    """
    wanted = text_fold(query.strip().lstrip("/"))
    answers = canned_responses_usable(user=user).only(
        "pk", "title", "shortcut", "text", "language", "owner_id", "position"
    )
    found = [
        answer
        for answer in answers
        if wanted in text_fold(answer.shortcut) or wanted in text_fold(answer.title)
    ]
    found.sort(
        key=lambda answer: (
            answer.language not in (CannedResponse.Language.ANY, language),
            answer.owner_id is None,
            answer.position,
            answer.title.casefold(),
            answer.pk,
        )
    )
    return found[:limit]
