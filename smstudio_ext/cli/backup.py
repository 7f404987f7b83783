"""``smstudio backup | snapshots | restore``: the backup engine from a terminal or an LCC.

Runs in-process (no Jupyter server needed). Exit codes: 0 done; 1 snapshot written but some
files were skipped (listed); 2 bad input (hostile manifest included); 3 access denied;
4 not found; 5 conflict (lock held, target files exist); 6 not configured; 7 S3 unreachable
or throttling; 8 other S3 error; 9 disk full; 10 corrupt backup; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from ..errors import BadInput
from ..units import format_bytes
from .backup_progress import EngineProgress
from .common import Env, add_json_flag, print_json, print_table

# What never reaches a terminal as is: C0 and C1 controls, DEL (escape sequences in a key
# name), bidirectional overrides, and lone surrogates (names that are not UTF-8).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean(value: Any) -> str:
    """``value`` as text safe for a terminal: every character above escaped (``\\x1b``)."""
    text = "-" if value is None else str(value)
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def say(text: str, file: TextIO | None = None) -> None:
    """Print one human-readable line, escaped (``clean``)."""
    print(clean(text), file=file or sys.stdout)


def _service(args: argparse.Namespace) -> Any:
    from ..backup.config import HomeBackup
    from ..backup.engine import BackupService
    from ..context import Studio

    env = Env(args)
    studio = env.section(Studio)
    # env.aws loads no botocore until the first request (see smstudio_ext/aws.py)
    return BackupService(env.section(HomeBackup), env.context, env.aws, home=studio.home)


def _progress_enabled(args: argparse.Namespace) -> bool:
    """Progress goes to stderr, so --json output stays clean; -q silences it."""
    return not getattr(args, "quiet", False)


def _fast_switching() -> None:
    # Many short syscalls per file in a few threads: a shorter GIL switch interval keeps the
    # threads from waiting on each other (CLI process only; the server keeps its default).
    sys.setswitchinterval(0.0005)


def cmd_backup(args: argparse.Namespace) -> int:
    _fast_switching()
    if args.action == "prune":
        return cmd_prune(args)
    if args.action == "check":
        return cmd_check(args)
    from ..backup.excludes import LeaveOut, bad_pattern

    for pattern in args.exclude:  # typed now, by someone who can fix it: refused up front
        why = bad_pattern(pattern)
        if why is not None:
            raise BadInput(f"invalid --exclude pattern {pattern!r}: {why}")
    svc = _service(args)
    leave_out = LeaveOut(
        excludes=tuple(args.exclude),
        default_excludes=False if args.no_default_excludes else None,
        include_secrets=True if args.include_secrets else None,
    )
    run = svc.backup_run(
        bucket=args.bucket, source=args.source, dry_run=args.dry_run, leave_out=leave_out,
        allow_shrink=args.allow_shrink,
    )  # fmt: skip
    # The "nothing changed?" check forks now, before the progress bar's thread exists (a
    # process with threads never forks): a run on a terminal is as fast as one with -q.
    run.speculate()
    # a terminal only (a backup's stderr is an LCC's or a cron job's log: summaries only)
    with EngineProgress(run.progress, not args.json and not args.quiet, tty_only=True):
        result = svc.execute(run)
    if args.json:
        print_json(result)
    elif not args.quiet:
        if result["dry_run"]:
            say(
                f"dry run: {result['files']} files, {result['dirs']} dirs, {result['links']} "
                f"links; would read {result['files_read']} files ({format_bytes(result['bytes_read'])})"
            )
            if result.get("held_back"):
                say(f"would not commit: {result['held_back']}")
        else:
            say(
                f"snapshot {result['snapshot_id']} in {result['location']}: {result['files']} "
                f"files ({format_bytes(result['bytes'])}), read {result['files_read']}, uploaded "
                f"{format_bytes(result['bytes_uploaded'])} in {result['packs']} packs, "
                f"{result['seconds']:.2f}s"
            )
    for warning in result.get("warnings") or []:
        say(f"smstudio: warning: {warning}", sys.stderr)
    for item in result.get("skipped") or []:
        say(f"smstudio: skipped {item['path']!r}: {item['reason']}", sys.stderr)
    return 1 if result.get("skipped") or result.get("warnings") else 0


def cmd_prune(args: argparse.Namespace) -> int:
    result = _service(args).prune(bucket=args.bucket, dry_run=args.dry_run)
    if args.json:
        print_json(result)
    else:
        verb = "would remove" if result["dry_run"] else "removed"
        say(
            f"kept {len(result['snapshots_kept'])} snapshot(s); {verb} "
            f"{len(result['snapshots_removed'])} snapshot(s) and {result['packs_removed']} of "
            f"{result['packs_total']} pack(s) ({format_bytes(result['bytes_removed'])})"
        )
        if result.get("kept_last_data_snapshot"):
            say(
                f"kept {result['kept_last_data_snapshot']} beyond the policy: the last snapshot "
                "that held data (every newer one has less than half its files)"
            )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when every snapshot can be restored, 10 (corrupt backup) otherwise."""
    from ..backup.repo import Progress

    svc = _service(args)
    svc.location(args.bucket)  # not configured, a bad URL: one line, before any progress
    progress = Progress("check")
    with EngineProgress(progress, _progress_enabled(args)):
        result = svc.check(bucket=args.bucket, read_data=args.read_data, progress=progress)
    if args.json:
        print_json(result)
    else:
        for item in result["problems"]:
            where = (
                f"{item['snapshot']} {item['path']!r}: "
                if item["path"]
                else f"{item['snapshot']}: "
            )
            say(f"smstudio: {where}{item['problem']}", sys.stderr)
        if result["problems_total"] > len(result["problems"]):
            more = result["problems_total"] - len(result["problems"])
            say(f"smstudio: ... and {more} more problem(s)", sys.stderr)
        data = (
            f", {format_bytes(result['bytes_read'])} of data verified"
            if result["read_data"]
            else ""
        )
        verdict = "ok" if result["ok"] else f"{result['problems_total']} problem(s)"
        say(
            f"{verdict}: {result['snapshots']} snapshot(s), {result['files']} file entries, "
            f"{result['packs']} pack(s) ({result['packs_unreferenced']} unreferenced: `backup "
            f"prune` removes them){data}, {result['seconds']:.2f}s"
        )
    return 0 if result["ok"] else 10


