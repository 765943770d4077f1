//! The engine's 1:1 call face: the API's call commands, handed to the
//! application layer (`app::calls`, where the signalling, the signed
//! offers, the keys and the jitter buffer live), and each call's codec
//! end here: our own source and sink, or a SIP phone's RTP bridge.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use super::bridge::Bridge;
use super::media::{self, FRAME_MS, Rx, Source, Tx, rx_dto};
use super::{Engine, clock};
use crate::app::{AppError, CallPhase, CallView, Stream};
use crate::daemon::dto;
use crate::daemon::sip_net::RtpSock;
use crate::daemon::sound;
use crate::daemon::store;
use crate::phone::PhoneMedia;
use crate::session::CallId;
use crate::time::Instant;
use crate::voice::call_payload::CallPayload;

/// Ended calls whose codec figures are kept for `callsign calls`.
const HISTORY: usize = 32;
/// The encoder's expected loss before the far end's stream has told us
/// anything. Zero turns the FEC copy off, which is worth 0.8 PESQ on a
/// clean path (`audio::codec`); the mesh's own protection covers the
/// first second.
const INITIAL_LOSS_PCT: u8 = 0;

/// An API error: HTTP status and message.
pub type ApiErr = (u16, String);
type Reply<T> = tokio::sync::oneshot::Sender<Result<T, ApiErr>>;

pub enum CallCommand {
    Dial(dto::DialRequest, Reply<dto::Call>),
    Answer(dto::AnswerRequest, Reply<dto::Call>),
    Hangup(dto::HangupRequest, Reply<dto::Call>),
    List(tokio::sync::oneshot::Sender<Vec<dto::Call>>),
}

/// The HTTP status of an application-layer refusal.
pub fn api_err(e: AppError) -> ApiErr {
    let code = match &e {
        AppError::BadRequest(_) => 400,
        AppError::NotFound(_) => 404,
        AppError::Conflict(_) => 409,
        AppError::Session(crate::session::SessionError::TooManyCalls) => 486,
        AppError::Session(crate::session::SessionError::BadName(_)) => 400,
        AppError::Session(_) => 409,
        AppError::Names(_) => 403,
        AppError::Malformed(_) => 400,
    };
    (code, e.to_string())
}

/// What our own end plays from and records to.
#[derive(Debug, Clone, Default)]
pub(super) struct LocalOpts {
    pub wav: Option<PathBuf>,
    pub record: Option<PathBuf>,
    pub audio_in: Option<String>,
    pub audio_out: Option<String>,
}

/// Where a call's audio starts and ends here.
pub(super) enum End {
    /// Our own source and sink, opened when the media starts.
    Local {
        opts: LocalOpts,
        tx: Option<Box<Tx>>,
        rx: Option<Box<Rx>>,
    },
    /// A SIP phone's RTP socket, and its bridge once the media starts.
    Phone {
        rtp: RtpSock,
        bridge: Option<Box<Bridge>>,
    },
}

/// The codec side of an ended call, for the API's history.
#[derive(Clone)]
struct Ended {
    source: Option<String>,
    source_ended: bool,
    recording: Option<String>,
    playback: Option<String>,
    phone: Option<(String, super::bridge::BridgeStats)>,
}

