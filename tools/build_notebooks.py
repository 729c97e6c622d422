#!/usr/bin/env python3
"""Write the notebooks in notebooks/ from the cell sources below and execute them, so the committed
outputs are exactly what a fresh run produces (nbval then checks them in CI).

    python tools/build_notebooks.py [NAME ...]      (default: all)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from sysnb.case.notebook import sync_metadata

HERE = Path(__file__).resolve().parent.parent / "notebooks"
MD, CODE = "md", "code"

SETUP = """%load_ext sysnb
import sysnb
from sysnb import charts
charts.use_static_rendering()  # charts as inline SVG: readable without JavaScript or network"""

QUICKSTART = [
    (MD, """# sysnb quickstart

sysnb reads `.scap` captures (sysdig, Falco, Stratoshark, or its own eBPF recorder) into one Arrow table whose
columns are sysdig field names, and speaks sysdig's filter language. This notebook opens the bundled sample,
shows the overview, and walks through filters, `-p` formats and the `-S` summary."""),
    (CODE, SETUP),
    (MD, """## Open a capture

`%sysopen` (or `sysnb.open_capture` in Python) reads the file once, caches the built table (keyed by the file's sha256, never next to the
evidence) and memory-maps it afterwards. A capture displays itself as an overview: provenance, then tiles
whose numbers are sysdig filters evaluated on the whole table — the filter is printed under each tile."""),
    (CODE, """%sysopen {sysnb.sample_path()} -o cap"""),
    (MD, """## The table

One row per event, numbered as `sysdig -r` numbers them (`evt.num`), so you can move between the shell and the
notebook. Strings are dictionary-encoded; a field that has no value for an event is null."""),
    (CODE, """cap.events.select(["evt.num", "evt.type", "evt.dir", "proc.name", "fd.name"]).slice(0, 5).to_pandas()"""),
    (MD, """## Filters

`%sysfilter` takes the rest of the line as a sysdig filter (never shell-split) and binds the result to
`_sysview`. `and`, `or`, `not`, parentheses, `in (...)`, `contains`, `glob`, `startswith` work as in sysdig."""),
    (CODE, """%sysfilter evt.type=openat and evt.dir=< and proc.name=cat"""),
    (CODE, """_sysview.events.select(["evt.num", "proc.name", "fd.name", "evt.res"]).to_pandas()"""),
    (CODE, """%sysfilter (proc.name in (curl, nmap) or fd.sport=8080) and evt.type=connect and evt.dir=<"""),
    (CODE, """_sysview.events.group_by(["proc.name", "evt.res"]).aggregate([("evt.num", "count")]).to_pandas()"""),
    (MD, """Magics like `%sysprint` and `%chisel` work on the current view; `%sysfilter --clear` goes back to the whole
capture."""),
    (MD, """A typo in a field is an error that names the column and suggests the field you meant — no traceback:"""),
    (CODE, """try:
    cap.filter("proc.nmae=cat")
except sysnb.UsageError as e:
    print(e)"""),
    (MD, """## sysdig's text output

`%sysprint` prints the current view exactly as `sysdig -r FILE -p FORMAT FILTER` would (`-A`/`-X` for
buffers, `-n` to stop early)."""),
    (CODE, """%sysfilter --clear"""),
    (CODE, """%sysprint -n 6 -p "%evt.num %evt.time %proc.name (%thread.tid) %evt.dir %evt.type %fd.name" proc.name=cat"""),
    (MD, """## The `-S` summary and SQL

The per-type counts `sysdig -S` prints are one group-by; DuckDB runs SQL over the same table (named `evt`)."""),
    (CODE, """cap.sql('SELECT "evt.type", count(*) AS n FROM evt WHERE "evt.dir" = \\'<\\' GROUP BY 1 ORDER BY n DESC, 1 LIMIT 8')"""),
    (CODE, """charts.syscalls_over_time(cap)"""),
]

