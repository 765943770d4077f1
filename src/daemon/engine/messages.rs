//! The engine's face of store-and-forward messages and of the incident
//! log: sends from the API (answered only after the SQLite commit), the
//! core's changes committed before every transmit, its events published
//! and logged, and the inbox, outbox and log read back from the store.

use std::collections::BTreeMap;

use tokio::sync::oneshot;

use super::Engine;
use crate::daemon::dto::ApiEvent;
use crate::daemon::msg_dto::{InboxMessage, OutboxMessage, RecipientDto, SendRequest};
use crate::daemon::msgstore::LogRow;
use crate::identity::NodeId;
use crate::msg::{InMsg, MsgError, MsgEvent, OutMsg, RecipientState, id_hex};
use crate::node::MsgTo;
use crate::time::Instant;

/// (HTTP status, reason) of a refusal.
pub type Refusal = (u16, String);

/// Most incident log rows held in memory while the store refuses them
/// (a full disk): about an hour of a busy incident; older ones go first.
pub const LOG_BACKLOG_MAX: usize = 4096;
/// Most log rows in one answer.
pub const MAX_LOG_ANSWER: usize = 100_000;
/// Most outbox messages in one answer (the newest).
const MAX_OUTBOX_ANSWER: usize = 1000;

pub enum MsgCommand {
    Send(SendRequest, oneshot::Sender<Result<OutboxMessage, Refusal>>),
    Inbox(i64, oneshot::Sender<Result<Vec<InboxMessage>, String>>),
    Outbox(oneshot::Sender<Result<Vec<OutboxMessage>, String>>),
    Log {
        since_ms: u64,
        limit: usize,
        reply: oneshot::Sender<Result<Vec<LogRow>, String>>,
    },
}

/// The wall clock in Unix ms (the log's time axis).
pub fn unix_ms() -> u64 {
    crate::daemon::clock::unix_ms()
}

fn refusal(e: &MsgError) -> Refusal {
    let code = match e {
        MsgError::TooLong(..) => 413,
        MsgError::Empty | MsgError::TooManyRecipients(..) => 400,
        MsgError::NoRecipients(_) => 404,
        MsgError::QuotaFull(_) => 507,
        MsgError::RateLimited(_) => 429,
        _ => 500,
    };
    (code, e.to_string())
}

impl Engine {
    /// Make the core's message changes durable. Called before every
    /// transmit; a failed commit is kept and retried (the mesh does not
    /// stop for a full disk, but an API send reports it).
    pub(super) fn persist_messages(&mut self) -> Result<(), String> {
        let mut changes = std::mem::take(&mut self.unsaved);
        changes.extend(self.app.node_mut().take_message_changes());
        if changes.is_empty() {
            return Ok(());
        }
        match self.db.apply(&changes) {
            Ok(()) => {
                if std::mem::take(&mut self.store_failing) {
                    tracing::info!("message store writable again; held changes stored");
                }
                Ok(())
            }
            Err(e) => {
                // Once per outage: this runs before every transmit.
                if !std::mem::replace(&mut self.store_failing, true) {
                    tracing::error!(
                        "cannot store messages: {e} (retrying; sends are refused until it works)"
                    );
                }
                self.unsaved = changes;
                Err(format!("cannot store the message: {e}"))
            }
        }
    }

    pub(super) fn on_msg_command(&mut self, c: MsgCommand) {
        let now = super::clock::now();
        match c {
            MsgCommand::Send(req, reply) => {
                let r = self.send_message(now, &req);
                let _ = reply.send(r);
                self.drain(now);
            }
            MsgCommand::Inbox(after, reply) => {
                let r = self
                    .db
                    .inbox(after)
                    .map(|v| v.into_iter().map(|(n, m)| self.inbox_dto(n, &m)).collect())
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
            }
            MsgCommand::Outbox(reply) => {
                let r = self
                    .db
                    .outbox(Some(MAX_OUTBOX_ANSWER))
                    .map(|v| v.iter().map(|m| self.outbox_dto(m)).collect())
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
            }
            MsgCommand::Log {
                since_ms,
                limit,
                reply,
            } => {
                let r = self
                    .db
                    .log_since(since_ms, limit.min(MAX_LOG_ANSWER))
                    .map(|mut rows| {
                        crate::daemon::log_text::fill(&mut rows, &self.known_names(now));
                        rows
                    })
                    .map_err(|e| e.to_string());
                let _ = reply.send(r);
            }
        }
    }

