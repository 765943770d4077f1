//! The engine's push-to-talk face: the API's talkgroup commands, handed
//! to the application layer (`app::talkgroups`: floors, the group payload
//! format, which voice plays, the FEC a talker plans), and each group's
//! codec ends here: the sink its voice plays to, and while we talk, the
//! source and encoder of our burst.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::calls::{ApiErr, api_err};
use super::media::{Rx, Source, Tx, rx_dto};
use super::{Engine, clock};
use crate::app::talkgroups::priority;
use crate::app::{Stream, TalkgroupView};
use crate::daemon::audio_log::Entry as AudioEntry;
use crate::daemon::dto::{self, ApiEvent};
use crate::floor::Priority;
use crate::identity::NodeId;
use crate::names::record::Position;
use crate::time::Instant;

/// Opus bit rate of talkgroup voice: a call's. Airtime does not argue for
/// less: a 70-byte frame is a small share of a multicast packet's cost,
/// and at 24 kbit/s Opus alone scored 0.16 PESQ-WB lower on the test speech.
pub const GROUP_BITRATE: u32 = crate::app::offer::CALL_BITRATE;

type Reply<T> = tokio::sync::oneshot::Sender<Result<T, ApiErr>>;

pub enum TalkgroupCommand {
    Join(String, dto::ListenRequest, Reply<dto::Talkgroup>),
    Leave(String, Reply<dto::Talkgroup>),
    Press(String, dto::PttRequest, Reply<dto::Talkgroup>),
    Release(String, Reply<dto::Talkgroup>),
    List(tokio::sync::oneshot::Sender<Vec<dto::Talkgroup>>),
    Mayday(dto::MaydayRequest, Reply<Vec<dto::Talkgroup>>),
    /// The audio log's bursts, newest first (at most this many).
    AudioList(usize, tokio::sync::oneshot::Sender<Vec<AudioEntry>>),
    /// The file of one closed burst of the audio log, if it is one.
    AudioFile(String, tokio::sync::oneshot::Sender<Option<PathBuf>>),
    /// A browser's post of microphone audio for the press it made:
    /// (talkgroup, the post's sequence number, 16 kHz PCM).
    Audio(String, u64, Vec<i16>, Reply<()>),
    /// Whether we are in this talkgroup (a page may listen to it).
    Member(String, tokio::sync::oneshot::Sender<Option<NodeId>>),
}

/// One decoded 20 ms slot of a talkgroup, for pages listening live.
pub type GroupPcm = (NodeId, std::sync::Arc<[i16]>);

/// One talkgroup's codec ends.
struct GroupMedia {
    rx: Rx,
    record: Option<PathBuf>,
    tx: Option<Tx>,
}

#[derive(Default)]
pub struct GroupsMedia {
    groups: BTreeMap<NodeId, GroupMedia>,
}

impl Engine {
    pub(super) fn on_talkgroup_command(&mut self, c: TalkgroupCommand) {
        let now = clock::now();
        match c {
            TalkgroupCommand::Join(name, req, tx) => {
                let r = self.join(now, &name, req.record, req.audio_out);
                let _ = tx.send(r);
            }
            TalkgroupCommand::Leave(name, tx) => {
                let r = self.app.leave(now, &name).map_err(api_err).map(|v| {
                    let gm = self.groups.groups.remove(&v.group);
                    self.audio_log.close(v.group);
                    self.speaker.forget(Stream::Group(v.group));
                    if let Some(mut g) = gm {
                        g.rx.finish();
                        tg_dto(&v, Some(&g))
                    } else {
                        tg_dto(&v, None)
                    }
                });
                if r.is_ok() {
                    tracing::info!(talkgroup = %name, "left talkgroup");
                }
                let _ = tx.send(r);
            }
            TalkgroupCommand::Press(name, req, tx) => {
                let r = self.press(now, &name, req);
                let _ = tx.send(r);
            }
            TalkgroupCommand::Release(name, tx) => {
                let r = self
                    .app
                    .release(now, &name, None)
                    .map_err(api_err)
                    .and_then(|()| self.tg(&name));
                let _ = tx.send(r);
            }
            TalkgroupCommand::List(tx) => {
                let v = self.app.talkgroups();
                let _ = tx.send(
                    v.iter()
                        .map(|t| tg_dto(t, self.groups.groups.get(&t.group)))
                        .collect(),
                );
            }
            TalkgroupCommand::Mayday(req, tx) => {
                let r = self.mayday(now, req);
                let _ = tx.send(r);
            }
            TalkgroupCommand::AudioList(limit, tx) => {
                let _ = tx.send(self.audio_log.list(limit));
            }
            TalkgroupCommand::AudioFile(rel, tx) => {
                let _ = tx.send(self.audio_log.path_of(&rel));
            }
            TalkgroupCommand::Audio(name, seq, pcm, tx) => {
                let g = crate::app::group_wire::group_of(&name);
                let src = self
                    .groups
                    .groups
                    .get_mut(&g)
                    .and_then(|m| m.tx.as_mut())
                    .map(|t| &mut t.src);
                let r = match src {
                    Some(Source::Pushed(p)) => {
                        p.push(seq, &pcm);
                        Ok(())
                    }
                    _ => Err((409, format!("not talking from a browser on {name}"))),
                };
                let _ = tx.send(r);
            }
            TalkgroupCommand::Member(name, tx) => {
                let _ = tx.send(self.app.talkgroup(&name).map(|v| v.group));
            }
        }
        self.drain(now);
    }

