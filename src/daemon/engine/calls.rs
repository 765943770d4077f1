//! The engine's 1:1 call face: the API's call commands, SIP between
//! daemons through the node (control class, hop-by-hop acknowledged), and
//! each call's media: Opus frames sealed end to end and sent on the call's
//! flow label, so relays forward what they cannot read.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use super::bridge::Bridge;
use super::media::{self, FRAME_MS, Rx, Source, Tx};
use super::{Engine, clock};
use crate::daemon::dto::{self, ApiEvent};
use crate::daemon::sound;
use crate::daemon::store;
use crate::identity::{self, NodeId};
use crate::node::Class;
use crate::phone::{LegId, PhoneMedia};
use crate::session::{CallEvent, CallId, Calls, MediaOffer};
use crate::time::Instant;
use crate::voice::call_payload::CallPayload;
use crate::voice::crypto::{KeyShare, MediaKeys};
use crate::voice::frame::{FrameIndex, VoiceFrame};
use crate::wire::proto;

/// Ended calls kept for `callsign calls` and the CLI's final figures.
const HISTORY: usize = 32;
/// The encoder's expected loss before the far end's stream has told us
/// anything. Zero turns the FEC copy off, which is worth 0.8 PESQ on a
/// clean path (`audio::codec`); the mesh's own protection covers the
/// first second.
const INITIAL_LOSS_PCT: u8 = 0;
/// Every call frame's plaintext starts with the loss the sender sees on
/// the stream coming the other way and the RTP time (`voice::call_payload`),
/// so a frame costs 19 bytes beyond UDP/IP: 9 of flow header, 2 of capture
/// time, 3 of call payload header and the 4-byte tag.
/// Opus bit rate of a call. At 24 kbit/s (the talkgroups' rate) Opus
/// alone scores PESQ-WB 4.12 on the test speech and live 4-hop calls
/// scored 3.98 to 4.14; 28 kbit/s gives 4.28 for 65-byte frames (32 kbit/s
/// on the air with the 16 bytes of overhead).
const CALL_BITRATE: u32 = 28_000;
/// Highest expected loss the encoder is told: beyond it FEC cannot keep up
/// and more of it only takes bits from the speech.
const MAX_EXPECTED_LOSS: u8 = 30;

/// An API error: HTTP status and message.
pub type ApiErr = (u16, String);
type Reply<T> = tokio::sync::oneshot::Sender<Result<T, ApiErr>>;

pub enum CallCommand {
    Dial(dto::DialRequest, Reply<dto::Call>),
    Answer(dto::AnswerRequest, Reply<dto::Call>),
    Hangup(dto::HangupRequest, Reply<dto::Call>),
    List(tokio::sync::oneshot::Sender<Vec<dto::Call>>),
}

/// What the daemon remembers of one call, beyond the session's state.
pub(super) struct CallMeta {
    pub(super) id: CallId,
    pub(super) outgoing: bool,
    pub(super) name: String,
    pub(super) peer: Option<NodeId>,
    pub(super) state: &'static str,
    pub(super) code: Option<u16>,
    pub(super) reason: Option<String>,
    pub(super) started: Instant,
    pub(super) ringing: Option<Instant>,
    pub(super) answered: Option<Instant>,
    /// Our ephemeral key and flow label (caller: from the dial; callee:
    /// made at answer).
    pub(super) share: Option<KeyShare>,
    pub(super) label: u32,
    /// The caller's offer, kept until we answer.
    pub(super) their_offer: Option<MediaOffer>,
    pub(super) wav: Option<PathBuf>,
    pub(super) record: Option<PathBuf>,
    /// Sound cards, used when no WAV is given.
    pub(super) audio_in: Option<String>,
    pub(super) audio_out: Option<String>,
    pub(super) media: Option<CallMedia>,
    pub(super) last_media: Option<dto::MediaStats>,
    /// The SIP phone this call is bridged to, and its SDP.
    pub(super) phone: Option<LegId>,
    pub(super) phone_media: Option<PhoneMedia>,
}

