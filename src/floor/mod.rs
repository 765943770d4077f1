//! Push-to-talk floor control for one talkgroup, without a server.
//!
//! In the spirit of MCPTT off-network floor control (3GPP TS 23.379
//! §10.9.2, TS 24.380 §7): the current talker arbitrates and hands on.
//! Every member runs one [`Floor`]; the driver floods each message from
//! [`Floor::poll_msg`] to the talkgroup and passes every message it
//! receives to [`Floor::handle`] with the flood's origin as `from`. Delivery
//! is lossy and unordered; the rules below tolerate both.
//!
//! # Calling contract
//!
//! 1. Feed inputs: [`Floor::press`] / [`Floor::release`] from the PTT
//!    button, [`Floor::handle`] for each received [`FloorMsg`],
//!    [`Floor::handle_voice`] for each received voice frame of the group,
//!    and [`Floor::handle_timeout`] when `now` reaches
//!    [`Floor::poll_timeout`].
//! 2. After each input, drain [`Floor::poll_msg`] (flood each message to the
//!    group) and [`Floor::poll_event`] (show it to the operator).
//! 3. Send audio only while [`Floor::may_transmit`] is true, and tag every
//!    voice frame with [`Floor::burst`].
//!
//! `now` is the driver's clock; it never goes backwards.
//!
//! # Rules
//!
//! - **Request.** A press sends `Request` and waits `request_wait`; on
//!   silence it repeats the request `retries` times (a lost request must not
//!   let two members talk), then takes the floor and floods `Taken`. The
//!   uncontested access time is `request_wait × (retries + 1)`, which must
//!   exceed the group's round-trip time so a talker's `Deny` arrives in time.
//! - **Deny / pre-empt.** A talker that receives a request of lower or equal
//!   priority floods `Deny` to it. A request of higher priority revokes the
//!   talker at once (it stops sending audio) and it floods `Grant` so the
//!   requester need not wait out its request time.
//! - **Fast pre-emption.** A member that presses with a higher priority than
//!   the talker it hears takes the floor at once and floods `Taken`; the old
//!   talker is revoked when that `Taken` reaches it: one path delay.
//! - **Simultaneous requests** resolve by rank, priority first, then the
//!   lower [`NodeId`]: a pending member that sees a request or a `Taken`
//!   outranking it gives up (`Denied`); two members that both ended up
//!   talking (lost messages) resolve by the same rank when their `Taken`s
//!   cross.
//! - **Time limit.** After `max_talk` the talker gets `TimeLimit` and
//!   releases the floor.
//! - **Repair.** The talker repeats `Taken` twice `4 × request_wait` apart
//!   after the grant, then every `taken_repeat`; a listener
//!   that hears nothing of its talker for `listen_hold` (a lost `Release`)
//!   returns to idle. A member that missed `Taken` learns the talker from the
//!   voice frames themselves ([`Floor::handle_voice`]): each frame carries
//!   the burst id, whose top two bits are the talker's priority.

pub mod msg;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod world;

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use minicbor::{Decode, Encode};

use crate::identity::NodeId;
use crate::time::{Instant, ms};
pub use msg::FloorMsg;

/// Outgoing messages waiting for the driver. At the limit the oldest is
/// dropped: later messages carry newer state (a repeated `Taken`, a retry).
pub const MAX_MSGS: usize = 16;
/// Events waiting for the driver. At the limit the oldest is dropped.
pub const MAX_EVENTS: usize = 32;
/// A listener switches to a different talker of the same priority only when
/// the one it follows has been silent this long (voice frames come every
/// 20 ms, so a live talker is never silent this long).
pub const SWITCH_SILENCE: Duration = ms(250);
/// Members whose request the talker denied in this burst. At the limit
/// further ones are not remembered; a conflict with them falls back to the
/// rank by node id.
pub const MAX_DENIED: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FloorError {
    #[error("floor message: {0}")]
    Decode(String),
    #[error("floor message: name of {0} bytes is too long")]
    NameTooLong(usize),
}

