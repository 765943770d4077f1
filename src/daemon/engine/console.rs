//! The engine's face of the console: PAR roll calls (the application
//! layer's protocol, asked for by the API and reported as events), the
//! maydays this node has seen in the directory with the console's
//! acknowledgement and clearing (each logged with its reason), and when
//! each member was last reachable (the roster's "last heard").

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::oneshot;

use super::messages::unix_ms;
use super::{Engine, calls::api_err, clock};
use crate::app::par::short_code;
use crate::app::{ParOutcome, ParView};
use crate::daemon::console_dto::{
    MaydayAction, MaydayDto, ParAcked, ParMemberDto, ParPendingDto, ParRoll, ParStartRequest,
    ParStatus,
};
use crate::daemon::dto::{ApiEvent, PositionDto};
use crate::identity::NodeId;
use crate::names::Presence;
use crate::time::Instant;

/// (HTTP status, reason) of a refusal.
type Refusal = (u16, String);

/// Members whose loss of route is remembered; the oldest is forgotten.
const MAX_LOST: usize = 4096;
/// Maydays tracked at once; a new one beyond it replaces the oldest cleared.
const MAX_MAYDAYS: usize = 256;

pub enum ConsoleCommand {
    ParStart(ParStartRequest, oneshot::Sender<Result<ParRoll, Refusal>>),
    ParStatus(oneshot::Sender<ParStatus>),
    ParAck(oneshot::Sender<ParAcked>),
    Maydays(oneshot::Sender<Vec<MaydayDto>>),
    MaydayAck(MaydayAction, oneshot::Sender<Result<MaydayDto, Refusal>>),
    MaydayClear(MaydayAction, oneshot::Sender<Result<MaydayDto, Refusal>>),
    Mesh(oneshot::Sender<crate::daemon::console_dto::MeshDto>),
}

#[derive(Debug, Clone)]
struct Mayday {
    since_ms: u64,
    state: &'static str,
    reason: Option<String>,
}

#[derive(Debug, Default)]
pub struct ConsoleState {
    /// When the route to each unreachable node was lost.
    lost: BTreeMap<NodeId, Instant>,
    maydays: BTreeMap<NodeId, Mayday>,
}

impl ConsoleState {
    /// Nodes whose mayday is not cleared.
    pub fn active_maydays(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.maydays
            .iter()
            .filter(|(_, m)| m.state != "cleared")
            .map(|(n, _)| *n)
    }
}

/// Unix ms of `t`, a monotonic instant, given `now` of both clocks.
fn unix_of(t: Instant, now: Instant, now_ms: u64) -> u64 {
    if t <= now {
        now_ms.saturating_sub(now.saturating_since(t).as_millis() as u64)
    } else {
        now_ms + t.saturating_since(now).as_millis() as u64
    }
}

fn roll_dto(v: &ParView, now: Instant, now_ms: u64) -> ParRoll {
    let accounted = v
        .members
        .iter()
        .filter(|m| m.acked_after_ms.is_some())
        .count();
    let (state, summary) = match &v.outcome {
        None => (
            "open",
            format!("open: {accounted} of {} accounted", v.members.len()),
        ),
        Some(ParOutcome::AllAccounted) => ("all accounted", "all accounted".to_string()),
        Some(ParOutcome::Incomplete(missing)) => {
            ("incomplete", format!("incomplete: {}", missing.join(", ")))
        }
    };
    ParRoll {
        par: v.par.to_string(),
        code: short_code(v.par),
        talkgroup: v.talkgroup.clone(),
        started_ms: unix_of(v.started, now, now_ms),
        deadline_ms: unix_of(v.deadline, now, now_ms),
        state: state.into(),
        summary,
        accounted,
        members: v
            .members
            .iter()
            .map(|m| ParMemberDto {
                node: m.node,
                name: m.name.clone(),
                accounted: m.acked_after_ms.is_some(),
                acked_after_ms: m.acked_after_ms,
            })
            .collect(),
    }
}