pub(super) struct CallMedia {
    peer: NodeId,
    tx_label: u32,
    rx_label: u32,
    keys: MediaKeys,
    pub(super) ends: Ends,
    rx_index: FrameIndex,
    rejected: u64,
}

/// Where a call's audio starts and ends here: this daemon's own source
/// and sink, or a SIP phone's RTP.
pub(super) enum Ends {
    Local { tx: Box<Tx>, rx: Box<Rx> },
    Phone(Box<Bridge>),
}

impl CallMeta {
    /// A call just placed or heard, with nothing chosen yet: no peer,
    /// media, key share, files or devices.
    pub(super) fn new(id: CallId, outgoing: bool, name: &str, now: Instant) -> CallMeta {
        CallMeta {
            id,
            outgoing,
            name: name.to_string(),
            peer: None,
            state: "dialing",
            code: None,
            reason: None,
            started: now,
            ringing: None,
            answered: None,
            share: None,
            label: 0,
            their_offer: None,
            wav: None,
            record: None,
            audio_in: None,
            audio_out: None,
            media: None,
            last_media: None,
            phone: None,
            phone_media: None,
        }
    }
}

pub struct CallsFace {
    pub calls: Calls,
    pub(super) meta: BTreeMap<u64, CallMeta>,
    history: VecDeque<dto::Call>,
}

impl CallsFace {
    pub fn new(calls: Calls) -> Self {
        CallsFace {
            calls,
            meta: BTreeMap::new(),
            history: VecDeque::new(),
        }
    }

    pub fn active(&self) -> bool {
        self.meta.values().any(|m| m.media.is_some())
    }
}

pub(super) fn random_label() -> u32 {
    // Zero is never a label, so a zeroed field cannot match a flow.
    store::os_random::<4>()
        .map(u32::from_be_bytes)
        .unwrap_or(1)
        .max(1)
}

pub(super) fn key_share() -> Result<KeyShare, ApiErr> {
    let r = store::os_random::<32>().map_err(|e| (500, format!("no randomness: {e}")))?;
    Ok(KeyShare::new(r))
}

impl Engine {
    pub(super) fn on_call_command(&mut self, c: CallCommand) {
        let now = clock::now();
        match c {
            CallCommand::Dial(req, tx) => {
                let r = self.dial(now, req);
                let _ = tx.send(r);
            }
            CallCommand::Answer(req, tx) => {
                let r = self.answer(now, req);
                let _ = tx.send(r);
            }
            CallCommand::Hangup(req, tx) => {
                let r = self.hangup(now, req);
                let _ = tx.send(r);
            }
            CallCommand::List(tx) => {
                let _ = tx.send(self.call_list(now));
            }
        }
        self.pump_calls(now);
    }

    fn dial(&mut self, now: Instant, req: dto::DialRequest) -> Result<dto::Call, ApiErr> {
        // Check the files and devices first: a bad path or an unknown
        // sound card is the caller's error, not a call.
        media::check(
            req.wav.as_deref(),
            req.audio_in.as_deref(),
            sound::Dir::Input,
        )
        .map_err(|e| (400, e))?;
        media::check(
            req.record.as_deref(),
            req.audio_out.as_deref(),
            sound::Dir::Output,
        )
        .map_err(|e| (400, e))?;
        // The WAV must also be one we can read.
        if req.wav.is_some() {
            Source::open(req.wav.as_deref(), None).map_err(|e| (400, e))?;
        }
        let holders = self.remote_holders(now, &req.name);
        let share = key_share()?;
        let label = random_label();
        let sip_id = self.voice.calls.calls.next_sip_call_id();
        let offer = self.sign_offer(&share, label, &sip_id);
        let id = self
            .voice
            .calls
            .calls
            .dial(now, &req.name, &holders, offer)
            .map_err(|e| (400, e.to_string()))?;
        tracing::info!(call = id.0, name = %req.name, holders = holders.len(), "dialling");
        self.voice.calls.meta.insert(
            id.0,
            CallMeta {
                share: Some(share),
                label,
                wav: req.wav,
                record: req.record,
                audio_in: req.audio_in,
                audio_out: req.audio_out,
                ..CallMeta::new(id, true, &req.name, now)
            },
        );
        self.pump_calls(now);
        self.call_dto(now, id.0)
            .ok_or_else(|| (500, "call vanished".into()))
    }

