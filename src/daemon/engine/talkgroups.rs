//! The engine's push-to-talk face: talkgroups this daemon is a member of,
//! their floor control, and their voice. Floor messages and voice frames
//! are flooded to the group (one transmission per relay, never N unicast
//! copies); every member runs the same floor state machine.
//!
//! Flood payloads start with a kind byte:
//!
//! ```text
//! 0x01 | floor message (floor::FloorMsg, CBOR)
//! 0x02 | burst u32 | seq u16 | capture ms u16 | Opus frame
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::media::{Rx, Source, Tx, percentile_ms};
use super::{Engine, clock};
use crate::daemon::dto::{self, ApiEvent};
use crate::floor::{Floor, FloorConfig, FloorEvent, FloorMsg, Priority};
use crate::identity::NodeId;
use crate::node::Class;
use crate::time::Instant;

const KIND_FLOOR: u8 = 1;
const KIND_VOICE: u8 = 2;
const VOICE_HEADER: usize = 1 + 4 + 2 + 2;
/// Talkgroups one daemon joins (the directory record lists at most 16).
pub const MAX_TALKGROUPS: usize = crate::names::record::MAX_TALKGROUPS;
/// Access times remembered per talkgroup (oldest dropped).
const MAX_ACCESS_SAMPLES: usize = 1000;
/// A talkgroup's listeners expect about this much loss on a flood: FEC on.
const PTT_EXPECTED_LOSS_PCT: u8 = 10;

type Reply<T> = tokio::sync::oneshot::Sender<Result<T, super::calls::ApiErr>>;

pub enum TalkgroupCommand {
    Join(String, dto::ListenRequest, Reply<dto::Talkgroup>),
    Leave(String, Reply<dto::Talkgroup>),
    Press(String, dto::PttRequest, Reply<dto::Talkgroup>),
    Release(String, Reply<dto::Talkgroup>),
    List(tokio::sync::oneshot::Sender<Vec<dto::Talkgroup>>),
    Mayday(dto::MaydayRequest, Reply<Vec<dto::Talkgroup>>),
}

/// The flood group of a talkgroup name.
pub fn group_of(name: &str) -> NodeId {
    let h = Sha256::digest([b"callsign talkgroup\0".as_slice(), name.as_bytes()].concat());
    NodeId::from_slice(&h[..16]).unwrap_or(NodeId::from_public_key(&[0; 32]))
}

struct Ptt {
    tx: Tx,
    pressed: Instant,
    granted: bool,
    burst: u32,
    seq: u16,
}

pub struct Talkgroup {
    name: String,
    group: NodeId,
    floor: Floor,
    rx: Rx,
    rx_burst: Option<u32>,
    ptt: Option<Ptt>,
    /// Press-to-permit times, ms.
    access_ms: Vec<u32>,
    last_outcome: Option<String>,
    bursts_heard: u64,
    record: Option<PathBuf>,
}

#[derive(Default)]
pub struct TalkgroupsFace {
    groups: BTreeMap<String, Talkgroup>,
}

impl TalkgroupsFace {
    pub fn active(&self) -> bool {
        self.groups
            .values()
            .any(|t| t.ptt.is_some() || t.rx_burst.is_some())
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.groups
            .values()
            .filter_map(|t| t.floor.poll_timeout())
            .min()
    }

    pub fn names(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }
}

fn priority(s: &str) -> Result<Priority, String> {
    match s {
        "normal" | "" => Ok(Priority::Normal),
        "command" => Ok(Priority::Command),
        "emergency" => Ok(Priority::Emergency),
        o => Err(format!(
            "unknown priority {o:?}: normal, command or emergency"
        )),
    }
}

impl Engine {
    pub(super) fn on_talkgroup_command(&mut self, c: TalkgroupCommand) {
        let now = clock::now();
        match c {
            TalkgroupCommand::Join(name, req, tx) => {
                let r = self.join(now, &name, req.record, req.audio_out).map(tg_dto);
                let _ = tx.send(r);
            }
            TalkgroupCommand::Leave(name, tx) => {
                let r = self.leave(now, &name);
                let _ = tx.send(r);
            }
            TalkgroupCommand::Press(name, req, tx) => {
                let r = self.press(now, &name, req);
                let _ = tx.send(r);
            }
            TalkgroupCommand::Release(name, tx) => {
                let r = match self.voice.talkgroups.groups.get_mut(&name) {
                    Some(t) => {
                        t.floor.release(now);
                        t.ptt = None;
                        Ok(tg_dto(t))
                    }
                    None => Err((404, format!("not a member of {name}"))),
                };
                let _ = tx.send(r);
            }
            TalkgroupCommand::List(tx) => {
                let _ = tx.send(self.voice.talkgroups.groups.values().map(tg_dto).collect());
            }
            TalkgroupCommand::Mayday(req, tx) => {
                let r = self.mayday(now, req);
                let _ = tx.send(r);
            }
        }
        self.pump_floors(now);
    }

