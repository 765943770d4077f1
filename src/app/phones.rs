//! SIP phones on this device ([`crate::phone::Front`]) joined to the
//! mesh: a phone that registers claims its role in the directory, its
//! calls become mesh calls placed on its behalf, mesh calls to its role
//! ring it, and its MESSAGEs are carried as instant texts.
//!
//! RTP sockets are the driver's: when a phone's call needs one the layer
//! asks with [`AppEvent::PhoneRtpWanted`] and goes on when
//! [`App::phone_rtp_ready`] brings the port (a mesh call rings the phone
//! only then, since the port goes into the INVITE's SDP).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::calls::PhoneEnd;
use super::{App, AppEvent};
use crate::phone::{Codec, Front, FrontConfig, FrontEvent, LegId, Peer, PhoneMedia, Transmit};
use crate::session::CallId;
use crate::time::Instant;

/// What we offer a phone we ring, in order: Opus first, G.711 for phones
/// that have nothing else.
const OFFER: [Codec; 3] = [Codec::Opus { pt: 96 }, Codec::Pcmu, Codec::Pcma];
const TELEPHONE_EVENT_PT: u8 = 101;

pub(super) struct Phones {
    pub front: Front,
    /// Each phone leg's mesh call.
    legs: BTreeMap<LegId, CallId>,
    /// Mesh calls whose phones ring once the RTP socket is open: the role.
    ring_wait: BTreeMap<CallId, String>,
}

impl Phones {
    pub(super) fn new(cfg: FrontConfig, seed: u64) -> Phones {
        Phones {
            front: Front::new(cfg, seed),
            legs: BTreeMap::new(),
            ring_wait: BTreeMap::new(),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.front.poll_timeout()
    }
}

impl App {
    /// A SIP message from a phone (`local`: our address as it reaches us).
    pub fn handle_sip(&mut self, now: Instant, peer: Peer, local: SocketAddr, bytes: &[u8]) {
        self.phones.front.handle(now, peer, local, bytes);
        self.pump(now);
    }

    /// The next SIP message for a phone.
    pub fn poll_sip(&mut self) -> Option<Transmit> {
        self.phones.front.poll_transmit()
    }

    /// The SIP front, for status (bindings, legs, malformed count).
    pub fn front(&self) -> &Front {
        &self.phones.front
    }

    /// The RTP socket asked for by [`AppEvent::PhoneRtpWanted`] is open on
    /// `port` (or could not be opened).
    pub fn phone_rtp_ready(&mut self, now: Instant, call: CallId, port: Result<u16, String>) {
        let role = self.phones.ring_wait.remove(&call);
        match (port, role) {
            (Ok(port), Some(role)) => self.invite_phones(now, call, &role, port),
            (Ok(port), None) => {
                if let Some(p) = self
                    .calls
                    .calls
                    .get_mut(&call)
                    .and_then(|c| c.phone.as_mut())
                {
                    p.rtp_port = Some(port);
                }
            }
            (Err(e), Some(_)) => tracing::warn!(call = call.0, "cannot ring the phone: {e}"),
            (Err(e), None) => {
                tracing::warn!(call = call.0, "cannot bridge the phone: {e}");
                let _ = self.calls.session.hangup(now, call);
                self.end_call(now, call, true, Some(500), e);
            }
        }
        self.pump(now);
    }

    pub(super) fn phones_timeout(&mut self, now: Instant) {
        if self.phones.front.poll_timeout().is_some_and(|t| t <= now) {
            self.phones.front.handle_timeout(now);
        }
    }

    /// Act on the front's events. True if anything moved.
    pub(super) fn pump_front(&mut self, now: Instant) -> bool {
        let mut busy = false;
        while let Some(e) = self.phones.front.poll_event() {
            busy = true;
            self.on_front_event(now, e);
        }
        busy
    }