    /// Our offer: the flow label, the ephemeral key, signed with the
    /// device key over the SIP Call-ID so it cannot be replayed elsewhere.
    pub(super) fn sign_offer(&self, share: &KeyShare, label: u32, sip_call_id: &str) -> MediaOffer {
        let mut offer = MediaOffer {
            label,
            key: share.public(),
            key_sig: [0; 64],
            device_key: self.node.identity().public_key(),
            opus_pt: 111,
            bitrate: CALL_BITRATE,
        };
        offer.key_sig = self.node.identity().sign(&offer.signing_bytes(sip_call_id));
        offer
    }

    /// The offer must be signed by the device key whose hash is `from`:
    /// a relay that swapped the key share could not sign for the node.
    fn verify_offer(&self, call: CallId, from: NodeId, offer: &MediaOffer) -> Result<(), String> {
        if NodeId::from_public_key(&offer.device_key) != from {
            return Err("the offer's device key is not the sender's".into());
        }
        let sip_id = self
            .voice
            .calls
            .calls
            .call(call)
            .map(|c| c.sip_call_id)
            .ok_or("unknown call")?;
        identity::verify(
            &offer.device_key,
            &offer.signing_bytes(&sip_id),
            &offer.key_sig,
        )
        .map_err(|e| format!("bad offer signature: {e}"))
    }

    fn pick_call(&self, id: Option<u64>, state: &str) -> Result<u64, ApiErr> {
        match id {
            Some(i) if self.voice.calls.meta.contains_key(&i) => Ok(i),
            Some(i) => Err((404, format!("no call {i}"))),
            None => self
                .voice
                .calls
                .meta
                .values()
                .find(|m| m.state == state)
                .map(|m| m.id.0)
                .ok_or_else(|| (404, format!("no call is {state}"))),
        }
    }

    fn answer(&mut self, now: Instant, req: dto::AnswerRequest) -> Result<dto::Call, ApiErr> {
        let id = self.pick_call(req.call, "ringing")?;
        let share = key_share()?;
        let label = random_label();
        let sip_id = self
            .voice
            .calls
            .calls
            .call(CallId(id))
            .map(|c| c.sip_call_id)
            .ok_or((404, format!("no call {id}")))?;
        let offer = self.sign_offer(&share, label, &sip_id);
        let m = self
            .voice
            .calls
            .meta
            .get_mut(&id)
            .ok_or((404, "no such call".to_string()))?;
        if m.outgoing || m.state != "ringing" {
            return Err((409, format!("call {id} is {}, not ringing here", m.state)));
        }
        let (Some(peer), Some(theirs)) = (m.peer, m.their_offer.take()) else {
            return Err((409, "call has no offer".into()));
        };
        m.wav = req.wav.or(m.wav.take());
        m.record = req.record.or(m.record.take());
        m.audio_in = req.audio_in.or(m.audio_in.take());
        m.audio_out = req.audio_out.or(m.audio_out.take());
        let media = start_media(m, &share, label, peer, &theirs, false).map_err(|e| (400, e))?;
        m.media = Some(media);
        m.share = Some(share);
        m.label = label;
        m.state = "active";
        m.answered = Some(now);
        let cid = m.id;
        self.voice
            .calls
            .calls
            .answer(now, cid, offer)
            .map_err(|e| (409, e.to_string()))?;
        self.publish(ApiEvent::CallAnswered {
            call: id,
            by: self.node.id(),
        });
        self.ensure_tick();
        self.pump_calls(now);
        self.call_dto(now, id).ok_or((500, "call vanished".into()))
    }