    fn send_message(&mut self, now: Instant, req: &SendRequest) -> Result<OutboxMessage, Refusal> {
        let to = if req.talkgroup {
            MsgTo::Talkgroup(&req.to)
        } else {
            MsgTo::Name(&req.to)
        };
        // Staged: nothing of it leaves before it is on disk, and it is
        // accepted only then. A store that cannot be written (disk full,
        // filesystem gone read-only) refuses it whole: withdrawn from the
        // core and from the changes to retry, so it is neither sent nor
        // stored later behind the caller's back.
        let id = self
            .app
            .with_node(now, |n| n.stage_message(now, to, &req.text))
            .map_err(|e| refusal(&e));
        let id = match id {
            Ok(id) => id,
            Err(r) => {
                self.app.with_node(now, |n| n.release_messages(now));
                return Err(r);
            }
        };
        if let Err(e) = self.persist_messages() {
            self.unsaved.retain(|c| !c.concerns(&id));
            self.app.with_node(now, |n| n.withdraw_message(now, id));
            tracing::warn!(id = %id_hex(&id), "message refused: {e}");
            return Err((507, format!("{e}; the message was not sent")));
        }
        self.app.with_node(now, |n| n.release_messages(now));
        let m = self
            .app
            .node()
            .messages()
            .outbox()
            .find(|m| m.id == id)
            .cloned()
            .or_else(|| {
                self.db
                    .outbox(Some(MAX_OUTBOX_ANSWER))
                    .ok()?
                    .into_iter()
                    .find(|m| m.id == id)
            })
            .ok_or((500, "message stored but not found".to_string()))?;
        tracing::info!(id = %id_hex(&id), to = %req.to, recipients = m.recipients.len(), "message accepted");
        self.publish(ApiEvent::MessageSent {
            id: id_hex(&id),
            to: req.to.clone(),
            talkgroup: req.talkgroup,
            recipients: m.recipients.iter().map(|r| r.node).collect(),
        });
        Ok(self.outbox_dto(&m))
    }

    fn outbox_dto(&self, m: &OutMsg) -> OutboxMessage {
        OutboxMessage {
            id: id_hex(&m.id),
            to: m.to.clone(),
            talkgroup: m.talkgroup,
            text: m.text.clone(),
            created_ms: m.created_ms,
            expires_ms: m.expires_ms,
            state: m.summary(),
            delivered: m.count(RecipientState::Delivered),
            total: m.recipients.len(),
            recipients: m
                .recipients
                .iter()
                .map(|r| RecipientDto {
                    node: r.node,
                    names: self.names_of(&r.node),
                    seq: r.seq,
                    state: r.state.as_str().into(),
                    at_ms: r.at_ms,
                })
                .collect(),
        }
    }

    fn inbox_dto(&self, n: i64, m: &InMsg) -> InboxMessage {
        InboxMessage {
            n,
            id: id_hex(&m.id),
            from: m.src,
            from_names: self.names_of(&m.src),
            to: m.to.clone(),
            talkgroup: m.talkgroup,
            text: m.text.clone(),
            seq: m.seq,
            created_ms: m.created_ms,
            received_ms: m.received_ms,
        }
    }

