"""Snapshots made by the first chunker (a repository written by commit 8ced0bd, in
``tests/data/backup_legacy``) restore, pass ``check``, and deduplicate: unchanged files are not
read again and keep their old blob references; a changed large file keeps the old chunks
before the change and gets FastCDC chunks after it."""

from __future__ import annotations

import os

from backup_legacy_home import BIG, edit_legacy_home, legacy_home
from backup_support import snapshot_data, tree

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup.chunker import FASTCDC, LEGACY

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "data", "backup_legacy", "objects")


def expected_home(root, edited=True):
    legacy_home(str(root))
    if edited:
        edit_legacy_home(str(root))
    return tree(root)


def snapshot(svc, which=-1):
    ids = sorted(s["id"] for s in svc.snapshots())
    with mf.SnapshotReader(snapshot_data(svc, ids[which])) as reader:
        return reader.header, {e.path: e for e in reader.entries()}


def test_old_snapshots_restore_byte_for_byte(legacy, tmp_path):
    header, entries = snapshot(legacy)
    assert "chunker" not in header  # written by the first chunker
    assert [r.length for r in entries["models/big.bin"].data] == [700_010, 1_300_010, 1_200_000]
    out = tmp_path / "restored"
    legacy.restore("latest", target=str(out))
    assert tree(out) == expected_home(tmp_path / "expected")
    first = sorted(s["id"] for s in legacy.snapshots())[0]
    legacy.restore(first, target=str(tmp_path / "first"))
    assert tree(tmp_path / "first") == expected_home(tmp_path / "expected0", edited=False)


def test_check_understands_old_and_new_snapshots(legacy, tmp_path):
    result = legacy.check(read_data=True)
    assert result["ok"], result["problems"]
    assert result["chunkers"] == {LEGACY["name"]: 2}
    expected_home(legacy.home)
    legacy.backup()
    result = legacy.check(read_data=True)
    assert result["ok"], result["problems"]
    assert result["chunkers"] == {LEGACY["name"]: 2, "fastcdc2020": 1}


def test_unchanged_files_are_not_read_and_keep_their_old_references(legacy, tmp_path):
    # A new app (no local state) backing up the same home: the state is rebuilt from the old
    # snapshot and size + mtime decide. Nothing is read, nothing uploaded.
    expected_home(legacy.home)
    _, old = snapshot(legacy)
    result = legacy.backup()
    assert result["files_read"] == 0 and result["bytes_uploaded"] == 0
    header, new = snapshot(legacy)
    assert header["chunker"] == FASTCDC.identity()
    assert header["parent"] == sorted(s["id"] for s in legacy.snapshots())[-2]
    # every entry as before, blob references included (inode and ctime are this filesystem's)
    assert {p: e._replace(ino=0, ctime_ns=0) for p, e in new.items()} == {
        p: e._replace(ino=0, ctime_ns=0) for p, e in old.items()
    }
    again = legacy.backup()  # and from the now trusted state
    assert again["files_read"] == 0 and again["bytes_uploaded"] == 0


def test_an_append_keeps_the_old_chunks_before_it(legacy, tmp_path):
    expected_home(legacy.home)
    _, old = snapshot(legacy)
    big = os.path.join(legacy.home, "models", "big.bin")
    with open(big, "ab") as fh:
        fh.write(b"appended line\n" * 1000)
    result = legacy.backup()
    assert result["files_read"] == 1
    _, new = snapshot(legacy)
    old_refs, new_refs = old["models/big.bin"].data, new["models/big.bin"].data
    assert new_refs[:2] == old_refs[:2]  # matched by hash at their offsets, not re-read
    assert sum(r.length for r in new_refs[2:]) == 1_200_000 + 14_000
    assert new["notes.txt"].data == old["notes.txt"].data
    out = tmp_path / "restored"
    legacy.restore("latest", target=str(out))
    assert tree(out) == tree(legacy.home)


def test_an_insertion_cuts_the_rest_with_fastcdc(legacy, tmp_path):
    expected_home(legacy.home)
    _, old = snapshot(legacy)
    big = os.path.join(legacy.home, "models", "big.bin")
    with open(big, "wb") as fh:
        fh.write(BIG[:1_000_000] + b"an inserted line\n" + BIG[1_000_000:])
    legacy.backup()
    _, new = snapshot(legacy)
    new_refs = new["models/big.bin"].data
    assert new_refs[0] == old["models/big.bin"].data[0]  # before the change: kept
    for ref in new_refs[1:-1]:  # after it: FastCDC's bounds (no cut points in the filler)
        assert FASTCDC.min_size <= ref.length <= FASTCDC.max_size
    out = tmp_path / "restored"
    legacy.restore("latest", target=str(out))
    assert tree(out) == tree(legacy.home)
