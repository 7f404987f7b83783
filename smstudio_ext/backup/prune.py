"""Retention and garbage collection: keep the last N snapshots and those younger than D days.

Under the lease lock (never while a backup runs): delete the snapshots outside the policy,
then read every kept snapshot and delete the packs none of them references. A pack that is
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
from . import manifest as mf
from .lock import Lease
from .repo import fetch_snapshot, list_snapshot_ids
from .store import Store


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


def run_prune(
    store: Store,
    *,
    keep_last: int = 10,
    keep_days: float = 30.0,
    dry_run: bool = False,
    lease_seconds: float = 600.0,
) -> dict[str, Any]:
    lease = None if dry_run else Lease(store, "prune", lease_seconds).acquire()
    try:
        ids = list_snapshot_ids(store)
        kept = select_kept(ids, keep_last, keep_days)
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
