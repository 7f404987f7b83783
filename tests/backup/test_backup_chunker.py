"""The FastCDC chunker: the same cut points from pyfastcdc and from the pure-Python fallback, on
every kind of data and however the stream is read; cuts that follow the content of text."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import zlib

import pytest

from smstudio_ext.backup import chunker
from smstudio_ext.backup.chunker import FASTCDC, GEAR, Spec, chunks

pyfastcdc = pytest.importorskip("pyfastcdc")

# A small chunker for fast tests of many cuts: 2-8-32 KiB, NC 2, with the masks pyfastcdc
# uses for a 2^13 average (15 and 11 bits), so pyfastcdc cuts it too.
SMALL = Spec(
    min_size=2048,
    avg_size=8192,
    max_size=32768,
    normalization=2,
    mask_s=0x0000_D90F_0353_0000,
    mask_l=0x0000_D900_0353_0000,
)


def _text(n: int, seed: int) -> bytes:
    """Source-code-like lines (not periodic: every line differs)."""
    rnd = random.Random(seed)
    words = ["def", "return", "self", "value", "import", "for", "in", "if", "else", "x", "data"]
    out = []
    size = 0
    while size < n:
        line = "    " * rnd.randint(0, 3) + " ".join(rnd.choices(words, k=rnd.randint(1, 9)))
        line += f"  # {rnd.randint(0, 10**6)}\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def _csv(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    rows = ["id,time,user,value,label"]
    size = 0
    i = 0
    while size < n:
        row = f"{i},2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d},u{rnd.randint(1, 99)},"
        row += f"{rnd.random():.5f},{rnd.choice('ABC')}"
        rows.append(row)
        size += len(row) + 1
        i += 1
    return ("\n".join(rows) + "\n").encode()[:n]


def _jsonl(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        record = {"step": len(out), "loss": rnd.random(), "lr": 1e-4, "tags": ["a", "b"]}
        out += json.dumps(record).encode() + b"\n"
    return bytes(out[:n])


def _notebook(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    cells = []
    size = 0
    while size < n:
        png = base64.b64encode(rnd.randbytes(rnd.randint(100, 3000))).decode()
        cell = {"cell_type": "code", "source": [_text(200, rnd.randint(0, 99)).decode()],
                "outputs": [{"data": {"image/png": png}}]}  # fmt: skip
        cells.append(cell)
        size += len(png) + 300
    return json.dumps({"cells": cells}, indent=1).encode()[:n]


def _compressed(n: int, seed: int) -> bytes:
    return zlib.compress(_text(3 * n, seed), 6)[:n]


KINDS = {
    "random": lambda n, seed: random.Random(seed).randbytes(n),
    "text": _text,
    "csv": _csv,
    "jsonl": _jsonl,
    "notebook": _notebook,
    "compressed": _compressed,
    "zeros": lambda n, seed: bytes(n),
    "repeated-block": lambda n, seed: (random.Random(seed).randbytes(5000) * (n // 5000 + 1))[:n],
}


def _library_cuts(data: bytes, spec: Spec) -> list[int]:
    """pyfastcdc's own cut of the whole buffer: the oracle."""
    fast = pyfastcdc.FastCDC(
        spec.avg_size,
        min_size=spec.min_size,
        max_size=spec.max_size,
        normalized_chunking=spec.normalization,
    )
    return [c.length for c in fast.cut_buf(data)]


class ShortReads(io.RawIOBase):
    """A file that hands out at most ``step`` bytes per read (pipes, NFS, a slow disk)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        n = min(len(buf), self.step, len(self.data) - self.pos)
        buf[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


class ReadOnly:
    """A stream with ``read`` only (no ``readinto``)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._raw = ShortReads(data, step)

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        got = self._raw.readinto(memoryview(buf))
        return bytes(buf[:got])


def lengths(stream, spec=FASTCDC, impl=None) -> list[int]:
    return [len(c) for c in chunks(stream, spec, impl)]


