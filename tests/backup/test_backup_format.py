"""Snapshot format 2: the entries as manifest pieces (blobs), the object its header. Pieces end
where the paths say, so an edit stores only the pieces it touched; a piece that is missing,
damaged or hostile is refused before anything is written."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from backup_support import make_home, tree

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup.repo import CorruptBackup
from smstudio_ext.errors import BadInput

SNAP = "20991231T000000.000000Z-f2f2f2f2"


def _lines(n, changed=None, extra=()):
    out = []
    for i in range(n):
        path = f"project/dir{i // 50:03d}/file{i:05d}.txt"
        size = 2 if i == changed else 1
        out.append(mf.encode_entry(mf.Entry(path, "f", 0o644, i, size, i, i, [])))
    out += [mf.encode_entry(mf.Entry(p, "d", 0o755, 0, 0, 0, 0, None)) for p in extra]
    return sorted(out, key=lambda line: mf.sort_key(json.loads(line)[0]))


def test_pieces_end_where_the_paths_say():
    base = list(mf.pieces(iter(_lines(5000))))
    assert 8 <= len(base) <= 60  # ~1 entry in 256 ends a piece
    assert b"".join(base) == b"".join(_lines(5000))
    # an entry that changed: its piece only
    edited = list(mf.pieces(iter(_lines(5000, changed=2345))))
    assert len(set(edited) - set(base)) == 1
    # a new entry: its piece only (the cut after an entry depends on that entry's path alone)
    added = list(mf.pieces(iter(_lines(5000, extra=["project/dir010/new"]))))
    assert len(set(added) - set(base)) == 1


def test_an_edit_stores_only_the_pieces_it_touched(make_service, bucket, home):
    for i in range(3000):
        d = home / f"d{i // 100:02d}"
        d.mkdir(exist_ok=True)
        (d / f"f{i:04d}.txt").write_text(f"file {i}\n")
    svc = make_service()
    first = svc.backup()
    assert first["manifest_pieces_new"] >= 5
    (home / "d17" / "f1717.txt").write_text("edited, longer\n")
    second = svc.backup()
    assert second["files_read"] == 1 and second["manifest_pieces_new"] == 1
    assert 0 < second["manifest_bytes_uploaded"] < first["manifest_bytes_uploaded"] / 3
    out = home.parent / "restored"
    svc.restore("latest", target=str(out))
    assert tree(out) == tree(home)


def _put_format2(svc, lines, stored=None):
    """A format 2 snapshot whose one piece (``lines``) is stored raw in a pack of its own."""
    store = svc.store()
    piece = b"".join(lines)
    pack = "ab" * 16
    store.put(store.pack_key(pack), piece if stored is None else stored)
    ref = [hashlib.sha256(piece).hexdigest(), pack, 0, len(piece), len(piece)]
    header = {"format": 2, "id": SNAP, "stats": {}, "manifest": [ref]}
    store.put(store.snapshot_key(SNAP), mf.header_member(header))
    return pack


def test_a_hostile_piece_is_refused_before_anything_is_written(make_service, bucket, home):
    svc = make_service()
    line = json.dumps(["../escape", "f", 0o644, 1, 0, 0, 0, []]).encode() + b"\n"
    _put_format2(svc, [line])
    out = home.parent / "out"
    with pytest.raises(BadInput, match="escapes the restore target"):
        svc.restore(SNAP, target=str(out))
    assert not out.exists()
    result = svc.check()
    assert not result["ok"] and "escapes" in result["problems"][0]["problem"]


def test_a_damaged_or_missing_piece_is_a_corrupt_backup(make_service, bucket, home):
    make_home(home)
    svc = make_service()
    svc.backup()
    good = [mf.encode_entry(mf.Entry("a.txt", "d", 0o755, 1, 0, 0, 0, None))]
    pack = _put_format2(svc, good, stored=b"X" * len(good[0]))  # same length, other bytes
    out = home.parent / "out"
    with pytest.raises(CorruptBackup, match="checksum mismatch"):
        svc.restore(SNAP, target=str(out))
    assert not out.exists()
    svc.store().delete_one(svc.store().pack_key(pack))
    with pytest.raises(CorruptBackup, match="is missing"):
        svc.restore(SNAP, target=str(out))
    result = svc.check()
    assert [p["snapshot"] for p in result["problems"]] == [SNAP]
    assert "is missing" in result["problems"][0]["problem"]
    assert CorruptBackup.exit_code == 10  # what the CLI exits with


def test_data_after_a_format2_header_is_refused(make_service, bucket, home):
    svc = make_service()
    store = svc.store()
    header = {"format": 2, "id": SNAP, "stats": {}, "manifest": []}
    store.put(
        store.snapshot_key(SNAP),
        mf.header_member(header) + gzip.compress(b'["x","d",493,1,0,0,0,null]\n'),
    )
    with pytest.raises(BadInput, match="data after a format 2 header"):
        svc.restore(SNAP, target=str(home.parent / "out"))
