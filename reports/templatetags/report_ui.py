"""Report figures in templates: ``duration`` and ``figure`` (see ``reports.formatting``)."""

from __future__ import annotations

from django import template

from reports.formatting import duration, figure

register = template.Library()
register.filter("duration", duration)
register.filter("figure", figure)