    fn tg(&self, name: &str) -> Result<dto::Talkgroup, ApiErr> {
        let v = self
            .app
            .talkgroup(name)
            .ok_or_else(|| (404, format!("not a member of {name}")))?;
        Ok(tg_dto(&v, self.groups.groups.get(&v.group)))
    }

    /// Join a talkgroup (idempotent; a new `record` or `audio_out`
    /// replaces the old sink).
    pub(super) fn join(
        &mut self,
        now: Instant,
        name: &str,
        record: Option<PathBuf>,
        audio_out: Option<String>,
    ) -> Result<dto::Talkgroup, ApiErr> {
        let g = self.app.join(now, name).map_err(api_err)?;
        let replace = record.is_some() || audio_out.is_some();
        if replace || !self.groups.groups.contains_key(&g) {
            // Open the new sink before closing the old one: a bad name
            // leaves the talkgroup as it was.
            let rx = Rx::new(record.as_deref(), audio_out.as_deref()).map_err(|e| (400, e))?;
            let old = self.groups.groups.insert(
                g,
                GroupMedia {
                    rx,
                    record,
                    tx: None,
                },
            );
            if let Some(mut o) = old {
                o.rx.finish();
                if let Some(m) = self.groups.groups.get_mut(&g) {
                    m.tx = o.tx;
                }
            } else {
                tracing::info!(talkgroup = %name, "joined talkgroup");
            }
        }
        self.tg(name)
    }

    fn press(
        &mut self,
        now: Instant,
        name: &str,
        req: dto::PttRequest,
    ) -> Result<dto::Talkgroup, ApiErr> {
        let prio = priority(req.priority.as_deref().unwrap_or("normal")).map_err(api_err)?;
        // Neither a WAV nor a device: the daemon's microphone, if it has one.
        let device = req.audio_in.or_else(|| self.settings.audio_in.clone());
        let src = if req.browser {
            Source::Pushed(super::media::Pushed::default())
        } else {
            Source::open(req.wav.as_deref(), device.as_deref()).map_err(|e| (400, e))?
        };
        self.join(now, name, None, None)?;
        self.start_tx(name, src)?;
        self.app.press(now, name, prio).map_err(api_err)?;
        tracing::info!(talkgroup = %name, ?prio, "push to talk");
        self.tg(name)
    }

    /// Our burst's source and encoder, ready for the talk permit.
    fn start_tx(&mut self, name: &str, src: Source) -> Result<(), ApiErr> {
        let g = crate::app::group_wire::group_of(name);
        let tx = Tx::new(src, GROUP_BITRATE, 0).map_err(|e| (500, e))?;
        let m = self
            .groups
            .groups
            .get_mut(&g)
            .ok_or_else(|| (500, "talkgroup vanished".to_string()))?;
        m.tx = Some(tx);
        // Our burst: a file of its own in the audio log.
        self.audio_log.close(g);
        Ok(())
    }

    fn mayday(
        &mut self,
        now: Instant,
        req: dto::MaydayRequest,
    ) -> Result<Vec<dto::Talkgroup>, ApiErr> {
        let position = match (req.lat, req.lon) {
            (Some(lat), Some(lon)) => Some(Position {
                lat_e7: (lat * 1e7) as i32,
                lon_e7: (lon * 1e7) as i32,
                accuracy_m: req.accuracy_m.unwrap_or(10),
                time_s: super::messages::unix_ms() / 1000,
            }),
            _ => None,
        };
        if let Some(tg) = &req.talkgroup {
            self.join(now, tg, None, None)?;
        }
        // Every talkgroup we are in gets the burst's audio.
        for t in self.app.talkgroups() {
            if !self.groups.groups.contains_key(&t.group) {
                self.join(now, &t.name, None, None)?;
            }
            let src = Source::open(req.wav.as_deref(), None).map_err(|e| (400, e))?;
            self.start_tx(&t.name, src)?;
        }
        let names = self
            .app
            .mayday(now, req.talkgroup.as_deref(), position)
            .map_err(api_err)?;
        tracing::warn!(talkgroups = ?names, "MAYDAY");
        self.publish(ApiEvent::Mayday {
            node: self.app.id(),
        });
        names.iter().map(|n| self.tg(n)).collect()
    }

