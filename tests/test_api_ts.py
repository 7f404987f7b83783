"""``labextension/src/api.ts`` against ``rest-api.yaml``: each interface the panel reads has the
documented fields, no others, optional only where the spec does not require them, and ``| null``
wherever the spec says nullable. Root interfaces are tied to their operation here; the
interfaces they use (``signals?: IIdleSignal[]``, ``mode?: IIdleMode``) follow from the types.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rest_spec_support import spec

API_TS = Path(__file__).resolve().parents[1] / "labextension" / "src" / "api.ts"

# interface -> where its schema is: (verb, path, status) or (verb, path, "request")
ROOTS = {
    "IContext": ("get", "/smstudio/context", "200"),
    "IIdleStatus": ("get", "/smstudio/idle", "200"),
    "IIdleSettings": ("put", "/smstudio/idle/settings", "request"),
    "IBackupStatus": ("get", "/smstudio/backup", "200"),
    "ISnapshot": ("get", "/smstudio/backup/snapshots", "200", "snapshots", "[]"),
    "IRestoreRequest": ("post", "/smstudio/restore", "request"),
    "IRestoreResult": ("post", "/smstudio/restore", "200"),
    "ICondaEnvs": ("get", "/smstudio/conda/envs", "200"),
    "IInsights": ("get", "/smstudio/insights", "200"),
}


# -- reading api.ts -----------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _body(text: str, start: int) -> tuple[str, int]:
    """The text between the brace at ``start`` and its match, and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    raise ValueError("unbalanced braces in api.ts")


def _members(body: str) -> dict[str, tuple[bool, str]]:
    """``{name: (optional, type)}`` of an interface or inline object type (depth 0 only)."""
    out: dict[str, tuple[bool, str]] = {}
    depth, current = 0, ""
    for ch in body:
        if ch in "{<([":
            depth += 1
        elif ch in "}>)]":
            depth -= 1
        if ch in ";\n" and depth == 0:
            m = re.match(r"^\s*(\w+)(\?)?\s*:\s*(.+?)\s*$", current, flags=re.S)
            if m:
                out[m[1]] = (bool(m[2]), " ".join(m[3].split()))
            elif current.strip().startswith("["):
                out["[index]"] = (True, current.strip())
            current = ""
        else:
            current += ch
    return out


def parse_interfaces(text: str) -> dict[str, dict[str, tuple[bool, str]]]:
    text = _strip_comments(text)
    out = {}
    for m in re.finditer(r"export interface (\w+)\s*\{", text):
        body, _ = _body(text, m.end() - 1)
        out[m[1]] = _members(body)
    return out


# -- reading the spec ---------------------------------------------------------------------------


def _resolve(node):
    """Follow ``$ref`` and ``allOf`` (merged) to the object schema."""
    components = spec().get("components", {}).get("schemas", {})
    while isinstance(node, dict):
        ref = node.get("$ref")
        if ref:
            node = components[ref.rsplit("/", 1)[1]]
        elif "allOf" in node and "properties" not in node:
            parts = [_resolve(part) for part in node["allOf"]]
            node = {
                "type": "object",
                "properties": {k: v for p in parts for k, v in (p.get("properties") or {}).items()},
                "required": [r for p in parts for r in p.get("required") or []],
                "nullable": node.get("nullable", False),
            }
        else:
            return node
    return node


def _root_schema(where):
    verb, path, status, *pointer = where
    op = spec()["paths"][path][verb]
    if status == "request":
        node = op["requestBody"]["content"]["application/json"]["schema"]
    else:
        node = op["responses"][status]["content"]["application/json"]["schema"]
    for step in pointer:
        node = _resolve(node)
        node = node["items"] if step == "[]" else node["properties"][step]
    return _resolve(node)


def _nullable(schema) -> bool:
    return bool(isinstance(schema, dict) and schema.get("nullable"))


