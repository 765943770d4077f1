//! Hop-by-hop authentication of link-local routing packets, in the spirit
//! of Babel's HMAC (RFC 8967), sans-IO.
//!
//! # Trailer
//!
//! ```text
//! | packet … | counter (u64, big endian) | tag (16 bytes) |
//! ```
//!
//! `tag` is HMAC-SHA256 truncated to 128 bits over a context string, the
//! sender's NodeId, the counter and the packet. The sender is not sent: it
//! is the packet header's source (bytes 4..20 of every callsign packet,
//! see [`crate::wire`]), which on link-local packets (hello, update,
//! request, ack) is the transmitting neighbour. [`MacState::open_from`]
//! takes it from the caller instead.
//!
//! # Replay protection and reboots
//!
//! The counter is `epoch << 32 | n`: `n` counts packets from 0 and the
//! sender picks `epoch` at start, larger than at any earlier start: a boot
//! counter the daemon keeps beside the device key and makes durable before
//! the first packet, so no clock is needed ([`super::clock::next_epoch`],
//! which also says what happens when the counter is lost). A receiver keeps, per sender, the highest counter it
//! accepted and a 64-entry window below it (as IPsec and WireGuard do):
//! a counter above the highest is taken and slides the window, one inside
//! the window is taken once, anything older is refused. A rebooted
//! sender's first packet carries a larger epoch, so it is taken at once
//! and the window restarts: no round trip. RFC 8967 instead answers an
//! unknown or restarted sender with a challenge, which costs a round trip
//! and per-neighbour challenge state but needs nothing kept across
//! reboots. We choose the epoch because the device already keeps its key
//! across reboots (a device that loses its storage loses its key and comes
//! back as a new NodeId, so never meets its old window), and because a
//! challenge would delay every reconvergence after a restart. A sender
//! whose epoch goes backwards is refused until receivers forget it.
//! Past 2^32 packets in one epoch `n` carries into the epoch, harmlessly.
//!
//! # Bounds
//!
//! [`MAX_SENDERS`] senders are tracked. At the limit the least recently
//! heard one is forgotten; a forgotten sender's next packet is taken as
//! new, so one old packet of a long-silent sender could be replayed once.
//! The bound is eight times [`crate::link::MAX_NEIGHBOURS`], so only
//! senders silent for a long time are ever forgotten. Only packets with a
//! valid tag (the incident key) create state.
//!
//! # Key
//!
//! [`MacKey::derive`] runs HKDF-SHA256 with the incident secret as input
//! key material and a hash of the trust roots' DER as salt: devices of the
//! same incident (same roots, same secret) share the key. The roots alone
//! are public; the secret is what keeps outsiders out. Certificates
//! ([`super::Secured`]) say who a device is; this trailer only says the
//! packet came from a holder of the incident key, unchanged and once.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::TrustError;
use crate::identity::NodeId;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Bytes of authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes the trailer adds (counter and tag).
pub const TRAILER_LEN: usize = 8 + TAG_LEN;
/// Replay window below the highest counter accepted.
pub const WINDOW: u64 = 64;
/// Senders whose counters are tracked (see the module doc).
pub const MAX_SENDERS: usize = 8 * crate::link::MAX_NEIGHBOURS;
/// Where a callsign packet header carries its source NodeId.
const SOURCE: std::ops::Range<usize> = 4..20;
const CONTEXT: &[u8] = b"callsign/mac/v1\0";

/// The incident's packet key.
#[derive(Clone, PartialEq, Eq)]
pub struct MacKey([u8; 32]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length: this never fails.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    for p in parts {
        m.update(p);
    }
    m
}

impl MacKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        MacKey(key)
    }

    /// HKDF-SHA256 (RFC 5869): salt = SHA-256 over the roots' DER (sorted
    /// and length-prefixed, so their order does not matter), IKM = the
    /// incident secret, one block of output.
    pub fn derive<'a>(
        incident_secret: &[u8],
        roots_der: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        let mut roots: Vec<&[u8]> = roots_der.into_iter().collect();
        roots.sort_unstable();
        let mut salt = Sha256::new();
        for r in roots {
            salt.update((r.len() as u64).to_be_bytes());
            salt.update(r);
        }
        let prk = hmac(&salt.finalize(), &[incident_secret])
            .finalize()
            .into_bytes();
        let okm = hmac(&prk, &[CONTEXT, &[1]]).finalize().into_bytes();
        let mut key = [0u8; 32];
        key.copy_from_slice(&okm);
        MacKey(key)
    }
}

