"""How every benchmark prints its figures: a two-column table, then where the JSON went; and the
percentile they report."""


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile by nearest rank (NaN when there is no value)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def print_table(rows: list[tuple[str, object]], json_path: str) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"JSON: {json_path}")
