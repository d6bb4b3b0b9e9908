"""axe-core in the e2e suite: ``assert_accessible(page)`` fails on any critical or serious
violation on the page as it is now, naming each rule, its impact, the elements and what to fix.

axe-core is the copy bundled by axe-playwright-python (no network at test time); it is injected
through the DevTools protocol, which the pages' Content-Security-Policy does not restrict.

Reuse it for a new page: open the page in a test, bring it to the state a user sees, then
``assert_accessible(page, where="the team screen")``. To check many pages in one test and hear
about all of them at once, use ``AccessibilityAudit``::

    audit = AccessibilityAudit()
    page.goto("/tickets/")
    audit.check(page, "tickets list")
    ...
    audit.assert_clean()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.sync_playwright import Axe

#: The impacts that fail a test. "moderate" and "minor" are reported by axe but left to review.
BLOCKING: tuple[str, ...] = ("critical", "serious")
#: Every impact, for a check of chosen rules (``rules=[...]``) that must hold whatever their impact.
ANY_IMPACT: tuple[str, ...] = ("critical", "serious", "moderate", "minor")

_axe = Axe()


def axe_violations(
    page,
    *,
    context: str | list | dict | None = None,
    impacts: tuple[str, ...] = BLOCKING,
    rules: list[str] | None = None,
    settle: bool = True,
) -> list[dict[str, Any]]:
    """axe's violations on ``page`` (or inside ``context``, a CSS selector or axe context) whose
    impact is one of ``impacts``; ``rules`` runs only those axe rules (ids such as
    ``"landmark-unique"``). ``settle`` waits for the page's requests (htmx loads) first."""
    if settle:
        page.wait_for_load_state("networkidle")
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    results = _axe.run(page, context=context, options=options)
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]], *, where: str = "") -> str:
    """One paragraph per violation: id, impact, what it means, each element and its failure."""
    lines = []
    for violation in violations:
        lines.append(
            f"{where + ': ' if where else ''}{violation['id']} ({violation['impact']}): "
            f"{violation['help']} [{violation.get('helpUrl', '')}]"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node.get("target", []))
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}: {summary}")
    return "\n".join(lines)


def assert_accessible(
    page,
    *,
    context: str | list | dict | None = None,
    where: str = "",
    impacts: tuple[str, ...] = BLOCKING,
    rules: list[str] | None = None,
) -> None:
    """Fail when axe finds a critical or serious violation on ``page`` (within ``context``)."""
    violations = axe_violations(page, context=context, impacts=impacts, rules=rules)
    assert not violations, "axe found:\n" + describe(violations, where=where or page.url)


@dataclass
class AccessibilityAudit:
    """Checks several pages (or states of one page) and fails once, listing every finding."""

    impacts: tuple[str, ...] = BLOCKING
    findings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def check(
        self,
        page,
        where: str,
        *,
        context: str | list | dict | None = None,
        rules: list[str] | None = None,
        impacts: tuple[str, ...] | None = None,
    ) -> None:
        violations = axe_violations(
            page, context=context, impacts=impacts or self.impacts, rules=rules
        )
        self.checked.append(where)
        if violations:
            self.findings.append(describe(violations, where=where))

    def assert_clean(self) -> None:
        assert self.checked, "nothing was checked"
        assert not self.findings, (
            f"axe found violations on {len(self.findings)} of "
            f"{len(self.checked)} pages:\n" + "\n".join(self.findings)
        )
