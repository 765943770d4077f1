//! The state of each call and the SIP transactions that drive it.
//!
//! A simplified RFC 3261 user agent for daemons that talk only to each
//! other: INVITE client transactions per branch (Timer A retransmission
//! until a provisional, the branch given up after `invite_timeout`), a
//! server that repeats its final response until the ACK (Timer G), and
//! BYE/CANCEL client transactions repeated until their 200 (Timer E).
//! Responses are matched to a branch by the node they came from and the
//! Via branch; the overlay's source address is the only address used.

mod uac;
mod uas;

use uac::bye_branch;

use std::time::Duration;

use super::sip::{Method, Msg, REASON_ELSEWHERE, Start};
use super::{
    CallEvent, CallId, CallInfo, Calls, MAX_BRANCHES, MAX_CALLS, MediaOffer, SessionError,
    call_id_string, sdp,
};
use crate::identity::NodeId;
use crate::time::{Instant, ms};

/// SIP T2: the longest retransmission interval.
const T2: Duration = ms(4000);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// INVITEs sent, no holder ringing yet.
    Dialing,
    /// At least one holder rings.
    Ringing,
    /// An incoming call rings here.
    Incoming,
    /// We answered; waiting for the caller's ACK.
    Answering,
    /// Up.
    Active,
    /// Over (kept a while to answer retransmissions).
    Ended,
}

/// A message repeated until answered or given up.
struct Retx {
    to: NodeId,
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

impl Retx {
    fn new(now: Instant, to: NodeId, bytes: Vec<u8>, t1: Duration, life: Duration) -> Self {
        Retx {
            to,
            bytes,
            next: now + t1,
            interval: t1,
            give_up: now + life,
        }
    }
}

/// A BYE or CANCEL we sent, waiting for its 200.
struct ClientTx {
    branch: String,
    retx: Retx,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BranchState {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional came (it rings).
    Proceeding,
    /// This branch's 200 won.
    Won,
    /// Final answer, cancelled, or given up.
    Done,
}

/// One INVITE branch of an outgoing call.
struct Branch {
    node: NodeId,
    branch: String,
    state: BranchState,
    invite: Option<Retx>,
    invite_deadline: Instant,
    remote_tag: Option<String>,
    code: Option<u16>,
    /// Cancel as soon as a provisional says the INVITE arrived (RFC 3261
    /// §9.1: no CANCEL before a provisional).
    cancel_pending: Option<Option<String>>,
    rang: bool,
}

pub(super) struct Call {
    id: CallId,
    sip_id: String,
    outgoing: bool,
    state: CallState,
    local_name: String,
    peer_name: String,
    peer_node: Option<NodeId>,
    local_tag: String,
    remote_tag: Option<String>,
    started: Instant,
    answered: Option<Instant>,
    ended: Option<Instant>,
    end_reason: Option<String>,
    next_cseq: u32,
    next_branch: u32,
    // Outgoing.
    offer_body: Vec<u8>,
    branches: Vec<Branch>,
    ring_deadline: Option<Instant>,
    // Incoming: the INVITE (responses are built from it), its last
    // response (repeated on a retransmitted INVITE) and, for a final one,
    // its repetition until the ACK.
    invite: Option<Msg>,
    last_response: Option<Vec<u8>>,
    final_retx: Option<(u16, Retx)>,
    txs: Vec<ClientTx>,
}

impl Call {
    pub(super) fn info(&self) -> CallInfo {
        CallInfo {
            id: self.id,
            sip_call_id: self.sip_id.clone(),
            outgoing: self.outgoing,
            state: self.state,
            peer_name: self.peer_name.clone(),
            peer_node: self.peer_node,
            local_name: self.local_name.clone(),
            started: self.started,
            answered: self.answered,
            ended: self.ended,
            end_reason: self.end_reason.clone(),
        }
    }

    fn new_branch_id(&mut self) -> String {
        self.next_branch += 1;
        format!("z9hG4bK{}.{}", self.local_tag, self.next_branch)
    }

