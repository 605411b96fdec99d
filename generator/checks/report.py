"""What a check returns: a `CheckResult` each, a `Report` for the lot, and its table.

>>> Report([CheckResult("syntax", PASS, "ok")]).ok
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"


@dataclass
class CheckResult:
    check: str
    status: str
    detail: str
    problems: list[str] = field(default_factory=list)


@dataclass
class Report:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.status != FAIL for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(r) for r in self.results]}

    def summary(self) -> str:
        bad = self.failures
        if not bad:
            return "stack is valid"
        first = bad[0].problems[0] if bad[0].problems else bad[0].detail
        return f"stack failed {len(bad)} check(s): {', '.join(r.check for r in bad)}. First problem: {first}"


def format_table(report: Report) -> str:
    """A fixed-width table: check, result, detail (one line per problem under its check)."""
    width = max(len(r.check) for r in report.results)
    lines = [f"{'check'.ljust(width)}  result  detail", f"{'-' * width}  ------  {'-' * 40}"]
    for r in report.results:
        lines.append(f"{r.check.ljust(width)}  {r.status.upper().ljust(6)}  {r.detail}")
        for p in r.problems:
            lines.append(f"{''.ljust(width)}          - {p}")
    return "\n".join(lines)
