"""Address inference and role guessing for sockets (libsinsp semantics) and the one place sysnb differs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED
from goldens import run_cli

from sysnb.scap.blocks import InterfaceEntry
from sysnb.state import model as M
from sysnb.state.model import Fd, Proc
from sysnb.state.network import Interfaces, guess_role

IFACES = Interfaces([InterfaceEntry("lo", 1, "127.0.0.1", "255.0.0.0"),
                     InterfaceEntry("eth0", 1, "192.168.128.156", "255.255.255.0")])


def _sock(sip: str, sport: int, dip: str, dport: int) -> Fd:
    fd = Fd(M.FD_IPV4_SOCK)
    fd.sip, fd.sport, fd.dip, fd.dport = sip, sport, dip, dport
    fd.name = M.tuple_name(sip, sport, dip, dport)
    return fd


@pytest.mark.parametrize(("dip", "want"), [
    ("127.0.0.1", "127.0.0.1"),        # the interface with that very address
    ("192.168.128.7", "192.168.128.156"),  # same subnet
    ("8.8.8.8", "192.168.128.156"),    # else the first non-loopback interface
])
def test_unspecified_source_comes_from_the_interfaces(dip: str, want: str) -> None:
    fd = _sock("0.0.0.0", 5000, dip, 53)
    IFACES.update_fd(fd)
    assert fd.sip == want and fd.name == f"{want}:5000->{dip}:53"


def test_role_is_server_when_bound_to_the_peer_port() -> None:
    proc = Proc("/")
    listener = Fd(M.FD_IPV4_SERVSOCK)
    listener.sip, listener.sport = "0.0.0.0", 53
    proc.fds[3] = listener
    assert guess_role(proc, _sock("10.0.0.1", 40000, "10.0.0.2", 53)) == M.ROLE_SERVER
    assert guess_role(proc, _sock("10.0.0.1", 40000, "10.0.0.2", 80)) == M.ROLE_CLIENT


ERR502 = SHARED / "sysdig-inspect" / "502Error.scap"


@pytest.mark.skipif(not ERR502.exists(), reason=f"{ERR502} not present (../shared is only in CI)")
def test_intended_difference_udp_server_socket_keeps_real_addresses(tmp_path: Path) -> None:
    """haproxy's syslog socket is bound to 0.0.0.0:55441 and sends to 127.0.0.1:514. sysdig 0.29.3 reads the
    bound address back through a C union and prints 192.168.128.156:55441->145.216.3.255:514 (145.216.3.255
    is the port 55441's bytes and the protocol byte); sysnb prints the real connection."""
    _, out = run_cli(["-r", str(ERR502), "-n", "1500"])
    line = next(x for x in out.splitlines() if x.startswith("1450 "))
    assert "fd=8(<4u>127.0.0.1:55441->127.0.0.1:514)" in line
