"""How every benchmark prints its figures: a two-column table, then where the JSON went."""


def print_table(rows: list[tuple[str, object]], json_path: str) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"JSON: {json_path}")