/// Request priority, ordered: an emergency (mayday) pre-empts everything.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
#[cbor(index_only)]
pub enum Priority {
    #[n(0)]
    Normal,
    #[n(1)]
    Command,
    #[n(2)]
    Emergency,
}

impl Priority {
    /// The priority encoded in the top two bits of a burst id.
    pub fn of_burst(burst: u32) -> Priority {
        match burst >> 30 {
            0 => Priority::Normal,
            1 => Priority::Command,
            _ => Priority::Emergency,
        }
    }
    fn bits(self) -> u32 {
        match self {
            Priority::Normal => 0,
            Priority::Command => 1,
            Priority::Emergency => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorConfig {
    /// How long one request waits for a `Deny` before it is repeated, or the
    /// floor taken after the last repeat. TS 24.380 T201 is 40 ms.
    pub request_wait: Duration,
    /// How many times an unanswered request is repeated (TS 24.380 C201 - 1).
    pub retries: u8,
    /// Transmit time limit of one burst.
    pub max_talk: Duration,
    /// The talker repeats `Taken` this often, for members that missed it.
    pub taken_repeat: Duration,
    /// A listener that hears nothing of its talker this long forgets it.
    pub listen_hold: Duration,
}

impl Default for FloorConfig {
    fn default() -> Self {
        FloorConfig {
            // 3 × 40 ms = 120 ms uncontested access: inside the 150 ms
            // budget and about the round trip of 4 radio hops (80-120 ms
            // in the tests); a Deny later than that still makes the
            // newcomer yield.
            request_wait: ms(40),
            retries: 2,
            max_talk: Duration::from_secs(30),
            taken_repeat: Duration::from_secs(1),
            // Three missed repeats and a half.
            listen_hold: ms(3500),
        }
    }
}

/// What the operator is told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum FloorEvent {
    /// Talk permit: we hold the floor and may transmit.
    Granted,
    /// Our request was refused: `holder` has (or won) the floor.
    Denied { holder: NodeId, name: String },
    /// We were pre-empted by `by` and must stop transmitting.
    Revoked { by: NodeId, name: String },
    /// Another member talks. `name` is empty while only its voice frames
    /// have been heard; the next `Taken` repeats it with the name.
    Taken {
        talker: NodeId,
        name: String,
        prio: Priority,
    },
    /// Nobody talks.
    Idle,
    /// Our burst hit the transmit time limit and the floor was released.
    TimeLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Pending {
        prio: Priority,
        /// Requests sent so far beyond the first.
        attempt: u8,
        deadline: Instant,
        /// We already answered a lower-ranked competitor in this attempt.
        answered: bool,
    },
    Talking {
        burst: u32,
        prio: Priority,
        since: Instant,
        next_taken: Instant,
    },
}

/// The member we hear talking.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Talker {
    id: NodeId,
    name: String,
    prio: Priority,
    burst: Option<u32>,
    heard: Instant,
}

/// A pending request seen from another member.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Contender {
    id: NodeId,
    name: String,
    prio: Priority,
    seen: Instant,
}

/// Floor state of one member of one talkgroup. See the module docs for the
/// calling contract and the rules.
#[derive(Debug)]
pub struct Floor {
    me: NodeId,
    name: String,
    cfg: FloorConfig,
    state: State,
    talker: Option<Talker>,
    contender: Option<Contender>,
    /// While talking: members we denied. If one of them starts talking
    /// anyway (our `Deny` was lost) we were first, whatever the node ids.
    denied: BTreeSet<NodeId>,
    last_burst: u32,
    /// Our last burst's `Release`, repeated: (burst, repeats left, next).
    release_repeat: Option<(u32, u8, Instant)>,
    msgs: VecDeque<FloorMsg>,
    events: VecDeque<FloorEvent>,
}

