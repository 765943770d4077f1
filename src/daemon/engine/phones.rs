//! The engine's SIP front: phones registered here claim their roles in
//! the directory, their calls become mesh calls (and mesh calls to their
//! roles ring them), their RTP is bridged to the call's flow, and their
//! MESSAGEs are carried as mesh texts.

use std::collections::BTreeMap;

use super::calls::{self, CallMeta, start_media};
use super::{Engine, clock};
use crate::daemon::dto::ApiEvent;
use crate::daemon::sip_net::{PhoneIo, RtpSock, SipNet};
use crate::phone::{Codec, Front, FrontEvent, LegId, PhoneMedia};
use crate::session::CallId;
use crate::time::Instant;

/// What we offer a phone we ring, in order: Opus first, G.711 for phones
/// that have nothing else.
const OFFER: [Codec; 3] = [Codec::Opus { pt: 96 }, Codec::Pcmu, Codec::Pcma];
const TELEPHONE_EVENT_PT: u8 = 101;

pub struct PhonesFace {
    pub front: Front,
    pub net: Option<SipNet>,
    /// Each phone call's RTP socket and its mesh call, once there is one.
    legs: BTreeMap<LegId, PhoneLeg>,
    /// Roles claimed for phones (released when their last phone goes).
    claimed: Vec<String>,
}

struct PhoneLeg {
    call: Option<CallId>,
    rtp: RtpSock,
}

impl PhonesFace {
    pub fn new(front: Front) -> Self {
        PhonesFace {
            front,
            net: None,
            legs: BTreeMap::new(),
            claimed: Vec::new(),
        }
    }
}

impl Engine {
    /// Something from the SIP front's sockets.
    pub(super) fn on_phone_io(&mut self, io: PhoneIo) {
        let now = clock::now();
        match io {
            PhoneIo::Sip { peer, local, bytes } => {
                self.voice.phones.front.handle(now, peer, local, &bytes);
            }
            PhoneIo::TcpOpen { id, tx } => {
                if let Some(n) = &mut self.voice.phones.net {
                    n.on_tcp_open(id, tx);
                }
            }
            PhoneIo::TcpClosed { id } => {
                if let Some(n) = &mut self.voice.phones.net {
                    n.on_tcp_closed(id);
                }
            }
            PhoneIo::Rtp { leg, from, bytes } => {
                self.on_phone_rtp(now, leg, from, &bytes);
                return;
            }
        }
        self.pump_phones(now);
    }

    pub(super) fn phones_timeout(&mut self, now: Instant) {
        if self
            .voice
            .phones
            .front
            .poll_timeout()
            .is_some_and(|t| t <= now)
        {
            self.voice.phones.front.handle_timeout(now);
            self.pump_phones(now);
        }
    }

    /// Send what the front wants sent and act on its events.
    pub(super) fn pump_phones(&mut self, now: Instant) {
        loop {
            while let Some(t) = self.voice.phones.front.poll_transmit() {
                if let Some(n) = &self.voice.phones.net {
                    n.send(t);
                }
            }
            let Some(e) = self.voice.phones.front.poll_event() else {
                break;
            };
            self.on_front_event(now, e);
        }
        self.pump_calls(now);
    }

