"""Restore a snapshot (or chosen paths) into a directory: bytes, modes, mtimes, links, empty dirs.

Every manifest path is checked before anything is written (absolute paths, ``..``, empty
components, and parents that resolve outside the target are refused). One ranged GET per
pack (per window, at most ``SPAN_MAX`` bytes) fetches the blobs that are needed; each blob is
decoded no further than its recorded length and verified against its SHA-256 before it is
written with ``pwrite`` at its offset. A file is written in a private temporary directory
(``mkdtemp`` in the target, one per file system) and renamed into place once complete with its
mode and mtime, so an interrupted restore resumes by skipping files whose size and mtime
already match, and no name in the target can collide with a temporary. Symlinks are created
last and never followed. On any failure (disk full included) files that were not completed
are removed. The restore journal (``journal``) marks the target while the restore runs or is
unfinished: a re-run resumes it, and no backup of that home runs meanwhile.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]  # C scanner, not in the stubs
from typing import Any

from .. import clock
from ..errors import BadInput, Conflict, NotConfigured, NotFound
from . import manifest as mf
from .journal import TEMP_PREFIX, Journal, read_marker, reserved
from .manifest import Entry, Ref
from .packer import zstd_available
from .repo import (
    Progress,
    fetch_snapshot,
    list_snapshot_ids,
    pack_spans,
    resolve_snapshot,
)
from .store import Store
from .writer import DiskFull, FileWriter, make_dir, remove_if_needed

log = logging.getLogger("smstudio_ext.backup")

_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
_SETID = 0o6000  # setuid, setgid

# What a fresh Studio home may already hold and still count as "empty" for --if-empty.
EMPTY_HOME_ALLOWED = frozenset(
    {
        "lost+found", ".cache", ".bashrc", ".bash_logout", ".profile", ".local", ".config",
        ".jupyter", ".ipython", ".sagemaker", ".conda", ".condarc", ".aws", ".smstudioignore",
    }
)  # fmt: skip


def home_is_empty(path: str) -> bool:
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return True
    return all(n in EMPTY_HOME_ALLOWED or reserved(n) for n in names)


def check_target(target: str) -> str:
    """The absolute restore target; ``BadInput`` for a name no file system takes (NUL, a
    lone surrogate) or something that exists and is not a directory (``/dev/null``)."""
    if not isinstance(target, str) or not target:
        raise BadInput("the restore target must be a directory path")
    mf.fs_bytes(target, "restore target")
    target = os.path.abspath(target)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise BadInput(f"restore target {target!r} exists and is not a directory")
    return target


def _selected(path: str, selections: list[str]) -> bool:
    if not selections:
        return True
    for sel in selections:
        if path == sel or path.startswith(sel + "/") or sel.startswith(path + "/"):
            return True
    return False


# Files whose blobs are fetched and written together (one ranged GET per pack per window).
# Only one window of entries is held in memory, so a restore's memory does not grow with
# the snapshot; a pack whose blobs fall in two windows is fetched in two ranges.
WINDOW_FILES = 4096
WINDOW_REFS = 16384


class _Manifest:
    """The snapshot object in an unnamed temporary file, read once per pass (not held)."""

    def __init__(self, store: Store, snap_id: str) -> None:
        self._fh = tempfile.TemporaryFile(prefix="smstudio-restore-")
        try:
            fetch_snapshot(store, snap_id, self._fh)
            self._fh.flush()
            with self.reader():  # header check
                pass
        except BaseException:
            self._fh.close()
            raise

    def reader(self) -> mf.SnapshotReader:
        self._fh.seek(0)
        return mf.SnapshotReader(self._fh)

    def close(self) -> None:
        self._fh.close()


_SEP = re.compile(r'\s*,\s*"')


def _path_kind(line: bytes) -> tuple[str, str]:
    """Path and type of an entry line already validated (no full JSON parse); any JSON
    spacing, raw UTF-8 included, as ``json.loads`` reads it."""
    text = line.decode("utf-8")  # as pass 1 read it (manifest.decode_entry)
    path, end = scanstring(text, text.index('"') + 1)
    m = _SEP.match(text, end)
    if m is None:  # pragma: no cover  (validated in pass 1)
        raise BadInput(f"corrupt manifest line: {line[:100]!r}")
    return path, scanstring(text, m.end())[0]


def _same_entry(line: bytes, path: str) -> Entry:
    """The entry of a line whose path was read by ``_path_kind`` (both decode UTF-8 as pass 1
    did, so they agree; checked anyway, as a refusal rather than a write elsewhere). Pass 1
    checked every line of this file: the entry is only named here."""
    entry = mf.named(mf.decode_entry(line))
    if entry.path != path:
        raise BadInput(f"hostile or corrupt manifest line for {path!r}")
    return entry


@dataclass(frozen=True)
class RestoreOptions:
    """What to restore and how (the snapshot and the target are the arguments)."""

    paths: tuple[str, ...] = ()  # only these (relative) paths; empty: everything
    overwrite: bool = False  # replace existing files that differ
    # Only into a target that holds nothing but a fresh home's files, or that an interrupted
    # restore left unfinished (resumed). What is there and differs is kept, not a conflict.
    if_empty: bool = False
    keep_setid: bool = False  # as root, keep setuid/setgid bits (dropped by default)
    # Only say what would be written, overwritten, kept, skipped and downloaded: nothing is
    # created or changed in the target (no directory, no temporary, no journal marker).
    dry_run: bool = False
    concurrency: int = 8  # parallel pack downloads
    cancel: threading.Event | None = None


def run_restore(
    store: Store,
    snapshot: str,
    target: str,
    options: RestoreOptions | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Restore ``snapshot`` (an id, a unique prefix, or ``latest``) into ``target``."""
    options = options or RestoreOptions()
    progress = progress or Progress("restore")
    t0 = time.monotonic()
    target = check_target(target)
    _selections(options.paths)  # bad paths refused before any download
    previous = read_marker(target) if os.path.isdir(target) else None
    dry = {"dry_run": True} if options.dry_run else {}
    if options.if_empty:
        if previous is not None:
            # An interrupted restore: resumed (its snapshot, if it is still there).
            snap = previous.get("snapshot_id")
            if isinstance(snap, str) and snap in list_snapshot_ids(store):
                snapshot = snap
            if not options.dry_run:
                log.info("smstudio restore: resuming the unfinished restore into %s", target)
        elif not home_is_empty(target):
            return {"restored": False, "reason": f"{target} is not empty", "target": target, **dry}
        elif not list_snapshot_ids(store):
            return {"restored": False, "reason": "no snapshot to restore", "target": target, **dry}
    snap_id = resolve_snapshot(store, snapshot)
    progress.phase = "manifest"
    manifest = _Manifest(store, snap_id)
    try:
        with manifest.reader() as reader:
            codecs = reader.header.get("codecs")
        if isinstance(codecs, list) and "zstd" in codecs and not zstd_available():
            raise NotConfigured(
                f"snapshot {snap_id} stores Zstandard-compressed data and no decoder is "
                "installed here: pip install zstandard (nothing was written)"
            )
        if options.dry_run:
            result = Restore(store, manifest, target, options, progress).plan(snap_id)
            result["resumes"] = previous is not None
            result["seconds"] = round(time.monotonic() - t0, 3)
            return result
        try:
            result = Restore(store, manifest, target, options, progress).run(snap_id)
        except OSError as exc:  # the target itself (a writer's errors are mapped there)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFull(f"disk full while restoring into {target}: {exc}") from exc
            raise BadInput(f"cannot restore into {target!r}: {exc.strerror or exc}") from exc
        result["resumed"] = previous is not None
        result["seconds"] = round(time.monotonic() - t0, 3)
        return result
    finally:
        manifest.close()


