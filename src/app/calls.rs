//! 1:1 calls: the SIP user agent between daemons ([`crate::session`]) as
//! control-class data through the node, signed offers, and each call's
//! media sealed end to end on its flow label, so relays forward what they
//! cannot read.
//!
//! A call ends here in one of two ways: our own end (the driver's source
//! and sink: [`AppEvent::FrameDue`] asks for frames, [`AppEvent::Play`]
//! says what to play, through a jitter buffer) or a SIP phone's RTP bridge
//! (frames go both ways as they come, [`App::send_call_payload`] and
//! [`AppEvent::CallFrame`]; phones buffer their own jitter).
//!
//! Every frame's sealed plaintext carries the loss its sender measures on
//! the other direction (`voice::call_payload`): the far end plans its
//! encoder's FEC for it ([`AppEvent::ExpectedLoss`]).

use std::collections::{BTreeMap, VecDeque};

use super::call_auth;
use super::offer::{self, CALL_BITRATE};
use super::talkgroups::MAX_EXPECTED_LOSS;
use super::{App, AppError, AppEvent, Stream, capture_ms, playout};
use crate::identity::NodeId;
use crate::node::Class;
use crate::phone::{LegId, PhoneMedia};
use crate::session::{CallConfig, CallEvent, CallId, Calls, MediaOffer};
use crate::time::Instant;
use crate::voice::call_payload::CallPayload;
use crate::voice::crypto::{KeyShare, MediaKeys};
use crate::voice::frame::{FrameIndex, VoiceFrame};
use crate::wire::proto;

/// Ended calls kept for tools (oldest forgotten).
pub const HISTORY: usize = 32;

/// Where a call stands, as tools show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallPhase {
    /// Our INVITEs are out, nobody rings yet.
    Dialing,
    /// Someone rings (ours), or it rings here (theirs).
    Ringing,
    Active,
    Ended,
    /// It never came up (404, 480, 486, ...).
    Failed,
}

impl CallPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            CallPhase::Dialing => "dialing",
            CallPhase::Ringing => "ringing",
            CallPhase::Active => "active",
            CallPhase::Ended => "ended",
            CallPhase::Failed => "failed",
        }
    }
}

/// A call's media figures.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MediaView {
    pub frames_sent: u64,
    /// The loss our encoder plans FEC for (the far end's report).
    pub expected_loss_pct: u8,
    /// Frames that failed to open (forged, corrupted, wrong key).
    pub rejected: u64,
    /// Our own end's receiver; `None` for a phone's bridge.
    pub rx: Option<playout::PlayoutStats>,
    pub phone: bool,
}

/// A call as tools show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallView {
    pub id: u64,
    pub outgoing: bool,
    /// The name called, or the caller's name.
    pub name: String,
    pub peer: Option<NodeId>,
    pub phase: CallPhase,
    pub code: Option<u16>,
    pub reason: Option<String>,
    pub ringing_ms: Option<u64>,
    pub answered_ms: Option<u64>,
    pub age_ms: u64,
    pub media: Option<MediaView>,
}

/// A SIP phone at our end of a call.
#[derive(Debug, Clone, Default)]
pub(super) struct PhoneEnd {
    pub leg: Option<LegId>,
    pub media: Option<PhoneMedia>,
    pub rtp_port: Option<u16>,
}

pub(super) struct Media {
    peer: NodeId,
    tx_label: u32,
    rx_label: u32,
    keys: MediaKeys,
    rx_index: FrameIndex,
    rejected: u64,
    /// Our own end's receiver (none for a phone's bridge).
    play: Option<playout::Stream>,
    /// The next slot our own end's clock asks a frame for.
    next_due: u64,
    /// Indices are nonces: never one at or below the last sent.
    last_sent: Option<u64>,
    due_at: Instant,
    sent: u64,
    expected_loss: u8,
}

pub(super) struct Call {
    pub id: CallId,
    outgoing: bool,
    name: String,
    pub peer: Option<NodeId>,
    phase: CallPhase,
    started: Instant,
    ringing: Option<Instant>,
    answered: Option<Instant>,
    /// Our ephemeral key and flow label (caller: from the dial; callee:
    /// made at answer).
    share: Option<KeyShare>,
    label: u32,
    /// The caller's offer, kept until we answer.
    their_offer: Option<MediaOffer>,
    pub media: Option<Media>,
    pub phone: Option<PhoneEnd>,
}

