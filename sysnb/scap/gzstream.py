"""A gzip file read incrementally, keeping every byte decompressed before damage, and saying where it is.

``gzip.GzipFile.read`` raises on a truncated or corrupt stream and discards what the failing call had
decompressed, so one damaged byte near the end of a ``.scap.gz`` lost every event. Here the stream is
decompressed with :func:`zlib.decompressobj` a chunk at a time; when zlib refuses a chunk, the chunk is
fed again a byte at a time from a copy of the decompressor taken before it, so the output stops exactly at
the first byte zlib cannot decode. :class:`GzipDamage` then records what went wrong, at which compressed
byte of the file, and after how many uncompressed bytes; ``read`` returns everything before it.

Concatenated members are read one after another (as ``gzip`` and zlib's ``gzread`` do); zero padding after
the last member is ignored; anything else after it is reported as damage (all data before it is kept).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO

_IN = 256 << 10  # compressed bytes per read
_OUT = 8 << 20  # at most this much output per decompress call (a small chunk can expand ~1000x)
_GZIP = 31  # wbits: gzip header and trailer (CRC-32, length) checked by zlib


@dataclass(frozen=True)
class GzipDamage:
    reason: str
    compressed_offset: int  # byte of the .gz file where decoding stopped
    uncompressed_offset: int  # bytes of good output before it

    def describe(self) -> str:
        return f"the gzip stream is damaged after {self.uncompressed_offset:,} good uncompressed bytes: {self.reason}"


class GzipStream:
    """A read-only binary stream over a gzip file; ``damage`` is set (and reads return b"") after damage."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.damage: GzipDamage | None = None
        self._d = zlib.decompressobj(_GZIP)
        self._input = b""  # compressed bytes not yet given to zlib
        self._input_at = 0  # file offset of _input[0]
        self._out = bytearray()
        self._produced = 0  # uncompressed bytes returned so far
        self._done = False

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left when ``n`` < 0); fewer only at the end or at damage."""
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(_OUT), b""))
        want = n
        while len(self._out) < want and not self._done:
            self._step(want - len(self._out))
        data = bytes(self._out[:want])
        del self._out[:want]
        self._produced += len(data)
        return data

    def close(self) -> None:
        self.raw.close()

    def _fill(self) -> bool:
        if not self._input:
            self._input = self.raw.read(_IN)
        return bool(self._input)

    def _consume(self, rest: bytes) -> None:
        """zlib took the input but ``rest``."""
        self._input_at += len(self._input) - len(rest)
        self._input = rest

    def _left(self) -> bytes:
        return self._d.unused_data if self._d.eof else self._d.unconsumed_tail

    def _step(self, room: int) -> None:
        if self._d.eof:
            self._next_member()
            return
        if not self._fill():
            self._fail("the file ends inside the compressed stream (truncated)", self._input_at)
            return
        saved = self._d.copy()
        try:
            self._out += self._d.decompress(self._input, max(room, 1 << 16))
        except zlib.error as e:
            self._d = saved
            self._replay(room, str(e))
            return
        self._consume(self._left())

    def _replay(self, room: int, reason: str) -> None:
        """The chunk zlib refused, a byte at a time: keep the output up to the first byte it cannot decode
        (or stop at ``room`` bytes of output, to go on the same way at the next read)."""
        start = len(self._out)
        for i in range(len(self._input)):
            try:
                self._out += self._d.decompress(self._input[i:i + 1])
            except zlib.error:
                self._consume(self._input[i:])
                self._fail(_reason(reason), self._input_at)
                return
            if self._d.eof or len(self._out) - start >= room:
                self._consume(self._d.unused_data + self._input[i + 1:])
                return
        self._consume(b"")

    def _next_member(self) -> None:
        """After a member's trailer: another member, zero padding, or trailing garbage."""
        while self._fill():
            padding = len(self._input) - len(self._input.lstrip(b"\0"))
            if padding < len(self._input):
                self._consume(self._input[padding:])
                break
            self._consume(b"")
        if not self._input:
            self._done = True
        elif self._input[:2] == b"\x1f\x8b":
            self._d = zlib.decompressobj(_GZIP)
        else:
            self._fail("unexpected bytes after the end of the gzip stream", self._input_at)

    def _fail(self, reason: str, at: int) -> None:
        self.damage = GzipDamage(reason, at, self._produced + len(self._out))
        self._done = True


def _reason(zlib_message: str) -> str:
    """zlib's message ("Error -3 while decompressing data: invalid distance too far back") for people."""
    detail = zlib_message.split(": ", 1)[-1]
    if "incorrect data check" in detail or "incorrect length check" in detail:
        return f"the data does not match the gzip checksum ({detail}); some of it is corrupt"
    if "incorrect header check" in detail or "unknown compression method" in detail:
        return f"not a valid gzip header ({detail})"
    return f"corrupt compressed data ({detail})"