def _selections(paths: tuple[str, ...]) -> list[str]:
    """The paths to restore, relative and checked (empty: everything)."""
    selections = [p.strip("/") for p in paths if p.strip("/")]
    for sel in selections:
        mf.check_path(sel)
    return selections


class Restore:
    """One restore, in passes over the manifest (streamed from a temporary file), one method
    each: (1) ``validate`` every entry, keep directories and link paths; (2)
    ``refuse_and_count`` entries below a link of the manifest and conflicts (nothing is
    written before both); ``make_directories``, ``check_parents``; (3) ``write_files`` one
    window at a time; (4) ``make_links``, then ``set_directory_metadata``. Memory grows with
    directories and links, not with files."""

    def __init__(
        self,
        store: Store,
        manifest: _Manifest,
        target: str,
        options: RestoreOptions,
        progress: Progress,
    ) -> None:
        self.store, self.manifest, self.target = store, manifest, target
        self.options, self.progress = options, progress
        self.selections = _selections(options.paths)
        self.dirs: list[tuple[str, int, int]] = []  # (path, mode, mtime)
        self.link_paths: set[str] = set()
        self.n_files = self.n_bytes = 0
        self.fresh = True  # the target is empty: nothing to compare with, resume or keep
        self.real_target = ""
        self.safe_dirs: dict[str, str] = {}  # relative parent -> its path, once found inside
        self.existing_dirs: set[str] = set()  # kept as they are without --overwrite
        self.touched: set[str] = set()  # existing directories this run wrote into
        self.made: set[str] = set()  # parent directories known to exist
        self.files_todo = self.bytes_todo = 0
        # --if-empty: what is there and differs is kept (a fresh home's own files, or work
        # done in a partly restored home before the restore resumed), never a conflict
        self.keep = options.if_empty and not options.overwrite
        self.kept: list[str] = []  # paths kept (the first ones, for the result)
        self.n_kept = 0
        # as root, setuid/setgid bits are dropped unless asked for
        self.mode_mask = 0o7777 & ~_SETID if _AS_ROOT and not options.keep_setid else 0o7777
        self.journal: Journal | None = None
        self.journal_info: dict[str, Any] = {}
        self.resuming = False  # the target holds an interrupted restore's marker
        self.target_dev = 0
        self.temp_dirs: dict[int, str] = {}  # file system (st_dev) -> private temp directory
        self.parent_dev: dict[str, int] = {}  # parent directory -> its st_dev (not fresh)

    def look(self, snap_id: str) -> None:
        """Pass 1 and a look at the target, shared by ``run`` and ``plan`` (reads only)."""
        self.validate()
        if self.selections and not (self.dirs or self.n_files or self.link_paths):
            raise NotFound(f"none of {self.selections} is in snapshot {snap_id}")
        target = self.target
        self.fresh = not os.path.exists(target) or not os.listdir(target)
        self.real_target = os.path.realpath(target)

    def run(self, snap_id: str) -> dict[str, Any]:
        self.look(snap_id)
        target = self.target
        self.refuse_and_count()
        os.makedirs(target, exist_ok=True)
        self.target_dev = os.stat(target).st_dev
        # Marked before the first write (or now, to take over an unfinished one), removed
        # once complete (see ``journal``); a restore that wrote nothing leaves no mark.
        self.journal = journal = Journal(target)
        self.journal_info = {
            "snapshot_id": snap_id, "paths": self.selections,
            "if_empty": self.options.if_empty, "overwrite": self.options.overwrite,
        }  # fmt: skip
        self.resuming = journal.previous is not None
        if self.resuming:
            self.begin_writing()
        complete = False
        try:
            self.progress.phase = "restore"
            self.progress.files_total = self.files_todo
            self.progress.bytes_total = self.bytes_todo
            self.make_directories()
            self.check_parents()
            written = self.write_files()
            self.remove_temp_dirs()
            n_links = self.make_links()
            self.set_directory_metadata()
            complete = True
        finally:
            self.remove_temp_dirs()
            if complete:
                journal.finish()
            else:
                journal.close()  # a marker stays: unfinished (a re-run resumes)
        self.progress.phase = "done"
        return {
            "restored": True,
            "snapshot_id": snap_id,
            "target": target,
            "files": self.n_files,
            "files_written": written,
            "dirs": len(self.dirs),
            "links": n_links,
            "kept": self.n_kept,
            "kept_paths": self.kept,
            "bytes_written": self.progress.bytes_done,
            "finished": clock.isoformat_z(clock.utcnow()),
            "requests": dict(self.store.requests),
        }

    def plan(self, snap_id: str) -> dict[str, Any]:
        """What ``run`` would do, found with the same checks and reading nothing but the
        manifest and the target (``lstat``, ``readlink``, ``realpath``): entries to write
        (new), overwrite, leave as they are (``unchanged``: a file of the same size and mtime,
        the same link, an existing directory), keep (``--if-empty``) or refuse (``conflicts``:
        the real restore stops with ``Conflict`` before writing), and the bytes its ranged
        GETs would download. A hostile manifest is refused as the restore would refuse it."""
        self.look(snap_id)
        target = self.target
        overwrite = self.options.overwrite
        plan = _Plan()
        download = _DownloadEstimate()
        for line, path, kind in self.wanted_lines():
            if self.link_paths:
                link = mf.link_above(path, self.link_paths)
                if link is not None:
                    raise BadInput(f"hostile manifest: {path!r} lies under the symlink {link!r}")
            entry = _same_entry(line, path)
            if self.fresh:
                verdict = "write"
            else:
                dest = self.place(path)[0]  # a parent resolving outside: refused, as in run
                verdict = _verdict(dest, entry, overwrite, self.keep)
            plan.add(verdict, kind, path, entry.size if kind == "f" else 0)
            if kind == "f" and verdict in ("write", "overwrite"):
                download.add(entry)
        download.flush()
        conflicts = plan.counts["conflict"]
        return {
            "restored": False,
            "dry_run": True,
            "snapshot_id": snap_id,
            "target": target,
            "files": self.n_files,
            "dirs": len(self.dirs),
            "links": len(self.link_paths),
            **plan.result(),
            "bytes_to_download": download.bytes,
            "requests_to_download": download.requests,
            "would_fail": (
                f"{conflicts} file(s), link(s) or dir(s) already exist in {target} with other "
                "content; pass --overwrite (or restore into a fresh directory)"
                if conflicts
                else None
            ),
        }

    def begin_writing(self) -> None:
        """Before the first change to the target: the journal's marker (once)."""
        journal = self.journal
        if journal is not None and journal.fd < 0:
            journal.begin(self.journal_info)

    # -- private temporary directories (one per file system: renames stay within it)
    def temp_dir_for(self, parent: str) -> str:
        """The private temporary directory for files going into ``parent``: the target's,
        unless ``parent`` lies on another file system (a mount inside a target that was not
        empty), which gets its own there. Created on first use and recorded in the journal."""
        dev = self.target_dev
        if not self.fresh and parent != self.target:
            found = self.parent_dev.get(parent)
            if found is None:
                found = self.parent_dev[parent] = os.stat(parent).st_dev
            dev = found
        path = self.temp_dirs.get(dev)
        if path is None:
            self.begin_writing()
            base = self.target if dev == self.target_dev else parent
            path = self.temp_dirs[dev] = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=base)
            if self.journal is not None:
                self.journal.add_temp_dir(path)
        return path

    def remove_temp_dirs(self) -> None:
        """Remove the temporary directories (empty once every file was installed or its
        temporary removed; whatever is left in them was never a restored file)."""
        import shutil

        for path in self.temp_dirs.values():
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
        self.temp_dirs.clear()

    def _keep(self, path: str) -> None:
        self.n_kept += 1
        if len(self.kept) < 20:
            self.kept.append(path)

    # -- what is wanted, and where it goes
    def wanted(self, path: str, kind: str) -> bool:
        if ".smstudio-restore" in path and any(reserved(p) for p in path.split("/")):
            return False  # the restore's own marker and temporaries: never from a snapshot
        selections = self.selections
        if not selections:
            return True
        if not _selected(path, selections):
            return False
        if kind == "d":
            # a parent of a selection: created, metadata not restored
            return any(path == s or path.startswith(s + "/") for s in selections)
        return True

    def wanted_lines(self) -> Iterator[tuple[bytes, str, str]]:
        """One more pass over the manifest: (line, path, kind) of the wanted entries (lines
        validated by pass 1; only their path and kind are parsed here)."""
        with self.manifest.reader() as reader:
            for line in reader.lines():
                path, kind = _path_kind(line)
                if self.wanted(path, kind):
                    yield line, path, kind

    def wanted_entries(self, kind: str) -> Iterator[Entry]:
        """The wanted entries of one kind, each line parsed only when it is one."""
        for line, path, k in self.wanted_lines():
            if k == kind:
                yield _same_entry(line, path)

    def place(self, rel: str, fresh: bool = False) -> tuple[str, str]:
        """(destination, its parent) of ``rel``; refused when the parent resolves outside the
        target. Safe parents are remembered (one entry per directory) unless ``fresh``."""
        head, _, name = rel.rpartition("/")
        parent = None if fresh else self.safe_dirs.get(head)
        if parent is None:
            parent = os.path.join(self.target, head) if head else self.target
            real = os.path.realpath(parent)
            real_target = self.real_target
            if not (real == real_target or real.startswith(real_target + os.sep)):
                raise BadInput(f"hostile manifest: {rel!r} would be written outside {self.target}")
            self.safe_dirs[head] = parent
        return os.path.join(parent, name), parent

    def make_parent(self, parent: str) -> None:
        if parent not in self.made:
            if not os.path.isdir(parent):
                os.makedirs(parent, exist_ok=True)
            self.made.add(parent)

    # -- pass 1
    def validate(self) -> None:
        """Every entry checked (shape, path, scan order); wanted directories and links kept,
        wanted files counted."""
        with self.manifest.reader() as reader:
            for entry in reader.entries():
                if not self.wanted(entry.path, entry.kind):
                    continue
                if entry.kind == "f":
                    self.n_files += 1
                    self.n_bytes += entry.size
                elif entry.kind == "d":
                    self.dirs.append((entry.path, entry.mode, entry.mtime_ns))
                else:
                    self.link_paths.add(entry.path)

    # -- pass 2
    def refuse_and_count(self) -> None:
        """Refuse entries below a link of the manifest; count conflicts (what is already
        there and the same is skipped later: resume). ``Conflict`` before anything is
        written."""
        self.files_todo, self.bytes_todo = self.n_files, self.n_bytes
        if not self.link_paths and self.fresh:
            return
        if not self.fresh:
            self.files_todo = self.bytes_todo = 0
        conflicts = 0
        for line, path, kind in self.wanted_lines():
            if self.link_paths:
                link = mf.link_above(path, self.link_paths)
                if link is not None:
                    raise BadInput(f"hostile manifest: {path!r} lies under the symlink {link!r}")
            if not self.fresh:
                conflicts += self._conflict(line, path, kind)
        if conflicts:
            raise Conflict(
                f"{conflicts} file(s), link(s) or dir(s) already exist in {self.target} with "
                "other content; pass --overwrite (or restore into a fresh directory); nothing "
                "was written",
                conflicts=conflicts,
            )

    def _conflict(self, line: bytes, path: str, kind: str) -> int:
        """1 if what is at ``path`` conflicts with the entry (counting what is left to do)."""
        dest = os.path.join(self.target, path)
        overwrite = self.options.overwrite
        if kind == "f":
            entry = _same_entry(line, path)
            state = _file_state(dest, entry)
            if state == "same":
                return 0
            if state == "differs" and not overwrite:
                if self.keep:
                    self._keep(path)
                    return 0
                return 1
            self.files_todo += 1
            self.bytes_todo += entry.size
            return 0
        if kind == "d":
            if os.path.isdir(dest) and not os.path.islink(dest):
                self.existing_dirs.add(dest)
                return 0
            return int(os.path.lexists(dest) and not overwrite)
        if not os.path.lexists(dest) or overwrite:
            return 0
        try:
            same = os.path.islink(dest) and os.readlink(dest) == _same_entry(line, path).data
        except OSError:
            same = False
        if not same and self.keep:
            self._keep(path)
            return 0
        return int(not same)

    def make_directories(self) -> None:
        self.made.add(self.target)
        for rel, _mode, _mtime in self.dirs:
            dest = self.place(rel)[0]
            if dest not in self.existing_dirs:
                self.begin_writing()
                make_dir(dest, self.options.overwrite)

    def check_parents(self) -> None:
        """Into a target that was not empty: every parent is checked before any file is
        written (the directories are there now, so what they resolve to is what the writes
        will go through)."""
        if self.fresh:
            return
        for _line, path, kind in self.wanted_lines():
            if kind != "d":
                self.make_parent(self.place(path)[1])

    # -- pass 3
    def write_files(self) -> int:
        """Files, one window at a time; returns how many were written."""
        opts = self.options
        writer = FileWriter(
            self.store, self.target, self.fresh, self.progress, opts, self.mode_mask
        )
        written = 0
        try:
            window: list[Entry] = []
            temps: list[str] = []
            refs = 0
            for entry in self.wanted_entries("f"):
                dest, parent = self.place(entry.path)
                if not self.fresh:
                    state = _file_state(dest, entry)
                    if state == "same" or (state == "differs" and not opts.overwrite):
                        continue  # restored by an earlier run / appeared meanwhile: kept
                self.make_parent(parent)
                if self.existing_dirs and parent in self.existing_dirs:
                    self.touched.add(parent)
                window.append(entry)
                temps.append(self.temp_dir_for(parent))
                refs += len(entry.data)
                if len(window) >= WINDOW_FILES or refs >= WINDOW_REFS:
                    writer.write(window, temps)
                    written += len(window)
                    window, temps, refs = [], [], 0
            if window:
                writer.write(window, temps)
                written += len(window)
            writer.finish()
        finally:
            writer.close()
        return written

    # -- pass 4
    def make_links(self) -> int:
        """Links last (never followed); returns how many."""
        n_links = 0
        if not self.link_paths:
            return 0
        for entry in self.wanted_entries("l"):
            n_links += 1
            # Checked again now, not from the cache: links made earlier in this pass may
            # have replaced a directory (--overwrite) that this path goes through.
            dest = self.place(entry.path, fresh=True)[0]
            if self.existing_dirs and os.path.dirname(dest) in self.existing_dirs:
                self.touched.add(os.path.dirname(dest))
            try:
                if not (os.path.islink(dest) and os.readlink(dest) == entry.data):
                    if os.path.lexists(dest):
                        if self.keep:
                            continue  # counted as kept before anything was written
                        if not self.options.overwrite:
                            raise Conflict(f"{dest} exists; pass --overwrite")
                        self.begin_writing()
                        remove_if_needed(dest)
                    self.begin_writing()
                    os.symlink(entry.data, dest)
                os.utime(dest, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
            except NotImplementedError:
                pass
        return n_links

    def set_directory_metadata(self) -> None:
        """Modes and mtimes, deepest first, on real directories only (never through a link)."""
        # Parents resolved afresh once, after every link exists (nothing below changes what a
        # path resolves to), then remembered as in the passes before.
        self.safe_dirs.clear()
        if self.dirs:
            self.begin_writing()
        self.dirs.sort(key=lambda d: d[0].count("/"), reverse=True)
        for rel, mode, mtime in self.dirs:
            dest = self.place(rel)[0]
            if not stat.S_ISDIR(os.lstat(dest).st_mode):
                continue  # the manifest cannot have both; the target might
            if dest in self.existing_dirs and not self.options.overwrite and not self.resuming:
                # A directory that was there: its mode is the user's. Its mtime is reset only
                # if this run wrote into it, as our writes changed it anyway. (Resuming an
                # interrupted restore, the directories are that restore's: set as made.)
                if dest in self.touched:
                    os.utime(dest, ns=(mtime, mtime))
                continue
            os.chmod(dest, mode & self.mode_mask)  # as root: no setgid directories either
            os.utime(dest, ns=(mtime, mtime))


def _verdict(dest: str, entry: Entry, overwrite: bool, keep: bool) -> str:
    """What a restore into a target that is not empty does with one entry (``Restore.plan``;
    the same rules as ``_conflict``, ``write_files``, ``make_links``, ``make_directories``)."""
    if entry.kind == "f":
        state = _file_state(dest, entry)
    elif entry.kind == "d":
        if os.path.isdir(dest) and not os.path.islink(dest):
            return "unchanged"
        state = "differs" if os.path.lexists(dest) else "missing"
    else:
        try:
            same = os.path.islink(dest) and os.readlink(dest) == entry.data
        except OSError:
            same = False
        state = "same" if same else "differs" if os.path.lexists(dest) else "missing"
    if state == "missing":
        return "write"
    if state == "same":
        return "unchanged"
    if overwrite:
        return "overwrite"
    return "kept" if keep and entry.kind != "d" else "conflict"


# Paths of each verdict a dry run names (the counts are complete; memory stays flat).
PLAN_PATHS = 20


class _Plan:
    """Counts, bytes and the first paths of each verdict of a dry run."""

    VERDICTS = ("write", "overwrite", "unchanged", "kept", "conflict")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self.VERDICTS, 0)
        self.bytes = dict.fromkeys(self.VERDICTS, 0)
        self.paths: dict[str, list[str]] = {v: [] for v in self.VERDICTS}
        self.dirs_created = 0

    def add(self, verdict: str, kind: str, path: str, size: int) -> None:
        if kind == "d" and verdict in ("write", "overwrite"):
            self.dirs_created += 1
        self.counts[verdict] += 1
        self.bytes[verdict] += size
        if len(self.paths[verdict]) < PLAN_PATHS:
            self.paths[verdict].append(path + ("/" if kind == "d" else ""))

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dirs_created": self.dirs_created}
        for verdict in self.VERDICTS:
            out[verdict] = self.counts[verdict]
            out[f"bytes_{verdict}"] = self.bytes[verdict]
            out[f"{verdict}_paths"] = self.paths[verdict]
        out["conflicts"] = out.pop("conflict")
        out["bytes_conflicts"] = out.pop("bytes_conflict")
        out["conflict_paths"] = out.pop("conflict_paths")
        return out