    /// A request in this call's dialog (or, for an outgoing call before the
    /// answer, to `to_tag`-less `To`).
    fn request(
        &self,
        me: NodeId,
        method: Method,
        cseq: u32,
        branch: String,
        to_tag: Option<String>,
    ) -> Msg {
        // Either way we are From and the other end is To.
        let (user, from_name, to_name) = (
            self.peer_name.clone(),
            self.local_name.clone(),
            self.peer_name.clone(),
        );
        Msg {
            start: Start::Request { method, user },
            call_id: self.sip_id.clone(),
            cseq,
            cseq_method: method,
            branch,
            via_host: Msg::node_host(me),
            from_name,
            from_tag: self.local_tag.clone(),
            to_name,
            to_tag,
            reason: None,
            body: Vec::new(),
        }
    }

    /// Still ringing: the ring timeout applies.
    fn rings(&self) -> bool {
        matches!(
            self.state,
            CallState::Dialing | CallState::Ringing | CallState::Incoming
        )
    }

    fn is_ended(&self) -> bool {
        self.state == CallState::Ended
    }

    fn end(&mut self, now: Instant, reason: &str) {
        self.state = CallState::Ended;
        self.ended = Some(now);
        self.end_reason = Some(reason.to_string());
    }
}

impl Calls {
    /// Call `name`, ringing every node in `holders` (up to
    /// [`MAX_BRANCHES`]). With no holder the call fails at once with 404.
    pub fn dial(
        &mut self,
        now: Instant,
        name: &str,
        holders: &[NodeId],
        offer: MediaOffer,
    ) -> Result<CallId, SessionError> {
        let me = self.my_name.clone();
        self.dial_as(now, &me, name, holders, offer)
    }

    /// [`Calls::dial`] on behalf of `from`: a role held here (a SIP
    /// phone's), which the callee sees as the caller.
    pub fn dial_as(
        &mut self,
        now: Instant,
        from: &str,
        name: &str,
        holders: &[NodeId],
        offer: MediaOffer,
    ) -> Result<CallId, SessionError> {
        if !crate::wire::name::valid_name(name) {
            return Err(SessionError::BadName(name.to_string()));
        }
        if !crate::wire::name::valid_name(from) {
            return Err(SessionError::BadName(from.to_string()));
        }
        self.make_room()?;
        let id = CallId(self.next_id);
        let sip_id = call_id_string(self.cfg.instance, self.next_id, self.me);
        self.next_id += 1;
        let mut call = Call {
            id,
            sip_id,
            outgoing: true,
            state: CallState::Dialing,
            local_name: from.to_string(),
            peer_name: name.to_string(),
            peer_node: None,
            local_tag: format!("{:x}t{:x}", self.cfg.instance, id.0),
            remote_tag: None,
            started: now,
            answered: None,
            ended: None,
            end_reason: None,
            next_cseq: 2,
            next_branch: 0,
            offer_body: sdp::encode(&offer).into_bytes(),
            branches: Vec::new(),
            ring_deadline: None,
            invite: None,
            last_response: None,
            final_retx: None,
            txs: Vec::new(),
        };
        let mut seen = Vec::new();
        for &h in holders {
            if h == self.me || seen.contains(&h) || seen.len() >= MAX_BRANCHES {
                continue;
            }
            seen.push(h);
            let branch = call.new_branch_id();
            let mut msg = call.request(self.me, Method::Invite, 1, branch.clone(), None);
            msg.body = call.offer_body.clone();
            let bytes = msg.encode(Some((&call.local_name, self.me)));
            self.send(h, bytes.clone());
            call.branches.push(Branch {
                node: h,
                branch,
                state: BranchState::Calling,
                invite: Some(Retx::new(
                    now,
                    h,
                    bytes,
                    self.cfg.t1,
                    self.cfg.invite_timeout,
                )),
                invite_deadline: now + self.cfg.invite_timeout,
                remote_tag: None,
                code: None,
                cancel_pending: None,
                rang: false,
            });
        }
        if call.branches.is_empty() {
            call.end(now, "no such name");
            self.event(CallEvent::Failed {
                call: id,
                code: 404,
                reason: "no such name".into(),
            });
        }
        self.calls.insert(id, call);
        Ok(id)
    }

