"""One exception hierarchy. Messages say what happened, where, and what to do next."""

from __future__ import annotations


class SysnbError(Exception):
    """Base class of every error sysnb raises on purpose."""


class UsageError(SysnbError):
    """The user asked for something that cannot work as asked (bad flag, bad field, bad value)."""


class CaptureFormatError(SysnbError):
    """A capture file is not a capture, or is damaged at a known place.

    ``offset`` is the byte offset (in the uncompressed stream) of the block that
    could not be read and ``block`` names its type, when known; ``compressed_offset`` is
    where a gzip-compressed file is damaged (a byte of the .gz file itself).
    """

    def __init__(self, message: str, *, path: str = "", offset: int | None = None, block: str = "",
                 compressed_offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        self.block = block
        self.compressed_offset = compressed_offset
        where = []
        if path:
            where.append(path)
        if offset is not None:
            where.append(f"{'uncompressed ' if compressed_offset is not None else ''}byte offset {offset}")
        if compressed_offset is not None:
            where.append(f"compressed byte offset {compressed_offset}")
        if block:
            where.append(f"in {block} block")
        super().__init__(f"{message}" + (f" ({', '.join(where)})" if where else ""))
