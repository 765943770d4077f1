//! The SIP front: ordinary SIP phones register to the local daemon and
//! call responders by role name. Sans-IO, like the rest of the core.
//!
//! A [`Front`] is a registrar and a back-to-back user agent for the phones
//! on the daemon's SIP port. A phone's REGISTER as `sip:ROLE@...` becomes a
//! claim of ROLE in the directory for as long as the binding lives; its
//! INVITE to `sip:NAME@...` becomes a mesh call (`session::Calls`) by the
//! daemon; a mesh call to a role a phone holds becomes an INVITE to every
//! phone registered for it (forking, first answer wins). Each phone dialog
//! ends here: the phone's RTP goes to the daemon, which carries the
//! payload over the mesh's flows (see `daemon::engine::phones`).
//!
//! # Driving it
//!
//! 1. Every datagram or whole TCP message from a phone:
//!    `handle(now, peer, local, bytes)` (`local`: our address as the phone
//!    reaches it, which goes into Contact, Via and SDP).
//! 2. Drain `poll_transmit` (send each to its peer) and `poll_event`, and
//!    call `handle_timeout(now)` at `poll_timeout()` (RFC 3261 timers on
//!    UDP: retransmission from T1 doubling to T2, give-up at 64·T1).
//! 3. Answer the events: [`Front::complete`] for a REGISTER or MESSAGE the
//!    driver had to decide, [`Front::ringing`], [`Front::accept`],
//!    [`Front::refuse`] for a phone's call, [`Front::invite`] to ring the
//!    phones of a role, [`Front::hangup`] for either.
//!
//! Every table is bounded; every decoder is total (`msg`, `sdp`, `rtp`,
//! `stream`), so 10 000 malformed messages cost nothing but a 400 each.

pub mod g711;
mod legs;
pub mod msg;
pub mod registrar;
pub mod rtp;
pub mod sdp;
mod server;
pub mod stream;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::rng::Rng;
use crate::time::{Instant, ms};

pub use legs::LegState;
pub use sdp::{Codec, PhoneMedia};

/// Phone calls (dialogs) held at once, ended ones included while they
/// linger; beyond it a new INVITE gets 503.
pub const MAX_LEGS: usize = 32;
/// INVITE branches of one `invite` (the phones of one role).
pub const MAX_BRANCHES: usize = registrar::MAX_PER_ROLE;
/// Answered server transactions kept to repeat their response.
const MAX_ANSWERED: usize = 256;
/// Requests waiting on the driver (REGISTER claims, MESSAGEs).
const MAX_PENDING: usize = 64;
/// Our own non-INVITE requests in flight (BYE, CANCEL, MESSAGE).
const MAX_CLIENT: usize = 64;
const MAX_OUT: usize = 512;
const MAX_EVENTS: usize = 256;
/// Longest instant message carried.
pub const MAX_TEXT: usize = 1024;