#[derive(Default)]
pub struct CallsMedia {
    pub(super) ends: BTreeMap<CallId, End>,
    ended: VecDeque<(CallId, Ended)>,
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
                let r = self
                    .app
                    .hangup(now, req.call.map(CallId))
                    .map_err(api_err)
                    .and_then(|id| self.call_dto(now, id).ok_or((500, "call vanished".into())));
                let _ = tx.send(r);
            }
            CallCommand::List(tx) => {
                let v = self.app.calls(now);
                let _ = tx.send(v.iter().map(|c| self.call_view_dto(c)).collect());
            }
        }
        self.drain(now);
    }

    /// Check what a call's own end asks for: the WAV to play is readable,
    /// the sound cards exist. A bad path or an unknown card is the
    /// caller's error, not a call.
    fn check_local(opts: &LocalOpts) -> Result<(), ApiErr> {
        media::check(
            opts.wav.as_deref(),
            opts.audio_in.as_deref(),
            sound::Dir::Input,
        )
        .map_err(|e| (400, e))?;
        media::check(
            opts.record.as_deref(),
            opts.audio_out.as_deref(),
            sound::Dir::Output,
        )
        .map_err(|e| (400, e))?;
        if opts.wav.is_some() {
            Source::open(opts.wav.as_deref(), None).map_err(|e| (400, e))?;
        }
        Ok(())
    }

    fn dial(&mut self, now: Instant, req: dto::DialRequest) -> Result<dto::Call, ApiErr> {
        let opts = LocalOpts {
            wav: req.wav,
            record: req.record,
            audio_in: req.audio_in,
            audio_out: req.audio_out,
        };
        Self::check_local(&opts)?;
        let id = self.app.dial(now, &req.name).map_err(api_err)?;
        self.local_end(now, id, opts)
    }

    fn answer(&mut self, now: Instant, req: dto::AnswerRequest) -> Result<dto::Call, ApiErr> {
        let id = match req.call {
            Some(i) => CallId(i),
            None => self
                .app
                .calls(now)
                .iter()
                .find(|c| !c.outgoing && c.phase == CallPhase::Ringing)
                .map(|c| CallId(c.id))
                .ok_or((404, "no call is ringing".to_string()))?,
        };
        let opts = LocalOpts {
            wav: req.wav,
            record: req.record,
            audio_in: req.audio_in,
            audio_out: req.audio_out,
        };
        Self::check_local(&opts)?;
        self.app.answer(now, Some(id)).map_err(api_err)?;
        // Answered here: our own end, whatever was ringing before.
        self.local_end(now, id, opts)
    }

    /// `id` ends here, with these sources and sinks once its media starts.
    fn local_end(
        &mut self,
        now: Instant,
        id: CallId,
        opts: LocalOpts,
    ) -> Result<dto::Call, ApiErr> {
        self.calls.ends.insert(
            id,
            End::Local {
                opts,
                tx: None,
                rx: None,
            },
        );
        self.drain(now);
        self.call_dto(now, id)
            .ok_or_else(|| (500, "call vanished".into()))
    }

    /// The media of `call` starts: open our end's source and sink, or the
    /// phone's bridge.
    pub(super) fn call_media(
        &mut self,
        now: Instant,
        call: CallId,
        bitrate: u32,
        phone: Option<PhoneMedia>,
    ) {
        let r = match (self.calls.ends.get_mut(&call), phone) {
            (Some(End::Phone { bridge, .. }), Some(pm)) => (|| {
                let codec = pm.codec().ok_or("the phone offered no codec we speak")?;
                let r = store::os_random::<8>().map_err(|e| format!("no randomness: {e}"))?;
                *bridge = Some(Box::new(Bridge::new(codec, pm.te_pt, pm.rtp, r)?));
                Ok::<(), String>(())
            })(),
            (Some(End::Local { opts, tx, rx }), None) => (|| {
                let src = Source::open(opts.wav.as_deref(), opts.audio_in.as_deref())?;
                *tx = Some(Box::new(Tx::new(src, bitrate, INITIAL_LOSS_PCT)?));
                *rx = Some(Box::new(Rx::new(
                    opts.record.as_deref(),
                    opts.audio_out.as_deref(),
                )?));
                Ok(())
            })(),
            (None, None) => {
                // Answered by the layer itself (auto-answer, no API
                // request): the daemon's microphone and speaker.
                self.calls.ends.insert(
                    call,
                    End::Local {
                        opts: LocalOpts {
                            audio_in: self.settings.audio_in.clone(),
                            ..LocalOpts::default()
                        },
                        tx: None,
                        rx: None,
                    },
                );
                return self.call_media(now, call, bitrate, None);
            }
            _ => Err("the call's end does not match its media".to_string()),
        };
        if let Err(e) = r {
            tracing::warn!(call = call.0, "cannot start media: {e}");
            let _ = self.app.hangup(now, Some(call));
        }
    }

    /// The call is over: finish recordings, keep the codec figures.
    pub(super) fn call_over(&mut self, call: CallId) {
        self.speaker.forget(Stream::Call(call));
        let Some(end) = self.calls.ends.remove(&call) else {
            return;
        };
        let ended = match end {
            End::Local { tx, mut rx, .. } => {
                let e = Ended {
                    source: tx.as_ref().and_then(|t| t.src.describe()),
                    source_ended: tx.as_ref().is_some_and(|t| t.src.ended()),
                    recording: rx.as_ref().and_then(|r| r.recording()),
                    playback: rx.as_ref().and_then(|r| r.playback()),
                    phone: None,
                };
                if let Some(r) = &mut rx {
                    r.finish();
                }
                e
            }
            End::Phone { bridge, .. } => Ended {
                source: None,
                source_ended: false,
                recording: None,
                playback: None,
                phone: bridge.map(|b| (b.codec.name().to_string(), b.stats)),
            },
        };
        if self.calls.ended.len() >= HISTORY {
            self.calls.ended.pop_front();
        }
        self.calls.ended.push_back((call, ended));
    }

    /// A 20 ms frame of our end is due: encode it and hand it over.
    pub(super) fn call_frame_due(&mut self, now: Instant, call: CallId, index: u64) {
        let Some(End::Local { tx: Some(tx), .. }) = self.calls.ends.get_mut(&call) else {
            return;
        };
        if let Some(opus) = tx.encode(index) {
            self.app.send_frame(now, Stream::Call(call), index, &opus);
        }
    }

    pub(super) fn call_play(&mut self, now: Instant, call: CallId, p: &crate::app::Playout) {
        if let Some(End::Local { rx: Some(rx), .. }) = self.calls.ends.get_mut(&call) {
            let pcm = rx.play(p);
            if rx.to_speaker() {
                self.speaker.push(now, Stream::Call(call), &pcm, false);
            }
        }
    }

    pub(super) fn call_expected_loss(&mut self, call: CallId, pct: u8) {
        if let Some(End::Local { tx: Some(tx), .. }) = self.calls.ends.get_mut(&call) {
            tx.set_expected_loss(pct);
        }
    }

    /// A far frame of a phone's call: rebuilt as RTP for the phone.
    pub(super) fn call_frame_to_phone(
        &mut self,
        call: CallId,
        index: u64,
        capture_ms: u16,
        plain: &[u8],
    ) {
        let Some(End::Phone {
            rtp,
            bridge: Some(b),
        }) = self.calls.ends.get_mut(&call)
        else {
            return;
        };
        let Ok(p) = CallPayload::decode(plain) else {
            return;
        };
        if let Some(bytes) = b.rtp_out(index, capture_ms, &p) {
            rtp.send(b.dest, &bytes);
        }
    }

    /// RTP from a phone: its frames, for the mesh.
    pub(super) fn phone_rtp(
        &mut self,
        now: Instant,
        call: CallId,
        from: std::net::SocketAddr,
        bytes: &[u8],
    ) {
        let Some(End::Phone {
            bridge: Some(b), ..
        }) = self.calls.ends.get_mut(&call)
        else {
            return;
        };
        for (index, plain) in b.rtp_in(from, bytes) {
            self.app.send_call_payload(now, call, index, &plain);
        }
    }

    pub(super) fn call_dto(&self, now: Instant, id: CallId) -> Option<dto::Call> {
        self.app.call(now, id).map(|v| self.call_view_dto(&v))
    }

    fn call_view_dto(&self, v: &CallView) -> dto::Call {
        let id = CallId(v.id);
        let media = v.media.as_ref().map(|m| {
            let ended = self
                .calls
                .ended
                .iter()
                .find(|(c, _)| *c == id)
                .map(|(_, e)| e.clone());
            let live = self.calls.ends.get(&id);
            let rx = match live {
                Some(End::Local { rx, .. }) => rx.as_deref(),
                _ => None,
            };
            let mut rx_stats = rx_dto(&m.rx.clone().unwrap_or_default(), rx);
            if let Some(e) = &ended {
                rx_stats.recording = rx_stats.recording.or(e.recording.clone());
                rx_stats.playback = rx_stats.playback.or(e.playback.clone());
            }
            let (source, source_ended) = match (live, &ended) {
                (Some(End::Local { tx: Some(tx), .. }), _) => (tx.src.describe(), tx.src.ended()),
                (_, Some(e)) => (e.source.clone(), e.source_ended),
                _ => (None, false),
            };
            let phone = match (live, &ended) {
                (
                    Some(End::Phone {
                        bridge: Some(b), ..
                    }),
                    _,
                ) => Some((b.codec.name().to_string(), b.stats)),
                (_, Some(e)) => e.phone.clone(),
                _ => None,
            };
            let mut frames_sent = m.frames_sent;
            if let Some((codec, s)) = &phone {
                frames_sent = s.from_phone + s.dtmf_from_phone;
                rx_stats.received = s.to_phone + s.dtmf_to_phone;
                return dto::MediaStats {
                    frames_sent,
                    expected_loss_pct: 0,
                    frame_ms: FRAME_MS,
                    rejected: m.rejected,
                    source: Some(format!("SIP phone ({codec})")),
                    source_ended: false,
                    rx: rx_stats,
                    phone: Some(dto::PhoneMediaStats {
                        codec: codec.clone(),
                        rtp_from_phone: s.from_phone,
                        rtp_to_phone: s.to_phone,
                        dtmf_from_phone: s.dtmf_from_phone,
                        dtmf_to_phone: s.dtmf_to_phone,
                        dropped: s.dropped,
                    }),
                };
            }
            dto::MediaStats {
                frames_sent,
                expected_loss_pct: m.expected_loss_pct,
                frame_ms: FRAME_MS,
                rejected: m.rejected,
                source,
                source_ended,
                rx: rx_stats,
                phone: None,
            }
        });
        dto::Call {
            id: v.id,
            direction: if v.outgoing { "out" } else { "in" }.into(),
            name: v.name.clone(),
            peer: v.peer,
            state: v.phase.as_str().into(),
            code: v.code,
            reason: v.reason.clone(),
            ringing_ms: v.ringing_ms,
            answered_ms: v.answered_ms,
            age_ms: v.age_ms,
            media,
        }
    }
}
