"""The snapshot manifest: one gzip JSON-lines object per snapshot, uploaded last.

The object is two concatenated gzip members (valid gzip): a header line (snapshot id, time,
source, host, stats, report, codecs, chunker) and the entries, one JSON array per line, in scan
order (depth first, siblings sorted by name), which is also what the local state is merged
against::

    [path, type, mode, mtime_ns, size, ino, ctime_ns, data]          (``Entry``)

``type`` is ``f`` (data = list of blob refs ``[sha256_hex, pack_id, offset, stored_len,
raw_len]``, ``Ref``; stored_len < raw_len means compressed: zstd or zlib, told by the stored
bytes), ``d`` (data null) or ``l`` (data = the link target). Lines are UTF-8 (in practice
ASCII) and strictly in scan order, which readers check: a path never appears twice. Paths are
relative, ``/``-separated; names that are not UTF-8 are kept byte-exact through Python's
``surrogateescape`` (JSON ``\\udcXX`` escapes).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat as statmod
import zlib
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii as _quote
from typing import IO, Any, NamedTuple

from ..errors import BadInput

# 2: the uploaded object holds the header only; the entry lines are stored as blobs
# ("manifest pieces", listed in the header's ``manifest``), so unchanged pieces are shared
# with the parent. 1: header member + body member in the object (still read).
FORMAT = 2
FORMATS = (1, 2)
# A piece ends after an entry whose encoded path hashes to this many low one-bits (about
# 1 entry in 256), or at PIECE_MAX bytes: where pieces end depends on the paths alone, so
# changed entries change only their own piece, and a new or deleted entry only its piece.
PIECE_BITS = 0xFF
PIECE_MAX = 1 << 20
# The format's largest blob (raw length): the first chunker's largest chunk. FastCDC cuts at
# 4 MiB, a small file is one blob below 2 MiB, and a manifest piece is cut at this size at
# the latest (a very long line goes into several pieces; readers join them). Every decode is
# bounded by it: a stored blob that inflates beyond its recorded length, or a reference that
# claims more than this, is corrupt (a decompression bomb otherwise).
MAX_BLOB = 8 << 20
# The longest entry line a reader accepts (one JSON array: a file of ~600k chunks, ~700 GB
# at the average chunk size); a longer one is corrupt, and a backup skips a file whose line
# would be longer (reported). Bounds what one line costs to hold and parse.
MAX_LINE = 64 << 20
# Linux's PATH_MAX and NAME_MAX (bytes): a manifest path no file system call can take is
# corrupt (a backup never records one: its walk cannot stat it).
PATH_MAX = 4096
NAME_MAX = 255


class Ref(NamedTuple):
    """Where one blob of a file's content is: ``[sha256, pack, offset, stored, length]``."""

    sha256: str  # hex digest of the content
    pack: str  # pack id (32 hex)
    offset: int  # in the pack
    stored: int  # bytes in the pack; less than ``length`` when compressed (zstd or zlib)
    length: int  # bytes of content


class Entry(NamedTuple):
    """One manifest line: ``[path, kind, mode, mtime_ns, size, ino, ctime_ns, data]``.

    A tuple, so ``json.dumps`` writes it as the same JSON array as always. ``data`` is the
    list of ``Ref`` of a file (``f``), the target of a link (``l``), None for a directory
    (``d``). ``ctime_ns`` 0 marks a racy entry (read again next time).
    """

    path: str
    kind: str
    mode: int
    mtime_ns: int
    size: int
    ino: int
    ctime_ns: int
    data: Any

    @classmethod
    def of(cls, path: str, kind: str, st: os.stat_result, data: Any = None) -> Entry:
        """The entry of a walked path from its ``lstat`` (a directory's size is 0)."""
        size = st.st_size if kind != "d" else 0
        mode = statmod.S_IMODE(st.st_mode)
        return cls(path, kind, mode, st.st_mtime_ns, size, st.st_ino, st.st_ctime_ns, data)


def stat_head(path: str, kind: str, st: os.stat_result) -> bytes:
    """How the parent's line of an unchanged entry starts: every field but its data, exactly
    as ``encode_entry`` writes them (the no-change test of the merge and of the CLI's child)."""
    return b'[%s,"%s",%d,%d,%d,%d,%d,' % (
        _quote(path).encode("ascii"), kind.encode(), statmod.S_IMODE(st.st_mode),
        st.st_mtime_ns, st.st_size if kind != "d" else 0, st.st_ino, st.st_ctime_ns,
    )  # fmt: skip


