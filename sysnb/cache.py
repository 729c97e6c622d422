"""sysnb's cache directory: recordings without a path given (``captures/``) and nothing else.

Built tables are no longer cached: the native core replays a capture about as fast as a compressed table
cache reads back (``docs/architecture.md``), so caching cost disk (4x the capture uncompressed) and an
integrity problem for no gain. ``clear_cache`` removes the tables older versions left behind; it never
touches recordings, which are evidence.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: files of the table cache of sysnb 0.1 (``<sha256>.v<N>.arrows`` and ``.json``), and their temp files
_STALE_TABLES = ("*.v*.arrows", "*.v*.json", "*.v*.arrows.tmp*", "*.v*.json.tmp*")


def cache_dir() -> Path:
    """``$SYSNB_CACHE_DIR``, else ``$XDG_CACHE_HOME/sysnb``, else ``~/.cache/sysnb``."""
    env = os.environ.get("SYSNB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "sysnb"


def clear_cache() -> int:
    """Delete the tables earlier versions cached (never recordings); returns the number of bytes freed."""
    d = cache_dir()
    if not d.is_dir():
        return 0
    freed = 0
    for pattern in _STALE_TABLES:
        for p in d.glob(pattern):
            if p.is_file():
                freed += p.stat().st_size
                p.unlink()
    return freed


def warn(msg: str) -> None:
    print(f"sysnb: warning: {msg}", file=sys.stderr)
