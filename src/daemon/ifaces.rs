//! Which interfaces the daemon uses, found by polling the kernel's address
//! list (if-addrs, netlink underneath). Polling once a second is enough: a
//! radio that comes up is used within a second, and a vanished one is also
//! noticed by neighbour timeouts in the core.
//!
//! With no `--iface` list every usable interface is joined except those
//! that are never an incident radio: loopback, container bridges and their
//! veth ends, VPN tunnels ([`DEFAULT_EXCLUDE`]), plus the operator's
//! `--exclude-iface` patterns. An interface named in `--iface` is used
//! whatever the defaults say (a test rig's veth, a VPN on purpose).

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

/// Interfaces left out unless named in `--iface`: loopback, Docker and
/// libvirt bridges, container veth ends, VPN tunnels (OpenVPN/WireGuard/
/// Tailscale/ZeroTier). A VPN is a way to the station, not a radio
/// neighbour; beacons sent into it reach nobody useful.
pub const DEFAULT_EXCLUDE: &[&str] = &[
    "lo",
    "docker*",
    "br-*",
    "veth*",
    "virbr*",
    "cni*",
    "flannel*",
    "tun*",
    "tap*",
    "wg*",
    "tailscale*",
    "zt*",
];

/// Which interfaces to use: the `--iface` names (empty: all) and the
/// patterns to leave out (`*` and `?` wildcards).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfaceSelect {
    pub only: Vec<String>,
    pub exclude: Vec<String>,
}

impl IfaceSelect {
    /// `only` as given; `exclude` is the operator's patterns, plus the
    /// defaults when no interface is named.
    pub fn new(only: Vec<String>, mut exclude: Vec<String>) -> IfaceSelect {
        if only.is_empty() {
            exclude.extend(DEFAULT_EXCLUDE.iter().map(|s| s.to_string()));
        }
        IfaceSelect { only, exclude }
    }

    /// Why `name` is not used, or None when it may be.
    pub fn refuses(&self, name: &str) -> Option<String> {
        if !self.only.is_empty() && !self.only.iter().any(|o| o == name) {
            return Some("not in --iface".into());
        }
        self.exclude
            .iter()
            .find(|p| glob(p, name))
            .map(|p| format!("excluded by {p:?}"))
    }
}

/// The `--iface` names, so callers can iterate the selection as a list.
impl<'a> IntoIterator for &'a IfaceSelect {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.only.iter()
    }
}

/// Shell-style match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// Usable interfaces now, by kernel index: selected by `sel`, up, with
/// an address. Loopback is never used.
pub fn scan(sel: &IfaceSelect) -> std::io::Result<BTreeMap<u32, IfaceInfo>> {
    let mut out: BTreeMap<u32, IfaceInfo> = BTreeMap::new();
    for ifa in if_addrs::get_if_addrs()? {
        if ifa.is_loopback() || sel.refuses(&ifa.name).is_some() {
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

/// Every interface the kernel lists with the reason it is not used (None:
/// usable), for the warning when nothing is: an operator must see at once
/// that `wlan0` is down or that a pattern excluded it.
pub fn explain(sel: &IfaceSelect) -> Vec<(String, Option<String>)> {
    let Ok(all) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut seen: BTreeMap<String, Option<String>> = BTreeMap::new();
    for ifa in &all {
        let why = if ifa.is_loopback() {
            Some("loopback".to_string())
        } else if let Some(r) = sel.refuses(&ifa.name) {
            Some(r)
        } else if !matches!(
            ifa.oper_status,
            if_addrs::IfOperStatus::Up | if_addrs::IfOperStatus::Unknown
        ) {
            Some("down (no carrier, or a radio not yet joined)".into())
        } else {
            match &ifa.addr {
                if_addrs::IfAddr::V6(a) if is_link_local(&a.ip) => None,
                if_addrs::IfAddr::V4(a) if a.broadcast.is_some() => None,
                _ => Some("no IPv6 link-local address nor IPv4 broadcast".into()),
            }
        };
        // One usable address makes the interface usable.
        let e = seen.entry(ifa.name.clone()).or_insert(why.clone());
        if why.is_none() {
            *e = None;
        }
    }
    for want in &sel.only {
        seen.entry(want.clone())
            .or_insert_with(|| Some("absent, or up without any address".into()));
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("docker*", "docker0"));
        assert!(glob("br-*", "br-3f2a"));
        assert!(!glob("br-*", "bridge0"));
        assert!(glob("wlan?", "wlan1"));
        assert!(!glob("wlan?", "wlan10"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("lo", "lo") && !glob("lo", "lo0"));
    }

    #[test]
    fn defaults_apply_only_without_a_list() {
        let auto = IfaceSelect::new(vec![], vec!["eth2".into()]);
        assert_eq!(auto.refuses("wlan0"), None);
        assert!(auto.refuses("docker0").is_some());
        assert!(auto.refuses("veth12ab").is_some());
        assert!(auto.refuses("wg0").is_some());
        assert!(auto.refuses("tun0").is_some());
        assert_eq!(
            auto.refuses("eth2").as_deref(),
            Some("excluded by \"eth2\"")
        );
        // Named on purpose: a test rig's veth is used.
        let named = IfaceSelect::new(vec!["veth0".into(), "wlan0".into()], vec![]);
        assert_eq!(named.refuses("veth0"), None);
        assert_eq!(named.refuses("eth0").as_deref(), Some("not in --iface"));
        let listed: Vec<&String> = (&named).into_iter().collect();
        assert_eq!(listed, ["veth0", "wlan0"]);
    }
}
