"""Path joining exactly as libsinsp's ``concatenate_paths`` / ``copy_and_sanitize_path`` do it.

This is not POSIX normalisation: a trailing ``.`` is dropped, ``..`` rewinds inside the whole
joined string (never above its second character), control characters become ``.``, and a
trailing separator is removed. Resolved paths in sysdig's output depend on these details.
"""

from __future__ import annotations


def _clean(path: str) -> bool:
    """True when sanitising cannot change ``path``: libsinsp rewrites any ``./``, ``..``, ``//``, a trailing
    ``.`` or ``/`` and control characters, wherever they appear (even inside a name)."""
    return (path.isprintable() and "./" not in path and ".." not in path and "//" not in path
            and not path.endswith(("/", ".")))


def concatenate_paths(base: str, path: str) -> str:
    """``base`` (a working directory ending in ``/``) joined with ``path``; absolute paths ignore base."""
    if path and _clean(path) and (path.startswith("/") or (base.endswith("/") and "//" not in base)):
        return path if path.startswith("/") else base + path
    if path and not path.startswith("/"):
        return _sanitize_into(list(base), path)
    return _sanitize_into([], path)


def _sanitize_into(target: list[str], path: str) -> str:
    base_len = 0  # rewinds may reach back into the base (targetbase is the start of the whole buffer)
    i, n = 0, len(path)
    while i < n:
        c = path[i]
        if c < " " or c == "\x7f":
            target.append(".")
            i += 1
        elif path.startswith("../", i):
            _rewind(target, base_len)
            i += 3
        elif path.startswith("..", i):
            if i + 2 == n:
                _rewind(target, base_len)
                i += 2
            else:
                target += [".", "."]
                i += 2
        elif path.startswith("./", i):
            i += 2
        elif c == ".":
            if i + 1 != n:
                target.append(".")
            i += 1
        elif c == "/":
            if not (target and target[-1] == "/"):
                target.append("/")
            i += 1
        else:
            target.append(c)
            i += 1
    if len(target) > 1 and target[-1] == "/":
        target.pop()
    return "".join(target)


def _rewind(target: list[str], base_len: int) -> None:
    """Back up to the previous separator (libsinsp's rewind_to_parent_path)."""
    if len(target) <= base_len + 1:
        return
    target.pop()
    while len(target) >= base_len + 1 and target[-1] != "/":
        target.pop()


def as_cwd(path: str) -> str:
    """A working directory as libsinsp stores it: joined like any path, always ending in ``/``."""
    return path if path.endswith("/") else path + "/"
