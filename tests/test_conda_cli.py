"""``smstudio conda ...`` as a user or a lifecycle config runs it (real subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from smstudio_ext.cli import main
from smstudio_ext.conda.kernelspecs import is_managed
from smstudio_ext.testing.condaenv import make_env


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    (h / ".conda" / "envs").mkdir(parents=True)
    return h


@pytest.fixture
def cli_env(home, tmp_path):
    """A clean environment: HOME, Jupyter dirs and a PATH without any conda tool."""
    env = {
        "HOME": str(home),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "SMSTUDIO_METADATA_PATH": str(tmp_path / "no-metadata.json"),
        "PYTHONPATH": os.getcwd(),
        "AWS_REGION": "us-east-1",
    }
    return env


def run(cli_env, *args, prefix=(), env_extra=None):
    return subprocess.run(
        [*prefix, sys.executable, "-m", "smstudio_ext", "conda", *args],
        capture_output=True,
        text=True,
        env={**cli_env, **(env_extra or {})},
        timeout=60,
    )


def test_list_json_and_table(cli_env, home):
    envs = str(home / ".conda" / "envs")
    make_env(envs, "a")
    bare = make_env(envs, "b", ipykernel=False)
    out = run(cli_env, "list", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [e["name"] for e in data["envs"]] == ["a", "b"]
    assert data["envs"][0]["kernels"] == ["conda-env-a-py"]
    assert data["envs"][1]["fix"] == f"conda install -y -p {bare} ipykernel"
    assert data["tool"] is None
    table = run(cli_env, "list")
    assert table.returncode == 0
    assert "conda-env-a-py" in table.stdout
    assert f"to give b a kernel: conda install -y -p {bare} ipykernel" in table.stdout
    assert "no conda tool" in table.stderr


def test_sync_user_writes_kernelspecs_and_condarc_idempotently(cli_env, home):
    envs = str(home / ".conda" / "envs")
    make_env(envs, "a")
    kernels = home / ".local" / "share" / "jupyter" / "kernels"
    # Given a kernelspec the user made themselves
    (kernels / "mine").mkdir(parents=True)
    (kernels / "mine" / "kernel.json").write_text('{"argv": ["x"], "display_name": "x"}')
    first = run(cli_env, "sync", "--user", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["written"] == ["conda-env-a-py"] and data["condarc"]["status"] == "created"
    assert "~/.conda/envs" in (home / ".condarc").read_text()
    spec = json.loads((kernels / "conda-env-a-py" / "kernel.json").read_text())
    assert spec["argv"][0] == os.path.join(envs, "a", "bin", "python")
    # Re-run: nothing changes
    second = json.loads(run(cli_env, "sync", "--json").stdout)
    assert second["written"] == [] and second["unchanged"] == ["conda-env-a-py"]
    assert second["condarc"]["status"] == "unchanged"
    # Env removed: its kernelspec goes, the user's stays
    shutil.rmtree(os.path.join(envs, "a"))
    third = json.loads(run(cli_env, "sync", "--json").stdout)
    assert third["removed"] == ["conda-env-a-py"]
    assert sorted(os.listdir(kernels)) == ["mine"]


def test_sync_prefix(cli_env, home, tmp_path):
    make_env(str(home / ".conda" / "envs"), "a")
    out = run(cli_env, "sync", "--prefix", str(tmp_path / "kg"))
    assert out.returncode == 0, out.stderr
    kdir = tmp_path / "kg" / "share" / "jupyter" / "kernels" / "conda-env-a-py"
    assert is_managed(str(kdir))
    assert "written 1" in out.stdout


def test_create_dry_run_prints_the_exact_commands(cli_env, home, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mm = bin_dir / "micromamba"
    mm.write_text("#!/bin/sh\nexit 1\n")
    mm.chmod(0o755)
    cli_env["PATH"] = f"{bin_dir}{os.pathsep}{cli_env['PATH']}"
    out = run(cli_env, "create", "ds", "--python", "3.11", "--dry-run")
    assert out.returncode == 0, out.stderr
    prefix = str(home / ".conda" / "envs" / "ds")
    assert out.stdout.strip() == f"{mm} create -y -p {prefix} python=3.11 ipykernel"
    out = run(cli_env, "create", "ds", "--no-ipykernel", "--dry-run")
    assert out.stdout.strip() == f"{mm} create -y -p {prefix} python"


@pytest.mark.parametrize("name", ["a/b", "my env", "x;id", "$(id)"])
def test_bad_names_exit_2(cli_env, name, monkeypatch, capsys):
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    for args in (("create", name, "--dry-run"), ("rm", name), ("export", name)):
        assert main(["conda", *args]) == 2, args
        assert "invalid environment name" in capsys.readouterr().err


def test_no_tool_is_a_clear_message(cli_env):
    out = run(cli_env, "create", "ds")
    assert out.returncode == 6
    assert "no conda tool found on PATH" in out.stderr
    assert "Listing envs and their kernels works without it" in out.stderr


def test_create_failure_exit_code_and_message(cli_env, tmp_path, home):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    conda = bin_dir / "conda"
    conda.write_text("#!/bin/sh\necho 'CondaHTTPError: HTTP 000 CONNECTION FAILED' >&2\nexit 1\n")
    conda.chmod(0o755)
    cli_env["PATH"] = f"{bin_dir}{os.pathsep}{cli_env['PATH']}"
    out = run(cli_env, "create", "ds")
    assert out.returncode == 9
    assert "failed with exit code 1" in out.stderr and "CONNECTION FAILED" in out.stderr
    assert not (home / ".conda" / "envs" / "ds").exists()


def test_rm(cli_env, home):
    envs = str(home / ".conda" / "envs")
    make_env(envs, "old")
    out = run(cli_env, "rm", "old")
    assert out.returncode == 0 and not os.path.exists(os.path.join(envs, "old"))
    assert run(cli_env, "rm", "old").returncode == 4


def _can_unshare():
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs unshare -rm for a read-only bind mount")
def test_read_only_home(cli_env, home):
    # Given a home mounted read-only (a private mount namespace; the real error is EROFS)
    envs = str(home / ".conda" / "envs")
    make_env(envs, "a")
    ro = [
        "unshare",
        "-rm",
        "sh",
        "-c",
        f'mount --bind "{home}" "{home}" && mount -o remount,bind,ro "{home}" && exec "$@"',
        "sh",
    ]
    # When the LCC step runs
    sync = run(cli_env, "sync", prefix=ro)
    # Then it says what failed, and why, and exits non-zero without a traceback
    assert sync.returncode == 1
    assert "cannot write" in sync.stdout + sync.stderr
    assert "Read-only file system" in sync.stdout + sync.stderr
    assert "Traceback" not in sync.stderr
    # And listing still works
    listing = run(cli_env, "list", "--json", prefix=ro)
    assert listing.returncode == 0, listing.stderr
    assert [e["name"] for e in json.loads(listing.stdout)["envs"]] == ["a"]
    # And creating says so clearly, before running any tool
    bin_dir = home.parent / "bin"
    bin_dir.mkdir()
    (bin_dir / "conda").write_text('#!/bin/sh\necho ran >> "$0.log"\n')
    (bin_dir / "conda").chmod(0o755)
    cli_env["PATH"] = f"{bin_dir}{os.pathsep}{cli_env['PATH']}"
    create = run(cli_env, "create", "new", prefix=ro)
    assert create.returncode == 1
    assert f"the envs folder {envs} is not writable" in create.stderr
    assert not (bin_dir / "conda.log").exists()


def test_export_then_recreate_after_a_migration(cli_env, home, tmp_path):
    # Given a conda on PATH (a stand-in that logs its argv and answers `env export`)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    (bin_dir / "conda").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> "{log}"\n'
        'if [ "$1 $2" = "env export" ]; then\n'
        "  printf 'name: ds\\ndependencies:\\n  - python=3.11\\n  - pandas\\nprefix: /old/home/ds\\n'\n"
        "fi\n"
        'if [ "$1 $2" = "env create" ] && [ -z "${BROKEN_TOOL:-}" ]; then mkdir -p "$4/conda-meta"; fi\n'
    )
    (bin_dir / "conda").chmod(0o755)
    cli_env["PATH"] = f"{bin_dir}{os.pathsep}{cli_env['PATH']}"
    envs = home / ".conda" / "envs"
    make_env(str(envs), "ds")
    # When exported
    out = run(cli_env, "export", "ds")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "name: ds\ndependencies:\n  - python=3.11\n  - pandas\n"
    saved = envs / "ds.environment.yml"
    assert saved.read_text() == out.stdout and f"written to {saved}" in out.stderr
    assert log.read_text() == f"env export -p {envs / 'ds'} --no-builds\n"
    # A tool that says "done" without building the env does not cost the old env
    out = run(cli_env, "recreate", "ds", env_extra={"BROKEN_TOOL": "1"})
    assert out.returncode == 1
    assert "FAILED, old env kept" in out.stdout and "is not an env" in out.stdout
    assert (envs / "ds" / "bin" / "python").exists()
    log.write_text("")
    # And recreated (the stand-in only makes conda-meta: no interpreter in the new env)
    out = run(cli_env, "recreate")
    assert out.returncode == 0, out.stderr
    assert "ds: recreated" in out.stdout
    assert log.read_text().splitlines() == [f"env create -p {envs / 'ds'} -f {saved}"]
    assert not [n for n in os.listdir(envs) if n.startswith(".")]  # the old env is gone
    # recreate of an env that was never exported is refused
    out = run(cli_env, "recreate", "ghost")
    assert out.returncode == 4 and "no exported file for 'ghost'" in out.stderr