/// The SIP front's one error type (also the decoders').
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("malformed SIP: {0}")]
    BadSip(&'static str),
    #[error("malformed SDP: {0}")]
    BadSdp(&'static str),
    #[error("malformed RTP: {0}")]
    BadRtp(&'static str),
    #[error("no such phone call")]
    UnknownLeg,
    #[error("the phone call is not in a state that allows this")]
    WrongState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    Udp,
    /// A TCP connection, by the driver's id for it.
    Tcp(u64),
}

/// Where a phone's messages come from and ours go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub tp: Transport,
}

impl Peer {
    pub fn udp(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            tp: Transport::Udp,
        }
    }
    fn reliable(&self) -> bool {
        matches!(self.tp, Transport::Tcp(_))
    }
    /// Our Via towards this peer, from `local`, for transaction `branch`.
    fn via(&self, local: SocketAddr, branch: &str) -> String {
        let proto = match self.tp {
            Transport::Udp => "UDP",
            Transport::Tcp(_) => "TCP",
        };
        format!("SIP/2.0/{proto} {local};branch={branch};rport")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub bytes: Vec<u8>,
}

/// A phone call (one dialog with a phone, or the fork to a role's phones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LegId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrontEvent {
    /// A phone registers for a role no phone here held: claim it, then
    /// `complete(txn, ..)` (200, or 403 if the directory refuses).
    Claim { txn: u64, role: String },
    /// The last phone of a role is gone (expired, unregistered).
    Released { role: String },
    /// A phone calls `to`: `ringing`/`accept`/`refuse` the leg.
    Dial {
        leg: LegId,
        from: String,
        to: String,
        media: PhoneMedia,
    },
    /// A phone we rang is ringing.
    Ringing { leg: LegId },
    /// A phone we rang answered with this media.
    Answered { leg: LegId, media: PhoneMedia },
    /// No phone we rang answered (`code`: 486 busy, 480, 603...).
    Rejected { leg: LegId, code: u16 },
    /// The phone hung up or cancelled.
    Hangup { leg: LegId },
    /// A phone sends a text to `to`: deliver it, then `complete(txn, ..)`.
    Message {
        txn: u64,
        from: String,
        to: String,
        text: String,
    },
    /// A MESSAGE we sent to a phone got its final answer.
    MessageResult { txn: u64, code: u16 },
}

#[derive(Clone, Debug)]
pub struct FrontConfig {
    pub t1: Duration,
    pub t2: Duration,
    /// Role -> password. When not empty, every REGISTER must prove the
    /// password of its role (digest), and roles without one are refused.
    pub passwords: BTreeMap<String, String>,
    /// Registration lifetimes granted, seconds.
    pub min_expires: u32,
    pub max_expires: u32,
}

impl Default for FrontConfig {
    fn default() -> Self {
        FrontConfig {
            t1: ms(500),
            t2: ms(4000),
            passwords: BTreeMap::new(),
            min_expires: 30,
            max_expires: 3600,
        }
    }
}

/// A retransmission schedule (Timers A/E/G and the 2xx retransmission):
/// next send at `at`, interval doubling to T2, give up at `until`.
#[derive(Clone, Copy, Debug)]
struct Retx {
    at: Instant,
    interval: Duration,
    until: Instant,
}

impl Retx {
    fn new(now: Instant, cfg: &FrontConfig, reliable: bool) -> Retx {
        Retx {
            // Over TCP the transport retransmits; only the give-up stays.
            at: if reliable {
                now + cfg.t1 * 64
            } else {
                now + cfg.t1
            },
            interval: cfg.t1,
            until: now + cfg.t1 * 64,
        }
    }
    fn next(&self) -> Instant {
        self.at.min(self.until)
    }
    /// Due now: `Some(true)` send again, `Some(false)` give up.
    fn due(&mut self, now: Instant, t2: Duration) -> Option<bool> {
        if now >= self.until {
            return Some(false);
        }
        if now < self.at {
            return None;
        }
        self.interval = (self.interval * 2).min(t2);
        self.at = now + self.interval;
        Some(true)
    }
}

/// A response given, repeated when the request is retransmitted.
struct Answered {
    peer: Peer,
    bytes: Vec<u8>,
    until: Instant,
}

/// A request the driver decides (REGISTER claim, MESSAGE delivery).
struct Pending {
    peer: Peer,
    req: msg::Common,
    kind: PendingKind,
    local: SocketAddr,
}

enum PendingKind {
    Register {
        role: String,
        contact: String,
        expires: u32,
    },
    Message,
}

/// Our own non-INVITE request in flight.
struct Client {
    peer: Peer,
    bytes: Vec<u8>,
    retx: Retx,
    /// A MESSAGE's txn for `MessageResult`.
    message: Option<u64>,
}