    fn hangup(&mut self, now: Instant, req: dto::HangupRequest) -> Result<dto::Call, ApiErr> {
        let id = match req.call {
            Some(i) => i,
            None => self
                .voice
                .calls
                .meta
                .values()
                .find(|m| m.state != "ended")
                .map(|m| m.id.0)
                .ok_or((404, "no call to hang up".to_string()))?,
        };
        let Some(m) = self.voice.calls.meta.get(&id) else {
            return self
                .voice
                .calls
                .history
                .iter()
                .find(|c| c.id == id)
                .cloned()
                .ok_or((404, format!("no call {id}")));
        };
        let cid = m.id;
        if let Err(e) = self.voice.calls.calls.hangup(now, cid) {
            tracing::debug!(call = id, "hangup: {e}");
        }
        self.end_call(now, id, "ended", None, "hung up here".into());
        self.pump_calls(now);
        self.voice
            .calls
            .history
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or((500, "call vanished".into()))
    }

    /// SIP from another daemon.
    pub(super) fn on_sip(&mut self, now: Instant, from: NodeId, payload: &[u8]) {
        // A call rings here for every name this node holds now.
        let names = self.held_names();
        self.voice.calls.calls.set_names(&names);
        if let Err(e) = self.voice.calls.calls.handle(now, from, payload) {
            tracing::debug!(from = %from.short(), "SIP message refused: {e}");
        }
        self.pump_calls(now);
    }

    /// A control packet to `to` was undeliverable: the session may be waiting on it.
    pub(super) fn calls_undeliverable(&mut self, now: Instant, to: NodeId) {
        self.voice.calls.calls.undeliverable(now, to);
        self.pump_calls(now);
    }

    /// Send what the session wants sent and act on its events.
    pub(super) fn pump_calls(&mut self, now: Instant) {
        while let Some((to, bytes)) = self.voice.calls.calls.poll_send() {
            if let Err(e) = self.node.send(now, to, Class::Control, proto::SIP, &bytes) {
                tracing::debug!(to = %to.short(), "cannot send SIP: {e}");
                self.voice.calls.calls.undeliverable(now, to);
            }
        }
        while let Some(e) = self.voice.calls.calls.poll_event() {
            self.on_call_event(now, e);
        }
        self.flush_transmits();
    }

