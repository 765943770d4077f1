//! The directory: who holds which role, person name and talkgroup, spread
//! by gossip between neighbours. Sans-IO like the rest of the core.
//!
//! # What it owns
//!
//! Signed [`Record`]s (`name → holder NodeId, key, agency, unit,
//! talkgroups, presence, position, lease, version`), their verification,
//! the bounded table of them ([`store`]), name resolution, exclusive-role
//! conflicts and hand-overs, and the neighbour-to-neighbour protocol
//! ([`NamesMsg`]). It never routes: messages go to one neighbour or to all
//! neighbours, and the node carries them. Liveness of a holder between
//! refreshes is the routing layer's business (a name whose holder has no
//! route is unreachable, whatever the directory says).
//!
//! # Driving a [`Directory`]
//!
//! 1. [`Directory::new`] with the device identity, [`NamesConfig`], a
//!    [`Trust`] policy, `now` and a seed. If the device knows the
//!    wall-clock time, [`Directory::set_wall_clock`] (it dates exclusive
//!    claims, which decides conflicts).
//! 2. [`Directory::on_neighbour_up`] / [`Directory::on_neighbour_down`] as
//!    the link layer finds and loses neighbours.
//! 3. [`Directory::handle`] (or [`Directory::handle_bytes`]) with every
//!    directory message a neighbour sent; the local face calls
//!    [`Directory::local_claim`], [`Directory::local_release`],
//!    [`Directory::local_handover`], [`Directory::set_presence`],
//!    [`Directory::set_position`], [`Directory::set_profile`].
//! 4. After each call drain [`Directory::poll_output`] (send each message
//!    to its [`Dest`]) and [`Directory::poll_event`].
//! 5. Call [`Directory::handle_timeout`] when [`Directory::poll_timeout`]
//!    passes. `now` never goes backwards.
//!
//! # Protocol
//!
//! - **Rumour mongering.** A new or changed record is pushed to all
//!   neighbours at once. A receiver that did not have that version relays
//!   it to all its neighbours after a short random delay (records arriving
//!   together leave in one message); one that already had it stays quiet,
//!   which is what stops the rumour. That relay is also the echo: a new or
//!   changed record (not a plain refresh) is pushed again until every
//!   neighbour has been heard with it, at most [`ECHO_SENDS`] times
//!   (`gossip/echo.rs`).
//! - **Anti-entropy.** Every `digest_interval` (jittered) a node sends one
//!   random neighbour a 16-byte digest of every `(key, version)` it holds,
//!   and does so at once to each new neighbour, so late joiners and healed
//!   partitions converge without waiting. On a mismatch the peer answers
//!   with 16 bucket hashes; for each differing bucket the opener sends a
//!   summary; the peer pushes what the opener lacks and asks (`Want`) for
//!   what it lacks itself. Idle cost: one ~30-byte digest per interval.
//! - **Leases.** Records carry a lease duration; a receiver anchors it at
//!   receipt (capped by the relay's remaining time) and re-anchors on each
//!   newer version; the holder refreshes at 3/4 of the lease. Nodes share no
//!   clock, so an absolute expiry time would mean nothing to a receiver.
//!   An expired record stops resolving and is kept dormant a while so that
//!   replays of its version are refused.
//! - **Exclusive roles.** One holder. A claim is refused locally while
//!   someone else holds the role live; the role moves by a hand-over token
//!   signed by the current holder (carried in its release record; the named
//!   new holder takes the role when it sees it) or by a claim after the
//!   lease expired. When claims meet anyway (two partitions each had a
//!   `command`), every node applies the same order: the earliest tenure
//!   epoch wins, then the latest hand-over of it, then the lowest NodeId.
//!   Each node that sees a claim lose emits [`Event::ExclusiveConflict`];
//!   the losing holder withdraws its claim.
//!
//! # Bounds
//!
//! Records: body ≤ [`record::MAX_BODY`] bytes, names ≤ 63 bytes, ≤ 16
//! talkgroups. Table: [`store::Limits`] (per-holder names, total entries,
//! per-holder token bucket, dormant hold), each with its policy at the
//! limit. Messages: [`wire::MAX_PUSH`], [`wire::MAX_SUMMARY`], packed under
//! [`wire::MAX_MSG`] bytes. Queues: outputs and events, oldest events
//! dropped, newest outputs dropped (anti-entropy repairs the loss).
//!
//! # Trust
//!
//! Every record, remote or local, passes [`Trust::admit`] before it is
//! stored. [`Open`] admits everything that verifies: any device may claim
//! any non-exclusive name, and the key is trusted on first use in the
//! strongest sense (a NodeId is the hash of its key, so the first key seen
//! for a NodeId is the only one that can ever sign for it). The `secured`
//! mode plugs in here: its `Trust` looks up the holder's certificate chain
//! (cached by NodeId; a chain rides beside each pushed record, outside the
//! signature, see [`PushEntry::cert`], and is learnt before the record is
//! judged) and refuses holders without one and names the certificate does
//! not permit.
//!
//! # Budget
//!
//! Directory traffic shares the mesh's control budget (800 bit/s per node
//! at 100 nodes idle, ~600 of it hellos and routing). A realistic signed record is ~240
//! bytes in a push, and every node relays every refresh once, so each node
//! pays `holders × 240 B × 8 / refresh`: with 100 holders that is ~640
//! bit/s at a 300 s refresh and ~70 bit/s at the default 2700 s (3/4 of
//! the 3600 s lease; the simulator measures ~60). Digests ride the
//! node's hellos (9 bytes each). The lease is therefore long, and it is
//! a backstop: the fast signal that a responder left is the route to its
//! node going away, which the caller of [`Directory::resolve`] checks.
//! Positions ride the next version or wait `position_interval` (a first
//! fix goes out within `min_reissue`); presence goes out within
//! `min_reissue`, an emergency at once.

