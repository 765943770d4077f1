//! The engine's answers to what the application layer reports: mesh
//! events for the log and the event stream, call and floor events, and the
//! media work it asks for (encode a frame now, play this, open an RTP
//! socket).

use super::{BENCH_PROTO, Engine, Instant, PingReply, decode_ping};
use crate::app::{AppEvent, Stream};
use crate::daemon::dto::ApiEvent;
use crate::floor::FloorEvent;
use crate::node::Event;

impl Engine {
    pub(super) fn on_app_event(&mut self, now: Instant, e: AppEvent) {
        match e {
            AppEvent::Node(e) => self.on_event(now, e),
            AppEvent::CallIncoming { call, from, node } => {
                self.ring(now, call, true);
                self.publish(ApiEvent::CallIncoming {
                    call: call.0,
                    from,
                    node,
                });
            }
            AppEvent::CallRinging { call, by } => {
                self.publish(ApiEvent::CallRinging { call: call.0, by })
            }
            AppEvent::CallAnswered { call, by } => {
                self.publish(ApiEvent::CallAnswered { call: call.0, by })
            }
            AppEvent::CallMedia {
                call,
                bitrate,
                phone,
            } => {
                self.ring(now, call, false);
                self.call_media(now, call, bitrate, phone)
            }
            AppEvent::CallEnded {
                call,
                failed,
                code,
                reason,
            } => {
                self.ring(now, call, false);
                self.call_over(call);
                self.publish(ApiEvent::CallEnded {
                    call: call.0,
                    state: if failed { "failed" } else { "ended" }.into(),
                    code,
                    reason,
                });
            }
            AppEvent::Floor {
                talkgroup, event, ..
            } => self.on_floor_event(&talkgroup, event),
            AppEvent::PhoneRegistered { role } => self.publish(ApiEvent::PhoneRegistered { role }),
            AppEvent::PhoneUnregistered { role } => {
                self.publish(ApiEvent::PhoneUnregistered { role })
            }
            AppEvent::PhoneRtpWanted { call, ip } => {
                // The phone rings for it, not the speaker.
                self.ring(now, call, false);
                self.open_rtp(now, call, ip)
            }
            AppEvent::Text {
                from,
                to,
                node,
                body,
            } => self.publish(ApiEvent::Text {
                from,
                to,
                node,
                body,
            }),
            AppEvent::ParRequest {
                par,
                from,
                talkgroup,
            } => {
                tracing::warn!(par, %from, ?talkgroup, "PAR: report (callsign par ack, or press to talk)");
                self.publish(ApiEvent::ParRequest {
                    par: par.to_string(),
                    from,
                    talkgroup,
                })
            }
            AppEvent::ParAnswered { par } => self.publish(ApiEvent::ParAnswered {
                par: par.to_string(),
            }),
            AppEvent::ParAccounted { par, node, name } => self.publish(ApiEvent::ParAccounted {
                par: par.to_string(),
                name,
                node,
            }),
            AppEvent::ParClosed { par, outcome } => {
                self.publish(Engine::par_closed_event(par, &outcome))
            }
            AppEvent::FrameDue { stream, index } => match stream {
                Stream::Call(c) => self.call_frame_due(now, c, index),
                Stream::Group(g) => self.group_frame_due(now, g, index),
            },
            AppEvent::TxStopped { stream } => {
                if let Stream::Group(g) = stream {
                    self.group_tx_stopped(g);
                }
            }
            AppEvent::Play { stream, playout } => match stream {
                Stream::Call(c) => self.call_play(now, c, &playout),
                Stream::Group(g) => self.group_play(now, g, &playout),
            },
            AppEvent::PlayReset { stream } => {
                if let Stream::Group(g) = stream {
                    self.group_reset(g);
                }
            }
            AppEvent::ExpectedLoss { stream, pct } => match stream {
                Stream::Call(c) => self.call_expected_loss(c, pct),
                Stream::Group(g) => self.group_expected_loss(g, pct),
            },
            AppEvent::CallFrame {
                call,
                index,
                capture_ms,
                payload,
            } => self.call_frame_to_phone(call, index, capture_ms, &payload),
        }
    }

    /// `call` rings here (or stopped): the ring tone plays while any does.
    fn ring(&mut self, now: Instant, call: crate::session::CallId, on: bool) {
        if on {
            self.ringing.insert(call);
        } else {
            self.ringing.remove(&call);
        }
        let ring = !self.ringing.is_empty();
        if ring != self.speaker.ringing() && self.speaker.present() {
            tracing::debug!(ring, "ring tone");
        }
        self.speaker.ring(now, ring);
    }

