"""A backup run you can read, and two robustness rules of issue 15:

* scheduled and final runs read every file (and send every pack) at low priority, in threads
  of their own; a run somebody waits for keeps the normal priority;
* an interactive ``smstudio backup`` on a terminal gets the forked no-change check, as ``-q``
  does (the progress bar's thread starts after the fork);

plus the CLI's light start (no botocore before the fork), named entries that write the same
JSON, ``file_changed``, and no function in ``backup/`` with more than 6 parameters.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import pty
import select
import subprocess
import sys
import threading
import time

import pytest
from backup_support import excluded_view, make_home, tree

from smstudio_ext.backup import manifest as mf
from smstudio_ext.backup import priority
from smstudio_ext.backup import run as run_mod
from smstudio_ext.backup.merge import file_changed
from smstudio_ext.backup.packer import Packer
from smstudio_ext.backup.readers import FileReader

BACKUP_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "smstudio_ext", "backup"
)
SPECULATED = "checked while connecting"


def test_no_function_in_backup_takes_more_than_six_parameters():
    # self and cls not counted; *args and **kwargs count one each
    offenders = []
    for path in sorted(glob.glob(os.path.join(BACKUP_DIR, "*.py"))):
        with open(path) as fh:
            module = ast.parse(fh.read())
        for node in ast.walk(module):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                a = node.args
                names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
                names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
                if names and names[0] in ("self", "cls"):
                    names = names[1:]
                if len(names) > 6:
                    name = getattr(node, "name", "<lambda>")
                    offenders.append(f"{os.path.basename(path)}:{node.lineno} {name}{names}")
    assert not offenders


def test_entries_are_named_and_write_the_same_json():
    line = (
        b'["a b.txt","f",420,1700000000000000001,5,77,1700000000000000002,'
        b'[["' + b"ab" * 32 + b'","' + b"cd" * 16 + b'",0,5,5]]]\n'
    )
    entry = mf.parse_entry(line)
    assert entry.path == "a b.txt" and entry.kind == "f" and entry.size == 5
    assert entry.data[0].pack == "cd" * 16 and entry.data[0].length == 5
    assert mf.encode_entry(entry) == line
    link = mf.parse_entry(b'["l","l",511,1,3,2,3,"x/y"]\n')
    assert link.data == "x/y" and mf.encode_entry(link) == b'["l","l",511,1,3,2,3,"x/y"]\n'


def test_file_changed_is_restics_rule(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    st = os.lstat(path)
    same = mf.Entry.of("f", "f", st, [])
    assert not file_changed(st, same, trusted=True)
    assert file_changed(st, None, trusted=False)  # new
    assert file_changed(st, same._replace(kind="l"), trusted=False)  # was a link
    assert file_changed(st, same._replace(size=4), trusted=False)
    assert file_changed(st, same._replace(mtime_ns=1), trusted=False)
    assert file_changed(st, same._replace(ctime_ns=0), trusted=False)  # racy entry
    # inode and ctime count only when the state describes this filesystem
    assert file_changed(st, same._replace(ino=1), trusted=True)
    assert not file_changed(st, same._replace(ino=1, ctime_ns=5), trusted=False)
    # a line that starts with the entry's stat_head is the unchanged line
    assert mf.encode_entry(same).startswith(mf.stat_head("f", "f", st))


# -- one priority policy for scheduled and final runs --------------------------------------
@pytest.fixture
def priorities(monkeypatch):
    """(what, thread name, nice, I/O class) for every file read, walk step and pack upload."""
    seen: list[tuple[str, str, int | None, int | None]] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        nice, io_class = priority.thread_priority()
        with lock:
            seen.append((what, threading.current_thread().name, nice, io_class))

    real_read, real_upload, real_walk = FileReader.read, Packer._upload, run_mod.walk

    def read(self, *args, **kwargs):
        note("read")
        return real_read(self, *args, **kwargs)

    def upload(self, *args, **kwargs):
        note("upload")
        return real_upload(self, *args, **kwargs)

    def walk(*args, **kwargs):
        for item in real_walk(*args, **kwargs):
            note("walk")
            yield item

    monkeypatch.setattr(FileReader, "read", read)
    monkeypatch.setattr(Packer, "_upload", upload)
    monkeypatch.setattr(run_mod, "walk", walk)
    return seen


def _check_low(seen, caller_priority):
    assert {what for what, *_ in seen} == {"read", "upload", "walk"}
    for what, name, nice, io_class in seen:
        assert nice == priority.NICE, (what, name)
        if io_class is not None:  # ioprio_get available (x86_64, aarch64)
            assert io_class == priority.IOPRIO_CLASS_IDLE, (what, name)
    assert priority.thread_priority() == caller_priority  # the caller's thread untouched


@pytest.mark.parametrize("how", ["direct", "scheduled", "final"])
def test_background_runs_read_everything_at_low_priority(
    make_service, bucket, home, priorities, how
):
    make_home(home, big=True)
    svc = make_service(background_concurrency=2, interval_hours=1)
    caller = priority.thread_priority()
    if how == "direct":
        svc.backup(background=True)
    elif how == "scheduled":
        assert svc.tick()  # due: no backup yet
        assert svc.wait(60)
    else:
        outcome = svc.final_backup(60)
        assert outcome["ran"] and outcome["ok"], outcome
    assert svc.last_error is None and svc.last_result["files_read"] > 0
    _check_low(priorities, caller)


def test_a_run_somebody_waits_for_keeps_normal_priority(make_service, bucket, home, priorities):
    make_home(home, big=True)
    caller = priority.thread_priority()
    make_service().backup()
    assert {what for what, *_ in priorities} == {"read", "upload", "walk"}
    assert {nice for *_, nice, _io in priorities} == {caller[0]}


# -- the CLI: a terminal gets the forked check, and nothing loads botocore before it ---------
def _cli_args(aws, bucket, home, tmp_path, *extra):
    config = tmp_path / "racy.json"  # files written just before a run are not racy here
    config.write_text(json.dumps({"HomeBackup": {"racy_seconds": 0}}))
    return [
        sys.executable, "-m", "smstudio_ext", "-v", "--endpoint-url", aws.endpoint_url,
        "--metadata", str(tmp_path / "none.json"), "--config", str(config),
        "backup", "--bucket", bucket, "--source", str(home), *extra,
    ]  # fmt: skip


def _run_on_a_terminal(args, env, timeout=60.0):
    """Run with stdout and stderr on a pseudo-terminal; (exit code, everything it wrote)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed: the process is gone
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=10), out.decode(errors="replace")


