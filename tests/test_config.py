"""config.py: what the CLI reads of the Jupyter config, and what root never reads.

A ``.py`` config file is code that loading runs. The lifecycle script runs smstudio as root on
Studio Classic with ``SMSTUDIO_SYSTEM_CONFIG_ONLY=1``: no user's config dir is read then. And
whenever smstudio runs as root, a config file root does not own (or others may write) is
skipped. Every config file is read capped: a FIFO or a huge file is skipped with one line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from smstudio_ext.config import (
    config_dirs,
    config_files,
    load_config,
    load_config_file,
    root_may_load,
)
from smstudio_ext.fsutil import ReadRefused

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="checks what root loads")


def user_config(folder: Path, marker: Path) -> Path:
    """A user's extension config that records each time it runs, and sets one value."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jupyter_smstudio_ext_config.py"
    path.write_text(f"open({str(marker)!r}, 'a').write('ran\\n')\nc.Aws.max_attempts = 9\n")
    return path


def test_system_config_only_reads_no_users_config_dir(tmp_path, monkeypatch):
    # Given a user's ~/.jupyter with code in its config
    home = tmp_path / "home"
    marker = tmp_path / "ran"
    user_config(home / ".jupyter", marker)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("JUPYTER_CONFIG_DIR", raising=False)
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    # Normally it is read (and run)
    monkeypatch.delenv("SMSTUDIO_SYSTEM_CONFIG_ONLY", raising=False)
    assert str(home / ".jupyter") in config_dirs()
    assert load_config().Aws.max_attempts == 9 and marker.read_text() == "ran\n"
    # With SMSTUDIO_SYSTEM_CONFIG_ONLY=1 (the lifecycle script's root steps) it is not
    monkeypatch.setenv("SMSTUDIO_SYSTEM_CONFIG_ONLY", "1")
    dirs = config_dirs()
    assert not any(d.startswith(str(home)) for d in dirs), dirs
    assert dirs[-1] == "/etc/jupyter"
    assert "max_attempts" not in load_config().Aws
    assert marker.read_text() == "ran\n"  # not run again


@root_only
@pytest.mark.parametrize("how", ["owned by a user", "in a user's folder", "group-writable"])
def test_root_skips_a_config_file_it_does_not_own(tmp_path, monkeypatch, caplog, how):
    folder = tmp_path / "cfg"
    marker = tmp_path / "ran"
    path = user_config(folder, marker)
    if how == "owned by a user":
        os.chown(path, 65534, 65534)
    elif how == "in a user's folder":
        os.chown(folder, 65534, 65534)
    else:
        path.chmod(0o664)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(folder))
    monkeypatch.delenv("SMSTUDIO_SYSTEM_CONFIG_ONLY", raising=False)
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        cfg = load_config()
    assert "max_attempts" not in cfg.Aws and not marker.exists()
    warning = [r.getMessage() for r in caplog.records if str(path) in r.getMessage()]
    assert len(warning) == 1 and "running as root" in warning[0], warning
    assert root_may_load(path) is not None


@root_only
def test_root_loads_its_own_config(tmp_path):
    path = user_config(tmp_path / "cfg", tmp_path / "ran")
    assert root_may_load(path) is None
    assert load_config([str(path.parent)]).Aws.max_attempts == 9


@pytest.mark.timeout(20)
def test_config_files_that_are_fifos_links_to_devices_or_huge_are_skipped(tmp_path, caplog):
    folder = tmp_path / "cfg"
    folder.mkdir()
    os.mkfifo(folder / "jupyter_smstudio_ext_config.json")  # not listed: not a file
    (folder / "jupyter_server_config.py").symlink_to("/dev/zero")  # likewise
    huge = folder / "jupyter_server_config.json"
    with open(huge, "wb") as fh:
        fh.write(b'{"Aws": {"max_attempts": 3}}')
        fh.truncate(3 << 30)  # sparse
    assert config_files([str(folder)]) == [huge]
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        cfg = load_config([str(folder)])
    assert "max_attempts" not in cfg.Aws
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"smstudio: skipping config file {huge}: {huge} is larger than 1 MB: "
                     "not read as a config file"]  # fmt: skip
    with pytest.raises(ReadRefused, match="character device"):
        load_config_file("/dev/zero")


def test_a_json_config_that_is_not_an_object_is_skipped(tmp_path, caplog):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "jupyter_smstudio_ext_config.json").write_text(json.dumps([1, 2]))
    (folder / "jupyter_server_config.json").write_text(json.dumps({"Aws": {"max_attempts": 4}}))
    with caplog.at_level(logging.WARNING, logger="smstudio_ext"):
        assert load_config([str(folder)]).Aws.max_attempts == 4
    assert any("not an object" in r.getMessage() for r in caplog.records)
