"""Secrets left out by default, bad input answered in one line (never a traceback or a 500),
and escaped terminal output (issue 16)."""

from __future__ import annotations

import json
import os

import pytest
from backup_support import BUCKET, SNAP, cli, put_manifest, tree
from tornado.httpclient import HTTPClientError

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup.excludes import SECRET_EXCLUDES
from smstudio_ext.errors import BadInput

URL = f"s3://{BUCKET}/backups"

SECRETS = [
    ".aws/credentials",
    ".aws/sso/cache/0123abcd.json",
    ".aws/cli/cache/role.json",
    ".ssh/id_rsa",
    ".ssh/id_ed25519",
    ".git-credentials",
    ".netrc",
    ".pgpass",
    ".local/share/jupyter/runtime/jpserver-7.json",
    ".local/share/jupyter/runtime/kernel-1a2b.json",
    ".docker/config.json",
    "projects/demo/.git-credentials",
]
KEPT = [".aws/config", ".ssh/id_rsa.pub", ".ssh/known_hosts", ".ssh/config", "notes.txt"]


def write(root, rels):
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"secret-or-not {rel}\n")


def files_of(root):
    return sorted(rel for rel, info in tree(root).items() if info[0] == "file")


def test_secrets_are_not_backed_up_by_default(make_service, bucket, home, tmp_path):
    write(home, SECRETS + KEPT)
    svc = make_service()
    svc.backup()
    out = tmp_path / "out"
    svc.restore("latest", target=str(out))
    assert files_of(out) == sorted(KEPT)
    # a ! in the user's own ignore file does not bring a secret back
    (home / ".smstudioignore").write_text("!.ssh/id_rsa\n!.aws/credentials\n")
    svc.backup()
    out2 = tmp_path / "out2"
    svc.restore("latest", target=str(out2))
    assert files_of(out2) == sorted([*KEPT, ".smstudioignore"])
    # opt in: everything
    svc2 = make_service(include_secrets=True)
    svc2.backup()
    out3 = tmp_path / "out3"
    svc2.restore("latest", target=str(out3))
    assert files_of(out3) == sorted([*SECRETS, *KEPT, ".smstudioignore"])
    assert svc2.status()["config"]["include_secrets"] is True
    assert svc.status()["config"]["include_secrets"] is False


def test_cli_include_secrets_and_config_show(aws, bucket, home, tmp_path):
    write(home, SECRETS[:4] + KEPT)
    rc, out, err, _ = cli(aws, tmp_path, "backup", "--bucket", URL, "--source", str(home), "-q")
    assert rc == 0, err
    rc, out, err, _ = cli(aws, tmp_path, "snapshots", "--bucket", URL, "--json")
    assert [s["files"] for s in json.loads(out)] == [len(KEPT)]
    rc, out, err, _ = cli(
        aws, tmp_path, "backup", "--bucket", URL, "--source", str(home), "--include-secrets", "-q"
    )
    assert rc == 0, err
    rc, out, err, _ = cli(aws, tmp_path, "snapshots", "--bucket", URL, "--json")
    assert [s["files"] for s in json.loads(out)] == [len(KEPT), len(KEPT) + 4]
    rc, out, err, _ = cli(aws, tmp_path, "config", "show")
    assert rc == 0 and "include_secrets = False" in out
    assert "'**/.aws/credentials'" in out and "'/.local/share/jupyter/runtime/'" in out
    rc, out, err, _ = cli(aws, tmp_path, "config", "show", "--json")
    backup_config = json.loads(out)["config"]["HomeBackup"]
    assert backup_config["secret_excludes"] == list(SECRET_EXCLUDES)


def test_bad_exclude_on_the_command_line_is_one_line(aws, bucket, home, tmp_path):
    (home / "x").write_text("x")
    rc, out, err, _ = cli(
        aws, tmp_path, "backup", "--bucket", URL, "--source", str(home), "--exclude", "[z-a]"
    )
    assert rc == 2 and err.startswith("smstudio: error: invalid --exclude pattern '[z-a]'")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_ignore_lines_are_reported_and_the_backup_goes_on(
    aws, make_service, bucket, home, tmp_path
):
    (home / "keep.txt").write_text("keep")
    (home / "scratch.tmp").write_text("skip")
    (home / ".smstudioignore").write_text("[z-a]\n*.tmp\n")
    rc, out, err, _ = cli(aws, tmp_path, "backup", "--bucket", URL, "--source", str(home))
    assert rc == 1 and "Traceback" not in err
    assert "exclude pattern '[z-a]'" in err and ".smstudioignore line 1" in err, err
    snaps = make_service().snapshots()
    assert len(snaps) == 1 and snaps[0]["files"] == 2  # keep.txt, .smstudioignore
    # the server's final backup before an idle shutdown, and a config pattern, likewise
    svc = make_service(excludes=["[b-a]x", "x[z-a]"])
    final = svc.final_backup(60)
    assert final["ok"] is True and final["result"]["snapshot_id"]
    warnings = final["result"]["warnings"]
    assert len([w for w in warnings if "(HomeBackup.excludes)" in w]) == 2, warnings
    assert len(warnings) == 3  # and the ignore file's line


