"""rest-api.yaml is valid OpenAPI and documents exactly the routes and verbs the server serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate
from rest_spec_support import check_response
from tornado.web import RequestHandler

import smstudio_ext
from smstudio_ext.handlers import all_routes

SPEC = Path(smstudio_ext.__file__).parent / "rest-api.yaml"
VERBS = ("get", "post", "put", "delete", "patch")


def _spec():
    return yaml.safe_load(SPEC.read_text())


def test_spec_is_valid_openapi():
    validate(_spec())


def test_every_route_and_verb_is_documented():
    paths = _spec()["paths"]
    for pattern, handler in all_routes():
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).rstrip("$")
        assert path in paths, f"{path} ({handler.__name__}) is not in rest-api.yaml"
        served = {v for v in VERBS if getattr(handler, v) is not getattr(RequestHandler, v)}
        documented = {v for v in paths[path] if v in VERBS}
        assert served == documented, f"{path}: serves {served}, documents {documented}"


def test_no_flow_mapping_swallowed_a_comma():
    # An unquoted ", " inside a YAML flow mapping silently turns text into a key with no value.
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                assert not (value is None and isinstance(key, str) and " " in key), key
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_spec())


def test_the_response_check_catches_an_undocumented_or_missing_field():
    """``rest_spec_support.check_response`` (run on every ``jp_fetch`` answer) is not vacuous."""
    good = {"lastActiveTimestamp": "2026-11-30T02:17:30.123456z"}
    assert check_response("api/idle", "GET", 200, json.dumps(good).encode()) is None
    extra = check_response("api/idle", "GET", 200, json.dumps({**good, "x": 1}).encode())
    assert "'x' was unexpected" in extra
    missing = check_response("smstudio/backup/snapshots", "GET", 200, b"{}")
    assert "'snapshots' is a required property" in missing
    # errors: the common shape, extra fields allowed; Jupyter's own refusals are not ours
    assert check_response("smstudio/idle", "GET", 409, b'{"error": "x", "detail": "y"}') is None
    assert "'detail' is a required property" in check_response(
        "smstudio/idle", "GET", 409, b'{"error": "x"}'
    )
    assert check_response("smstudio/idle", "GET", 403, b'{"message": "Forbidden"}') is None
    assert check_response("api/contents", "GET", 200, b"[]") is None  # not our route
