//! Digests in hellos: a multicast hello carries the sender's short
//! directory digest (9 bytes) for 10 s after its directory changed, and
//! with every neighbour list otherwise, so a neighbour that missed the
//! change finds out within a hello interval instead of at the next
//! anti-entropy round, for no extra packet. This replaces most periodic digests: those
//! stay as a slow backstop (`NamesConfig::digest_interval`).
//!
//! A neighbour whose digest still differs keeps both sides' hellos
//! carrying theirs for up to [`DISAGREE_HOLD`]: an exchange that loses a
//! message on a lossy link is retried at the next hello, not at the next
//! change or backstop round. After a partition healed across one lossy
//! link, the side behind had stopped advertising 10 s after its last
//! change, and a record re-issued at the heal missed it for a minute.

use std::cmp::Reverse;
use std::time::Duration;

use super::{Directory, push_entry};
use crate::identity::NodeId;
use crate::names::wire::{MAX_PUSH, PushEntry};
use crate::time::Instant;

/// A mismatch is acted on only when our own directory has been stable
/// this long: during a rumour every digest differs for a moment.
const STABLE: Duration = Duration::from_millis(300);
/// At most one exchange per neighbour this often (a lost exchange is
/// retried at the neighbour's next hello after that).
const SYNC_GAP: Duration = Duration::from_millis(500);
/// Records received this recently count as recent: pushed first to a
/// neighbour that is behind.
pub const RECENT: Duration = Duration::from_secs(10);
/// How long after our digest last changed a disagreeing neighbour keeps
/// our hellos carrying it. Bounded: a neighbour that can never agree
/// (its table full, or a record its trust policy refuses) must not cost
/// 9 bytes on every hello for good.
pub const DISAGREE_HOLD: Duration = Duration::from_secs(60);

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
    /// Our short digest now, and whether every hello should carry it:
    /// when it changed within [`RECENT`] (a neighbour that missed the
    /// change is behind, and it is the side that acts), or a neighbour's
    /// still differs (within [`DISAGREE_HOLD`]); otherwise only the
    /// hellos that carry the neighbour list do.
    pub fn hello_digest(&mut self, now: Instant) -> ((u32, u32), bool) {
        self.note_digest(now);
        let (hash, count) = self.digest_now;
        let since = now.saturating_since(self.digest_changed);
        let every = since < RECENT || (!self.disagree.is_empty() && since < DISAGREE_HOLD);
        (short(&hash, count), every)
    }

    /// A neighbour's hello said its short digest is `(hash, count)`.
    ///
    /// On a mismatch the side that holds fewer records (the lower id on a
    /// tie) opens an anti-entropy exchange, at most once per [`SYNC_GAP`]
    /// per neighbour. Its first answer already carries the records the
    /// other side got most recently ([`Directory::push_recent`]): after a
    /// lost rumour that is the whole repair, one round trip.
    pub fn on_peer_digest(&mut self, now: Instant, from: NodeId, hash: u32, count: u32) {
        if !self.neighbours.contains(&from) {
            return;
        }
        self.note_digest(now);
        let (ours, n) = self.digest_now;
        if short(&ours, n) == (hash, count) {
            self.last_sync.remove(&from);
            self.disagree.remove(&from);
            self.echo_settled(&from);
            return;
        }
        self.disagree.insert(from);
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

    /// `from` holds `their_count` records, fewer than we do: push it the
    /// ones we got most recently (a few more than it lacks, at most a full
    /// push message). The anti-entropy exchange that follows catches the
    /// rest; when these were what it missed, that exchange finds nothing.
    /// Whether anything was pushed.
    pub(super) fn push_recent(&mut self, now: Instant, from: NodeId, their_count: u32) -> bool {
        let (_, ours) = self.store.digest(now);
        if their_count >= ours {
            return false;
        }
        let want = ((ours - their_count) as usize + 2).min(MAX_PUSH);
        let mut recent: Vec<_> = self
            .store
            .entries()
            .filter(|e| e.live(now) && now.saturating_since(e.received) < RECENT)
            .collect();
        recent.sort_by_key(|e| Reverse(e.received));
        let push: Vec<PushEntry> = recent
            .into_iter()
            .take(want)
            .map(|e| push_entry(self.trust.as_ref(), now, e))
            .collect();
        if push.is_empty() {
            return false;
        }
        self.push_to(crate::names::Dest::Neighbour(from), push);
        true
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
