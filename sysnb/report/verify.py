"""``sysnb verify report.html [--captures DIR] [--notebook NB.ipynb] [--key examiner.pub]``: re-check a
report against its manifest and say, line by line, what matches and what does not.

Checked: the report body (every byte before the manifest) and each of its sections, anything appended after
the manifest, the signature when there is one, every evidence file (at its recorded path, or found in DIR by
name, or by size and sha256), and the source notebook when given. Exit status 0 when everything checked
matches, 1 when something is altered or missing, 2 when the file is not a readable report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sysnb.report import manifest as mf


@dataclass
class Check:
    what: str
    status: str  # MATCH | ALTERED | MISSING | NOT CHECKED
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("MATCH", "NOT CHECKED")


def verify(report: str | Path, captures: str | Path | None = None, notebook: str | Path | None = None,
           key: str | Path | None = None) -> list[Check]:
    body, manifest = mf.split(Path(report).read_bytes())
    checks = _body_checks(body, manifest) + _manifest_agrees_with_body(body, manifest)
    valid, text = mf.check_signature(manifest, Path(key).read_bytes() if key else None)
    checks.append(Check("signature", ("MATCH" if manifest.get("signature") else "NOT CHECKED") if valid else "ALTERED",
                        text))
    index = _index(Path(captures)) if captures else None
    checks += [_evidence(e, index, captures) for e in manifest.get("evidence", [])]
    nb = manifest.get("notebook") or {}
    if notebook is None:
        checks.append(Check(f"notebook {nb.get('name', '')}", "NOT CHECKED", "give --notebook NB.ipynb to check it"))
    else:
        checks.append(_file(f"notebook {nb.get('name', '')}", Path(notebook), str(nb.get("sha256", ""))))
    return checks


def _body_checks(body: bytes, manifest: dict[str, Any]) -> list[Check]:
    want = (manifest.get("body") or {}).get("sha256", "")
    got = mf.sha256(body)
    checks = [Check("report body", "MATCH" if got == want else "ALTERED",
                    f"sha256 {got}" + ("" if got == want else f", manifest says {want}"))]
    now = mf.section_digests(body)
    for sid, digest in (manifest.get("sections") or {}).items():
        if now.get(sid) != digest:
            gone = sid not in now
            checks.append(Check(f"  section {sid}", "MISSING" if gone else "ALTERED",
                                "its markers are gone" if gone else f"sha256 {now[sid]}, manifest says {digest}"))
    if got == want:
        checks[0].detail += f" ({len(now)} sections match)"
    elif len(checks) == 1:
        checks[0].detail += "; every section matches: the change is outside them (head, style, contents, footer)"
    if "_tail" in manifest:
        checks.append(Check("after the manifest", "ALTERED", f"{len(manifest['_tail'])} unexpected characters"))
    return checks


_SHOWN_HASH = re.compile(rb"<code class='hash'>([0-9a-f]{64})</code>")


def _manifest_agrees_with_body(body: bytes, manifest: dict[str, Any]) -> list[Check]:
    """Every evidence sha256 of the manifest is the one the report shows the reader (and the notebook's too):
    without this, editing only the manifest's evidence hashes made a swapped capture verify against an
    untouched body that still shows the original hashes."""
    shown = set(_SHOWN_HASH.findall(body))
    unshown = [f"{e.get('label', '')} {str(e.get('sha256', ''))[:16]}…".strip()
               for e in manifest.get("evidence", []) if str(e.get("sha256", "")).encode() not in shown]
    nb_sha = str((manifest.get("notebook") or {}).get("sha256", ""))
    if nb_sha and f"sha256 {nb_sha}".encode() not in body:
        unshown.append(f"notebook {nb_sha[:16]}…")
    if unshown:
        return [Check("manifest vs report", "ALTERED", "the manifest names hashes the report does not show: "
                      + ", ".join(unshown))]
    return [Check("manifest vs report", "MATCH", "every hash in the manifest is the one the report shows")]


def _index(folder: Path) -> dict[str, list[Path]]:
    """Files under ``folder`` by name (a capture may sit in a subfolder of the evidence drive)."""
    found: dict[str, list[Path]] = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            found.setdefault(name, []).append(Path(root) / name)
    return found


def _evidence(e: dict[str, Any], index: dict[str, list[Path]] | None, folder: Any) -> Check:
    label = f"{e.get('label', '')} {e.get('name', '')}".strip()
    sha, size = str(e.get("sha256", "")), int(e.get("size", -1))
    if index is None:
        return _file(label, Path(str(e.get("path", ""))), sha)
    candidates = index.get(str(e.get("name", "")), [])
    candidates += [p for paths in index.values() for p in paths if p not in candidates and _size(p) == size]
    altered = None
    for path in candidates:
        check = _file(label, path, sha)
        if check.status == "MATCH":
            return check
        if path.name == e.get("name"):
            altered = check
    return altered or Check(label, "MISSING", f"no file named {e.get('name')} (or of its size and sha256) in {folder}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -2


def _file(label: str, path: Path, sha: str) -> Check:
    from sysnb.capture import sha256_file

    if not path.is_file():
        return Check(label, "MISSING", f"not found at {path}")
    now = sha256_file(str(path))
    if now == sha:
        return Check(label, "MATCH", f"sha256 {now} at {path}")
    return Check(label, "ALTERED", f"sha256 {now} at {path}, manifest says {sha}")


def render(checks: list[Check]) -> list[str]:
    width = max(len(c.what) for c in checks)
    lines = [f"{c.what.ljust(width)}  {c.status:<11}  {c.detail}" for c in checks]
    bad = [c for c in checks if not c.ok]
    unchecked = [c for c in checks if c.status == "NOT CHECKED"]
    if bad:
        lines.append(f"result: NOT VERIFIED: {len(bad)} problem(s): "
                     + "; ".join(f"{c.what.strip()} {c.status.lower()}" for c in bad))
    else:
        lines.append("result: VERIFIED" + (f" ({len(unchecked)} item(s) not checked)" if unchecked else ""))
    return lines
