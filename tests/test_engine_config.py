"""One path for invalid configuration: a bad section disables only its engine, with the reason
naming the trait (GET on its route: 409 ``not_configured``), the same for every engine; the
server and the other engines stay up."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

# engine -> (its section with a value its validation refuses, its route, the trait named)
BAD = {
    "conda": ({"CondaEnvs": {"tool": "pip"}}, ("smstudio", "conda", "envs"), "CondaEnvs.tool"),
    "backup": (
        {"HomeBackup": {"bucket": "my-bucket"}},
        ("smstudio", "backup"),
        "HomeBackup.bucket",
    ),
    "idle": (
        {"IdleShutdown": {"cpu_threshold_percent": -5.0}},
        ("smstudio", "idle"),
        "cpu_threshold_percent",
    ),
    "insights": (
        {"Insights": {"allowed_instance_types": ["t3.medium"]}},
        ("smstudio", "insights"),
        "Insights.allowed_instance_types",
    ),
}


@pytest.fixture
def extra_server_config(request):
    return BAD[request.param][0]


@pytest.mark.parametrize("extra_server_config", list(BAD), indirect=True)
async def test_a_bad_section_disables_only_its_engine(jp_fetch, jp_serverapp, extra_server_config):
    (engine,) = [name for name, (section, _, _) in BAD.items() if section == extra_server_config]
    _, route, trait = BAD[engine]
    # Then its route says which engine is off and why, naming the trait
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*route)
    assert info.value.code == 409
    body = json.loads(info.value.response.body)
    assert body["error"] == "not_configured"
    assert body["detail"].startswith(f"the {engine} engine is disabled: invalid ")
    assert trait in body["detail"]
    services = jp_serverapp.web_app.settings["smstudio"]
    assert getattr(services, engine) is None and trait in services.unavailable[engine]
    # and the server and every other engine still answer
    assert (await jp_fetch("smstudio", "context")).code == 200
    for other in [name for name in BAD if name != engine]:
        assert getattr(services, other) is not None, other