pub struct Front {
    cfg: FrontConfig,
    rng: Rng,
    reg: registrar::Registrar,
    legs: BTreeMap<LegId, legs::Leg>,
    next_leg: u64,
    next_txn: u64,
    answered: BTreeMap<(String, String), Answered>,
    pending: BTreeMap<u64, Pending>,
    clients: BTreeMap<String, Client>,
    out: VecDeque<Transmit>,
    events: VecDeque<FrontEvent>,
    /// Messages refused as malformed (the operator's figure).
    pub malformed: u64,
}

impl Front {
    pub fn new(cfg: FrontConfig, seed: u64) -> Front {
        Front {
            cfg,
            rng: Rng::new(seed),
            reg: registrar::Registrar::default(),
            legs: BTreeMap::new(),
            next_leg: 1,
            next_txn: 1,
            answered: BTreeMap::new(),
            pending: BTreeMap::new(),
            clients: BTreeMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            malformed: 0,
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<FrontEvent> {
        self.events.pop_front()
    }

    /// The phones registered here: (role, contact, where from, expiry).
    pub fn bindings(&self) -> impl Iterator<Item = &registrar::Binding> {
        self.reg.bindings()
    }

    pub fn has_phone(&self, role: &str) -> bool {
        self.reg.has_role(role)
    }

    /// Every phone call's id and state.
    pub fn legs(&self) -> impl Iterator<Item = (LegId, LegState)> + '_ {
        self.legs.iter().map(|(id, l)| (*id, l.state))
    }

    /// The id the next phone call will get.
    pub fn next_leg_id(&self) -> LegId {
        LegId(self.next_leg)
    }

    /// Our address as the phone of `leg` reaches it (for its RTP socket).
    pub fn leg_local(&self, leg: LegId) -> Option<SocketAddr> {
        self.legs.get(&leg).map(|l| l.local)
    }

    /// The next instant `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let legs = self.legs.values().filter_map(legs::Leg::next_timer);
        let clients = self.clients.values().map(|c| c.retx.next());
        let answered = self.answered.values().map(|a| a.until);
        legs.chain(clients)
            .chain(answered)
            .chain(self.reg.next_expiry())
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for role in self.reg.expire(now) {
            self.event(FrontEvent::Released { role });
        }
        self.answered.retain(|_, a| a.until > now);
        let t2 = self.cfg.t2;
        let mut resend = Vec::new();
        let mut done = Vec::new();
        for (branch, c) in &mut self.clients {
            match c.retx.due(now, t2) {
                Some(true) => resend.push(Transmit {
                    to: c.peer,
                    bytes: c.bytes.clone(),
                }),
                Some(false) => done.push(branch.clone()),
                None => {}
            }
        }
        for t in resend {
            self.transmit(t.to, t.bytes);
        }
        for b in done {
            if let Some(Client {
                message: Some(txn), ..
            }) = self.clients.remove(&b)
            {
                self.event(FrontEvent::MessageResult { txn, code: 408 });
            }
        }
        self.legs_timeout(now);
    }

