"""The server extension in a real Jupyter server: loading, GET smstudio/context, auth on every route."""

from __future__ import annotations

import json
import re

import pytest
from tornado.httpclient import HTTPClientError

from smstudio_ext.handlers import all_routes


async def test_context_local_mode(jp_fetch):
    resp = await jp_fetch("smstudio", "context")
    data = json.loads(resp.body)
    assert data["kind"] == "local" and data["metadata_status"] == "missing"
    assert data["instance_type"] is None and data["version"]


@pytest.mark.parametrize("studio_metadata", ["{broken"], indirect=True)
async def test_malformed_metadata_keeps_the_server_up(jp_fetch):
    data = json.loads((await jp_fetch("smstudio", "context")).body)
    assert data["kind"] == "local" and data["metadata_status"] == "malformed"
    assert "not valid JSON" in data["warning"]


@pytest.mark.parametrize("studio_app", ["JupyterLab"], indirect=True)
async def test_context_in_a_seeded_space(world, jp_fetch):
    # Given the server runs as the seeded JupyterLab app of a space
    app = world.find_app(app_type="JupyterLab")
    # When the panel asks for the context
    data = json.loads((await jp_fetch("smstudio", "context")).body)
    # Then it names the space and DescribeApp filled in the instance type
    assert data["kind"] == "spaces"
    assert data["domain_id"] == world.domain_id
    assert data["space_name"] == app["space_name"]
    assert data["instance_type"] == app["instance_type"]
    assert data["app_status"] == "InService"


@pytest.mark.parametrize("studio_app", ["JupyterServer"], indirect=True)
async def test_context_when_describe_is_denied(aws, world, jp_fetch):
    aws.deny("DescribeApp")
    data = json.loads((await jp_fetch("smstudio", "context")).body)
    assert data["kind"] == "classic" and data["user_profile_name"] == world.primary_profile
    assert data["instance_type"] is None
    assert data["describe_error"]["action"] == "sagemaker:DescribeApp"


def _concrete(pattern: str) -> str:
    """A URL path that matches a route pattern (groups filled with a plausible value)."""
    return re.sub(r"\([^)]*\)", "x", pattern).replace("$", "").replace("?", "")


async def test_every_route_requires_auth(jp_fetch, jp_base_url):
    # Every verb of every route must refuse a request without a token.
    routes = all_routes()
    assert routes, "the extension registers no route"
    for pattern, handler in routes:
        path = _concrete(pattern).lstrip("/")
        for verb in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if not hasattr(handler, verb.lower()) or getattr(handler, verb.lower()) is getattr(
                __import__("tornado.web").web.RequestHandler, verb.lower()
            ):
                continue
            body = b"{}" if verb in ("POST", "PUT", "PATCH") else None
            with pytest.raises(HTTPClientError) as info:
                await jp_fetch(
                    path,
                    method=verb,
                    body=body,
                    headers={"Authorization": ""},
                    allow_nonstandard_methods=True,
                )
            assert info.value.code in (401, 403), f"{verb} {path} answered {info.value.code}"


async def test_polling_does_not_count_as_activity(jp_fetch, jp_serverapp):
    before = jp_serverapp.web_app.settings.get("api_last_activity")
    for _ in range(3):
        await jp_fetch("smstudio", "context")
    assert jp_serverapp.web_app.settings.get("api_last_activity") == before


class TestExtensionConfigFile:
    """The admin's choices in jupyter_smstudio_ext_config.json (what the LCC writes) reach the app."""

    @pytest.fixture
    def extra_server_config(self, jp_config_dir):
        (jp_config_dir / "jupyter_smstudio_ext_config.json").write_text(
            json.dumps({"StudioExtensionApp": {"describe_cache_seconds": 12.5}})
        )
        return {}

    async def test_file_is_applied(self, jp_fetch, jp_serverapp):
        await jp_fetch("smstudio", "context")
        services = jp_serverapp.web_app.settings["smstudio"]
        assert services.describe_cache_seconds == 12.5  # the app's trait, from the file


class TestUnknownRegion:
    @pytest.fixture
    def extra_server_config(self):
        return {"Studio": {"region": "xx-nowhere-9"}}

    @pytest.mark.parametrize(
        "studio_metadata",
        [{"AppType": "JupyterLab", "DomainId": "d-1", "SpaceName": "s", "ResourceName": "default"}],
        indirect=True,
    )
    async def test_server_stays_up_and_says_why(self, jp_fetch):
        data = json.loads((await jp_fetch("smstudio", "context")).body)
        assert data["kind"] == "spaces" and data["region"] == "xx-nowhere-9"
        assert "unknown AWS region 'xx-nowhere-9'" in data["aws_error"]["detail"]