fn mac(key: &MacKey, packet: &[u8], sender: NodeId, pc: u64) -> HmacSha256 {
    hmac(
        &key.0,
        &[CONTEXT, sender.as_bytes(), &pc.to_be_bytes(), packet],
    )
}

/// The tag of `packet` sent by `sender` with packet counter `pc`.
pub fn sign(key: &MacKey, packet: &[u8], sender: NodeId, pc: u64) -> [u8; TAG_LEN] {
    let full = mac(key, packet, sender, pc).finalize().into_bytes();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&full[..TAG_LEN]);
    tag
}

/// One sender's replay state.
#[derive(Debug, Clone, Copy)]
struct Window {
    top: u64,
    /// Bit `i`: counter `top - i` was accepted.
    seen: u64,
    /// Logical time of the last accepted packet (for eviction).
    used: u64,
}

impl Window {
    fn check(&self, pc: u64) -> bool {
        pc > self.top || (self.top - pc < WINDOW && self.seen & (1 << (self.top - pc)) == 0)
    }

    fn accept(&mut self, pc: u64) {
        if pc > self.top {
            let shift = pc - self.top;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.top = pc;
        } else {
            self.seen |= 1 << (self.top - pc);
        }
    }
}

/// Sealing our packets and opening our neighbours'.
///
/// `new(key, epoch)` with an epoch larger than at any earlier start of
/// this device (see the module doc); then [`MacState::seal`] each packet
/// before it goes out and [`MacState::open`] each one that arrives.
#[derive(Debug)]
pub struct MacState {
    key: MacKey,
    next: u64,
    windows: BTreeMap<NodeId, Window>,
    clock: u64,
}

impl MacState {
    pub fn new(key: MacKey, epoch: u32) -> Self {
        MacState {
            key,
            next: u64::from(epoch) << 32,
            windows: BTreeMap::new(),
            clock: 0,
        }
    }

    /// `packet` with its trailer, as `sender` (our NodeId, which must be
    /// the packet's header source for [`MacState::open`] to find it).
    pub fn seal(&mut self, sender: NodeId, packet: &[u8]) -> Vec<u8> {
        let pc = self.next;
        self.next = self.next.wrapping_add(1);
        let mut out = Vec::with_capacity(packet.len() + TRAILER_LEN);
        out.extend_from_slice(packet);
        out.extend_from_slice(&pc.to_be_bytes());
        out.extend_from_slice(&sign(&self.key, packet, sender, pc));
        out
    }

    /// Check a received packet's trailer, the sender being its header
    /// source; returns the packet without the trailer.
    pub fn open<'a>(&mut self, packet: &'a [u8]) -> Result<&'a [u8], TrustError> {
        let sender = packet
            .get(SOURCE)
            .and_then(NodeId::from_slice)
            .filter(|_| packet.len() >= SOURCE.end + TRAILER_LEN)
            .ok_or(TrustError::Truncated(packet.len()))?;
        self.open_from(sender, packet)
    }

    /// [`MacState::open`] with the sender given by the caller.
    pub fn open_from<'a>(
        &mut self,
        sender: NodeId,
        packet: &'a [u8],
    ) -> Result<&'a [u8], TrustError> {
        let body_len = packet
            .len()
            .checked_sub(TRAILER_LEN)
            .ok_or(TrustError::Truncated(packet.len()))?;
        let (body, trailer) = packet.split_at(body_len);
        let (pc_bytes, tag) = trailer.split_at(8);
        let mut pc = [0u8; 8];
        pc.copy_from_slice(pc_bytes);
        let pc = u64::from_be_bytes(pc);
        let window = self.windows.get(&sender).copied();
        if window.is_some_and(|w| !w.check(pc)) {
            return Err(TrustError::Replay {
                sender,
                counter: pc,
            });
        }
        mac(&self.key, body, sender, pc)
            .verify_truncated_left(tag)
            .map_err(|_| TrustError::BadTag)?;
        self.clock += 1;
        let mut w = window.unwrap_or(Window {
            top: pc,
            seen: 0,
            used: 0,
        });
        w.accept(pc);
        w.used = self.clock;
        if window.is_none() && self.windows.len() >= MAX_SENDERS {
            let lru = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.used)
                .map(|(id, _)| *id);
            if let Some(id) = lru {
                self.windows.remove(&id);
            }
        }
        self.windows.insert(sender, w);
        Ok(body)
    }

    /// Senders currently tracked.
    pub fn senders(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests;
