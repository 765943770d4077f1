//! Talkgroups: one [`Floor`] per group we are a member of, the voice of
//! its talker, and the FEC the talker plans from its listeners' reports.
//!
//! Floor messages and voice frames are flooded to the group as voice-class
//! floods ([`group_wire`] says the layout), so one transmission per relay
//! reaches every member and the node's flood repair covers both. A member
//! plays a frame only when its floor says it comes from the current
//! talker; a new burst restarts its playout stream. When the floor goes
//! idle the buffer plays out what it still holds, so a burst's last
//! syllable is not cut by the `Release` that overtakes it.
//!
//! FEC from reports: a listener whose measured loss on a burst reaches
//! [`REPORT_MIN_PCT`] tells the talker (a small unicast, at most every
//! [`REPORT_EVERY`]); the talker plans its encoder's FEC for the worst
//! report of the last [`REPORT_HOLD`], and for none when nobody reports.
//! On a mesh whose repair covers the loss, nobody reports and the FEC copy
//! (which costs 0.8 PESQ on a clean path) stays off.
//!
//! A talkgroup with a key is private (`tg_private.rs`): everything it
//! sends is sealed, and what it receives is opened before anything else
//! here looks at it. A talkgroup without a key is open, as before.

use std::collections::BTreeMap;
use std::time::Duration;

use super::group_fresh::Freshness;
use super::group_key::{EpochKey, GroupKeys};
use super::group_wire::{GroupRepr, group_of};
use super::playout;
use super::{App, AppError, AppEvent, Stream, capture_ms};
use crate::floor::{Floor, FloorEvent, Priority};
use crate::identity::NodeId;
use crate::names::record::Position;
use crate::node::Class;
use crate::stats::percentile_ms;
use crate::time::Instant;
use crate::wire::proto;

/// Talkgroups one device joins (the directory record lists at most 16).
pub const MAX_TALKGROUPS: usize = crate::names::record::MAX_TALKGROUPS;
/// Talkgroup keys held (more than the talkgroups joined: keys may be
/// configured for talkgroups joined later).
pub const MAX_KEYS: usize = 64;
/// Access times remembered per talkgroup (the first ones are kept).
const MAX_ACCESS_SAMPLES: usize = 1000;
/// Listeners' reports a talker keeps (one per listener; new ones are
/// ignored at the limit until old ones go stale).
const MAX_REPORTS: usize = 256;
/// A listener reports loss from this much on.
pub const REPORT_MIN_PCT: u8 = 2;
/// A listener reports at most this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// A talker plans for reports this recent.
pub const REPORT_HOLD: Duration = Duration::from_secs(5);
/// The jitter buffer of group voice. A frame lost on the first pass comes
/// back 20 or 40 ms later in the floods that follow it (or a little later
/// by a NACK), and the buffer must already be waiting for it: a buffer
/// that had to stretch (play a concealed frame) to make room cost every
/// listener of a 10 %-loss field mesh 0.3 PESQ-WB with nothing lost. So it
/// never plays less than 70 ms behind the fastest frame (a frame repaired
/// by a NACK after two redundant copies were lost comes 60–70 ms late; 80
/// kept every field listener at Opus-alone quality but costs the far
/// members of 100-node meshes a frame of delay, 150 ms p95), and covers the
/// slowest recent one (not the 98th percentile a call's buffer covers:
/// 2 % of frames late is 2 % lost).
pub const GROUP_JITTER: crate::voice::JitterConfig = crate::voice::JitterConfig {
    min_delay: Duration::from_millis(70),
    max_delay: Duration::from_millis(200),
    initial_delay: Duration::from_millis(70),
    frame: Duration::from_millis(20),
    quantile: 0.995,
    silence_after: 5,
};
/// Highest expected loss the encoder is told: beyond it FEC cannot keep up
/// and more of it only takes bits from the speech.
pub const MAX_EXPECTED_LOSS: u8 = 30;

/// Our own burst on a group.
#[derive(Debug)]
struct Tx {
    pressed: Instant,
    granted: bool,
    burst: u32,
    /// The next frame's slot in the burst.
    index: u64,
    /// The tick that asked for the frame being encoded.
    due_at: Instant,
    sent: u64,
}