impl Engine {
    pub(super) fn on_console_command(&mut self, c: ConsoleCommand) {
        let now = clock::now();
        match c {
            ConsoleCommand::ParStart(req, tx) => {
                let window = req.window_s.map(Duration::from_secs);
                let r = self
                    .app
                    .par_start(now, req.talkgroup.as_deref(), window)
                    .map(|v| {
                        let d = roll_dto(&v, now, unix_ms());
                        self.publish(ApiEvent::ParStarted {
                            par: d.par.clone(),
                            talkgroup: d.talkgroup.clone(),
                            members: d.members.iter().map(|m| m.name.clone()).collect(),
                        });
                        d
                    })
                    .map_err(api_err);
                let _ = tx.send(r);
            }
            ConsoleCommand::ParStatus(tx) => {
                let _ = tx.send(self.par_status(now));
            }
            ConsoleCommand::ParAck(tx) => {
                let acked = self.app.par_ack(now);
                let _ = tx.send(ParAcked {
                    acked: acked.iter().map(u64::to_string).collect(),
                });
            }
            ConsoleCommand::Maydays(tx) => {
                let _ = tx.send(self.maydays(now));
            }
            ConsoleCommand::MaydayAck(a, tx) => {
                let _ = tx.send(self.mayday_action(now, a, "acknowledged"));
            }
            ConsoleCommand::MaydayClear(a, tx) => {
                let _ = tx.send(self.mayday_action(now, a, "cleared"));
            }
            ConsoleCommand::Mesh(tx) => {
                // A look at the map keeps its lists coming.
                self.app.with_node(now, |n| n.map_open(now));
                let _ = tx.send(self.mesh(now));
            }
        }
        self.drain(now);
    }

    fn par_status(&self, now: Instant) -> ParStatus {
        let now_ms = unix_ms();
        let (due, interval) = self.app.par_due();
        ParStatus {
            rolls: self
                .app
                .pars()
                .iter()
                .rev()
                .map(|v| roll_dto(v, now, now_ms))
                .collect(),
            pending: self
                .app
                .par_pending()
                .into_iter()
                .map(|p| ParPendingDto {
                    par: p.par.to_string(),
                    code: short_code(p.par),
                    from: p.from,
                    commander: p.commander,
                    talkgroup: p.talkgroup,
                })
                .collect(),
            next_due_ms: due.map(|t| unix_of(t, now, now_ms)),
            interval_s: interval.as_secs(),
        }
    }

    pub(super) fn par_closed_event(par: u64, outcome: &ParOutcome) -> ApiEvent {
        match outcome {
            ParOutcome::AllAccounted => ApiEvent::ParClosed {
                par: par.to_string(),
                outcome: "all accounted".into(),
                missing: Vec::new(),
            },
            ParOutcome::Incomplete(m) => ApiEvent::ParClosed {
                par: par.to_string(),
                outcome: "incomplete".into(),
                missing: m.clone(),
            },
        }
    }

    /// The PAR alert sounds while a roll call waits for this member: from
    /// the request until it is acknowledged (`par ack`, the API, the
    /// handset page, a press) or the roll call closes or runs out.
    pub(super) fn par_tone(&mut self, now: Instant) {
        let on = self.app.par_waiting();
        if on != self.speaker.par_alerting() && self.speaker.present() {
            tracing::info!(on, "PAR alert tone");
            self.speaker.par_alert(now, on);
        }
    }

    /// A route appeared or went: remember when a node became unreachable.
    pub(super) fn note_route(&mut self, now: Instant, dest: NodeId, up: bool) {
        let lost = &mut self.console.lost;
        if up {
            lost.remove(&dest);
            return;
        }
        if lost.len() >= MAX_LOST
            && let Some(oldest) = lost.iter().min_by_key(|(_, t)| **t).map(|(n, _)| *n)
        {
            lost.remove(&oldest);
        }
        lost.entry(dest).or_insert(now);
    }

    /// Milliseconds since the route to `node` was lost (`None`: reachable,
    /// or never seen reachable since this daemon started).
    pub(super) fn unreachable_ms(&self, now: Instant, node: &NodeId) -> Option<u64> {
        self.console
            .lost
            .get(node)
            .map(|t| now.saturating_since(*t).as_millis() as u64)
    }