def test_gear_table_and_masks_are_the_reference_ones():
    # md5 of 64 copies of the byte, first 8 bytes big-endian (FastCDC's reference table)
    assert GEAR[0] == 0x3B5D3C7D207E37DC and GEAR[1] == 0x784D68BA91123086
    assert len(set(GEAR)) == 256
    for spec, bits in ((FASTCDC, 20), (SMALL, 13)):
        assert bin(spec.mask_s).count("1") == bits + spec.normalization
        assert bin(spec.mask_l).count("1") == bits - spec.normalization
        assert max(spec.mask_s, spec.mask_l) < 1 << 48  # the hash's bits 48-63 never matter
    assert FASTCDC.identity()["name"] == "fastcdc2020"
    assert chunker.implementation() == "pyfastcdc"  # a dependency: installed here


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_both_implementations_cut_every_kind_of_data_alike(kind):
    data = KINDS[kind](600_000, 3)
    want = _library_cuts(data, SMALL)
    assert sum(want) == len(data)
    assert lengths(io.BytesIO(data), SMALL, "python") == want
    assert lengths(io.BytesIO(data), SMALL, "pyfastcdc") == want
    pieces = list(chunks(io.BytesIO(data), SMALL, "python"))
    assert b"".join(pieces) == data
    assert all(len(p) <= SMALL.max_size for p in pieces)
    if kind not in ("zeros", "repeated-block"):  # content with cut points: every chunk cut
        assert all(SMALL.min_size <= len(p) < SMALL.max_size for p in pieces[:-1])
        assert len(pieces) >= 30


@pytest.mark.parametrize("kind", ["text", "csv", "random", "zeros"])
def test_both_implementations_agree_at_the_real_sizes(kind):
    # 6 MB: several chunks around 1 MiB (or 4 MiB ones where nothing cuts), the python loop
    # over all of it
    data = KINDS[kind](6_000_000, 4)
    want = _library_cuts(data, FASTCDC)
    assert lengths(io.BytesIO(data), FASTCDC, "python") == want
    assert lengths(io.BytesIO(data), FASTCDC, "pyfastcdc") == want
    if kind == "zeros":
        assert want == [FASTCDC.max_size, 6_000_000 - FASTCDC.max_size]
    else:
        assert len(want) >= 3 and max(want) < FASTCDC.max_size


@pytest.mark.parametrize("impl", ["python", "pyfastcdc"])
def test_cuts_do_not_depend_on_how_the_stream_is_read(impl):
    data = KINDS["csv"](200_000, 5) + KINDS["random"](150_000, 5) + bytes(70_000)
    want = _library_cuts(data, SMALL)
    for step in (7, 4096, 33_333, 65_536, 1 << 20):
        assert lengths(ShortReads(data, step), SMALL, impl) == want, step
    head = data[:40_000]  # one byte per read
    assert lengths(ShortReads(head, 1), SMALL, impl) == _library_cuts(head, SMALL)
    assert lengths(ReadOnly(data, 5000), SMALL, impl) == want


def test_short_reads_at_the_real_sizes():
    data = KINDS["text"](9_000_000, 6)
    want = _library_cuts(data, FASTCDC)
    for step in (4093, 333_333, 3 << 20):
        assert lengths(ShortReads(data, step)) == want


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 2049, 8191, 8192, 32767, 32768, 32769, 65537])
def test_edges_of_the_sizes(size):
    data = KINDS["random"](size, 7)
    want = _library_cuts(data, SMALL) if data else []
    assert lengths(io.BytesIO(data), SMALL, "python") == want
    assert lengths(io.BytesIO(data), SMALL, "pyfastcdc") == want
    assert sum(want) == size


def test_a_line_inserted_in_text_changes_one_or_two_chunks():
    # What the first chunker could not do: text cut at content-defined points ~1 MiB apart.
    for make in (_text, _csv):
        data = make(10_000_000, 8)
        first = list(chunks(io.BytesIO(data)))
        assert len(first) >= 5, [len(c) for c in first]
        assert all(FASTCDC.min_size <= len(c) < FASTCDC.max_size for c in first[:-1])
        middle = data.index(b"\n", len(data) // 2) + 1
        edited = data[:middle] + b"an inserted line, 42\n" + data[middle:]
        second = list(chunks(io.BytesIO(edited)))
        assert b"".join(second) == edited
        known = {hashlib.sha256(c).digest() for c in first}
        new = [c for c in second if hashlib.sha256(c).digest() not in known]
        assert 1 <= len(new) <= 2
        assert sum(map(len, new)) <= 2 * FASTCDC.max_size
