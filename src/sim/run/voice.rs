//! The voice phase of the standard run (`--ptt`, `--calls`), after the idle
//! window and before the kills: every device joins one of the talkgroups
//! (members spread over the mesh), talkers press at a realistic duty cycle
//! (bursts of a few seconds, pauses between them, a random member each
//! time), and some far pairs hold 1:1 calls. The application layer runs
//! exactly as in the daemon; frames are payloads of a real frame's size
//! ([`crate::sim::voice`]). `docs/SIM.md` defines the figures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Hook, Sim, secs};
use crate::app::{AppEvent, Stream};
use crate::floor::{FloorEvent, Priority};
use crate::identity::NodeId;
use crate::session::CallId;
use crate::sim::metrics::{VoiceReport, percentile, round3};
use crate::sim::world::Air;
use crate::time::Instant;

/// Members join this long before the first press (their directory
/// records and floors settle).
const JOIN_LEAD: Duration = Duration::from_secs(2);
/// After the last burst, frames get this long to be played.
const DRAIN: Duration = Duration::from_millis(1500);

/// The phase's hooks, carried by [`Hook::Voice`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VoiceHook {
    Start,
    Press(usize),
    Release(usize),
    Calls,
    End,
    Done,
}

/// Knobs of the voice phase.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceOptions {
    pub ptt: bool,
    pub talkgroups: usize,
    /// Seconds of talking (after the members joined).
    pub window_s: f64,
    /// Burst and pause lengths, uniform in these ranges (seconds).
    pub burst_s: (f64, f64),
    pub pause_s: (f64, f64),
    pub calls: usize,
    /// Bytes of one simulated Opus frame.
    pub frame_bytes: usize,
}

impl Default for VoiceOptions {
    fn default() -> Self {
        VoiceOptions {
            ptt: true,
            talkgroups: 2,
            window_s: 30.0,
            burst_s: (2.0, 6.0),
            pause_s: (1.0, 4.0),
            calls: 0,
            frame_bytes: crate::sim::voice::DEFAULT_FRAME_BYTES,
        }
    }
}

struct Talkgroup {
    name: String,
    group: NodeId,
    members: Vec<usize>,
    /// The member pressing now, and since when.
    talker: Option<(usize, Instant)>,
}

pub struct VoicePhase {
    pub opts: VoiceOptions,
    groups: Vec<Talkgroup>,
    /// Far pairs (caller, callee) and the caller's call once dialled.
    pairs: Vec<(usize, usize)>,
    call_ids: BTreeMap<(usize, CallId), usize>,
    start: Option<(Instant, Air, usize, usize)>,
    stop: Instant,
    access_ms: Vec<f64>,
    bursts: u64,
    denied: u64,
    call_failures: u64,
    answered: BTreeSet<usize>,
    /// When each pair's call came up at its caller.
    up: BTreeMap<usize, Instant>,
    pub report: Option<VoiceReport>,
}

/// Call frames count from this long after the call came up (the first
/// frames of the callee may overtake the answer they follow) to this long
/// before the hang-up (what is still in the far jitter buffer then is cut
/// off with the call, as it is on any phone).
const CALL_EDGE_AFTER: Duration = Duration::from_millis(100);
const CALL_EDGE_BEFORE: Duration = Duration::from_millis(200);

impl VoicePhase {
    pub fn new(opts: VoiceOptions) -> VoicePhase {
        VoicePhase {
            opts,
            groups: Vec::new(),
            pairs: Vec::new(),
            call_ids: BTreeMap::new(),
            start: None,
            stop: Instant::MAX,
            access_ms: Vec::new(),
            bursts: 0,
            denied: 0,
            call_failures: 0,
            answered: BTreeSet::new(),
            up: BTreeMap::new(),
            report: None,
        }
    }
}

