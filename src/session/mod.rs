//! 1:1 call signalling: SIP between daemons over the overlay, sans-IO.
//!
//! A [`Calls`] is one node's user agent for every 1:1 call it takes part
//! in, as caller (UAC) or callee (UAS). SIP messages travel as
//! control-class data packets with protocol [`crate::wire::proto::SIP`]
//! (acknowledged hop by hop); the session layer adds SIP's own end-to-end
//! retransmission on top, because a packet parked at a broken relay can
//! still be lost.
//!
//! # Calling contract
//!
//! 1. `Calls::new(me, my_name, cfg)`; [`Calls::set_names`] when the roles
//!    this node holds change (a call to any of them rings here).
//! 2. For every overlay data packet with protocol `SIP`:
//!    `handle(now, from, bytes)`. When the node reports it could not reach
//!    a node: `undeliverable(now, to)`.
//! 3. User actions: `dial` (one INVITE branch per holder of the name: SIP
//!    forking), `answer`, `hangup`.
//! 4. After each of those, drain `poll_send` (hand each `(to, bytes)` to
//!    `Node::send(now, to, Class::Control, proto::SIP, &bytes)`) and
//!    `poll_event`, and call `handle_timeout(now)` at `poll_timeout()`.
//!
//! # Media keys
//!
//! The offer of each side carries its flow label and an X25519 public key
//! signed by the device key over [`MediaOffer::signing_bytes`] of the SIP
//! Call-ID. This layer has no directory and no device key: the driver
//! signs (the Call-ID of the next `dial` is [`Calls::next_sip_call_id`],
//! the callee's is in [`CallInfo::sip_call_id`]) and verifies the peer's
//! signature with the key the directory holds for its node.

mod call;
pub mod sdp;
pub mod sip;
pub mod text;

#[cfg(test)]
mod overlay_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::identity::NodeId;
use crate::time::{Instant, ms};

pub use call::CallState;

/// Calls held at once (ended ones linger to absorb retransmissions). At
/// the limit the oldest ended call is forgotten; with none ended, a new
/// INVITE is answered 486 and `dial` fails with [`SessionError::TooManyCalls`].
pub const MAX_CALLS: usize = 16;
/// INVITE branches of one `dial`; further holders are not rung.
pub const MAX_BRANCHES: usize = 8;
/// Outgoing messages waiting for `poll_send`; at the limit the newest is
/// dropped (SIP's own retransmission repairs it).
pub const MAX_OUTBOX: usize = 256;
/// Events waiting for `poll_event`; at the limit the oldest is dropped.
pub const MAX_EVENTS: usize = 64;

/// Local handle of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// One side's media parameters, carried in SDP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaOffer {
    /// Flow label the sender of this offer will put on its voice frames.
    pub label: u32,
    /// X25519 ephemeral public key.
    pub key: [u8; 32],
    /// Ed25519 signature of the device key over [`Self::signing_bytes`].
    pub key_sig: [u8; 64],
    /// The sender's Ed25519 device key (its hash is the sender's NodeId).
    pub device_key: [u8; 32],
    /// RTP payload type of Opus (dynamic, 96..=127).
    pub opus_pt: u8,
    /// Opus bit rate, bit/s.
    pub bitrate: u32,
}

impl MediaOffer {
    /// What the device key signs: the Call-ID, the key and the label, with
    /// a context prefix so the signature cannot be replayed elsewhere.
    pub fn signing_bytes(&self, call_id: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(32 + call_id.len() + 36);
        m.extend_from_slice(b"callsign media offer v1\0");
        m.extend_from_slice(&(call_id.len() as u32).to_be_bytes());
        m.extend_from_slice(call_id.as_bytes());
        m.extend_from_slice(&self.key);
        m.extend_from_slice(&self.label.to_be_bytes());
        m
    }
}

