"""Canned responses' text: the variables it may hold, filling them in, and matching a search.

Syntax: a variable is its name between double braces, spaces inside optional:
``{{ customer_name }}``, ``{{ agent_name }}``, ``{{ ticket_number }}``. Anything else between
``{{`` and ``}}`` (or a ``{{`` never closed) is refused when the answer is saved, so a typo never
reaches a customer. The filled text is plain text (the composer's textarea); it is escaped
wherever it is later shown as HTML, like every message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: The variables an answer may use, with what each becomes (for the help texts).
VARIABLES: dict[str, StrOrPromise] = {
    "customer_name": _("the customer's name"),
    "agent_name": _("the agent's name"),
    "ticket_number": _("the ticket's number"),
}

_VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.S)


def canned_variables_help() -> str:
    """ "{{ customer_name }} (the customer's name), ..." for help texts."""
    return ", ".join(f"{{{{ {name} }}}} ({label})" for name, label in VARIABLES.items())


def validate_canned_text(value: str) -> None:
    """Refuse unknown variables and braces left open (the model field's validator)."""
    unknown = []
    for match in _VARIABLE.finditer(value):
        name = match.group(1).strip()
        if name not in VARIABLES and match.group(0) not in unknown:
            unknown.append(match.group(0))
    if unknown:
        raise ValidationError(
            _("Unknown variable(s): %(found)s. Use only: %(known)s."),
            code="unknown_variable",
            params={"found": ", ".join(unknown), "known": canned_variables_help()},
        )
    if "{{" in _VARIABLE.sub("", value):
        raise ValidationError(
            _("A variable is not closed: write it as {{ customer_name }}."), code="unclosed"
        )


def canned_text_render(*, text: str, values: Mapping[str, str]) -> str:
    """``text`` with each known variable replaced by its value (plain text, not HTML)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        return values[name] if name in values else match.group(0)

    return _VARIABLE.sub(fill, text)


_TURKISH_I = str.maketrans({"İ": "i", "I": "i", "ı": "i"})


def text_fold(value: str) -> str:
    """Lower case without accents, Turkish dotted and dotless i as one letter: "İade" and
    "ıade" both become "iade", "Teşekkür" "tesekkur"."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_TURKISH_I).casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))
