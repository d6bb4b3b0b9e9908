"""Every services and selectors module is type-checked strictly (pyproject.toml, CI's mypy step):
a new one cannot be left out of the strict list by accident."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "tests", "bench", "migrations", "var", "node_modules"}


def _domain_modules() -> set[str]:
    found = set()
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if SKIP_DIRS & set(parts):
            continue
        if path.name in {"services.py", "selectors.py"} or "services" in parts[:-1]:
            found.add(".".join(parts).removesuffix(".py").removesuffix(".__init__"))
    return found


def _strict_patterns() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    for override in config.get("overrides", []):
        if override.get("disallow_untyped_defs"):
            return override["module"]
    return []


def _covered(module: str, patterns: list[str]) -> bool:
    return any(
        module == pattern
        or (pattern.endswith(".*") and module.startswith(pattern.removesuffix("*")))
        for pattern in patterns
    )


def test_every_services_and_selectors_module_is_checked_strictly():
    modules = _domain_modules()
    patterns = _strict_patterns()

    assert "tickets.services" in modules and "inbox.selectors" in modules
    assert [m for m in sorted(modules) if not _covered(m, patterns)] == []
