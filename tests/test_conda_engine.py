"""The conda engine on real folders: discovery, kernelspec files, .condarc edits, commands."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys

import pytest

from smstudio_ext.conda.condarc import ensure_condarc
from smstudio_ext.conda.config import CondaEnvs
from smstudio_ext.conda.envs import EnvScanner, scan_envs, validate_env_name
from smstudio_ext.conda.kernelspecs import (
    KernelspecSync,
    desired_specs,
    is_managed,
    sync_kernelspec_dir,
)
from smstudio_ext.conda.manage import CondaManager
from smstudio_ext.conda.tools import (
    Tool,
    ToolFailed,
    create_steps,
    export_step,
    find_tool,
    require_tool,
)
from smstudio_ext.errors import BadInput, Conflict, NotConfigured, NotFound
from smstudio_ext.testing.condaenv import make_env

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture
def envs(tmp_path):
    d = tmp_path / "envs"
    d.mkdir()
    return str(d)


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "a/b",
        "../x",
        "my env",
        "x;rm -rf ~",
        "$(id)",
        "a`b`",
        "a|b",
        "a&b",
        ".hidden",
        "",
        "-x",
        "é",
        "a" * 101,
    ],
)
def test_bad_env_names_are_refused(name):
    with pytest.raises(BadInput, match="invalid environment name"):
        validate_env_name(name)


@pytest.mark.parametrize("name", ["py311", "my-env_2.0", "A"])
def test_good_env_names(name):
    assert validate_env_name(name) == name


# -- discovery ---------------------------------------------------------------------------------
def test_scan_finds_kernels_reasons_and_skips_broken_envs(envs, caplog):
    # Given an env with ipykernel, one without, a broken one and folders that are no env
    with_k = make_env(envs, "withk")
    without = make_env(envs, "nok", ipykernel=False)
    make_env(envs, "broken", interpreter=False)
    os.makedirs(os.path.join(envs, "not-an-env"))
    open(os.path.join(envs, "withk.environment.yml"), "w").close()
    # When scanned
    found, warnings = scan_envs(envs)
    specs = desired_specs(found, CondaEnvs().display_name_format)
    by_name = {e.name: e for e in found}
    # Then the broken env is skipped with a warning naming it, the others listed
    assert sorted(by_name) == ["nok", "withk"]
    assert len(warnings) == 1 and "'broken'" in warnings[0] and "no interpreter" in warnings[0]
    ok, nok = by_name["withk"], by_name["nok"]
    assert ok.kernels == ["conda-env-withk-py"] and ok.reason is None
    assert ok.python == os.path.join(with_k, "bin", "python")
    assert ok.python_version.startswith(PY)
    assert nok.kernels == [] and nok.reason == "ipykernel is not installed in this env"
    assert nok.fix == f"conda install -y -p {without} ipykernel"
    spec = specs["conda-env-withk-py"]
    assert spec["argv"] == [ok.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["env"]["CONDA_PREFIX"] == with_k
    assert spec["env"]["PATH"] == os.path.join(with_k, "bin") + os.pathsep + "${PATH}"
    assert "persisted" in spec["display_name"] and spec["display_name"].startswith("withk (Python")


def test_r_env_with_irkernel(envs):
    # Given an R-only env laid out like conda's r-base + r-irkernel
    path = os.path.join(envs, "rstats")
    os.makedirs(os.path.join(path, "conda-meta"))
    open(os.path.join(path, "conda-meta", "r-base-4.3.2-h1.json"), "w").close()
    os.makedirs(os.path.join(path, "lib", "R", "library", "IRkernel"))
    os.makedirs(os.path.join(path, "bin"))
    r = os.path.join(path, "bin", "R")
    with open(r, "w") as fh:
        fh.write("#!/bin/sh\n")
    os.chmod(r, 0o755)
    found, warnings = scan_envs(envs)
    specs = desired_specs(found, "{name} ({language} {version}, persisted)")
    assert warnings == []
    assert specs["conda-env-rstats-r"]["argv"][:1] == [r]
    assert specs["conda-env-rstats-r"]["display_name"] == "rstats (R 4.3.2, persisted)"


def test_scanner_rescans_only_on_change_and_caches_sizes(envs):
    scanner = EnvScanner(envs)
    assert scanner.scan()[2] is True
    assert scanner.scan()[2] is False  # nothing changed: no rescan
    make_env(envs, "one")
    found, _, changed = scanner.scan()
    assert changed and [e.name for e in found] == ["one"]
    size = scanner.size_of(found[0])
    assert size > 0 and scanner.size_of(found[0]) == size
    # installing a package (site-packages changes) is noticed
    sp = found[0].site_packages
    os.makedirs(os.path.join(sp, "newpkg"))
    assert scanner.scan()[2] is True


def test_missing_envs_folder_is_empty_not_an_error(tmp_path):
    assert scan_envs(str(tmp_path / "nope")) == ([], [])


# -- kernelspec files --------------------------------------------------------------------------
def test_sync_writes_marked_specs_removes_stale_and_never_touches_user_specs(envs, tmp_path):
    kernels = tmp_path / "kernels"
    # Given a user-made kernelspec under the same name as one of ours, and another of the user's
    user_same = kernels / "conda-env-b-py"
    user_same.mkdir(parents=True)
    (user_same / "kernel.json").write_text('{"argv": ["mine"], "display_name": "mine"}')
    user_other = kernels / "python-custom"
    user_other.mkdir()
    (user_other / "kernel.json").write_text('{"argv": ["x"], "display_name": "x"}')
    make_env(envs, "a")
    make_env(envs, "b")
    sync = KernelspecSync(EnvScanner(envs), str(kernels), CondaEnvs().display_name_format)
    # When synced
    first = sync.refresh()
    # Then ours is written and marked, the user's are left as they are
    assert first.written == ["conda-env-a-py"] and first.skipped == ["conda-env-b-py"]
    assert is_managed(str(kernels / "conda-env-a-py"))
    assert json.loads((user_same / "kernel.json").read_text())["argv"] == ["mine"]
    # And a second run with nothing changed does nothing at all (cheap path)
    assert sync.refresh() is None
    forced = sync.refresh(force=True)
    assert forced.written == [] and forced.unchanged == ["conda-env-a-py"]
    # When env a is removed, its kernelspec goes; the user's stay
    import shutil

    shutil.rmtree(os.path.join(envs, "a"))
    gone = sync.refresh()
    assert gone.removed == ["conda-env-a-py"]
    assert sorted(os.listdir(kernels)) == ["conda-env-b-py", "python-custom"]


def test_case_clash_gives_one_kernel_and_a_reason(envs):
    make_env(envs, "Proj")
    make_env(envs, "proj")
    found, _ = scan_envs(envs)
    specs = desired_specs(found, "{name}")
    assert list(specs) == ["conda-env-proj-py"]
    assert sum(1 for e in found if e.reason and "already used" in e.reason) == 1


def test_sync_into_unwritable_place_reports_errors(envs, tmp_path):
    make_env(envs, "a")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = sync_kernelspec_dir(
        str(blocker / "kernels"), desired_specs(scan_envs(envs)[0], "{name}")
    )
    assert result.errors and "cannot write kernelspec" in result.errors[0]


# -- .condarc ----------------------------------------------------------------------------------
USER_CONDARC = """\
# my settings, keep them
channels:
  - conda-forge   # first
  - defaults
