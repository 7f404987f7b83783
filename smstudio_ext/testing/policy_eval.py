"""A small IAM policy evaluator: enough to prove our guardrail policies do what they say.

Models the documented IAM rules for the subset of the language we emit:

* explicit Deny wins, then any Allow, else implicit deny;
* ``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*``/``?`` wildcards
  (actions case-insensitive);
* condition blocks: operators ANDed, keys within an operator ANDed, values within a key ORed
  (for negated operators: the request value must match none of them);
* key absent: positive operators are false, negated operators (``StringNotEquals``, ``NotIpAddress``,
  ``ArnNotLike``...) are true, ``...IfExists`` is true, ``ForAnyValue:`` is false, ``ForAllValues:``
  is true, ``Null`` tests absence;
* a multi-valued request value with a single-valued operator raises ``PolicyBug`` (IAM's
  behaviour there is the classic source of wrong policies; we never want to rely on it);
* policy variables ``${aws:username}`` etc. are resolved from the request, in conditions and in
  ``Resource``/``NotResource``, their values matched literally (a ``*`` in a value is no
  wildcard); when the request has no such key, the condition is false and a resource pattern
  matches nothing — the statement does not apply, as IAM does ("if AWS cannot resolve a
  variable this might cause the entire statement to be invalid", IAM User Guide, "IAM policy
  elements: Variables and tags");
* ``Principal`` of a resource policy (a bucket policy): ``"*"`` (or ``{"AWS": "*"}``) is
  everyone, a list of ARNs is matched against the request's ``aws:PrincipalArn``. Identity and
  resource policies of one account are evaluated together: an explicit Deny in either wins,
  else an Allow in either allows.

Not modelled: NotPrincipal, sessions, cross-account access, numeric/date operators.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

Value = Union[str, list[str]]

_VAR_RE = re.compile(r"\$\{([^}]+)\}")
# a substituted value's wildcard characters stand for themselves: marked while globbing
_LITERAL = {"*": "\ue000", "?": "\ue001"}
_UNMARK = {v: k for k, v in _LITERAL.items()}


class PolicyBug(Exception):
    """The policy uses a construct whose IAM meaning is a trap (see module docstring)."""


@dataclass
class Request:
    action: str
    resource: str = "*"
    context: dict[str, Value] = field(default_factory=dict)

    def get(self, key: str) -> Value | None:
        lowered = key.lower()
        for k, v in self.context.items():
            if k.lower() == lowered:
                return v
        return None


class _Unresolved(Exception):
    pass


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _unmark(text: str) -> str:
    return "".join(_UNMARK.get(c, c) for c in text)


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(_UNMARK.get(c, c)) for c in pattern
    )
    return re.fullmatch(regex, value, flags=re.S) is not None


def _arn_like(pattern: str, value: str) -> bool:
    p = pattern.split(":", 5)
    v = value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(_glob(a, b) for a, b in zip(p, v))


def _ip_in(cidr: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


_BASE: dict[str, tuple[Any, bool]] = {
    # operator -> (match(policy_value, request_value), negated)
    "StringEquals": (lambda p, v: _unmark(p) == v, False),
    "StringNotEquals": (lambda p, v: _unmark(p) == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: _unmark(p).lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: _unmark(p).lower() == v.lower(), True),
    "StringLike": (lambda p, v: _glob(p, v), False),
    "StringNotLike": (lambda p, v: _glob(p, v), True),
    "ArnEquals": (lambda p, v: _unmark(p) == v, False),
    "ArnNotEquals": (lambda p, v: _unmark(p) == v, True),
    "ArnLike": (_arn_like, False),
    "ArnNotLike": (_arn_like, True),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "Bool": (lambda p, v: str(p).lower() == str(v).lower(), False),
}


def _resolve(policy_value: str, request: Request) -> str:
    """The value with its variables substituted (their wildcard characters marked literal)."""

    def sub(m: re.Match[str]) -> str:
        got = request.get(m.group(1))
        if got is None or isinstance(got, list):
            raise _Unresolved(m.group(1))
        return "".join(_LITERAL.get(c, c) for c in str(got))

    return _VAR_RE.sub(sub, str(policy_value))


def _eval_operator(op: str, block: Mapping[str, Any], request: Request) -> bool:
    qualifier = ""
    if ":" in op:
        qualifier, op = op.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise PolicyBug(f"unknown set operator {qualifier!r}")
    if_exists = op.endswith("IfExists")
    base = op[: -len("IfExists")] if if_exists else op
    for key, raw_policy_values in block.items():
        present = request.get(key)
        if base == "Null":
            want_absent = str(raw_policy_values).lower() == "true"
            absent = present is None or present == []
            if absent != want_absent:
                return False
            continue
        if base not in _BASE:
            raise PolicyBug(f"operator {op!r} not supported by the evaluator")
        match, negated = _BASE[base]
        try:
            policy_values = [_resolve(p, request) for p in _as_list(raw_policy_values)]
        except _Unresolved:
            return False

        def one(value: str, match: Any = match, negated: bool = negated) -> bool:
            hit = any(match(p, str(value)) for p in policy_values)  # noqa: B023
            return not hit if negated else hit

        if qualifier == "ForAnyValue":
            values = _as_list(present) if present is not None else []
            if not values or not any(one(v) for v in values):
                return False
        elif qualifier == "ForAllValues":
            values = _as_list(present) if present is not None else []
            if not all(one(v) for v in values):
                return False
        else:
            if isinstance(present, list):
                raise PolicyBug(f"{op} on multi-valued key {key!r}: use ForAnyValue:/ForAllValues:")
            if present is None:
                if if_exists or negated:
                    continue
                return False
            if not one(present):
                return False
    return True


def _matches_action(stmt: Mapping[str, Any], action: str) -> bool:
    if "Action" in stmt:
        return any(_glob(a, action, case=False) for a in _as_list(stmt["Action"]))
    if "NotAction" in stmt:
        return not any(_glob(a, action, case=False) for a in _as_list(stmt["NotAction"]))
    raise PolicyBug("statement without Action or NotAction")


def _matches_resource(stmt: Mapping[str, Any], request: Request) -> bool:
    key = "Resource" if "Resource" in stmt else "NotResource" if "NotResource" in stmt else ""
    if not key:
        raise PolicyBug("statement without Resource or NotResource")
    try:
        patterns = [_resolve(r, request) for r in _as_list(stmt[key])]
    except _Unresolved:
        return False  # an unresolvable variable: the statement does not apply
    hit = any(_glob(r, request.resource) for r in patterns)
    return hit if key == "Resource" else not hit


def _matches_principal(stmt: Mapping[str, Any], request: Request) -> bool:
    """Identity policies have no Principal; a resource policy's names who it is about."""
    if "NotPrincipal" in stmt:
        raise PolicyBug("NotPrincipal is not supported by the evaluator")
    if "Principal" not in stmt:
        return True
    principal = stmt["Principal"]
    if principal == "*":
        return True
    if not isinstance(principal, Mapping) or set(principal) - {"AWS"}:
        raise PolicyBug(f"principal {principal!r} not supported by the evaluator")
    arns = _as_list(principal["AWS"])
    caller = request.get("aws:PrincipalArn")
    return "*" in arns or (isinstance(caller, str) and caller in arns)


