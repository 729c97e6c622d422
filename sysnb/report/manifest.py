"""The report's manifest: what a report must hash to, so that ``sysnb verify`` can tell an intact report
from an altered one and the evidence it names from changed or missing files.

The manifest is a JSON object in ``<script type="application/json" id="sysnb-manifest">`` at the very end
of the report (only ``</body></html>`` follows it). It holds:

* ``body.sha256``: sha256 of every byte of the file before the manifest tag (head, style and body: a change
  to the style sheet that hides a finding is a change too);
* ``sections``: sha256 of each section, from its ``<!--sysnb:section ID-->`` marker to its end marker, so
  an alteration is located;
* ``notebook``: name, size and sha256 of the source notebook;
* ``evidence``: label, name, path, size and sha256 of every evidence file;
* ``signature`` (optional): Ed25519 over the canonical JSON (sorted keys, no spaces) of the manifest
  without its signature, with the raw public key; made with the ``cryptography`` library.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

FORMAT = "sysnb-report/1"
OPEN = '<script type="application/json" id="sysnb-manifest">'
CLOSE = "</script>"
TAIL = "\n</body></html>\n"
_SECTION = re.compile(rb"<!--sysnb:section ([a-z0-9-]+)-->.*?<!--/sysnb:section \1-->", re.S)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def section_digests(body: bytes) -> dict[str, str]:
    return {m[1].decode(): sha256(m[0]) for m in _SECTION.finditer(body)}


def canonical(manifest: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the manifest without its signature, keys sorted, no whitespace."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def embed(body: str, manifest: dict[str, Any]) -> bytes:
    """The finished file: ``body`` (everything up to the manifest), the manifest, the tail."""
    data = body.encode("utf-8")
    manifest["body"] = {"sha256": sha256(data), "covers": "every byte before the manifest tag"}
    manifest["sections"] = section_digests(data)
    text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=True).replace("<", "\\u003c")
    return data + (OPEN + text + CLOSE + TAIL).encode("ascii")


def split(report: bytes) -> tuple[bytes, dict[str, Any]]:
    """(body, manifest) of a report file; ValueError when it has no readable manifest."""
    at = report.rfind(OPEN.encode())
    if at < 0:
        raise ValueError("no sysnb manifest in this file (not a sysnb report, or cut short)")
    end = report.find(CLOSE.encode(), at)
    if end < 0:
        raise ValueError(f"the manifest starting at byte {at} is not closed (file cut short?)")
    try:
        manifest = json.loads(report[at + len(OPEN):end])
    except ValueError as e:
        raise ValueError(f"the manifest at byte {at} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"unknown manifest format {manifest.get('format') if isinstance(manifest, dict) else None!r}"
                         f" (this sysnb reads {FORMAT})")
    tail = report[end + len(CLOSE):]
    if tail != TAIL.encode():
        manifest["_tail"] = tail.decode("utf-8", "replace")  # something was appended after the manifest
    return report[:at], manifest


# -- signing (optional; the ``cryptography`` library) -------------------------------------------------------
def sign(manifest: dict[str, Any], private_key_pem: bytes) -> None:
    """Add an Ed25519 signature made with the examiner's private key (PEM, unencrypted)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key is not an Ed25519 private key (make one with: openssl genpkey "
                         "-algorithm ed25519 -out examiner.pem)")
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    manifest["signature"] = {"algorithm": "ed25519", "public_key": public.hex(),
                             "value": key.sign(canonical(manifest)).hex()}


def check_signature(manifest: dict[str, Any], public_key_pem: bytes | None) -> tuple[bool, str]:
    """(valid, what was checked). Without ``public_key_pem`` the embedded key is used: that proves the
    manifest was not changed since signing, not who signed it."""
    sig = manifest.get("signature")
    if not sig:
        return True, "absent (the report is not signed)"
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return False, "cannot check: the cryptography library is missing (pip install 'sysnb[sign]')"
    embedded = bytes.fromhex(str(sig.get("public_key", "")))
    fingerprint = sha256(embedded)[:32]
    if public_key_pem is not None:
        given = serialization.load_pem_public_key(public_key_pem)
        raw = given.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if raw != embedded:
            return False, f"signed with key {fingerprint}, not with the key given"
    try:
        Ed25519PublicKey.from_public_bytes(embedded).verify(bytes.fromhex(str(sig.get("value", ""))),
                                                           canonical(manifest))
    except (InvalidSignature, ValueError):
        return False, f"INVALID for key {fingerprint}: the manifest was changed after signing"
    who = "the key given" if public_key_pem is not None else "the embedded key (give --key to check whose)"
    return True, f"valid ed25519 signature by {who}, fingerprint {fingerprint}"
