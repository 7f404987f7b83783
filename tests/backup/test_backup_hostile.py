"""Hostile or damaged snapshots found in review: every one is refused, nothing outside the
target is touched, and refusals that can be made before writing are made before writing."""

from __future__ import annotations

import gzip
import json
import os
import stat

import pytest
from backup_support import tree

from smstudio_ext.backup import packer, repo
from smstudio_ext.backup.restore import RestoreOptions
from smstudio_ext.errors import BadInput, Conflict, NotConfigured

SNAP = "20991231T000000.000000Z-evil0000"


def _line(entry, utf16=False):
    if utf16:  # json.loads(bytes) would guess UTF-16 from the leading zero byte
        raw = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-16-be")
        assert raw.index(b"\n") == len(raw) - 1
        return raw
    return json.dumps(entry).encode() + b"\n"


def _put(svc, raw_lines):
    store = svc.store()
    header = {"format": 1, "id": SNAP, "stats": {}}
    store.put(
        store.snapshot_key(SNAP),
        gzip.compress(json.dumps(header).encode() + b"\n" + b"".join(raw_lines)),
    )


@pytest.fixture
def svc(make_service, bucket, home):
    (home / "x").write_text("x")
    s = make_service()
    s.backup()
    return s


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir(mode=0o700)
    (d / "victim").write_text("precious\n")
    return d


def _untouched(outside):
    victim = outside / "victim"
    return (
        not victim.is_symlink()
        and victim.read_text() == "precious\n"
        and stat.S_IMODE(outside.stat().st_mode) == 0o700
        and sorted(os.listdir(outside)) == ["victim"]
    )


def test_utf16_line_is_refused_before_anything_is_written(svc, tmp_path, outside):
    # A path whose UTF-16 bytes read as UTF-8 spell another path and type ('a","l').
    fake = "\u6122\u2c22\u6c22"
    _put(svc, [
        _line([fake, "d", 0o777, 1, 0, 0, 0, None]),
        _line([fake + "/a1", "l", 0o777, 1, 0, 0, 0, "x"], utf16=True),
        _line([fake + "/victim", "l", 0o777, 1, 0, 0, 0, "PWNED"], utf16=True),
    ])  # fmt: skip
    target = tmp_path / "target"
    with pytest.raises(BadInput, match="corrupt manifest line"):
        svc.restore("latest", target=str(target), options=RestoreOptions(overwrite=True))
    assert not target.exists() and _untouched(outside)


def test_the_same_path_twice_is_refused_before_anything_is_written(svc, tmp_path, outside):
    # a directory, then a link at the same path: metadata of "X" would go through the link
    _put(svc, [
        _line(["X", "d", 0o777, 1, 0, 0, 0, None]),
        _line(["X", "l", 0o777, 1, 0, 0, 0, str(outside)]),
    ])  # fmt: skip
    target = tmp_path / "target"
    with pytest.raises(BadInput, match="out of order or repeated"):
        svc.restore("latest", target=str(target), options=RestoreOptions(overwrite=True))
    assert not target.exists() and _untouched(outside)


def test_entries_out_of_scan_order_are_refused(svc, tmp_path):
    _put(svc, [_line(["b", "f", 0o644, 1, 0, 0, 0, []]), _line(["a", "f", 0o644, 1, 0, 0, 0, []])])
    with pytest.raises(BadInput, match="'a' is out of order"):
        svc.restore("latest", target=str(tmp_path / "t"))
    assert not (tmp_path / "t").exists()


def test_link_through_a_directory_replaced_by_a_link_never_lands_outside(svc, tmp_path, outside):
    # The target already holds the user's own link Z -> B (inside). With --overwrite the
    # snapshot's link B -> outside replaces directory B; its later link Z/victim would go
    # through Z -> B -> outside: the parent is checked again when the link is made.
    target = tmp_path / "target"
    (target / "B").mkdir(parents=True)
    os.symlink("B", target / "Z")
    _put(svc, [
        _line(["B", "l", 0o777, 1, 0, 0, 0, str(outside)]),
        _line(["Z/victim", "l", 0o777, 1, 0, 0, 0, "PWNED"]),
    ])  # fmt: skip
    with pytest.raises(BadInput, match="outside"):
        svc.restore("latest", target=str(target), options=RestoreOptions(overwrite=True))
    assert _untouched(outside)


