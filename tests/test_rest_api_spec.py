"""rest-api.yaml is valid OpenAPI and documents exactly the routes and verbs the server serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate
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
