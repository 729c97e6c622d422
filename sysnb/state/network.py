"""Socket address inference, as libsinsp does it.

* An IPv4 tuple with an unspecified (0.0.0.0) side gets that side from the host's
  interface list: the interface whose address equals the other side, else the one
  on the same subnet, else the first non-loopback one (sinsp_network_interfaces).
* A socket that sends or receives before it has a role is a server when its
  process has a server socket bound to the peer port, else a client
  (set_net_role_by_guessing, without its "wild-ass guess" branch for port reuse).
"""

from __future__ import annotations

import ipaddress

from sysnb.scap.blocks import InterfaceEntry
from sysnb.state import model as M
from sysnb.state.model import Fd, Proc

_LOOPBACK = int(ipaddress.IPv4Address("127.0.0.1"))


class Interfaces:
    """The IPv4 interfaces of the captured host (address, netmask as integers)."""

    def __init__(self, entries: list[InterfaceEntry] | None = None) -> None:
        self.v4: list[tuple[int, int]] = []
        for e in entries or []:
            if e.family in (1, 3) and e.netmask:
                self.v4.append((int(ipaddress.IPv4Address(e.addr)), int(ipaddress.IPv4Address(e.netmask))))

    def infer_ipv4(self, dest: int) -> int:
        for addr, _ in self.v4:
            if addr == dest:
                return addr
        for addr, mask in self.v4:
            if addr & mask == dest & mask:
                return addr
        for addr, _ in self.v4:
            if addr != _LOOPBACK:
                return addr
        return 0

    def update_fd(self, fd: Fd) -> None:
        """Fill an unspecified side of an IPv4 tuple (sinsp_network_interfaces::update_fd)."""
        if fd.type != M.FD_IPV4_SOCK or not self.v4 or fd.sip is None or fd.dip is None:
            return
        sip, dip = int(ipaddress.IPv4Address(fd.sip)), int(ipaddress.IPv4Address(fd.dip))
        if sip and dip:
            return
        if not sip:
            new = self.infer_ipv4(dip)
            if new == dip and fd.sport == fd.dport:
                return
            fd.sip = str(ipaddress.IPv4Address(new))
        else:
            new = self.infer_ipv4(sip)
            if new == sip and fd.sport == fd.dport:
                return
            fd.dip = str(ipaddress.IPv4Address(new))
        fd.name = M.tuple_name(fd.sip, fd.sport, fd.dip, fd.dport)
        fd.snap = -1


def guess_role(proc: Proc, fd: Fd) -> int:
    """Server when the process has a server socket bound to the peer's port, else client."""
    for other in proc.fds.values():
        if other.type in (M.FD_IPV4_SERVSOCK, M.FD_IPV6_SERVSOCK) and other.sport == fd.dport:
            return M.ROLE_SERVER
    return M.ROLE_CLIENT