    pub(super) fn on_message_event(&mut self, _now: Instant, e: MsgEvent) {
        // The event's change was committed before this (flush persists first).
        let _ = self.persist_messages();
        let api = match e {
            MsgEvent::Received(m) => {
                let n = self.db.inbox_row(&m.id).ok().flatten().unwrap_or(0);
                tracing::info!(id = %id_hex(&m.id), from = %m.src.short(), seq = m.seq, "message received");
                ApiEvent::MessageReceived {
                    id: id_hex(&m.id),
                    from: m.src,
                    from_names: self.names_of(&m.src),
                    to: m.to,
                    text: m.text,
                    seq: m.seq,
                    n,
                }
            }
            MsgEvent::Delivered {
                id,
                dst,
                delivered,
                total,
            } => {
                tracing::info!(id = %id_hex(&id), to = %dst.short(), delivered, total, "message delivered");
                ApiEvent::MessageDelivered {
                    id: id_hex(&id),
                    to: dst,
                    delivered,
                    total,
                }
            }
            MsgEvent::Expired { id, dst } => ApiEvent::MessageExpired {
                id: id_hex(&id),
                to: dst,
            },
            MsgEvent::Custody {
                id,
                src,
                dst,
                from,
                copies,
            } => {
                tracing::info!(id = %id_hex(&id), from = %from.short(), dst = %dst.short(), copies, "took custody");
                ApiEvent::MessageCustody {
                    id: id_hex(&id),
                    src,
                    dst,
                    from,
                    copies,
                }
            }
            MsgEvent::Handed {
                id,
                dst,
                to,
                copies,
            } => ApiEvent::MessageHanded {
                id: id_hex(&id),
                dst,
                to,
                copies,
            },
            MsgEvent::Refused { from, reason } => {
                tracing::info!(from = %from.short(), %reason, "message refused");
                ApiEvent::MessageRefused { from, reason }
            }
        };
        self.publish(api);
    }

    /// Names of every node this daemon knows: the directory's, else those
    /// heard in hellos or configured.
    fn known_names(&self, now: Instant) -> BTreeMap<NodeId, Vec<String>> {
        let mut out = self.names.clone();
        let mut dir: BTreeMap<NodeId, Vec<String>> = BTreeMap::new();
        for e in self.app.node().directory().store().entries() {
            if e.claims(now) {
                dir.entry(e.rec.holder)
                    .or_default()
                    .push(e.rec.name.clone());
            }
        }
        out.extend(dir);
        out
    }

    /// Append an event to the incident log (route changes are left out:
    /// they are the mesh's business, not the incident's), and turn floor
    /// events into PTT burst records.
    pub(super) fn log_event(&mut self, e: &ApiEvent) {
        let at = unix_ms();
        match e {
            ApiEvent::RouteChanged { .. } => return,
            ApiEvent::Floor {
                talkgroup,
                event,
                who,
            } => match event.as_str() {
                "granted" => {
                    let me = self.held_names().first().cloned();
                    self.bursts.insert(talkgroup.clone(), (me, at));
                }
                "taken" => {
                    self.bursts.insert(talkgroup.clone(), (who.clone(), at));
                }
                "idle" | "revoked" | "time_limit" | "released" => {
                    if let Some((talker, start_ms)) = self.bursts.remove(talkgroup) {
                        let g = crate::app::group_wire::group_of(talkgroup);
                        let b = ApiEvent::PttBurst {
                            talkgroup: talkgroup.clone(),
                            talker,
                            start_ms,
                            length_ms: at.saturating_sub(start_ms),
                            recording: self.audio_log.current(g),
                        };
                        self.log_row(at, &b);
                        let _ = self.events.send(b);
                    }
                }
                _ => {}
            },
            _ => {}
        }
        self.log_row(at, e);
    }

    fn log_row(&mut self, at: u64, e: &ApiEvent) {
        let detail = serde_json::to_value(e).unwrap_or(serde_json::Value::Null);
        self.log_backlog.push_back((at, e.kind(), detail));
        if self.log_backlog.len() > LOG_BACKLOG_MAX {
            self.log_backlog.pop_front();
            self.log_dropped += 1;
        }
        self.flush_log();
    }

    /// Write the held log rows, oldest first, until one fails. A full disk
    /// fails every row: the rows wait in memory (bounded) rather than go
    /// missing, so an outage of minutes leaves no hole in the log.
    pub(super) fn flush_log(&mut self) {
        while let Some((at, kind, detail)) = self.log_backlog.front() {
            if let Err(err) = self.db.log(*at, kind, detail) {
                // Once per outage.
                if !std::mem::replace(&mut self.log_failing, true) {
                    tracing::warn!(
                        "cannot append to the incident log: {err}; holding up to {LOG_BACKLOG_MAX} rows until it is writable"
                    );
                }
                return;
            }
            self.log_backlog.pop_front();
        }
        if std::mem::take(&mut self.log_failing) {
            tracing::info!(
                dropped = std::mem::take(&mut self.log_dropped),
                "incident log writable again (held rows written)"
            );
        }
    }
}