impl Sim {
    pub(super) fn on_voice_hook(&mut self, now: Instant, h: VoiceHook) {
        match h {
            VoiceHook::Start => self.voice_start(now),
            VoiceHook::Press(k) => self.voice_press(now, k),
            VoiceHook::Release(k) => self.voice_release(now, k),
            VoiceHook::Calls => self.voice_dial(now),
            VoiceHook::End => self.voice_end(now),
            VoiceHook::Done => {
                self.voice_report(now);
                self.start_rest(now);
            }
        }
    }

    fn voice_start(&mut self, now: Instant) {
        let Some(v) = self.voice.as_mut() else {
            return;
        };
        let n = self.world.len();
        self.world.voice.frame_bytes = v.opts.frame_bytes;
        let k = if v.opts.ptt {
            v.opts.talkgroups.max(1)
        } else {
            0
        };
        for g in 0..k {
            let name = format!("talkgroup-{}", g + 1);
            let group = crate::app::group_wire::group_of(&name);
            // Node indices are spread over the plane: every k-th one.
            let members: Vec<usize> = (0..n).filter(|i| i % k == g).collect();
            v.groups.push(Talkgroup {
                name,
                group,
                members,
                talker: None,
            });
        }
        let joins: Vec<(usize, String)> = v
            .groups
            .iter()
            .flat_map(|t| t.members.iter().map(|&m| (m, t.name.clone())))
            .collect();
        for (m, name) in joins {
            let _ = self.world.on_app(m, |a, now| a.join(now, &name));
        }
        let go = now + JOIN_LEAD;
        for g in 0..k {
            // Talkgroups start a little apart, as crews do.
            let at = go + Duration::from_millis(300 * g as u64);
            self.world.schedule(at, Hook::Voice(VoiceHook::Press(g)));
        }
        let calls = self.voice.as_ref().map_or(0, |v| v.opts.calls);
        if calls > 0 {
            self.world.schedule(go, Hook::Voice(VoiceHook::Calls));
        }
        let window = self.voice.as_ref().map_or(0.0, |v| v.opts.window_s);
        let stop = go + secs(window);
        let frames = self.world.voice.sent.len();
        let played = self.world.voice.played.len();
        if let Some(v) = self.voice.as_mut() {
            v.stop = stop;
            v.start = Some((go, self.world.air.clone(), frames, played));
        }
        self.world.schedule(stop, Hook::Voice(VoiceHook::End));
    }

    fn voice_press(&mut self, now: Instant, k: usize) {
        let alive = self.alive();
        let Some(v) = self.voice.as_mut() else {
            return;
        };
        if now >= v.stop {
            return;
        }
        let Some(t) = v.groups.get(k) else {
            return;
        };
        let live: Vec<usize> = t.members.iter().copied().filter(|&m| alive[m]).collect();
        if live.is_empty() {
            return;
        }
        let who = live[self.rng.below(live.len() as u64) as usize];
        let (lo, hi) = v.opts.burst_s;
        let len = secs(lo + (hi - lo) * self.rng.f64());
        let name = t.name.clone();
        v.groups[k].talker = Some((who, now));
        let _ = self
            .world
            .on_app(who, |a, now| a.press(now, &name, Priority::Normal));
        self.world
            .schedule(now + len, Hook::Voice(VoiceHook::Release(k)));
    }

    fn voice_release(&mut self, now: Instant, k: usize) {
        let Some(v) = self.voice.as_mut() else {
            return;
        };
        let Some((who, _)) = v.groups.get_mut(k).and_then(|t| t.talker.take()) else {
            return;
        };
        let name = v.groups[k].name.clone();
        let (lo, hi) = v.opts.pause_s;
        let pause = secs(lo + (hi - lo) * self.rng.f64());
        let stop = v.stop;
        let _ = self
            .world
            .on_app(who, |a, now| a.release(now, &name, Some("done")));
        if now + pause < stop {
            self.world
                .schedule(now + pause, Hook::Voice(VoiceHook::Press(k)));
        }
    }

