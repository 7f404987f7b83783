"""The guardrail registry: what a check is, and the ordered set of checks a server runs.

A ``Check`` wraps a plain function of an owner's ``Facts`` returning a ``Result``
(``results.py``) with its id, title, level, severity, why and fix. ``Registry.from_config``
holds the built-ins (``guardrails.py``) plus the admin's extras (entry point group
``smstudio_ext.guardrails`` or dotted names in ``Insights.extra_checks``) minus
``Insights.disabled_checks``. Reusable outside the server.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import AccessDenied, SmStudioError
from .results import LEVELS, SEVERITIES, STATUSES, CheckResult, Result, unknown

if TYPE_CHECKING:
    from .facts import Facts

log = logging.getLogger("smstudio_ext")

ENTRY_POINT_GROUP = "smstudio_ext.guardrails"


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    level: str
    severity: str
    why: str
    fix: str
    func: Callable[[Facts], Result]

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"check {self.id}: level must be one of {LEVELS}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.id}: severity must be one of {SEVERITIES}")

    def run(self, facts: Facts) -> dict[str, Any]:
        """Evaluate; never raises: AWS errors and crashes become ``unknown`` with the reason."""
        try:
            result = self.func(facts)
            if not isinstance(result, Result) or result.status not in STATUSES:
                raise TypeError(f"check returned {result!r}, not a Result")
        except AccessDenied as exc:
            result = unknown(f"can't tell: permission missing ({exc.action})", action=exc.action)
        except SmStudioError as exc:
            result = unknown(f"can't tell: {exc.message}", action=getattr(exc, "action", None))
        except Exception as exc:  # a broken admin check must not break the others
            log.exception("smstudio: guardrail %s crashed", self.id)
            result = unknown(f"the check itself failed: {type(exc).__name__}: {exc}")
        return CheckResult(
            id=self.id,
            status=result.status,
            severity=self.severity,
            reason=result.reason,
            level=self.level,
            title=self.title,
            why=self.why,
            fix=self.fix,
            action=result.action,
            evidence=result.evidence,
            source="insights",
        ).row()


def guardrail(
    id: str, title: str, *, level: str, severity: str, why: str, fix: str
) -> Callable[[Callable[[Facts], Result]], Check]:
    """Decorator turning ``func(facts) -> Result`` into a ``Check`` (not registered)."""

    def wrap(func: Callable[[Facts], Result]) -> Check:
        return Check(id, title, level, severity, why, fix, func)

    return wrap


# -- loading ------------------------------------------------------------------------------------


def _as_checks(obj: Any, where: str) -> list[Check]:
    if isinstance(obj, Check):
        return [obj]
    if isinstance(obj, (list, tuple)):
        out: list[Check] = []
        for item in obj:
            out.extend(_as_checks(item, where))
        return out
    if callable(obj) and not isinstance(obj, type):
        made = obj()  # a factory returning checks
        if made is not obj:
            return _as_checks(made, where)
    raise TypeError(f"{where} is not a guardrail Check (use @guardrail(...))")


def _import(dotted: str) -> Any:
    if ":" in dotted:
        module, _, attr = dotted.partition(":")
    else:
        module, _, attr = dotted.rpartition(".")
    if not module or not attr:
        raise ImportError(f"{dotted!r} is not 'package.module:name'")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _broken(id_: str, message: str) -> Check:
    def func(_: Facts) -> Result:
        return unknown(message)

    return Check(
        id_,
        f"Extra check {id_} could not be loaded",
        "domain",
        "low",
        "An admin-configured check is not running.",
        "Fix Insights.extra_checks or the entry point, or add the id to Insights.disabled_checks.",
        func,
    )


class Registry:
    """An ordered set of checks (built-ins + extras − disabled). Reusable outside the server."""

    def __init__(self, checks: Iterable[Check] = ()) -> None:
        self._checks: dict[str, Check] = {}
        for check in checks:
            self.add(check)

    def add(self, check: Check) -> None:
        self._checks[check.id] = check

    def remove(self, check_id: str) -> None:
        self._checks.pop(check_id, None)

    def __iter__(self) -> Iterator[Check]:
        return iter(list(self._checks.values()))

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def ids(self) -> list[str]:
        return list(self._checks)

    def evaluate(self, facts: Facts, levels: Iterable[str] = LEVELS) -> list[dict[str, Any]]:
        wanted = set(levels)
        return [check.run(facts) for check in self if check.level in wanted]

    @classmethod
    def from_config(
        cls,
        disabled: Iterable[str] = (),
        extra: Iterable[str] = (),
        entry_points: bool = True,
        builtin: Iterable[Check] | None = None,
    ) -> Registry:
        """``builtin``: the checks to start from (default: ``guardrails.BUILTIN``)."""
        if builtin is None:
            from .guardrails import BUILTIN  # the built-in checks import this module

            builtin = BUILTIN.values()
        reg = cls(builtin)
        sources: list[tuple[str, Callable[[], Any]]] = []
        if entry_points:
            from importlib.metadata import entry_points as eps

            found = eps()
            group = (
                found.select(group=ENTRY_POINT_GROUP)
                if hasattr(found, "select")
                else found.get(ENTRY_POINT_GROUP, [])  # type: ignore[arg-type]
            )
            for ep in group:
                sources.append((f"entry point {ep.name}", ep.load))
        for dotted in extra:
            sources.append(
                (f"Insights.extra_checks {dotted!r}", functools.partial(_import, dotted))
            )
        for where, load in sources:
            try:
                for check in _as_checks(load(), where):
                    reg.add(check)
            except Exception as exc:
                log.warning("smstudio: cannot load guardrail %s: %s", where, exc)
                name = where.split()[-1].strip("'")
                reg.add(_broken(f"extra:{name}", f"cannot load {where}: {exc}"))
        for check_id in disabled:
            if check_id not in reg:
                log.warning("smstudio: Insights.disabled_checks names unknown check %r", check_id)
            reg.remove(check_id)
        return reg
