"""The smstudio command: version, config show, context, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from smstudio_ext import __version__
from smstudio_ext.cli import main


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "smstudio_ext", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"smstudio {__version__}"


def test_config_show_reads_jupyter_config(tmp_path, monkeypatch, capsys):
    # Given the extension's own config file, as the LCC writes it
    path = tmp_path / "jupyter_smstudio_ext_config.json"
    path.write_text(json.dumps({"Aws": {"max_attempts": 7}, "Studio": {"region": "eu-west-1"}}))
    # and the user's server config overriding one value
    (tmp_path / "jupyter_server_config.json").write_text(json.dumps({"Aws": {"max_attempts": 5}}))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("SMSTUDIO_METADATA_PATH", str(tmp_path / "none.json"))
    # When config show runs
    assert main(["config", "show", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # Then the value and the file it came from are shown
    assert data["config"]["Aws"]["max_attempts"] == 5
    assert data["config"]["Studio"]["region"] == "eu-west-1"
    assert data["files"][-2:] == [str(path), str(tmp_path / "jupyter_server_config.json")]
    assert data["context"]["kind"] == "local"


def test_config_show_text(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path))
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "[Aws]" in out and "[Studio]" in out and "metadata_path" in out


def test_missing_config_file_is_a_clear_error(capsys):
    assert main(["--config", "/nonexistent/x.json", "config", "show"]) == 2
    assert "config file not found: /nonexistent/x.json" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: smstudio" in capsys.readouterr().out


def test_context_command(tmp_path, capsys):
    md = tmp_path / "m.json"
    md.write_text(json.dumps({"AppType": "JupyterLab", "DomainId": "d-1", "SpaceName": "s"}))
    assert main(["--metadata", str(md), "context"]) == 0
    assert json.loads(capsys.readouterr().out)["space_name"] == "s"


def test_metadata_dev_zero_fifo_or_huge_is_one_line_not_an_oom(tmp_path):
    # `--metadata /dev/zero` was read without a limit until the OOM killer came
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(2 << 30)  # sparse
    for path, words in (
        ("/dev/zero", "/dev/zero is a character device, not a regular file"),
        (str(fifo), "is a FIFO, not a regular file"),
        (str(huge), "is larger than 64 KB"),
    ):
        out = run("--metadata", path, "context")
        assert out.returncode == 0, out.stderr  # local mode, as for any bad metadata file
        assert json.loads(out.stdout)["metadata_status"] == "unreadable"
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "local mode" in lines[0], out.stderr


def test_files_the_admin_commands_read_are_capped(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args, words in (
        (
            ["lcc", "render", "--app-type", "JupyterLab", "--config", "/dev/zero"],
            "is a character device",
        ),
        (["lcc", "render", "--app-type", "JupyterLab", "--config", str(fifo)], "is a FIFO"),
        (
            [
                "image",
                "check",
                "--kind",
                "jupyterlab",
                "--dockerfile",
                "/dev/zero",
                "--app-image-config",
                "/dev/zero",
            ],
            "is a character device",
        ),
    ):
        out = run(*args)
        assert out.returncode == 2, out.stdout + out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("smstudio: error: ") and words in lines[0]


def test_the_lifecycle_runtime_caps_the_wheelhouse_manifest_it_fetches(aws, tmp_path):
    # the manifest in S3 is read at most to its cap, then refused with one line
    from smstudio_ext.lcc_runtime import MANIFEST_CAP

    s3 = aws.client("s3")
    s3.create_bucket(Bucket="corp-wheels")
    s3.put_object(Bucket="corp-wheels", Key="wh/wheelhouse.json", Body=b" " * (MANIFEST_CAP + 1))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smstudio_ext.lcc_runtime",
            "fetch-wheelhouse",
            "s3://corp-wheels/wh",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **aws.env()},
        timeout=60,
    )
    assert proc.returncode == 1
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        " ERROR: cannot fetch the wheelhouse s3://corp-wheels/wh: s3://corp-wheels/wh/"
        "wheelhouse.json is larger than 4 MB: not read as a wheelhouse manifest"
    ), lines
    assert list(out.iterdir()) == []