    fn on_call_event(&mut self, now: Instant, e: CallEvent) {
        match e {
            CallEvent::Incoming {
                call,
                from_name,
                from_node,
                offer,
            } => {
                if let Err(why) = self.verify_offer(call, from_node, &offer) {
                    tracing::warn!(from = %from_node.short(), "incoming call refused: {why}");
                    let _ = self.voice.calls.calls.hangup(now, call);
                    return;
                }
                tracing::info!(call = call.0, from = %from_name, node = %from_node.short(), "incoming call: ringing");
                self.voice.calls.meta.insert(
                    call.0,
                    CallMeta {
                        peer: Some(from_node),
                        state: "ringing",
                        ringing: Some(now),
                        their_offer: Some(offer),
                        ..CallMeta::new(call, false, &from_name, now)
                    },
                );
                self.publish(ApiEvent::CallIncoming {
                    call: call.0,
                    from: from_name.clone(),
                    node: from_node,
                });
                self.ring_phones(now, call, &from_name);
            }
            CallEvent::Ringing { call, by } => {
                if let Some(m) = self.voice.calls.meta.get_mut(&call.0) {
                    m.state = "ringing";
                    m.ringing.get_or_insert(now);
                    tracing::info!(call = call.0, by = %by.short(), "ringing");
                    if let Some(leg) = m.phone
                        && let Err(e) = self.voice.phones.front.ringing(now, leg)
                    {
                        tracing::debug!(leg = leg.0, "180 to the phone: {e}");
                    }
                }
                self.publish(ApiEvent::CallRinging { call: call.0, by });
            }
            CallEvent::Answered { call, by, answer } => {
                if let Err(why) = self.verify_offer(call, by, &answer) {
                    tracing::warn!(call = call.0, by = %by.short(), "answer refused: {why}");
                    let _ = self.voice.calls.calls.hangup(now, call);
                    return;
                }
                let Some(m) = self.voice.calls.meta.get_mut(&call.0) else {
                    return;
                };
                let Some(share) = m.share.take() else {
                    return;
                };
                m.peer = Some(by);
                match start_media(m, &share, m.label, by, &answer, true) {
                    Ok(media) => {
                        m.media = Some(media);
                        m.state = "active";
                        m.answered = Some(now);
                        let setup = now.saturating_since(m.started).as_millis();
                        tracing::info!(call = call.0, by = %by.short(), setup_ms = setup as u64, "answered");
                        let phone = m.phone.zip(m.phone_media.clone());
                        self.publish(ApiEvent::CallAnswered { call: call.0, by });
                        self.ensure_tick();
                        if let Some((leg, pm)) = phone {
                            self.phone_answered_by_mesh(now, leg, &pm);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(call = call.0, "cannot start media: {e}");
                        let _ = self.voice.calls.calls.hangup(now, call);
                    }
                }
                if let Some(m) = self.voice.calls.meta.get_mut(&call.0) {
                    m.share = Some(share);
                }
            }
            CallEvent::Ended { call, reason } => {
                self.end_call(now, call.0, "ended", None, reason);
            }
            CallEvent::Failed { call, code, reason } => {
                self.end_call(now, call.0, "failed", Some(code), reason);
            }
        }
    }

    pub(super) fn end_call(
        &mut self,
        now: Instant,
        id: u64,
        state: &'static str,
        code: Option<u16>,
        reason: String,
    ) {
        let Some(mut m) = self.voice.calls.meta.remove(&id) else {
            return;
        };
        if let Some(media) = &mut m.media {
            if let Ends::Local { rx, .. } = &mut media.ends {
                rx.finish();
            }
            self.node.close_flow(media.tx_label);
            m.last_media = Some(media_stats(media));
        }
        if let Some(leg) = m.phone {
            self.phone_call_over(now, leg, code);
        }
        m.media = None;
        m.state = state;
        m.code = code;
        m.reason = Some(reason.clone());
        tracing::info!(call = id, state, code, %reason, "call over");
        let d = meta_dto(now, &m);
        if self.voice.calls.history.len() >= HISTORY {
            self.voice.calls.history.pop_front();
        }
        self.voice.calls.history.push_back(d);
        self.publish(ApiEvent::CallEnded {
            call: id,
            state: state.into(),
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
        let Some(media) = self
            .voice
            .calls
            .meta
            .values_mut()
            .filter_map(|m| m.media.as_mut())
            .find(|md| md.peer == src && md.rx_label == label)
        else {
            return;
        };
        let Ok(f) = VoiceFrame::decode(payload) else {
            media.rejected += 1;
            return;
        };
        let index = media.rx_index.guess(seq);
        let Ok(plain) = media.keys.open(label, index, &f.body) else {
            media.rejected += 1;
            return;
        };
        media.rx_index.accept(index);
        let Ok(p) = CallPayload::decode(&plain) else {
            media.rejected += 1;
            return;
        };
        let rtp = match &mut media.ends {
            Ends::Local { tx, rx } => {
                // The far end's measure of our stream: plan FEC for it.
                if let Some(r) = p.report {
                    tx.set_expected_loss(r.min(MAX_EXPECTED_LOSS));
                }
                if p.event {
                    if let Some(d) = crate::phone::rtp::Dtmf::parse(p.body)
                        .ok()
                        .filter(|d| d.end)
                    {
                        tracing::info!(key = ?d.key(), "DTMF from the far end");
                    }
                } else {
                    rx.push(now, index, f.capture_ms, p.body.to_vec());
                }
                None
            }
            Ends::Phone(b) => b
                .rtp_out(index, f.capture_ms, &p)
                .map(|bytes| (b.leg, b.dest, bytes)),
        };
        if let Some((leg, dest, bytes)) = rtp {
            self.rtp_to_phone(leg, dest, &bytes);
        }
    }

    /// RTP from a phone: its frames, sealed, on the call's flow.
    pub(super) fn on_phone_rtp(
        &mut self,
        now: Instant,
        leg: LegId,
        from: std::net::SocketAddr,
        bytes: &[u8],
    ) {
        let capture_ms = VoiceFrame::capture_ms_of(now);
        let Some(md) = self
            .voice
            .calls
            .meta
            .values_mut()
            .filter(|m| m.phone == Some(leg))
            .find_map(|m| m.media.as_mut())
        else {
            return;
        };
        let Ends::Phone(b) = &mut md.ends else {
            return;
        };
        let mut out = Vec::new();
        for (index, plain) in b.rtp_in(from, bytes) {
            let sealed = md.keys.seal(md.tx_label, index, &plain);
            let f = VoiceFrame {
                capture_ms,
                body: sealed,
            };
            out.push((index as u16, f.encode()));
        }
        let (peer, label) = (md.peer, md.tx_label);
        for (seq, payload) in out {
            if let Err(e) = self.node.send_voice(now, peer, label, seq, &payload) {
                tracing::trace!(peer = %peer.short(), "voice frame not sent: {e}");
            }
        }
        self.flush_transmits();
    }

    /// One 20 ms media tick for every active call.
    pub(super) fn tick_calls(&mut self, now: Instant) {
        // A frame read now began FRAME_MS ago: mouth-to-ear counts from
        // its first sample.
        let capture_ms = (now.as_micros() / 1000).saturating_sub(super::media::FRAME_MS) as u16;
        let mut out = Vec::new();
        for m in self.voice.calls.meta.values_mut() {
            let Some(md) = m.media.as_mut() else {
                continue;
            };
            let Ends::Local { tx, rx } = &mut md.ends else {
                continue;
            };
            if let Some((index, opus)) = tx.tick() {
                let plain = CallPayload {
                    event: false,
                    report: rx.loss_report(),
                    // 20 ms slots on the 48 kHz RTP clock.
                    rtp_ts: (index * 960) as u16,
                    body: &opus,
                }
                .encode();
                let sealed = md.keys.seal(md.tx_label, index, &plain);
                let f = VoiceFrame {
                    capture_ms,
                    body: sealed,
                };
                out.push((md.peer, md.tx_label, index as u16, f.encode()));
            }
            rx.tick(now);
        }
        for (peer, label, seq, payload) in out {
            if let Err(e) = self.node.send_voice(now, peer, label, seq, &payload) {
                tracing::trace!(peer = %peer.short(), "voice frame not sent: {e}");
            }
        }
    }

    fn call_list(&self, now: Instant) -> Vec<dto::Call> {
        let mut v: Vec<dto::Call> = self.voice.calls.history.iter().cloned().collect();
        v.extend(self.voice.calls.meta.values().map(|m| meta_dto(now, m)));
        v
    }

    pub(super) fn call_dto(&self, now: Instant, id: u64) -> Option<dto::Call> {
        self.voice
            .calls
            .meta
            .get(&id)
            .map(|m| meta_dto(now, m))
            .or_else(|| {
                self.voice
                    .calls
                    .history
                    .iter()
                    .find(|c| c.id == id)
                    .cloned()
            })
    }
}

pub(super) fn start_media(
    m: &CallMeta,
    share: &KeyShare,
    label: u32,
    peer: NodeId,
    theirs: &MediaOffer,
    we_called: bool,
) -> Result<CallMedia, String> {
    let ctx = call_context(label, theirs.label, we_called);
    let keys = MediaKeys::derive(share, &theirs.key, &ctx, we_called).map_err(|e| e.to_string())?;
    let ends = match (m.phone, &m.phone_media) {
        (Some(leg), Some(pm)) => {
            let codec = pm.codec().ok_or("the phone offered no codec we speak")?;
            let r = store::os_random::<8>().map_err(|e| format!("no randomness: {e}"))?;
            Ends::Phone(Box::new(Bridge::new(leg, codec, pm.te_pt, pm.rtp, r)?))
        }
        _ => Ends::Local {
            // Never above what the far end offered to receive.
            tx: Box::new(Tx::new(
                Source::open(m.wav.as_deref(), m.audio_in.as_deref())?,
                CALL_BITRATE.min(theirs.bitrate),
                INITIAL_LOSS_PCT,
            )?),
            rx: Box::new(Rx::new(m.record.as_deref(), m.audio_out.as_deref())?),
        },
    };
    Ok(CallMedia {
        peer,
        tx_label: label,
        rx_label: theirs.label,
        keys,
        ends,
        rx_index: FrameIndex::new(),
        rejected: 0,
    })
}

/// The key derivation's context, the same at both ends: the two flow
/// labels, the caller's first (both were signed with the key shares).
fn call_context(ours: u32, theirs: u32, we_called: bool) -> Vec<u8> {
    let (a, b) = if we_called {
        (ours, theirs)
    } else {
        (theirs, ours)
    };
    let mut v = b"callsign call media".to_vec();
    v.extend_from_slice(&a.to_be_bytes());
    v.extend_from_slice(&b.to_be_bytes());
    v
}

fn media_stats(md: &CallMedia) -> dto::MediaStats {
    match &md.ends {
        Ends::Local { tx, rx } => dto::MediaStats {
            frames_sent: tx.sent,
            expected_loss_pct: tx.expected_loss_pct,
            frame_ms: FRAME_MS,
            rejected: md.rejected,
            source: tx.src.describe(),
            source_ended: tx.src.ended(),
            rx: rx.stats(),
            phone: None,
        },
        Ends::Phone(b) => dto::MediaStats {
            frames_sent: b.stats.from_phone + b.stats.dtmf_from_phone,
            expected_loss_pct: 0,
            frame_ms: FRAME_MS,
            rejected: md.rejected,
            source: Some(format!("SIP phone ({})", b.codec.name())),
            source_ended: false,
            rx: dto::RxStats {
                received: b.stats.to_phone + b.stats.dtmf_to_phone,
                ..dto::RxStats::default()
            },
            phone: Some(dto::PhoneMediaStats {
                codec: b.codec.name().into(),
                rtp_from_phone: b.stats.from_phone,
                rtp_to_phone: b.stats.to_phone,
                dtmf_from_phone: b.stats.dtmf_from_phone,
                dtmf_to_phone: b.stats.dtmf_to_phone,
                dropped: b.stats.dropped,
            }),
        },
    }
}

fn meta_dto(now: Instant, m: &CallMeta) -> dto::Call {
    let ms = |t: Option<Instant>| t.map(|t| t.saturating_since(m.started).as_millis() as u64);
    dto::Call {
        id: m.id.0,
        direction: if m.outgoing { "out" } else { "in" }.into(),
        name: m.name.clone(),
        peer: m.peer,
        state: m.state.into(),
        code: m.code,
        reason: m.reason.clone(),
        ringing_ms: ms(m.ringing),
        answered_ms: ms(m.answered),
        age_ms: now.saturating_since(m.started).as_millis() as u64,
        media: m.media.as_ref().map(media_stats).or(m.last_media.clone()),
    }
}