def sort_key(path: str) -> str:
    """Scan order as a plain string order: '/' sorts before every other character."""
    return path.replace("/", "\x00")


def encode_entry(entry: Entry | list[Any]) -> bytes:
    return json.dumps(entry, separators=(",", ":")).encode("ascii") + b"\n"


def decode_entry(line: bytes) -> Any:
    """The JSON of one line, unchecked (``parse_entry`` checks it)."""
    # Decoded as UTF-8 here, never by json's guess from the first bytes (which would read a
    # line starting with a zero byte as UTF-16 and give a path other readers do not see).
    return json.loads(line.decode("utf-8"))


def parse_entry(line: bytes) -> Entry:
    """A checked entry from one line; ``BadInput`` when it is not a valid entry."""
    try:
        return check_entry(decode_entry(line))
    except ValueError as exc:
        raise BadInput(f"corrupt manifest line: {exc}") from exc


def check_path(path: Any) -> str:
    """Refuse a manifest path that could land outside the restore target, or that no file
    system call can take (not encodable, longer than PATH_MAX, a name longer than NAME_MAX)."""
    if not isinstance(path, str) or not path:
        raise BadInput(f"hostile or corrupt manifest: invalid path {path!r}")
    if path.startswith("/") or "\x00" in path:  # a leading backslash is a name on POSIX
        raise BadInput(f"hostile manifest: absolute path {path!r} refused")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise BadInput(f"hostile manifest: path {path!r} escapes the restore target")
    raw = fs_bytes(path, "manifest path")
    if len(raw) >= PATH_MAX or (len(raw) > NAME_MAX and _long_name(raw)):
        raise BadInput(
            f"corrupt manifest: path {path[:80]!r}... is longer than the file system allows"
        )
    return path


def _long_name(raw: bytes) -> bool:
    return any(len(part) > NAME_MAX for part in raw.split(b"/"))


def fs_bytes(name: str, what: str) -> bytes:
    """``name`` as the file system sees it; ``BadInput`` when it has no such form (a NUL, or a
    lone surrogate that is not an undecodable byte kept by ``surrogateescape``)."""
    if "\x00" in name:
        raise BadInput(f"invalid {what} {name[:200]!r}: contains a NUL character")
    try:
        return os.fsencode(name)
    except UnicodeError:
        raise BadInput(
            f"invalid {what} {name[:200]!r}: not a valid file name (a lone surrogate)"
        ) from None


def link_above(path: str, links: set[str]) -> str | None:
    """The nearest parent of ``path`` that is one of ``links`` (a restore would write through
    it: a hostile manifest), or None."""
    parent = path
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in links:
            return parent
    return None


def check_entry(entry: Any) -> Entry:
    """Validate the shape of one decoded entry (types, ranges) and name its fields; raises
    ``BadInput``."""
    if not isinstance(entry, (list, tuple)) or len(entry) != 8:
        raise BadInput(f"corrupt manifest entry: {str(entry)[:100]}")
    path, kind, mode, mtime, size, _ino, _ctime, data = entry
    check_path(path)
    if kind not in ("f", "d", "l"):
        raise BadInput(f"corrupt manifest entry for {path!r}: unknown type {kind!r}")
    if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise BadInput(f"corrupt manifest entry for {path!r}: bad mode")
    if not isinstance(mtime, int) or not isinstance(size, int) or size < 0:
        raise BadInput(f"corrupt manifest entry for {path!r}: bad size or mtime")
    if kind == "l":
        if not (isinstance(data, str) and data and "\x00" not in data):
            raise BadInput(f"corrupt manifest entry for {path!r}: bad link target")
        if len(fs_bytes(data, "link target")) >= PATH_MAX:
            raise BadInput(f"corrupt manifest entry for {path!r}: link target too long")
    if kind == "f":
        if not isinstance(data, list):
            raise BadInput(f"corrupt manifest entry for {path!r}: no content")
        total = 0
        refs = []
        where = "corrupt manifest entry"
        try:
            for ref in data:
                refs.append(check_ref(ref, where))
                total += ref[4]
        except BadInput as exc:  # the path goes into the message only when it is needed
            raise BadInput(exc.message.replace(where, f"{where} for {path!r}", 1)) from None
        if total != size:
            raise BadInput(f"corrupt manifest entry for {path!r}: blob sizes do not add up")
        data = refs
    return Entry(path, kind, mode, mtime, size, _ino, _ctime, data)


