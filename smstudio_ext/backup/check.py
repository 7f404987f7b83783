"""``smstudio backup check``: can every snapshot be restored? Read-only, no lock needed.

Every snapshot object is downloaded (in ranges, to a temporary file) and read with the same
validation a restore applies (hostile paths, UTF-8 JSON, scan order, shapes, entries below a
link of the same manifest, a zstd snapshot where no decoder is installed). Every blob
reference must point into a pack that exists and is long enough for it. With ``read_data``
each referenced pack is downloaded once (ranged to the span its blobs use) and every distinct
blob is decompressed and verified against its SHA-256, as a restore would: the check answers
"would a restore of everything succeed" without writing a file.

Memory: one snapshot's lines at a time, plus one record per pack, plus (``read_data`` only)
one tuple per distinct blob.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import BadInput, NotConfigured, NotFound, SmStudioError
from . import manifest as mf
from .chunker import LEGACY
from .packer import unpack_blob, zstd_available
from .repo import CorruptBackup, Progress, fetch_snapshot, list_snapshot_ids, pack_spans
from .store import Store

MAX_PROBLEMS = 1000


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.count = 0

    def add(self, **item: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(item)


def run_check(
    store: Store,
    *,
    read_data: bool = False,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``progress`` (for the doors): phase ``manifests`` counts snapshots read
    (``files_*``), phase ``read data`` the packs verified (``files_*``) and their bytes."""
    t0 = time.monotonic()
    progress = progress or Progress("check")
    ids = list_snapshot_ids(store)
    progress.phase = "manifests"
    progress.files_total = len(ids)
    sizes = {o["Key"].rsplit("/", 1)[-1]: int(o.get("Size", 0)) for o in store.list("data/")}
    problems = _Problems()
    used: set[str] = set()
    files = refs = vanished = 0
    chunkers: Counter[str] = Counter()  # snapshots per chunker that cut their new chunks
    # read_data: pack -> {(sha256, offset, stored, raw): (snapshot, path)} of every distinct
    # reference (the first snapshot and path that use it, for the report)
    blobs: dict[str, dict[tuple[str, int, int, int], tuple[str, str]]] = defaultdict(dict)
    for snap_id in ids:
        progress.add(1, 0)  # counted as it starts: the line names the snapshot being read
        # (pack, problem) -> [files, first path]: one line per pack and snapshot, not per file
        broken: dict[tuple[str, str], list[Any]] = {}
        try:
            with tempfile.TemporaryFile(prefix="smstudio-check-") as fh:
                header = fetch_snapshot(store, snap_id, fh)
                for ref in mf.manifest_refs(header) or ():
                    used.add(ref.pack)  # pieces were fetched and verified: their packs exist
                fh.seek(0)
                with mf.SnapshotReader(fh) as reader:
                    codecs = reader.header.get("codecs")
                    if isinstance(codecs, list) and "zstd" in codecs and not zstd_available():
                        problems.add(
                            snapshot=snap_id, path="",
                            problem="stores Zstandard-compressed data and no decoder is installed "
                            "here: pip install zstandard",
                        )  # fmt: skip
                    chunker = _chunker_name(reader.header)
                    if chunker is None:
                        problems.add(
                            snapshot=snap_id, path="",
                            problem="corrupt snapshot header: malformed chunker "
                            f"{str(reader.header.get('chunker'))[:200]}",
                        )  # fmt: skip
                    else:
                        chunkers[chunker] += 1
                    links: set[str] = set()  # scan order: a link comes before what is below it
                    for entry in reader.entries():
                        link = mf.link_above(entry.path, links) if links else None
                        if link is not None:
                            problems.add(
                                snapshot=snap_id, path=entry.path,
                                problem=f"hostile manifest: lies under the symlink {link!r}",
                            )  # fmt: skip
                        if entry.kind == "l":
                            links.add(entry.path)
                        if entry.kind != "f":
                            continue
                        files += 1
                        for ref in entry.data:
                            refs += 1
                            sha, pack, off, stored, raw = ref
                            used.add(pack)
                            size = sizes.get(pack)
                            if size is None:
                                problem = f"pack {pack} is missing"
                            elif off + stored > size:
                                problem = (
                                    f"pack {pack} is {size} bytes, a blob ends at {off + stored}"
                                )
                            else:
                                if read_data:
                                    blobs[pack].setdefault(
                                        (sha, off, stored, raw), (snap_id, entry.path)
                                    )
                                continue
                            seen = broken.setdefault((pack, problem), [0, entry.path, None])
                            if seen[2] != entry.path:  # count files, not references
                                seen[0] += 1
                                seen[2] = entry.path
        except NotFound:
            vanished += 1  # removed since the listing (a prune meanwhile): nothing to restore
            continue
        except (BadInput, CorruptBackup, NotConfigured) as exc:
            # NotConfigured: zstd-compressed manifest pieces and no decoder here
            problems.add(snapshot=snap_id, path="", problem=str(exc))
        for (_pack, problem), (count, first, _last) in broken.items():
            more = f" (and {count - 1} more file(s))" if count > 1 else ""
            problems.add(snapshot=snap_id, path=first, problem=problem + more)
    bytes_read = 0
    if read_data and blobs:

        def verify(
            job: tuple[str, list[tuple[str, int, int, int]]],
        ) -> tuple[int, list[tuple[str, str, str]]]:
            pack, keys = job
            wanted = blobs[pack]
            lo = min(k[1] for k in keys)
            hi = max(k[1] + k[2] for k in keys)
            bad: list[tuple[str, str, str]] = []  # (snapshot, path, problem)
            try:
                data = memoryview(store.get(store.pack_key(pack), f"bytes={lo}-{hi - 1}"))
            except SmStudioError as exc:
                snap, path = wanted[keys[0]]
                return 0, [(snap, path, f"pack {pack} cannot be read: {exc}")]
            for key in keys:
                sha, off, stored, raw = key
                snap, path = wanted[key]
                try:  # inflated never beyond raw (a bomb stops), then verified
                    unpack_blob(data, lo, off, stored, raw, sha)
                except (ValueError, SmStudioError) as exc:  # mismatch: "checksum mismatch"
                    bad.append((snap, path, f"blob {sha[:12]} in pack {pack}: {exc}"))
            return len(data), bad

        # one ranged GET per pack, split where a span would exceed SPAN_MAX (memory)
        jobs = [
            (pack, span)
            for pack, wanted in blobs.items()
            for span in pack_spans(list(wanted), _key_start, _key_end)
        ]
        progress.phase = "read data"
        progress.files_done = progress.bytes_done = 0
        progress.files_total = len(jobs)
        progress.bytes_total = sum(
            max(_key_end(k) for k in span) - _key_start(span[0]) for _pack, span in jobs
        )
        progress.started = time.monotonic()  # the rate is the data read's
        with ThreadPoolExecutor(concurrency, thread_name_prefix="smstudio-check") as pool:
            for n, bad in pool.map(verify, jobs):
                bytes_read += n
                progress.add(1, n)
                for snap, path, message in bad:
                    problems.add(snapshot=snap, path=path, problem=message)
    progress.phase = "done"
    return {
        "ok": problems.count == 0,
        "snapshots": len(ids) - vanished,
        "snapshots_vanished": vanished,
        "files": files,
        "blob_refs": refs,
        "packs": len(sizes),
        "packs_unreferenced": len(set(sizes) - used),
        "chunkers": dict(chunkers),
        "read_data": read_data,
        "bytes_read": bytes_read,
        "problems": problems.items,
        "problems_total": problems.count,
        "seconds": round(time.monotonic() - t0, 3),
    }


def _key_start(key: tuple[str, int, int, int]) -> int:
    return key[1]


def _key_end(key: tuple[str, int, int, int]) -> int:
    return key[1] + key[2]


def _chunker_name(header: dict[str, Any]) -> str | None:
    """The name of the chunker that cut a snapshot's new chunks: the first chunker's when the
    header names none (``LEGACY``), else the ``name`` it records; None when the field is
    malformed (a damaged header). Blob references restore whichever chunker cut them."""
    found = header.get("chunker")
    if found is None:
        return str(LEGACY["name"])
    if isinstance(found, dict) and isinstance(found.get("name"), str) and found["name"]:
        return str(found["name"])
    return None