#[derive(Debug)]
pub struct Group {
    name: String,
    floor: Floor,
    rx: playout::Stream,
    /// The talker and burst we play.
    rx_burst: Option<(NodeId, u32)>,
    tx: Option<Tx>,
    access_ms: Vec<u32>,
    last_outcome: Option<String>,
    bursts_heard: u64,
    frames_sent: u64,
    /// Listeners' loss on our bursts: node -> (percent, when).
    reports: BTreeMap<NodeId, (u8, Instant)>,
    expected_loss: u8,
    /// When we last told a talker our loss.
    last_report: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Talkgroups {
    pub(super) groups: BTreeMap<NodeId, Group>,
    /// Keys of the private talkgroups, joined or not.
    pub(super) keys: BTreeMap<NodeId, GroupKeys>,
    /// Senders' clocks on private talkgroups, against replays.
    pub(super) fresh: Freshness,
}

/// A talkgroup as tools show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TalkgroupView {
    pub name: String,
    pub group: NodeId,
    /// Who talks now, as the floor says.
    pub talker: Option<(NodeId, String)>,
    pub transmitting: bool,
    pub requesting: bool,
    pub last_outcome: Option<String>,
    pub access_count: usize,
    pub access_p50_ms: Option<u64>,
    pub access_p95_ms: Option<u64>,
    pub bursts_heard: u64,
    pub frames_sent: u64,
    /// The epoch of the key the talkgroup is private under (None: open).
    pub key_epoch: Option<u32>,
    /// The loss our encoder plans FEC for on our bursts.
    pub expected_loss_pct: u8,
    pub rx: playout::PlayoutStats,
}

impl Talkgroups {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.groups
            .values()
            .filter_map(|g| g.floor.poll_timeout())
            .min()
    }

    pub(super) fn media_active(&self) -> bool {
        self.groups
            .values()
            .any(|g| g.tx.as_ref().is_some_and(|t| t.granted) || g.playing())
    }

    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.groups.values().map(|g| g.name.clone()).collect();
        v.sort();
        v
    }

    /// Take `key` for its talkgroup (see [`GroupKeys::install`]); a new
    /// talkgroup's key only below [`MAX_KEYS`].
    pub(super) fn install_key(&mut self, now: Instant, key: EpochKey) -> bool {
        let room = self.keys.len() < MAX_KEYS;
        match self.keys.get_mut(&key.group()) {
            Some(k) => k.install(now, key),
            None if room => {
                self.keys.insert(key.group(), GroupKeys::new(key));
                true
            }
            None => false,
        }
    }

    fn key_epoch(&self, group: NodeId) -> Option<u32> {
        self.keys.get(&group).map(|k| k.current().epoch())
    }
}

impl Group {
    /// The burst we transmit on this group, once granted.
    pub(super) fn talking_burst(&self) -> Option<u32> {
        self.tx.as_ref().filter(|x| x.granted).map(|x| x.burst)
    }

    fn playing(&self) -> bool {
        self.rx_burst.is_some() || self.rx.busy()
    }

    fn view(&self, group: NodeId, key_epoch: Option<u32>) -> TalkgroupView {
        TalkgroupView {
            name: self.name.clone(),
            group,
            talker: self.floor.talker().map(|(id, n, _)| (id, n.to_string())),
            transmitting: self.tx.as_ref().is_some_and(|t| t.granted),
            requesting: self.tx.as_ref().is_some_and(|t| !t.granted),
            last_outcome: self.last_outcome.clone(),
            access_count: self.access_ms.len(),
            access_p50_ms: percentile_ms(&self.access_ms, 50.0),
            access_p95_ms: percentile_ms(&self.access_ms, 95.0),
            bursts_heard: self.bursts_heard,
            frames_sent: self.frames_sent,
            key_epoch,
            expected_loss_pct: self.expected_loss,
            rx: self.rx.stats(),
        }
    }
}

/// A priority by its API name.
pub fn priority(s: &str) -> Result<Priority, AppError> {
    match s {
        "normal" | "" => Ok(Priority::Normal),
        "command" => Ok(Priority::Command),
        "emergency" => Ok(Priority::Emergency),
        o => Err(AppError::BadRequest(format!(
            "unknown priority {o:?}: normal, command or emergency"
        ))),
    }
}

