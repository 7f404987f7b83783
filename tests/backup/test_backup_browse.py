"""``snapshots ls`` / ``snapshots diff``, ``restore --dry-run`` and the progress of ``restore``
and ``backup check --read-data`` (issue 18, CLI), against the emulator."""

from __future__ import annotations

import io
import json
import os

import pytest
from backup_legacy_home import BIG
from backup_support import BUCKET, cli, tree

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup import repo
from smstudio_ext.backup.journal import MARKER
from smstudio_ext.backup.repo import Progress
from smstudio_ext.backup.restore import RestoreOptions
from smstudio_ext.cli import main as cli_main
from smstudio_ext.cli.backup_progress import EngineProgress
from smstudio_ext.cli.progress import Progress as StatusLine
from smstudio_ext.errors import BadInput, NotFound

URL = f"s3://{BUCKET}/backups"


def write(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def two(make_service, bucket, home):
    """A service with two snapshots: the second adds, removes, edits, chmods and touches."""
    write(home, {
        "notebooks/a.ipynb": b"a" * 100, "notebooks/b.ipynb": b"b" * 50, "data/t.csv": b"1,2\n",
        "gone.txt": b"bye", "script.sh": b"#!/bin/sh\n", "touched.txt": b"same",
    })  # fmt: skip
    os.symlink("notebooks/a.ipynb", home / "link")
    svc = make_service()
    first = svc.backup()["snapshot_id"]
    (home / "notebooks" / "a.ipynb").write_bytes(b"A" * 120)  # content and size
    (home / "notebooks" / "b.ipynb").write_bytes(b"c" * 50)  # content, same size
    (home / "gone.txt").unlink()
    (home / "script.sh").chmod(0o755)  # mode only
    os.utime(home / "touched.txt", ns=(1, 1))  # mtime only: not a change
    (home / "link").unlink()
    os.symlink("data/t.csv", home / "link")  # link target
    write(home, {"new/deep/x.bin": b"x" * 1000})
    second = svc.backup()["snapshot_id"]
    return svc, first, second


def run(aws, tmp_path, monkeypatch, capsys, *args):
    """``smstudio ARGS`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("HOME", str(tmp_path / "clihome"))
    common = ["--endpoint-url", aws.endpoint_url, "--metadata", str(tmp_path / "none.json")]
    code = cli_main([*common, *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- snapshots ls


def test_ls_lists_mode_size_mtime_path_in_scan_order(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", "latest",
                         "--bucket", URL, "--json")  # fmt: skip
    assert code == 0, err
    items = json.loads(out)
    paths = [i["path"] for i in items]
    assert paths == sorted(paths, key=mf.sort_key)
    by = {i["path"]: i for i in items}
    assert by["script.sh"]["mode"] == "0755" and by["script.sh"]["permissions"] == "-rwxr-xr-x"
    assert by["notebooks"]["type"] == "dir" and by["notebooks"]["permissions"][0] == "d"
    assert by["link"] == {**by["link"], "type": "symlink", "target": "data/t.csv"}
    assert by["new/deep/x.bin"]["size"] == 1000
    assert by["touched.txt"]["mtime"] == "1970-01-01T00:00:00.000000Z"
    assert by["touched.txt"]["mtime_ns"] == 1
    assert "gone.txt" not in by
    # the plain listing: one line per entry, like `ls -l`
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", second[:20],
                         "--bucket", URL)  # fmt: skip
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(items)
    assert any(ln.startswith("-rwxr-xr-x") and ln.endswith("  script.sh") for ln in lines)
    assert any(ln.endswith("  link -> data/t.csv") for ln in lines)
    assert any(ln.startswith("drwx") and ln.endswith("  notebooks/") for ln in lines)


def test_ls_under_a_path(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    for arg in ("notebooks", "notebooks/", "./notebooks", "/notebooks"):
        code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", first, arg,
                             "--bucket", URL, "--json")  # fmt: skip
        assert code == 0, err
        assert [i["path"] for i in json.loads(out)] == [
            "notebooks", "notebooks/a.ipynb", "notebooks/b.ipynb",
        ]  # fmt: skip
    # a file: itself; a sibling sharing the prefix ("new" vs "new/...") is not below it
    code, out, _ = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", second,
                       "new/deep/x.bin", "--bucket", URL, "--json")  # fmt: skip
    assert [i["path"] for i in json.loads(out)] == ["new/deep/x.bin"]


def test_ls_path_not_in_the_snapshot_is_an_empty_listing_with_a_note(
    two, aws, tmp_path, monkeypatch, capsys
):
    svc, first, second = two
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", first, "new",
                         "--bucket", URL, "--json")  # fmt: skip
    assert code == 0 and json.loads(out) == []
    assert err == f"smstudio: note: nothing at 'new' in snapshot {first}\n"
    code, out, err = run(
        aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", first, "note", "--bucket", URL
    )  # fmt: skip  ("notebooks" starts with it: not a match)
    assert code == 0 and out == "" and "nothing at 'note'" in err
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", first, "../etc",
                         "--bucket", URL)  # fmt: skip
    assert code == 2 and err.startswith("smstudio: error: invalid path '../etc'")
    assert len(err.splitlines()) == 1


def test_ls_reads_format_1_snapshots(legacy, aws, tmp_path, monkeypatch, capsys):
    ids = sorted(s["id"] for s in legacy.snapshots())
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", ids[0],
                         "--bucket", "s3://legacy-backups/legacy", "--json")  # fmt: skip
    assert code == 0, err
    by = {i["path"]: i for i in json.loads(out)}
    assert by["models/big.bin"]["size"] == len(BIG)
    assert by["latest"]["target"] == "data/table.csv"
    assert by["bin/run.sh"]["mode"] == "0755" and by["scratch"]["type"] == "dir"
    with legacy.open_snapshot(ids[0]) as snap:
        assert snap.header["format"] == 1


def test_ls_reads_only_manifest_pieces_never_file_data(two, aws):
    svc, first, second = two
    store = svc.store()
    with svc.open_snapshot("latest") as snap:
        pieces = mf.manifest_refs(snap.header)
    data_packs = {o["Key"] for o in store.list("data/")}
    manifest_packs = {store.pack_key(r.pack) for r in pieces}
    gets = []
    real_get = store.get

    def counting_get(key, range_=None, **kw):
        gets.append(key)
        return real_get(key, range_, **kw)

    store.get = counting_get
    from smstudio_ext.backup import browse

    with browse.OpenSnapshot(store, "latest") as snap:
        assert len(list(browse.list_entries(snap))) > 5
    assert {k for k in gets if k in data_packs} <= manifest_packs
    assert all(k in manifest_packs or "snapshots/" in k for k in gets)


# -- snapshots diff


def test_diff_lists_added_removed_modified_with_a_summary(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "diff", first, second,
                         "--bucket", URL, "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    by = {c["path"]: c for c in doc["changes"]}
    assert {p for p, c in by.items() if c["change"] == "added"} == {"new", "new/deep",
                                                                      "new/deep/x.bin"}  # fmt: skip
    assert {p for p, c in by.items() if c["change"] == "removed"} == {"gone.txt"}
    assert by["notebooks/a.ipynb"]["what"] == ["content", "size"]
    assert by["notebooks/b.ipynb"]["what"] == ["content"]
    assert by["script.sh"]["what"] == ["mode"] and by["script.sh"]["mode"] == "0755"
    assert by["link"]["what"] == ["target"]
    assert "touched.txt" not in by  # an mtime alone
    s = doc["summary"]
    assert (s["from"], s["to"]) == (first, second)
    assert (s["added"], s["removed"]) == (3, 1)
    assert s["bytes_added"] == 1000 and s["bytes_removed"] == 3
    assert s["modified"] == sum(c["change"] == "modified" for c in doc["changes"])
    assert (
        s["bytes_modified_before"] == 100 + 50 + 10 and s["bytes_modified_after"] == 120 + 50 + 10
    )
    # plain: marks in scan order, then the summary line
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "diff", first, "latest",
                         "--bucket", URL)  # fmt: skip
    lines = out.splitlines()
    assert "+  new/deep/x.bin" in lines and "-  gone.txt" in lines and "+  new/" in lines
    assert "M  notebooks/a.ipynb  (content, size)" in lines
    assert lines[-1].startswith(f"{first} -> {second}: 3 added (1000 B), 1 removed (3 B), ")
    # reversed: what was added is removed
    code, out, _ = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "diff", second, first,
                       "--bucket", URL, "--json")  # fmt: skip
    s = json.loads(out)["summary"]
    assert (s["added"], s["removed"], s["bytes_added"]) == (1, 3, 3)


def test_diff_of_a_snapshot_with_itself_is_refused(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "diff", second,
                         "latest", "--bucket", URL)  # fmt: skip
    assert code == 2 and out == ""
    assert err == f"smstudio: error: both snapshots are {second}: nothing to compare\n"


# -- bad input


def test_unknown_ambiguous_and_missing_arguments(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    common = ["--bucket", URL]
    code, _, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "ls", "nosuch", *common)
    assert code == 4 and err.startswith("smstudio: error: snapshot 'nosuch' not found in s3://")
    # both ids start with the year: ambiguous, named
    code, _, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", "diff", first[:2],
                       second, *common)  # fmt: skip
    assert code == 2 and err.startswith(f"smstudio: error: snapshot prefix {first[:2]!r} is "
                                        f"ambiguous: it matches {first}, {second}")  # fmt: skip
    assert len(err.splitlines()) == 1
    code, _, err = run(aws, tmp_path, monkeypatch, capsys, "restore", first[:2], *common,
                       "--dry-run")  # fmt: skip
    assert code == 2 and "ambiguous" in err
    for args in (["ls"], ["ls", "a", "b", "c"], ["diff", first], ["diff", "a", "b", "c"]):
        code, _, err = run(aws, tmp_path, monkeypatch, capsys, "snapshots", *args, *common)
        assert code == 2 and err.startswith("smstudio: error: usage: smstudio snapshots ")
        assert len(err.splitlines()) == 1


def test_no_backup_configured(aws, tmp_path, monkeypatch, capsys):
    for args in (["snapshots", "ls", "latest"], ["snapshots", "diff", "a", "b"],
                 ["restore", "latest", "--dry-run"], ["backup", "check", "--read-data"]):  # fmt: skip
        code, out, err = run(aws, tmp_path, monkeypatch, capsys, *args)
        assert code == 6 and out == ""
        assert (
            err.startswith("smstudio: error: no backup bucket configured") and err.count("\n") == 1
        )


def _damage_first_piece(svc, snap_id):
    store = svc.store()
    header = repo.snapshot_header(store, snap_id)
    ref = mf.manifest_refs(header)[0]
    key = store.pack_key(ref.pack)
    data = bytearray(store.get(key))
    data[ref.offset] ^= 0xFF
    store.put(key, bytes(data))
    return ref


def test_a_damaged_manifest_piece_is_refused_and_named(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    ref = _damage_first_piece(svc, second)
    for args in (["snapshots", "ls", second], ["snapshots", "diff", first, second],
                 ["restore", second, "--dry-run", "--target", str(tmp_path / "t")]):  # fmt: skip
        code, out, err = run(aws, tmp_path, monkeypatch, capsys, *args, "--bucket", URL)
        assert code == 10, err
        assert err.startswith(f"smstudio: error: snapshot {second}: manifest blob "
                              f"{ref.sha256[:12]} in pack {ref.pack}")  # fmt: skip
        assert err.count("\n") == 1 and out == ""
    assert not (tmp_path / "t").exists()


# -- restore --dry-run


def _listing(root):
    """Everything a dry run must leave as it was: names, bytes, modes and mtimes of the tree,
    and the mtime of the target itself."""
    return tree(root), os.stat(root).st_mtime_ns, sorted(os.listdir(root))


def test_dry_run_into_a_fresh_target_creates_nothing(two, aws, tmp_path, monkeypatch, capsys):
    svc, first, second = two
    target = tmp_path / "fresh" / "home"
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "restore", "latest", "--bucket", URL,
                         "--target", str(target), "--dry-run", "--json")  # fmt: skip
    assert code == 0, err
    plan = json.loads(out)
    assert not (tmp_path / "fresh").exists()
    assert plan["dry_run"] and not plan["restored"] and plan["snapshot_id"] == second
    entries = plan["files"] + plan["dirs"] + plan["links"]
    assert plan["write"] == entries and plan["overwrite"] == plan["unchanged"] == 0
    assert plan["bytes_write"] == 120 + 50 + 4 + 10 + 4 + 1000
    stored = sum(int(o["Size"]) for o in svc.store().list("data/"))
    assert 0 < plan["bytes_to_download"] <= stored
    assert plan["would_fail"] is None
    # the real restore then does what the plan said
    result = svc.restore("latest", target=str(target))
    assert result["files_written"] == plan["files"]


def test_dry_run_into_a_restored_home_says_overwrite_skip_and_writes_nothing(
    two, aws, tmp_path, monkeypatch, capsys
):
    svc, first, second = two
    target = tmp_path / "restored"
    svc.restore("latest", target=str(target))
    (target / "notebooks" / "a.ipynb").write_bytes(b"edited")  # differs
    (target / "new" / "deep" / "x.bin").unlink()  # missing
    before = _listing(target)
    common = ["restore", "latest", "--bucket", URL, "--target", str(target), "--dry-run"]
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, *common, "--json")
    assert code == 5 and _listing(target) == before
    plan = json.loads(out)
    assert (plan["conflicts"], plan["conflict_paths"]) == (1, ["notebooks/a.ipynb"])
    assert plan["would_fail"].startswith("1 file(s), link(s) or dir(s) already exist")
    assert err.startswith("smstudio: error: a restore would stop: 1 file(s)")
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, *common, "--overwrite", "--json")
    assert code == 0 and _listing(target) == before
    plan = json.loads(out)
    assert plan["write_paths"] == ["new/deep/x.bin"] and plan["bytes_write"] == 1000
    assert plan["overwrite_paths"] == ["notebooks/a.ipynb"] and plan["bytes_overwrite"] == 120
    assert plan["unchanged"] == plan["files"] + plan["dirs"] + plan["links"] - 2
    assert 0 < plan["bytes_to_download"] <= sum(int(o["Size"]) for o in svc.store().list("data/"))
    assert not os.path.lexists(target / MARKER)
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, *common, "--overwrite")
    assert code == 0 and err == ""
    assert "  write     1 entries (new, 1000 B of files)" in out
    assert "  overwrite 1 entries (replaced, 120 B of files): 'notebooks/a.ipynb'" in out
    assert "nothing written" in out.splitlines()[0] and "  download  " in out
    # --if-empty into a home that holds more than a fresh one: nothing would happen, as for real
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, *common, "--if-empty")
    assert code == 0 and out == f"nothing would be restored: {target} is not empty\n"
    assert _listing(target) == before
    # the real restore agrees with the plan
    result = svc.restore("latest", target=str(target), options=RestoreOptions(overwrite=True))
    assert result["files_written"] == 2


def test_dry_run_refuses_what_the_restore_refuses(two, tmp_path):
    svc, first, second = two
    with pytest.raises(NotFound):
        svc.restore("latest", target=str(tmp_path / "x"),
                    options=RestoreOptions(paths=("nosuch",), dry_run=True))  # fmt: skip
    with pytest.raises(BadInput):
        svc.restore("latest", target=str(tmp_path / "x"),
                    options=RestoreOptions(paths=("../up",), dry_run=True))  # fmt: skip
    # a parent that resolves outside the target (a link planted in it): refused, not followed
    target = tmp_path / "planted"
    target.mkdir()
    os.symlink(str(tmp_path), target / "notebooks")
    with pytest.raises(BadInput, match="outside"):
        svc.restore("latest", target=str(target), options=RestoreOptions(dry_run=True))
    assert sorted(os.listdir(target)) == ["notebooks"]
    assert not (tmp_path / "a.ipynb").exists()


# -- progress


def test_status_line_plain_lines_rate_limited_and_forced(tmp_path):
    # the CLI's one reporter, as the backup commands drive it: explicit steps, forced lines
    stream = io.StringIO()
    line = StatusLine(stream=stream, interval=3600, grace=0)
    line("files 1/3", step="restore restore")
    line("files 2/3", step="restore restore")  # same step, within the interval: held back
    line("done", step="restore done")  # a new step: at once
    line("done", step="restore done")  # the same text: never twice
    line("done 2", step="restore done", force=True)
    assert stream.getvalue() == "files 1/3\ndone\ndone 2\n"
    # the first second says nothing (a quick failure is its one-line error alone)
    late = io.StringIO()
    line = StatusLine(stream=late, interval=0, grace=3600)
    line("reading", step="restore manifest")
    line("done", step="restore done", force=True)
    assert late.getvalue() == "done\n"


def test_engine_progress_on_a_terminal_is_one_redrawn_line():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = Progress("restore")
    progress.phase, progress.files_total, progress.bytes_total = "restore", 2, 10
    with EngineProgress(progress, True, stream=stream):
        progress.add(2, 10)
    text = stream.getvalue()
    assert text.startswith("\rrestore restore: files") and text.endswith("\x1b[K\n")
    assert "files 2/2" in text and text.count("\n") == 1
    quiet = Tty()
    with EngineProgress(progress, False, stream=quiet):
        pass
    assert quiet.getvalue() == ""


def test_restore_and_check_progress_in_a_log_are_plain_lines(two, aws, tmp_path):
    svc, first, second = two
    target = tmp_path / "restored"
    rc, out, err, _ = cli(aws, tmp_path, "restore", "latest", "--bucket", URL,
                          "--target", str(target), "--json")  # fmt: skip
    assert rc == 0 and json.loads(out)["restored"]
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    # phases are said as they are seen (a fast restore may show none); the end always
    assert lines[-1].startswith("restore done: files 6/6, 1.2 KiB/1.2 KiB, ")
    rc, out, err, _ = cli(aws, tmp_path, "backup", "check", "--read-data", "--bucket", URL)
    assert rc == 0 and out.startswith("ok: 2 snapshot(s)")
    assert "\r" not in err and err.splitlines()[-1].startswith("check done: packs ")
    # -q: silent
    rc, out, err, _ = cli(aws, tmp_path, "backup", "check", "--read-data", "--bucket", URL, "-q")
    assert rc == 0 and err == ""
    rc, out, err, _ = cli(aws, tmp_path, "restore", "latest", "--bucket", URL,
                          "--target", str(tmp_path / "q"), "-q")  # fmt: skip
    assert rc == 0 and out == "" and err == ""


def test_dry_run_resuming_an_interrupted_restore_keeps_what_differs(
    two, aws, tmp_path, monkeypatch, capsys
):
    svc, first, second = two
    target = tmp_path / "home2"
    svc.restore("latest", target=str(target))
    (target / "notebooks" / "a.ipynb").write_bytes(b"worked on meanwhile")
    (target / MARKER).write_text(json.dumps({"snapshot_id": second}))  # as a killed restore
    before = _listing(target)
    code, out, err = run(aws, tmp_path, monkeypatch, capsys, "restore", "latest", "--bucket", URL,
                         "--target", str(target), "--if-empty", "--dry-run", "--json")  # fmt: skip
    assert code == 0, err
    plan = json.loads(out)
    assert plan["resumes"] and plan["kept_paths"] == ["notebooks/a.ipynb"]
    assert plan["conflicts"] == plan["write"] == 0 and plan["bytes_to_download"] == 0
    assert _listing(target) == before  # the marker too (content, mtime)


def test_ls_and_diff_of_a_big_snapshot_stream_in_flat_memory(make_service, bucket, aws, tmp_path):
    from backup_support import put_manifest

    n = 50_000
    svc = make_service()
    store = svc.store()
    lines = [["d", "d", 0o755, 1, 0, 0, 0, None]]
    lines += [[f"d/f{i:06d}", "f", 0o644, 1, 0, 0, 0, []] for i in range(n)]
    put_manifest(store, lines, "20260101T000000.000000Z-big00000")
    lines[5][2] = 0o600
    put_manifest(store, lines, "20260102T000000.000000Z-big00001")
    put_manifest(store, lines[:2], "20260103T000000.000000Z-small000")
    rc, out, err, small = cli(aws, tmp_path, "snapshots", "ls", "20260103", "--bucket", URL,
                              "--json")  # fmt: skip
    assert rc == 0 and len(json.loads(out)) == 2, err
    rc, out, err, big = cli(aws, tmp_path, "snapshots", "ls", "20260101", "--bucket", URL,
                            "--json")  # fmt: skip
    assert rc == 0 and len(json.loads(out)) == n + 1, err
    rc, out, err, diff = cli(aws, tmp_path, "snapshots", "diff", "20260101", "20260102",
                             "--bucket", URL, "--json")  # fmt: skip
    assert rc == 0, err
    assert json.loads(out)["changes"] == [{
        "path": "d/f000004", "change": "modified", "type": "file", "what": ["mode"],
        "size_before": 0, "size": 0, "mode_before": "0644", "mode": "0600",
    }]  # fmt: skip
    # 50k entries held as objects would cost ~40 MB; streamed, a few MB at most
    assert big - small < 15 and diff - small < 15, (small, big, diff)


def test_ls_of_an_mtime_no_calendar_has_is_not_a_traceback(make_service, bucket, aws, tmp_path):
    from backup_support import put_manifest

    svc = make_service()
    put_manifest(svc.store(), [["f", "f", 0o644, 10**30, 0, 0, 0, []],
                               ["g", "f", 0o644, -(10**30), 0, 0, 0, []]])  # fmt: skip
    rc, out, err, _ = cli(aws, tmp_path, "snapshots", "ls", "latest", "--bucket", URL, "--json")
    assert rc == 0, err
    assert [(i["mtime"], i["mtime_ns"]) for i in json.loads(out)] == [
        (None, 10**30), (None, -(10**30))
    ]  # fmt: skip
    rc, out, err, _ = cli(aws, tmp_path, "snapshots", "ls", "latest", "--bucket", URL)
    assert rc == 0 and out.splitlines()[0] == "-rw-r--r--            0 -                    f"