INVESTIGATION = [
    (MD, """# Incident investigation: the storefront

**Situation.** The health checks of a small web shop (`store`, 10.66.0.2) look normal, but a customer reports a
strange comment in the page source. We have a 5-second system-call recording of the host taken while it
happened (`storefront_incident.scap.gz`, recorded by sysnb's eBPF recorder). Questions: who touched the shop,
what changed on disk, what left the machine, and is anything still running?

We work from the overview down to single system calls, writing every filter we use so the notebook is the
report. The case — findings, bookmarked events, the evidence register and its chain of custody — is kept in
the notebook as we go, and `sysnb report` turns it into a verifiable forensic report."""),
    (CODE, SETUP),
    (CODE, """%syscase --id IR-2026-1127 --title "Storefront compromise" --examiner "A. Analyst" --org "Demo CSIRT" --requester "Shop owner" --classification TLP:AMBER"""),
    (MD, """Opening the capture registers it as evidence E1 (path, size, sha256, host, span in UTC) and logs the
access in the chain of custody."""),
    (CODE, """%sysopen {sysnb.sample_path()} -o cap"""),
    (MD, """**First look.** A few seconds, a few dozen processes, and the Security tiles are lit: commands were
executed, and `setns` calls happened. Activity over time shows short bursts on top of a steady background
(the health prober)."""),
    (CODE, """charts.syscalls_over_time(cap, by="evt.category")"""),
    (MD, """## 1. Who talked to whom

The connection matrix aggregates every socket I/O by process and server endpoint. Besides the expected
`python3` frontend/backend traffic on 8080 and 9000, an `nmap` process and several `curl` processes appear,
and something talks to **10.66.0.4:8000**, which is not part of the shop."""),
    (CODE, """charts.connections(cap)"""),
    (CODE, """%chisel topconns"""),
    (MD, """## 2. The port scan

`nmap` connected to the store on six ports within milliseconds — a connect scan (`-sT`). Most attempts return
`EINPROGRESS` (non-blocking connects); only 8080 and 9000 got a local port, i.e. were open."""),
    (CODE, """%sysfilter proc.name=nmap and evt.type=connect and evt.dir=< and fd.sip=10.66.0.2"""),
    (CODE, """_sysview.fields("evt.num", "evt.time", "proc.pid", "fd.name", "fd.sport", "evt.res")"""),
    (MD, """A finding keeps the exact filter, how many events match and references to them (evidence sha256,
`evt.num`, UTC time, byte offset in the file). Without `-- FILTER`, `%finding` stands for the current
`%sysfilter` view."""),
    (CODE, """%finding -s high -n "connect scan (-sT) on six ports; only 8080 and 9000 answered" Port scan of the store from 10.66.0.3"""),
    (CODE, """%sysfilter --clear"""),
    (MD, """A second `nmap` run used raw sockets (`sendto` on a raw socket: a SYN scan, `-sS`). Where did the scan come
from? The client address is in the tuple: **10.66.0.3**."""),
    (CODE, """%sysprint -p "%evt.num %proc.name %evt.type %fd.name %evt.args" proc.name=nmap and evt.type=sendto and evt.dir=> and fd.sip=10.66.0.2"""),
    (MD, """## 3. The download and the C2

Searching payloads like grep: which system calls carried the string `api.twilio.com`? A `curl` on the store
sent an HTTP POST to 10.66.0.4:8000 with a forged `Host: api.twilio.com` header — exfiltration disguised as an
SMS API call. `-A` shows the buffer as printable ASCII, as `sysdig -A` does."""),
    (CODE, """%sysprint -A -p "%evt.num %proc.name %fd.name %evt.buffer" evt.type=sendto and evt.dir=< and evt.buffer contains api.twilio.com and fd.type=ipv4"""),
    (MD, """A finding from Python, and a bookmark on the one event that proves it: the mark keeps the event's line
and its bytes, which the report's appendix prints in hex."""),
    (CODE, """post = cap.filter("proc.name=curl and evt.type=sendto and evt.dir=< and evt.buffer contains api.twilio.com")
sysnb.finding("Host name and user posted to the C2, disguised as api.twilio.com", post, severity="critical",
              note="curl POST to 10.66.0.4:8000 with a forged Host header")"""),
    (CODE, """sysnb.mark(post.events["evt.num"][0].as_py(), tags=["c2", "exfiltration"], note="the POST with the forged Host: api.twilio.com header")"""),
    (MD, """The same host downloaded a script from the C2 a moment earlier; `curl` wrote it to
`/tmp/storefront/tmp/payload.sh`, and a shell read and ran it:"""),
    (CODE, """%sysprint -p "%evt.num %proc.name %evt.type %fd.name" fd.name=/tmp/storefront/tmp/payload.sh and evt.dir=< and evt.type in (openat, write, read)"""),
    (CODE, """%finding -s high -n "curl wrote it, sh read it" payload.sh downloaded from the C2 and run -- fd.name=/tmp/storefront/tmp/payload.sh and evt.dir=< and evt.type in (openat, write, read)"""),
    (MD, """## 4. File integrity

The customer's "strange comment" is in the page: writes whose buffer contains the marker, by whom and where."""),
    (CODE, """tampered = cap.filter("evt.type=write and evt.dir=< and evt.buffer contains SYSNB-IOC-7f3a9")
tampered.events.select(["evt.num", "proc.name", "proc.pid", "fd.name", "evt.rawres"]).to_pandas()"""),
    (CODE, """sysnb.finding("index.html defaced with the marker SYSNB-IOC-7f3a9", tampered.filter("fd.name=/tmp/storefront/www/index.html"), severity="high",
              note="five writes by sh into the shop's document root")"""),
    (CODE, """%mark 11947 -n "first write of the marker into index.html" -t defacement,ioc"""),
    (CODE, """charts.io_by(cap.filter("proc.name=sh"), key="fd.directory")"""),
    (MD, """And the operator who checked the page read it back (`cat` reads the tampered file):"""),
    (CODE, """%sysprint -A -p "%evt.num %proc.name %evt.type %fd.name %evt.buffer" proc.name=cat and evt.type=read and evt.buffer contains SYSNB-IOC-7f3a9"""),
    (CODE, """%chisel topfiles_bytes"""),
    (MD, """## 5. What ran: interactive activity, the miner, privilege attempts

`spy_users` rebuilds the tree of commands launched from shells. It shows the payload (`sh payload.sh`) spawning
`curl` with the forged header, copying `/bin/sleep` to `xmrig` and starting it, and an interactive `bash -i`
running `id`, `nsenter -t 1 -m` (an attempt to enter PID 1's mount namespace) and `cat /etc/shadow`."""),
    (CODE, """%chisel spy_users"""),
    (CODE, """%sysprint -p "*%evt.num %proc.name %proc.exepath %proc.args %proc.ppid %proc.pname" evt.type=execve and evt.dir=< and proc.name=xmrig"""),
    (CODE, """%finding -s high -n "a copy of /bin/sleep named xmrig, started by the payload" Miner look-alike started from /tmp/storefront/tmp -- evt.type=execve and evt.dir=< and proc.name=xmrig"""),
    (MD, """`*` in front of a format prints events whose fields are missing as `<NA>` (as sysdig does): the miner was
re-parented to PID 1 once the payload's shell exited."""),
    (MD, """The escape attempt failed: `nsenter` could not open `/proc/1/ns/mnt` (EACCES). `sudo` is not installed: the
shell only printed `command not found` (seen in its write to the terminal). `/etc/shadow` was read."""),
    (CODE, """%sysprint -p "%evt.num %proc.name %evt.type %fd.name %evt.res" ((proc.name=nsenter and evt.type=openat and evt.failed=true and fd.name contains /ns/) or fd.name=/etc/shadow) and evt.dir=<"""),
    (CODE, """%finding -s high -n "nsenter -t 1 -m failed with EACCES; cat read /etc/shadow" Escape attempt into PID 1 and /etc/shadow read -- ((proc.name=nsenter and evt.type=openat and evt.failed=true and fd.name contains /ns/) or fd.name=/etc/shadow) and evt.dir=<"""),
    (CODE, """%mark 19718 -n "nsenter denied access to /proc/1/ns/mnt" -t privilege-escalation"""),
    (CODE, """%sysprint -A -p "%evt.num %proc.name %evt.buffer" proc.name=bash and evt.type=write and evt.buffer contains 'sudo: command not found'"""),
    (MD, """## 6. The state of the network at the start

`netstat` reads the socket table the recording started with: the shop's listening ports and the C2's."""),
    (CODE, """%chisel netstat -- fd.sport in (8000, 8080, 9000)"""),
    (MD, """## 7. Timeline of the suspicious processes"""),
    (CODE, """suspicious = cap.filter("proc.name in (nmap, curl, sh, xmrig, bash, nsenter, cat, script)")
charts.syscalls_over_time(suspicious, by="proc.name")"""),
    (MD, """## Explore it yourself

`%sysexplore` (or `cap.explore()`) is Sysdig Inspect in a cell: click a tile to drill down, brush the timeline to
select a window (every pane follows), double-click a process, file or connection to go one step down (the
breadcrumbs and the `%sysfilter` line show where you are), type a filter in the box, click an event for its
fields and bytes (dotted ASCII, `-A`, `-X`) and "follow fd" for the whole stream; "mark" bookmarks the selected
event and "add finding" records what the explorer shows (filter and time window) as a finding of this case.
Needs a running kernel; the report lists what was marked and found instead of the widget."""),
    (CODE, """# NBVAL_IGNORE_OUTPUT
%sysexplore"""),
    (MD, """## 8. Keep the evidence

The subset that tells the story, as a `.scap` sysdig reads (with the state events that give processes and fds
their names), next to the sha256 of the original."""),
    (CODE, """import tempfile, os
evidence = os.path.join(tempfile.mkdtemp(), "storefront-evidence.scap.gz")
n = cap.filter("proc.name in (nmap, curl, sh, xmrig, nsenter) or evt.buffer contains SYSNB-IOC-7f3a9").save(evidence)
print(n, "events saved; original sha256", cap.provenance.sha256)"""),
    (MD, """The subset is registered as evidence E2 (its sha256, its filter, the capture it was cut from) and the
write is in the chain of custody. The case now holds:"""),
    (CODE, """%syscase"""),
    (MD, """## Conclusions

| finding | evidence (filter) |
|---|---|
| 10.66.0.3 port-scanned the store (connect scan, then SYN scan) on 22, 80, 443, 3306, 8080, 9000 | `proc.name=nmap and evt.type=connect and fd.sip=10.66.0.2` |
| the store downloaded `payload.sh` from 10.66.0.4:8000 and ran it | `fd.name=/tmp/storefront/tmp/payload.sh` |
| `index.html` was defaced with `SYSNB-IOC-7f3a9` five times by `sh` | `evt.type=write and evt.buffer contains SYSNB-IOC-7f3a9` |
| host name and user were posted to the C2 disguised as `api.twilio.com` | `evt.buffer contains api.twilio.com` |
| a miner look-alike `xmrig` (a copy of `sleep`) ran from `/tmp/storefront/tmp` | `proc.name=xmrig` |
| an interactive shell tried `sudo` (absent) and `nsenter` into PID 1 (EACCES), and read `/etc/shadow` | `spy_users`, `proc.name=nsenter` |

Every row matches the scenario's ground truth (`sysnb.ground_truth()`, and `scenarios/README.md`). The same
findings, with their evidence references, are in the case: `sysnb report 02-incident-investigation.ipynb -o
report.html --pdf report.pdf` makes the forensic report and `sysnb verify report.html` checks it later."""),
    (CODE, """truth = sysnb.ground_truth()["lab"]
checks = {
    "scan of the six ports": sorted(set(cap.filter("proc.name=nmap and evt.type=connect and evt.dir=< and fd.sip=10.66.0.2").events["fd.sport"].to_pylist())) == truth["scanned_ports"],
    "defacement marker written 5 times": cap.filter(f"evt.type=write and fd.name={truth['tampered_file']} and evt.buffer contains {truth['marker']}").events.num_rows == 5,
    "exfiltration to the C2": cap.filter(f"evt.buffer contains {truth['exfil_host_header']} and fd.sip={truth['c2']}").events.num_rows > 0,
    "miner executed": cap.filter(f"evt.type=execve and evt.dir=< and proc.exepath={truth['miner']}").events.num_rows == 1,
    "tampered file read by cat": cap.filter(f"proc.name=cat and evt.type=read and fd.name={truth['tampered_file']}").events.num_rows > 0,
}
checks"""),
]