impl App {
    /// Join a talkgroup (idempotent); the directory lists our talkgroups.
    pub fn join(&mut self, now: Instant, name: &str) -> Result<NodeId, AppError> {
        if !crate::wire::name::valid_name(name) {
            return Err(AppError::BadRequest(format!(
                "invalid talkgroup name {name:?}"
            )));
        }
        let g = group_of(name);
        if self.groups.groups.contains_key(&g) {
            return Ok(g);
        }
        if self.groups.groups.len() >= MAX_TALKGROUPS {
            return Err(AppError::Conflict(format!(
                "already in {MAX_TALKGROUPS} talkgroups"
            )));
        }
        let floor = Floor::new(self.node.id(), self.my_name(), self.cfg.floor.clone());
        self.groups.groups.insert(
            g,
            Group {
                name: name.to_string(),
                floor,
                rx: playout::Stream::new(GROUP_JITTER),
                rx_burst: None,
                tx: None,
                access_ms: Vec::new(),
                last_outcome: None,
                bursts_heard: 0,
                frames_sent: 0,
                reports: BTreeMap::new(),
                expected_loss: 0,
                last_report: None,
            },
        );
        self.publish_talkgroups(now);
        Ok(g)
    }

    /// Leave a talkgroup: our burst ends, the directory forgets it.
    pub fn leave(&mut self, now: Instant, name: &str) -> Result<TalkgroupView, AppError> {
        let g = group_of(name);
        let Some(mut t) = self.groups.groups.remove(&g) else {
            return Err(AppError::NotFound(format!("not a member of {name}")));
        };
        t.floor.release(now);
        while let Some(m) = t.floor.poll_msg() {
            self.flood_group(now, g, &GroupRepr::Floor(m).emit());
        }
        let key_epoch = self.groups.key_epoch(g);
        if t.tx.take().is_some() {
            self.event(AppEvent::TxStopped {
                stream: Stream::Group(g),
            });
        }
        self.publish_talkgroups(now);
        self.pump(now);
        Ok(t.view(g, key_epoch))
    }

    /// Push to talk on `name` (joining it first): the floor is requested,
    /// and [`AppEvent::FrameDue`] asks for audio from the talk permit on.
    pub fn press(&mut self, now: Instant, name: &str, prio: Priority) -> Result<(), AppError> {
        let g = self.join(now, name)?;
        self.par_ack_on_press(now);
        let t = self
            .groups
            .groups
            .get_mut(&g)
            .ok_or_else(|| AppError::NotFound(format!("not a member of {name}")))?;
        if t.tx.as_ref().is_some_and(|x| x.granted) {
            // Already talking: a higher priority press changes nothing here.
            return Ok(());
        }
        t.tx = Some(Tx {
            pressed: now,
            granted: false,
            burst: 0,
            index: 0,
            due_at: now,
            sent: 0,
        });
        t.last_outcome = Some("requesting".into());
        t.floor.press(now, prio);
        self.pump(now);
        Ok(())
    }

    /// Release the talk button (or withdraw a pending request). A granted
    /// burst's outcome (what tools show) becomes `outcome` ("done": its
    /// WAV ended), or stays "granted after N ms" with `None`.
    pub fn release(
        &mut self,
        now: Instant,
        name: &str,
        outcome: Option<&str>,
    ) -> Result<(), AppError> {
        let g = group_of(name);
        let t = self
            .groups
            .groups
            .get_mut(&g)
            .ok_or_else(|| AppError::NotFound(format!("not a member of {name}")))?;
        t.floor.release(now);
        if let Some(tx) = t.tx.take() {
            match (tx.granted, outcome) {
                (false, _) => t.last_outcome = Some("withdrawn".into()),
                (true, Some(o)) => t.last_outcome = Some(o.to_string()),
                (true, None) => {}
            }
            self.event(AppEvent::TxStopped {
                stream: Stream::Group(g),
            });
        }
        self.pump(now);
        Ok(())
    }

