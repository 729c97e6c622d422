"""The forensic report and `sysnb verify`: what the report holds, that it is self-contained, and that verify
finds a changed byte in the report body, a changed capture and a missing capture (and a bad signature)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import sysnb
from sysnb.case.session import active, reset

nbformat = pytest.importorskip("nbformat", reason="needs the notebook extras (pip install 'sysnb[notebook]')")
pytest.importorskip("nbconvert")

from sysnb.cli import main  # noqa: E402
from sysnb.report import export  # noqa: E402
from sysnb.report.manifest import split  # noqa: E402
from sysnb.report.verify import Check, render, verify  # noqa: E402

HOSTILE = "<img src=https://attacker.example/x.png onerror=alert(1)>\u202egpj.exe"


@pytest.fixture
def case_files(tmp_path: Path) -> dict[str, Path]:
    """A case over a copy of the bundled capture with a subset, stored in a small notebook."""
    reset()
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    copy = evidence / "incident.scap.gz"
    shutil.copy(sysnb.sample_path(), copy)
    sysnb.case("IR-2026-0001", title="Test case", examiner="J. Doe", org="ACME CSIRT", requester="Legal")
    cap = sysnb.open_capture(copy)
    sysnb.finding("Port scan from 10.66.0.3", "proc.name=nmap and evt.type=connect and evt.dir=<", severity="high",
                  note=HOSTILE)
    num = cap.filter("proc.name=curl and evt.type=sendto and evt.buffer contains api.twilio.com").events["evt.num"]
    sysnb.mark(num[0].as_py(), tags=["c2", HOSTILE], note="forged Host")
    subset = evidence / "nmap.scap"
    cap.filter("proc.name=nmap").save(subset)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Analysis\n\nThe scan came from 10.66.0.3."),
                nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint('hidden code')", outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="visible output\n")])]
    nb.metadata["sysnb"] = {"case": active().snapshot()}
    path = tmp_path / "case.ipynb"
    nbformat.write(nb, path)
    report = export(path, tmp_path / "out" / "report.html")
    return {"nb": path, "report": report, "capture": copy, "subset": subset, "evidence": evidence}


def _statuses(checks: list[Check]) -> dict[str, str]:
    return {c.what.strip(): c.status for c in checks}


def test_the_report_holds_the_case(case_files: dict[str, Path]) -> None:
    text = case_files["report"].read_text()
    for part in ("IR-2026-0001", "J. Doe", "ACME CSIRT", "Executive summary", "Timeline (UTC)",
                 "Evidence register and chain of custody", "Methods", "Limitations", "Appendix: bookmarked events",
                 "Port scan from 10.66.0.3", "proc.name=nmap and evt.type=connect and evt.dir=&lt;", "visible output",
                 "0x0000:", "nmap.scap", active().doc.evidence[0].sha256):
        assert part in text, part
    assert "hidden code" not in text and "NBVAL" not in text  # code hidden by default, scaffolding never shown
    assert "Alerts from rules" not in text  # no alert findings: no section


def test_the_report_is_self_contained_and_escapes_capture_strings(case_files: dict[str, Path]) -> None:
    text = case_files["report"].read_text()
    assert "default-src 'none'" in text and "<script src" not in text.lower()
    assert not re.search(r"""<[a-zA-Z][^<>]*\s(src|href)\s*=\s*["']?(https?:)?//""", text)  # no fetch, no link out
    assert "<img src=https://attacker" not in text and "&lt;img src=https://attacker.example" in text
    assert "\u202e" not in text and "\\u202egpj.exe" in text
    scripts = re.findall(r"<script[^>]*>", text)
    assert scripts == ['<script type="application/json" id="sysnb-manifest">']


def test_verify_passes_on_an_untouched_report(case_files: dict[str, Path]) -> None:
    checks = verify(case_files["report"], notebook=case_files["nb"])
    assert all(c.ok for c in checks), render(checks)
    s = _statuses(checks)
    assert s["report body"] == "MATCH" and s["E1 incident.scap.gz"] == "MATCH" and s["E2 nmap.scap"] == "MATCH"
    assert s["notebook case.ipynb"] == "MATCH"
    assert main(["verify", str(case_files["report"]), "--captures", str(case_files["evidence"])]) == 0


