"""Decompression bombs and oversized data in the bucket (issue 16): every decode stops at the
format's maximum blob size, every range and read is bounded, in restore and check, from the
CLI and through the Jupyter server; peak RSS is measured."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from backup_support import (
    BUCKET,
    SNAP,
    cli,
    peak_rss_mb,
    put_manifest,
    reset_peak_rss,
    rss_mb,
    zlib_bomb,
    zstd_bomb,
)
from tornado.httpclient import HTTPClientError

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup import repo
from smstudio_ext.backup.store import Store
from smstudio_ext.errors import BadInput

PACK = "b0" * 16
GIB = 1 << 30


@pytest.fixture(scope="module")
def bombs():
    """(codec, stored bytes, inflated size): a 512 MiB zlib stream (~520 KB) and a 32 KB
    zstd frame that says it holds 1 GiB."""
    return {"zlib": (zlib_bomb(512 << 20), 512 << 20), "zstd": (zstd_bomb(GIB), GIB)}


def plant(svc, stored, claimed):
    """A snapshot whose one file is ``stored`` (a pack of its own), claiming ``claimed``
    bytes of content."""
    store = svc.store()
    store.put(store.pack_key(PACK), stored)
    ref = [hashlib.sha256(b"x").hexdigest(), PACK, 0, len(stored), claimed]
    put_manifest(store, [["bomb.bin", "f", 0o644, 1, claimed, 0, 0, [ref]]])


@pytest.fixture
def svc(make_service, bucket, home):
    (home / "x.txt").write_text("x")
    s = make_service()
    s.backup()
    return s


@pytest.mark.parametrize("codec", ["zlib", "zstd"])
def test_a_bomb_within_the_claimed_size_stops_at_it(svc, bombs, tmp_path, codec):
    # The manifest claims the format's maximum; the stream holds far more: decoding stops
    # one byte past the claim (restore: corrupt, nothing written; check: one problem).
    stored, _size = bombs[codec]
    plant(svc, stored, mf.MAX_BLOB)
    out = tmp_path / "out"
    reset_peak_rss()
    before = rss_mb()
    with pytest.raises(repo.CorruptBackup, match="inflates beyond|frame claims"):
        svc.restore(SNAP, target=str(out))
    assert peak_rss_mb() - before < 100  # the stream is 512 MiB / 1 GiB
    assert not (out / "bomb.bin").exists()
    result = svc.check(read_data=True)
    problems = [p for p in result["problems"] if p["snapshot"] == SNAP]
    assert len(problems) == 1 and "bomb.bin" == problems[0]["path"], problems
    assert "inflates beyond" in problems[0]["problem"] or "claims" in problems[0]["problem"]


@pytest.mark.parametrize("codec", ["zlib", "zstd"])
def test_a_claim_above_the_format_maximum_is_refused_before_any_download(
    svc, bombs, tmp_path, codec, monkeypatch
):
    stored, size = bombs[codec]
    plant(svc, stored, size)  # "a 32 KB pack giving a 1 GB blob"
    gets = []
    real_get = Store.get
    monkeypatch.setattr(
        Store, "get", lambda self, key, *a, **kw: gets.append(key) or real_get(self, key, *a, **kw)
    )
    with pytest.raises(BadInput, match="the format allows"):
        svc.restore(SNAP, target=str(tmp_path / "out"))
    assert not [k for k in gets if "/data/" in k]
    assert not (tmp_path / "out").exists()
    problems = svc.check(read_data=True)["problems"]
    assert any(p["snapshot"] == SNAP and "the format allows" in p["problem"] for p in problems)


def test_the_cli_stays_small_on_bombs(aws, svc, bombs, tmp_path):
    """Peak RSS of `smstudio restore` and `smstudio backup check --read-data` processes (the
    issue measured 1.69 GB for an 815 KB blob)."""
    stored, _ = bombs["zstd"]
    plant(svc, stored, mf.MAX_BLOB)
    store = svc.store()
    zpack = "c0" * 16
    zstored, _ = bombs["zlib"]
    store.put(store.pack_key(zpack), zstored)
    ref = [hashlib.sha256(b"y").hexdigest(), zpack, 0, len(zstored), mf.MAX_BLOB]
    put_manifest(
        store,
        [["z.bin", "f", 0o644, 1, mf.MAX_BLOB, 0, 0, [ref]]],
        snap_id=SNAP.replace("evil", "evi2"),
    )
    bucket_args = ("--bucket", f"s3://{BUCKET}/backups")
    for snap in (SNAP, SNAP.replace("evil", "evi2")):
        rc, out, err, rss = cli(
            aws, tmp_path, "restore", snap, *bucket_args, "--target", str(tmp_path / snap)
        )
        assert rc == 10 and "blob" in err and "Traceback" not in err, err
        # one error line, the last (progress lines before it are the restore's own)
        assert err.strip().splitlines()[-1].startswith("smstudio:"), err
        assert sum(ln.startswith("smstudio:") for ln in err.splitlines()) == 1, err
        assert rss < 150, f"restore peaked at {rss:.0f} MB"  # it was 1,076 MB
    rc, out, err, rss = cli(aws, tmp_path, "backup", "check", "--read-data", *bucket_args)
    assert rc == 10 and "Traceback" not in err
    assert "inflates beyond" in err and "frame claims" in err, err
    assert rss < 150, f"check peaked at {rss:.0f} MB"


@pytest.mark.parametrize(
    "extra_server_config", [{"HomeBackup": {"bucket": f"s3://{BUCKET}/homes"}}]
)
async def test_the_jupyter_server_stays_small_on_a_bomb(
    aws, jp_fetch, jp_serverapp, jp_root_dir, bombs
):
    # Given a server whose backup location holds a 32 KB blob that inflates to 1 GiB
    aws.client("s3").create_bucket(Bucket=BUCKET)
    (jp_root_dir / "x.txt").write_text("x")
    svc = jp_serverapp.web_app.settings["smstudio"].backup
    svc.backup()
    stored, _ = bombs["zstd"]
    plant(svc, stored, mf.MAX_BLOB)
    # When it is restored through REST
    reset_peak_rss()
    before = rss_mb()
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("smstudio", "restore", method="POST", body=json.dumps({"snapshot": SNAP}))
    # Then a 502 with the reason, and the server did not balloon (this process, the test,
    # the emulator and the server, peaked at 2.26 GB before; the issue measured 1.74 GB)
    assert info.value.code == 502
    assert json.loads(info.value.response.body)["error"] == "corrupt_backup"
    grew = peak_rss_mb() - before
    assert grew < 100, f"the server grew by {grew:.0f} MB"


def test_ranges_of_a_pack_are_bounded(svc, tmp_path, monkeypatch):
    # Blobs far apart in one (large) pack: several ranged GETs, none above SPAN_MAX, and the
    # manifest pieces of a hostile header likewise.
    monkeypatch.setattr(repo, "SPAN_MAX", 4096)
    store = svc.store()
    body = bytearray(64 * 1024)
    lines = []
    for i, off in enumerate((0, 20_000, 40_000, 60_000)):
        data = b"%d" % i * 100
        body[off : off + len(data)] = data
        ref = [hashlib.sha256(data).hexdigest(), PACK, off, len(data), len(data)]
        lines.append([f"f{i}", "f", 0o644, 1, len(data), 0, 0, [ref]])
    store.put(store.pack_key(PACK), bytes(body))
    put_manifest(store, lines)
    ranges = []
    real_get = Store.get

    def get(self, key, range_=None, **kw):
        if "/data/" in key:
            first, last = map(int, range_[len("bytes=") :].split("-"))
            ranges.append(last - first + 1)
        return real_get(self, key, range_, **kw)

    monkeypatch.setattr(Store, "get", get)
    svc.restore(SNAP, target=str(tmp_path / "out"))
    assert sorted((tmp_path / "out" / f"f{i}").read_bytes() for i in range(4)) == sorted(
        b"%d" % i * 100 for i in range(4)
    )
    assert len(ranges) == 4 and max(ranges) <= 4096
    ranges.clear()
    assert svc.check(read_data=True)["ok"]
    assert ranges and max(ranges) <= 4096


def test_a_line_longer_than_the_limit_is_refused_not_held(svc, tmp_path, monkeypatch):
    monkeypatch.setattr(mf, "MAX_LINE", 1000)
    put_manifest(svc.store(), [b'["' + b"a" * 5000 + b'","d",493,1,0,0,0,null]\n'])
    with pytest.raises(BadInput, match="a line longer than 1000 bytes"):
        svc.restore(SNAP, target=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    # a gzip member of a few KB that inflates to one line of 64 MiB: refused at the limit
    monkeypatch.setattr(mf, "MAX_LINE", 1 << 20)
    put_manifest(svc.store(), [b"[" + b" " * (64 << 20)])
    reset_peak_rss()
    before = rss_mb()
    with pytest.raises(BadInput, match="a line longer than"):
        svc.restore(SNAP, target=str(tmp_path / "out"))
    assert peak_rss_mb() - before < 40


def test_a_header_that_inflates_without_end_is_refused(svc, tmp_path, monkeypatch):
    monkeypatch.setattr(repo, "HEADER_MAX", 1 << 20)
    store = svc.store()
    store.put(store.snapshot_key(SNAP), gzip.compress(b'{"format": 1, "x": "' + b"a" * (8 << 20)))
    with pytest.raises(BadInput, match="header too large"):
        svc.restore(SNAP, target=str(tmp_path / "out"))
    listed = {s["id"]: s for s in svc.snapshots()}
    assert "error" in listed[SNAP]  # the list goes on, the damaged one says so


def test_oversized_lock_object_is_not_read_whole(svc, home):
    # A lock object far larger than a lock (64 KiB at most is read): not a lock, removed as
    # stale; the backup goes on.
    store = svc.store()
    store.put(store.lock_key("huge"), b"{" + b" " * (4 << 20))
    (home / "y.txt").write_text("y")
    assert svc.backup()["snapshot_id"]
    assert not [o for o in store.list("locks/")]


def test_state_files_that_are_huge_or_not_files_are_ignored(svc, tmp_path):
    import os

    store = svc.store()
    state = svc.state(store, svc.source())
    os.unlink(state.result_path)
    os.mkfifo(state.result_path)  # a FIFO must not hang the status
    svc.last_result = None
    assert state.load_result() is None and svc.status()["last_result"] is None
    os.unlink(state.result_path)
    with open(state.meta_path, "wb") as fh:
        fh.write(b"{" + b" " * (1 << 20))
    assert state.meta() == {}
    assert svc.backup()["snapshot_id"]  # the state is rebuilt from the bucket
