//! Secured mode in the node: the MAC trailer on every link-local packet,
//! the enrolment gate, and certificates exchanged with new neighbours.
//!
//! # What changes in secured mode
//!
//! - **Every link-local packet** (hello, update, request, ack, names,
//!   cert) is sealed with [`MacState::seal`] when it is queued
//!   ([`Node::send_link`]) and opened with [`MacState::open`] before its
//!   header is trusted on receipt. A packet without a valid trailer, or
//!   with a counter already seen, is dropped and counted in
//!   [`super::Stats::rx_auth_failed`]: an outsider without the incident
//!   key can neither inject nor replay hellos or routes. Routed packets
//!   (data, flood) carry no trailer: they are only taken from neighbours,
//!   and neighbours exist only by authenticated hellos.
//! - **The enrolment gate.** An authenticated packet from a NodeId the
//!   trust policy does not know as enrolled is dropped
//!   ([`super::Stats::rx_unenrolled`]), except certificate packets: such a
//!   node never becomes a neighbour, so its routes are never candidates
//!   and it is never a next hop; its records are refused by the directory
//!   for want of a certificate.
//! - **Certificates** ride with directory records (`PushEntry::cert`) and
//!   in a [`CertMsg`] sent by unicast when an unknown NodeId speaks to us
//!   (with `want` set, so it answers with its own). One round trip per
//!   new neighbour; hellos stay small. Sends to one NodeId are spaced by
//!   a gap that doubles from [`CERT_GAP_MIN`] to [`CERT_GAP_MAX`] while
//!   it stays unknown, so a device without a certificate costs a few
//!   hundred bytes a minute, not a certificate per hello.
//!
//! Revocations are taken here too (`node/revoke.rs`): a revoked device
//! is not enrolled, and its packets count in [`super::Stats::rx_revoked`].
//!
//! Open mode is untouched: no trailer, and cert and revoke packets are
//! ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Event, IfaceId, LinkDst, Node};
use crate::identity::NodeId;
use crate::time::Instant;
use crate::trust::{MacState, Secured};
use crate::wire::control::{self, CertMsg};
use crate::wire::{PacketType, WireError, flags};

/// First gap between certificate packets to one NodeId.
pub const CERT_GAP_MIN: Duration = Duration::from_secs(1);
/// Largest gap (reached after five unanswered sends).
pub const CERT_GAP_MAX: Duration = Duration::from_secs(32);
/// NodeIds whose certificate-packet spacing is remembered. At the limit
/// the one whose next send was allowed earliest (the longest quiet) is
/// forgotten; a forgotten unknown device may get our certificate one
/// gap sooner, nothing worse. Enrolled devices are dropped from the table
/// every second, so it holds only devices still unknown.
pub const MAX_CERT_PEERS: usize = 256;

/// The node's secured-mode state.
#[derive(Debug)]
pub(super) struct Secure {
    mac: MacState,
    /// Our chain (DER); empty when this device has no certificate (it can
    /// listen, but nobody takes its packets).
    own_chain: Vec<u8>,
    /// Per NodeId: when the next certificate packet may go, and the gap
    /// after that one.
    sent: BTreeMap<NodeId, (Instant, Duration)>,
    /// New revocations' repeats still to send: (when, revoked device).
    /// Two per revocation taken, gone within seconds; the list of
    /// revocations is bounded, so is this.
    pub(super) revoke_repeats: Vec<(Instant, NodeId)>,
}

impl Secure {
    fn may_send(&mut self, now: Instant, to: NodeId) -> bool {
        if let Some((next, gap)) = self.sent.get_mut(&to) {
            if now < *next {
                return false;
            }
            *next = now + *gap;
            *gap = (*gap * 2).min(CERT_GAP_MAX);
            return true;
        }
        if self.sent.len() >= MAX_CERT_PEERS {
            let oldest = self.sent.iter().min_by_key(|(_, v)| v.0).map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.sent.remove(&id);
            }
        }
        self.sent.insert(to, (now + CERT_GAP_MIN, CERT_GAP_MIN * 2));
        true
    }
}

