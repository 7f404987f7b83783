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
