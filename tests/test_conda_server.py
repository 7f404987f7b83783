"""Persisted envs through a real Jupyter server: kernels appear, run in the env, disappear."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time

import pytest

from smstudio_ext.testing.condaenv import make_env

KSM = "smstudio_ext.conda.kernelspecs.PersistedEnvKernelSpecManager"


@pytest.fixture
def envs_dir(tmp_path):
    d = tmp_path / "persisted-envs"
    d.mkdir()
    return str(d)


@pytest.fixture
def condarc(tmp_path):
    return tmp_path / "home-condarc"


@pytest.fixture
def extra_server_config(envs_dir, condarc):
    return {
        "CondaEnvs": {
            "envs_dir": envs_dir,
            "condarc_path": str(condarc),
            "refresh_interval": 0.2,
        }
    }


async def _start_loops(serverapp):
    """What the real server does once its IOLoop runs (pytest-jupyter does not): start the
    extensions' background loops."""
    await serverapp.extension_manager.start_all_extensions()


def _openapi_schema():
    import yaml

    import smstudio_ext

    path = os.path.join(os.path.dirname(smstudio_ext.__file__), "rest-api.yaml")
    with open(path) as fh:
        doc = yaml.safe_load(fh)
    get = doc["paths"]["/smstudio/conda/envs"]["get"]
    return get["responses"]["200"]["content"]["application/json"]["schema"]


async def _specs(jp_fetch):
    resp = await jp_fetch("api", "kernelspecs")
    return json.loads(resp.body)["kernelspecs"]