    fn on_front_event(&mut self, now: Instant, e: FrontEvent) {
        match e {
            FrontEvent::Claim { txn, role } => {
                let r = self.node.claim(now, &role, false);
                match &r {
                    Ok(()) => {
                        tracing::info!(%role, "SIP phone registered: role claimed");
                        self.event(AppEvent::PhoneRegistered { role });
                    }
                    Err(e) => tracing::info!(%role, "SIP phone refused: {e}"),
                }
                let r = r.map_err(|e| (403, e.to_string()));
                self.phones.front.complete(now, txn, r);
            }
            FrontEvent::Released { role } => {
                tracing::info!(%role, "SIP phone gone: role released");
                // A role the device itself was started with stays.
                if !self.cfg.fixed_names.contains(&role)
                    && let Err(e) = self.node.release(now, &role)
                {
                    tracing::debug!(%role, "release: {e}");
                }
                self.event(AppEvent::PhoneUnregistered { role });
            }
            FrontEvent::Dial {
                leg,
                from,
                to,
                media,
            } => {
                if let Err((code, why)) = self.phone_dials(now, leg, &from, &to, media) {
                    tracing::info!(leg = leg.0, %from, %to, code, "phone call refused: {why}");
                    let _ = self.phones.front.refuse(now, leg, code);
                }
            }
            FrontEvent::Ringing { leg } => tracing::debug!(leg = leg.0, "phone ringing"),
            FrontEvent::Answered { leg, media } => {
                let Some(call) = self.phones.legs.get(&leg).copied() else {
                    return;
                };
                match self.answer_with(now, call, Some(media)) {
                    Ok(()) => tracing::info!(call = call.0, leg = leg.0, "the SIP phone answered"),
                    Err(e) => {
                        tracing::warn!(call = call.0, leg = leg.0, "cannot bridge the phone: {e}");
                        let _ = self.phones.front.hangup(now, leg);
                        let _ = self.calls.session.hangup(now, call);
                        self.end_call(now, call, false, None, e.to_string());
                    }
                }
            }
            FrontEvent::Rejected { leg, code } => {
                if let Some(call) = self.phones.legs.remove(&leg) {
                    tracing::info!(leg = leg.0, code, "phone did not answer");
                    self.reject(now, call, code);
                }
            }
            FrontEvent::Hangup { leg } => {
                if let Some(call) = self.phones.legs.remove(&leg) {
                    let _ = self.calls.session.hangup(now, call);
                    self.end_call(now, call, false, None, "the phone hung up".into());
                }
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

    /// A phone calls a name: a mesh call on its behalf.
    fn phone_dials(
        &mut self,
        now: Instant,
        leg: LegId,
        from: &str,
        to: &str,
        media: PhoneMedia,
    ) -> Result<(), (u16, String)> {
        if !crate::wire::name::valid_name(to) {
            return Err((404, format!("{to:?} is not a role name")));
        }
        if self.remote_holders(now, to).is_empty() {
            return Err((404, format!("no one holds {to}")));
        }
        let ip = self
            .phones
            .front
            .leg_local(leg)
            .ok_or((500, "no such phone call".to_string()))?
            .ip();
        let end = PhoneEnd {
            leg: Some(leg),
            media: Some(media),
            rtp_port: None,
        };
        let call = self
            .dial_from(now, from, to, Some(end))
            .map_err(|e| (500, e.to_string()))?;
        self.phones.legs.insert(leg, call);
        self.event(AppEvent::PhoneRtpWanted { call, ip });
        Ok(())
    }

    /// A mesh call for a role a phone here holds: get an RTP socket, then
    /// ring the phone(s).
    /// A phone of ours rings (or is about to ring) for `call`.
    pub(super) fn ringing_for(&self, call: CallId) -> bool {
        self.phones.ring_wait.contains_key(&call)
    }

    pub(super) fn ring_phones(&mut self, _now: Instant, call: CallId) {
        let Some(role) = self.calls.session.call(call).map(|c| c.local_name) else {
            return;
        };
        let Some(ip) = self
            .phones
            .front
            .bindings()
            .find(|b| b.role == role)
            .map(|b| b.local.ip())
        else {
            return;
        };
        self.phones.ring_wait.insert(call, role);
        self.event(AppEvent::PhoneRtpWanted { call, ip });
    }

    fn invite_phones(&mut self, now: Instant, call: CallId, role: &str, port: u16) {
        if !self.calls.calls.contains_key(&call) {
            return;
        }
        let caller = self
            .calls
            .session
            .call(call)
            .map(|i| i.peer_name)
            .unwrap_or_default();
        let Some(leg) =
            self.phones
                .front
                .invite(now, role, &caller, port, &OFFER, Some(TELEPHONE_EVENT_PT))
        else {
            return;
        };
        tracing::info!(call = call.0, leg = leg.0, %role, "ringing the SIP phone");
        if let Some(c) = self.calls.calls.get_mut(&call) {
            c.phone = Some(PhoneEnd {
                leg: Some(leg),
                media: None,
                rtp_port: Some(port),
            });
        }
        self.phones.legs.insert(leg, call);
    }

    /// The phone that placed `call` hears it ring.
    pub(super) fn phone_ringing(&mut self, now: Instant, call: CallId) {
        let Some(leg) = self
            .calls
            .calls
            .get(&call)
            .and_then(|c| c.phone.as_ref())
            .and_then(|p| p.leg)
        else {
            return;
        };
        if let Err(e) = self.phones.front.ringing(now, leg) {
            tracing::debug!(leg = leg.0, "180 to the phone: {e}");
        }
    }

    /// The mesh answered a phone's call: 200 to the phone.
    pub(super) fn phone_answered_by_mesh(&mut self, now: Instant, call: CallId) {
        let Some(p) = self.calls.calls.get(&call).and_then(|c| c.phone.clone()) else {
            return;
        };
        let (Some(leg), Some(pm), Some(port)) = (p.leg, p.media, p.rtp_port) else {
            tracing::warn!(call = call.0, "the phone's RTP is not ready");
            return;
        };
        let Some(codec) = pm.codec() else {
            return;
        };
        if let Err(e) = self.phones.front.accept(now, leg, port, codec, pm.te_pt) {
            tracing::debug!(leg = leg.0, "200 to the phone: {e}");
        }
    }

    /// A bridged call ended on the mesh side (or failed): tell the phone.
    pub(super) fn phone_call_over(
        &mut self,
        now: Instant,
        c: &super::calls::Call,
        code: Option<u16>,
    ) {
        self.phones.ring_wait.remove(&c.id);
        if let Some(leg) = c.phone.as_ref().and_then(|p| p.leg) {
            self.phone_leg_over(now, leg, code);
        }
    }

    pub(super) fn phone_leg_over(&mut self, now: Instant, leg: LegId, code: Option<u16>) {
        let r = match code {
            Some(c) => self
                .phones
                .front
                .refuse(now, leg, c)
                .or_else(|_| self.phones.front.hangup(now, leg)),
            None => self.phones.front.hangup(now, leg),
        };
        if let Err(e) = r {
            tracing::trace!(leg = leg.0, "phone call over: {e}");
        }
        self.phones.legs.remove(&leg);
    }
}
