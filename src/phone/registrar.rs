//! Who is registered here: role -> the phones that answer for it, and the
//! digest check (RFC 2617/3261 §22, MD5 with qop=auth, as every phone
//! speaks it) when passwords are configured.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use md5::{Digest, Md5};

use super::Peer;
use crate::time::Instant;

/// Bindings held at once; a REGISTER beyond it is refused (503).
pub const MAX_BINDINGS: usize = 64;
/// Phones registered for one role (each rings on a call).
pub const MAX_PER_ROLE: usize = 4;
/// Nonces outstanding; the oldest is forgotten first.
const MAX_NONCES: usize = 32;
/// How long a nonce is good for.
const NONCE_LIFE: Duration = Duration::from_secs(300);
pub const REALM: &str = "callsign";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub role: String,
    /// The Contact URI the phone gave.
    pub contact: String,
    /// Where its requests come from: where ours go (it may be behind NAT
    /// or use a port other than its Contact's).
    pub peer: Peer,
    /// Our address as the phone reaches it (Contact, Via, SDP).
    pub local: SocketAddr,
    pub expires: Instant,
}

#[derive(Debug, Default)]
pub struct Registrar {
    /// (role, contact) -> binding.
    bindings: BTreeMap<(String, String), Binding>,
    nonces: BTreeMap<String, Instant>,
}

/// What a REGISTER did to the role's bindings.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// The role had no binding before.
    First,
    Refreshed,
    /// The role's last binding went away.
    Last,
    Removed,
    Full,
}

impl Registrar {
    pub fn bindings(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values()
    }

    pub fn of_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a Binding> + 'a {
        self.bindings.values().filter(move |b| b.role == role)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.of_role(role).next().is_some()
    }

    /// Whether requests from `peer` come from a phone registered as `role`.
    pub fn is_registered(&self, role: &str, peer: &Peer) -> bool {
        self.of_role(role).any(|b| b.peer.addr == peer.addr)
    }

    /// Add or refresh a binding. A phone that registers again from the
    /// same address with a new Contact (a restart) replaces its old one;
    /// a role at [`MAX_PER_ROLE`] loses its binding that expires first,
    /// so the newest phones of a role are the ones rung.
    pub fn upsert(&mut self, b: Binding) -> Change {
        let key = (b.role.clone(), b.contact.clone());
        let first = !self.has_role(&b.role);
        if !self.bindings.contains_key(&key) {
            self.bindings
                .retain(|(r, _), old| !(*r == b.role && old.peer == b.peer));
            if self.of_role(&b.role).count() >= MAX_PER_ROLE
                && let Some(k) = self
                    .bindings
                    .iter()
                    .filter(|((r, _), _)| *r == b.role)
                    .min_by_key(|(_, old)| old.expires)
                    .map(|(k, _)| k.clone())
            {
                self.bindings.remove(&k);
            }
            if self.bindings.len() >= MAX_BINDINGS {
                return Change::Full;
            }
        }
        self.bindings.insert(key, b);
        if first {
            Change::First
        } else {
            Change::Refreshed
        }
    }

    /// Remove one contact of a role, or all of them (`None`).
    pub fn remove(&mut self, role: &str, contact: Option<&str>) -> Change {
        self.bindings
            .retain(|(r, c), _| !(r == role && contact.is_none_or(|x| x == c)));
        if self.has_role(role) {
            Change::Removed
        } else {
            Change::Last
        }
    }

    /// Drop expired bindings; returns the roles left with none.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let gone: Vec<String> = self
            .bindings
            .values()
            .filter(|b| b.expires <= now)
            .map(|b| b.role.clone())
            .collect();
        self.bindings.retain(|_, b| b.expires > now);
        let mut roles: Vec<String> = gone.into_iter().filter(|r| !self.has_role(r)).collect();
        roles.dedup();
        roles
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.bindings.values().map(|b| b.expires).min()
    }

    /// A fresh nonce for a 401 challenge.
    pub fn challenge(&mut self, now: Instant, random: u64) -> String {
        let nonce = format!("{random:016x}{:x}", now.as_micros());
        self.nonces
            .retain(|_, t| now.saturating_since(*t) < NONCE_LIFE);
        while self.nonces.len() >= MAX_NONCES {
            let Some(k) = self
                .nonces
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.nonces.remove(&k);
        }
        self.nonces.insert(nonce.clone(), now);
        nonce
    }

    /// Check an Authorization header for `user` with `password`.
    pub fn verify(
        &self,
        now: Instant,
        method: &str,
        header: &str,
        user: &str,
        password: &str,
    ) -> bool {
        let Some(params) = header.trim().strip_prefix("Digest") else {
            return false;
        };
        let get = |k: &str| digest_param(params, k);
        let (Some(username), Some(nonce), Some(uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return false;
        };
        let fresh = self
            .nonces
            .get(nonce.as_str())
            .is_some_and(|t| now.saturating_since(*t) < NONCE_LIFE);
        if username != user || !fresh || get("realm").as_deref() != Some(REALM) {
            return false;
        }
        let ha1 = md5_hex(&format!("{user}:{REALM}:{password}"));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let want = match (get("qop"), get("nc"), get("cnonce")) {
            (Some(qop), Some(nc), Some(cnonce)) if qop == "auth" => {
                md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
            }
            (None, _, _) => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
            _ => return false,
        };
        // Constant time: a compare that stops at the first wrong byte
        // tells a guesser how many leading bytes were right.
        use subtle::ConstantTimeEq;
        let response = response.to_ascii_lowercase();
        bool::from(want.as_bytes().ct_eq(response.as_bytes()))
    }
}