    /// Join a talkgroup (idempotent; a new `record` path replaces the old).
    pub(super) fn join(
        &mut self,
        now: Instant,
        name: &str,
        record: Option<PathBuf>,
        audio_out: Option<String>,
    ) -> Result<&Talkgroup, super::calls::ApiErr> {
        if !crate::names::record::valid_name(name) {
            return Err((400, format!("invalid talkgroup name {name:?}")));
        }
        let my_name = self
            .held_names()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.node.id().short());
        let groups = &mut self.voice.talkgroups.groups;
        if !groups.contains_key(name) {
            if groups.len() >= MAX_TALKGROUPS {
                return Err((409, format!("already in {MAX_TALKGROUPS} talkgroups")));
            }
            let t = Talkgroup {
                name: name.to_string(),
                group: group_of(name),
                floor: Floor::new(
                    self.node.id(),
                    my_name,
                    FloorConfig {
                        max_talk: self.settings.ptt_time_limit,
                        ..FloorConfig::default()
                    },
                ),
                rx: Rx::new(record.as_deref(), audio_out.as_deref()).map_err(|e| (400, e))?,
                rx_burst: None,
                ptt: None,
                access_ms: Vec::new(),
                last_outcome: None,
                bursts_heard: 0,
                record: record.clone(),
            };
            tracing::info!(talkgroup = %name, "joined talkgroup");
            groups.insert(name.to_string(), t);
            self.publish_talkgroups(now);
        } else if record.is_some() || audio_out.is_some() {
            let t = groups
                .get_mut(name)
                .ok_or((500, "talkgroup vanished".to_string()))?;
            // Open the new sink before closing the old one: a bad name
            // leaves the talkgroup as it was.
            let rx = Rx::new(record.as_deref(), audio_out.as_deref()).map_err(|e| (400, e))?;
            t.rx.finish();
            t.rx = rx;
            t.record = record;
        }
        self.voice
            .talkgroups
            .groups
            .get(name)
            .ok_or((500, "talkgroup vanished".into()))
    }

    fn leave(&mut self, now: Instant, name: &str) -> Result<dto::Talkgroup, super::calls::ApiErr> {
        let Some(mut t) = self.voice.talkgroups.groups.remove(name) else {
            return Err((404, format!("not a member of {name}")));
        };
        t.floor.release(now);
        while let Some(m) = t.floor.poll_msg() {
            self.flood_floor(now, t.group, &m);
        }
        t.rx.finish();
        self.publish_talkgroups(now);
        tracing::info!(talkgroup = %name, "left talkgroup");
        Ok(tg_dto(&t))
    }

    /// The directory lists the talkgroups we are in.
    fn publish_talkgroups(&mut self, now: Instant) {
        let mut p = self.node.profile().clone();
        p.talkgroups = self.voice.talkgroups.names();
        if let Err(e) = self.node.set_profile(now, p) {
            tracing::warn!("cannot list talkgroups in the directory: {e}");
        }
    }

    fn press(
        &mut self,
        now: Instant,
        name: &str,
        req: dto::PttRequest,
    ) -> Result<dto::Talkgroup, super::calls::ApiErr> {
        let prio = priority(req.priority.as_deref().unwrap_or("normal")).map_err(|e| (400, e))?;
        let src =
            Source::open(req.wav.as_deref(), req.audio_in.as_deref()).map_err(|e| (400, e))?;
        self.join(now, name, None, None)?;
        let t = self
            .voice
            .talkgroups
            .groups
            .get_mut(name)
            .ok_or((500, "talkgroup vanished".to_string()))?;
        let tx = Tx::new(
            src,
            crate::audio::codec::EncoderConfig::default().bitrate,
            PTT_EXPECTED_LOSS_PCT,
        )
        .map_err(|e| (500, e))?;
        t.ptt = Some(Ptt {
            tx,
            pressed: now,
            granted: false,
            burst: 0,
            seq: 0,
        });
        t.last_outcome = Some("requesting".into());
        t.floor.press(now, prio);
        tracing::info!(talkgroup = %name, ?prio, "push to talk");
        Ok(tg_dto(t))
    }

    fn mayday(
        &mut self,
        now: Instant,
        req: dto::MaydayRequest,
    ) -> Result<Vec<dto::Talkgroup>, super::calls::ApiErr> {
        // The position first: on its own it waits for the directory's
        // position interval, so set after the presence it would miss the
        // record the presence change sends out at once (and reach the
        // mesh only minutes later). Set before, it rides that record.
        if let (Some(lat), Some(lon)) = (req.lat, req.lon) {
            self.node.set_position(
                now,
                Some(crate::names::record::Position {
                    lat_e7: (lat * 1e7) as i32,
                    lon_e7: (lon * 1e7) as i32,
                    accuracy_m: req.accuracy_m.unwrap_or(10),
                    time_s: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                }),
            );
        }
        self.node
            .set_presence(now, crate::names::Presence::Emergency);
        if let Some(tg) = &req.talkgroup {
            self.join(now, tg, None, None)?;
        }
        let names = self.voice.talkgroups.names();
        if names.is_empty() {
            return Err((
                409,
                "mayday flagged in the directory, but this node is in no talkgroup".into(),
            ));
        }
        tracing::warn!(talkgroups = ?names, "MAYDAY");
        let mut out = Vec::new();
        for n in names {
            let r = self.press(
                now,
                &n,
                dto::PttRequest {
                    wav: req.wav.clone(),
                    audio_in: None,
                    priority: Some("emergency".into()),
                },
            )?;
            out.push(r);
        }
        self.publish(ApiEvent::Mayday {
            node: self.node.id(),
        });
        Ok(out)
    }

    fn flood_floor(&mut self, now: Instant, group: NodeId, m: &FloorMsg) {
        let mut b = vec![KIND_FLOOR];
        b.extend_from_slice(&m.encode());
        if let Err(e) = self.node.flood(now, group, Class::Voice, &b) {
            tracing::debug!("floor message not sent: {e}");
        }
    }

    /// Send floor messages, act on floor events.
    pub(super) fn pump_floors(&mut self, now: Instant) {
        let names = self.voice.talkgroups.names();
        for n in names {
            while let Some(t) = self.voice.talkgroups.groups.get_mut(&n) {
                let group = t.group;
                let msg = t.floor.poll_msg();
                let ev = if msg.is_none() {
                    t.floor.poll_event()
                } else {
                    None
                };
                match (msg, ev) {
                    (Some(m), _) => self.flood_floor(now, group, &m),
                    (None, Some(e)) => self.on_floor_event(now, &n, e),
                    (None, None) => break,
                }
            }
        }
        self.flush_transmits();
    }

    fn on_floor_event(&mut self, now: Instant, name: &str, e: FloorEvent) {
        if matches!(e, FloorEvent::Granted) {
            self.ensure_tick();
        }
        let Some(t) = self.voice.talkgroups.groups.get_mut(name) else {
            return;
        };
        let (kind, detail) = match &e {
            FloorEvent::Granted => {
                if let Some(p) = &mut t.ptt {
                    p.granted = true;
                    p.burst = t.floor.burst().unwrap_or(0);
                    let ms = now.saturating_since(p.pressed).as_millis() as u32;
                    if t.access_ms.len() < MAX_ACCESS_SAMPLES {
                        t.access_ms.push(ms);
                    }
                    t.last_outcome = Some(format!("granted after {ms} ms"));
                    tracing::info!(talkgroup = %name, access_ms = ms, "talk permit");
                }
                ("granted", None)
            }
            FloorEvent::Denied { name: holder, .. } => {
                t.ptt = None;
                t.last_outcome = Some(format!("denied: {holder} has the floor"));
                tracing::info!(talkgroup = %name, %holder, "floor denied");
                ("denied", Some(holder.clone()))
            }
            FloorEvent::Revoked { name: by, .. } => {
                t.ptt = None;
                t.last_outcome = Some(format!("pre-empted by {by}"));
                tracing::info!(talkgroup = %name, %by, "floor pre-empted");
                ("revoked", Some(by.clone()))
            }
            FloorEvent::TimeLimit => {
                t.ptt = None;
                t.last_outcome = Some("transmit time limit reached".into());
                ("time_limit", None)
            }
            FloorEvent::Taken { name: talker, .. } => {
                tracing::info!(talkgroup = %name, %talker, "talking");
                ("taken", Some(talker.clone()))
            }
            FloorEvent::Idle => {
                if t.rx_burst.take().is_some() {
                    t.rx.new_stream();
                }
                ("idle", None)
            }
        };
        self.publish(ApiEvent::Floor {
            talkgroup: name.to_string(),
            event: kind.into(),
            who: detail,
        });
    }

    /// A flooded packet: a floor message or voice of one of our talkgroups.
    pub(super) fn on_group_packet(
        &mut self,
        now: Instant,
        src: NodeId,
        group: NodeId,
        payload: &[u8],
    ) {
        let Some(name) = self
            .voice
            .talkgroups
            .groups
            .values()
            .find(|t| t.group == group)
            .map(|t| t.name.clone())
        else {
            return;
        };
        let Some(t) = self.voice.talkgroups.groups.get_mut(&name) else {
            return;
        };
        match payload.split_first() {
            Some((&KIND_FLOOR, body)) => match FloorMsg::decode(body) {
                Ok(m) => t.floor.handle(now, src, m),
                Err(e) => tracing::debug!(from = %src.short(), "bad floor message: {e}"),
            },
            Some((&KIND_VOICE, _)) if payload.len() > VOICE_HEADER => {
                let word = |a: usize, b: usize| payload.get(a..b);
                let (Some(burst), Some(seq), Some(cap)) = (word(1, 5), word(5, 7), word(7, 9))
                else {
                    return;
                };
                let burst = u32::from_be_bytes([burst[0], burst[1], burst[2], burst[3]]);
                let seq = u16::from_be_bytes([seq[0], seq[1]]);
                let cap = u16::from_be_bytes([cap[0], cap[1]]);
                // The floor decides whose voice plays (one talker at a time).
                if !t.floor.handle_voice(now, src, burst) {
                    self.pump_floors(now);
                    return;
                }
                if t.rx_burst != Some(burst) {
                    // A new burst (or a late entry): play from this frame on.
                    t.rx.new_stream();
                    t.rx_burst = Some(burst);
                    t.bursts_heard += 1;
                    self.ensure_tick();
                }
                if let Some(t) = self.voice.talkgroups.groups.get_mut(&name) {
                    t.rx.push(now, u64::from(seq), cap, payload[VOICE_HEADER..].to_vec());
                }
            }
            _ => tracing::debug!(from = %src.short(), "unknown talkgroup packet"),
        }
        self.pump_floors(now);
    }

    /// One 20 ms tick: talkers send, listeners play.
    pub(super) fn tick_talkgroups(&mut self, now: Instant) {
        // A frame read now began FRAME_MS ago: mouth-to-ear counts from
        // its first sample.
        let capture_ms = (now.as_micros() / 1000).saturating_sub(super::media::FRAME_MS) as u16;
        let mut out = Vec::new();
        let mut done = Vec::new();
        for t in self.voice.talkgroups.groups.values_mut() {
            if let Some(p) = &mut t.ptt
                && p.granted
                && t.floor.may_transmit()
            {
                if let Some((_, opus)) = p.tx.tick() {
                    let mut b = Vec::with_capacity(VOICE_HEADER + opus.len());
                    b.push(KIND_VOICE);
                    b.extend_from_slice(&p.burst.to_be_bytes());
                    b.extend_from_slice(&p.seq.to_be_bytes());
                    b.extend_from_slice(&capture_ms.to_be_bytes());
                    b.extend_from_slice(&opus);
                    p.seq = p.seq.wrapping_add(1);
                    out.push((t.group, b));
                }
                if p.tx.src.ended() {
                    done.push(t.name.clone());
                }
            }
            if t.rx_burst.is_some() {
                t.rx.tick(now);
            }
        }
        for (group, b) in out {
            if let Err(e) = self.node.flood(now, group, Class::Voice, &b) {
                tracing::trace!("talkgroup voice not sent: {e}");
            }
        }
        // A burst whose WAV has been sent releases the floor: the
        // Release goes out now, not at the next floor event.
        if !done.is_empty() {
            for n in done {
                if let Some(t) = self.voice.talkgroups.groups.get_mut(&n) {
                    t.floor.release(now);
                    t.ptt = None;
                    t.last_outcome = Some("done".into());
                }
            }
            self.pump_floors(now);
        }
    }

    pub(super) fn floors_timeout(&mut self, now: Instant) {
        for t in self.voice.talkgroups.groups.values_mut() {
            if t.floor.poll_timeout().is_some_and(|w| w <= now) {
                t.floor.handle_timeout(now);
            }
        }
        self.pump_floors(now);
    }
}

fn tg_dto(t: &Talkgroup) -> dto::Talkgroup {
    dto::Talkgroup {
        name: t.name.clone(),
        talker: t.floor.talker().map(|(id, n, _)| dto::Talker {
            node: id,
            name: n.to_string(),
        }),
        transmitting: t.ptt.as_ref().is_some_and(|p| p.granted),
        requesting: t.ptt.as_ref().is_some_and(|p| !p.granted),
        last_outcome: t.last_outcome.clone(),
        access_count: t.access_ms.len(),
        access_p50_ms: percentile_ms(&t.access_ms, 50.0),
        access_p95_ms: percentile_ms(&t.access_ms, 95.0),
        bursts_heard: t.bursts_heard,
        recording: t.record.as_ref().map(|p| p.display().to_string()),
        rx: t.rx.stats(),
    }
}
