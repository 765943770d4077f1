//! The registrar's and the messaging side of the front: REGISTER (with
//! the directory claim decided by the driver), MESSAGE both ways, and the
//! 400 for what cannot be used.

use std::net::SocketAddr;

use rsip::prelude::*;

use super::msg::{self, Common};
use super::registrar::{self, Binding, Change};
use super::{Front, FrontEvent, MAX_PENDING, MAX_TEXT, Peer, Pending, PendingKind};
use crate::time::Instant;

pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REGISTER";

impl Front {
    pub(super) fn on_register(&mut self, now: Instant, peer: Peer, local: SocketAddr, c: Common) {
        let role = c.to_user.clone();
        if !crate::wire::name::valid_name(&role) {
            let w = [(
                "Warning",
                format!("399 callsign \"not a role name: {role:?}\""),
            )];
            self.respond(now, peer, &c, 403, None, &w, None);
            return;
        }
        if !self.cfg.passwords.is_empty() {
            let Some(pw) = self.cfg.passwords.get(&role).cloned() else {
                let w = [(
                    "Warning",
                    "399 callsign \"no password for this role\"".to_string(),
                )];
                self.respond(now, peer, &c, 403, None, &w, None);
                return;
            };
            let ok = c
                .authorization
                .as_deref()
                .is_some_and(|a| self.reg.verify(now, "REGISTER", a, &role, &pw));
            if !ok {
                let nonce = self.reg.challenge(now, self.rng.next_u64());
                let h = [("WWW-Authenticate", registrar::www_authenticate(&nonce))];
                // Not cached: the retry carries credentials on a new branch.
                let bytes = msg::response(&c, peer.addr, 401, Some("auth"), &h, None);
                self.transmit(peer, bytes);
                return;
            }
        }
        if c.contact_star {
            if self.reg.remove(&role, None) == Change::Last {
                self.event(FrontEvent::Released { role: role.clone() });
            }
            self.respond(now, peer, &c, 200, None, &[], None);
            return;
        }
        let Some(contact) = c.contact.clone() else {
            // A query: list the bindings.
            let extra: Vec<(&str, String)> = self
                .reg
                .of_role(&role)
                .map(|b| {
                    let left = b.expires.saturating_since(now).as_secs();
                    ("Contact", format!("<{}>;expires={left}", b.contact))
                })
                .collect();
            self.respond(now, peer, &c, 200, None, &extra, None);
            return;
        };
        let asked = registrar::requested_expiry(c.contact_expires, c.expires);
        if asked == 0 {
            if self.reg.remove(&role, Some(&contact)) == Change::Last {
                self.event(FrontEvent::Released { role: role.clone() });
            }
            self.respond(now, peer, &c, 200, None, &[], None);
            return;
        }
        let expires = asked.clamp(self.cfg.min_expires, self.cfg.max_expires);
        if self.reg.has_role(&role) {
            self.bind(now, peer, local, &c, role, contact, expires);
            return;
        }
        // A role new to this daemon: the directory must agree first.
        if self.pending.len() >= MAX_PENDING {
            self.respond(now, peer, &c, 503, None, &[], None);
            return;
        }
        let txn = self.txn();
        self.pending.insert(
            txn,
            Pending {
                peer,
                req: c,
                kind: PendingKind::Register {
                    role: role.clone(),
                    contact,
                    expires,
                },
                local,
            },
        );
        self.event(FrontEvent::Claim { txn, role });
    }

    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        now: Instant,
        peer: Peer,
        local: SocketAddr,
        c: &Common,
        role: String,
        contact: String,
        expires: u32,
    ) {
        let b = Binding {
            role,
            contact: contact.clone(),
            peer,
            local,
            expires: now + std::time::Duration::from_secs(u64::from(expires)),
        };
        if self.reg.upsert(b) == Change::Full {
            self.respond(now, peer, c, 503, None, &[], None);
            return;
        }
        let extra = [
            ("Contact", format!("<{contact}>;expires={expires}")),
            ("Expires", expires.to_string()),
        ];
        self.respond(now, peer, c, 200, None, &extra, None);
    }

    /// The driver's decision on a REGISTER claim or a MESSAGE: `Ok` is 200
    /// (the binding is made), `Err((code, why))` the failure response.
    pub fn complete(&mut self, now: Instant, txn: u64, r: Result<(), (u16, String)>) {
        let Some(p) = self.pending.remove(&txn) else {
            return;
        };
        match (r, p.kind) {
            (
                Ok(()),
                PendingKind::Register {
                    role,
                    contact,
                    expires,
                },
            ) => self.bind(now, p.peer, p.local, &p.req, role, contact, expires),
            (Ok(()), PendingKind::Message) => {
                self.respond(now, p.peer, &p.req, 200, None, &[], None)
            }
            (Err((code, why)), _) => {
                let code = if (400..=699).contains(&code) {
                    code
                } else {
                    500
                };
                let w = [(
                    "Warning",
                    format!("399 callsign \"{}\"", why.replace('"', "'")),
                )];
                self.respond(now, p.peer, &p.req, code, None, &w, None);
            }
        }
    }

    pub(super) fn on_message(
        &mut self,
        now: Instant,
        peer: Peer,
        local: SocketAddr,
        uri_user: Option<String>,
        c: Common,
    ) {
        if !self.reg.is_registered(&c.from_user, &peer) {
            let w = [("Warning", "399 callsign \"register first\"".to_string())];
            self.respond(now, peer, &c, 403, None, &w, None);
            return;
        }
        let ctype = c.content_type.as_deref().unwrap_or("text/plain");
        if !ctype.to_ascii_lowercase().starts_with("text/plain") {
            let a = [("Accept", "text/plain".to_string())];
            self.respond(now, peer, &c, 415, None, &a, None);
            return;
        }
        if c.body.len() > MAX_TEXT {
            self.respond(now, peer, &c, 413, None, &[], None);
            return;
        }
        let Ok(text) = String::from_utf8(c.body.clone()) else {
            self.respond(now, peer, &c, 400, None, &[], None);
            return;
        };
        let to = uri_user.unwrap_or_else(|| c.to_user.clone());
        if self.pending.len() >= MAX_PENDING {
            self.respond(now, peer, &c, 503, None, &[], None);
            return;
        }
        let txn = self.txn();
        let from = c.from_user.clone();
        self.pending.insert(
            txn,
            Pending {
                peer,
                req: c,
                kind: PendingKind::Message,
                local,
            },
        );
        self.event(FrontEvent::Message {
            txn,
            from,
            to,
            text,
        });
    }

    /// Deliver a text to the phones of `role` (each gets a MESSAGE); the
    /// answer of each comes as `MessageResult` with the returned txn.
    pub fn message(&mut self, now: Instant, role: &str, from: &str, text: &str) -> Vec<u64> {
        let targets: Vec<Binding> = self.reg.of_role(role).cloned().collect();
        let mut txns = Vec::new();
        for b in targets {
            let txn = self.txn();
            let branch = self.branch();
            let tag = self.tag();
            let call_id = format!("{:016x}@callsign", self.rng.next_u64());
            let from_h = format!("<sip:{from}@mesh>;tag={tag}");
            let to_h = format!("<sip:{role}@mesh>");
            let bytes = msg::request(
                &msg::Request {
                    method: "MESSAGE",
                    uri: &b.contact,
                    via: b.peer.via(b.local, &branch),
                    from: &from_h,
                    to: &to_h,
                    call_id: &call_id,
                    cseq: 1,
                    contact: None,
                },
                &[],
                Some(("text/plain;charset=UTF-8", text.as_bytes())),
            );
            self.send_client(now, b.peer, branch, bytes, Some(txn));
            txns.push(txn);
        }
        txns
    }
}