mod gossip;
pub mod record;
pub mod store;
#[cfg(test)]
mod tests;
pub mod wire;

use std::time::Duration;

pub use gossip::{Directory, ECHO_GAP, ECHO_SENDS, Stats};
pub use record::{Handover, Position, Presence, Record, SignedHandover, SignedRecord};
pub use store::{Entry, Limits};
pub use wire::{NamesMsg, PushEntry, SummaryEntry};

use crate::identity::NodeId;
use crate::wire::WireError;

/// Errors of the directory layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum NamesError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("record too large: {0} bytes")]
    TooLarge(usize),
    #[error("invalid name {0:?}")]
    BadName(String),
    #[error("invalid field: {0}")]
    BadField(&'static str),
    #[error("record signature does not verify")]
    BadSignature,
    #[error("holder id is not the hash of the record's key")]
    KeyMismatch,
    #[error("bad hand-over: {0}")]
    BadHandover(&'static str),
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("this device does not hold {0:?}")]
    NotHeld(String),
}

/// Why a valid record or a claim was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum Refusal {
    #[error("version {got} is not newer than {have}")]
    Stale { have: u64, got: u64 },
    #[error("lease already over")]
    Expired,
    #[error("exclusive role held by {holder}")]
    HeldBy { holder: NodeId },
    #[error("name shared by {holders} other holders")]
    Shared { holders: usize },
    #[error("lost to an earlier exclusive claim by {winner}")]
    Conflict { winner: NodeId },
    #[error("holder has too many names")]
    HolderLimit,
    #[error("directory full")]
    TableFull,
    #[error("holder over its rate limit")]
    RateLimited,
    #[error("not authorised: {0}")]
    NotAuthorised(String),
}

/// Where a directory message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Neighbour(NodeId),
    AllNeighbours,
}

/// What the directory reports to its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A record was added or replaced (claim, refresh, change, release).
    Changed { name: String, holder: NodeId },
    /// A lease ran out: `name` no longer resolves to `holder`.
    Expired { name: String, holder: NodeId },
    /// Two live claims of an exclusive role met; `loser` no longer holds it.
    ExclusiveConflict {
        name: String,
        winner: NodeId,
        loser: NodeId,
    },
    /// The holder of `name` handed it to this device, which now holds it.
    HandoverReceived { name: String, from: NodeId },
    /// This device's claim of `name` was withdrawn.
    Withdrawn { name: String, reason: Refusal },
    /// A record from neighbour `from` was refused (for the log).
    Rejected { from: NodeId, error: NamesError },
}

