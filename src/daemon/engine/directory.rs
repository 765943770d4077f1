//! The engine's directory face: the API's name commands, directory events
//! in the log and on the event stream, and name resolution for `ping`.

use tokio::sync::oneshot;

use super::{Engine, clock};
use crate::daemon::dto::{self, ApiEvent};
use crate::identity::NodeId;
use crate::names::{self, Presence};
use crate::node::Holder;
use crate::time::Instant;

/// The directory commands the API sends the engine.
pub enum NamesCommand {
    /// Every live record (`None`) or the holders of one name.
    List(
        Option<String>,
        oneshot::Sender<Result<Vec<dto::NameRecord>, String>>,
    ),
    Claim(
        dto::ClaimRequest,
        oneshot::Sender<Result<dto::NamesDone, String>>,
    ),
    Release(
        dto::ReleaseRequest,
        oneshot::Sender<Result<dto::NamesDone, String>>,
    ),
    Handover(
        dto::HandoverRequest,
        oneshot::Sender<Result<dto::NamesDone, String>>,
    ),
    Presence(
        dto::PresenceRequest,
        oneshot::Sender<Result<dto::NamesDone, String>>,
    ),
    /// A position fix (gpsd) for this node's directory records.
    Position(names::record::Position),
}

pub fn presence_str(p: Presence) -> &'static str {
    match p {
        Presence::Available => "available",
        Presence::Busy => "busy",
        Presence::Emergency => "emergency",
        Presence::OffDuty => "off-duty",
    }
}

pub fn parse_presence(s: &str) -> Result<Presence, String> {
    Ok(match s {
        "available" => Presence::Available,
        "busy" => Presence::Busy,
        "emergency" => Presence::Emergency,
        "off-duty" | "offduty" => Presence::OffDuty,
        other => {
            return Err(format!(
                "unknown presence {other:?}: use available, busy, emergency or off-duty"
            ));
        }
    })
}

impl Engine {
    pub(super) fn on_names_command(&mut self, c: NamesCommand) {
        let now = clock::now();
        match c {
            NamesCommand::List(None, tx) => {
                let mut all: Vec<dto::NameRecord> = Vec::new();
                for name in self.app.node().directory().names(now) {
                    all.extend(
                        self.app
                            .node()
                            .whois(now, &name)
                            .iter()
                            .map(|h| self.record(now, h)),
                    );
                }
                let _ = tx.send(Ok(all));
            }
            NamesCommand::List(Some(name), tx) => {
                let holders = self.app.node().whois(now, &name);
                let r = if holders.is_empty() {
                    Err(format!("no one holds `{name}`"))
                } else {
                    Ok(holders.iter().map(|h| self.record(now, h)).collect())
                };
                let _ = tx.send(r);
            }
            NamesCommand::Claim(req, tx) => {
                let r = self
                    .app
                    .with_node(now, |n| n.claim(now, &req.name, req.exclusive));
                match &r {
                    Ok(()) => {
                        tracing::info!(name = %req.name, exclusive = req.exclusive, "claimed")
                    }
                    Err(e) => {
                        tracing::info!(name = %req.name, reason = %e, "claim refused")
                    }
                }
                let _ = tx.send(self.done(r));
            }
            NamesCommand::Release(req, tx) => {
                let r = self.app.with_node(now, |n| n.release(now, &req.name));
                if r.is_ok() {
                    tracing::info!(name = %req.name, "released");
                }
                let _ = tx.send(self.done(r));
            }
            NamesCommand::Handover(req, tx) => {
                let r = match self.resolve(&req.to) {
                    Ok(to) => {
                        let r = self.app.with_node(now, |n| n.handover(now, &req.name, to));
                        if r.is_ok() {
                            tracing::info!(name = %req.name, to = %to.short(), "handed over");
                        }
                        self.done(r)
                    }
                    Err(e) => Err(e),
                };
                let _ = tx.send(r);
            }
            NamesCommand::Presence(req, tx) => {
                let r = parse_presence(&req.presence).map(|p| {
                    self.app.with_node(now, |n| n.set_presence(now, p));
                    tracing::info!(presence = presence_str(p), "presence");
                });
                let _ = tx.send(r.and_then(|()| self.done(Ok(()))));
            }
            NamesCommand::Position(p) => {
                self.app.with_node(now, |n| n.set_position(now, Some(p)));
            }
        }
        self.drain(now);
    }