    /// Far pairs place calls by name; their callees answer when it rings.
    fn voice_dial(&mut self, _now: Instant) {
        let want = self.voice.as_ref().map_or(0, |v| v.opts.calls);
        let alive = self.alive();
        let n = self.world.len();
        let mut cands = Vec::new();
        for s in 0..n {
            let d = self.graph.bfs(s, &alive);
            for (t, &h) in d.iter().enumerate() {
                if s < t && h != u32::MAX && h >= self.opts.min_flow_hops {
                    cands.push((s, t));
                }
            }
        }
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        while pairs.len() < want && !cands.is_empty() {
            let p = cands.swap_remove(self.rng.below(cands.len() as u64) as usize);
            if pairs
                .iter()
                .all(|&(a, b)| a != p.0 && a != p.1 && b != p.0 && b != p.1)
            {
                pairs.push(p);
            }
        }
        for (c, &(s, d)) in pairs.iter().enumerate() {
            let callee = self.world.spec.nodes[d].name.clone();
            if let Some(Ok(id)) = self.world.on_app(s, |a, now| a.dial(now, &callee))
                && let Some(v) = self.voice.as_mut()
            {
                v.call_ids.insert((s, id), c);
            }
        }
        if let Some(v) = self.voice.as_mut() {
            v.pairs = pairs;
        }
    }

    /// Application events of the phase: floor outcomes, calls to answer.
    pub(super) fn on_voice_event(&mut self, at: Instant, node: usize, e: AppEvent) {
        let Some(v) = self.voice.as_mut() else {
            return;
        };
        match e {
            AppEvent::Floor {
                event: FloorEvent::Granted,
                group,
                ..
            } => {
                if let Some((_, pressed)) = v
                    .groups
                    .iter()
                    .filter(|t| t.group == group)
                    .find_map(|t| t.talker.filter(|(w, _)| *w == node))
                {
                    v.access_ms.push(round3(super::ms_between(pressed, at)));
                    v.bursts += 1;
                }
            }
            AppEvent::Floor {
                event: FloorEvent::Denied { .. },
                ..
            } => v.denied += 1,
            AppEvent::CallIncoming { call, .. }
                if v.pairs.iter().any(|&(_, d)| d == node) && v.answered.insert(node) =>
            {
                let _ = self.world.on_app(node, |a, now| a.answer(now, Some(call)));
            }
            AppEvent::CallAnswered { call, .. } => {
                if let Some(&c) = v.call_ids.get(&(node, call)) {
                    v.up.entry(c).or_insert(at);
                }
            }
            AppEvent::CallEnded { failed: true, .. } => v.call_failures += 1,
            _ => {}
        }
    }

    fn voice_end(&mut self, now: Instant) {
        let Some(v) = self.voice.as_mut() else {
            return;
        };
        let talking: Vec<(usize, String)> = v
            .groups
            .iter_mut()
            .filter_map(|t| t.talker.take().map(|(w, _)| (w, t.name.clone())))
            .collect();
        let calls: Vec<(usize, CallId)> = v.call_ids.keys().copied().collect();
        for (w, name) in talking {
            let _ = self
                .world
                .on_app(w, |a, now| a.release(now, &name, Some("done")));
        }
        for (s, id) in calls {
            let _ = self.world.on_app(s, |a, now| a.hangup(now, Some(id)));
        }
        self.world
            .schedule(now + DRAIN, Hook::Voice(VoiceHook::Done));
    }

