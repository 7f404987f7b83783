r"""Server-side parameter validation from the botocore service model.

boto3 validates required members, unknown members and types on the client, but not enums,
patterns or maximum lengths; AWS does, and answers ``ValidationException`` with a message such as
``1 validation error detected: Value 'x' at 'appName' failed to satisfy constraint: ...``.
The emulator checks the same constraints so that code under test sees the same failures.

The model's patterns are Java regular expressions. Python's ``re`` compiles most of them; those
with Unicode property classes (``\p{L}``, ``\p{Z}``, ``\p{N}``: tag keys and values, among
others) are compiled with the ``regex`` package, which knows them. Only a pattern neither can
compile (Java's surrogate ranges) is skipped.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape


@functools.cache
def service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def _compiled(pattern: str) -> Any:
    r"""The pattern compiled by ``re``, else by ``regex`` (``\p{...}``), else None (skipped)."""
    try:
        return re.compile(pattern)
    except re.error:
        pass
    try:
        return regex.compile(pattern)
    except regex.error:  # Java-only syntax (surrogate ranges): skip rather than reject
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if value is None:
        return
    meta = shape.metadata
    where = f"Value '{_short(value)}' at '{path}' failed to satisfy constraint: "
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            errors.append(where + "Member must be a structure")
            return
        for req in shape.required_members:
            if value.get(req) is None:
                errors.append(
                    "Value null at '%s' failed to satisfy constraint: Member must not be null"
                    % ((path + "." if path else "") + _camel(req))
                )
        for key, member in shape.members.items():
            if key in value:
                _check(member, value[key], (path + "." if path else "") + _camel(key), errors)
        for key in value:
            # A member the model does not have (e.g. BuiltInLifecycleConfigArn in a space's
            # SpaceJupyterLabAppSettings): boto3 refuses it before sending; a client without
            # parameter validation reaches the service, whose answer is unverified. Refused
            # here (stricter than ignoring it).
            if key not in shape.members:
                errors.append(
                    f"Unknown member '{key}' at '{path or shape.name}': not in {shape.name}"
                )
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            errors.append(where + "Member must be a list")
            return
        _check_length(meta, len(value), where, errors)
        for i, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{i}.member", errors)
        return
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            errors.append(where + "Member must be a map")
            return
        _check_length(meta, len(value), where, errors)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}.key", errors)
            _check(shape.value, item, f"{path}.{key}.value", errors)
        return
    if shape.type_name == "string":
        if not isinstance(value, str):
            errors.append(where + "Member must be a string")
            return
        enum = shape.enum
        if enum and value not in enum:
            errors.append(
                where + "Member must satisfy enum value set: [{}]".format(", ".join(enum))
            )
            return
        _check_length(meta, len(value), where, errors)
        pattern = meta.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is not None and not compiled.fullmatch(value):
                errors.append(where + "Member must satisfy regular expression pattern: " + pattern)
        return
    if shape.type_name in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(where + "Member must be a number")
            return
        _check_bounds(meta, value, where, errors, "value")


def _check_length(meta: dict[str, Any], length: int, where: str, errors: list[str]) -> None:
    _check_bounds(meta, length, where, errors, "length")


def _check_bounds(
    meta: dict[str, Any], number: int, where: str, errors: list[str], what: str
) -> None:
    """The model's ``min`` / ``max`` on a number (``what="value"``) or a length."""
    if "min" in meta and number < meta["min"]:
        errors.append(where + f"Member must have {what} greater than or equal to {meta['min']}")
    if "max" in meta and number > meta["max"]:
        errors.append(where + f"Member must have {what} less than or equal to {meta['max']}")


def validation_errors(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every constraint of ``operation``'s input shape that ``params`` breaks."""
    shape = service_model(service).operation_model(operation).input_shape
    errors: list[str] = []
    if shape is not None:
        _check(shape, params, "", errors)
    return errors


def validation_message(errors: list[str]) -> str:
    count = len(errors)
    plural = "" if count == 1 else "s"
    return f"{count} validation error{plural} detected: " + "; ".join(errors)
