//! Which interfaces the daemon uses, found by polling the kernel's address
//! list (if-addrs, netlink underneath). Polling once a second is enough: a
//! radio that comes up is used within a second, and a vanished one is also
//! noticed by neighbour timeouts in the core.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A usable interface as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceInfo {
    pub name: String,
    pub index: u32,
    /// An IPv6 link-local address (fe80::/10): we speak IPv6 multicast.
    pub link_local: Option<Ipv6Addr>,
    /// An IPv4 address and its broadcast address: the fallback.
    pub v4: Option<(Ipv4Addr, Ipv4Addr)>,
}

impl IfaceInfo {
    /// The interface is used over IPv6 when it has a link-local address,
    /// over IPv4 broadcast only when that is all there is.
    pub fn uses_v6(&self) -> bool {
        self.link_local.is_some()
    }
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// Usable interfaces now, by kernel index. `only` restricts by name (empty:
/// all). Loopback and interfaces that are down are skipped.
pub fn scan(only: &[String]) -> std::io::Result<BTreeMap<u32, IfaceInfo>> {
    let mut out: BTreeMap<u32, IfaceInfo> = BTreeMap::new();
    for ifa in if_addrs::get_if_addrs()? {
        if ifa.is_loopback() || !only.is_empty() && !only.contains(&ifa.name) {
            continue;
        }
        // Unknown is what veth and many drivers report while working.
        if !matches!(
            ifa.oper_status,
            if_addrs::IfOperStatus::Up | if_addrs::IfOperStatus::Unknown
        ) {
            continue;
        }
        let Some(index) = ifa.index else { continue };
        let entry = out.entry(index).or_insert_with(|| IfaceInfo {
            name: ifa.name.clone(),
            index,
            link_local: None,
            v4: None,
        });
        match &ifa.addr {
            if_addrs::IfAddr::V6(a) if is_link_local(&a.ip) => {
                entry.link_local.get_or_insert(a.ip);
            }
            if_addrs::IfAddr::V4(a) => {
                if let Some(b) = a.broadcast {
                    entry.v4.get_or_insert((a.ip, b));
                }
            }
            _ => {}
        }
    }
    out.retain(|_, i| i.link_local.is_some() || i.v4.is_some());
    Ok(out)
}