def statement_applies(stmt: Mapping[str, Any], request: Request) -> bool:
    if not _matches_principal(stmt, request):
        return False
    if not _matches_action(stmt, request.action):
        return False
    if not _matches_resource(stmt, request):
        return False
    return all(
        _eval_operator(op, block, request) for op, block in (stmt.get("Condition") or {}).items()
    )


@dataclass
class Decision:
    decision: str  # "Allow" | "ExplicitDeny" | "ImplicitDeny"
    statements: list[str]

    @property
    def allowed(self) -> bool:
        return self.decision == "Allow"

    @property
    def denied_explicitly(self) -> bool:
        return self.decision == "ExplicitDeny"


def evaluate(policies: list[Mapping[str, Any]], request: Request) -> Decision:
    """Evaluate ``request`` against identity-style ``policies`` (documents)."""
    denies: list[str] = []
    allows: list[str] = []
    for doc in policies:
        for i, stmt in enumerate(_as_list(doc.get("Statement", []))):
            if not statement_applies(stmt, request):
                continue
            sid = stmt.get("Sid") or f"#{i}"
            (denies if stmt.get("Effect") == "Deny" else allows).append(sid)
    if denies:
        return Decision("ExplicitDeny", denies)
    if allows:
        return Decision("Allow", allows)
    return Decision("ImplicitDeny", [])


def allow_all() -> dict[str, Any]:
    """A permissive baseline, to test Deny guardrails the way an SCP sits over FullAccess."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }


__all__ = ["Decision", "PolicyBug", "Request", "allow_all", "evaluate"]
