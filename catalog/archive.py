"""A bounded reader of ``.tgz`` archives: every size is checked before anything is allocated.

Why not :mod:`tarfile`: it reads a PAX extended header, a GNU long name or a global header whole,
whatever size its header claims, before anyone can look at it; a 200 KB ``.tgz`` holding a 200 MB
PAX header made the web process allocate ~790 MB (issue 11, finding 5). The size caps on members
ran too late to help. This reader decompresses on demand (``zlib`` with an output bound per call),
parses the 512-byte tar headers itself and refuses:

* any PAX (``x``/``g``) or GNU long-name (``L``/``K``) header larger than :data:`MAX_SPECIAL_BYTES`;
* a regular file larger than the caller's per-file cap, before reading it;
* more decompressed bytes in all (headers and padding included) than the caller's total cap;
* more entries than the caller's cap, headers with a bad checksum, truncated streams.

It reads what Go's ``archive/tar`` (and so Helm) reads: ustar names with their prefix, PAX
``path``/``linkpath``/``size`` records for the next entry, GNU long names and links; a global PAX
header is bounded and skipped (Go does not apply it either). It stops at the first zero block.
Policy on names and types (one top directory, no links) belongs to the caller
(:func:`catalog.helm.validate_archive`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

BLOCK = 512
MAX_SPECIAL_BYTES = 64 * 1024  # a PAX header or a GNU long name; real ones are a few hundred bytes
CHUNK = 64 * 1024  # compressed bytes fed to zlib at a time

REGULAR, DIRECTORY, SYMLINK, HARDLINK, SPECIAL = "file", "directory", "symlink", "hardlink", "special"
_TYPES = {b"0": REGULAR, b"\x00": REGULAR, b"7": REGULAR, b"5": DIRECTORY, b"2": SYMLINK, b"1": HARDLINK}
_HEADER_ONLY = (b"1", b"2", b"3", b"4", b"5", b"6")  # no data follows, whatever the size field says (as in Go)


class ArchiveError(Exception):
    """An archive this reader refuses; ``message`` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooLarge(ArchiveError):
    """The archive decompresses to more than the total cap."""


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # REGULAR, DIRECTORY, SYMLINK, HARDLINK or SPECIAL
    size: int
    linkname: str
    data: bytes  # the content of a regular file; empty for everything else


