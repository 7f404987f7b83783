"""Retention and garbage collection: keep the last N snapshots and those younger than D days.

Under the lease lock (never while a backup runs): delete the snapshots outside the policy,
then read every kept snapshot and delete the packs none of them references. The last snapshot
that held data is never removed: when every snapshot the policy keeps has fewer than half the
files of an older one (a run of near-empty snapshots after a home that was not restored),
the newest such older snapshot is kept too (``DATA_RATIO``, ``data_min_files``). A pack that is
still partly referenced is kept whole (no repacking: simpler and safe; the space is
reclaimed once no snapshot uses it). Unreferenced packs younger than two lease periods by S3's
LastModified are kept too (they may belong to a backup in flight), and the lease is checked
right before deleting anything.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import clock
from ..errors import SmStudioError
from . import manifest as mf
from .lock import Lease
from .repo import fetch_snapshot, list_snapshot_ids, snapshot_header
from .store import Store

# A removed snapshot "held data" the kept ones lost when each kept one has fewer than this
# share of its files (the hold-back rule's default "most").
DATA_RATIO = 0.5


def snapshot_time(snap_id: str) -> datetime | None:
    try:
        stamp = snap_id.split("Z", 1)[0]
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def select_kept(ids: list[str], keep_last: int, keep_days: float) -> list[str]:
    """Snapshot ids kept by the policy (the newest one always)."""
    ids = sorted(ids)
    keep = set(ids[-max(keep_last, 1) :]) if ids else set()
    cutoff = clock.utcnow() - timedelta(days=keep_days)
    for snap_id in ids:
        when = snapshot_time(snap_id)
        if when is not None and when >= cutoff:
            keep.add(snap_id)
    return [i for i in ids if i in keep]


def last_data_snapshot(files: dict[str, int | None], kept: list[str], min_files: int) -> str | None:
    """The newest snapshot outside ``kept`` whose files every kept snapshot lost most of
    (fewer than ``DATA_RATIO`` of them), with at least ``min_files`` files; None if there is
    none. ``files``: each snapshot's file count (None: unknown, never a reason to keep)."""
    kept_max = max((files.get(i) or 0 for i in kept), default=0)
    chosen = None
    for snap_id in sorted(files):
        count = files[snap_id]
        if snap_id in kept or count is None or count < max(min_files, 1):
            continue
        if kept_max < count * DATA_RATIO:
            chosen = snap_id  # ids sort by time: the last one wins
    return chosen


def _file_counts(store: Store, ids: list[str]) -> dict[str, int | None]:
    """Each snapshot's file count from its header (None when unreadable or not a number)."""
    counts: dict[str, int | None] = {}
    for snap_id in ids:
        try:
            stats = snapshot_header(store, snap_id).get("stats")
        except SmStudioError:
            stats = None
        files = stats.get("files") if isinstance(stats, dict) else None
        counts[snap_id] = files if type(files) is int else None
    return counts


def run_prune(
    store: Store,
    *,
    keep_last: int = 10,
    keep_days: float = 30.0,
    dry_run: bool = False,
    lease_seconds: float = 600.0,
    data_min_files: int = 10,
) -> dict[str, Any]:
    lease = None if dry_run else Lease(store, "prune", lease_seconds).acquire()
    try:
        ids = list_snapshot_ids(store)
        kept = select_kept(ids, keep_last, keep_days)
        data_kept = None
        if len(kept) < len(ids):  # something would go: never the last one that held data
            data_kept = last_data_snapshot(_file_counts(store, ids), kept, data_min_files)
            if data_kept is not None:
                kept = sorted([*kept, data_kept])
        forget = [i for i in ids if i not in set(kept)]
        referenced: set[str] = set()
        for snap_id in kept:
            referenced.update(_referenced_packs(store, snap_id))
        packs = store.list("data/")
        # Packs younger than two leases (by S3's clock, not ours) may belong to a backup in
        # flight whose lock we judged expired (renewals throttled, clocks skewed): kept.
        server_now = (lease.server_time if lease is not None else None) or _newest(packs)
        young_after = (
            server_now - timedelta(seconds=2 * lease_seconds) if server_now is not None else None
        )
        unused = [
            o
            for o in packs
            if o["Key"].rsplit("/", 1)[-1] not in referenced and not _young(o, young_after)
        ]
        young = sum(
            1
            for o in packs
            if o["Key"].rsplit("/", 1)[-1] not in referenced and _young(o, young_after)
        )
        if lease is not None:
            lease.check()
        if not dry_run:
            store.delete([store.snapshot_key(i) for i in forget])
            store.delete([o["Key"] for o in unused])
        return {
            "dry_run": dry_run,
            "snapshots_kept": kept,
            "snapshots_removed": forget,
            "kept_last_data_snapshot": data_kept,
            "packs_total": len(packs),
            "packs_removed": len(unused),
            "packs_kept_young": young,
            "bytes_removed": sum(int(o.get("Size", 0)) for o in unused),
        }
    finally:
        if lease is not None:
            lease.release()


def _referenced_packs(store: Store, snap_id: str) -> set[str]:
    """Every pack a snapshot needs: its manifest pieces' and its files' blobs'."""
    packs: set[str] = set()
    with tempfile.TemporaryFile(prefix="smstudio-prune-") as fh:
        header = fetch_snapshot(store, snap_id, fh)
        packs.update(ref.pack for ref in mf.manifest_refs(header) or ())
        fh.seek(0)
        with mf.SnapshotReader(fh) as reader:
            for entry in reader.entries():
                if entry.kind == "f":
                    packs.update(ref.pack for ref in entry.data)
    return packs


def _young(obj: dict[str, Any], after: datetime | None) -> bool:
    modified = obj.get("LastModified")
    if after is None or not isinstance(modified, datetime):
        return after is not None  # unknown age: keep it
    return modified > after


def _newest(objs: list[dict[str, Any]]) -> datetime | None:
    times = [o["LastModified"] for o in objs if isinstance(o.get("LastModified"), datetime)]
    return max(times) if times else None