/// Timers and policy of the call agent.
#[derive(Clone, Debug)]
pub struct CallConfig {
    /// SIP T1: first retransmission interval, doubling up to 4 s.
    pub t1: Duration,
    /// A branch that has not answered at all (not even 180) by then is
    /// given up as unreachable (480). RFC 3261's Timer B is 32 s; a
    /// responder wants to hear "unreachable" sooner.
    pub invite_timeout: Duration,
    /// No final answer this long after the first ring: CANCEL, 480.
    pub ring_timeout: Duration,
    /// Answer 486 Busy Here to a new call while another is not ended.
    pub busy_when_active: bool,
    /// Distinct per start of the agent (the daemon uses its boot-clock
    /// microseconds at start): it goes into every Call-ID and tag, so a
    /// restarted daemon never reuses one a peer still remembers.
    pub instance: u64,
    /// How long an ended call is kept to answer retransmissions.
    pub linger: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            t1: ms(500),
            invite_timeout: ms(8000),
            ring_timeout: ms(30_000),
            busy_when_active: true,
            instance: 0,
            linger: ms(32_000),
        }
    }
}

/// What the operator sees of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallInfo {
    pub id: CallId,
    /// The SIP Call-ID: what the media offers' signatures cover.
    pub sip_call_id: String,
    pub outgoing: bool,
    pub state: CallState,
    /// The name called (outgoing) or the caller's name (incoming).
    pub peer_name: String,
    /// The node at the other end, once known (the winning branch).
    pub peer_node: Option<NodeId>,
    /// For an incoming call: which of our names was called.
    pub local_name: String,
    pub started: Instant,
    pub answered: Option<Instant>,
    pub ended: Option<Instant>,
    pub end_reason: Option<String>,
}

/// What the call agent tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// A call for one of our names: ring, then `answer` or `hangup`.
    Incoming {
        call: CallId,
        from_name: String,
        from_node: NodeId,
        offer: MediaOffer,
    },
    /// A holder is ringing (180); one per branch.
    Ringing { call: CallId, by: NodeId },
    /// The first holder to answer; the call is up.
    Answered {
        call: CallId,
        by: NodeId,
        answer: MediaOffer,
    },
    /// An established or ringing call ended (hang-up either side, cancel,
    /// answered on another device).
    Ended { call: CallId, reason: String },
    /// An outgoing call that never came up: 404, 480, 486, 603, ...
    Failed {
        call: CallId,
        code: u16,
        reason: String,
    },
}

/// The session layer's one error type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("malformed SIP: {0}")]
    BadSip(&'static str),
    #[error("malformed SDP: {0}")]
    BadSdp(&'static str),
    #[error("not a valid name: {0:?}")]
    BadName(String),
    #[error("no such call")]
    UnknownCall,
    #[error("the call is not in a state that allows this")]
    WrongState,
    #[error("too many calls")]
    TooManyCalls,
    #[error("malformed text: {0}")]
    BadText(&'static str),
}

/// One node's SIP user agent for 1:1 calls.
pub struct Calls {
    me: NodeId,
    my_name: String,
    names: Vec<String>,
    cfg: CallConfig,
    next_id: u64,
    calls: BTreeMap<CallId, call::Call>,
    outbox: VecDeque<(NodeId, Vec<u8>)>,
    events: VecDeque<CallEvent>,
}

impl Calls {
    pub fn new(me: NodeId, my_name: String, cfg: CallConfig) -> Self {
        Calls {
            me,
            names: vec![my_name.clone()],
            my_name,
            cfg,
            next_id: 1,
            calls: BTreeMap::new(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The names a call rings here for (the directory roles held);
    /// `my_name` always counts.
    pub fn set_names(&mut self, names: &[String]) {
        self.names = vec![self.my_name.clone()];
        self.names
            .extend(names.iter().filter(|n| **n != self.my_name).cloned());
    }

    /// The Call-ID the next `dial` will use: sign the offer over it.
    pub fn next_sip_call_id(&self) -> String {
        call_id_string(self.cfg.instance, self.next_id, self.me)
    }

    pub fn poll_send(&mut self) -> Option<(NodeId, Vec<u8>)> {
        self.outbox.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    pub fn call(&self, id: CallId) -> Option<CallInfo> {
        self.calls.get(&id).map(call::Call::info)
    }

    pub fn calls(&self) -> Vec<CallInfo> {
        self.calls.values().map(call::Call::info).collect()
    }

    fn send(&mut self, to: NodeId, bytes: Vec<u8>) {
        if self.outbox.len() < MAX_OUTBOX {
            self.outbox.push_back((to, bytes));
        }
    }

    fn event(&mut self, e: CallEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }
}

fn call_id_string(instance: u64, n: u64, me: NodeId) -> String {
    format!("{instance:x}.{n:x}@{me}")
}
