//! Store-and-forward text messages, sans-IO.
//!
//! A message to a name becomes one signed, sealed [`wire::Envelope`] per
//! recipient (the holders of a role or the members of a talkgroup in the
//! directory). [`Messages`] holds what this node must still get across,
//! its own messages and those it took custody of, and moves them:
//!
//! - **Direct.** With a route to the recipient, the holder sends it the
//!   envelope (control class, acknowledged hop by hop) and again every
//!   `retry` until the recipient's signed receipt comes back; a route that
//!   appears (`on_route`) triggers a send at once.
//! - **Custody, spray and wait.** Without one, a holder with more than one
//!   of the message's copies offers half of them to each node a route to
//!   which appears after it got the message (`on_route`; the offer travels
//!   along that route). Nodes already reachable are in our connected
//!   component, which has no route to the recipient either: only a route
//!   that appears means that someone moved (or a link came back), so only
//!   that node may carry the message somewhere new. A new envelope is
//!   also offered to nodes met within `fresh` (they may leave again with
//!   it). A holder of one copy waits until it has a route to the recipient.
//!   Copies are taken off the budget when offered, and never given back on
//!   silence, so the copies mesh-wide never exceed [`MsgConfig::copies`].
//! - **Receipts.** The recipient stores the message, then signs a receipt
//!   to the node that handed it over, which carries it to the sender (by
//!   route, held while there is none) and forgets its copy. When that was
//!   a custodian, the recipient carries a copy of the receipt home too.
//! - **Exactly once.** The recipient remembers every id it stored until
//!   the message expires, and shows one sender's messages in sequence:
//!   one that comes early waits up to `reorder_wait` for the gap.
//! - **Expiry, quotas, rate.** Everything expires at the sender's
//!   `expires_ms` (wall clock); storage is bounded per origin and in total,
//!   new messages per origin go through a token bucket, and text is at
//!   most [`MAX_TEXT`] bytes. A refusal says which limit.
//!
//! Persistence is the driver's: every change that must survive a crash
//! comes out of [`Messages::take_changes`], and a driver must make them
//! durable before it puts this node's next transmits on the wire (so a
//! receipt or an accepted custody is never sent for something that a crash
//! could still lose). [`Messages::restore`] loads them back.

mod machine;
mod receive;
pub mod seal;
#[cfg(test)]
mod tests;
pub mod wire;

use std::time::Duration;

pub use machine::Messages;

use crate::identity::NodeId;

/// A message's id: 16 random bytes from the sender.
pub type MsgId = [u8; 16];

/// Most bytes of text in one message (its envelope must fit in one packet).
pub const MAX_TEXT: usize = 800;

pub fn id_hex(id: &MsgId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn parse_id(s: &str) -> Option<MsgId> {
    if s.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

#[derive(Debug, Clone, PartialEq)]
pub struct MsgConfig {
    /// Lifetime of a message from its creation.
    pub ttl: Duration,
    /// Copy budget of each (message, recipient) mesh-wide, the sender's
    /// own included.
    pub copies: u8,
    /// Envelopes held per origin (the sender's own messages count against
    /// its own origin); at the limit, new ones are refused.
    pub per_origin: usize,
    /// Envelopes and receipts held in all; at the limit, new ones are refused.
    pub total: usize,
    /// New messages per second per origin, sustained, and the burst allowed.
    pub rate_per_s: f64,
    pub burst: f64,
    /// A held envelope with a route is sent again this long after the last
    /// try while no receipt came.
    pub retry: Duration,
    /// How long a message that came before its predecessor waits for it.
    pub reorder_wait: Duration,
    /// Most recipients of one message.
    pub max_recipients: usize,
    /// A node a route to which appeared this recently counts as just met:
    /// a new envelope is offered to it too, not only to nodes met later.
    pub fresh: Duration,
}

impl Default for MsgConfig {
    fn default() -> Self {
        MsgConfig {
            ttl: Duration::from_secs(24 * 3600),
            copies: 4,
            per_origin: 2000,
            total: 10_000,
            rate_per_s: 100.0,
            burst: 1000.0,
            retry: Duration::from_secs(3),
            reorder_wait: Duration::from_secs(2),
            max_recipients: 64,
            fresh: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MsgError {
    #[error("message of {0} bytes exceeds the limit of {1} bytes")]
    TooLong(usize, usize),
    #[error("empty message")]
    Empty,
    #[error("no one holds {0}")]
    NoRecipients(String),
    #[error("{0} has {1} recipients, more than the limit of {2}")]
    TooManyRecipients(String, usize, usize),
    #[error("message store full: {0}")]
    QuotaFull(String),
    #[error("rate limit: more than {0} messages per second from one sender")]
    RateLimited(f64),
    #[error("signature does not verify")]
    BadSignature,
    #[error("cannot be opened with this device's key")]
    NotForUs,
    #[error(
        "sealed with an older construction (version {0}) that this version no longer opens; the sender must send it again"
    )]
    OldSeal(u8),
    #[error("not a valid device key")]
    BadKey,
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("expired")]
    Expired,
}

/// Where one recipient's copy of an outgoing message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecipientState {
    /// Held here: no route, and no custodian took it.
    Queued,
    /// Sent along a route, or handed to a custodian; no receipt yet.
    Forwarded,
    Delivered,
    Expired,
}

impl RecipientState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::Forwarded => "forwarded",
            RecipientState::Delivered => "delivered",
            RecipientState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => RecipientState::Queued,
            "forwarded" => RecipientState::Forwarded,
            "delivered" => RecipientState::Delivered,
            "expired" => RecipientState::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecipient {
    pub node: NodeId,
    pub seq: u64,
    pub state: RecipientState,
    /// Wall clock of the receipt (delivered) or of the expiry.
    pub at_ms: Option<u64>,
}

/// A message this node sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMsg {
    pub id: MsgId,
    pub to: String,
    pub talkgroup: bool,
    pub text: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub recipients: Vec<OutRecipient>,
}

