//! Revocation in the node: taking a root's revocation of a device
//! ([`crate::trust::revoke`]), shutting the device out, and passing the
//! revocation on to every neighbour.
//!
//! # Spread
//!
//! A revocation rides a link-local [`PacketType::Revoke`] packet (MAC'd
//! like every link-local packet in secured mode), multicast on every
//! interface as soon as it is new here, and again [`REPEAT_AFTER`] later
//! for a lost copy; a known one is not passed on, so each node sends each
//! revocation at most `1 + REPEAT_AFTER.len()` times per interface. A new
//! neighbour gets every revocation held, by unicast behind other traffic,
//! so a node that was away (or restarted with an empty list) catches up
//! in one exchange. The signature is checked against the trust roots
//! before anything is stored or passed on ([`crate::trust::Secured::revoke`]);
//! an invalid one is counted and dropped.
//!
//! # Shut-out
//!
//! From the moment a revocation is taken, the device is not enrolled
//! here: its link-local packets are refused ([`super::Stats::rx_revoked`])
//! and it is dropped as a neighbour (routes through it go with it); every
//! route to it is withdrawn and updates offering one are ignored; its
//! directory records are dropped and refused
//! (`names::Stats::records_revoked`); data and floods it originated
//! (talkgroup voice and floor messages are floods) are neither delivered
//! nor relayed ([`super::Stats::rx_revoked_data`],
//! [`super::Stats::rx_revoked_flood`]); its certificate is refused.

use std::time::Duration;

use super::{Event, LinkDst, LinkKey, Node};
use crate::identity::NodeId;
use crate::time::Instant;
use crate::wire::{PacketType, flags};

/// A new revocation is multicast at once and again after each of these
/// (from when it was taken), for a copy lost on the air.
pub const REPEAT_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];

impl Node {
    /// Take a revocation (the bytes `callsign ca revoke` wrote), from the
    /// operator or a neighbour. Returns the revoked NodeId when it is new
    /// here (the device is shut out and the revocation passed on, and
    /// [`Event::Revoked`] tells the driver to persist it), `None` when it
    /// was known. Refused in open mode, and when it is malformed, not
    /// signed by a trust root, or the list is full.
    pub fn add_revocation(&mut self, now: Instant, bytes: &[u8]) -> Result<Option<NodeId>, String> {
        if self.secure.is_none() {
            return Err("revocations need secured mode (up --trust-root ... --cert ...)".into());
        }
        let id = match self.dir.trust_mut().revoke(bytes) {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.stats.revocations_refused += 1;
                return Err(e);
            }
        };
        self.stats.revocations_learned += 1;
        if id != self.id {
            self.shut_out(now, id);
        }
        let ifaces: Vec<_> = self.ifaces.keys().copied().collect();
        for iface in ifaces {
            self.send_link(iface, LinkDst::Multicast, PacketType::Revoke, 0, 0, bytes);
        }
        if let Some(s) = self.secure.as_mut() {
            s.revoke_repeats
                .extend(REPEAT_AFTER.iter().map(|d| (now + *d, id)));
        }
        self.push_event(Event::Revoked {
            id,
            revocation: bytes.to_vec(),
        });
        Ok(Some(id))
    }

    /// Whether a trust root revoked `id` (never in open mode).
    pub fn is_revoked(&self, id: &NodeId) -> bool {
        self.dir.trust().revoked(id)
    }

    /// Every revocation held, encoded (to persist or show).
    pub fn revocations(&self) -> Vec<Vec<u8>> {
        self.dir.trust().revocations()
    }

    /// A revocation packet from `src` (already authenticated).
    pub(super) fn on_revoke(&mut self, now: Instant, src: NodeId, body: &[u8]) {
        if let Err(reason) = self.add_revocation(now, body) {
            self.push_event(Event::RevocationRefused { from: src, reason });
        }
    }

    /// Drop `id` as a neighbour, every route to it and its records.
    fn shut_out(&mut self, now: Instant, id: NodeId) {
        for key in self.nbrs.keys().into_iter().filter(|k| k.id == id) {
            self.nbrs.remove(&key);
            self.neighbour_gone(now, key, None);
        }
        if let Some(c) = self.routes.drop_dest(&id) {
            self.apply_changes(now, vec![c]);
        }
        self.dir.drop_holder(now, &id);
        self.names_nbrs_dirty = true;
    }

    /// Once a second: repeat new revocations that are due.
    pub(super) fn revoke_housekeeping(&mut self, now: Instant) {
        let Some(s) = self.secure.as_mut() else {
            return;
        };
        let due: Vec<NodeId> = s
            .revoke_repeats
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        s.revoke_repeats.retain(|(at, _)| *at > now);
        if due.is_empty() {
            return;
        }
        let all = self.revocations();
        let ifaces: Vec<_> = self.ifaces.keys().copied().collect();
        for bytes in all
            .iter()
            .filter(|b| crate::trust::Revocation::decode(b).is_ok_and(|r| due.contains(&r.node)))
        {
            for iface in &ifaces {
                self.send_link(*iface, LinkDst::Multicast, PacketType::Revoke, 0, 0, bytes);
            }
        }
    }

    /// A new neighbour: give it every revocation held, behind other
    /// traffic (at most [`crate::trust::MAX_REVOKED`] small packets).
    pub(super) fn revocations_to(&mut self, key: LinkKey, addr: std::net::SocketAddr) {
        if self.secure.is_none() {
            return;
        }
        for bytes in self.revocations() {
            self.send_link_bulk(
                key.iface,
                LinkDst::Unicast(addr),
                PacketType::Revoke,
                flags::UNICAST,
                &bytes,
            );
        }
    }
}