/// A 400 for a request rsip parses but the front refused, echoing the
/// headers a response needs; `None` (drop it) when they are not there.
pub(super) fn bad_request(bytes: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
    let m = rsip::SipMessage::try_from(bytes).ok()?;
    let rsip::SipMessage::Request(r) = m else {
        return None;
    };
    if r.method == rsip::Method::Ack {
        return None;
    }
    let via = r.via_header().ok()?.value().trim().to_string();
    if via.is_empty() {
        return None;
    }
    let c = Common {
        vias: vec![via],
        branch: String::new(),
        from: r.from_header().ok()?.value().trim().to_string(),
        from_user: String::new(),
        from_tag: None,
        to: r.to_header().ok()?.value().trim().to_string(),
        to_user: String::new(),
        to_tag: Some(String::new()),
        call_id: r.call_id_header().ok()?.value().trim().to_string(),
        cseq: 0,
        cseq_method: String::new(),
        contact: None,
        contact_expires: None,
        contact_star: false,
        expires: None,
        authorization: None,
        content_type: None,
        body: Vec::new(),
    };
    let cseq = r.cseq_header().ok()?.value().trim().to_string();
    let mut out = msg::response(&c, from, 400, None, &[], None);
    // The CSeq as it came, not the placeholder.
    let text = String::from_utf8(out).ok()?;
    let fixed = text.replacen("CSeq: 0 \r\n", &format!("CSeq: {cseq}\r\n"), 1);
    out = fixed.into_bytes();
    Some(out)
}
