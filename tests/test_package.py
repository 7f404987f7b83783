"""The package people install: one version everywhere, completion scripts in the wheel, and a
fresh ``pip install`` with no extras that runs every command without a traceback (a missing
extra is named)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from package_support import REPO, fresh_venv, pip_install, wheelhouse_for
from packaging.version import Version

import smstudio_ext
from smstudio_ext.testing.smd.env import locked

PACKAGE_JSON = REPO / "labextension" / "package.json"


def npm_version() -> str:
    return json.loads(PACKAGE_JSON.read_text())["version"]


@pytest.fixture(scope="session")
def wheel(built_wheel) -> Path:
    """The wheel as a release builds it (tests/conftest.py's ``built_wheel``)."""
    return built_wheel


# --- the version, written once ----------------------------------------------------------------


def test_the_version_is_package_jsons_everywhere():
    version = npm_version()
    assert Version(smstudio_ext.__version__) == Version(version)
    assert metadata.version("smstudio-ext") == smstudio_ext.__version__
    built = REPO / "smstudio_ext" / "labextension" / "package.json"
    if built.exists():  # the panel the server ships (its footer shows this)
        assert json.loads(built.read_text())["version"] == version
    # _version.py is generated, never written by hand: it is not in git
    assert "smstudio_ext/_version.py" in (REPO / ".gitignore").read_text()


def test_the_wheel_carries_one_version_and_the_completion_scripts(wheel):
    version = npm_version()
    assert wheel.name.startswith(f"smstudio_ext-{Version(version)}-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        data = f"smstudio_ext-{Version(version)}.data/data/"
        bash = zf.read(data + "share/bash-completion/completions/smstudio").decode()
        zsh = zf.read(data + "share/zsh/site-functions/_smstudio").decode()
        generated = zf.read("smstudio_ext/_version.py").decode()
        meta = zf.read(f"smstudio_ext-{Version(version)}.dist-info/METADATA").decode()
        built = json.loads(zf.read(f"{data}share/jupyter/labextensions/smstudio-ext/package.json"))
    assert f"__version__ = {str(Version(version))!r}" in generated
    assert f"\nVersion: {Version(version)}\n" in meta
    assert built["version"] == version
    assert "smstudio_ext/py.typed" in names
    # the completion scripts know the commands, their options and their choices
    assert "complete -o bashdefault -F _shtab_smstudio smstudio" in bash
    for word in ("audit", "plan-subnet", "--endpoint-url", "JupyterLab", "--user-profile"):
        assert word in bash and word in zsh, word
    assert zsh.startswith("#compdef smstudio")
    # the optional parts are extras, named in the metadata
    for extra in ("admin", "demo", "test"):
        assert f"Provides-Extra: {extra}" in meta


# --- a fresh install with no extras -----------------------------------------------------------

DRIVER = r"""
import contextlib, io, json, sys, traceback
from smstudio_ext.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            err.write(traceback.format_exc())
            code = "crashed"
    results.append({"argv": argv, "code": code, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def fresh(run_dir, wheel) -> Path:
    """A new venv with the wheel installed from an offline wheelhouse, no extras."""
    venv = run_dir / "fresh-venv"
    with locked(run_dir / "fresh-venv.lock"):
        python = venv / "bin" / "python"
        if python.exists() and (venv / ".installed").exists():
            return python
        house = run_dir / "fresh-wheelhouse"
        wheelhouse_for(metadata.distribution("smstudio-ext").requires or [], house)
        python = fresh_venv(venv)
        proc = pip_install(python, house, str(wheel))
        assert proc.returncode == 0, proc.stderr[-3000:]
        (venv / ".installed").touch()
        return python


def run_all(python: Path, argvs: list[list[str]], env: dict[str, str]) -> list[dict]:
    proc = subprocess.run(
        [str(python), "-c", DRIVER, json.dumps(argvs)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def assert_clean(result: dict, allowed: set) -> None:
    where = " ".join(result["argv"])
    assert "Traceback" not in result["err"], (where, result["err"])
    assert "unexpected" not in result["err"], (where, result["err"])
    assert result["code"] in allowed, (where, result["code"], result["err"][-1500:])


@pytest.fixture
def fresh_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "SMSTUDIO_METADATA_PATH": str(tmp_path / "no-metadata.json"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def test_no_extra_is_installed(fresh):
    probe = "import importlib.util as u; print([m for m in ('moto', 'parliament', 'jupyterlab', 'pytest') if u.find_spec(m)])"
    out = subprocess.run([str(fresh), "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    version = subprocess.run(
        [str(fresh.parent / "smstudio"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"smstudio {smstudio_ext.__version__}"


def test_every_commands_help_runs_on_a_plain_install(fresh, fresh_env):
    from cli_support import LEAVES

    argvs = [["--help"]] + [[*words.split(), "--help"] for words, _ in LEAVES]
    for result in run_all(fresh, argvs, fresh_env):
        assert_clean(result, {0})
        assert "usage: smstudio" in result["out"]


def test_every_command_runs_on_a_plain_install(fresh, fresh_env, aws, world, tmp_path):
    """A representative invocation of every command against the emulator: it works, or it
    fails with its typed one-line error; a missing extra is named."""
    d = world.domain_id
    out = tmp_path / "out"
    out.mkdir()
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "notebooks" / "a.ipynb").write_text("{}")
    bucket = f"s3://{world.bucket}/fresh"
    (out / "wh").mkdir()
    emu = f"--endpoint-url {aws.endpoint_url} --region {aws.region}"
    uri = "111122223333.dkr.ecr.us-east-1.amazonaws.com/x:1"
    role = "arn:aws:iam::111122223333:role/R"
    lines = [
        ("--version", {0}),
        ("context", {0}),
        ("config show --json", {0}),
        ("demo", {6}),  # the demo extra is missing: named
        ("plan-subnet --subnets 2 --users 5 --instances-per-user 2", {0}),
        (f"policies render --out {out}/policies --json", {0}),  # lint skipped: named
        (f"{emu} domain export --domain {d} --out {out}/m.json", {0}),
        (f"{emu} domain import --manifest {out}/m.json --domain {d} --dry-run", {0}),
        (f"{emu} audit --domain {d} --no-prices --json", {0, 1}),
        (f"{emu} audit --domain {d} --no-prices --no-savings --report {out}/r.html", {0, 1}),
        (f"conda --envs-dir {out}/envs list --json", {0}),
        (f"conda --envs-dir {out}/envs create x --dry-run", {0, 6}),  # 6: no conda tool
        ("idle status", {6}),  # no running server
        (f"{emu} insights --direct --json", {0}),
        (
            f"lcc render --app-type JupyterLab --wheelhouse s3://corp-wheels/x --out {out}/lcc.sh",
            {0},
        ),
        (
            f"{emu} lcc register --domain {d} --name smstudio --app-type JupyterLab "
            "--wheelhouse s3://corp-wheels/x --dry-run",
            {0},
        ),
        (
            f"{emu} lcc detach --domain {d} --name smstudio --app-type JupyterLab --dry-run",
            {0, 4},
        ),  # 4: none attached
        (
            f"image dockerfile --kind jupyterlab --pip-spec smstudio-ext --out-dir {out}/img",
            {0, 2},
        ),
        ("image app-image-config --kind jupyterlab", {0}),
        (
            f"{emu} image register --kind jupyterlab --domain {d} --image-uri {uri} --name fresh "
            f"--role-arn {role} --dry-run",
            {0},
        ),
        (f"wheelhouse push {out}/wh s3://corp-wheels/x", {2}),  # an empty folder: refused
        (f"{emu} backup --bucket {bucket} --source {src}", {0}),
        (f"{emu} snapshots --bucket {bucket} --json", {0}),
        (f"{emu} restore latest --bucket {bucket} --target {out}/restored", {0}),
        (f"{emu} backup check --bucket {bucket}", {0}),
        (f"{emu} backup prune --bucket {bucket} --dry-run", {0}),
    ]
    cases = [(shlex.split(line), allowed) for line, allowed in lines]
    from smstudio_ext.cli import COMMANDS, command_of

    covered = {command_of(argv) for argv, _ in cases}
    assert set(COMMANDS) <= covered, set(COMMANDS) - covered  # every command has its case
    results = run_all(fresh, [argv for argv, _ in cases], fresh_env)
    by_argv = {tuple(r["argv"]): r for r in results}
    for argv, allowed in cases:
        assert_clean(by_argv[tuple(argv)], allowed)
    demo = by_argv[("demo",)]
    assert "pip install 'smstudio-ext[demo]'" in demo["err"]
    policies = by_argv[tuple(shlex.split(f"policies render --out {out}/policies --json"))]
    assert "pip install 'smstudio-ext[admin]'" in policies["err"]  # the lint is skipped, named
    assert json.loads(policies["out"])["lint"].startswith("policy lint skipped")
    assert (out / "restored" / "notebooks" / "a.ipynb").read_text() == "{}"
    assert re.search(r"smstudio-ext \S+", (out / "r.html").read_text())