    /// A directory record changed: a member going to emergency raises a
    /// mayday here; one leaving emergency ends it.
    pub(super) fn check_mayday(&mut self, now: Instant, name: &str, holder: NodeId) {
        let emergency = self
            .app
            .node()
            .whois(now, name)
            .iter()
            .find(|h| h.entry.rec.holder == holder)
            .map(|h| h.entry.rec.presence == Presence::Emergency);
        match emergency {
            Some(true) if !self.console.maydays.contains_key(&holder) => {
                if self.console.maydays.len() >= MAX_MAYDAYS {
                    let old = self
                        .console
                        .maydays
                        .iter()
                        .filter(|(_, m)| m.state == "cleared")
                        .min_by_key(|(_, m)| m.since_ms)
                        .map(|(n, _)| *n);
                    match old {
                        Some(n) => {
                            self.console.maydays.remove(&n);
                        }
                        None => return,
                    }
                }
                self.console.maydays.insert(
                    holder,
                    Mayday {
                        since_ms: unix_ms(),
                        state: "active",
                        reason: None,
                    },
                );
                let names = self.app.node().names_of(now, &holder);
                tracing::warn!(node = %holder.short(), ?names, "MAYDAY seen in the directory");
                self.publish(ApiEvent::MaydayRaised {
                    node: holder,
                    names,
                });
                self.cot_mayday(now, holder, true);
            }
            Some(false) => {
                // Back to normal: the next emergency is a new mayday.
                if let Some(m) = self.console.maydays.remove(&holder)
                    && m.state != "cleared"
                {
                    self.cot_mayday(now, holder, false);
                }
            }
            _ => {}
        }
    }

    fn mayday_dto(&self, now: Instant, node: NodeId, m: &Mayday) -> MaydayDto {
        let names = self.app.node().names_of(now, &node);
        let rec = names
            .first()
            .and_then(|n| {
                self.app
                    .node()
                    .whois(now, n)
                    .into_iter()
                    .find(|h| h.entry.rec.holder == node)
            })
            .map(|h| h.entry.rec);
        MaydayDto {
            node,
            names,
            talkgroups: rec
                .as_ref()
                .map(|r| r.talkgroups.clone())
                .unwrap_or_default(),
            position: rec.and_then(|r| r.position).map(|p| PositionDto {
                lat: p.lat_e7 as f64 / 1e7,
                lon: p.lon_e7 as f64 / 1e7,
                accuracy_m: p.accuracy_m,
                time_s: p.time_s,
            }),
            since_ms: m.since_ms,
            state: m.state.into(),
            reason: m.reason.clone(),
        }
    }

    fn maydays(&self, now: Instant) -> Vec<MaydayDto> {
        let mut v: Vec<MaydayDto> = self
            .console
            .maydays
            .iter()
            .map(|(n, m)| self.mayday_dto(now, *n, m))
            .collect();
        v.sort_by_key(|m| std::cmp::Reverse(m.since_ms));
        v
    }

    fn mayday_action(
        &mut self,
        now: Instant,
        a: MaydayAction,
        state: &'static str,
    ) -> Result<MaydayDto, Refusal> {
        let reason = a.reason.trim().to_string();
        if reason.is_empty() || reason.len() > 500 {
            return Err((400, "a reason (1 to 500 characters) is required".into()));
        }
        let Some(m) = self.console.maydays.get_mut(&a.node) else {
            return Err((404, "no mayday from that node".into()));
        };
        m.state = state;
        m.reason = Some(reason.clone());
        let m = m.clone();
        if state == "cleared" {
            self.cot_mayday(now, a.node, false);
        }
        let names = self.app.node().names_of(now, &a.node);
        tracing::info!(node = %a.node.short(), ?names, %reason, "mayday {state}");
        self.publish(if state == "cleared" {
            ApiEvent::MaydayCleared {
                node: a.node,
                names,
                reason,
            }
        } else {
            ApiEvent::MaydayAcknowledged {
                node: a.node,
                names,
                reason,
            }
        });
        Ok(self.mayday_dto(now, a.node, &m))
    }
}