    /// Floor events for the log and the event stream.
    fn on_floor_event(&mut self, talkgroup: &str, e: FloorEvent) {
        let (kind, who) = match e {
            FloorEvent::Granted => {
                tracing::info!(%talkgroup, "talk permit");
                ("granted", None)
            }
            FloorEvent::Denied { name, .. } => {
                tracing::info!(%talkgroup, holder = %name, "floor denied");
                ("denied", Some(name))
            }
            FloorEvent::Revoked { name, .. } => {
                tracing::info!(%talkgroup, by = %name, "floor pre-empted");
                ("revoked", Some(name))
            }
            FloorEvent::TimeLimit => ("time_limit", None),
            FloorEvent::Taken { name, .. } => {
                tracing::info!(%talkgroup, talker = %name, "talking");
                ("taken", Some(name))
            }
            FloorEvent::Idle => ("idle", None),
        };
        self.publish(ApiEvent::Floor {
            talkgroup: talkgroup.to_string(),
            event: kind.into(),
            who,
        });
    }

    pub(super) fn on_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::NeighbourUp { id, iface, addr } => {
                self.learn_names(now);
                let names = self.names_of(&id);
                let ifname = self.iface_name(iface);
                tracing::info!(neighbour = %id.short(), names = ?names, iface = %ifname, %addr, "neighbour up");
                self.publish(ApiEvent::NeighbourUp {
                    id,
                    names,
                    iface: ifname,
                    addr: addr.to_string(),
                });
            }
            Event::NeighbourDown { id, iface, why } => {
                let ifname = self.iface_name(iface);
                match why {
                    Some(w) => tracing::info!(
                        neighbour = %id.short(), names = ?self.names_of(&id), iface = %ifname,
                        suspected = ?w.cause, silent_ms = w.silent_ms, probes = w.probes,
                        "neighbour down: probes unanswered"
                    ),
                    None => {
                        tracing::info!(neighbour = %id.short(), names = ?self.names_of(&id), iface = %ifname, "neighbour down: interface gone")
                    }
                }
                self.publish(ApiEvent::NeighbourDown { id, iface: ifname });
            }
            Event::RouteChanged {
                dest,
                next_hop,
                metric,
                hops,
            } => {
                self.note_route(now, dest, next_hop.is_some());
                match next_hop {
                    Some(nh) => {
                        tracing::debug!(dest = %dest.short(), via = %nh.short(), metric, hops, "route")
                    }
                    None => tracing::debug!(dest = %dest.short(), "route lost"),
                }
                self.publish(ApiEvent::RouteChanged {
                    dest,
                    next_hop,
                    metric,
                    hops,
                });
            }
            Event::EchoReply { hops, payload, .. } => {
                let Some((session, seq, sent)) = decode_ping(&payload) else {
                    return;
                };
                if let Some(tx) = self.pings.get(&session) {
                    let rtt_us =
                        now.saturating_since(Instant::from_micros(sent)).as_micros() as u64;
                    // A slow client loses replies rather than stalling the engine.
                    let _ = tx.try_send(PingReply::Reply { seq, hops, rtt_us });
                }
            }
            Event::Delivered { proto, payload, .. } if proto == BENCH_PROTO => {
                self.bench_record(now, &payload)
            }
            Event::Delivered { src, proto, .. } => {
                tracing::debug!(src = %src.short(), proto, "data for an unknown protocol dropped");
            }
            // The application layer takes what is its own (calls, group
            // voice); what reaches here is nobody's.
            Event::VoiceFrame { src, label, .. } => {
                tracing::trace!(src = %src.short(), label, "voice frame of no call");
            }
            Event::FloodDelivered { src, group, .. } => {
                tracing::trace!(src = %src.short(), group = %group.short(), "flood of no talkgroup");
            }
            Event::Undeliverable { dst, seq } => {
                tracing::debug!(dst = %dst.short(), seq, "undeliverable");
            }
            Event::Directory(e) => self.on_directory(e),
            Event::Message(e) => self.on_message_event(now, e),
            Event::CertRefused { from, reason } => {
                tracing::info!(from = %from.short(), %reason, "device certificate refused");
            }
            Event::Revoked { id, revocation } => {
                let reason = crate::trust::Revocation::decode(&revocation)
                    .map(|r| r.reason)
                    .unwrap_or_default();
                if id == self.app.node().id() {
                    tracing::error!(%reason, "THIS DEVICE IS REVOKED: the mesh refuses it; it needs a new key and certificate");
                } else {
                    tracing::warn!(device = %id, %reason, "device revoked: shut out");
                }
                if let Err(e) =
                    super::super::revocations::save(&self.settings.data_dir, &id, &revocation)
                {
                    tracing::error!(
                        "revocation of {id} not kept, it will not hold after a restart: {e}"
                    );
                }
            }
            Event::RevocationRefused { from, reason } => {
                tracing::warn!(from = %from.short(), %reason, "revocation refused");
            }
        }
    }
}
