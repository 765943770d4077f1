//! PAR roll calls (personnel accountability reports), sans-IO. The
//! commander's device asks every member (everyone in the directory, or the
//! members of one talkgroup) to report; each member's device alerts
//! ([`AppEvent::ParRequest`]) and the member acknowledges
//! ([`App::par_ack`], or a push-to-talk press while the roll call is open).
//! The commander's side counts accounted and unaccounted members and
//! closes the roll call as "all accounted" the moment the last one
//! answers, or "incomplete" with the missing names when its window ends.
//! Requests are repeated to members that have not answered (every
//! [`RESEND`]), so a lost packet or a member out of range for a while is
//! not marked missing. A recurring timer (the incident's PAR interval)
//! says when the next roll call is due.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::par_wire::ParMsg;
use super::{App, AppError, AppEvent};
use crate::identity::NodeId;
use crate::node::Class;
use crate::time::Instant;
use crate::wire::proto;

/// Requests are sent again to members that have not answered this often.
pub const RESEND: Duration = Duration::from_secs(2);
/// Roll calls kept (open and closed, for their outcome); the oldest closed
/// one is forgotten at the limit, and a start is refused when all are open.
pub const MAX_ROLLS: usize = 16;
/// Members of one roll call (the directory's size bounds it in practice).
pub const MAX_MEMBERS: usize = 1024;
/// Requests a member keeps open at once; the oldest is dropped at the limit.
pub const MAX_PENDING: usize = 8;
/// Default window for answers.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Default interval of the recurring PAR timer (fireground practice).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(20 * 60);

/// Configuration of roll calls.
#[derive(Debug, Clone)]
pub struct ParConfig {
    /// Interval of the recurring PAR timer.
    pub interval: Duration,
}

impl Default for ParConfig {
    fn default() -> Self {
        ParConfig {
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// How a roll call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParOutcome {
    AllAccounted,
    /// The window ended with these members unaccounted.
    Incomplete(Vec<String>),
}

/// One member as the commander sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParMember {
    pub node: NodeId,
    pub name: String,
    /// Milliseconds from the start to the acknowledgement.
    pub acked_after_ms: Option<u64>,
}

/// A roll call as the commander sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParView {
    pub par: u64,
    pub talkgroup: Option<String>,
    pub started: Instant,
    pub deadline: Instant,
    pub members: Vec<ParMember>,
    pub outcome: Option<ParOutcome>,
}

/// A request this device received and has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParPending {
    pub par: u64,
    pub commander: NodeId,
    pub from: String,
    pub talkgroup: Option<String>,
    pub until: Instant,
}

#[derive(Debug)]
struct Member {
    name: String,
    acked: Option<Instant>,
    next_send: Instant,
}

#[derive(Debug)]
struct Roll {
    par: u64,
    talkgroup: Option<String>,
    started: Instant,
    deadline: Instant,
    members: BTreeMap<NodeId, Member>,
    outcome: Option<ParOutcome>,
}