envs_dirs:
    - /opt/shared/envs  # team envs
auto_activate_base: false
"""


def test_condarc_created_when_missing(tmp_path):
    path = tmp_path / ".condarc"
    res = ensure_condarc(str(path), "~/.conda/envs")
    assert res.status == "created"
    import yaml

    assert yaml.safe_load(path.read_text())["envs_dirs"] == ["~/.conda/envs"]


def test_condarc_edit_keeps_comments_and_settings_and_is_idempotent(tmp_path):
    path = tmp_path / ".condarc"
    path.write_text(USER_CONDARC)
    os.chmod(path, 0o600)
    res = ensure_condarc(str(path), "~/.conda/envs", pkgs_dir="/tmp/conda-pkgs")
    assert res.status == "updated" and res.added == ("envs_dirs", "pkgs_dirs")
    text = path.read_text()
    # every original line is still there, ours first in the list, with the list's indentation
    for line in USER_CONDARC.splitlines():
        assert line in text
    assert "envs_dirs:\n    - ~/.conda/envs\n    - /opt/shared/envs  # team envs\n" in text
    assert text.endswith("pkgs_dirs:\n  - /tmp/conda-pkgs\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # second run: byte-identical
    again = ensure_condarc(str(path), "~/.conda/envs", pkgs_dir="/tmp/conda-pkgs")
    assert again.status == "unchanged" and path.read_text() == text


def test_condarc_flow_list_and_equivalent_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".condarc"
    path.write_text("envs_dirs: [/a, /b]  # mine\n")
    assert ensure_condarc(str(path), "~/.conda/envs").status == "updated"
    assert path.read_text() == "envs_dirs: [~/.conda/envs, /a, /b]  # mine\n"
    # the same folder written absolutely counts as present
    path.write_text(f"envs_dirs:\n  - {tmp_path}/.conda/envs\n")
    assert ensure_condarc(str(path), "~/.conda/envs").status == "unchanged"


@pytest.mark.parametrize(
    "text",
    [
        "channels: [conda-forge\nenvs_dirs:\n  - /x\n",  # invalid YAML
        "envs_dirs:\n\t- /x\n",  # tab indentation: invalid YAML
        "- just\n- a list\n",  # not a mapping
        "envs_dirs: /single/path\n",  # a scalar we do not rewrite
    ],
)
def test_condarc_we_cannot_edit_is_left_untouched_with_a_warning(tmp_path, caplog, text):
    path = tmp_path / ".condarc"
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        res = ensure_condarc(str(path), "~/.conda/envs")
    assert res.status == "invalid" and not res.ok
    assert path.read_text() == text
    assert "left untouched" in res.message and "~/.conda/envs" in res.message
    assert any("left untouched" in r.getMessage() for r in caplog.records)


# -- tools and commands ------------------------------------------------------------------------
def _exe(folder, name, body="#!/bin/sh\nexit 0\n"):
    path = os.path.join(folder, name)
    with open(path, "w") as fh:
        fh.write(body)
    os.chmod(path, 0o755)
    return path


def test_find_tool_order_and_preference(tmp_path, monkeypatch):
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    bin_dir = str(tmp_path)
    conda = _exe(bin_dir, "conda")
    assert find_tool("auto", path=bin_dir) == Tool("conda", conda)
    mm = _exe(bin_dir, "micromamba")
    assert find_tool("auto", path=bin_dir) == Tool("micromamba", mm)
    assert find_tool("conda", path=bin_dir) == Tool("conda", conda)
    assert find_tool("mamba", path=bin_dir) is None


def test_no_tool_on_path_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    with pytest.raises(
        NotConfigured, match="no conda tool found on PATH.*micromamba, mamba or conda"
    ):
        require_tool("auto", path=str(tmp_path))


CONDA = Tool("conda", "/opt/conda/bin/conda")
MAMBA = Tool("mamba", "/opt/conda/bin/mamba")
MICRO = Tool("micromamba", "/usr/bin/micromamba")
P = "/home/u/.conda/envs/my-env"


def _argv(steps):
    return [s.argv for s in steps]


def test_create_commands_exact():
    assert _argv(create_steps(CONDA, P, python="3.11")) == [
        ["/opt/conda/bin/conda", "create", "-y", "-p", P, "python=3.11", "ipykernel"]
    ]
    assert _argv(create_steps(MICRO, P, ipykernel=False)) == [
        ["/usr/bin/micromamba", "create", "-y", "-p", P, "python"]
    ]
    assert _argv(create_steps(MAMBA, P, file="/w/environment.yml")) == [
        ["/opt/conda/bin/mamba", "env", "create", "-p", P, "-f", "/w/environment.yml"],
        ["/opt/conda/bin/mamba", "install", "-y", "-p", P, "ipykernel"],
    ]
    assert _argv(create_steps(MICRO, P, file="/w/e.yml", ipykernel=False)) == [
        ["/usr/bin/micromamba", "create", "-y", "-p", P, "-f", "/w/e.yml"]
    ]
    assert _argv(create_steps(CONDA, P, clone="/e/src")) == [
        ["/opt/conda/bin/conda", "create", "-y", "-p", P, "--clone", "/e/src"],
        ["/opt/conda/bin/conda", "install", "-y", "-p", P, "ipykernel"],
    ]
    steps = create_steps(MICRO, P, clone="/e/src", ipykernel=False, spec_tmp="/t/spec.txt")
    assert _argv(steps) == [
        ["/usr/bin/micromamba", "env", "export", "-p", "/e/src", "--explicit"],
        ["/usr/bin/micromamba", "create", "-y", "-p", P, "-f", "/t/spec.txt"],
    ]
    assert steps[0].stdout_path == "/t/spec.txt"
    assert export_step(CONDA, P).argv == [
        "/opt/conda/bin/conda",
        "env",
        "export",
        "-p",
        P,
        "--no-builds",
    ]
    assert export_step(MICRO, P).argv == ["/usr/bin/micromamba", "env", "export", "-p", P]


def test_create_command_bad_input():
    with pytest.raises(BadInput, match="invalid Python version"):
        create_steps(CONDA, P, python="3.11; rm -rf /")
    with pytest.raises(BadInput, match="at most one of"):
        create_steps(CONDA, P, python="3.11", file="/x.yml")


# -- the manager with a stand-in tool on PATH --------------------------------------------------
STANDIN = """#!/usr/bin/env bash
# A conda stand-in for tests: logs its argv; `create -p P` makes a venv-based env at P.
echo "$*" >> "$STANDIN_LOG"
if [ "$1 $2" = "env export" ]; then
  printf 'name: x\\nchannels:\\n  - conda-forge\\ndependencies:\\n  - python=3.11\\nprefix: /old/place\\n'
  exit 0