pub(super) struct CallTable {
    pub session: Calls,
    pub calls: BTreeMap<CallId, Call>,
    history: VecDeque<CallView>,
}

impl CallTable {
    pub(super) fn new(me: NodeId, my_name: String, cfg: CallConfig) -> Self {
        CallTable {
            session: Calls::new(me, my_name, cfg),
            calls: BTreeMap::new(),
            history: VecDeque::new(),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    pub(super) fn media_active(&self) -> bool {
        self.calls
            .values()
            .any(|c| c.media.as_ref().is_some_and(|m| m.play.is_some()))
    }
}

impl Call {
    fn new(id: CallId, outgoing: bool, name: &str, now: Instant) -> Call {
        Call {
            id,
            outgoing,
            name: name.to_string(),
            peer: None,
            phase: if outgoing {
                CallPhase::Dialing
            } else {
                CallPhase::Ringing
            },
            started: now,
            ringing: None,
            answered: None,
            share: None,
            label: 0,
            their_offer: None,
            media: None,
            phone: None,
        }
    }

    fn view(&self, now: Instant) -> CallView {
        let ms =
            |t: Option<Instant>| t.map(|t| t.saturating_since(self.started).as_millis() as u64);
        CallView {
            id: self.id.0,
            outgoing: self.outgoing,
            name: self.name.clone(),
            peer: self.peer,
            phase: self.phase,
            code: None,
            reason: None,
            ringing_ms: ms(self.ringing),
            answered_ms: ms(self.answered),
            age_ms: now.saturating_since(self.started).as_millis() as u64,
            media: self.media.as_ref().map(|m| MediaView {
                frames_sent: m.sent,
                expected_loss_pct: m.expected_loss,
                rejected: m.rejected,
                rx: m.play.as_ref().map(playout::Stream::stats),
                phone: m.play.is_none(),
            }),
        }
    }
}

impl App {
    /// Call `name`: every reachable or unreachable holder rings (forking;
    /// the first to answer wins). Media ends here.
    pub fn dial(&mut self, now: Instant, name: &str) -> Result<CallId, AppError> {
        let me = self.my_name();
        self.dial_from(now, &me, name, None)
    }

    /// [`App::dial`] on behalf of `from` (a SIP phone's role), with media
    /// ending at that phone.
    pub(super) fn dial_from(
        &mut self,
        now: Instant,
        from: &str,
        name: &str,
        phone: Option<PhoneEnd>,
    ) -> Result<CallId, AppError> {
        let holders = self.remote_holders(now, name);
        let share = KeyShare::new(self.random32());
        let label = self.random_label();
        let sip_id = self.calls.session.next_sip_call_id();
        let offer = offer::sign(self.node.identity(), &share, label, &sip_id);
        self.calls
            .session
            .set_names(&self.held_names_with(&self.cfg.fixed_names));
        let id = self
            .calls
            .session
            .dial_as(now, from, name, &holders, offer)?;
        tracing::info!(call = id.0, %name, holders = holders.len(), "dialling");
        let mut c = Call::new(id, true, name, now);
        c.share = Some(share);
        c.label = label;
        c.phone = phone;
        self.calls.calls.insert(id, c);
        self.pump(now);
        Ok(id)
    }

    /// The held names plus `extra` (the session rings for both).
    fn held_names_with(&self, extra: &[String]) -> Vec<String> {
        let mut v = self.held_names();
        for n in extra {
            if !v.contains(n) {
                v.push(n.clone());
            }
        }
        v
    }

    /// Answer a call ringing here (`None`: the first one ringing), with
    /// media at our own end.
    pub fn answer(&mut self, now: Instant, call: Option<CallId>) -> Result<CallId, AppError> {
        let id = match call {
            Some(id) => id,
            None => self
                .calls
                .calls
                .values()
                .find(|c| !c.outgoing && c.phase == CallPhase::Ringing)
                .map(|c| c.id)
                .ok_or_else(|| AppError::NotFound("no call is ringing".into()))?,
        };
        self.answer_with(now, id, None)?;
        Ok(id)
    }

    /// Answer `id`, with media at our end or at a phone (`phone`).
    pub(super) fn answer_with(
        &mut self,
        now: Instant,
        id: CallId,
        phone: Option<PhoneMedia>,
    ) -> Result<(), AppError> {
        let share = KeyShare::new(self.random32());
        let label = self.random_label();
        let sip_id = self
            .calls
            .session
            .call(id)
            .map(|c| c.sip_call_id)
            .ok_or_else(|| AppError::NotFound(format!("no call {}", id.0)))?;
        let offer = offer::sign(self.node.identity(), &share, label, &sip_id);
        let c = self
            .calls
            .calls
            .get_mut(&id)
            .ok_or_else(|| AppError::NotFound(format!("no call {}", id.0)))?;
        if c.outgoing || c.phase != CallPhase::Ringing {
            return Err(AppError::Conflict(format!(
                "call {} is {}, not ringing here",
                id.0,
                c.phase.as_str()
            )));
        }
        let (Some(peer), Some(theirs)) = (c.peer, c.their_offer.clone()) else {
            return Err(AppError::Conflict("the call has no offer".into()));
        };
        let keys = MediaKeys::derive(
            &share,
            &theirs.key,
            &offer::key_context(label, theirs.label, false),
            false,
        )
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
        self.calls.session.answer(now, id, offer)?;
        let Some(c) = self.calls.calls.get_mut(&id) else {
            return Ok(());
        };
        c.their_offer = None;
        let mut stop_ringing = None;
        if let Some(pm) = &phone {
            c.phone.get_or_insert_with(PhoneEnd::default).media = Some(pm.clone());
        } else {
            // Answered here: a phone still ringing for it stops.
            stop_ringing = c.phone.take().and_then(|p| p.leg);
        }
        c.media = Some(Media::new(
            now,
            peer,
            label,
            theirs.label,
            keys,
            phone.is_none(),
        ));
        c.share = Some(share);
        c.label = label;
        c.phase = CallPhase::Active;
        c.answered = Some(now);
        tracing::info!(call = id.0, "answered here");
        if let Some(leg) = stop_ringing {
            self.phone_leg_over(now, leg, None);
        }
        let me = self.node.id();
        self.event(AppEvent::CallAnswered { call: id, by: me });
        self.event(AppEvent::CallMedia {
            call: id,
            bitrate: CALL_BITRATE.min(theirs.bitrate),
            phone,
        });
        self.ensure_tick(now);
        self.pump(now);
        Ok(())
    }

    /// Hang up `call` (`None`: the first call not over).
    pub fn hangup(&mut self, now: Instant, call: Option<CallId>) -> Result<CallId, AppError> {
        let id = match call {
            Some(id) => id,
            None => self
                .calls
                .calls
                .keys()
                .next()
                .copied()
                .ok_or_else(|| AppError::NotFound("no call to hang up".into()))?,
        };
        if !self.calls.calls.contains_key(&id) {
            return if self.calls.history.iter().any(|c| c.id == id.0) {
                Ok(id)
            } else {
                Err(AppError::NotFound(format!("no call {}", id.0)))
            };
        }
        if let Err(e) = self.calls.session.hangup(now, id) {
            tracing::debug!(call = id.0, "hangup: {e}");
        }
        self.end_call(now, id, false, None, "hung up here".into());
        self.pump(now);
        Ok(id)
    }

    /// Refuse a call ringing here with `code` (a phone that is busy).
    pub(super) fn reject(&mut self, now: Instant, id: CallId, code: u16) {
        if let Err(e) = self.calls.session.reject(now, id, code) {
            tracing::debug!("reject: {e}");
        }
        self.end_call(now, id, false, Some(code), format!("phone answered {code}"));
    }

    /// Every call: ended ones first (oldest first), then those not over.
    pub fn calls(&self, now: Instant) -> Vec<CallView> {
        let mut v: Vec<CallView> = self.calls.history.iter().cloned().collect();
        v.extend(self.calls.calls.values().map(|c| c.view(now)));
        v
    }

    pub fn call(&self, now: Instant, id: CallId) -> Option<CallView> {
        self.calls
            .calls
            .get(&id)
            .map(|c| c.view(now))
            .or_else(|| self.calls.history.iter().find(|c| c.id == id.0).cloned())
    }

    /// The next 20 ms of `stream`, asked for by [`AppEvent::FrameDue`]:
    /// the codec's bytes, sealed and sent (a call) or flooded (a group).
    pub fn send_frame(&mut self, now: Instant, stream: Stream, index: u64, body: &[u8]) {
        match stream {
            Stream::Group(g) => self.send_group_frame(now, g, index, body),
            Stream::Call(id) => {
                let Some(m) = self.calls.calls.get(&id).and_then(|c| c.media.as_ref()) else {
                    return;
                };
                let p = CallPayload {
                    event: false,
                    report: m.play.as_ref().and_then(playout::Stream::loss_report),
                    // 20 ms slots on the 48 kHz RTP clock.
                    rtp_ts: (index * 960) as u16,
                    body,
                }
                .encode();
                let cap = capture_ms(m.due_at);
                self.send_sealed(now, id, index, cap, &p);
            }
        }
    }

    /// A phone bridge's frame for `call`: the plain call payload at `index`
    /// (the phone's extended RTP sequence).
    pub fn send_call_payload(&mut self, now: Instant, call: CallId, index: u64, payload: &[u8]) {
        let cap = VoiceFrame::capture_ms_of(now);
        self.send_sealed(now, call, index, cap, payload);
    }

    fn send_sealed(&mut self, now: Instant, id: CallId, index: u64, cap: u16, plain: &[u8]) {
        let Some(m) = self.calls.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return;
        };
        if m.last_sent.is_some_and(|l| index <= l) {
            // An index is a nonce: never twice.
            return;
        }
        m.last_sent = Some(index);
        m.sent += 1;
        let f = VoiceFrame {
            capture_ms: cap,
            body: m.keys.seal(m.tx_label, index, plain),
        };
        let (peer, label) = (m.peer, m.tx_label);
        if let Err(e) = self
            .node
            .send_voice(now, peer, label, index as u16, &f.encode())
        {
            tracing::trace!(peer = %peer.short(), "voice frame not sent: {e}");
        }
    }

    /// SIP from another daemon.
    pub(super) fn on_sip(&mut self, now: Instant, from: NodeId, payload: &[u8]) {
        // A call rings here for every name this node holds now.
        let names = self.held_names_with(&self.cfg.fixed_names);
        self.calls.session.set_names(&names);
        if !self.in_dialog_signed(from, payload) {
            return;
        }
        if let Err(e) = self.calls.session.handle(now, from, payload) {
            tracing::debug!(from = %from.short(), "SIP message refused: {e}");
        }
    }

    pub(super) fn calls_undeliverable(&mut self, now: Instant, to: NodeId) {
        self.calls.session.undeliverable(now, to);
    }

    pub(super) fn calls_timeout(&mut self, now: Instant) {
        if self.calls.session.poll_timeout().is_some_and(|t| t <= now) {
            self.calls.session.handle_timeout(now);
        }
    }

    /// Send what the session wants sent and act on its events.
    pub(super) fn pump_calls(&mut self, now: Instant) -> bool {
        let mut busy = false;
        while let Some((to, bytes)) = self.calls.session.poll_send() {
            busy = true;
            let bytes = call_auth::sign(self.node.identity(), bytes);
            if let Err(e) = self.node.send(now, to, Class::Control, proto::SIP, &bytes) {
                tracing::debug!(to = %to.short(), "cannot send SIP: {e}");
                self.calls.session.undeliverable(now, to);
            }
        }
        while let Some(e) = self.calls.session.poll_event() {
            busy = true;
            self.on_call_event(now, e);
        }
        busy
    }

    fn on_call_event(&mut self, now: Instant, e: CallEvent) {
        match e {
            CallEvent::Incoming {
                call,
                from_name,
                from_node,
                offer,
            } => {
                let sip_id = self.calls.session.call(call).map(|c| c.sip_call_id);
                let checked = sip_id
                    .ok_or_else(|| "unknown call".to_string())
                    .and_then(|id| offer::verify(from_node, &id, &offer));
                if let Err(why) = checked {
                    tracing::warn!(from = %from_node.short(), "incoming call refused: {why}");
                    let _ = self.calls.session.hangup(now, call);
                    return;
                }
                tracing::info!(call = call.0, from = %from_name, node = %from_node.short(), "incoming call: ringing");
                let mut c = Call::new(call, false, &from_name, now);
                c.peer = Some(from_node);
                c.ringing = Some(now);
                c.their_offer = Some(offer);
                self.calls.calls.insert(call, c);
                self.event(AppEvent::CallIncoming {
                    call,
                    from: from_name.clone(),
                    node: from_node,
                });
                self.ring_phones(now, call);
                self.maybe_auto_answer(now, call, &from_name, from_node);
            }
            CallEvent::Ringing { call, by } => {
                if let Some(c) = self.calls.calls.get_mut(&call) {
                    c.phase = CallPhase::Ringing;
                    c.ringing.get_or_insert(now);
                    tracing::info!(call = call.0, by = %by.short(), "ringing");
                }
                self.phone_ringing(now, call);
                self.event(AppEvent::CallRinging { call, by });
            }
            CallEvent::Answered { call, by, answer } => self.on_answered(now, call, by, answer),
            CallEvent::Ended { call, reason } => self.end_call(now, call, false, None, reason),
            CallEvent::Failed { call, code, reason } => {
                self.end_call(now, call, true, Some(code), reason)
            }
        }
    }

    /// Answer `call` at once when its caller holds a role the device
    /// answers by itself (`AppConfig::auto_answer`). A phone ringing for
    /// it keeps ringing: the phone is the user's terminal then.
    fn maybe_auto_answer(&mut self, now: Instant, call: CallId, from_name: &str, from: NodeId) {
        if self.cfg.auto_answer.is_empty() || self.ringing_for(call) {
            return;
        }
        let held = self.node.names_of(now, &from);
        let Some(pattern) =
            auto_answers(&self.cfg.auto_answer, from_name, &held).map(str::to_string)
        else {
            tracing::debug!(call = call.0, from = %from_name, "rings: the caller holds no auto-answer role");
            return;
        };
        match self.answer_with(now, call, None) {
            Ok(()) => {
                tracing::info!(call = call.0, from = %from_name, %pattern, "answered automatically")
            }
            Err(e) => tracing::warn!(call = call.0, "cannot answer automatically: {e}"),
        }
    }

    /// Our call was answered by `by`: check its offer, start the media.
    fn on_answered(&mut self, now: Instant, call: CallId, by: NodeId, answer: MediaOffer) {
        let sip_id = self.calls.session.call(call).map(|c| c.sip_call_id);
        let checked = sip_id
            .ok_or_else(|| "unknown call".to_string())
            .and_then(|id| offer::verify(by, &id, &answer));
        if let Err(why) = checked {
            tracing::warn!(call = call.0, by = %by.short(), "answer refused: {why}");
            let _ = self.calls.session.hangup(now, call);
            return;
        }
        let Some(c) = self.calls.calls.get_mut(&call) else {
            return;
        };
        let Some(share) = c.share.as_ref() else {
            return;
        };
        let ctx = offer::key_context(c.label, answer.label, true);
        let keys = match MediaKeys::derive(share, &answer.key, &ctx, true) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(call = call.0, "cannot start media: {e}");
                let _ = self.calls.session.hangup(now, call);
                return;
            }
        };
        let local = c.phone.is_none();
        c.peer = Some(by);
        c.media = Some(Media::new(now, by, c.label, answer.label, keys, local));
        c.phase = CallPhase::Active;
        c.answered = Some(now);
        let setup = now.saturating_since(c.started).as_millis() as u64;
        tracing::info!(call = call.0, by = %by.short(), setup_ms = setup, "answered");
        let phone = c.phone.as_ref().and_then(|p| p.media.clone());
        self.event(AppEvent::CallAnswered { call, by });
        self.event(AppEvent::CallMedia {
            call,
            bitrate: CALL_BITRATE.min(answer.bitrate),
            phone,
        });
        if local {
            self.ensure_tick(now);
        } else {
            self.phone_answered_by_mesh(now, call);
        }
    }

    pub(super) fn end_call(
        &mut self,
        now: Instant,
        id: CallId,
        failed: bool,
        code: Option<u16>,
        reason: String,
    ) {
        let Some(c) = self.calls.calls.remove(&id) else {
            return;
        };
        if let Some(m) = &c.media {
            self.node.close_flow(m.tx_label);
        }
        if c.phone.is_some() {
            self.phone_call_over(now, &c, code);
        }
        let mut v = c.view(now);
        v.phase = if failed {
            CallPhase::Failed
        } else {
            CallPhase::Ended
        };
        v.code = code;
        v.reason = Some(reason.clone());
        tracing::info!(call = id.0, state = v.phase.as_str(), code, %reason, "call over");
        if self.calls.history.len() >= HISTORY {
            self.calls.history.pop_front();
        }
        self.calls.history.push_back(v);
        self.event(AppEvent::CallEnded {
            call: id,
            failed,
            code,
            reason,
        });
    }

    /// A voice frame on a flow label: one of our calls' media.
    pub(super) fn on_call_frame(
        &mut self,
        now: Instant,
        src: NodeId,
        label: u32,
        seq: u16,
        payload: &[u8],
    ) {
        let Some((id, m)) = self.calls.calls.iter_mut().find_map(|(id, c)| {
            c.media
                .as_mut()
                .filter(|m| m.peer == src && m.rx_label == label)
                .map(|m| (*id, m))
        }) else {
            return;
        };
        let Ok(f) = VoiceFrame::decode(payload) else {
            m.rejected += 1;
            return;
        };
        let index = m.rx_index.guess(seq);
        let Ok(plain) = m.keys.open(label, index, &f.body) else {
            m.rejected += 1;
            return;
        };
        m.rx_index.accept(index);
        let Ok(p) = CallPayload::decode(&plain) else {
            m.rejected += 1;
            return;
        };
        let Some(play) = m.play.as_mut() else {
            // A phone's bridge rebuilds the RTP from the plain payload.
            self.event(AppEvent::CallFrame {
                call: id,
                index,
                capture_ms: f.capture_ms,
                payload: plain,
            });
            return;
        };
        if p.event {
            if let Some(d) = crate::phone::rtp::Dtmf::parse(p.body)
                .ok()
                .filter(|d| d.end)
            {
                tracing::info!(key = ?d.key(), "DTMF from the far end");
            }
        } else {
            play.push(now, index, f.capture_ms, p.body);
        }
        // The far end's measure of our stream: plan FEC for it.
        if let Some(r) = p.report.map(|r| r.min(MAX_EXPECTED_LOSS))
            && r != m.expected_loss
        {
            m.expected_loss = r;
            self.event(AppEvent::ExpectedLoss {
                stream: Stream::Call(id),
                pct: r,
            });
        }
    }

    /// One 20 ms tick for every call whose media ends here.
    pub(super) fn tick_calls(&mut self, tick: Instant) {
        let mut out = Vec::new();
        for (id, c) in self.calls.calls.iter_mut() {
            let Some(m) = c.media.as_mut() else {
                continue;
            };
            let Some(play) = m.play.as_mut() else {
                continue;
            };
            out.push(AppEvent::Play {
                stream: Stream::Call(*id),
                playout: play.tick(tick),
            });
            m.due_at = tick;
            out.push(AppEvent::FrameDue {
                stream: Stream::Call(*id),
                index: m.next_due,
            });
            m.next_due += 1;
        }
        for e in out {
            self.event(e);
        }
    }
}