def cmd_restore(args: argparse.Namespace) -> int:
    _fast_switching()
    from ..backup.repo import Progress
    from ..backup.restore import RestoreOptions

    svc = _service(args)
    svc.location(args.bucket)  # not configured, a bad URL: one line, before any progress
    progress = Progress("restore")
    options = RestoreOptions(
        paths=tuple(args.paths), overwrite=args.overwrite, if_empty=args.if_empty,
        keep_setid=args.keep_setid, dry_run=args.dry_run,
    )  # fmt: skip
    with EngineProgress(progress, _progress_enabled(args) and not args.dry_run):
        result = svc.restore(
            args.snapshot, target=args.target, options=options, bucket=args.bucket,
            progress=progress,
        )  # fmt: skip
    if result.get("dry_run") and result.get("would_fail"):
        code = 5  # as the restore itself: Conflict, nothing would be written
    else:
        code = 0
    if args.json:
        print_json(result)
    elif not args.quiet:
        if not result["restored"] and "reason" in result:
            verb = "nothing would be restored" if result.get("dry_run") else "nothing restored"
            say(f"{verb}: {result['reason']}")
        elif result.get("dry_run"):
            _say_restore_plan(result)
        else:
            resumed = " (resumed)" if result.get("resumed") else ""
            say(
                f"restored snapshot {result['snapshot_id']} into {result['target']}{resumed}: "
                f"{result['files']} files ({result['files_written']} written), {result['dirs']} "
                f"dirs, {result['links']} links in {result['seconds']:.2f}s"
            )
            if result.get("kept"):
                shown = ", ".join(repr(p) for p in result["kept_paths"][:5])
                say(f"kept {result['kept']} existing file(s) or link(s) that differ: {shown}")
    if code:
        say(f"smstudio: error: a restore would stop: {result['would_fail']}", sys.stderr)
    return code