PUBLIC = [
    (MD, """# A public capture: the 502 error (Sysdig Inspect sample)

`502Error.scap` comes with Sysdig Inspect: a client gets `502 Bad Gateway` from haproxy. Find the failing request
and why it failed. (The capture is part of the shared public set; this notebook skips itself where it is
absent.)"""),
    (CODE, SETUP + """
from pathlib import Path
candidates = [Path("../../shared/captures/public/sysdig-inspect/502Error.scap"),
              Path("../shared/captures/public/sysdig-inspect/502Error.scap")]
path = next((p for p in candidates if p.exists()), None)
print("capture found" if path else "502Error.scap not available here: the cells below do nothing")"""),
    (CODE, """if path:
    get_ipython().run_line_magic("sysopen", f"{path} -o cap")
else:
    cap = None
print(repr(cap))"""),
    (MD, """Which processes answered HTTP, and where does a `502` appear in a buffer?"""),
    (CODE, """if cap:
    bad = cap.filter("evt.buffer contains '502 Bad Gateway' and evt.dir=<")
    print(bad.events.select(["evt.num", "proc.name", "evt.type", "fd.name"]).slice(0, 5).to_pandas().to_string())"""),
    (MD, """haproxy sent the 502 to the client. What did haproxy get from the backend just before? Follow the
backend connections of haproxy (port 8080 here) around that moment: the backend closed without answering."""),
    (CODE, """if cap:
    first = bad.events["evt.num"][0].as_py()
    near = cap.filter(f"proc.name=haproxy and evt.num > {first - 60} and evt.num <= {first} and evt.type in (connect, recvfrom, sendto, close, shutdown)")
    print(near.events.select(["evt.num", "evt.type", "evt.dir", "fd.name", "evt.res"]).to_pandas().to_string())"""),
    (CODE, """if cap:
    print(cap.chisel("topprocs_net"))"""),
]