/// The trust policy checked on every record before it is stored.
///
/// The default methods are open mode's answers; the `secured` mode
/// ([`crate::trust::Secured`]) overrides them. The directory owns the
/// policy (boxed), the node reaches it through [`Directory::trust`] and
/// [`Directory::trust_mut`] to learn certificates and ask who is enrolled.
pub trait Trust {
    fn admit(&self, rec: &Record) -> Result<(), Refusal>;

    /// Whether only enrolled devices take part (packets carry a MAC
    /// trailer, certificates travel with records).
    fn secured(&self) -> bool {
        false
    }

    /// Whether `id` may take part at all (hellos, routes, records).
    fn enrolled(&self, _id: &NodeId) -> bool {
        true
    }

    /// Verify and cache a certificate chain (DER) that arrived on the
    /// mesh; returns the NodeId it is for, or why it was refused.
    fn learn_cert(&mut self, _chain: &[u8]) -> Result<NodeId, String> {
        Err("open mode takes no certificates".into())
    }

    /// The chain to pass on with `id`'s records, if known and small
    /// enough for the wire.
    fn chain_of(&self, _id: &NodeId) -> Option<&[u8]> {
        None
    }

    /// The wall-clock time (Unix seconds) against which certificates are
    /// judged.
    fn set_now(&mut self, _unix_s: u64) {}

    /// Whether a trust root revoked `id` (never in open mode).
    fn revoked(&self, _id: &NodeId) -> bool {
        false
    }

    /// Take a revocation that arrived on the mesh or from the operator:
    /// the revoked NodeId when it is new here, `None` when known, or why
    /// it was refused.
    fn revoke(&mut self, _bytes: &[u8]) -> Result<Option<NodeId>, String> {
        Err("open mode takes no revocations".into())
    }

    /// Every revocation held, encoded, to pass on.
    fn revocations(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// Open mode: zero configuration, every verified record is admitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Open;

impl Trust for Open {
    fn admit(&self, _: &Record) -> Result<(), Refusal> {
        Ok(())
    }
}

/// Default lease of our records, in seconds: an hour, refreshed every
/// 45 minutes. The lease is a backstop (see "Budget" above), and each
/// refresh crosses the whole mesh, so a long one keeps the idle mesh quiet.
pub const DEFAULT_LEASE_S: u64 = 3600;

#[derive(Debug, Clone)]
pub struct NamesConfig {
    /// Lease given to our records; refreshed at three quarters.
    pub lease: Duration,
    /// Mean interval of anti-entropy digests (to one random neighbour).
    pub digest_interval: Duration,
    /// Longest random wait before relaying a rumour.
    pub relay_delay: Duration,
    /// Shortest gap between two versions of one of our records (presence
    /// and position changes are coalesced), so receivers' rate limits hold.
    pub min_reissue: Duration,
    /// Longest a position change waits for the next version.
    pub position_interval: Duration,
    /// First version number. Pass something that grows across restarts
    /// (Unix ms, or a stored counter) so new records supersede old ones.
    pub version_base: u64,
    pub limits: Limits,
}

impl Default for NamesConfig {
    fn default() -> Self {
        NamesConfig {
            lease: Duration::from_secs(DEFAULT_LEASE_S),
            // A backstop: digests ride the hellos when the node carries
            // the directory (`gossip::sync`); a bare directory (its own
            // tests) relies on these alone.
            digest_interval: Duration::from_secs(10),
            relay_delay: Duration::from_millis(10),
            min_reissue: Duration::from_secs(5),
            position_interval: Duration::from_secs(120),
            version_base: 1,
            limits: Limits::default(),
        }
    }
}

/// The device's own attributes, copied into each record it issues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub agency: String,
    pub unit: String,
    pub talkgroups: Vec<String>,
    pub presence: Presence,
    pub position: Option<Position>,
}