def test_a_run_on_a_terminal_gets_the_no_change_check(aws, bucket, home, tmp_path):
    make_home(home)
    env = {**os.environ, **aws.env(), "HOME": str(tmp_path / "clihome")}
    args = _cli_args(aws, bucket, home, tmp_path)
    first = subprocess.run([*args, "-q"], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    code, out = _run_on_a_terminal(args, env)
    assert code == 0, out
    assert "backup " in out and "files " in out  # the progress bar was drawn
    assert SPECULATED in out  # and the child decided "nothing changed"


def test_the_cli_loads_no_botocore_before_it_forks(tmp_path):
    # What the CLI builds before BackupRun.speculate(): the service, the store, the run. With
    # a region and no endpoint (as in Studio) the region check waits for the first client.
    code = (
        "import sys\n"
        "from smstudio_ext.cli import build_parser, command_of\n"
        "from smstudio_ext.cli.backup import _service\n"
        f"argv = ['--region', 'eu-west-1', '--metadata', {str(tmp_path / 'none.json')!r},"
        f" 'backup', '--bucket', 's3://bucket-x/p', '--source', {str(tmp_path)!r}]\n"
        "args = build_parser(command_of(argv)).parse_args(argv)\n"
        "run = _service(args).backup_run(bucket=args.bucket, source=args.source)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules\n"
        "              if m.startswith(('botocore', 'boto3', 'pyfastcdc', 'urllib3'))}))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "[]"


def test_a_tree_walked_on_a_terminal_matches_one_walked_quietly(aws, bucket, home, tmp_path):
    # The terminal run is the same backup: the same snapshot entries as a -q run would write.
    make_home(home)
    env = {**os.environ, **aws.env(), "HOME": str(tmp_path / "clihome")}
    code, out = _run_on_a_terminal(_cli_args(aws, bucket, home, tmp_path), env)
    assert code == 0, out
    (home / "notebooks" / "new.ipynb").write_text("{}")
    code, out = _run_on_a_terminal(_cli_args(aws, bucket, home, tmp_path), env)
    assert code == 0 and SPECULATED not in out, out
    out_dir = tmp_path / "restored"
    args = _cli_args(aws, bucket, home, tmp_path)
    restore = [*args[: args.index("backup")], "restore", "latest", "--bucket", bucket]
    subprocess.run(
        [*restore, "--target", str(out_dir), "-q"], env=env, check=True, capture_output=True
    )
    assert tree(out_dir) == excluded_view(tree(home))