def _compare(name, members, schema, interfaces, seen, problems):
    if name in seen:
        return
    seen.add(name)
    schema = _resolve(schema)
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    open_ts = "[index]" in members
    fields = {k: v for k, v in members.items() if k != "[index]"}
    for field in sorted(set(fields) - set(props)):
        problems.append(f"{name}.{field}: in api.ts, not in rest-api.yaml")
    if not open_ts:
        for field in sorted(set(props) - set(fields)):
            problems.append(f"{name}.{field}: in rest-api.yaml, not in api.ts")
    for field, (optional, ts_type) in sorted(fields.items()):
        if field not in props:
            continue
        prop = props[field]
        if field in required and optional:
            problems.append(f"{name}.{field}: required in rest-api.yaml, optional in api.ts")
        if _nullable(prop) and "null" not in ts_type.split("|") and "unknown" not in ts_type:
            if not re.search(r"\bnull\b", ts_type):
                problems.append(f"{name}.{field}: nullable in rest-api.yaml, not in api.ts")
        # follow the interfaces this field uses
        used = re.findall(r"\b(I[A-Z]\w+)\b", ts_type)
        target = _resolve(prop)
        if ts_type.startswith("Record<") and target.get("properties"):
            # a record the spec spells out key by key (insights' parts): every value's fields
            values = [_resolve(v) for v in target["properties"].values()]
            prop = {
                "type": "object",
                "properties": {
                    k: v for s in values for k, v in (s.get("properties") or {}).items()
                },
                "required": sorted(
                    set.intersection(*(set(s.get("required") or []) for s in values))
                ),
            }
        for other in used:
            if other not in interfaces or other == "IApiError":
                continue
            target = _resolve(prop)
            if target.get("type") == "array" or "items" in target:
                target = target.get("items", {})
            elif target.get("additionalProperties") and "properties" not in target:
                target = target["additionalProperties"]
            _compare(other, interfaces[other], target, interfaces, seen, problems)
        inline = re.match(r"^\{(.*)\}(\s*\|\s*null)?$", ts_type, flags=re.S)
        if inline:
            _compare(f"{name}.{field}", _members(inline[1] + ";"), prop, interfaces, seen, problems)


@pytest.fixture(scope="module")
def interfaces():
    return parse_interfaces(API_TS.read_text(encoding="utf-8"))


def test_the_reader_sees_fields_optional_nullable_and_inline_objects():
    found = parse_interfaces(
        "export interface IX {\n  a: string;\n  /** doc */\n  b?: number | null;\n"
        "  c?: { d?: number; e: string };\n  [key: string]: unknown;\n}\n"
    )
    assert found["IX"] == {
        "a": (False, "string"),
        "b": (True, "number | null"),
        "c": (True, "{ d?: number; e: string }"),
        "[index]": (True, "[key: string]: unknown"),
    }


def test_every_root_interface_is_in_api_ts(interfaces):
    assert set(ROOTS) <= set(interfaces)


def test_api_ts_matches_rest_api_yaml(interfaces):
    problems: list[str] = []
    seen: set[str] = set()
    for name, where in ROOTS.items():
        _compare(name, interfaces[name], _root_schema(where), interfaces, seen, problems)
    error = spec()["components"]["schemas"]["Error"]
    _compare("IApiError", interfaces["IApiError"], error, interfaces, seen, problems)
    assert not problems, "api.ts and rest-api.yaml differ:\n" + "\n".join(problems)


def test_a_difference_is_reported(interfaces):
    """The comparison is not vacuous: a field the spec lacks and a lost ``| null`` are found."""
    broken = dict(interfaces["IContext"])
    broken["invented"] = (False, "string")
    broken["app_type"] = (False, "string")
    problems: list[str] = []
    _compare("IContext", broken, _root_schema(ROOTS["IContext"]), interfaces, set(), problems)
    assert "IContext.invented: in api.ts, not in rest-api.yaml" in problems
    assert "IContext.app_type: nullable in rest-api.yaml, not in api.ts" in problems