def _say_restore_plan(r: dict[str, Any]) -> None:
    """``restore --dry-run``: what a restore would do, one line per kind of action."""
    resumes = " (resuming the unfinished restore there)" if r.get("resumes") else ""
    say(
        f"dry run: restore snapshot {r['snapshot_id']} into {r['target']}{resumes}; nothing written"
    )
    rows = (
        ("write", "new", r["write"], r["bytes_write"], r["write_paths"]),
        ("overwrite", "replaced", r["overwrite"], r["bytes_overwrite"], r["overwrite_paths"]),
        ("skip", "unchanged", r["unchanged"], r["bytes_unchanged"], ()),
        ("keep", "differ, kept", r["kept"], r["bytes_kept"], r["kept_paths"]),
        ("conflict", "differ, refused", r["conflicts"], r["bytes_conflicts"], r["conflict_paths"]),
    )
    for verb, what, count, nbytes, paths in rows:
        if not count and verb not in ("write", "skip"):
            continue
        shown = ""
        if paths and verb != "write":
            more = f", ... ({count - 5} more)" if count > 5 else ""
            shown = ": " + ", ".join(repr(p) for p in paths[:5]) + more
        say(f"  {verb:<9} {count} entries ({what}, {format_bytes(nbytes)} of files){shown}")
    say(
        f"  download  {format_bytes(r['bytes_to_download'])} in {r['requests_to_download']} "
        "ranged GET(s)"
    )


# -- snapshots ls / diff


def cmd_snapshots(args: argparse.Namespace) -> int:
    action, rest = args.action, list(args.args)
    if action is None:
        if rest:
            raise BadInput(
                f"unexpected argument {rest[0]!r}: use `snapshots ls` or `snapshots diff`"
            )
        return _cmd_snapshot_list(args)
    if action == "ls":
        if not 1 <= len(rest) <= 2:
            raise BadInput("usage: smstudio snapshots ls SNAPSHOT [PATH]")
        return _cmd_snapshot_ls(args, rest[0], rest[1] if len(rest) == 2 else "")
    if len(rest) != 2:
        raise BadInput("usage: smstudio snapshots diff SNAPSHOT_A SNAPSHOT_B")
    return _cmd_snapshot_diff(args, rest[0], rest[1])


def _cmd_snapshot_list(args: argparse.Namespace) -> int:
    snaps = _service(args).snapshots(bucket=args.bucket)
    if args.json:
        print_json(snaps)
        return 0
    rows = [
        (
            clean(s["id"]), clean(s.get("time")), clean(s.get("host")), s.get("files"),
            format_bytes(s.get("bytes") or 0) if not s.get("error") else clean(s["error"])[:60],
        )
        for s in snaps
    ]  # fmt: skip
    print_table(rows, ["ID", "TIME", "HOST", "FILES", "SIZE"])
    return 0


def _json_stream(items: Iterable[dict[str, Any]]) -> int:
    """A JSON array written as it is produced, one object a line (never held whole)."""
    out = sys.stdout
    count = 0
    out.write("[")
    for item in items:
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(item))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _cmd_snapshot_ls(args: argparse.Namespace, snapshot: str, path: str) -> int:
    from ..backup import browse

    rel = browse.clean_path(path)
    with _service(args).open_snapshot(snapshot, bucket=args.bucket) as snap:
        items = browse.list_entries(snap, rel)
        if args.json:
            count = _json_stream(items)
        else:
            count = 0
            for item in items:
                count += 1
                if not args.quiet:
                    when = (item["mtime"] or "-")[:19].replace("T", " ")
                    name = item["path"] + ("/" if item["type"] == "dir" else "")
                    if "target" in item:
                        name += " -> " + item["target"]
                    say(f"{item['permissions']} {item['size']:>12} {when:<19}  {name}")
        if rel and not count:
            # not an error: an empty listing (a script asking "is it there?" gets [] and 0)
            say(f"smstudio: note: nothing at {rel!r} in snapshot {snap.id}", sys.stderr)
    return 0


_MARKS = {"added": "+", "removed": "-", "modified": "M"}


def _cmd_snapshot_diff(args: argparse.Namespace, a: str, b: str) -> int:
    from ..backup import browse

    svc = _service(args)
    with svc.open_snapshot(a, bucket=args.bucket) as old:
        with svc.open_snapshot(b, bucket=args.bucket) as new:
            diff = browse.Diff(old, new)
            if args.json:
                sys.stdout.write('{"changes": ')
                _json_stream(diff.items())
                sys.stdout.write(f', "summary": {json.dumps(diff.summary())}}}\n')
                return 0
            for item in diff.items():
                if args.quiet:
                    continue
                name = item["path"] + ("/" if item["type"] == "dir" else "")
                what = f"  ({', '.join(item['what'])})" if "what" in item else ""
                say(f"{_MARKS[item['change']]}  {name}{what}")
            s = diff.summary()
            if not args.quiet:
                say(
                    f"{s['from']} -> {s['to']}: {s['added']} added "
                    f"({format_bytes(s['bytes_added'])}), {s['removed']} removed "
                    f"({format_bytes(s['bytes_removed'])}), {s['modified']} modified "
                    f"({format_bytes(s['bytes_modified_before'])} -> "
                    f"{format_bytes(s['bytes_modified_after'])})"
                )
    return 0


