"""The same document for the same thing (issue 17): the CLI and the REST API agree.

* ``smstudio conda list --json`` is ``GET smstudio/conda/envs``;
* a query boolean means the same on every route (one ``bool_arg``);
* the CLI maps a REST error by the body's error code: a 409 ``not_configured`` exits 6, not 5.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from smstudio_ext.cli import main
from smstudio_ext.cli.server import api
from smstudio_ext.errors import (
    AccessDenied,
    Conflict,
    InvalidCredentials,
    MissingExtra,
    NotConfigured,
    SmStudioError,
    error_for,
    from_answer,
)
from smstudio_ext.testing.condaenv import make_env


@pytest.fixture
def envs_dir(tmp_path):
    d = tmp_path / "persisted-envs"
    d.mkdir()
    make_env(str(d), "ds")
    make_env(str(d), "bare", ipykernel=False)
    return d


@pytest.fixture
def extra_server_config(envs_dir, tmp_path):
    return {"CondaEnvs": {"envs_dir": str(envs_dir), "condarc_path": str(tmp_path / "condarc")}}


async def test_conda_list_json_is_the_rest_document(jp_fetch, envs_dir, tmp_path, capsys):
    # Given the server's answer
    resp = await jp_fetch("smstudio", "conda", "envs")
    rest = json.loads(resp.body)
    # When the CLI lists the same folder
    code = await asyncio.to_thread(main, ["conda", "--envs-dir", str(envs_dir), "list", "--json"])
    assert code == 0
    cli = json.loads(capsys.readouterr().out)
    # Then it is the same document; only how the server offers kernels is the server's to say
    assert set(cli) == set(rest)
    assert rest["kernel_mode"] and cli["kernel_mode"] is None
    for key in set(rest) - {"kernel_mode"}:
        assert cli[key] == rest[key], key
    assert [e["name"] for e in cli["envs"]] == ["bare", "ds"]


@pytest.mark.parametrize(
    "path, name",
    [
        (("smstudio", "conda", "envs"), "sizes"),
        (("smstudio", "idle"), "refresh"),
        (("smstudio", "insights"), "refresh"),
    ],
)
async def test_query_booleans_read_the_same_on_every_route(jp_fetch, path, name):
    # yes/no spellings are accepted everywhere (idle used to read "maybe" as false)
    for value in ("yes", "0", "TRUE", "off"):
        resp = await jp_fetch(*path, params={name: value})
        assert resp.code == 200
    with pytest.raises(HTTPClientError) as exc:
        await jp_fetch(*path, params={name: "maybe"})
    assert exc.value.code == 400
    body = json.loads(exc.value.response.body)
    assert body["error"] == "bad_input" and f"{name} must be true or false" in body["detail"]


async def test_a_409_not_configured_is_not_a_conflict(
    jp_serverapp, http_server_client, jp_http_port, jp_base_url
):
    # Given a real server with no backup bucket: starting a backup answers 409 not_configured
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    token = jp_serverapp.identity_provider.token
    with pytest.raises(SmStudioError) as exc:
        await asyncio.to_thread(api, url, token, "POST", "smstudio/backup", {})
    # Then the CLI holds the typed error the body names: exit 6, as in-process
    assert isinstance(exc.value, NotConfigured) and not isinstance(exc.value, Conflict)
    assert exc.value.exit_code == 6
    assert exc.value.message.startswith("server answered 409: ")


def test_error_classes_by_code_then_status():
    assert error_for("not_configured", 409) is NotConfigured
    assert error_for("conflict", 409) is Conflict
    assert error_for("missing_extra", 409) is MissingExtra
    assert error_for("credentials_invalid", 403) is InvalidCredentials
    assert error_for(None, 403) is AccessDenied  # no body: by status
    assert error_for("something_new", 409) is Conflict
    assert error_for(None, 418) is SmStudioError
    err = from_answer(
        {"error": "access_denied", "detail": "no", "action": "sagemaker:ListApps"}, 403, "m"
    )
    assert isinstance(err, AccessDenied) and err.action == "sagemaker:ListApps"
    assert err.exit_code == 3 and err.to_dict()["action"] == "sagemaker:ListApps"
    # an extra with its own constructor is rebuilt from the answer too
    err = from_answer({"error": "missing_extra", "extra": "demo"}, 409, "needs demo")
    assert isinstance(err, MissingExtra) and err.exit_code == 6 and err.message == "needs demo"
