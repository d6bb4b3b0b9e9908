"""The error every ticket rule raises; its own module so ``tickets.services`` and
``tickets.routing`` both use it without importing each other for it."""

from __future__ import annotations


class TicketRuleError(Exception):
    """A change the ticket rules refuse; ``message`` is meant for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