def _bucket_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bucket",
        metavar="s3://BUCKET/PREFIX",
        help="backup location (default: HomeBackup.bucket); the per-user folder is appended",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, summary or listing (errors only)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "backup",
        help="back up the home directory to S3 (or `backup prune`, `backup check`)",
        description="Back up a directory (default: the home) as a new snapshot. "
        "`smstudio backup prune` applies the retention policy and removes unused data; "
        "`smstudio backup check [--read-data]` verifies that every snapshot can be restored "
        "(exit 10 if not).",
    )
    b.add_argument(
        "action",
        nargs="?",
        choices=("prune", "check"),
        help="prune: apply retention; check: verify the snapshots and their data",
    )
    _bucket_flag(b)
    b.add_argument("--source", metavar="DIR", help="directory to back up (default: the home)")
    b.add_argument("--dry-run", action="store_true", help="show what would be read/removed")
    b.add_argument(
        "--read-data", action="store_true", help="check: download and verify every blob too"
    )
    b.add_argument(
        "--no-default-excludes", action="store_true", help="also back up caches, trash, ..."
    )
    b.add_argument(
        "--exclude", action="append", default=[], metavar="PATTERN", help="gitignore-style"
    )
    b.add_argument(
        "--include-secrets",
        action="store_true",
        help="also back up credentials (~/.aws/credentials, SSH private keys, .netrc, the "
        "Jupyter runtime dir, ...: HomeBackup.secret_excludes), excluded by default",
    )
    b.add_argument(
        "--allow-shrink",
        action="store_true",
        help="commit even a snapshot that drops most of the previous one's files on a freshly "
        "started app (held back otherwise: HomeBackup.hold_back_*)",
    )
    add_json_flag(b)
    b.set_defaults(func=cmd_backup)

    s = sub.add_parser(
        "snapshots",
        help="list backup snapshots, the entries of one (`ls`), or what changed (`diff`)",
        description="Without an action: the snapshots. `snapshots ls SNAPSHOT [PATH]`: the "
        "entries of one snapshot (mode, size, mtime, path), under PATH if given (nothing there "
        "is an empty listing with a note, exit 0). `snapshots diff A B`: the paths added (+), "
        "removed (-) and modified (M: content, type, link target, size or mode; an mtime alone "
        "is not a change) from A to B, and a summary. SNAPSHOT is an id, a unique id prefix or "
        "'latest'. Only the manifests are read, never file data.",
    )
    s.add_argument("action", nargs="?", choices=("ls", "diff"), help="ls or diff")
    s.add_argument(
        "args", nargs="*", metavar="SNAPSHOT|PATH", help="ls: SNAPSHOT [PATH]; diff: A B"
    )
    _bucket_flag(s)
    add_json_flag(s)
    s.set_defaults(func=cmd_snapshots)

    r = sub.add_parser(
        "restore",
        help="restore a snapshot (or chosen paths) into a directory",
        description="Restore SNAPSHOT (an id, a unique id prefix, or 'latest'). Without "
        "--target, into a fresh folder under the home. --if-empty restores only when the target "
        "holds nothing but what a fresh Studio home has, and resumes a restore that was "
        "interrupted (for a lifecycle configuration: "
        "`smstudio restore latest --target $HOME --if-empty`); exits 0 when it skips.",
    )
    r.add_argument("snapshot", metavar="SNAPSHOT|latest")
    r.add_argument("paths", nargs="*", metavar="PATH", help="only these paths (relative)")
    _bucket_flag(r)
    r.add_argument("--target", metavar="DIR", help="where to restore (default: a fresh folder)")
    r.add_argument("--overwrite", action="store_true", help="replace existing files")
    r.add_argument(
        "--if-empty",
        action="store_true",
        help="only restore when the target is empty, or resume a restore into it that was "
        "interrupted; files already there that differ are kept",
    )
    r.add_argument(
        "--keep-setid",
        action="store_true",
        help="as root, keep setuid/setgid bits of files and directories (dropped by default)",
    )
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="only say what would be written, overwritten, skipped (unchanged), kept or refused "
        "and how much would be downloaded; nothing is created or changed (exit 5 if the "
        "restore would stop on a conflict)",
    )
    add_json_flag(r)
    r.set_defaults(func=cmd_restore)