/// A burst's `Release` is sent this many times more, `request_wait`
/// apart: a lost one held every member that missed it on the old talker
/// for `listen_hold` (3.5 s), and the burst's last frames ride in the
/// floods that follow them.
pub const RELEASE_REPEATS: u8 = 2;

/// `a` outranks `b`: higher priority, then the lower node id.
fn outranks(a: (Priority, NodeId), b: (Priority, NodeId)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

impl Floor {
    pub fn new(me: NodeId, my_name: String, cfg: FloorConfig) -> Self {
        Floor {
            me,
            name: msg::bounded_name(&my_name),
            cfg,
            state: State::Idle,
            talker: None,
            contender: None,
            denied: BTreeSet::new(),
            last_burst: 0,
            release_repeat: None,
            msgs: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// PTT pressed with priority `prio`. Ignored while talking; while a
    /// request is pending it can only raise the priority.
    pub fn press(&mut self, now: Instant, prio: Priority) {
        match self.state {
            State::Talking { .. } => return,
            State::Pending { prio: p, .. } if p >= prio => return,
            _ => {}
        }
        if let Some(t) = &self.talker
            && prio > t.prio
        {
            self.grant(now, prio);
            return;
        }
        if let Some(c) = self.fresh_contender(now)
            && outranks((c.prio, c.id), (prio, self.me))
        {
            let ev = FloorEvent::Denied {
                holder: c.id,
                name: c.name.clone(),
            };
            self.event(ev);
            return;
        }
        self.state = State::Pending {
            prio,
            attempt: 0,
            deadline: now + self.cfg.request_wait,
            answered: false,
        };
        self.send_request(prio);
    }

    /// PTT released: end our burst, or withdraw a pending request.
    pub fn release(&mut self, now: Instant) {
        match self.state {
            State::Talking { burst, .. } => self.end_burst(now, burst),
            State::Pending { .. } => self.state = State::Idle,
            State::Idle => {}
        }
    }

    /// A floor message flooded by member `from`.
    pub fn handle(&mut self, now: Instant, from: NodeId, m: FloorMsg) {
        if from == self.me {
            return;
        }
        match m {
            FloorMsg::Request { prio, name } => self.on_request(now, from, prio, name),
            FloorMsg::Taken { burst, prio, name } => {
                self.on_talker(now, from, burst, prio, Some(name), true);
            }
            FloorMsg::Deny {
                to,
                burst,
                prio,
                name,
            } => {
                if to == self.me && matches!(self.state, State::Pending { .. }) {
                    self.state = State::Idle;
                    self.event(FloorEvent::Denied {
                        holder: from,
                        name: name.clone(),
                    });
                } else if let State::Talking { prio: mine, .. } = self.state
                    && to == self.me
                    && prio >= mine
                {
                    // Our requests went unanswered, but it was talking
                    // first: its late Deny makes us yield.
                    self.state = State::Idle;
                    self.event(FloorEvent::Revoked {
                        by: from,
                        name: name.clone(),
                    });
                }
                self.on_talker(now, from, burst, prio, Some(name), true);
            }
            FloorMsg::Grant { to } => {
                if let State::Pending { prio, .. } = self.state
                    && to == self.me
                {
                    self.grant(now, prio);
                } else if self.talker.as_ref().is_some_and(|t| t.id == from) {
                    // The talker handed on; the new one's `Taken` follows.
                    self.talker = None;
                }
            }
            FloorMsg::Release { burst } => {
                if self
                    .talker
                    .as_ref()
                    .is_some_and(|t| t.id == from && t.burst.is_none_or(|b| b == burst))
                {
                    self.talker = None;
                    self.event(FloorEvent::Idle);
                }
                if self.contender.as_ref().is_some_and(|c| c.id == from) {
                    self.contender = None;
                }
            }
        }
    }

    /// A voice frame of burst `burst` from `from` arrived. Returns whether
    /// to play it: it belongs to the talker this member follows (learnt from
    /// the frame itself when `Taken` was missed, so a late joiner plays from
    /// the next frame on).
    pub fn handle_voice(&mut self, now: Instant, from: NodeId, burst: u32) -> bool {
        if from == self.me {
            return false;
        }
        let prio = Priority::of_burst(burst);
        self.on_talker(now, from, burst, prio, None, false)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((burst, left, at)) = self.release_repeat
            && now >= at
        {
            // A new burst of ours (or a press) ends the repeats.
            self.release_repeat = (left > 1 && matches!(self.state, State::Idle))
                .then(|| (burst, left - 1, at + self.cfg.request_wait));
            if matches!(self.state, State::Idle) {
                self.push_msg(FloorMsg::Release { burst });
            }
        }
        if let State::Pending {
            prio,
            attempt,
            deadline,
            ..
        } = self.state
            && now >= deadline
        {
            if attempt < self.cfg.retries {
                self.state = State::Pending {
                    prio,
                    attempt: attempt + 1,
                    deadline: deadline + self.cfg.request_wait,
                    answered: false,
                };
                self.send_request(prio);
            } else if let Some(t) = self
                .talker
                .as_ref()
                .filter(|t| t.prio >= prio && now < t.heard + SWITCH_SILENCE)
            {
                // No answer, but we still hear the talker: its Deny was lost.
                let ev = FloorEvent::Denied {
                    holder: t.id,
                    name: t.name.clone(),
                };
                self.state = State::Idle;
                self.event(ev);
            } else {
                self.grant(now, prio);
            }
        }
        if let State::Talking {
            burst,
            prio,
            since,
            next_taken,
        } = self.state
        {
            if now >= since + self.cfg.max_talk {
                self.event(FloorEvent::TimeLimit);
                self.end_burst(now, burst);
            } else if now >= next_taken {
                self.state = State::Talking {
                    burst,
                    prio,
                    since,
                    next_taken: self.next_taken(now, since),
                };
                self.send_taken(burst, prio);
            }
        }
        if self
            .talker
            .as_ref()
            .is_some_and(|t| now >= t.heard + self.cfg.listen_hold)
        {
            self.talker = None;
            self.event(FloorEvent::Idle);
        }
    }

    /// The next message to flood to the talkgroup.
    pub fn poll_msg(&mut self) -> Option<FloorMsg> {
        self.msgs.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<FloorEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = match self.state {
            State::Idle => None,
            State::Pending { deadline, .. } => Some(deadline),
            State::Talking {
                since, next_taken, ..
            } => Some(next_taken.min(since + self.cfg.max_talk)),
        };
        let hold = self.talker.as_ref().map(|t| t.heard + self.cfg.listen_hold);
        let repeat = self.release_repeat.map(|(_, _, at)| at);
        [own, hold, repeat].into_iter().flatten().min()
    }

    /// Audio goes out only while this is true.
    pub fn may_transmit(&self) -> bool {
        matches!(self.state, State::Talking { .. })
    }

    /// Whether a request of ours is waiting for an answer.
    pub fn pending(&self) -> bool {
        matches!(self.state, State::Pending { .. })
    }

    /// Who talks: us while we hold the floor, else the member we follow.
    pub fn talker(&self) -> Option<(NodeId, &str, Priority)> {
        match self.state {
            State::Talking { prio, .. } => Some((self.me, self.name.as_str(), prio)),
            _ => self
                .talker
                .as_ref()
                .map(|t| (t.id, t.name.as_str(), t.prio)),
        }
    }

    /// Id of the current burst: ours while talking (tag each voice frame
    /// with it), else the one we follow, if known.
    pub fn burst(&self) -> Option<u32> {
        match self.state {
            State::Talking { burst, .. } => Some(burst),
            _ => self.talker.as_ref().and_then(|t| t.burst),
        }
    }

    fn on_request(&mut self, now: Instant, from: NodeId, prio: Priority, name: String) {
        let name = msg::bounded_name(&name);
        match self.state {
            State::Talking {
                burst, prio: mine, ..
            } => {
                if prio > mine {
                    self.state = State::Idle;
                    self.event(FloorEvent::Revoked {
                        by: from,
                        name: name.clone(),
                    });
                    self.push_msg(FloorMsg::Grant { to: from });
                    self.follow(now, from, None, prio, name);
                } else {
                    if self.denied.len() < MAX_DENIED {
                        self.denied.insert(from);
                    }
                    self.send_deny(from, burst, mine);
                }
            }
            State::Pending {
                prio: mine,
                attempt,
                deadline,
                answered,
            } => {
                if outranks((prio, from), (mine, self.me)) {
                    self.state = State::Idle;
                    self.event(FloorEvent::Denied {
                        holder: from,
                        name: name.clone(),
                    });
                    self.note_contender(now, from, prio, name);
                } else if !answered {
                    // It may not have heard our request: say it again, once
                    // per attempt, so it backs off.
                    self.state = State::Pending {
                        prio: mine,
                        attempt,
                        deadline,
                        answered: true,
                    };
                    self.send_request(mine);
                }
            }
            State::Idle => self.note_contender(now, from, prio, name),
        }
    }

    /// `from` shows it holds the floor (a `Taken`, a `Deny`, or a voice
    /// frame when `authoritative` is false). Returns whether we follow it.
    fn on_talker(
        &mut self,
        now: Instant,
        from: NodeId,
        burst: u32,
        prio: Priority,
        name: Option<String>,
        authoritative: bool,
    ) -> bool {
        if self.contender.as_ref().is_some_and(|c| c.id == from) {
            self.contender = None;
        }
        match self.state {
            State::Talking {
                burst: ours,
                prio: mine,
                since,
                next_taken,
            } => {
                if outranks((prio, from), (mine, self.me))
                    && !(self.denied.contains(&from) && prio <= mine)
                {
                    self.state = State::Idle;
                    self.event(FloorEvent::Revoked {
                        by: from,
                        name: name.clone().unwrap_or_default(),
                    });
                    self.follow(now, from, Some(burst), prio, name.unwrap_or_default());
                    true
                } else {
                    // A second talker: repeat our claim soon, not in a
                    // second, in case this answer is lost too.
                    let soon = now + self.cfg.request_wait * 4;
                    self.state = State::Talking {
                        burst: ours,
                        prio: mine,
                        since,
                        next_taken: next_taken.min(soon),
                    };
                    self.contest(from, ours, mine, prio, authoritative);
                    false
                }
            }
            State::Pending { prio: mine, .. } => {
                if prio >= mine {
                    self.state = State::Idle;
                    self.event(FloorEvent::Denied {
                        holder: from,
                        name: name.clone().unwrap_or_default(),
                    });
                    self.follow(now, from, Some(burst), prio, name.unwrap_or_default());
                    true
                } else {
                    self.grant(now, mine);
                    false
                }
            }
            State::Idle => {
                let switch = match &self.talker {
                    None => true,
                    Some(t) if t.id == from => true,
                    Some(t) => {
                        prio > t.prio
                            || (prio == t.prio && authoritative)
                            || now >= t.heard + SWITCH_SILENCE
                    }
                };
                if switch {
                    self.follow(now, from, Some(burst), prio, name.unwrap_or_default());
                }
                switch
            }
        }
    }

    /// Follow `id` as the talker; tell the operator when it is news.
    fn follow(
        &mut self,
        now: Instant,
        id: NodeId,
        burst: Option<u32>,
        prio: Priority,
        name: String,
    ) {
        let name = msg::bounded_name(&name);
        let (news, name) = match &self.talker {
            Some(t) if t.id == id => {
                let news = (burst.is_some() && t.burst.is_some() && burst != t.burst)
                    || (t.name.is_empty() && !name.is_empty())
                    || prio != t.prio;
                let name = if name.is_empty() {
                    t.name.clone()
                } else {
                    name
                };
                (news, name)
            }
            _ => (true, name),
        };
        let burst = burst.or(self
            .talker
            .as_ref()
            .filter(|t| t.id == id)
            .and_then(|t| t.burst));
        self.talker = Some(Talker {
            id,
            name: name.clone(),
            prio,
            burst,
            heard: now,
        });
        if news {
            self.event(FloorEvent::Taken {
                talker: id,
                name,
                prio,
            });
        }
    }

    fn grant(&mut self, now: Instant, prio: Priority) {
        let burst = self.new_burst(now, prio);
        self.state = State::Talking {
            burst,
            prio,
            since: now,
            next_taken: self.next_taken(now, now),
        };
        self.talker = None;
        self.contender = None;
        self.denied.clear();
        self.event(FloorEvent::Granted);
        self.send_taken(burst, prio);
    }

    /// When to repeat `Taken`: twice soon after the grant (a lost first
    /// `Taken` would leave a second talker or a deaf listener for a whole
    /// repeat interval), then every `taken_repeat`.
    fn next_taken(&self, now: Instant, since: Instant) -> Instant {
        let gap = self.cfg.request_wait * 4;
        if now < since + gap * 2 {
            now + gap.min(self.cfg.taken_repeat)
        } else {
            now + self.cfg.taken_repeat
        }
    }

    fn end_burst(&mut self, now: Instant, burst: u32) {
        self.state = State::Idle;
        self.push_msg(FloorMsg::Release { burst });
        self.release_repeat = Some((burst, RELEASE_REPEATS, now + self.cfg.request_wait));
        self.event(FloorEvent::Idle);
    }

    /// A burst id: the priority in the top two bits, then 30 bits that
    /// differ from our previous burst (from the grant time, so a restarted
    /// member does not reuse its last id).
    fn new_burst(&mut self, now: Instant, prio: Priority) -> u32 {
        const LOW: u32 = (1 << 30) - 1;
        let mut low = ((now.as_micros() / 1000) as u32) & LOW;
        if low == self.last_burst & LOW {
            low = (low + 1) & LOW;
        }
        self.last_burst = (prio.bits() << 30) | low;
        self.last_burst
    }

    fn fresh_contender(&self, now: Instant) -> Option<&Contender> {
        let life = self.cfg.request_wait * (u32::from(self.cfg.retries) + 2);
        self.contender.as_ref().filter(|c| now < c.seen + life)
    }

    fn note_contender(&mut self, now: Instant, id: NodeId, prio: Priority, name: String) {
        let keep = self
            .fresh_contender(now)
            .is_some_and(|c| c.id != id && outranks((c.prio, c.id), (prio, id)));
        if !keep {
            self.contender = Some(Contender {
                id,
                name,
                prio,
                seen: now,
            });
        }
    }

    fn send_request(&mut self, prio: Priority) {
        let name = self.name.clone();
        self.push_msg(FloorMsg::Request { prio, name });
    }

    /// Answer a second talker `from` that we outrank: with our `Deny` again
    /// if it asked while we talked (we were first), else with our `Taken`.
    fn contest(
        &mut self,
        from: NodeId,
        ours: u32,
        mine: Priority,
        prio: Priority,
        authoritative: bool,
    ) {
        if !authoritative {
            return;
        }
        if self.denied.contains(&from) && prio <= mine {
            self.send_deny(from, ours, mine);
        } else {
            self.send_taken(ours, mine);
        }
    }

    fn send_deny(&mut self, to: NodeId, burst: u32, prio: Priority) {
        let name = self.name.clone();
        self.push_msg(FloorMsg::Deny {
            to,
            burst,
            prio,
            name,
        });
    }

    fn send_taken(&mut self, burst: u32, prio: Priority) {
        let name = self.name.clone();
        self.push_msg(FloorMsg::Taken { burst, prio, name });
    }

    fn push_msg(&mut self, m: FloorMsg) {
        if self.msgs.len() >= MAX_MSGS {
            self.msgs.pop_front();
        }
        self.msgs.push_back(m);
    }

    fn event(&mut self, e: FloorEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }
}