def check_ref(ref: Any, where: str) -> Ref:
    """A valid blob reference, named; ``BadInput`` (``where`` the message starts with: bad or
    empty blob) otherwise."""
    if not isinstance(ref, (list, tuple)) or len(ref) != 5:
        raise BadInput(f"{where}: bad blob reference")
    sha, pack, off, stored, length = ref
    if (
        type(sha) is not str
        or len(sha) != 64
        or type(pack) is not str
        or not pack.isalnum()
        or type(off) is not int
        or type(stored) is not int
        or type(length) is not int
        or off < 0
        or stored < 0
        or length < 0
    ):
        raise BadInput(f"{where}: bad blob reference")
    if length == 0:  # an empty file has no blobs; an empty blob is never written
        raise BadInput(f"{where}: empty blob")
    if length > MAX_BLOB:
        raise BadInput(f"{where}: a blob of {length} bytes (the format allows {MAX_BLOB})")
    if stored > length:  # stored compressed only when smaller, else as is
        raise BadInput(f"{where}: a blob stored in more bytes than it holds")
    return Ref(sha, pack, off, stored, length)


def named(entry: list[Any]) -> Entry:
    """An entry whose line was checked before (``check_entry``), named without checking it
    again (restore reads each line several times; pass 1 checks them all)."""
    data = entry[7]
    if entry[1] == "f":
        data = [Ref._make(ref) for ref in data]
    return Entry(entry[0], entry[1], entry[2], entry[3], entry[4], entry[5], entry[6], data)


def manifest_refs(header: dict[str, Any]) -> list[Ref] | None:
    """The pieces of a format 2 snapshot's entries (None for format 1: they follow the
    header in the object); ``BadInput`` when malformed."""
    if header.get("format") == 1:
        return None
    refs = header.get("manifest")
    if not isinstance(refs, list):
        raise BadInput("corrupt snapshot header: no manifest")
    return [check_ref(ref, "corrupt snapshot header: manifest") for ref in refs]


def pieces(lines: Iterator[bytes]) -> Iterator[bytes]:
    """Entry lines cut into manifest pieces (see ``PIECE_BITS``); none is longer than
    ``MAX_BLOB`` (a longer run of lines, i.e. one very long line, is split: readers join the
    pieces before they read lines)."""
    buf: list[bytes] = []
    size = 0
    for line in lines:
        buf.append(line)
        size += len(line)
        # the JSON of the path ends at the first '","' (a '"' inside it is escaped)
        path = memoryview(line)[: line.find(b'","')]
        if size >= PIECE_MAX or zlib.crc32(path) & PIECE_BITS == PIECE_BITS:
            yield from _at_most_max_blob(b"".join(buf))
            buf, size = [], 0
    if buf:
        yield from _at_most_max_blob(b"".join(buf))


def _at_most_max_blob(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), MAX_BLOB):
        yield data[start : start + MAX_BLOB]


def gzip_member(data: bytes, level: int = 6) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