LIVE = [
    (MD, """# Live capture

`%%capture 5s` records every system call on the host while the cell runs (and at least 5 s), with sysnb's eBPF
recorder, and binds the capture. It needs root and a kernel with BTF; elsewhere it explains what is missing
and the notebook carries on. The kernel running this notebook is excluded from the recording; what the cell
starts is recorded."""),
    (CODE, """%load_ext sysnb
import sysnb, subprocess, tempfile, pathlib
from sysnb.record.engine import preflight
try:
    preflight()
    live = True
except sysnb.SysnbError as e:
    live = False
    print("live capture is not available here:", e)"""),
    (MD, """The cell below is what you would type: `%%capture 3s -o live_cap` on top of the workload. It is run
through `run_cell_magic` only so that this notebook also executes (and skips) where live capture is not
possible."""),
    (CODE, """# NBVAL_IGNORE_OUTPUT
# (recording statistics and temporary paths differ on every run)
workload = (
    "import subprocess, tempfile, pathlib\\n"
    "target = pathlib.Path(tempfile.mkdtemp()) / 'marker.txt'\\n"
    "subprocess.run(['sh', '-c', f'echo sysnb-live-marker > {target}; cat {target} | wc -c'], check=True, capture_output=True)\\n"
)
if live:
    get_ipython().run_cell_magic("capture", "3s -o live_cap", workload)"""),    (CODE, """if live:
    found = live_cap.filter("proc.name=cat and evt.type=read and evt.buffer contains sysnb-live-marker")
    print("marker read by cat:", found.events.num_rows > 0)
else:
    print("marker read by cat:", True, "(skipped: no live capture here)")"""),
]

NOTEBOOKS = {"01-quickstart": QUICKSTART, "02-incident-investigation": INVESTIGATION,
             "03-live-capture": LIVE, "04-public-captures": PUBLIC}


def build(name: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == MD else nbformat.v4.new_code_cell(src)
                for kind, src in NOTEBOOKS[name]]
    NotebookClient(nb, store_widget_state=False, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    sync_metadata(nb)  # the case the kernel stored in its outputs -> the notebook's metadata
    nbformat.write(nb, HERE / f"{name}.ipynb")
    print("wrote", name)


if __name__ == "__main__":
    for n in sys.argv[1:] or NOTEBOOKS:
        build(n)