def test_directory_metadata_never_goes_through_a_link(svc, tmp_path, outside):
    # The user's own link D -> outside sits where the snapshot has a directory: a conflict
    # without --overwrite, and the directory's mode and mtime never reach the link's target.
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(str(outside), target / "D")
    _put(svc, [_line(["D", "d", 0o777, 5, 0, 0, 0, None])])
    with pytest.raises(Conflict):  # D exists and is not a directory
        svc.restore("latest", target=str(target))
    assert _untouched(outside)


@pytest.mark.parametrize("chunk", [16, None])
def test_a_server_that_ignores_range_still_gives_each_caller_its_range(
    svc, tmp_path, home, monkeypatch, chunk
):
    # The Range parameter never reaches the server: it answers 200 with the whole object.
    # Snapshot downloads (any size against the chunk, the exact chunk + 1 case included)
    # and pack ranges still get exactly the bytes they asked for.
    dropped = []

    def drop_range(params, **_kw):
        if params.pop("Range", None):
            dropped.append(params["Key"])

    svc.s3_client().meta.events.register("before-parameter-build.s3.GetObject", drop_range)
    store = svc.store()
    size = len(store.get(store.snapshot_key(svc.snapshots()[-1]["id"])))
    monkeypatch.setattr(repo, "MANIFEST_CHUNK", chunk or size - 1)
    out = tmp_path / "out"
    svc.restore("latest", target=str(out))
    assert tree(out) == tree(home)
    assert any("/snapshots/" in k for k in dropped) and any("/data/" in k for k in dropped)


def test_no_zstd_decoder_is_refused_before_a_file_is_replaced(
    make_service, bucket, home, tmp_path, monkeypatch
):
    # Given a backup whose blobs are zstd (the snapshot header says so) ...
    (home / "a.txt").write_text("backup version of a\n" * 20)
    (home / "b.txt").write_text("the same words again and again\n" * 4000)
    svc = make_service()
    svc.backup()
    store = svc.store()
    from smstudio_ext.backup.manifest import read_header

    snap = store.get(store.snapshot_key(svc.snapshots()[-1]["id"]))
    assert read_header(snap)["codecs"] == ["zstd"]
    # ... restored with --overwrite over local edits where no zstd decoder exists
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("LOCAL EDITS\n")
    (out / "b.txt").write_text("local b\n")
    monkeypatch.setattr(packer, "_ZSTD", None)
    with pytest.raises(NotConfigured, match="pip install zstandard"):
        svc.restore("latest", target=str(out), options=RestoreOptions(overwrite=True))
    # Then nothing was replaced
    assert (out / "a.txt").read_text() == "LOCAL EDITS\n"
    assert (out / "b.txt").read_text() == "local b\n"
    assert sorted(os.listdir(out)) == ["a.txt", "b.txt"]


def test_codecs_carry_over_from_the_parent(make_service, bucket, home, monkeypatch):
    from smstudio_ext.backup.manifest import read_header

    (home / "b.txt").write_text("the same words again and again\n" * 4000)
    svc = make_service()
    svc.backup()
    monkeypatch.setattr(packer, "_ZSTD", None)  # the next runs compress with zlib
    (home / "c.txt").write_text("other words, other words\n" * 4000)
    svc.backup()  # new zlib blobs, zstd ones by dedup from the parent
    svc.backup()  # nothing changed: the parent's codecs still
    store = svc.store()
    headers = [read_header(store.get(store.snapshot_key(s["id"]))) for s in svc.snapshots()]
    assert [h["codecs"] for h in headers] == [["zstd"], ["zlib", "zstd"], ["zlib", "zstd"]]


def test_names_starting_with_a_backslash_are_ordinary_names(make_service, bucket, home, tmp_path):
    # On POSIX "\\x" is a name like any other: it must back up, check and restore.
    (home / "\\legit.txt").write_text("not a Windows path\n")
    (home / "\\dir").mkdir()
    (home / "\\dir" / "\\inner").write_text("inner\n")
    svc = make_service()
    svc.backup()
    assert svc.check(read_data=True)["ok"]
    out = tmp_path / "out"
    svc.restore("latest", target=str(out))
    assert tree(out) == tree(home)