def test_verify_finds_a_changed_byte_in_the_report_body(case_files: dict[str, Path], capsys) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(case_files["report"].read_bytes())
    at = data.index(b"Port scan from 10.66.0.3", data.index(b"section summary"))
    data[at + len("Port scan from 10.66.0.")] = ord("9")  # 10.66.0.3 -> 10.66.0.9 in the summary table
    case_files["report"].write_bytes(bytes(data))
    checks = verify(case_files["report"])
    s = _statuses(checks)
    assert s["report body"] == "ALTERED" and s["section summary"] == "ALTERED"
    assert "section findings" not in s  # the other sections still match: the change is located
    assert main(["verify", str(case_files["report"])]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out


def test_verify_finds_a_style_change_outside_the_sections(case_files: dict[str, Path]) -> None:
    text = case_files["report"].read_text().replace("article.finding,", "article.finding{display:none}\n", 1)
    case_files["report"].write_text(text)
    s = _statuses(verify(case_files["report"]))
    assert s["report body"] == "ALTERED" and not any(k.startswith("section") for k in s)


def test_verify_finds_a_changed_and_a_missing_capture(case_files: dict[str, Path]) -> None:
    with open(case_files["capture"], "r+b") as f:  # one byte of the evidence changes
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    case_files["subset"].unlink()
    checks = verify(case_files["report"], captures=case_files["evidence"])
    s = _statuses(checks)
    assert (s["report body"], s["E1 incident.scap.gz"], s["E2 nmap.scap"]) == ("MATCH", "ALTERED", "MISSING")
    assert "manifest says" in next(c.detail for c in checks if c.what.startswith("E1"))
    assert main(["verify", str(case_files["report"]), "--captures", str(case_files["evidence"])]) == 1


def test_verify_finds_a_capture_swapped_with_only_the_manifest_edited(case_files: dict[str, Path]) -> None:
    """An unsigned manifest is re-forgeable as a whole, but editing only its evidence hash (to match a swapped
    capture) leaves a body that shows the original hash: verify says so."""
    data = case_files["report"].read_bytes()
    old = active().doc.evidence[0].sha256
    forged = "0" * 64
    at = data.rindex(b'id="sysnb-manifest"')
    case_files["report"].write_bytes(data[:at] + data[at:].replace(old.encode(), forged.encode()))
    s = _statuses(verify(case_files["report"]))
    assert s["report body"] == "MATCH" and s["manifest vs report"] == "ALTERED"
    assert main(["verify", str(case_files["report"])]) == 1


def test_verify_finds_a_capture_moved_and_renamed_by_its_hash(case_files: dict[str, Path], tmp_path: Path) -> None:
    moved = tmp_path / "drive" / "sub"
    moved.mkdir(parents=True)
    shutil.move(str(case_files["capture"]), moved / "renamed.bin")
    shutil.move(str(case_files["subset"]), moved / "nmap.scap")
    s = _statuses(verify(case_files["report"], captures=tmp_path / "drive"))
    assert s["E1 incident.scap.gz"] == "MATCH" and s["E2 nmap.scap"] == "MATCH"


def test_a_file_that_is_not_a_report(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "x.html"
    bad.write_text("<html></html>")
    assert main(["verify", str(bad)]) == 2
    assert "no sysnb manifest" in capsys.readouterr().err


def test_signed_report(case_files: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="signing needs the cryptography library (pip install 'sysnb[sign]')")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem, pub = tmp_path / "examiner.pem", tmp_path / "examiner.pub"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    signed = export(case_files["nb"], tmp_path / "signed.html", sign_key=pem)
    s = _statuses(verify(signed, key=pub))
    assert s["signature"] == "MATCH" and s["report body"] == "MATCH"
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM,
                                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "other.pub").write_bytes(other)
    assert _statuses(verify(signed, key=tmp_path / "other.pub"))["signature"] == "ALTERED"
    # a forger who edits the body and recomputes the digests cannot re-sign
    body, manifest = split(signed.read_bytes())
    forged = body.replace(b"Port scan from 10.66.0.3", b"Port scan from 10.66.0.9")
    from sysnb.report.manifest import embed

    manifest.pop("_tail", None)
    signed.write_bytes(embed(forged.decode(), manifest))
    s = _statuses(verify(signed))
    assert s["report body"] == "MATCH" and s["signature"] == "ALTERED"


def test_alert_findings_get_their_own_section(case_files: dict[str, Path], tmp_path: Path) -> None:
    sysnb.finding("Read sensitive file untrusted", "fd.name=/etc/shadow and evt.dir=<", kind="alert",
                  severity="high", source={"rule": "Read sensitive file untrusted", "priority": "WARNING"})
    out = export(case_files["nb"], tmp_path / "alerts.html", live_case=active())
    text = out.read_text()
    assert "Alerts from rules" in text and "WARNING" in text and ">A1<" in text


def test_cli_report_with_exports(case_files: dict[str, Path], tmp_path: Path) -> None:
    out, jsonl, table = tmp_path / "r.html", tmp_path / "c.jsonl", tmp_path / "c.csv"
    assert main(["report", str(case_files["nb"]), "-o", str(out), "--timesketch", str(jsonl), "--csv",
                 str(table), "--include-code"]) == 0
    assert "hidden code" in out.read_text() and "NBVAL" not in out.read_text()
    assert len(jsonl.read_text().splitlines()) == 2 and table.read_text().startswith("message,datetime")