    /// A mayday: our position and an emergency presence in the directory,
    /// and an emergency press on every talkgroup we are in (`talkgroup`
    /// joined first). Returns the talkgroups pressed.
    pub fn mayday(
        &mut self,
        now: Instant,
        talkgroup: Option<&str>,
        position: Option<Position>,
    ) -> Result<Vec<String>, AppError> {
        // The position first: on its own it waits for the directory's
        // position interval, so set after the presence it would miss the
        // record the presence change sends out at once.
        if position.is_some() {
            self.node.set_position(now, position);
        }
        self.node
            .set_presence(now, crate::names::Presence::Emergency);
        if let Some(tg) = talkgroup {
            self.join(now, tg)?;
        }
        let names = self.groups.names();
        if names.is_empty() {
            self.pump(now);
            return Err(AppError::Conflict(
                "mayday flagged in the directory, but this node is in no talkgroup".into(),
            ));
        }
        for n in &names {
            self.press(now, n, Priority::Emergency)?;
        }
        Ok(names)
    }

    pub fn talkgroups(&self) -> Vec<TalkgroupView> {
        self.groups
            .groups
            .iter()
            .map(|(g, t)| t.view(*g, self.groups.key_epoch(*g)))
            .collect()
    }

    pub fn talkgroup(&self, name: &str) -> Option<TalkgroupView> {
        let g = group_of(name);
        self.groups
            .groups
            .get(&g)
            .map(|t| t.view(g, self.groups.key_epoch(g)))
    }

    /// The priority of the burst `group` plays (also while its tail plays
    /// out after the floor went idle): the speaker lets an emergency one
    /// play alone.
    pub fn burst_priority(&self, group: NodeId) -> Option<Priority> {
        let g = self.groups.groups.get(&group)?;
        g.rx_burst.map(|(_, burst)| Priority::of_burst(burst))
    }

    pub fn talkgroup_name(&self, group: NodeId) -> Option<&str> {
        self.groups.groups.get(&group).map(|t| t.name.as_str())
    }

    /// The directory lists the talkgroups we are in.
    fn publish_talkgroups(&mut self, now: Instant) {
        let mut p = self.node.profile().clone();
        p.talkgroups = self.groups.names();
        if let Err(e) = self.node.set_profile(now, p) {
            tracing::warn!("cannot list talkgroups in the directory: {e}");
        }
    }

    /// Flood a floor message (plain bytes, sealed here when keyed) or an
    /// already sealed voice frame to `group`.
    fn flood_group(&mut self, now: Instant, group: NodeId, bytes: &[u8]) {
        let sealed;
        let bytes = if bytes.first() == Some(&super::group_wire::KIND_FLOOR) {
            sealed = self.seal_control(now, group, bytes.to_vec());
            &sealed[..]
        } else {
            bytes
        };
        if let Err(e) = self.node.flood(now, group, Class::Voice, bytes) {
            tracing::debug!("talkgroup packet not sent: {e}");
        }
    }

    /// A frame of our burst on `group` (see [`App::send_frame`]).
    pub(super) fn send_group_frame(
        &mut self,
        now: Instant,
        group: NodeId,
        index: u64,
        body: &[u8],
    ) {
        let Some(t) = self.groups.groups.get_mut(&group) else {
            return;
        };
        let Some(tx) = t.tx.as_mut().filter(|x| x.granted) else {
            return;
        };
        if !t.floor.may_transmit() {
            return;
        }
        let (burst, seq, cap) = (tx.burst, index as u16, capture_ms(tx.due_at));
        let bytes = match self.seal_voice(group, burst, seq, cap, body) {
            Some(sealed) => sealed,
            None => GroupRepr::Voice {
                burst,
                seq,
                capture_ms: cap,
                body,
            }
            .emit(),
        };
        let Some(t) = self.groups.groups.get_mut(&group) else {
            return;
        };
        let Some(tx) = t.tx.as_mut() else {
            return;
        };
        tx.sent += 1;
        t.frames_sent += 1;
        self.flood_group(now, group, &bytes);
    }