impl OutMsg {
    pub fn count(&self, s: RecipientState) -> usize {
        self.recipients.iter().filter(|r| r.state == s).count()
    }

    /// Every recipient has it or it expired: nothing left to do.
    pub fn finished(&self) -> bool {
        self.recipients
            .iter()
            .all(|r| matches!(r.state, RecipientState::Delivered | RecipientState::Expired))
    }

    /// One word or phrase: `queued`, `forwarded`, `delivered 2 of 3`,
    /// `expired` (`delivered 1 of 3, expired` when some never got it).
    pub fn summary(&self) -> String {
        let m = self.recipients.len();
        let d = self.count(RecipientState::Delivered);
        let e = self.count(RecipientState::Expired);
        if d == m {
            return format!("delivered {d} of {m}");
        }
        if e > 0 && d + e == m {
            return if d == 0 {
                "expired".into()
            } else {
                format!("delivered {d} of {m}, expired")
            };
        }
        if d > 0 {
            return format!("delivered {d} of {m}");
        }
        if self.count(RecipientState::Forwarded) > 0 {
            "forwarded".into()
        } else {
            "queued".into()
        }
    }
}

/// A message this node received (shown to the user once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMsg {
    pub id: MsgId,
    pub src: NodeId,
    pub to: String,
    pub talkgroup: bool,
    pub text: String,
    pub seq: u64,
    pub created_ms: u64,
    pub received_ms: u64,
    pub expires_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgEvent {
    /// A new message for the user, in the sender's order.
    Received(InMsg),
    /// A receipt for one recipient of our message came back.
    Delivered {
        id: MsgId,
        dst: NodeId,
        delivered: usize,
        total: usize,
    },
    /// Our message expired before `dst` got it.
    Expired { id: MsgId, dst: NodeId },
    /// We took custody of `copies` copies of someone's message.
    Custody {
        id: MsgId,
        src: NodeId,
        dst: NodeId,
        from: NodeId,
        copies: u8,
    },
    /// A neighbour took custody of copies of a message we hold.
    Handed {
        id: MsgId,
        dst: NodeId,
        to: NodeId,
        copies: u8,
    },
    /// Something a neighbour sent was refused (forged, not for us, over a
    /// limit).
    Refused { from: NodeId, reason: String },
}

/// What a driver must make durable (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Hold this envelope (`own`: this node is its sender) with this many copies.
    PutBundle {
        id: MsgId,
        dst: NodeId,
        env: Vec<u8>,
        copies: u8,
        own: bool,
    },
    DelBundle {
        id: MsgId,
        dst: NodeId,
    },
    PutOut(OutMsg),
    /// A message stored for the user; its id is remembered until it expires.
    Received(InMsg),
    /// The id of a message that expired need no longer be remembered.
    ForgetSeen(MsgId),
    PutReceipt {
        id: MsgId,
        dst: NodeId,
        receipt: Vec<u8>,
    },
    DelReceipt {
        id: MsgId,
        dst: NodeId,
    },
    /// Last sequence number given to a recipient.
    TxSeq {
        dst: NodeId,
        seq: u64,
    },
    /// Last sequence number shown from a sender.
    RxSeq {
        src: NodeId,
        seq: u64,
    },
    /// A sender's last sequence number is no longer kept (the table's
    /// bound: see `MAX_RX_SEQ`).
    ForgetRxSeq(NodeId),
}

impl Change {
    /// Whether this change stores something of message `id` (a withdrawn
    /// message's changes are dropped unstored).
    pub fn concerns(&self, id: &MsgId) -> bool {
        match self {
            Change::PutBundle { id: i, .. }
            | Change::DelBundle { id: i, .. }
            | Change::PutReceipt { id: i, .. }
            | Change::DelReceipt { id: i, .. }
            | Change::ForgetSeen(i) => i == id,
            Change::PutOut(m) => m.id == *id,
            Change::Received(m) => m.id == *id,
            Change::TxSeq { .. } | Change::RxSeq { .. } | Change::ForgetRxSeq(_) => false,
        }
    }
}

/// Everything [`Change`]s stored, to load at start.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// (envelope bytes, copies, own)
    pub bundles: Vec<(Vec<u8>, u8, bool)>,
    /// Unfinished outgoing messages.
    pub outbox: Vec<OutMsg>,
    /// Ids stored for the user, with their expiry.
    pub seen: Vec<(MsgId, u64)>,
    pub receipts: Vec<Vec<u8>>,
    pub tx_seq: Vec<(NodeId, u64)>,
    pub rx_seq: Vec<(NodeId, u64)>,
}