pub fn www_authenticate(nonce: &str) -> String {
    format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"")
}

/// A parameter of a Digest header: `k="v"` or `k=v`, comma-separated.
fn digest_param(params: &str, key: &str) -> Option<String> {
    params.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

pub fn md5_hex(s: &str) -> String {
    crate::session::sdp::hex(&Md5::digest(s.as_bytes()))
}

/// The expiry a REGISTER asks for: the Contact's `expires`, else the
/// Expires header, else 3600 (RFC 3261 §10.2.1.1), clamped to our range.
pub fn requested_expiry(contact_expires: Option<u32>, expires: Option<u32>) -> u32 {
    contact_expires.or(expires).unwrap_or(3600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ms;

    #[test]
    fn rfc2617_example_response() {
        // RFC 2617 §3.5, with this realm's parameters recomputed.
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let r = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn digest_accepts_the_right_password_only() {
        let mut r = Registrar::default();
        let now = Instant::ZERO + ms(1000);
        let nonce = r.challenge(now, 42);
        let ha1 = md5_hex(&format!("medic-12:{REALM}:s3cret"));
        let ha2 = md5_hex("REGISTER:sip:mesh");
        let resp = md5_hex(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
        let h = format!(
            "Digest username=\"medic-12\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:mesh\", response=\"{resp}\", qop=auth, nc=00000001, cnonce=\"abc\""
        );
        assert!(r.verify(now, "REGISTER", &h, "medic-12", "s3cret"));
        assert!(!r.verify(now, "REGISTER", &h, "medic-12", "wrong"));
        assert!(!r.verify(now, "REGISTER", &h, "engine-3", "s3cret"));
        assert!(!r.verify(now + ms(400_000), "REGISTER", &h, "medic-12", "s3cret"));
    }

    #[test]
    fn bindings_are_bounded_per_role() {
        let mut r = Registrar::default();
        let b = |c: &str, port: u16, secs: u64| Binding {
            role: "medic-12".into(),
            contact: c.into(),
            peer: Peer::udp(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
            local: "127.0.0.1:5060".parse().unwrap(),
            expires: Instant::ZERO + ms(secs * 1000),
        };
        assert_eq!(r.upsert(b("sip:a@x", 5070, 60)), Change::First);
        assert_eq!(r.upsert(b("sip:a@x", 5070, 60)), Change::Refreshed);
        // The same phone with a new Contact replaces its old binding.
        assert_eq!(r.upsert(b("sip:a2@x", 5070, 61)), Change::Refreshed);
        assert_eq!(r.of_role("medic-12").count(), 1);
        for i in 0..3u16 {
            r.upsert(b(&format!("sip:{i}@x"), 6000 + i, 62 + u64::from(i)));
        }
        assert_eq!(r.of_role("medic-12").count(), MAX_PER_ROLE);
        // One more: the binding that expires first goes.
        r.upsert(b("sip:more@x", 7000, 90));
        assert_eq!(r.of_role("medic-12").count(), MAX_PER_ROLE);
        assert!(!r.of_role("medic-12").any(|x| x.contact == "sip:a2@x"));
        assert_eq!(
            r.expire(Instant::ZERO + ms(90_000)),
            vec!["medic-12".to_string()]
        );
        assert!(!r.has_role("medic-12"));
    }
}