    /// A 20 ms frame of our burst is due: encode it and hand it over; a
    /// WAV played to its end releases the floor.
    pub(super) fn group_frame_due(&mut self, now: Instant, g: NodeId, index: u64) {
        let Some(tx) = self.groups.groups.get_mut(&g).and_then(|m| m.tx.as_mut()) else {
            return;
        };
        if let Some(opus) = tx.encode(index) {
            self.app.send_frame(now, Stream::Group(g), index, &opus);
        }
        // What we say goes into the incident's audio log as what we hear
        // does: the console's own transmissions are part of the record.
        let pcm = tx.last_pcm;
        self.log_audio(now, g, &pcm);
        let done = self
            .groups
            .groups
            .get(&g)
            .and_then(|m| m.tx.as_ref())
            .is_some_and(|t| t.src.ended());
        if done && let Some(name) = self.app.talkgroup_name(g).map(str::to_string) {
            let _ = self.app.release(now, &name, Some("done"));
        }
    }

    pub(super) fn group_tx_stopped(&mut self, g: NodeId) {
        if let Some(m) = self.groups.groups.get_mut(&g) {
            if let Some(Tx {
                src: Source::Pushed(p),
                sent,
                ..
            }) = &m.tx
            {
                // How the browser's posts kept up, for whoever hears gaps.
                tracing::info!(
                    frames = sent,
                    underruns = p.underruns,
                    late_posts = p.late,
                    "browser talk ended"
                );
            }
            // Our burst's file stays open until the audio log's idle close
            // (or the next burst): the floor's idle event, which comes
            // after, names it in the incident log.
            m.tx = None;
        }
    }

    pub(super) fn group_play(&mut self, now: Instant, g: NodeId, p: &crate::app::Playout) {
        let Some(m) = self.groups.groups.get_mut(&g) else {
            return;
        };
        let pcm = m.rx.play(p);
        if self.pcm_tap.receiver_count() > 0 {
            let _ = self.pcm_tap.send((g, pcm.as_slice().into()));
        }
        if m.rx.to_speaker() {
            let emergency = self.app.burst_priority(g) == Some(Priority::Emergency);
            self.speaker.push(now, Stream::Group(g), &pcm, emergency);
        }
        self.log_audio(now, g, &pcm);
    }

    /// A 20 ms frame of talkgroup `g`'s current burst, heard or said, for
    /// the audio log.
    fn log_audio(&mut self, now: Instant, g: NodeId, pcm: &[i16]) {
        if self.audio_log.enabled()
            && let Some(name) = self.app.talkgroup_name(g)
        {
            let talker = self.bursts.get(name).and_then(|(t, _)| t.as_deref());
            let unix = super::messages::unix_ms();
            self.audio_log.write(now, unix, g, name, talker, pcm);
        }
    }

    pub(super) fn group_reset(&mut self, g: NodeId) {
        if let Some(m) = self.groups.groups.get_mut(&g) {
            m.rx.reset();
        }
        // A new talker or burst: a file of its own.
        self.audio_log.close(g);
    }

    pub(super) fn group_expected_loss(&mut self, g: NodeId, pct: u8) {
        if let Some(tx) = self.groups.groups.get_mut(&g).and_then(|m| m.tx.as_mut()) {
            tx.set_expected_loss(pct);
        }
    }
}

fn tg_dto(t: &TalkgroupView, m: Option<&GroupMedia>) -> dto::Talkgroup {
    let mut rx = rx_dto(&t.rx, m.map(|m| &m.rx));
    if rx.recording.is_none() {
        rx.recording = m.and_then(|m| m.record.as_ref().map(|p| p.display().to_string()));
    }
    dto::Talkgroup {
        name: t.name.clone(),
        talker: t.talker.as_ref().map(|(node, name)| dto::Talker {
            node: *node,
            name: name.clone(),
        }),
        transmitting: t.transmitting,
        requesting: t.requesting,
        last_outcome: t.last_outcome.clone(),
        access_count: t.access_count,
        access_p50_ms: t.access_p50_ms,
        access_p95_ms: t.access_p95_ms,
        bursts_heard: t.bursts_heard,
        recording: rx.recording.clone(),
        bitrate: GROUP_BITRATE,
        expected_loss_pct: t.expected_loss_pct,
        frames_sent: t.frames_sent,
        key_epoch: t.key_epoch,
        rx,
    }
}