class EntryWriter:
    """Entry lines into a gzip file (the body member); the header is prepended at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._raw = open(path, "wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1, mtime=0)
        self.count = 0
        self._pending: list[bytes] = []
        self._size = 0

    def write_raw(self, line: bytes) -> None:
        self._pending.append(line)
        self._size += len(line)
        self.count += 1
        if self._size >= 256 * 1024:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._gz.write(b"".join(self._pending))
            self._pending = []
            self._size = 0

    def write(self, entry: Entry) -> None:
        self.write_raw(encode_entry(entry))

    def close(self) -> None:
        if not self._gz.closed:
            self._flush()
            self._gz.close()
            self._raw.close()


def header_member(header: dict[str, Any]) -> bytes:
    """The header line as a gzip member (a format 2 snapshot object is just this)."""
    return gzip_member(json.dumps(header).encode() + b"\n")


def assemble(header: dict[str, Any], body_path: str, out_path: str, offset: int = 0) -> None:
    """A local snapshot file = header gzip member + body gzip member (the file ``body_path``
    from ``offset``: the parent's body member is reused in place)."""
    with open(out_path, "wb") as out:
        out.write(header_member(header))
        with open(body_path, "rb") as fh:
            fh.seek(offset)
            _copy(fh, out)


def _copy(body: Any, out: Any) -> None:
    while True:
        block = body.read(1 << 20)
        if not block:
            return
        out.write(block)


def read_header(first_bytes: bytes) -> dict[str, Any]:
    """The header from the first bytes of a snapshot object (the first gzip member)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        text = d.decompress(first_bytes, 64 << 20)
    except zlib.error as exc:
        raise BadInput(f"corrupt snapshot header: {exc}") from exc
    return parse_header(text.split(b"\n", 1)[0])


def parse_header(line: bytes) -> dict[str, Any]:
    """A snapshot header from its line; ``BadInput`` unless a known format."""
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise BadInput(f"corrupt snapshot header: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") not in FORMATS:
        raise BadInput("unsupported or corrupt snapshot header")
    return header


class SnapshotReader:
    """Header + raw entry lines of a local snapshot file (the state or a download): a path,
    the bytes, or an open binary file (read from where it is; left open on close)."""

    def __init__(self, source: str | bytes | IO[bytes]) -> None:
        if isinstance(source, bytes):
            self._fh: gzip.GzipFile = gzip.GzipFile(fileobj=io.BytesIO(source))
        elif not isinstance(source, str):
            self._fh = gzip.GzipFile(fileobj=source, mode="rb")
        else:
            self._fh = gzip.open(source, "rb")
        try:
            first = self._fh.readline(MAX_LINE + 1)
            if len(first) > MAX_LINE:
                raise ValueError("header line too long")
            self.header = json.loads(first)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            self._fh.close()
            raise BadInput(f"corrupt snapshot: {exc}") from exc
        if not isinstance(self.header, dict) or self.header.get("format") not in FORMATS:
            self._fh.close()
            raise BadInput("unsupported or corrupt snapshot format")

    def lines(self) -> Iterator[bytes]:
        """The entry lines as stored; a line longer than ``MAX_LINE`` is ``BadInput`` (never
        held whole: a gzip member of a few MB can inflate to one line of GBs)."""
        readline = self._fh.readline
        limit = MAX_LINE + 1
        try:
            while True:
                line = readline(limit)
                if not line:
                    return
                if len(line) == limit and line[-1:] != b"\n":
                    raise BadInput(f"corrupt snapshot body: a line longer than {MAX_LINE} bytes")
                if line != b"\n":
                    yield line
        except (OSError, EOFError, zlib.error) as exc:
            raise BadInput(f"corrupt snapshot body: {exc}") from exc

    def entries(self) -> Iterator[Entry]:
        """Validated entries; a line that is not UTF-8 JSON, or a path not strictly after the
        previous one in scan order (a duplicate included), is ``BadInput``."""
        prev = None
        for line in self.lines():
            entry = parse_entry(line)
            key = sort_key(entry.path)
            if prev is not None and key <= prev:
                raise BadInput(
                    f"hostile or corrupt manifest: {entry.path!r} is out of order or repeated"
                )
            prev = key
            yield entry

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def body_offset(snapshot_path: str) -> int | None:
    """Where a snapshot file's entries member (the gzip member after its header) starts, or
    None if the file is unusual. Only the header member is read."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    consumed = inflated = 0
    try:
        with open(snapshot_path, "rb") as fh:
            while not d.eof:
                block = d.unconsumed_tail or fh.read(64 * 1024)
                if not block:
                    return None
                if not d.unconsumed_tail:
                    consumed += len(block)
                inflated += len(d.decompress(block, 1 << 20))  # bounded: output is dropped
                if inflated > MAX_LINE:
                    return None  # no header is that large
            rest = d.unused_data
            offset = consumed - len(rest)
            if len(rest) < 18:
                rest += fh.read(18 - len(rest))
            if fh.seek(0, os.SEEK_END) - offset < 18:
                return None
    except (OSError, zlib.error):
        return None
    if rest[:2] != b"\x1f\x8b":
        return None
    return offset