    /// Send floor messages, act on floor events. True if anything moved.
    pub(super) fn pump_floors(&mut self, now: Instant) -> bool {
        let mut busy = false;
        let ids: Vec<NodeId> = self.groups.groups.keys().copied().collect();
        for g in ids {
            while let Some(t) = self.groups.groups.get_mut(&g) {
                if let Some(m) = t.floor.poll_msg() {
                    self.flood_group(now, g, &GroupRepr::Floor(m).emit());
                } else if let Some(e) = t.floor.poll_event() {
                    self.on_floor_event(now, g, e);
                } else {
                    break;
                }
                busy = true;
            }
        }
        busy
    }

    fn on_floor_event(&mut self, now: Instant, g: NodeId, e: FloorEvent) {
        let Some(t) = self.groups.groups.get_mut(&g) else {
            return;
        };
        let mut stopped = false;
        match &e {
            FloorEvent::Granted => {
                if let Some(tx) = &mut t.tx {
                    tx.granted = true;
                    tx.burst = t.floor.burst().unwrap_or(0);
                    tx.index = 0;
                    let ms = now.saturating_since(tx.pressed).as_millis() as u32;
                    if t.access_ms.len() < MAX_ACCESS_SAMPLES {
                        t.access_ms.push(ms);
                    }
                    t.last_outcome = Some(format!("granted after {ms} ms"));
                    t.reports.clear();
                    t.expected_loss = 0;
                }
            }
            FloorEvent::Denied { name, .. } => {
                stopped = t.tx.take().is_some();
                t.last_outcome = Some(format!("denied: {name} has the floor"));
            }
            FloorEvent::Revoked { name, .. } => {
                stopped = t.tx.take().is_some();
                t.last_outcome = Some(format!("pre-empted by {name}"));
            }
            FloorEvent::TimeLimit => {
                stopped = t.tx.take().is_some();
                t.last_outcome = Some("transmit time limit reached".into());
            }
            FloorEvent::Taken { .. } => {}
            // The buffer plays out what it holds (see the module doc).
            FloorEvent::Idle => t.rx_burst = None,
        }
        let talkgroup = t.name.clone();
        if matches!(e, FloorEvent::Granted) {
            self.ensure_tick(now);
            self.event(AppEvent::ExpectedLoss {
                stream: Stream::Group(g),
                pct: 0,
            });
        }
        if stopped {
            self.event(AppEvent::TxStopped {
                stream: Stream::Group(g),
            });
        }
        self.event(AppEvent::Floor {
            group: g,
            talkgroup,
            event: e,
        });
    }

    /// A voice-class flood: a floor message or voice of one of our groups.
    pub(super) fn on_group_packet(&mut self, now: Instant, src: NodeId, g: NodeId, payload: &[u8]) {
        if !self.groups.groups.contains_key(&g) {
            return;
        }
        let Some(payload) = self.open_group_packet(now, src, g, payload) else {
            return;
        };
        let Some(t) = self.groups.groups.get_mut(&g) else {
            return;
        };
        match GroupRepr::parse(&payload) {
            Ok(GroupRepr::Floor(m)) => t.floor.handle(now, src, m),
            Ok(GroupRepr::Voice {
                burst,
                seq,
                capture_ms,
                body,
            }) => {
                // The floor decides whose voice plays (one talker at a time).
                if !t.floor.handle_voice(now, src, burst) {
                    return;
                }
                if t.rx_burst != Some((src, burst)) {
                    // A new burst (or a late entry): play from this frame on.
                    t.rx.restart();
                    t.rx_burst = Some((src, burst));
                    t.bursts_heard += 1;
                    t.last_report = None;
                    self.event(AppEvent::PlayReset {
                        stream: Stream::Group(g),
                    });
                    self.ensure_tick(now);
                }
                let Some(t) = self.groups.groups.get_mut(&g) else {
                    return;
                };
                t.rx.push(now, u64::from(seq), capture_ms, body);
                self.maybe_report(now, g, src, burst);
            }
            // Reports are unicast; sealed forms were opened above.
            Ok(
                GroupRepr::Report { .. } | GroupRepr::SealedVoice { .. } | GroupRepr::Sealed { .. },
            ) => {}
            Err(e) => tracing::debug!(from = %src.short(), "bad talkgroup packet: {e}"),
        }
    }

