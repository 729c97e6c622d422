//! Socket address inference, as libsinsp does it.
//!
//! * An IPv4 tuple with an unspecified (0.0.0.0) side gets that side from the host's interface list: the
//!   interface whose address equals the other side, else the one on the same subnet, else the first
//!   non-loopback one (sinsp_network_interfaces).
//! * A socket that sends or receives before it has a role is a server when its process has a server socket
//!   bound to the peer port, else a client (set_net_role_by_guessing).

use crate::blocks::{InterfaceEntry, Ip};
use crate::state::model::{fdtype as ft, tuple_name, Fd, Proc, ROLE_CLIENT, ROLE_SERVER};

const LOOPBACK: u32 = 0x7f00_0001;

#[derive(Debug, Default, Clone)]
pub struct Interfaces {
    v4: Vec<(u32, u32)>,
}

fn v4(ip: Ip) -> Option<u32> {
    match ip {
        Ip::V4(b) => Some(u32::from_be_bytes(b)),
        Ip::V6(_) => None,
    }
}

impl Interfaces {
    pub fn new(entries: &[InterfaceEntry]) -> Interfaces {
        let mut out = Interfaces::default();
        for e in entries {
            if e.family == 1 || e.family == 3 {
                if let (Some(a), Some(m)) = (v4(e.addr), v4(e.netmask)) {
                    // the Python reference skips an empty netmask text; a 4-byte netmask always has text
                    out.v4.push((a, m));
                }
            }
        }
        out
    }

    fn infer_ipv4(&self, dest: u32) -> u32 {
        if let Some(&(a, _)) = self.v4.iter().find(|(a, _)| *a == dest) {
            return a;
        }
        if let Some(&(a, _)) = self.v4.iter().find(|(a, m)| a & m == dest & m) {
            return a;
        }
        self.v4.iter().find(|(a, _)| *a != LOOPBACK).map_or(0, |&(a, _)| a)
    }

    /// Fill an unspecified side of an IPv4 tuple (sinsp_network_interfaces::update_fd). True if changed.
    pub fn update_fd(&self, fd: &mut Fd) -> bool {
        if fd.ftype != ft::IPV4_SOCK || self.v4.is_empty() {
            return false;
        }
        let (Some(sip), Some(dip)) = (fd.sip.and_then(v4), fd.dip.and_then(v4)) else {
            return false;
        };
        if sip != 0 && dip != 0 {
            return false;
        }
        if sip == 0 {
            let new = self.infer_ipv4(dip);
            if new == dip && fd.sport == fd.dport {
                return false;
            }
            fd.sip = Some(Ip::V4(new.to_be_bytes()));
        } else {
            let new = self.infer_ipv4(sip);
            if new == sip && fd.sport == fd.dport {
                return false;
            }
            fd.dip = Some(Ip::V4(new.to_be_bytes()));
        }
        fd.name = tuple_name(fd.sip, fd.sport, fd.dip, fd.dport);
        fd.snap = -1;
        true
    }
}

/// Server when the process has a server socket bound to the peer's port, else client.
pub fn guess_role(proc: &Proc, fd: &Fd) -> u8 {
    let server =
        proc.fds.values().any(|o| matches!(o.ftype, ft::IPV4_SERVSOCK | ft::IPV6_SERVSOCK) && o.sport == fd.dport);
    if server {
        ROLE_SERVER
    } else {
        ROLE_CLIENT
    }
}