impl Media {
    fn new(now: Instant, peer: NodeId, tx: u32, rx: u32, keys: MediaKeys, local: bool) -> Media {
        Media {
            peer,
            tx_label: tx,
            rx_label: rx,
            keys,
            rx_index: FrameIndex::new(),
            rejected: 0,
            play: local.then(playout::Stream::default),
            next_due: 0,
            last_sent: None,
            due_at: now,
            sent: 0,
            expected_loss: 0,
        }
    }
}

/// The auto-answer pattern a call matches: the name the caller gives
/// (`from_name`) must match one of `patterns` *and* be a name the
/// directory says the caller's node holds (`held`). The name in a call
/// is the caller's own word; the directory record is signed by the node
/// (and, in secured mode, checked against its certificate's roles), so a
/// device cannot open another's microphone by calling as `command`.
pub fn auto_answers<'a>(
    patterns: &'a [String],
    from_name: &str,
    held: &[String],
) -> Option<&'a str> {
    if !held.iter().any(|h| h == from_name) {
        return None;
    }
    patterns
        .iter()
        .find(|p| crate::trust::roles::permits(p, from_name))
        .map(String::as_str)
}

#[cfg(test)]
mod auto_answer_tests {
    use super::auto_answers;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_held_role_matching_a_pattern_is_answered() {
        let pats = v(&["command", "engine-*"]);
        assert_eq!(
            auto_answers(&pats, "command", &v(&["command"])),
            Some("command")
        );
        assert_eq!(
            auto_answers(&pats, "engine-3", &v(&["x", "engine-3"])),
            Some("engine-*")
        );
        assert_eq!(auto_answers(&pats, "medic-12", &v(&["medic-12"])), None);
        assert_eq!(auto_answers(&pats, "engine-", &v(&["engine-"])), None);
        assert_eq!(
            auto_answers(&pats, "captain.engine-3", &v(&["captain.engine-3"])),
            None
        );
        assert_eq!(auto_answers(&[], "command", &v(&["command"])), None);
    }

    #[test]
    fn a_name_the_caller_does_not_hold_is_not_answered() {
        let pats = v(&["command"]);
        assert_eq!(auto_answers(&pats, "command", &v(&["engine-5"])), None);
        assert_eq!(auto_answers(&pats, "command", &[]), None);
    }
}
