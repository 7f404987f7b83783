"""``sts:AssumeRole`` as strict as AWS: the role must exist and its trust policy must let the
caller's account assume it.

moto 5.2 lets anyone assume any role ARN, even one that does not exist ("the role does not need
to exist", its docstring). AWS answers ``AccessDenied`` ("User: ... is not authorized to perform:
sts:AssumeRole on resource: ...") in both cases, which is what a cross-account audit must handle
for an account whose role is missing or does not trust the auditor. The check here: the role
exists in the target account's IAM, and an ``Allow`` statement for ``sts:AssumeRole`` names as
``Principal.AWS`` ``*``, the caller's account (``123456789012`` or ``arn:aws:iam::…:root``) or the
caller's ARN. Conditions are not evaluated (none of the roles the tests create use them).
Accounts made with Organizations ``CreateAccount`` get ``OrganizationAccountAccessRole`` trusting
the management account (moto creates it, as AWS does).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .faults import error_response

_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$")


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    value = principal.get("AWS", [])
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else [str(v) for v in value]


def trusts(document: str | dict[str, Any], caller_account: str, caller_arn: str = "") -> bool:
    """Whether a trust policy lets ``caller_account`` (or ``caller_arn``) assume the role."""
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return False
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    wanted = {"*", caller_account, f"arn:aws:iam::{caller_account}:root"}
    if caller_arn:
        wanted.add(caller_arn)
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in _actions(st)):
            continue
        if wanted & set(_principals(st)):
            return True
    return False


def denial(role_arn: str, caller_account: str) -> str | None:
    """Why AWS would refuse ``caller_account`` assuming ``role_arn`` (None: allowed)."""
    from moto.iam.models import iam_backends

    match = _ROLE_ARN.match(role_arn or "")
    if not match:
        return None  # malformed ARNs: moto's own validation answers
    partition, account, name = match.groups()
    try:
        role = iam_backends[account][partition].get_role(name)
    except Exception:
        role = None
    allowed = role is not None and trusts(role.assume_role_policy_document, caller_account)
    if allowed:
        return None
    return (
        f"User: arn:aws:iam::{caller_account}:user/emulator is not authorized to perform: "
        f"sts:AssumeRole on resource: {role_arn}"
    )


def install() -> None:
    """Make moto's ``AssumeRole`` check the role and its trust policy (idempotent)."""
    from moto.sts.responses import TokenResponse

    if getattr(TokenResponse, "_smstudio_installed", False):
        return
    original = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        reason = denial(self._get_param("RoleArn"), self.current_account)
        if reason is not None:
            body, headers = error_response("sts", "AccessDenied", reason)
            return body, {**dict(headers), "status": 403}  # moto reads the status from here
        return original(self)

    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]
    TokenResponse._smstudio_installed = True  # type: ignore[attr-defined]