    fn on_front_event(&mut self, now: Instant, e: FrontEvent) {
        match e {
            FrontEvent::Claim { txn, role } => {
                let r = self.node.claim(now, &role, false);
                match &r {
                    Ok(()) => {
                        tracing::info!(%role, "SIP phone registered: role claimed");
                        if !self.voice.phones.claimed.contains(&role) {
                            self.voice.phones.claimed.push(role.clone());
                        }
                        self.publish(ApiEvent::PhoneRegistered { role: role.clone() });
                    }
                    Err(e) => tracing::info!(%role, "SIP phone refused: {e}"),
                }
                let r = r.map_err(|e| (403, e.to_string()));
                self.voice.phones.front.complete(now, txn, r);
            }
            FrontEvent::Released { role } => {
                tracing::info!(%role, "SIP phone gone: role released");
                self.voice.phones.claimed.retain(|r| *r != role);
                // A role the daemon itself was started with stays.
                if !self.settings.names.contains(&role)
                    && let Err(e) = self.node.release(now, &role)
                {
                    tracing::debug!(%role, "release: {e}");
                }
                self.publish(ApiEvent::PhoneUnregistered { role });
            }
            FrontEvent::Dial {
                leg,
                from,
                to,
                media,
            } => {
                if let Err((code, why)) = self.phone_dials(now, leg, &from, &to, media) {
                    tracing::info!(leg = leg.0, %from, %to, code, "phone call refused: {why}");
                    let _ = self.voice.phones.front.refuse(now, leg, code);
                    self.voice.phones.legs.remove(&leg);
                }
            }
            FrontEvent::Ringing { leg } => tracing::debug!(leg = leg.0, "phone ringing"),
            FrontEvent::Answered { leg, media } => self.phone_answers(now, leg, media),
            FrontEvent::Rejected { leg, code } => {
                if let Some(call) = self.voice.phones.legs.get(&leg).and_then(|l| l.call) {
                    tracing::info!(leg = leg.0, code, "phone did not answer");
                    if let Err(e) = self.voice.calls.calls.reject(now, call, code) {
                        tracing::debug!("reject: {e}");
                    }
                    self.end_call(
                        now,
                        call.0,
                        "ended",
                        Some(code),
                        format!("phone answered {code}"),
                    );
                }
                self.voice.phones.legs.remove(&leg);
            }
            FrontEvent::Hangup { leg } => {
                if let Some(call) = self.voice.phones.legs.get(&leg).and_then(|l| l.call) {
                    let _ = self.voice.calls.calls.hangup(now, call);
                    self.end_call(now, call.0, "ended", None, "the phone hung up".into());
                }
                self.voice.phones.legs.remove(&leg);
            }
            FrontEvent::Message {
                txn,
                from,
                to,
                text,
            } => self.phone_message(now, txn, &from, &to, &text),
            FrontEvent::MessageResult { txn, code } => self.text_to_phone_result(now, txn, code),
        }
    }

    fn open_rtp(&self, leg: LegId) -> Result<RtpSock, (u16, String)> {
        let ip = self
            .voice
            .phones
            .front
            .leg_local(leg)
            .ok_or((500, "no such phone call".to_string()))?
            .ip();
        let net = self
            .voice
            .phones
            .net
            .as_ref()
            .ok_or((500, "no SIP front".to_string()))?;
        net.open_rtp(ip, leg)
            .map_err(|e| (500, format!("cannot open an RTP socket: {e}")))
    }

    /// A phone calls a name: a mesh call on its behalf.
    fn phone_dials(
        &mut self,
        now: Instant,
        leg: LegId,
        from: &str,
        to: &str,
        media: PhoneMedia,
    ) -> Result<(), (u16, String)> {
        if !crate::names::record::valid_name(to) {
            return Err((404, format!("{to:?} is not a role name")));
        }
        let holders = self.remote_holders(now, to);
        if holders.is_empty() {
            return Err((404, format!("no one holds {to}")));
        }
        let rtp = self.open_rtp(leg)?;
        let share = calls::key_share()?;
        let label = calls::random_label();
        let sip_id = self.voice.calls.calls.next_sip_call_id();
        let offer = self.sign_offer(&share, label, &sip_id);
        let id = self
            .voice
            .calls
            .calls
            .dial_as(now, from, to, &holders, offer)
            .map_err(|e| (500, e.to_string()))?;
        tracing::info!(call = id.0, leg = leg.0, %from, %to, holders = holders.len(), "phone dialling");
        self.voice.calls.meta.insert(
            id.0,
            CallMeta {
                share: Some(share),
                label,
                phone: Some(leg),
                phone_media: Some(media),
                ..CallMeta::new(id, true, to, now)
            },
        );
        self.voice.phones.legs.insert(
            leg,
            PhoneLeg {
                call: Some(id),
                rtp,
            },
        );
        Ok(())
    }