    /// One message from a phone.
    pub fn handle(&mut self, now: Instant, peer: Peer, local: SocketAddr, bytes: &[u8]) {
        let m = match msg::Incoming::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.malformed += 1;
                tracing::debug!(from = %peer.addr, "SIP refused: {e}");
                self.bad_request(peer, bytes);
                return;
            }
        };
        match m {
            msg::Incoming::Response { code, c } => self.on_response(now, peer, code, c),
            msg::Incoming::Request {
                method,
                uri_user,
                uri,
                c,
            } => {
                if c.cseq_method != method && method != "ACK" && method != "CANCEL" {
                    self.malformed += 1;
                    self.respond(now, peer, &c, 400, None, &[], None);
                    return;
                }
                // A retransmission of a request already answered.
                if method != "ACK"
                    && let Some(a) = self.answered.get(&(c.branch.clone(), method.clone()))
                {
                    let t = Transmit {
                        to: a.peer,
                        bytes: a.bytes.clone(),
                    };
                    self.transmit(t.to, t.bytes);
                    return;
                }
                match method.as_str() {
                    "REGISTER" => self.on_register(now, peer, local, c),
                    "INVITE" => self.on_invite(now, peer, local, uri_user, c),
                    "ACK" => self.on_ack(now, &c),
                    "CANCEL" => self.on_cancel(now, peer, c),
                    "BYE" => self.on_bye(now, peer, c),
                    "MESSAGE" => self.on_message(now, peer, local, uri_user, c),
                    "OPTIONS" => {
                        let allow = [("Allow", server::ALLOW.to_string())];
                        self.respond(now, peer, &c, 200, None, &allow, None);
                    }
                    _ => {
                        let _ = uri;
                        let allow = [("Allow", server::ALLOW.to_string())];
                        self.respond(now, peer, &c, 405, None, &allow, None);
                    }
                }
            }
        }
    }

    /// A 400 for a request rsip can read but the front cannot use, when it
    /// has what a response needs; anything else is dropped.
    fn bad_request(&mut self, peer: Peer, bytes: &[u8]) {
        let Some(b) = server::bad_request(bytes, peer.addr) else {
            return;
        };
        self.transmit(peer, b);
    }

    /// Respond to a request and remember the response for its
    /// retransmissions (non-INVITE: Timer J, 64·T1).
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        now: Instant,
        peer: Peer,
        c: &msg::Common,
        code: u16,
        to_tag: Option<&str>,
        extra: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) {
        let tag;
        let to_tag = match to_tag {
            Some(t) => Some(t),
            None => {
                tag = self.tag();
                Some(tag.as_str())
            }
        };
        let bytes = msg::response(c, peer.addr, code, to_tag, extra, body);
        if code >= 200 && c.cseq_method != "INVITE" {
            if self.answered.len() >= MAX_ANSWERED
                && let Some(k) = self
                    .answered
                    .iter()
                    .min_by_key(|(_, a)| a.until)
                    .map(|(k, _)| k.clone())
            {
                self.answered.remove(&k);
            }
            self.answered.insert(
                (c.branch.clone(), c.cseq_method.clone()),
                Answered {
                    peer,
                    bytes: bytes.clone(),
                    until: now + self.cfg.t1 * 64,
                },
            );
        }
        self.transmit(peer, bytes);
    }

    fn transmit(&mut self, to: Peer, bytes: Vec<u8>) {
        if self.out.len() < MAX_OUT {
            self.out.push_back(Transmit { to, bytes });
        }
    }

    fn event(&mut self, e: FrontEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn tag(&mut self) -> String {
        format!("{:012x}", self.rng.next_u64() & 0xffff_ffff_ffff)
    }

    fn branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.rng.next_u64())
    }

    fn txn(&mut self) -> u64 {
        let t = self.next_txn;
        self.next_txn += 1;
        t
    }

    /// Send a non-INVITE request and retransmit it until answered.
    fn send_client(
        &mut self,
        now: Instant,
        peer: Peer,
        branch: String,
        bytes: Vec<u8>,
        message: Option<u64>,
    ) {
        if self.clients.len() >= MAX_CLIENT {
            if let Some(txn) = message {
                self.event(FrontEvent::MessageResult { txn, code: 503 });
            }
            return;
        }
        self.transmit(peer, bytes.clone());
        let retx = Retx::new(now, &self.cfg, peer.reliable());
        self.clients.insert(
            branch,
            Client {
                peer,
                bytes,
                retx,
                message,
            },
        );
    }

    fn on_response(&mut self, now: Instant, _peer: Peer, code: u16, c: msg::Common) {
        if c.cseq_method == "INVITE" {
            self.on_invite_response(now, code, c);
            return;
        }
        if code < 200 {
            // Stop retransmitting; wait for the final (Timer F still runs).
            if let Some(cl) = self.clients.get_mut(&c.branch) {
                cl.retx.at = cl.retx.until;
            }
            return;
        }
        if let Some(cl) = self.clients.remove(&c.branch)
            && let Some(txn) = cl.message
        {
            self.event(FrontEvent::MessageResult { txn, code });
        }
    }
}