class _Inflater:
    """The decompressed gzip stream (concatenated members included), read exactly and bounded."""

    def __init__(self, data: bytes, max_total: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buffer = bytearray()
        self._max_total = max_total
        self.total = 0

    def _more(self, want: int) -> bool:
        """Decompress until the buffer holds ``want`` bytes; False at the end of the stream."""
        while len(self._buffer) < want:
            if self._inflate.eof:
                rest = bytes(self._inflate.unused_data) + bytes(self._data[self._pos:])
                self._pos = len(self._data)
                if not rest.startswith(b"\x1f\x8b"):
                    return False  # the end (trailing bytes that are not another gzip member are ignored)
                self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._data, self._pos = memoryview(rest), 0
            pending = self._inflate.unconsumed_tail
            if pending:
                chunk = pending
            elif self._pos < len(self._data):
                chunk = bytes(self._data[self._pos:self._pos + CHUNK])
                self._pos += len(chunk)
            else:
                return False
            out = self._inflate.decompress(chunk, max(want - len(self._buffer), CHUNK))
            self.total += len(out)
            if self.total > self._max_total:
                raise TooLarge(f"The archive is larger than {self._max_total} bytes uncompressed.")
            self._buffer += out
        return True

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes (fewer only at the end of the stream)."""
        self._more(size)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def skip(self, size: int) -> int:
        """Skip ``size`` bytes without keeping them; how many were there."""
        skipped = 0
        while skipped < size:
            step = min(CHUNK, size - skipped)
            got = len(self.read(step))
            skipped += got
            if got < step:
                break
        return skipped


def _octal(field: bytes, what: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large numbers
        if field[0] == 0xFF:
            raise ArchiveError(f"The archive has a negative {what} in a header.")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\x00", 1)[0].strip(b" \x00")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ArchiveError(f"The archive has a malformed {what} in a header; is it a tar archive?") from None


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchiveError(f"The archive has a {what} that is not UTF-8 ({raw[:100]!r}).") from None


def _cstring(field: bytes) -> bytes:
    return field.split(b"\x00", 1)[0]


def _checksum_ok(block: bytes) -> bool:
    stored = _octal(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = sum(b - 256 if b > 127 else b for b in block[:148]) + 8 * 32 + \
        sum(b - 256 if b > 127 else b for b in block[156:])
    return stored in (unsigned, signed)


def _pax_records(raw: bytes) -> dict[str, str]:
    """``"<len> key=value\\n"`` records; a malformed one refuses the archive (as Go does)."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        if not raw[pos:].strip(b"\x00"):
            break
        space = raw.find(b" ", pos, pos + 20)
        try:
            length = int(raw[pos:space]) if space > pos else -1
        except ValueError:
            length = -1
        end = pos + length
        if length <= space - pos or end > len(raw) or raw[end - 1:end] != b"\n" or b"=" not in raw[space + 1:end]:
            raise ArchiveError("The archive has a malformed PAX extended header.")
        key, _, value = raw[space + 1:end - 1].partition(b"=")
        records[_text(key, "PAX key")] = _text(value, "PAX value")
        pos = end
    return records


def entries(data: bytes, *, max_total: int, max_file: int, max_entries: int,
            max_special: int = MAX_SPECIAL_BYTES) -> Iterator[Entry]:
    """The entries of the gzip-compressed tar ``data``, each checked against the caps before its
    bytes are read (raises :class:`ArchiveError`; :class:`TooLarge` for the total cap)."""
    stream = _Inflater(data, max_total)
    pending: dict[str, str] = {}  # overrides for the next entry (PAX x, GNU L/K)
    headers = 0
    try:
        while True:
            block = stream.read(BLOCK)
            if not block:
                if headers == 0:
                    raise ArchiveError("The archive holds no tar data.")
                return  # the end without the zero blocks: accepted, as tar readers do
            if len(block) < BLOCK:
                raise ArchiveError("The archive is truncated (a partial tar header).")
            if block == bytes(BLOCK):
                return
            headers += 1
            if headers > max_entries * 2 + 10:
                raise ArchiveError(f"The archive has more than {max_entries} entries.")
            if not _checksum_ok(block):
                raise ArchiveError("The archive has a tar header with a bad checksum; is it a tar archive?")
            typeflag = block[156:157]
            size = _octal(block[124:136], "size")
            if typeflag in (b"x", b"g", b"L", b"K"):
                what = "PAX extended header" if typeflag in (b"x", b"g") else "GNU long name"
                if size > max_special:
                    raise ArchiveError(f"The archive has a {what} of {size} bytes; at most {max_special} "
                                       "bytes are accepted.")
                raw = stream.read(size)
                if len(raw) < size:
                    raise ArchiveError("The archive is truncated (inside a header).")
                stream.skip(-size % BLOCK)
                if typeflag == b"x":
                    pending.update(_pax_records(raw))
                elif typeflag == b"L":
                    pending["path"] = _text(_cstring(raw), "file name")
                elif typeflag == b"K":
                    pending["linkpath"] = _text(_cstring(raw), "link name")
                else:
                    _pax_records(raw)  # checked, then ignored as Go ignores it
                continue
            name = _text(_cstring(block[0:100]), "file name")
            if block[257:263] == b"ustar\x00":  # POSIX: a prefix for long names
                prefix = _text(_cstring(block[345:500]), "file name")
                if prefix:
                    name = f"{prefix}/{name}"
            linkname = _text(_cstring(block[157:257]), "link name")
            name = pending.pop("path", name)
            linkname = pending.pop("linkpath", linkname)
            if "size" in pending:
                try:
                    size = int(pending.pop("size"))
                except ValueError:
                    raise ArchiveError("The archive has a malformed size in a PAX header.") from None
            pending.clear()
            if size < 0:
                raise ArchiveError("The archive has a negative size in a header.")
            kind = _TYPES.get(typeflag, SPECIAL)
            if typeflag in _HEADER_ONLY:
                size = 0
            if kind == REGULAR and size > max_file:
                raise ArchiveError(f"The archive's file {name[:200]!r} is {size} bytes; at most {max_file} bytes "
                                   "per file.")
            if size > max_total - stream.total:
                raise TooLarge(f"The archive is larger than {max_total} bytes uncompressed.")
            payload = b""
            if kind == REGULAR:
                payload = stream.read(size)
                if len(payload) < size:
                    raise ArchiveError("The archive is truncated (inside a file).")
            elif size and stream.skip(size) < size:
                raise ArchiveError("The archive is truncated (inside an entry).")
            stream.skip(-size % BLOCK)
            yield Entry(name, kind, size, linkname, payload)
    except zlib.error as exc:
        raise ArchiveError(f"The archive is not valid gzip data ({exc}).") from exc
