"""Sign-in lockout: django-axes with two counts.

Wrong passwords are counted per (username, address) and per username across all addresses
(``AXES_LOCKOUT_PARAMETERS``). A pair is locked after ``AXES_FAILURE_LIMIT`` failures, as
before; a username is locked for everyone after ``OMNICO_LOGIN_USERNAME_FAILURE_LIMIT``, a
higher limit, so guessing from many addresses (a botnet, or forged forwarded addresses) is
stopped too, while one attacker alone cannot lock an agent out of their own desk.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


class LockoutHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        """The failures that count toward the lock: the pair's, or the limit itself once the
        username has failed ``OMNICO_LOGIN_USERNAME_FAILURE_LIMIT`` times from anywhere."""
        counts = [
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        pair, username = (counts + [0, 0])[:2]
        if username >= settings.OMNICO_LOGIN_USERNAME_FAILURE_LIMIT:
            return max(pair, settings.AXES_FAILURE_LIMIT)
        return pair
