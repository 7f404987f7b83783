"""fsutil.atomic_write: whole-or-nothing replacement, unique temporaries, mode before rename."""

from __future__ import annotations

import json
import os
import threading

import pytest

from smstudio_ext.fsutil import atomic_write, atomic_write_json


def test_replaces_whole_file_with_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "plan.sh"
    path.write_text("old")
    atomic_write(path, "#!/usr/bin/env bash\n", mode=0o755)
    assert path.read_text() == "#!/usr/bin/env bash\n"
    assert os.stat(path).st_mode & 0o777 == 0o755
    assert os.listdir(tmp_path) == ["plan.sh"]
    atomic_write_json(tmp_path / "m.json", {"a": 1}, indent=1)
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "cache.json"
    path.write_text("old")

    with pytest.raises(TypeError):
        atomic_write(path, object())  # type: ignore[arg-type]  # not bytes: fails writing
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["cache.json"]


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    link = tmp_path / "cache.json"
    link.symlink_to(target)
    atomic_write(link, "new")
    assert not link.is_symlink() and link.read_text() == "new"
    assert target.read_text() == "keep"


def test_concurrent_writers_never_share_a_temporary(tmp_path):
    path = tmp_path / "prices.json"
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for _ in range(5):
                atomic_write_json(path, {"writer": i})
        except BaseException as exc:  # pragma: no cover - the failure this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert json.loads(path.read_text())["writer"] in range(4)
    assert os.listdir(tmp_path) == ["prices.json"]


# --- read_capped: every file whose size we don't control ------------------------------------

from smstudio_ext.fsutil import ReadRefused, foreign_symlink, read_capped  # noqa: E402


def test_read_capped_reads_up_to_the_cap_and_refuses_one_byte_more(tmp_path):
    path = tmp_path / "m.json"
    path.write_bytes(b"x" * 100)
    assert read_capped(path, 100) == b"x" * 100
    with pytest.raises(ReadRefused, match=r"m.json is larger than 99 bytes: not read as metadata"):
        read_capped(path, 99, what="metadata")
    with pytest.raises(FileNotFoundError):
        read_capped(tmp_path / "absent", 10)
    # /proc files are regular (stat says size 0) and are read
    assert b"Pid:" in read_capped("/proc/self/status", 64 * 1024)


def test_read_capped_stops_at_the_cap_on_a_huge_file(tmp_path):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:  # 8 GiB, sparse: costs no disk
        fh.truncate(8 << 30)
    with pytest.raises(ReadRefused, match="larger than 1 MB: not read as a config file"):
        read_capped(huge, 1 << 20, what="a config file")


@pytest.mark.timeout(20)
def test_read_capped_refuses_devices_fifos_and_folders_at_once(tmp_path):
    with pytest.raises(ReadRefused) as err:
        read_capped("/dev/zero", 1024, what="resource metadata")
    assert str(err.value) == (
        "/dev/zero is a character device, not a regular file: not read as resource metadata"
    )
    assert isinstance(err.value, OSError)  # callers that handle OSError handle it
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a plain open() would block forever
    with pytest.raises(ReadRefused, match="is a FIFO, not a regular file"):
        read_capped(fifo, 1024)
    with pytest.raises(ReadRefused, match="is a directory"):
        read_capped(tmp_path, 1024)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a link to another user")
def test_foreign_symlink_is_a_link_someone_other_than_root_made(tmp_path):
    target = tmp_path / "t"
    target.write_text("x")
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.symlink_to(target)
    theirs.symlink_to(target)
    os.lchown(theirs, 65534, 65534)
    assert not foreign_symlink(mine) and foreign_symlink(theirs)
    assert not foreign_symlink(target) and not foreign_symlink(tmp_path / "absent")


def test_read_stream_capped_reads_at_most_one_byte_past_the_cap():
    import io

    from smstudio_ext.fsutil import ReadRefused, read_stream_capped

    class Counting(io.BytesIO):
        asked = 0

        def read(self, n=-1):
            assert n is not None and n >= 0  # never "read everything"
            data = super().read(n)
            Counting.asked += len(data)
            return data

    assert read_stream_capped(Counting(b"x" * 10), 10, name="s3://b/k") == b"x" * 10
    Counting.asked = 0
    with pytest.raises(
        ReadRefused, match=r"^s3://b/k is larger than 10 bytes: not read as a manifest$"
    ):
        read_stream_capped(Counting(b"x" * 5_000_000), 10, name="s3://b/k", what="a manifest")
    assert Counting.asked == 11