def test_ignore_files_that_are_huge_or_not_files_are_reported(make_service, bucket, home):
    (home / "a.txt").write_text("a")
    ignore = home / ".smstudioignore"
    ignore.write_text("*.txt\n" + "#" * (2 << 20))
    result = make_service().backup()
    assert result["files"] == 2 and "larger than" in result["warnings"][0]
    ignore.unlink()
    os.mkfifo(ignore)  # must not hang the backup
    result = make_service().backup()
    assert "not a regular file" in result["warnings"][0] and result["files"] == 1


@pytest.mark.parametrize("target", ["a\0b", "bad-\ud800-name"])
def test_restore_targets_no_file_system_takes(make_service, bucket, home, target):
    (home / "x").write_text("x")
    svc = make_service()
    svc.backup()
    with pytest.raises(BadInput, match="restore target"):
        svc.restore("latest", target=target)
    with pytest.raises(BadInput, match="restore target"):
        svc.restore("latest", target=str(home / target), within_home=True)


@pytest.mark.parametrize(
    "extra_server_config", [{"HomeBackup": {"bucket": f"s3://{BUCKET}/homes"}}]
)
@pytest.mark.parametrize("body", ['{"target": "a\\u0000b"}', '{"target": "x\\ud800y"}',
                                  '{"paths": ["p\\udfff"]}', '{"paths": ["a\\u0000"]}'])  # fmt: skip
async def test_rest_restore_with_a_nul_or_a_lone_surrogate_is_a_400(
    aws, jp_fetch, jp_serverapp, jp_root_dir, body
):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    (jp_root_dir / "x").write_text("x")
    jp_serverapp.web_app.settings["smstudio"].backup.backup()
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("smstudio", "restore", method="POST", body=body)
    assert info.value.code == 400
    assert json.loads(info.value.response.body)["error"] == "bad_input"


def test_restore_target_dev_null_and_proc_are_one_line(aws, make_service, bucket, home, tmp_path):
    (home / "x").write_text("x")
    make_service().backup()
    for target, says in (
        ("/dev/null", "exists and is not a directory"),
        ("/proc/smstudio-no/such", "cannot restore into"),
        ("/proc/self/smstudio", "cannot restore into"),
    ):
        rc, out, err, _ = cli(
            aws, tmp_path, "restore", "latest", "--bucket", URL, "--target", target
        )
        assert rc == 2 and says in err, (target, err)
        assert sum(ln.startswith("smstudio:") for ln in err.splitlines()) == 1, err  # + progress
        assert err.strip().splitlines()[-1].startswith("smstudio:") and "Traceback" not in err


@pytest.mark.parametrize(
    "path",
    [
        "/".join(["d" * 200] * 25),  # 5,024 bytes: over PATH_MAX
        "a/" + "n" * 256,  # a name over NAME_MAX
        "bad\udc80\ud800name",  # a lone surrogate no file system call takes
    ],
)
def test_manifest_paths_no_file_system_takes_are_refused_before_writing(
    make_service, bucket, home, tmp_path, path
):
    (home / "x").write_text("x")
    svc = make_service()
    svc.backup()
    put_manifest(
        svc.store(), [["a", "d", 0o755, 1, 0, 0, 0, None], [path, "f", 0o644, 1, 0, 0, 0, []]]
    )
    with pytest.raises(BadInput, match="longer than the file system allows|not a valid file name"):
        svc.restore(SNAP, target=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    problems = svc.check()["problems"]
    assert any(p["snapshot"] == SNAP for p in problems)


def test_terminal_output_escapes_control_characters(aws, make_service, bucket, home, tmp_path):
    (home / "x").write_text("x")
    svc = make_service()
    svc.backup()
    store = svc.store()
    evil = "20991231T000000.000000Z-\x1b]0;pwned\x07\x1b[2J"
    header = {"host": "h\x1b[31mred\x9b", "time": "\u202et"}
    put_manifest(store, [b"not json\n"], snap_id=evil, header=header)
    rc, out, err, _ = cli(aws, tmp_path, "snapshots", "--bucket", URL)
    assert rc == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out and "h\\x1b[31mred\\x9b" in out
    rc, out, err, _ = cli(aws, tmp_path, "backup", "check", "--bucket", URL)
    assert "\x1b" not in out + err and "\\x1b" in err
    rc, out, err, _ = cli(aws, tmp_path, "snapshots", "--bucket", URL, "--json")
    assert {s["id"] for s in json.loads(out)} >= {evil}  # JSON keeps the exact id


def test_manifest_pieces_never_exceed_the_blob_maximum(monkeypatch):
    monkeypatch.setattr(mf, "MAX_BLOB", 1000)
    monkeypatch.setattr(mf, "PIECE_MAX", 500)
    lines = [b'["a","f",420,1,0,0,0,[' + b"x" * 3500 + b"]]\n", b'["b","d",493,1,0,0,0,null]\n']
    for piece_max in (500, 1 << 20):  # cut at PIECE_MAX, or at the end
        monkeypatch.setattr(mf, "PIECE_MAX", piece_max)
        pieces = list(mf.pieces(iter(lines)))
        assert b"".join(pieces) == b"".join(lines)
        assert max(len(p) for p in pieces) <= 1000 and len(pieces) >= 4