    /// Answer an incoming call with our media offer (200 OK).
    pub fn answer(
        &mut self,
        now: Instant,
        id: CallId,
        answer: MediaOffer,
    ) -> Result<(), SessionError> {
        let t1 = self.cfg.t1;
        let me = self.me;
        let name;
        let (to, bytes) = {
            let call = self.calls.get_mut(&id).ok_or(SessionError::UnknownCall)?;
            if call.outgoing || call.state != CallState::Incoming {
                return Err(SessionError::WrongState);
            }
            let invite = call.invite.as_ref().ok_or(SessionError::WrongState)?;
            let to = call.peer_node.ok_or(SessionError::WrongState)?;
            let msg = invite.response(200, &call.local_tag, sdp::encode(&answer).into_bytes());
            name = call.local_name.clone();
            let bytes = msg.encode(Some((&name, me)));
            call.state = CallState::Answering;
            call.answered = Some(now);
            call.last_response = Some(bytes.clone());
            // 64·T1 without an ACK: the caller is gone (RFC 3261 §13.3.1.4).
            call.final_retx = Some((200, Retx::new(now, to, bytes.clone(), t1, t1 * 64)));
            (to, bytes)
        };
        self.send(to, bytes);
        Ok(())
    }

    /// Hang up: CANCEL (caller, before the answer), 603 Decline (callee,
    /// ringing) or BYE (up).
    pub fn hangup(&mut self, now: Instant, id: CallId) -> Result<(), SessionError> {
        let call = self.calls.get(&id).ok_or(SessionError::UnknownCall)?;
        match (call.outgoing, call.state) {
            (_, CallState::Ended) => Err(SessionError::WrongState),
            (true, CallState::Dialing | CallState::Ringing) => {
                self.cancel_branches(now, id, None);
                self.end_call(now, id, "cancelled", None);
                Ok(())
            }
            (false, CallState::Incoming) => {
                self.final_response(now, id, 603);
                self.end_call(now, id, "declined", None);
                Ok(())
            }
            _ => {
                self.bye(now, id);
                self.end_call(now, id, "local hangup", None);
                Ok(())
            }
        }
    }

    /// Refuse a ringing incoming call with a final `code` (4xx-6xx): a
    /// phone bridged here that is busy (486) or would not answer (480).
    pub fn reject(&mut self, now: Instant, id: CallId, code: u16) -> Result<(), SessionError> {
        let call = self.calls.get(&id).ok_or(SessionError::UnknownCall)?;
        if call.outgoing || call.state != CallState::Incoming || !(400..=699).contains(&code) {
            return Err(SessionError::WrongState);
        }
        self.final_response(now, id, code);
        self.end_call(now, id, "refused", Some(code));
        Ok(())
    }

    /// The node could not reach `to`: every unanswered branch to it fails
    /// (480). An established call is kept: its media may find a new route.
    pub fn undeliverable(&mut self, now: Instant, to: NodeId) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            if !call.outgoing || call.is_ended() {
                continue;
            }
            for b in call.branches.iter_mut() {
                if b.node == to && matches!(b.state, BranchState::Calling | BranchState::Proceeding)
                {
                    b.state = BranchState::Done;
                    b.code = Some(480);
                    b.invite = None;
                }
            }
            self.check_failed(now, id);
        }
    }

