"""What a guardrail check answers, defined once for the panel's insights and the admin's audit.

``Result`` is what a check function returns (status, reason, evidence, the IAM action whose
absence made it ``unknown``). ``CheckResult`` is one row of an answer: the check's title, why
and fix beside the result, as GET smstudio/insights lists them and ``smstudio audit`` reports
them (the audit adds its own rows, ``source="audit"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "unknown"]
PASS: Status = "pass"
FAIL: Status = "fail"
UNKNOWN: Status = "unknown"  # can't tell: a permission is missing, AWS failed, nothing to compare
STATUSES: tuple[Status, ...] = (PASS, FAIL, UNKNOWN)

Level = Literal["domain", "owner", "app"]
LEVELS: tuple[Level, ...] = ("domain", "owner", "app")
Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")


@dataclass
class Result:
    status: Status
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    action: str | None = None  # the IAM action whose absence made the result unknown


def passed(reason: str, **evidence: Any) -> Result:
    return Result(PASS, reason, evidence)


def failed(reason: str, **evidence: Any) -> Result:
    return Result(FAIL, reason, evidence)


def unknown(reason: str, action: str | None = None, **evidence: Any) -> Result:
    return Result(UNKNOWN, reason, evidence, action)


@dataclass
class CheckResult:
    """One check's answer. Guardrails carry their title, evidence, why, fix and the IAM action
    whose absence made them ``unknown``; the audit's own checks a reason."""

    id: str
    status: Status
    severity: str
    reason: str
    level: str
    title: str | None = None
    why: str | None = None
    fix: str | None = None
    action: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    source: str = "audit"  # "insights" (the guardrail registry) or "audit" (audit-only)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CheckResult:
        """From a guardrail row (``row()``; GET smstudio/insights lists them)."""
        return cls(
            id=row["id"],
            status=row["status"],
            severity=row["severity"],
            reason=row["reason"],
            level=row["level"],
            title=row.get("title"),
            why=row.get("why"),
            fix=row.get("fix"),
            action=row.get("action"),
            evidence=dict(row.get("evidence") or {}),
            source="insights",
        )

    def row(self) -> dict[str, Any]:
        """One item of the ``guardrails`` list of GET smstudio/insights."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "evidence": self.evidence,
            "why": self.why,
            "fix": self.fix,
            "severity": self.severity,
            "level": self.level,
            "action": self.action,
        }

    def to_dict(self) -> dict[str, Any]:
        """The audit report's row (every field, ``source`` included)."""
        return dict(self.__dict__)
