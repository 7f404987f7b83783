"""GET smstudio/insights in a real Jupyter server, and `smstudio insights` on a terminal."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from smstudio_ext.cli import main
from smstudio_ext.insights.guardrails import BUILTIN, image_name


@pytest.fixture
def extra_server_config(tmp_path):
    return {
        "Insights": {"price_cache_path": str(tmp_path / "prices.json"), "refresh_floor_seconds": 0}
    }


async def get_insights(jp_fetch, **params):
    resp = await jp_fetch("smstudio", "insights", params=params or None)
    assert resp.code == 200
    return json.loads(resp.body)


@pytest.mark.parametrize("studio_app", ["JupyterLab"], indirect=True)
async def test_insights_of_this_space(jp_fetch, world, aws):
    # When the panel asks for the insights of the seeded space's JupyterLab app
    data = await get_insights(jp_fetch)
    # Then every part is there with its status, and figures say their source
    assert set(data) >= {"context", "tags", "costs", "guardrails", "parts"}
    assert data["context"]["subject"]["owner_name"] == world.primary_space
    assert {g["id"] for g in data["guardrails"]} == set(BUILTIN)
    assert data["costs"]["estimate"]["source"] == "estimate"
    assert data["costs"]["billed"]["status"] == "disabled"
    app = world.find_app(app_type="JupyterLab")
    assert [a["instance_type"] for a in data["costs"]["estimate"]["apps"]] == [app["instance_type"]]
    keys = {(t["source"], t["key"]) for t in data["tags"]}
    assert ("space", "sagemaker:space-arn") in keys
    assert ("user-profile", world.user_id_tag_key) in keys
    assert all(data["parts"][p]["status"] == "ok" for p in ("tags", "costs", "guardrails"))
    # And the panel polling again costs no AWS call
    aws.reset_counts()
    await get_insights(jp_fetch)
    assert aws.calls == []


@pytest.mark.parametrize("studio_app", ["JupyterServer"], indirect=True)
async def test_idle_and_backup_engines_feed_their_checks(jp_fetch, jp_serverapp, world):
    # Given idle and backup engines in the server exposing summary() (the agreed protocol)
    class Summary:
        def __init__(self, data):
            self.data = data

        def summary(self):
            return self.data

    ext = jp_serverapp.web_app.settings["smstudio"]
    ext.idle = Summary(
        {"enabled": True, "timeout_minutes": 45, "dry_run": False, "max_timeout_minutes": 120}
    )
    ext.backup = Summary(
        {"configured": False, "bucket": None, "last_success": None, "last_snapshot_id": None}
    )
    checks = {g["id"]: g for g in (await get_insights(jp_fetch, parts="guardrails"))["guardrails"]}
    assert checks["idle-shutdown"]["status"] == "pass"
    assert checks["idle-shutdown"]["evidence"]["source"] == "smstudio"
    assert checks["backup-recent"]["status"] == "fail"
    assert "not configured" in checks["backup-recent"]["reason"]


@pytest.mark.parametrize("studio_app", ["JupyterLab"], indirect=True)
async def test_parts_and_refresh_parameters(jp_fetch, aws):
    data = await get_insights(jp_fetch, parts="tags")
    assert "tags" in data and "costs" not in data and "guardrails" not in data
    for bad in ({"refresh": "maybe"}, {"parts": "tags,secrets"}, {"parts": ","}):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("smstudio", "insights", params=bad)
        assert info.value.code == 400
        assert json.loads(info.value.response.body)["error"] == "bad_input"
    data = await get_insights(jp_fetch, refresh="1")
    assert data["parts"]["tags"]["status"] == "ok"


async def test_local_mode_answers_not_available(jp_fetch):
    data = await get_insights(jp_fetch)
    assert data["tags"] == [] and data["guardrails"] == []
    assert data["parts"]["guardrails"]["status"] == "not_available"
    assert data["costs"]["estimate"]["status"] == "not_available"


@pytest.mark.parametrize("studio_app", ["JupyterLab"], indirect=True)
async def test_cli_asks_the_running_server(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, monkeypatch, capsys, world
):
    await get_insights(jp_fetch)  # the server is up
    monkeypatch.setenv("SMSTUDIO_SERVER_URL", f"http://localhost:{jp_http_port}{jp_base_url}")
    monkeypatch.setenv("SMSTUDIO_SERVER_TOKEN", jp_serverapp.identity_provider.token)
    code = await asyncio.to_thread(main, ["insights", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["context"]["subject"]["owner_name"] == world.primary_space
    code = await asyncio.to_thread(main, ["insights"])
    out = capsys.readouterr().out
    assert code == 0 and "Guardrails" in out and "network-vpc-only" in out and "PASS" in out


def test_cli_direct_against_the_emulator(world, aws, tmp_path, monkeypatch, capsys):
    # Given the metadata of a Classic app and an admin config file
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    meta = world.write_metadata(tmp_path / "meta.json", world.find_app(app_type="JupyterServer"))
    cfg = tmp_path / "insights.json"
    cfg.write_text(
        json.dumps(
            {
                "Insights": {
                    "price_cache_path": str(tmp_path / "prices.json"),
                    "approved_images": sorted({image_name(a["image_arn"]) for a in world.apps}),
                }
            }
        )
    )
    base = ["--metadata", meta, "--endpoint-url", aws.endpoint_url, "--config", str(cfg)]
    assert main([*base, "insights", "--direct", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {g["id"]: g["status"] for g in data["guardrails"]}["image-approved"] == "pass"
    assert data["costs"]["estimate"]["per_hour"] > 0
    # a table on a terminal, including another owner for the admin
    args = [*base, "insights", "--direct", "--domain", world.domain_id, "--user-profile", "bob"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "user-profile bob" in out and "Tags" in out and "Costs (estimate" in out


def test_cli_table_prints_one_total_per_currency(world, aws, tmp_path, monkeypatch, capsys):
    # Given an admin price file in EUR for one of alice's Classic kernels (others priced in USD)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    meta = world.write_metadata(tmp_path / "meta.json", world.find_app(app_type="JupyterServer"))
    kernel = world.find_app(app_type="KernelGateway")
    prices = tmp_path / "negotiated.json"
    prices.write_text(json.dumps({"currency": "EUR", "prices": {kernel["instance_type"]: 0.07}}))
    cfg = tmp_path / "insights.json"
    cfg.write_text(
        json.dumps(
            {"Insights": {"price_cache_path": str(tmp_path / "p.json"), "price_file": str(prices)}}
        )
    )
    base = ["--metadata", meta, "--endpoint-url", aws.endpoint_url, "--config", str(cfg)]
    assert main([*base, "insights", "--direct", "--parts", "costs"]) == 0
    out = capsys.readouterr().out
    # Then the table shows a line per currency and says why the headline is partial
    assert "in EUR: now 0.07 EUR/h" in out and "in USD: now" in out
    assert "several currencies" in out


def test_cli_bad_arguments(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    assert main(["insights", "--direct", "--parts", "nope"]) == 2
    assert "--parts" in capsys.readouterr().err
    assert main(["insights", "--direct", "--user-profile", "bob"]) == 2
    assert "need --domain" in capsys.readouterr().err


def _json_schema(node):
    """OpenAPI 3.0 schema → JSON Schema (``nullable`` → a "null" type)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "allOf" in out or "$ref" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.mark.parametrize("studio_app", ["JupyterServer"], indirect=True)
