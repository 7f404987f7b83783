"""The home of the legacy-chunker fixture (``tests/data/backup_legacy``), rebuilt byte for byte.

No project imports: ``tests/data/backup_legacy/make_fixture.py`` runs it with the old code,
the tests with the new one. Every mtime is fixed, so a rebuilt home matches the snapshot by
size and mtime (a state rebuilt from S3 trusts nothing else) and no file is read again.
"""

from __future__ import annotations

import os

BUCKET = "legacy-backups"
PREFIX = "legacy"
T0 = 1_700_000_000_000_000_000

# The first chunker cut where 10 mapped bytes spell its word; these bytes spell it, and the
# filler bytes map to its zero symbol (they never match), so big.bin has exactly three chunks.
MARK = b"eeaeeaaaea"
BIG = b"0" * 700_000 + MARK + b"." * 1_300_000 + MARK + b"x" * 1_200_000

FILES = {
    "notes.txt": (b"first notes\n" * 40, 0o644),
    "data/table.csv": (
        b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(500)),
        0o644,
    ),
    "bin/run.sh": (b"#!/bin/sh\necho legacy\n", 0o755),
    ".ssh/config": (b"Host *\n  User me\n", 0o600),
    "models/big.bin": (BIG, 0o644),
    "empty.txt": (b"", 0o644),
}
DIRS = ("bin", "data", "models", ".ssh", "scratch")
LINKS = {"latest": "data/table.csv"}


def legacy_home(root: str, _chunker: object = None) -> None:
    """Write the fixture's home at ``root`` (fixed bytes, modes and mtimes)."""
    os.makedirs(root, exist_ok=True)
    for d in DIRS:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for i, (rel, (data, mode)) in enumerate(sorted(FILES.items())):
        path = os.path.join(root, rel)
        with open(path, "wb") as fh:
            fh.write(data)
        os.chmod(path, mode)
        os.utime(path, ns=(T0 + i, T0 + i))
    for rel, target in LINKS.items():
        os.symlink(target, os.path.join(root, rel))
        os.utime(os.path.join(root, rel), ns=(T0 + 50, T0 + 50), follow_symlinks=False)
    for i, d in enumerate(DIRS):
        os.utime(os.path.join(root, d), ns=(T0 + 100 + i, T0 + 100 + i))


def edit_legacy_home(root: str) -> None:
    """The edit between the fixture's two snapshots (so the newest one has a parent)."""
    path = os.path.join(root, "notes.txt")
    with open(path, "ab") as fh:
        fh.write(b"second notes\n")
    os.utime(path, ns=(T0 + 1000, T0 + 1000))
