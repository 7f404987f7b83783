"""Every JSON answer the tests get from the real server, checked against ``rest-api.yaml``.

``check_response`` finds the documented operation for a request path and verb, then validates
the body against the schema of its status (an error status the spec does not list must still
be the common ``Error`` shape, as the spec's description promises). Paths the spec does not
document (Jupyter's own, e.g. ``api/contents``) and answers from Jupyter itself (its
authentication refusals: ``{"message", "reason"}``) are not ours to check.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

import smstudio_ext

SPEC = Path(smstudio_ext.__file__).parent / "rest-api.yaml"


@functools.lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())


def _pointer(ref: str) -> Any:
    """What a local JSON pointer (``#/components/schemas/Error``, ``#/paths/~1smstudio~1idle/...``)
    names in the spec."""
    node: Any = spec()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _inline(node: Any, closed: bool = True) -> Any:
    """The schema with every local ``$ref`` replaced by what it names, and every object that
    lists its properties closed (a field the server sends must be documented: one shape, one
    place) unless it says ``additionalProperties`` itself or is one part of an ``allOf``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            return _inline(_pointer(ref), closed)
        if node.get("nullable") is True and "type" not in node:
            # OpenAPI 3.0.3's nullable reference (``allOf: [$ref]`` + ``nullable``), which the
            # validator reads as "the referenced type only": spelt out as "it, or null"
            rest = {k: v for k, v in node.items() if k != "nullable"}
            return {"anyOf": [_inline(rest, closed), {"enum": [None]}]}
        out = {}
        for key, value in node.items():
            if key == "allOf":
                out[key] = [_inline(v, closed=False) for v in value]
            elif key in ("properties", "patternProperties"):
                out[key] = {k: _inline(v) for k, v in value.items()}
            else:
                out[key] = _inline(value)
        if closed and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_inline(v) for v in node]
    return node


@functools.cache
def _path_patterns() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in spec()["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        out.append((re.compile(f"^{regex}$"), template))
    return out


def operation(path: str, verb: str) -> tuple[str, dict[str, Any]] | None:
    """The documented (template, operation) for ``path`` (no base_url, no query) and ``verb``."""
    path = "/" + path.strip("/")
    for pattern, template in _path_patterns():
        if pattern.match(path):
            op = spec()["paths"][template].get(verb.lower())
            return (template, op) if op is not None else None
    return None


def _schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    responses = op.get("responses") or {}
    documented = responses.get(str(status)) or responses.get(status) or responses.get("default")
    if documented is None:
        return None
    content = (documented.get("content") or {}).get("application/json") or {}
    return content.get("schema")


@functools.cache
def _validator(template: str, verb: str, status: int) -> OAS30Validator:
    """The compiled schema of one documented answer (an undocumented error: ``Error``)."""
    schema = _schema(spec()["paths"][template][verb], status)
    return OAS30Validator(_inline(schema or {"$ref": "#/components/schemas/Error"}))


def check_response(path: str, verb: str, status: int, body: bytes) -> str | None:
    """Why this answer breaks the spec, or None. Validates only answers of documented paths."""
    found = operation(path, verb)
    if found is None:
        return None
    template, op = found
    schema = _schema(op, status)
    try:
        data = json.loads(body or b"null")
    except ValueError:
        if schema is None and status >= 400:
            return None  # e.g. tornado's own 404 page for an opt-in route that is off
        return f"{verb} {template} {status}: the body is not JSON: {body[:200]!r}"
    if status >= 400 and isinstance(data, dict) and "message" in data and "error" not in data:
        return None  # Jupyter's own refusal (authentication), not our handler's
    if schema is None and status < 400:
        return f"{verb} {template}: status {status} is not documented in rest-api.yaml"
    validator = _validator(template, verb.lower(), status)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(the body)"
    return f"{verb} {template} {status}: {where}: {first.message}"