async def test_answer_matches_the_documented_openapi_schema(jp_fetch, aws, world):
    import importlib.resources

    import jsonschema
    import yaml

    spec = yaml.safe_load(
        importlib.resources.files("smstudio_ext").joinpath("rest-api.yaml").read_text()
    )
    op = spec["paths"]["/smstudio/insights"]["get"]
    schema = _json_schema(op["responses"]["200"]["content"]["application/json"]["schema"])
    schema["components"] = _json_schema(spec["components"])
    # a healthy answer, and one with failing parts (denied calls), both match the documentation
    jsonschema.validate(await get_insights(jp_fetch), schema)
    for operation in ("ListApps", "ListTags", "DescribeDomain"):
        aws.deny(operation)
    degraded = await get_insights(jp_fetch, refresh="1")
    assert degraded["parts"]["tags"]["status"] == "partial"
    assert degraded["costs"]["estimate"]["status"] == "error"
    jsonschema.validate(degraded, schema)


class TestBadConfig:
    @pytest.fixture
    def extra_server_config(self):
        return {"Insights": {"allowed_instance_types": ["t3.medium"]}}

    async def test_bad_config_disables_the_engine_with_the_reason(self, jp_fetch):
        # the same path as every engine's bad section (test_engine_config.py)
        with pytest.raises(HTTPClientError) as info:
            await get_insights(jp_fetch)
        assert info.value.code == 409
        detail = json.loads(info.value.response.body)["detail"]
        assert detail.startswith("the insights engine is disabled: invalid Insights config")
        assert "'t3.medium'" in detail
        assert (await jp_fetch("smstudio", "context")).code == 200