impl Node {
    /// Switch to secured mode: `trust` holds the incident's roots and, if
    /// this device is enrolled, its own certificate ([`Secured::set_own`]);
    /// `mac` seals and opens link-local packets (its epoch must grow
    /// across restarts, see [`crate::trust::mac`]). Call before the first
    /// interface comes up. Fails if the own certificate is for another key.
    pub fn enable_secured(&mut self, trust: Secured, mac: MacState) -> Result<(), String> {
        let own_chain = match trust.own() {
            Some(id) if id != self.id => {
                return Err(format!(
                    "the device certificate is for {id}, not this device ({})",
                    self.id
                ));
            }
            Some(id) => trust.chain(&id).map(<[u8]>::to_vec).unwrap_or_default(),
            None => Vec::new(),
        };
        self.dir.set_trust(Box::new(trust));
        self.secure = Some(Secure {
            mac,
            own_chain,
            sent: BTreeMap::new(),
            revoke_repeats: Vec::new(),
        });
        Ok(())
    }

    /// Whether the node runs in secured mode.
    pub fn is_secured(&self) -> bool {
        self.secure.is_some()
    }

    /// Whether `id` holds a valid certificate (always true in open mode).
    pub fn is_enrolled(&self, id: &NodeId) -> bool {
        self.dir.trust().enrolled(id)
    }

    /// Seal an outgoing link-local packet (no-op in open mode).
    pub(super) fn seal(&mut self, pkt: Vec<u8>) -> Vec<u8> {
        match &mut self.secure {
            Some(s) => s.mac.seal(self.id, &pkt),
            None => pkt,
        }
    }

    /// Open a received link-local packet: the packet without its trailer,
    /// or `None` (counted) when it does not authenticate.
    pub(super) fn open<'a>(&mut self, data: &'a [u8]) -> Option<&'a [u8]> {
        let s = self.secure.as_mut()?;
        match s.mac.open(data) {
            Ok(inner) => Some(inner),
            Err(_) => {
                self.stats.rx_auth_failed += 1;
                None
            }
        }
    }

    /// An authenticated packet from `src`, not enrolled here: drop it and
    /// send our certificate, asking for its own.
    pub(super) fn unenrolled(
        &mut self,
        now: Instant,
        iface: IfaceId,
        from: SocketAddr,
        src: NodeId,
    ) {
        self.stats.rx_unenrolled += 1;
        self.send_cert(now, iface, from, src, true);
    }

    fn send_cert(&mut self, now: Instant, iface: IfaceId, to: SocketAddr, id: NodeId, want: bool) {
        let Some(s) = self.secure.as_mut() else {
            return;
        };
        if !s.may_send(now, id) {
            return;
        }
        let body = control::encode(&CertMsg {
            chain: s.own_chain.clone(),
            want,
        });
        self.send_link(
            iface,
            LinkDst::Unicast(to),
            PacketType::Cert,
            flags::UNICAST,
            0,
            &body,
        );
    }

    /// A certificate packet from `src` (already authenticated).
    pub(super) fn on_cert(
        &mut self,
        now: Instant,
        iface: IfaceId,
        from: SocketAddr,
        src: NodeId,
        body: &[u8],
    ) -> Result<(), WireError> {
        let msg: CertMsg = control::decode(body)?;
        let mut learnt = false;
        if !msg.chain.is_empty() && self.dir.trust().chain_of(&src) != Some(msg.chain.as_slice()) {
            match self.dir.trust_mut().learn_cert(&msg.chain) {
                Ok(id) if id == src => learnt = true,
                Ok(id) => {
                    self.stats.certs_refused += 1;
                    let reason = format!("it presented the certificate of {id}");
                    self.push_event(Event::CertRefused { from: src, reason });
                }
                Err(reason) => {
                    self.stats.certs_refused += 1;
                    self.push_event(Event::CertRefused { from: src, reason });
                }
            }
        }
        if learnt {
            self.stats.certs_learned += 1;
            // Its next hello is taken; let it hear ours soon.
            self.hello_soon(now, iface);
        }
        let has_own = self
            .secure
            .as_ref()
            .is_some_and(|s| !s.own_chain.is_empty());
        if msg.want && has_own {
            let want = !self.is_enrolled(&src);
            self.send_cert(now, iface, from, src, want);
        }
        Ok(())
    }

    /// Once a second: forget the spacing of devices now enrolled.
    pub(super) fn secure_housekeeping(&mut self) {
        let Some(mut s) = self.secure.take() else {
            return;
        };
        let trust = self.dir.trust();
        s.sent.retain(|id, _| !trust.enrolled(id));
        self.secure = Some(s);
    }
}
