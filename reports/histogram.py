"""Duration histograms that add up: the hourly snapshots store one, reports sum them.

Buckets are exact to the second below a minute, then 10 s to 10 minutes, a minute to 2 hours,
10 minutes to a day, an hour to a week, and one overflow bucket past that. A histogram is a dict
{bucket index (str, JSON keys are strings): count}; empty buckets are absent. A percentile is the
lower bound of the bucket it falls in, so a figure under two hours is exact to the minute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

# (upper bound of the band in seconds, step in seconds)
_BANDS: tuple[tuple[int, int], ...] = (
    (60, 1),
    (600, 10),
    (7200, 60),
    (86400, 600),
    (7 * 86400, 3600),
)


def _bounds() -> list[int]:
    bounds: list[int] = []
    low = 0
    for top, step in _BANDS:
        bounds.extend(range(low, top, step))
        low = top
    bounds.append(low)  # the overflow bucket starts at a week
    return bounds


BOUNDS: list[int] = _bounds()  # BOUNDS[i] is the lower bound of bucket i


def bucket_of(seconds: float) -> int:
    """The bucket index of a duration (negative durations count as 0)."""
    s = max(0, int(seconds))
    low = 0
    base = 0
    for top, step in _BANDS:
        if s < top:
            return base + (s - low) // step
        base += (top - low) // step
        low = top
    return base


def hist_add(hist: dict[str, int], seconds: float, count: int = 1) -> None:
    key = str(bucket_of(seconds))
    hist[key] = hist.get(key, 0) + count


def hist_from(values: Iterable[float]) -> dict[str, int]:
    hist: dict[str, int] = {}
    for value in values:
        hist_add(hist, value)
    return hist


def hist_merge(hists: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for hist in hists:
        for key, count in hist.items():
            total[key] = total.get(key, 0) + count
    return total


def hist_percentile(hist: Mapping[str, int], fraction: float) -> int | None:
    """The duration below which ``fraction`` of the values fall (nearest-rank); None if empty."""
    n = sum(hist.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(fraction * n - 1e-9))  # nearest rank, at least the first value
    seen = 0
    for key in sorted(hist, key=int):
        seen += hist[key]
        if seen >= rank:
            return BOUNDS[int(key)]
    return BOUNDS[int(max(hist, key=int))]
