//! Digests in hellos: every neighbour's directory digest rides its hellos
//! (each hello for a while after its directory changed, every IHU hello
//! otherwise), so a node that missed a rumour finds out at the next hello
//! of any neighbour instead of at the next anti-entropy round, for a few
//! bytes per hello and no extra packet.

use std::time::Duration;

use super::Directory;
use crate::identity::NodeId;
use crate::time::Instant;

/// A mismatch is acted on only when our own directory has been stable
/// this long: during a rumour every digest differs for a moment.
const STABLE: Duration = Duration::from_millis(300);
/// At most one exchange per neighbour this often (a lost exchange is
/// retried at the neighbour's next hello after that).
const SYNC_GAP: Duration = Duration::from_millis(1000);
/// After a change, our digest rides every hello for this long.
pub const ADVERTISE_AFTER_CHANGE: Duration = Duration::from_secs(10);

/// The short digest carried in hellos: the first 32 bits of the store's
/// digest and its record count. A 32-bit collision only means this pair
/// waits for the next change or anti-entropy round.
pub fn short(hash: &[u8; 16], count: u32) -> (u32, u32) {
    (
        u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]),
        count,
    )
}

impl Directory {
    /// Our short digest now, and whether it changed within
    /// [`ADVERTISE_AFTER_CHANGE`] (then every hello should carry it).
    pub fn hello_digest(&mut self, now: Instant) -> ((u32, u32), bool) {
        self.note_digest(now);
        let (hash, count) = self.digest_now;
        (
            short(&hash, count),
            now.saturating_since(self.digest_changed) < ADVERTISE_AFTER_CHANGE,
        )
    }

    /// A neighbour's hello said its short digest is `(hash, count)`.
    /// On a mismatch one side, the one with fewer records (or the lower id
    /// on a tie), opens an anti-entropy exchange, which repairs both.
    pub fn on_peer_digest(&mut self, now: Instant, from: NodeId, hash: u32, count: u32) {
        if !self.neighbours.contains(&from) {
            return;
        }
        self.note_digest(now);
        let (ours, n) = self.digest_now;
        if short(&ours, n) == (hash, count) {
            return;
        }
        if now.saturating_since(self.digest_changed) < STABLE {
            return;
        }
        if (n, self.id) > (count, from) {
            return;
        }
        if self
            .last_sync
            .get(&from)
            .is_some_and(|t| now.saturating_since(*t) < SYNC_GAP)
        {
            return;
        }
        self.last_sync.insert(from, now);
        self.send_digest(now, from);
        self.on_timers(now);
    }

    /// Track when the digest last changed.
    pub(super) fn note_digest(&mut self, now: Instant) {
        let d = self.store.digest(now);
        if d != self.digest_now {
            self.digest_now = d;
            self.digest_changed = now;
        }
    }
}