async def _wait_for(predicate, timeout=5.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        value = await predicate()
        if value:
            return value, time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


async def _run_in_kernel(jp_serverapp, kernel_id, code):
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = km.client()
    client.start_channels()
    out: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        reply = await client.execute_interactive(code, output_hook=hook, timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
    return "".join(out)


async def test_new_env_is_a_kernel_runs_in_the_env_and_goes_away(jp_fetch, jp_serverapp, envs_dir):
    await _start_loops(jp_serverapp)
    # Given a running server and no persisted env
    assert not [k for k in await _specs(jp_fetch) if k.startswith("conda-env-")]
    # When an env with ipykernel appears in the persisted folder (no restart)
    env = make_env(envs_dir, "proj")

    async def listed():
        return (await _specs(jp_fetch)).get("conda-env-proj-py")

    spec, waited = await _wait_for(listed)
    # Then it is a kernel within seconds, named as persisted
    assert waited < 5
    assert "persisted" in spec["spec"]["display_name"]
    assert spec["spec"]["env"]["CONDA_PREFIX"] == env
    # And a kernel started from it runs the env's own interpreter, activated
    resp = await jp_fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": "conda-env-proj-py"})
    )
    kernel_id = json.loads(resp.body)["id"]
    try:
        out = await _run_in_kernel(
            jp_serverapp,
            kernel_id,
            "import os, sys; print(sys.prefix); print(os.environ['CONDA_PREFIX']); "
            "print(os.environ['PATH'].split(os.pathsep)[0])",
        )
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    prefix, conda_prefix, first_path = out.split()
    assert prefix == env and conda_prefix == env
    assert first_path == os.path.join(env, "bin")
    # When the env is removed, its kernel goes too
    shutil.rmtree(env)

    async def gone():
        return "conda-env-proj-py" not in await _specs(jp_fetch)

    await _wait_for(gone)


async def test_rest_lists_envs_with_kernel_or_reason_and_fix(
    jp_fetch, envs_dir, monkeypatch, tmp_path, caplog
):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no conda tool anywhere
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    good = make_env(envs_dir, "good")
    bare = make_env(envs_dir, "bare", ipykernel=False)
    make_env(envs_dir, "broken", interpreter=False)
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        resp = await jp_fetch("smstudio", "conda", "envs")
    data = json.loads(resp.body)
    by_name = {e["name"]: e for e in data["envs"]}
    assert sorted(by_name) == ["bare", "good"]
    assert by_name["good"]["kernel_name"] == "conda-env-good-py"
    assert by_name["good"]["path"] == good and by_name["good"]["size_bytes"] > 0
    assert by_name["good"]["python_version"]
    assert by_name["bare"]["kernel_name"] is None
    assert by_name["bare"]["reason"] == "ipykernel is not installed in this env"
    assert by_name["bare"]["fix"] == f"conda install -y -p {bare} ipykernel"
    assert any("broken" in w and "no interpreter" in w for w in data["warnings"])
    assert any("no interpreter" in r.getMessage() for r in caplog.records)
    assert data["tool"] is None and "no conda tool" in data["tool_message"]
    assert data["kernel_mode"] == "loop" and data["envs_dir"] == envs_dir
    # the answer is what rest-api.yaml documents
    schema = _openapi_schema()
    assert set(data) == set(schema["properties"])
    env_props = schema["properties"]["envs"]["items"]["properties"]
    assert all(set(e) == set(env_props) for e in data["envs"])
    # the env without ipykernel is no kernel
    assert "conda-env-bare-py" not in await _specs(jp_fetch)


async def test_condarc_written_on_start(jp_fetch, condarc, envs_dir):
    await jp_fetch("smstudio", "conda", "envs")
    import yaml

    assert yaml.safe_load(condarc.read_text())["envs_dirs"] == [envs_dir]


class TestConfiguredKernelSpecManager:
    """With the kernel spec manager configured, a new env is listed on the very next request."""

    @pytest.fixture
    def extra_server_config(self, envs_dir, condarc):
        return {
            "ServerApp": {"kernel_spec_manager_class": KSM},
            "CondaEnvs": {
                "envs_dir": envs_dir,
                "condarc_path": str(condarc),
                "refresh_interval": 300,  # the loop is not what makes it appear
            },
        }

    async def test_env_listed_on_next_request(self, jp_fetch, jp_serverapp, envs_dir):
        assert type(jp_serverapp.kernel_spec_manager).__name__ == "PersistedEnvKernelSpecManager"
        make_env(envs_dir, "instant")
        assert "conda-env-instant-py" in await _specs(jp_fetch)
        data = json.loads((await jp_fetch("smstudio", "conda", "envs")).body)
        assert data["kernel_mode"] == "manager"
        shutil.rmtree(os.path.join(envs_dir, "instant"))
        assert "conda-env-instant-py" not in await _specs(jp_fetch)


class TestInvalidCondarc:
    @pytest.fixture
    def condarc(self, tmp_path):
        path = tmp_path / "bad-condarc"
        path.write_text("channels: [conda-forge\n# unclosed\n")
        return path

    async def test_server_starts_and_leaves_it_untouched(self, jp_fetch, condarc, envs_dir, caplog):
        warned = [r.getMessage() for r in caplog.get_records("setup")]
        assert any("left untouched" in m and "not valid YAML" in m for m in warned), warned
        make_env(envs_dir, "ok")
        data = json.loads((await jp_fetch("smstudio", "conda", "envs")).body)
        assert [e["name"] for e in data["envs"]] == ["ok"]
        assert condarc.read_text() == "channels: [conda-forge\n# unclosed\n"


async def test_sizes_can_be_skipped_and_bad_flag_is_400(jp_fetch, envs_dir):
    from tornado.httpclient import HTTPClientError

    make_env(envs_dir, "a")
    data = json.loads((await jp_fetch("smstudio", "conda", "envs", params={"sizes": "false"})).body)
    assert data["envs"][0]["size_bytes"] is None
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("smstudio", "conda", "envs", params={"sizes": "maybe"})
    assert err.value.code == 400
    assert json.loads(err.value.response.body)["error"] == "bad_input"


class TestBadConfig:
    @pytest.fixture
    def extra_server_config(self):
        return {"CondaEnvs": {"display_name_format": "{nope}"}}

    async def test_conda_disabled_with_the_reason_other_routes_work(self, jp_fetch):
        from tornado.httpclient import HTTPClientError

        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("smstudio", "conda", "envs")
        assert err.value.code == 409
        body = json.loads(err.value.response.body)
        assert "display_name_format" in body["detail"]
        assert (await jp_fetch("smstudio", "context")).code == 200


class TestUnwritableHome:
    """.condarc and the kernels folder cannot be written (their folder is a file): the server
    still starts, lists envs and says what failed, once."""

    @pytest.fixture
    def extra_server_config(self, envs_dir, tmp_path):
        blocker = tmp_path / "home-is-a-file"
        blocker.write_text("")
        return {
            "CondaEnvs": {
                "envs_dir": envs_dir,
                "condarc_path": str(blocker / ".condarc"),
                "kernelspec_dir": str(blocker / "kernels"),
                "refresh_interval": 0.1,
            }
        }

    async def test_server_lists_envs_and_warns_once(self, jp_fetch, jp_serverapp, envs_dir, caplog):
        setup_msgs = [r.getMessage() for r in caplog.get_records("setup")]
        assert any(".condarc: [Errno 20] Not a directory" in m for m in setup_msgs), setup_msgs
        await _start_loops(jp_serverapp)
        make_env(envs_dir, "a")
        data = json.loads((await jp_fetch("smstudio", "conda", "envs")).body)
        assert [e["kernel_name"] for e in data["envs"]] == ["conda-env-a-py"]
        await asyncio.sleep(0.5)  # several failing background checks
        msgs = [r.getMessage() for r in caplog.get_records("call")]
        failures = [m for m in msgs if "cannot write kernelspec" in m]
        assert len(failures) == 1, failures
