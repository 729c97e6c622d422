"""A workload with known ground truth for the live recorder tests. Prints the facts as JSON.

It opens a uniquely named file and writes a marker; talks TCP over 127.0.0.1 and ::1 and UDP over
127.0.0.1 to listeners of its own; connects to a unix socket; and execs a child with arguments.
Network traffic stays on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path


def tcp_round_trip(family: int, host: str, payload: bytes) -> dict[str, object]:
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = srv.accept()
        got.append(conn.recv(1024))
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    cli = socket.create_connection((host, port))
    cport = cli.getsockname()[1]
    cli.sendall(payload)
    t.join()
    cli.close()
    srv.close()
    assert got == [payload]
    return {"host": host, "server_port": port, "client_port": cport, "payload": payload.decode()}


def udp_round_trip(payload: bytes) -> dict[str, object]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.sendto(payload, rx.getsockname())
    data, sender = rx.recvfrom(1024)
    assert data == payload
    out = {"server_port": rx.getsockname()[1], "client_port": sender[1], "payload": payload.decode()}
    rx.close()
    tx.close()
    return out


def unix_round_trip(path: str, payload: bytes) -> dict[str, object]:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cli.connect(path)
    conn, _ = srv.accept()
    cli.sendall(payload)
    assert conn.recv(1024) == payload
    for s in (conn, cli, srv):
        s.close()
    os.unlink(path)
    return {"path": path, "payload": payload.decode()}


def main() -> None:
    tag = uuid.uuid4().hex[:12]
    path = f"/tmp/sysnb-gt-{tag}.txt"
    marker = f"SYSNB-MARKER-{tag}"
    with open(path, "w") as f:
        f.write(marker + "\n")
    with open(path) as f:
        assert f.read().strip() == marker
    facts = {
        "pid": os.getpid(), "comm": Path("/proc/self/comm").read_text().strip(), "tag": tag,
        "file": path, "marker": marker,
        "tcp4": tcp_round_trip(socket.AF_INET, "127.0.0.1", f"TCP4-PAYLOAD-{tag}".encode()),
        "tcp6": tcp_round_trip(socket.AF_INET6, "::1", f"TCP6-PAYLOAD-{tag}".encode()),
        "udp4": udp_round_trip(f"UDP4-PAYLOAD-{tag}".encode()),
        "unix": unix_round_trip(f"/tmp/sysnb-gt-{tag}.sock", f"UNIX-PAYLOAD-{tag}".encode()),
    }
    child = subprocess.run(["/bin/echo", f"child-arg-{tag}", "second"], capture_output=True, check=True)
    facts["child"] = {"exe": "/bin/echo", "args": [f"child-arg-{tag}", "second"], "out": child.stdout.decode()}
    os.unlink(path)
    json.dump(facts, sys.stdout)


if __name__ == "__main__":
    main()