impl Roll {
    fn view(&self) -> ParView {
        ParView {
            par: self.par,
            talkgroup: self.talkgroup.clone(),
            started: self.started,
            deadline: self.deadline,
            members: self
                .members
                .iter()
                .map(|(n, m)| ParMember {
                    node: *n,
                    name: m.name.clone(),
                    acked_after_ms: m
                        .acked
                        .map(|a| a.saturating_since(self.started).as_millis() as u64),
                })
                .collect(),
            outcome: self.outcome.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Pars {
    cfg: ParConfig,
    rolls: VecDeque<Roll>,
    pending: VecDeque<ParPending>,
    /// Roll calls we acknowledged (commander, id): a repeated request
    /// (our ack was lost) is answered again without a second alert.
    answered: VecDeque<(NodeId, u64)>,
    /// When the recurring timer is due: the last start plus the interval.
    next_due: Option<Instant>,
}

impl Pars {
    pub(super) fn new(cfg: ParConfig) -> Pars {
        Pars {
            cfg,
            ..Pars::default()
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let rolls = self
            .rolls
            .iter()
            .filter(|r| r.outcome.is_none())
            .flat_map(|r| {
                let resend = r
                    .members
                    .values()
                    .filter(|m| m.acked.is_none())
                    .map(|m| m.next_send)
                    .min();
                [Some(r.deadline), resend]
            })
            .flatten();
        let pending = self.pending.iter().map(|p| p.until);
        rolls.chain(pending).min()
    }
}

impl App {
    /// Start a roll call of everyone in the directory (`talkgroup` `None`)
    /// or of the members of `talkgroup`, answered within `window`.
    pub fn par_start(
        &mut self,
        now: Instant,
        talkgroup: Option<&str>,
        window: Option<Duration>,
    ) -> Result<ParView, AppError> {
        if let Some(tg) = talkgroup
            && !crate::wire::name::valid_name(tg)
        {
            return Err(AppError::BadRequest(format!(
                "not a talkgroup name: {tg:?}"
            )));
        }
        let window = window.unwrap_or(DEFAULT_WINDOW);
        if window.is_zero() || window > Duration::from_secs(u64::from(u16::MAX)) {
            return Err(AppError::BadRequest("window out of range".into()));
        }
        if self.pars.rolls.len() >= MAX_ROLLS {
            match self.pars.rolls.iter().position(|r| r.outcome.is_some()) {
                Some(i) => {
                    self.pars.rolls.remove(i);
                }
                None => return Err(AppError::Conflict("too many roll calls open".into())),
            }
        }
        let members = self.par_members(now, talkgroup);
        if members.is_empty() {
            return Err(AppError::NotFound(match talkgroup {
                Some(tg) => format!("no one else is in {tg}"),
                None => "no one else is in the directory".into(),
            }));
        }
        // Unique across restarts: random high half, counter low half.
        let par = (u64::from(self.keys.next_u32()) << 32) | (self.pars.rolls.len() as u64 + 1);
        let roll = Roll {
            par,
            talkgroup: talkgroup.map(str::to_string),
            started: now,
            deadline: now + window,
            members: members
                .into_iter()
                .map(|(n, name)| {
                    (
                        n,
                        Member {
                            name,
                            acked: None,
                            next_send: now,
                        },
                    )
                })
                .collect(),
            outcome: None,
        };
        tracing::info!(par, members = roll.members.len(), talkgroup = ?talkgroup, "PAR started");
        self.pars.rolls.push_back(roll);
        self.pars.next_due = Some(now + self.pars.cfg.interval);
        self.par_timeout(now);
        self.pump(now);
        self.par_view(par)
            .ok_or_else(|| AppError::NotFound("roll call".into()))
    }

    /// Every other node in the directory (or listing `talkgroup`), by the
    /// first name it holds; at most [`MAX_MEMBERS`].
    fn par_members(&self, now: Instant, talkgroup: Option<&str>) -> BTreeMap<NodeId, String> {
        let mut out = BTreeMap::new();
        let me = self.id();
        for name in self.node.directory().names(now) {
            for h in self.node.whois(now, &name) {
                let rec = &h.entry.rec;
                if h.local || rec.holder == me || out.contains_key(&rec.holder) {
                    continue;
                }
                if talkgroup.is_some_and(|tg| !rec.talkgroups.iter().any(|t| t == tg)) {
                    continue;
                }
                if out.len() >= MAX_MEMBERS {
                    return out;
                }
                out.insert(rec.holder, name.clone());
            }
        }
        out
    }

    /// Acknowledge every roll call open here; the ids acknowledged.
    pub fn par_ack(&mut self, now: Instant) -> Vec<u64> {
        let name = self.my_name();
        let pending: Vec<ParPending> = self.pars.pending.drain(..).collect();
        let mut done = Vec::new();
        for p in pending {
            let msg = ParMsg::Ack {
                par: p.par,
                name: name.clone(),
            }
            .encode();
            match self
                .node
                .send(now, p.commander, Class::Control, proto::PAR, &msg)
            {
                Ok(_) => {
                    tracing::info!(par = p.par, to = %p.from, "PAR acknowledged");
                    done.push(p.par);
                    if self.pars.answered.len() >= MAX_PENDING * 4 {
                        self.pars.answered.pop_front();
                    }
                    self.pars.answered.push_back((p.commander, p.par));
                    self.event(AppEvent::ParAnswered { par: p.par });
                }
                Err(e) => {
                    // Kept: the next press or ack tries again.
                    tracing::info!(par = p.par, "PAR ack not sent: {e}");
                    self.pars.pending.push_back(p);
                }
            }
        }
        self.pump(now);
        done
    }

    /// Roll calls open on this device, waiting for our acknowledgement.
    pub fn par_pending(&self) -> Vec<ParPending> {
        self.pars.pending.iter().cloned().collect()
    }

    /// Whether a roll call waits for our acknowledgement (the alert tone
    /// plays while one does).
    pub fn par_waiting(&self) -> bool {
        !self.pars.pending.is_empty()
    }

    /// Roll calls this device started, oldest first.
    pub fn pars(&self) -> Vec<ParView> {
        self.pars.rolls.iter().map(Roll::view).collect()
    }

    pub fn par_view(&self, par: u64) -> Option<ParView> {
        self.pars
            .rolls
            .iter()
            .find(|r| r.par == par)
            .map(Roll::view)
    }

    /// When the recurring PAR timer is next due (none before the first
    /// roll call), and its interval.
    pub fn par_due(&self) -> (Option<Instant>, Duration) {
        (self.pars.next_due, self.pars.cfg.interval)
    }

    /// A PAR message from another device.
    pub(super) fn on_par(&mut self, now: Instant, src: NodeId, payload: &[u8]) {
        match ParMsg::decode(payload) {
            Err(e) => tracing::debug!(src = %src.short(), "{e}"),
            Ok(ParMsg::Request {
                par,
                window_s,
                from,
                talkgroup,
            }) => {
                if self.pars.pending.iter().any(|p| p.par == par) {
                    return;
                }
                if self.pars.answered.contains(&(src, par)) {
                    let ack = ParMsg::Ack {
                        par,
                        name: self.my_name(),
                    }
                    .encode();
                    let _ = self.node.send(now, src, Class::Control, proto::PAR, &ack);
                    return;
                }
                if self.pars.pending.len() >= MAX_PENDING {
                    self.pars.pending.pop_front();
                }
                let p = ParPending {
                    par,
                    commander: src,
                    from: from.clone(),
                    talkgroup: talkgroup.clone(),
                    until: now + Duration::from_secs(u64::from(window_s)),
                };
                tracing::info!(par, %from, "PAR requested");
                self.pars.pending.push_back(p);
                self.event(AppEvent::ParRequest {
                    par,
                    from,
                    talkgroup,
                });
            }
            Ok(ParMsg::Ack { par, name }) => {
                let Some(r) = self
                    .pars
                    .rolls
                    .iter_mut()
                    .find(|r| r.par == par && r.outcome.is_none())
                else {
                    return;
                };
                let Some(m) = r.members.get_mut(&src) else {
                    return;
                };
                if m.acked.is_some() {
                    return;
                }
                m.acked = Some(now);
                // The name it answers with now (a role may have moved).
                if crate::wire::name::valid_name(&name) {
                    m.name = name.clone();
                }
                tracing::info!(par, member = %name, "PAR accounted");
                self.event(AppEvent::ParAccounted {
                    par,
                    node: src,
                    name,
                });
                self.par_close_if_done(now, par);
            }
            Ok(ParMsg::Close { par }) => {
                self.pars
                    .pending
                    .retain(|p| !(p.par == par && p.commander == src));
            }
        }
    }

    /// A push-to-talk press answers every open roll call.
    pub(super) fn par_ack_on_press(&mut self, now: Instant) {
        if !self.pars.pending.is_empty() {
            self.par_ack(now);
        }
    }

    fn par_close_if_done(&mut self, now: Instant, par: u64) {
        let Some(r) = self.pars.rolls.iter_mut().find(|r| r.par == par) else {
            return;
        };
        if r.outcome.is_some() {
            return;
        }
        let missing: Vec<String> = r
            .members
            .values()
            .filter(|m| m.acked.is_none())
            .map(|m| m.name.clone())
            .collect();
        let outcome = if missing.is_empty() {
            ParOutcome::AllAccounted
        } else if now >= r.deadline {
            ParOutcome::Incomplete(missing)
        } else {
            return;
        };
        r.outcome = Some(outcome.clone());
        let members: Vec<NodeId> = r.members.keys().copied().collect();
        tracing::info!(par, ?outcome, "PAR closed");
        let close = ParMsg::Close { par }.encode();
        for n in members {
            // Best effort: a member that misses it lets its alert lapse at
            // the end of the window.
            let _ = self.node.send(now, n, Class::Control, proto::PAR, &close);
        }
        self.event(AppEvent::ParClosed { par, outcome });
    }

    /// Resend requests that are due, close expired roll calls, forget
    /// expired requests.
    pub(super) fn par_timeout(&mut self, now: Instant) {
        // Our name is only carried by requests of open roll calls: building
        // it on every tick of every node was a measurable share of a large
        // simulation.
        if self.pars.rolls.iter().all(|r| r.outcome.is_some()) {
            self.pars.pending.retain(|p| p.until > now);
            return;
        }
        let from = self.my_name();
        let mut sends = Vec::new();
        let mut expired = Vec::new();
        for r in self.pars.rolls.iter_mut().filter(|r| r.outcome.is_none()) {
            if now >= r.deadline {
                expired.push(r.par);
                continue;
            }
            let window_s = r.deadline.saturating_since(now).as_secs().min(65535) as u16;
            for (n, m) in r.members.iter_mut() {
                if m.acked.is_none() && m.next_send <= now {
                    m.next_send = now + RESEND;
                    let msg = ParMsg::Request {
                        par: r.par,
                        window_s: window_s.max(1),
                        from: from.clone(),
                        talkgroup: r.talkgroup.clone(),
                    };
                    sends.push((*n, msg.encode()));
                }
            }
        }
        for (n, msg) in sends {
            if let Err(e) = self.node.send(now, n, Class::Control, proto::PAR, &msg) {
                tracing::debug!(to = %n.short(), "PAR request not sent now: {e}");
            }
        }
        for par in expired {
            self.par_close_if_done(now, par);
        }
        self.pars.pending.retain(|p| p.until > now);
    }
}

/// A roll call's short code, four characters of Crockford's base32 (no
/// I, L, O or U) mixed from its 64-bit id: what people read and say
/// ("PAR 3KX9"), the same on every device. Two roll calls of one incident
/// share a code once in about a million pairs.
pub fn short_code(par: u64) -> String {
    const DIGITS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    // splitmix64's finaliser: every bit of the id moves the code.
    let mut z = par;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (0..4)
        .map(|i| DIGITS[((z >> (5 * i)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod short_code_tests {
    use super::short_code;

    #[test]
    fn codes_are_four_plain_characters_that_differ() {
        // Ids of one device differ only in their low bits (the count).
        let base = 0x9e37_79b9_u64 << 32;
        let codes: std::collections::BTreeSet<String> =
            (1..=64).map(|n| short_code(base | n)).collect();
        assert_eq!(codes.len(), 64);
        for c in &codes {
            assert_eq!(c.len(), 4);
            assert!(
                c.chars()
                    .all(|ch| ch.is_ascii_digit() || ch.is_ascii_uppercase())
            );
            assert!(!c.contains(['I', 'L', 'O', 'U']), "{c}");
        }
        assert_eq!(short_code(42), short_code(42));
    }
}