    /// Parse and act on a SIP message from `from`.
    pub fn handle(&mut self, now: Instant, from: NodeId, bytes: &[u8]) -> Result<(), SessionError> {
        let msg = Msg::decode(bytes)?;
        match msg.start.clone() {
            Start::Request { method, user } => self.on_request(now, from, msg, method, &user),
            Start::Response { code } => {
                self.on_response(now, from, msg, code);
                Ok(())
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        let linger = self.cfg.linger;
        for id in ids {
            let mut out: Vec<(NodeId, Vec<u8>)> = Vec::new();
            let mut no_ack = false;
            let mut ring_over = false;
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            for b in call.branches.iter_mut() {
                if let Some(r) = b.invite.as_mut() {
                    step(now, r, &mut out);
                }
                if b.state == BranchState::Calling && now >= b.invite_deadline {
                    b.state = BranchState::Done;
                    b.code = Some(480);
                    b.invite = None;
                }
            }
            if let Some((code, r)) = call.final_retx.as_mut() {
                if now >= r.give_up {
                    no_ack = *code == 200;
                    call.final_retx = None;
                } else {
                    step(now, r, &mut out);
                }
            }
            call.txs.retain_mut(|tx| {
                step(now, &mut tx.retx, &mut out);
                now < tx.retx.give_up
            });
            if call.rings() && call.ring_deadline.is_some_and(|d| now >= d) {
                ring_over = true;
            }
            let expired = call.ended.is_some_and(|e| now >= e + linger);
            let outgoing = call.outgoing;
            for (to, b) in out {
                self.send(to, b);
            }
            if expired {
                self.calls.remove(&id);
                continue;
            }
            if no_ack {
                self.bye(now, id);
                self.end_call(now, id, "no ACK from the caller", None);
            }
            if ring_over && outgoing {
                self.cancel_branches(now, id, None);
                self.end_call(now, id, "no answer", Some(480));
            } else if ring_over {
                self.final_response(now, id, 480);
                self.end_call(now, id, "not answered", None);
            } else {
                self.check_failed(now, id);
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |i: Instant| t = Some(t.map_or(i, |t| t.min(i)));
        for c in self.calls.values() {
            for b in &c.branches {
                if let Some(r) = &b.invite {
                    at(r.next);
                }
                if b.state == BranchState::Calling {
                    at(b.invite_deadline);
                }
            }
            if let Some((_, r)) = &c.final_retx {
                at(r.next.min(r.give_up));
            }
            for tx in &c.txs {
                at(tx.retx.next.min(tx.retx.give_up));
            }
            if let Some(d) = c.ring_deadline.filter(|_| c.rings()) {
                at(d);
            }
            if let Some(e) = c.ended {
                at(e + self.cfg.linger);
            }
        }
        t
    }

    // ----- helpers -----

    /// BYE to the other end of an established call.
    fn bye(&mut self, now: Instant, id: CallId) {
        let me = self.me;
        let t1 = self.cfg.t1;
        let mut out = Vec::new();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.final_retx = None;
        if call.outgoing {
            if let Some(bi) = call
                .branches
                .iter()
                .position(|b| b.state == BranchState::Won)
            {
                bye_branch(call, me, now, t1, bi, &mut out);
            }
        } else if let Some(peer) = call.peer_node {
            let cseq = call.next_cseq;
            call.next_cseq += 1;
            let branch = call.new_branch_id();
            let msg = call.request(
                me,
                Method::Bye,
                cseq,
                branch.clone(),
                call.remote_tag.clone(),
            );
            let bytes = msg.encode(None);
            out.push((peer, bytes.clone()));
            call.txs.push(ClientTx {
                branch,
                retx: Retx::new(now, peer, bytes, t1, t1 * 64),
            });
        }
        for (to, b) in out {
            self.send(to, b);
        }
    }

    /// Mark a call ended and tell the driver: Failed with `code`, or Ended.
    fn end_call(&mut self, now: Instant, id: CallId, reason: &str, code: Option<u16>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.is_ended() {
            return;
        }
        call.end(now, reason);
        let e = match code {
            Some(code) => CallEvent::Failed {
                call: id,
                code,
                reason: reason.to_string(),
            },
            None => CallEvent::Ended {
                call: id,
                reason: reason.to_string(),
            },
        };
        self.event(e);
    }

    /// Make room for one more call: forget the oldest ended one if full.
    fn make_room(&mut self) -> Result<(), SessionError> {
        if self.calls.len() < MAX_CALLS {
            return Ok(());
        }
        let oldest = self
            .calls
            .values()
            .filter(|c| c.is_ended())
            .min_by_key(|c| c.ended)
            .map(|c| c.id)
            .ok_or(SessionError::TooManyCalls)?;
        self.calls.remove(&oldest);
        Ok(())
    }
}

/// Repeat `r` if due, doubling its interval up to T2.
fn step(now: Instant, r: &mut Retx, out: &mut Vec<(NodeId, Vec<u8>)>) {
    if now >= r.next && now < r.give_up {
        out.push((r.to, r.bytes.clone()));
        r.interval = (r.interval * 2).min(T2);
        r.next = now + r.interval;
    }
}