    fn done(&self, r: Result<(), names::NamesError>) -> Result<dto::NamesDone, String> {
        r.map_err(|e| e.to_string())?;
        Ok(dto::NamesDone {
            ok: true,
            held: self.held_names(),
        })
    }

    /// The names this node holds in the directory.
    pub(super) fn held_names(&self) -> Vec<String> {
        self.app.held_names()
    }

    fn record(&self, now: Instant, h: &Holder) -> dto::NameRecord {
        let rec = &h.entry.rec;
        dto::NameRecord {
            name: rec.name.clone(),
            holder: rec.holder,
            holder_names: self
                .app
                .node()
                .names_of(now, &rec.holder)
                .into_iter()
                .filter(|n| *n != rec.name)
                .collect(),
            agency: rec.agency.clone(),
            unit: rec.unit.clone(),
            talkgroups: rec.talkgroups.clone(),
            presence: presence_str(rec.presence).into(),
            position: rec.position.map(|p| dto::PositionDto {
                lat: p.lat_e7 as f64 / 1e7,
                lon: p.lon_e7 as f64 / 1e7,
                accuracy_m: p.accuracy_m,
                time_s: p.time_s,
            }),
            exclusive: rec.exclusive,
            version: rec.version,
            lease_remaining_s: h.entry.remaining(now).as_secs_f64(),
            last_heard_ms: now.saturating_since(h.entry.received).as_millis() as u64,
            unreachable_ms: if h.local || h.route.is_some() {
                None
            } else {
                Some(
                    self.unreachable_ms(now, &rec.holder)
                        .unwrap_or_else(|| now.saturating_since(self.started).as_millis() as u64),
                )
            },
            local: h.local,
            reachable: h.local || h.route.is_some(),
            hops: h.route.as_ref().map(|r| r.hops).or(h.local.then_some(0)),
            metric: h.route.as_ref().map(|r| r.metric),
            next_hop: h.route.as_ref().map(|r| r.next_hop),
        }
    }

    /// The holders of `name` a packet can be sent to: reachable ones,
    /// nearest first.
    pub(super) fn resolve_name(&self, now: Instant, name: &str) -> Vec<NodeId> {
        let mut hs: Vec<(u16, NodeId)> = self
            .app
            .node()
            .whois(now, name)
            .into_iter()
            .filter(|h| !h.local)
            .filter_map(|h| h.route.map(|r| (r.metric, h.entry.rec.holder)))
            .collect();
        hs.sort();
        hs.into_iter().map(|(_, id)| id).collect()
    }

    pub(super) fn on_directory(&mut self, e: names::Event) {
        use names::Event as D;
        let api = match e {
            D::Changed { name, holder } => {
                tracing::debug!(%name, holder = %holder.short(), "name record");
                self.check_mayday(clock::now(), &name, holder);
                ApiEvent::NameChanged { name, holder }
            }
            D::Expired { name, holder } => {
                tracing::info!(%name, holder = %holder.short(), "name lease expired");
                ApiEvent::NameExpired { name, holder }
            }
            D::ExclusiveConflict {
                name,
                winner,
                loser,
            } => {
                tracing::warn!(%name, winner = %winner.short(), loser = %loser.short(), "exclusive role claimed twice: the earlier claim keeps it");
                ApiEvent::NameConflict {
                    name,
                    winner,
                    loser,
                }
            }
            D::HandoverReceived { name, from } => {
                tracing::info!(%name, from = %from.short(), "role handed to us");
                ApiEvent::HandoverReceived { name, from }
            }
            D::Withdrawn { name, reason } => {
                tracing::warn!(%name, %reason, "our claim was withdrawn");
                ApiEvent::NameWithdrawn {
                    name,
                    reason: reason.to_string(),
                }
            }
            D::Rejected { from, error } => {
                tracing::info!(from = %from.short(), reason = %error, "directory record refused");
                ApiEvent::NameRejected {
                    from,
                    reason: error.to_string(),
                }
            }
        };
        self.publish(api);
    }
}