    /// Tell the talker our loss on its burst, when it is worth planning for.
    fn maybe_report(&mut self, now: Instant, g: NodeId, talker: NodeId, burst: u32) {
        let Some(t) = self.groups.groups.get_mut(&g) else {
            return;
        };
        let Some(loss) = t.rx.loss_report().filter(|l| *l >= REPORT_MIN_PCT) else {
            return;
        };
        if t.last_report.is_some_and(|at| now < at + REPORT_EVERY) {
            return;
        }
        t.last_report = Some(now);
        let r = GroupRepr::Report {
            burst,
            loss_pct: loss,
        }
        .emit();
        let r = self.seal_control(now, g, r);
        if let Err(e) = self
            .node
            .send(now, talker, Class::Control, proto::GROUP, &r)
        {
            tracing::trace!("loss report not sent: {e}");
        }
    }

    /// A unicast from a member: a loss report on one of our bursts.
    /// A sealed one opens with the key of a talkgroup we talk on, and
    /// must name that talkgroup's burst; a plain one must name a burst of
    /// an open talkgroup.
    pub(super) fn on_group_unicast(&mut self, now: Instant, src: NodeId, payload: &[u8]) {
        let Some((keyed, plain)) = self.open_report(now, src, payload) else {
            return;
        };
        let Ok(GroupRepr::Report { burst, loss_pct }) = GroupRepr::parse(&plain) else {
            tracing::debug!(from = %src.short(), "bad talkgroup unicast");
            return;
        };
        let Some(g) = self
            .groups
            .groups
            .iter()
            .find(|(_, t)| t.talking_burst() == Some(burst))
            .map(|(g, _)| *g)
        else {
            return;
        };
        if keyed.is_some_and(|k| k != g) || (keyed.is_none() && self.groups.keys.contains_key(&g)) {
            self.stats.tg_refused_report += 1;
            return;
        }
        let Some(t) = self.groups.groups.get_mut(&g) else {
            return;
        };
        if t.reports.len() < MAX_REPORTS || t.reports.contains_key(&src) {
            t.reports.insert(src, (loss_pct, now));
        }
        self.plan_fec(now, g);
    }

    /// Plan our encoder's FEC for the worst recent report.
    fn plan_fec(&mut self, now: Instant, g: NodeId) {
        let Some(t) = self.groups.groups.get_mut(&g) else {
            return;
        };
        t.reports.retain(|_, (_, at)| now < *at + REPORT_HOLD);
        let want = t
            .reports
            .values()
            .map(|(l, _)| *l)
            .max()
            .unwrap_or(0)
            .min(MAX_EXPECTED_LOSS);
        if want != t.expected_loss {
            t.expected_loss = want;
            self.event(AppEvent::ExpectedLoss {
                stream: Stream::Group(g),
                pct: want,
            });
        }
    }

    /// One 20 ms tick: talkers are asked for frames, listeners play.
    pub(super) fn tick_groups(&mut self, tick: Instant) {
        let mut out = Vec::new();
        for (g, t) in self.groups.groups.iter_mut() {
            if let Some(tx) = t.tx.as_mut().filter(|x| x.granted)
                && t.floor.may_transmit()
            {
                tx.due_at = tick;
                out.push(AppEvent::FrameDue {
                    stream: Stream::Group(*g),
                    index: tx.index,
                });
                tx.index += 1;
            }
            if t.playing() {
                out.push(AppEvent::Play {
                    stream: Stream::Group(*g),
                    playout: t.rx.tick(tick),
                });
            }
        }
        let talking: Vec<NodeId> = self
            .groups
            .groups
            .iter()
            .filter(|(_, t)| !t.reports.is_empty())
            .map(|(g, _)| *g)
            .collect();
        for g in talking {
            self.plan_fec(tick, g);
        }
        for e in out {
            self.event(e);
        }
    }

    pub(super) fn groups_timeout(&mut self, now: Instant) {
        for t in self.groups.groups.values_mut() {
            if t.floor.poll_timeout().is_some_and(|w| w <= now) {
                t.floor.handle_timeout(now);
            }
        }
    }
}

#[cfg(test)]
#[path = "tg_replay_tests.rs"]
mod replay_tests;