    fn voice_report(&mut self, now: Instant) {
        let Some(v) = self.voice.as_mut() else {
            return;
        };
        let Some((t0, air0, f0, p0)) = v.start.clone() else {
            return;
        };
        let alive = self.world.alive();
        let log = &self.world.voice;
        let n = self.world.nodes.len();
        // Who should hear each frame: the other members of its group (or
        // the other end of its call), alive at the end.
        let mut member_of: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
        for t in &v.groups {
            member_of.insert(t.group, t.members.clone());
        }
        // Each call end's peer, and when its frames count.
        let peer_of: BTreeMap<usize, (usize, Instant, Instant)> = v
            .pairs
            .iter()
            .enumerate()
            .filter_map(|(c, &(a, b))| {
                let up = *v.up.get(&c)? + CALL_EDGE_AFTER;
                let down = v.stop - CALL_EDGE_BEFORE;
                Some([(a, (b, up, down)), (b, (a, up, down))])
            })
            .flatten()
            .collect();
        let mut heard: BTreeSet<(u32, u32)> = BTreeSet::new();
        let (mut ptt_m2e, mut call_m2e) = (Vec::new(), Vec::new());
        for p in &log.played[p0..] {
            if (p.frame as usize) < f0 || !heard.insert((p.frame, p.node)) {
                continue;
            }
            let ms = f64::from(p.m2e_us) / 1000.0;
            match log.sent[p.frame as usize].stream {
                Stream::Group(_) => ptt_m2e.push(ms),
                Stream::Call(_) => call_m2e.push(ms),
            }
        }
        let mut per_member: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        let (mut ptt_frames, mut call_frames, mut call_exp, mut call_got) = (0u64, 0u64, 0, 0);
        for (f, s) in log.sent.iter().enumerate().skip(f0) {
            let src = s.node as usize;
            match s.stream {
                Stream::Group(g) => {
                    ptt_frames += 1;
                    for &m in member_of.get(&g).map_or(&[][..], |v| v.as_slice()) {
                        if m == src || !alive[m] {
                            continue;
                        }
                        let e = per_member.entry(m).or_default();
                        e.0 += 1;
                        e.1 += u64::from(heard.contains(&(f as u32, m as u32)));
                    }
                }
                Stream::Call(_) => {
                    call_frames += 1;
                    if let Some(&(d, up, down)) = peer_of.get(&src)
                        && alive[d]
                        && (up..down).contains(&s.at)
                    {
                        call_exp += 1;
                        call_got += u64::from(heard.contains(&(f as u32, d as u32)));
                    }
                }
            }
        }
        let (exp, got) = per_member
            .values()
            .fold((0, 0), |(e, g), (a, b)| (e + a, g + b));
        let ratio = |g: u64, e: u64| (e > 0).then(|| round3(g as f64 / e as f64 * 1000.0) / 1000.0);
        let min = per_member
            .values()
            .filter(|(e, _)| *e > 0)
            .map(|(e, g)| *g as f64 / *e as f64)
            .reduce(f64::min)
            .map(|x| round3(x * 1000.0) / 1000.0);
        // Every flood (voice and floor), repair and NACK on air in the window.
        let tx = (self.world.air.packets[5] - air0.packets[5])
            + (self.world.air.packets[7] - air0.packets[7]);
        let secs_talked = now.saturating_since(t0).as_secs_f64();
        let (mut late, mut concealed) = (0, 0);
        for i in 0..n {
            for t in self
                .world
                .app(i)
                .map(|a| a.talkgroups())
                .unwrap_or_default()
            {
                late += t.rx.late_dropped;
                concealed += t.rx.concealed;
            }
        }
        v.report = Some(VoiceReport {
            voice_window_s: round3(secs_talked),
            ptt_talkgroups: v.groups.len(),
            ptt_bursts: v.bursts,
            ptt_denied: v.denied,
            ptt_frames_sent: ptt_frames,
            ptt_frame_delivery_ratio: ratio(got, exp),
            ptt_frame_delivery_min: min,
            ptt_m2e_ms_p50: percentile(&ptt_m2e, 50.0),
            ptt_m2e_ms_p95: percentile(&ptt_m2e, 95.0),
            ptt_access_ms_p50: percentile(&v.access_ms, 50.0),
            ptt_access_ms_p95: percentile(&v.access_ms, 95.0),
            ptt_tx_per_frame_per_node: (ptt_frames > 0)
                .then(|| round3(tx as f64 / ptt_frames as f64 / n.max(1) as f64)),
            ptt_late_dropped: late,
            ptt_concealed: concealed,
            calls: v.pairs.len(),
            call_failures: v.call_failures,
            call_frames_sent: call_frames,
            call_frame_delivery_ratio: ratio(call_got, call_exp),
            call_m2e_ms_p50: percentile(&call_m2e, 50.0),
            call_m2e_ms_p95: percentile(&call_m2e, 95.0),
        });
    }
}