class _DownloadEstimate:
    """The bytes (and ranged GETs) a restore would download for the files it writes, grouped
    in windows exactly as ``FileWriter`` fetches them: per window, one GET per span of a pack
    (``pack_spans``) from its first blob to its last."""

    def __init__(self) -> None:
        self.bytes = self.requests = 0
        self._jobs: dict[str, list[Ref]] = defaultdict(list)
        self._files = self._refs = 0

    def add(self, entry: Entry) -> None:
        for ref in entry.data:
            self._jobs[ref.pack].append(ref)
        self._files += 1
        self._refs += len(entry.data)
        if self._files >= WINDOW_FILES or self._refs >= WINDOW_REFS:
            self.flush()

    def flush(self) -> None:
        for refs in self._jobs.values():
            for span in pack_spans(refs, _ref_start, _ref_end):
                self.bytes += max(_ref_end(r) for r in span) - span[0].offset
                self.requests += 1
        self._jobs.clear()
        self._files = self._refs = 0


def _ref_start(ref: Ref) -> int:
    return ref.offset


def _ref_end(ref: Ref) -> int:
    return ref.offset + ref.stored


def _file_state(dest: str, entry: Entry) -> str:
    """``missing``, ``same`` (a regular file of the entry's size and mtime: restored before,
    or identical) or ``differs``."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        return "missing"
    except NotADirectoryError:
        return "differs"
    if stat.S_ISREG(st.st_mode) and st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns:
        return "same"
    return "differs"
