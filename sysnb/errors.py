"""One exception hierarchy. Messages say what happened, where, and what to do next."""

from __future__ import annotations


class SysnbError(Exception):
    """Base class of every error sysnb raises on purpose."""


class UsageError(SysnbError):
    """The user asked for something that cannot work as asked (bad flag, bad field, bad value)."""


class CaptureFormatError(SysnbError):
    """A capture file is not a capture, or is damaged at a known place.

    ``offset`` is the byte offset (in the uncompressed stream) of the block that
    could not be read and ``block`` names its type, when known.
    """

    def __init__(self, message: str, *, path: str = "", offset: int | None = None, block: str = "") -> None:
        self.path = path
        self.offset = offset
        self.block = block
        where = []
        if path:
            where.append(path)
        if offset is not None:
            where.append(f"byte offset {offset}")
        if block:
            where.append(f"in {block} block")
        super().__init__(f"{message}" + (f" ({', '.join(where)})" if where else ""))