fi
if [ -n "${STANDIN_FAIL:-}" ]; then echo "PackagesNotFoundError: nothing here" >&2; mkdir -p "$5"; exit 3; fi
prefix=""
while [ $# -gt 0 ]; do if [ "$1" = "-p" ]; then prefix="$2"; fi; shift; done
"$STANDIN_PYTHON" -c "import sys; from smstudio_ext.testing.condaenv import make_env; import os; make_env(os.path.dirname(sys.argv[1]), os.path.basename(sys.argv[1]))" "$prefix"
"""


@pytest.fixture
def standin(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _exe(str(bin_dir), "conda", STANDIN)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_LOG", str(log))
    monkeypatch.setenv("STANDIN_PYTHON", sys.executable)
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    return log


@pytest.fixture
def manager(envs, tmp_path):
    cfg = CondaEnvs(envs_dir=envs, kernelspec_dir=str(tmp_path / "kernels"), tool="conda")
    return CondaManager(cfg)


def test_create_runs_the_tool_exports_and_offers_a_kernel(manager, standin, envs):
    info = manager.create("proj", python="3.11", echo=lambda s: None)
    calls = standin.read_text().splitlines()
    prefix = os.path.join(envs, "proj")
    assert calls[0] == f"create -y -p {prefix} python=3.11 ipykernel"
    assert calls[1] == f"env export -p {prefix} --no-builds"
    assert info.kernels == ["conda-env-proj-py"]
    exported = open(os.path.join(envs, "proj.environment.yml")).read()
    assert "python=3.11" in exported and "prefix:" not in exported
    assert os.path.isfile(
        os.path.join(manager.sync.kernels_dir, "conda-env-proj-py", "kernel.json")
    )


def test_create_failure_is_reported_and_leaves_no_half_env(manager, standin, envs, monkeypatch):
    monkeypatch.setenv("STANDIN_FAIL", "1")
    with pytest.raises(ToolFailed, match="exit code 3.*PackagesNotFoundError") as err:
        manager.create("proj", echo=lambda s: None)
    assert "create -y -p" in err.value.message
    assert not os.path.exists(os.path.join(envs, "proj"))


def test_create_refusals(manager, standin, envs, tmp_path):
    make_env(envs, "there")
    with pytest.raises(Conflict, match="already exists"):
        manager.plan_create("there")
    with pytest.raises(BadInput, match="environment file not found"):
        manager.plan_create("new", file=str(tmp_path / "missing.yml"))
    with pytest.raises(NotFound, match="env to clone not found"):
        manager.plan_create("new", clone="ghost")
    with pytest.raises(BadInput, match="invalid environment name"):
        manager.plan_create("bad name")
    assert standin.exists() is False  # nothing was run


def test_recreate_keeps_the_old_env_when_the_tool_fails(manager, standin, envs, monkeypatch):
    make_env(envs, "keep")
    with open(os.path.join(envs, "keep.environment.yml"), "w") as fh:
        fh.write("name: keep\ndependencies:\n  - python=3.11\n")
    monkeypatch.setenv("STANDIN_FAIL", "1")
    results = manager.recreate(["keep"], echo=lambda s: None)
    assert results[0]["ok"] is False and "exit code 3" in results[0]["error"]
    assert os.path.isfile(os.path.join(envs, "keep", "bin", "python"))
    assert [n for n in os.listdir(envs) if n.startswith(".")] == []
    monkeypatch.delenv("STANDIN_FAIL")
    assert manager.recreate(echo=lambda s: None)[0]["ok"] is True
    assert f"env create -p {os.path.join(envs, 'keep')} -f" in standin.read_text()


def test_rm_removes_env_and_kernel_and_refuses_strangers(manager, envs):
    make_env(envs, "gone")
    manager.refresh_kernels(force=True)
    kdir = os.path.join(manager.sync.kernels_dir, "conda-env-gone-py")
    assert os.path.isdir(kdir)
    manager.remove("gone")
    assert not os.path.exists(os.path.join(envs, "gone")) and not os.path.exists(kdir)
    with pytest.raises(NotFound):
        manager.remove("gone")
    with pytest.raises(BadInput):
        manager.remove("../envs")
    os.makedirs(os.path.join(envs, "plain-folder"))
    with pytest.raises(NotFound):
        manager.remove("plain-folder")  # not a conda env: never deleted
    assert os.path.isdir(os.path.join(envs, "plain-folder"))


def test_list_without_a_tool_still_lists(manager, envs, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CONDA_EXE", raising=False)
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    make_env(envs, "a")
    listing = manager.list_envs()
    assert [e.name for e in listing.envs] == ["a"] and listing.envs[0].kernels
    assert listing.tool is None and "no conda tool" in listing.tool_message
    with pytest.raises(NotConfigured, match="no conda tool found on PATH"):
        manager.export("a")


def test_config_validation():
    with pytest.raises(BadInput, match="display_name_format"):
        CondaEnvs(display_name_format="{nope}")
    with pytest.raises(BadInput, match="refresh_interval"):
        CondaEnvs(refresh_interval=0)
    with pytest.raises(BadInput, match="tool"):
        CondaEnvs(tool="pip")


def test_condarc_block_list_at_column_zero_and_null_value(tmp_path):
    path = tmp_path / ".condarc"
    path.write_text("envs_dirs:\n- /x\nchannels:\n- conda-forge\n")
    assert ensure_condarc(str(path), "/p/envs").status == "updated"
    assert path.read_text() == "envs_dirs:\n- /p/envs\n- /x\nchannels:\n- conda-forge\n"
    path.write_text("envs_dirs: ~  # none yet\nssl_verify: true\n")
    assert ensure_condarc(str(path), "/p/envs").status == "updated"
    assert path.read_text() == "envs_dirs:  # none yet\n  - /p/envs\nssl_verify: true\n"


def test_attach_to_kernel_spec_managers(envs, tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_server.gateway.managers import GatewayKernelSpecManager

    from smstudio_ext.conda.kernelspecs import PersistedEnvKernelSpecManager
    from smstudio_ext.conda.server import attach_kernels

    make_env(envs, "a")
    kernels = str(tmp_path / "kernels")
    cfg = CondaEnvs(envs_dir=envs, kernelspec_dir=kernels)
    # behind a gateway: kernels run elsewhere, nothing is written here
    sync = CondaManager(cfg).sync
    assert attach_kernels(GatewayKernelSpecManager(), sync) == "gateway"
    assert not os.path.exists(kernels)
    # a plain local manager: our folder is searched and filled at once
    plain = KernelSpecManager(kernel_dirs=[str(tmp_path / "other")])
    assert attach_kernels(plain, sync) == "loop"
    assert plain.kernel_dirs[-1] == kernels
    assert "conda-env-a-py" in plain.find_kernel_specs()
    # our manager: shares the sync, refreshes per request
    ours = PersistedEnvKernelSpecManager(kernel_dirs=[])
    assert attach_kernels(ours, sync) == "manager"
    make_env(envs, "b")
    assert "conda-env-b-py" in ours.get_all_specs()
    assert attach_kernels(None, sync) == "none"


# -- regressions found in review --------------------------------------------------------------


def test_a_listing_between_refreshes_does_not_eat_the_change(tmp_path):
    envs, kernels = tmp_path / "envs", tmp_path / "kernels"
    envs.mkdir()
    manager = CondaManager(CondaEnvs(envs_dir=str(envs), kernelspec_dir=str(kernels)))
    manager.refresh_kernels()  # the loop ran: nothing yet
    make_env(str(envs), "late")  # conda finishes creating an env ...
    manager.list_envs(sizes=False)  # ... just before a GET smstudio/conda/envs lists it
    manager.refresh_kernels()  # the next loop tick must still write its kernelspec
    assert (kernels / "conda-env-late-py" / "kernel.json").exists()


def test_display_name_format_with_attribute_access_is_bad_input():
    with pytest.raises(BadInput, match="display_name_format"):
        CondaEnvs(display_name_format="{name.x}")


def test_a_symlinked_condarc_stays_a_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "condarc"
    real.parent.mkdir()
    real.write_text("# mine\nchannels:\n  - conda-forge\n")
    link = tmp_path / ".condarc"
    link.symlink_to(real)
    ensure_condarc(str(link), str(tmp_path / "envs"))
    assert link.is_symlink()
    assert "# mine" in real.read_text() and str(tmp_path / "envs") in real.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="what root does with a user's links")
def test_as_root_a_users_condarc_link_and_kernels_link_are_not_followed(tmp_path, caplog):
    # Given a user's ~/.condarc that links to a file root may create (/etc/ld.so.preload in the
    # attack: every line of it is a library root's programs load)
    target = tmp_path / "etc" / "ld.so.preload"
    target.parent.mkdir()
    link = tmp_path / ".condarc"
    link.symlink_to(target)
    os.lchown(link, 65534, 65534)
    # When root keeps ~/.condarc in step
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        result = ensure_condarc(str(link), str(tmp_path / "envs"))
    # Then nothing is written through the user's link, and one line says why
    assert result.status == "error" and "another user's symbolic link" in result.message
    assert not target.exists() and link.is_symlink()
    assert any("runs as root" in r.getMessage() for r in caplog.records)
    # and a kernels folder that is a user's link is not written through either
    aimed = tmp_path / "etc" / "kernels"
    aimed.mkdir()
    kernels = tmp_path / "kernels"
    kernels.symlink_to(aimed)
    os.lchown(kernels, 65534, 65534)
    spec = {"argv": ["python"], "display_name": "x", "language": "python"}
    out = sync_kernelspec_dir(str(kernels), {"smstudio-x": spec})
    assert out.written == [] and "a user's link" in out.errors[0]
    assert list(aimed.iterdir()) == []