    /// A mesh call for a role a phone here holds: ring the phone(s).
    pub(super) fn ring_phones(&mut self, now: Instant, call: CallId, caller: &str) {
        let Some(local_name) = self.voice.calls.calls.call(call).map(|c| c.local_name) else {
            return;
        };
        if !self.voice.phones.front.has_phone(&local_name) || self.voice.phones.net.is_none() {
            return;
        }
        // The RTP socket first: its port goes into the INVITE's SDP. The
        // leg id is not known yet, so the socket is opened for the id the
        // front will hand out next and re-keyed below if it differs.
        let Some(ip) = self
            .voice
            .phones
            .front
            .bindings()
            .find(|b| b.role == local_name)
            .map(|b| b.local.ip())
        else {
            return;
        };
        let next = self.voice.phones.front.next_leg_id();
        let Some(Ok(rtp)) = self.voice.phones.net.as_ref().map(|n| n.open_rtp(ip, next)) else {
            tracing::warn!("cannot open an RTP socket for a phone");
            return;
        };
        let Some(leg) = self.voice.phones.front.invite(
            now,
            &local_name,
            caller,
            rtp.port,
            &OFFER,
            Some(TELEPHONE_EVENT_PT),
        ) else {
            return;
        };
        debug_assert_eq!(leg, next);
        tracing::info!(call = call.0, leg = leg.0, role = %local_name, "ringing the SIP phone");
        if let Some(m) = self.voice.calls.meta.get_mut(&call.0) {
            m.phone = Some(leg);
        }
        self.voice.phones.legs.insert(
            leg,
            PhoneLeg {
                call: Some(call),
                rtp,
            },
        );
        self.pump_phones(now);
    }

    /// The phone answered a mesh call: answer it on the mesh, start media.
    fn phone_answers(&mut self, now: Instant, leg: LegId, media: PhoneMedia) {
        let Some(call) = self.voice.phones.legs.get(&leg).and_then(|l| l.call) else {
            return;
        };
        let r = (|| -> Result<(), String> {
            let share = calls::key_share().map_err(|(_, e)| e)?;
            let label = calls::random_label();
            let sip_id = self
                .voice
                .calls
                .calls
                .call(call)
                .map(|c| c.sip_call_id)
                .ok_or("the mesh call is gone")?;
            let offer = self.sign_offer(&share, label, &sip_id);
            let m = self
                .voice
                .calls
                .meta
                .get_mut(&call.0)
                .ok_or("the mesh call is gone")?;
            let (Some(peer), Some(theirs)) = (m.peer, m.their_offer.take()) else {
                return Err("the call has no offer".into());
            };
            m.phone_media = Some(media);
            let md = start_media(m, &share, label, peer, &theirs, false)?;
            m.media = Some(md);
            m.share = Some(share);
            m.label = label;
            m.state = "active";
            m.answered = Some(now);
            self.voice
                .calls
                .calls
                .answer(now, call, offer)
                .map_err(|e| e.to_string())?;
            Ok(())
        })();
        match r {
            Ok(()) => {
                tracing::info!(call = call.0, leg = leg.0, "the SIP phone answered");
                self.publish(ApiEvent::CallAnswered {
                    call: call.0,
                    by: self.node.id(),
                });
            }
            Err(e) => {
                tracing::warn!(call = call.0, leg = leg.0, "cannot bridge the phone: {e}");
                let _ = self.voice.phones.front.hangup(now, leg);
                let _ = self.voice.calls.calls.hangup(now, call);
                self.end_call(now, call.0, "ended", None, e);
            }
        }
        self.pump_phones(now);
    }

    /// The mesh answered a phone's call: 200 to the phone.
    pub(super) fn phone_answered_by_mesh(&mut self, now: Instant, leg: LegId, pm: &PhoneMedia) {
        let Some(port) = self.voice.phones.legs.get(&leg).map(|l| l.rtp.port) else {
            return;
        };
        let Some(codec) = pm.codec() else {
            return;
        };
        if let Err(e) = self
            .voice
            .phones
            .front
            .accept(now, leg, port, codec, pm.te_pt)
        {
            tracing::debug!(leg = leg.0, "200 to the phone: {e}");
        }
        self.pump_phones(now);
    }

    /// A bridged call ended on the mesh side (or failed): tell the phone.
    pub(super) fn phone_call_over(&mut self, now: Instant, leg: LegId, code: Option<u16>) {
        let r = match code {
            Some(c) => self
                .voice
                .phones
                .front
                .refuse(now, leg, c)
                .or_else(|_| self.voice.phones.front.hangup(now, leg)),
            None => self.voice.phones.front.hangup(now, leg),
        };
        if let Err(e) = r {
            tracing::trace!(leg = leg.0, "phone call over: {e}");
        }
        self.voice.phones.legs.remove(&leg);
        while let Some(t) = self.voice.phones.front.poll_transmit() {
            if let Some(n) = &self.voice.phones.net {
                n.send(t);
            }
        }
    }

    pub(super) fn rtp_to_phone(&self, leg: LegId, dest: std::net::SocketAddr, bytes: &[u8]) {
        if let Some(l) = self.voice.phones.legs.get(&leg) {
            l.rtp.send(dest, bytes);
        }
    }
}
