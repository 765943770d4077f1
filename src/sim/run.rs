//! The standard run: cold start, idle, probe flows with relay kills, idle
//! relay kills, floods. `docs/SIM.md` says how each figure is measured.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

mod names;
mod names_debug;
mod repair_debug;
pub mod stalls;
pub mod voice;

use names::{NamesHook, NamesPhase};
use stalls::{StallHook, StallPhase};
use voice::{VoiceHook, VoicePhase};

use super::checks::{NextHops, check_all, pairs_through, valid_path};
use super::graph::Graph;
use super::metrics::{AirPackets, ControlBreakdown, Kill, Report, percentile, round3};
use super::scenario::WorldSpec;
use super::world::{Air, World};
use super::{RunOptions, SimError};
use crate::identity::NodeId;
use crate::node::{Event, Timers};
use crate::rng::Rng;
use crate::time::Instant;

/// What the run schedules for itself on the world's event heap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hook {
    Check,
    Repair,
    Move,
    Flow(usize),
    IdleStart,
    IdleEnd,
    FlowKill,
    IdleKill,
    ScenarioKill(usize),
    Flood(usize),
    Names(NamesHook),
    Voice(VoiceHook),
    Stall(StallHook),
    End,
}

const FLOW_PAYLOAD: usize = 32;
const MOVE_TICK: Duration = Duration::from_millis(200);
const WARMUP: Duration = Duration::from_secs(2);
const FLOOD_GAP: Duration = Duration::from_millis(200);
/// Floods and probe packets get this long to arrive before the run ends.
const DRAIN: Duration = Duration::from_millis(3500);
/// The group id of the probe floods.
const FLOOD_GROUP: NodeId = NodeId([0xff; 16]);

struct Flow {
    src: usize,
    dst: usize,
    sent: Vec<Instant>,
    delivered: Vec<bool>,
}

struct Pending {
    kill: usize,
    at: Instant,
    flow: Option<usize>,
    pairs: Vec<(usize, usize)>,
}

struct Walker {
    target: (f64, f64),
    speed: f64,
    pause_until: Instant,
}

/// One simulation: a world and the bookkeeping of the standard run.
pub struct Sim {
    pub world: World<Hook>,
    opts: RunOptions,
    timers_name: String,
    rng: Rng,
    graph: Graph,
    diameter: u32,
    avg_degree: f64,
    check_every: Duration,
    repair_every: Duration,
    converged_at: Option<Instant>,
    idle: Option<(Instant, Air, f64)>,
    /// Convergence (or its timeout) has been seen and the idle window planned.
    idle_scheduled: bool,
    /// Idle window: (bits/s/node, breakdown, seconds, packets/s/node).
    idle_result: Option<(f64, ControlBreakdown, f64, f64)>,
    flows: Vec<Flow>,
    flows_stop: Instant,
    kills: Vec<Kill>,
    pending: Vec<Pending>,
    flow_repairs: Vec<f64>,
    idle_repairs: Vec<f64>,
    flow_unrepaired: usize,
    idle_unrepaired: usize,
    killed_at: BTreeMap<usize, Instant>,
    loop_observations: u64,
    loop_checks: u64,
    invalid_pairs: u64,
    /// Every node's next hops, refreshed before each use.
    next_hops: NextHops,
    floods: Vec<((NodeId, u32), usize, usize)>,
    flood_rx: BTreeSet<(usize, usize)>,
    flood_index: BTreeMap<(NodeId, u32), usize>,
    walkers: BTreeMap<usize, Walker>,
    names: NamesPhase,
    /// Talkgroups and calls (`--ptt`, `--calls`).
    voice: Option<VoicePhase>,
    /// Stalls on the quiet mesh (`--stalls`).
    stalls: Option<StallPhase>,
    end: Instant,
    limit: Instant,
    /// The run has reached its end (`run_until` does nothing more).
    done: bool,
    wall_start: std::time::Instant,
    next_progress: f64,
}

#[allow(clippy::disallowed_methods)] // wall time of the host, reported as wall_ms
fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// The timer overrides of the callsign preset (`--hello-idle`,
/// `--update-interval`).
fn overrides(opts: &RunOptions, t: &mut Timers) {
    if let Some(h) = opts.hello_idle_ms {
        t.hello_idle = Duration::from_millis(h);
    }
    if let Some(u) = opts.update_interval_s {
        t.update_interval = Duration::from_secs(u);
    }
    if let Some(g) = opts.stall_grace_ms {
        t.stall_grace = Duration::from_millis(g);
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn ms_between(a: Instant, b: Instant) -> f64 {
    b.saturating_since(a).as_secs_f64() * 1000.0
}

impl Sim {
    pub fn new(spec: WorldSpec, mut opts: RunOptions) -> Result<Self, SimError> {
        opts.idle_s = opts.idle_s.or(spec.run.idle_s);
        opts.duration_s = opts.duration_s.or(spec.run.duration_s);
        let mut preset = match opts.timers.as_str() {
            "callsign" => Timers::callsign(),
            "babel-default" => Timers::babel_default(),
            other => {
                return Err(SimError::Input(format!(
                    "unknown timers {other:?} (expected callsign or babel-default)"
                )));
            }
        };
        if opts.timers == "callsign" {
            overrides(&opts, &mut preset);
        }
        if !(0.0..1.0).contains(&opts.loss) {
            return Err(SimError::Input(format!(
                "--loss must be in [0, 1), got {}",
                opts.loss
            )));
        }
        let n = spec.nodes.len();
        if n < 2 {
            return Err(SimError::Input(format!(
                "a world needs at least 2 nodes, has {n}"
            )));
        }
        let graph = spec.graph();
        let all = vec![true; n];
        let diameter = graph.diameter(&all);
        let avg_degree = graph.avg_degree(&all);
        let mut rng = Rng::new(opts.seed ^ 0x5157_4c41_5445_0001);
        let mut world = World::new(spec, &preset, opts.loss, opts.seed)?;
        world.boot_claims = opts.names;
        if let Some(p) = opts.flood_protection {
            world.configure(|c| c.timers.flood_protection = p);
        }
        if opts.timers == "callsign" {
            world.configure(|c| overrides(&opts, &mut c.timers));
        }
        let check_ms = opts
            .check_ms
            .unwrap_or(if n <= 200 { 50.0 } else { 1000.0 });
        let repair_ms = if n <= 200 { 10.0 } else { 50.0 };
        for i in 0..n {
            let at = Instant::ZERO + secs(opts.boot_jitter_s * rng.f64());
            world.schedule_boot(i, at);
        }
        let check_every = secs(check_ms / 1000.0).max(Duration::from_millis(1));
        world.schedule(Instant::ZERO + check_every, Hook::Check);
        let mut walkers = BTreeMap::new();
        for (i, ns) in world.spec.nodes.iter().enumerate() {
            if let Some(m) = &ns.mobility {
                let speed = m.speed_mps[0] + (m.speed_mps[1] - m.speed_mps[0]) * rng.f64();
                walkers.insert(
                    i,
                    Walker {
                        target: ns.pos,
                        speed,
                        pause_until: Instant::ZERO,
                    },
                );
            }
        }
        if !walkers.is_empty() {
            world.schedule(Instant::ZERO + MOVE_TICK, Hook::Move);
        }
        let failures = world.spec.failures.clone();
        for (at, node) in failures {
            world.schedule(Instant::ZERO + secs(at), Hook::ScenarioKill(node));
        }
        let limit = opts
            .duration_s
            .map_or(Instant::MAX, |d| Instant::ZERO + secs(d));
        let opts_names = opts.names;
        let opts_voice = opts.voice.clone();
        let stalls =
            Some(StallPhase::new(&opts.stalls_ms, opts.stall_count)).filter(|p| !p.is_empty());
        Ok(Sim {
            world,
            timers_name: opts.timers.clone(),
            opts,
            rng,
            graph,
            diameter,
            avg_degree,
            check_every,
            repair_every: secs(repair_ms / 1000.0),
            converged_at: None,
            idle: None,
            idle_scheduled: false,
            idle_result: None,
            flows: Vec::new(),
            flows_stop: Instant::MAX,
            kills: Vec::new(),
            pending: Vec::new(),
            flow_repairs: Vec::new(),
            idle_repairs: Vec::new(),
            flow_unrepaired: 0,
            idle_unrepaired: 0,
            killed_at: BTreeMap::new(),
            loop_observations: 0,
            loop_checks: 0,
            invalid_pairs: 0,
            next_hops: NextHops::default(),
            floods: Vec::new(),
            flood_rx: BTreeSet::new(),
            flood_index: BTreeMap::new(),
            walkers,
            names: NamesPhase::new(opts_names),
            voice: opts_voice.map(VoicePhase::new),
            stalls,
            end: Instant::MAX,
            limit,
            done: false,
            wall_start: wall_now(),
            next_progress: 0.1,
        })
    }

    fn timers(&self) -> Timers {
        let mut t = match self.timers_name.as_str() {
            "babel-default" => Timers::babel_default(),
            _ => Timers::callsign(),
        };
        if self.timers_name == "callsign" {
            overrides(&self.opts, &mut t);
        }
        t
    }

    /// Seconds between kills: long enough for the slower preset to repair.
    fn kill_interval(&self) -> Duration {
        self.opts
            .kill_interval_s
            .map(secs)
            .unwrap_or_else(|| (self.timers().hello_idle * 6).max(Duration::from_secs(4)))
    }

    fn idle_len(&self) -> Duration {
        self.opts
            .idle_s
            .map(secs)
            .unwrap_or_else(|| self.timers().update_interval.max(Duration::from_secs(20)))
    }

    /// Run to the end and report.
    pub fn run(&mut self) -> Report {
        self.run_until(Instant::MAX);
        self.drain_outbox();
        self.report()
    }

    /// Run up to simulated time `t`, or to the end of the run if that comes
    /// first (then `true`), so the state at `t` can be read (pictures).
    /// Stopping on the way changes nothing in the run.
    pub fn run_until(&mut self, t: Instant) -> bool {
        while !self.done {
            let stop = self.limit.min(self.end);
            let Some((now, hook)) = self.world.next_hook(stop.min(t)) else {
                self.done = t >= stop;
                break;
            };
            self.drain_outbox();
            match hook {
                Hook::Check => self.on_check(now),
                Hook::Repair => self.on_repair(now),
                Hook::Move => self.on_move(now),
                Hook::Flow(f) => self.on_flow(now, f),
                Hook::IdleStart => self.on_idle_start(now),
                Hook::IdleEnd => self.on_idle_end(now),
                Hook::FlowKill => self.kill_for_flow(now),
                Hook::IdleKill => self.kill_idle(now),
                Hook::ScenarioKill(i) => self.kill_scenario(now, i),
                Hook::Flood(m) => self.on_flood(now, m),
                Hook::Names(h) => self.on_names_hook(now, h),
                Hook::Voice(h) => self.on_voice_hook(now, h),
                Hook::Stall(h) => self.on_stall_hook(now, h),
                Hook::End => self.done = true,
            }
        }
        self.done
    }

    fn alive(&self) -> Vec<bool> {
        self.world.alive()
    }

    fn on_check(&mut self, now: Instant) {
        self.debug_repairs(now);
        let alive = self.alive();
        let booted = self.world.nodes.iter().all(|n| n.app.is_some() || !n.alive);
        self.next_hops.refresh(&self.world);
        let r = check_all(&self.next_hops, &self.graph, &alive);
        self.loop_checks += 1;
        self.loop_observations += r.loops;
        self.invalid_pairs = r.invalid_pairs;
        if let Some(p) = self.stalls.as_mut().filter(|p| p.active) {
            p.pairs_lost_max = p.pairs_lost_max.max(r.invalid_pairs);
        }
        if self.converged_at.is_none()
            && std::env::var("CALLSIGN_SIM_DEBUG").is_ok()
            && now.as_micros() % 500_000 < 50_000
        {
            eprintln!("{now:?}: {} pairs without a valid route", r.invalid_pairs);
            if r.invalid_pairs <= 4 && now.as_micros() == 3_000_000 {
                self.debug_missing();
            }
        }
        if !self.idle_scheduled && booted {
            let timeout = Instant::ZERO + secs(self.opts.converge_timeout_s);
            if r.all_valid || now >= timeout {
                if r.all_valid {
                    self.converged_at = Some(now);
                }
                // The idle window opens once the cold start has settled:
                // table exchanges still under way at the convergence instant
                // are start-up traffic, not the cost of an idle mesh.
                self.idle_scheduled = true;
                self.world
                    .schedule(now + secs(self.opts.settle_s), Hook::IdleStart);
            }
        }
        self.progress(now);
        self.world.schedule(now + self.check_every, Hook::Check);
    }

    fn progress(&mut self, now: Instant) {
        if self.opts.quiet {
            return;
        }
        let wall = self.wall_start.elapsed();
        let end = if self.end != Instant::MAX {
            self.end.min(self.limit)
        } else {
            self.limit
        };
        if end == Instant::MAX || wall < Duration::from_secs(2) {
            return;
        }
        let frac = now.as_micros() as f64 / end.as_micros().max(1) as f64;
        if frac >= self.next_progress {
            eprintln!(
                "sim [{}]: {:>3.0} % ({:.1} s simulated, {} events, {:.1} s wall)",
                self.timers_name,
                frac * 100.0,
                now.as_millis_f64() / 1000.0,
                self.world.events,
                wall.as_secs_f64()
            );
            while self.next_progress <= frac {
                self.next_progress += 0.1;
            }
        }
    }

    fn on_idle_start(&mut self, now: Instant) {
        let idle = self.idle_len();
        self.idle = Some((now, self.world.air.clone(), idle.as_secs_f64()));
        self.world.schedule(now + idle, Hook::IdleEnd);
    }

    fn on_idle_end(&mut self, now: Instant) {
        if let Some((start, air, _)) = &self.idle {
            let live = self.world.nodes.iter().filter(|n| n.alive).count().max(1) as f64;
            let s = now.saturating_since(*start).as_secs_f64().max(1e-9);
            let per = |b: u64| round3(b as f64 * 8.0 / live / s);
            let d = |k: usize| self.world.air.bytes[k] - air.bytes[k];
            let breakdown = ControlBreakdown {
                hello: per(d(0)),
                update: per(d(1)),
                request: per(d(2)),
                ack: per(d(3)),
                names: per(d(6)),
                names_refresh: 0.0,
            };
            let total = per(self.world.air.control_bytes() - air.control_bytes());
            let packets = round3(
                (self.world.air.control_packets() - air.control_packets()) as f64 / live / s,
            );
            self.idle_result = Some((total, breakdown, s, packets));
        }
        if self.stalls.is_some() {
            // Stalls first, on the quiet mesh; then the rest.
            self.world.schedule(now, Hook::Stall(StallHook::Next));
        } else {
            self.after_idle(now);
        }
    }

    /// After the idle window (and the stalls): voice, or the rest.
    fn after_idle(&mut self, now: Instant) {
        if self.voice.is_some() {
            // Talkgroups and calls first, on the whole mesh; then the rest.
            self.world.schedule(now, Hook::Voice(VoiceHook::Start));
        } else {
            self.start_rest(now);
        }
    }

    /// Probe flows and their relay kills, idle kills, floods and the
    /// directory phase, back to back.
    fn start_rest(&mut self, now: Instant) {
        self.start_flows(now);
        // The rest of the run, back to back.
        let ki = self.kill_interval();
        let mut t = now + WARMUP;
        let kills = self.opts.kills.or(self.world.spec.run.kills).unwrap_or(5);
        let idle_kills = self
            .opts
            .idle_kills
            .or(self.world.spec.run.idle_kills)
            .unwrap_or(5);
        for _ in 0..kills {
            self.world.schedule(t, Hook::FlowKill);
            t = t + ki;
        }
        for _ in 0..idle_kills {
            self.world.schedule(t, Hook::IdleKill);
            t = t + ki;
        }
        if let Some(last) = self
            .world
            .spec
            .failures
            .iter()
            .map(|f| f.0)
            .reduce(f64::max)
        {
            t = t.max(Instant::ZERO + secs(last) + ki);
        }
        self.flows_stop = t;
        let floods = self
            .opts
            .floods
            .or(self.world.spec.run.floods)
            .unwrap_or(10);
        for m in 0..floods {
            self.world
                .schedule(t + FLOOD_GAP * m as u32, Hook::Flood(m));
        }
        self.end = self.schedule_names(t + FLOOD_GAP * floods as u32 + DRAIN);
        self.world.schedule(self.end, Hook::End);
    }

    fn start_flows(&mut self, now: Instant) {
        let n = self.world.len();
        let alive = self.alive();
        let mut pairs = self.opts.flows_explicit.clone();
        if pairs.is_empty() {
            pairs = self.world.spec.flows.clone();
        }
        if pairs.is_empty() {
            let k = self.opts.flows.or(self.world.spec.run.flows).unwrap_or(4);
            let dists: Vec<Vec<u32>> = (0..n).map(|s| self.graph.bfs(s, &alive)).collect();
            let far = |min: u32| {
                let mut v = Vec::new();
                for (s, row) in dists.iter().enumerate() {
                    for (d, &h) in row.iter().enumerate() {
                        if s != d && h != u32::MAX && h >= min {
                            v.push((s, d));
                        }
                    }
                }
                v
            };
            let mut cands = far(self.opts.min_flow_hops);
            if cands.is_empty() {
                cands = far(1);
            }
            while pairs.len() < k && !cands.is_empty() {
                let p = cands.swap_remove(self.rng.below(cands.len() as u64) as usize);
                // Distinct endpoints keep one kill from cutting two flows at their source.
                if pairs.iter().all(|&(a, b)| a != p.0 && b != p.1) {
                    pairs.push(p);
                }
            }
        }
        let interval = secs(self.opts.flow_interval_ms / 1000.0).max(Duration::from_millis(1));
        let k = pairs.len().max(1) as u32;
        for (f, (src, dst)) in pairs.into_iter().enumerate() {
            self.flows.push(Flow {
                src,
                dst,
                sent: Vec::new(),
                delivered: Vec::new(),
            });
            self.world
                .schedule(now + interval * f as u32 / k, Hook::Flow(f));
        }
    }

    fn on_flow(&mut self, now: Instant, f: usize) {
        if now >= self.flows_stop {
            return;
        }
        let (src, dst) = (self.flows[f].src, self.flows[f].dst);
        if !self.world.nodes[src].alive {
            return;
        }
        let seq = self.flows[f].sent.len() as u32;
        let mut payload = vec![0u8; FLOW_PAYLOAD];
        payload[..4].copy_from_slice(&(f as u32).to_be_bytes());
        payload[4..8].copy_from_slice(&seq.to_be_bytes());
        self.flows[f].sent.push(now);
        self.flows[f].delivered.push(false);
        // A refused send counts as sent and lost.
        let _ = self.world.send(src, dst, &payload);
        let interval = secs(self.opts.flow_interval_ms / 1000.0).max(Duration::from_millis(1));
        self.world.schedule(now + interval, Hook::Flow(f));
    }

    fn drain_outbox(&mut self) {
        for (at, node, e) in std::mem::take(&mut self.world.app_outbox) {
            self.on_voice_event(at, node, e);
        }
        let out = std::mem::take(&mut self.world.outbox);
        for (at, node, e) in out {
            match e {
                Event::Delivered {
                    proto: 0, payload, ..
                } if payload.len() >= 8 => {
                    let f = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        as usize;
                    let seq = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]])
                        as usize;
                    let Some(flow) = self.flows.get_mut(f) else {
                        continue;
                    };
                    if flow.dst != node || seq >= flow.sent.len() || flow.delivered[seq] {
                        continue;
                    }
                    flow.delivered[seq] = true;
                    let sent = flow.sent[seq];
                    let mut done = Vec::new();
                    for (k, p) in self.pending.iter().enumerate() {
                        if p.flow == Some(f) && sent > p.at {
                            done.push(k);
                        }
                    }
                    for k in done.into_iter().rev() {
                        let p = self.pending.remove(k);
                        let ms = round3(ms_between(p.at, at));
                        self.kills[p.kill].repair_ms = Some(ms);
                        self.flow_repairs.push(ms);
                    }
                }
                Event::FloodDelivered { src, seq, .. } => {
                    if let Some(&m) = self.flood_index.get(&(src, seq)) {
                        self.flood_rx.insert((m, node));
                    }
                }
                Event::Directory(crate::names::Event::Changed { name, holder }) => {
                    self.on_name_changed(at, node, &name, holder);
                }
                Event::Directory(crate::names::Event::ExclusiveConflict { .. }) => {
                    self.names.conflicts_seen += 1;
                }
                _ => {}
            }
        }
    }

    /// Close measurements still open: they count at the window's length.
    fn close_pending(&mut self, now: Instant) {
        for p in std::mem::take(&mut self.pending) {
            let ms = round3(ms_between(p.at, now));
            if p.flow.is_some() {
                self.flow_repairs.push(ms);
                self.flow_unrepaired += 1;
            } else {
                self.idle_repairs.push(ms);
                self.idle_unrepaired += 1;
            }
        }
    }

    fn flow_paths(&self, alive: &[bool]) -> Vec<Option<Vec<usize>>> {
        self.flows
            .iter()
            .map(|f| valid_path(&self.world, &self.graph, alive, f.src, f.dst))
            .collect()
    }

    fn endpoints(&self) -> BTreeSet<usize> {
        self.flows.iter().flat_map(|f| [f.src, f.dst]).collect()
    }

    fn keeps_connected(&self, alive: &[bool], v: usize) -> bool {
        let mut a = alive.to_vec();
        a[v] = false;
        self.graph.connected(&a)
    }

    fn kill_for_flow(&mut self, now: Instant) {
        self.close_pending(now);
        let alive = self.alive();
        let paths = self.flow_paths(&alive);
        let ends = self.endpoints();
        let k = self.flows.len();
        let start = self.kills.len();
        for j in 0..k {
            let f = (start + j) % k;
            let Some(path) = &paths[f] else { continue };
            let cands: Vec<usize> = path[1..path.len() - 1]
                .iter()
                .copied()
                .filter(|&v| !ends.contains(&v) && self.keeps_connected(&alive, v))
                .collect();
            if cands.is_empty() {
                continue;
            }
            let v = cands[self.rng.below(cands.len() as u64) as usize];
            self.do_kill(now, v, Some(f), &alive);
            return;
        }
    }

    fn kill_idle(&mut self, now: Instant) {
        self.close_pending(now);
        let alive = self.alive();
        self.next_hops.refresh(&self.world);
        let on_paths: BTreeSet<usize> = self
            .flow_paths(&alive)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        let ends = self.endpoints();
        let mut cands: Vec<usize> = (0..self.world.len())
            .filter(|&v| alive[v] && !on_paths.contains(&v) && !ends.contains(&v))
            .collect();
        while !cands.is_empty() {
            let v = cands.swap_remove(self.rng.below(cands.len() as u64) as usize);
            if !self.keeps_connected(&alive, v)
                || pairs_through(&self.next_hops, &alive, v).is_empty()
            {
                continue;
            }
            self.do_kill(now, v, None, &alive);
            return;
        }
    }

    fn kill_scenario(&mut self, now: Instant, v: usize) {
        if !self.world.nodes[v].alive {
            return;
        }
        self.close_pending(now);
        let alive = self.alive();
        let paths = self.flow_paths(&alive);
        let flow = paths.iter().position(|p| {
            p.as_ref()
                .is_some_and(|p| p.len() > 2 && p[1..p.len() - 1].contains(&v))
        });
        self.do_kill(now, v, flow, &alive);
    }

    fn do_kill(&mut self, now: Instant, v: usize, flow: Option<usize>, alive: &[bool]) {
        // Only routes that worked before the kill can be repaired by the
        // protocol's reaction to it.
        self.next_hops.refresh(&self.world);
        let (w, g) = (&self.world, &self.graph);
        let pairs: Vec<(usize, usize)> = pairs_through(&self.next_hops, alive, v)
            .into_iter()
            .filter(|&(s, d)| valid_path(w, g, alive, s, d).is_some())
            .collect();
        self.world.kill(v);
        self.killed_at.insert(v, now);
        let kind = match (flow, pairs.is_empty()) {
            (Some(_), _) => "flow",
            (None, false) => "idle",
            (None, true) => "other",
        };
        self.kills.push(Kill {
            node: self.world.spec.nodes[v].name.clone(),
            at_ms: round3(now.as_millis_f64()),
            kind: kind.into(),
            flow,
            affected_pairs: pairs.len(),
            repair_ms: None,
        });
        if kind == "other" {
            return;
        }
        self.pending.push(Pending {
            kill: self.kills.len() - 1,
            at: now,
            flow,
            pairs: if flow.is_some() { Vec::new() } else { pairs },
        });
        if flow.is_none() {
            self.world.schedule(now + self.repair_every, Hook::Repair);
        }
    }

    fn on_repair(&mut self, now: Instant) {
        self.debug_idle_repairs(now);
        let alive = self.alive();
        let mut again = false;
        let mut done = Vec::new();
        for (k, p) in self.pending.iter_mut().enumerate() {
            if p.flow.is_some() {
                continue;
            }
            let (w, g) = (&self.world, &self.graph);
            p.pairs
                .retain(|&(s, d)| alive[s] && alive[d] && valid_path(w, g, &alive, s, d).is_none());
            if p.pairs.is_empty() {
                done.push(k);
            } else {
                again = true;
            }
        }
        for k in done.into_iter().rev() {
            let p = self.pending.remove(k);
            let ms = round3(ms_between(p.at, now));
            self.kills[p.kill].repair_ms = Some(ms);
            self.idle_repairs.push(ms);
        }
        if again {
            self.world.schedule(now + self.repair_every, Hook::Repair);
        }
    }

    fn on_flood(&mut self, now: Instant, m: usize) {
        let alive = self.alive();
        let live: Vec<usize> = (0..self.world.len()).filter(|&i| alive[i]).collect();
        if live.is_empty() {
            return;
        }
        let src = live[self.rng.below(live.len() as u64) as usize];
        let comp = self.graph.components(&alive);
        let reach = live.iter().filter(|&&i| comp[i] == comp[src]).count() - 1;
        let mut payload = (m as u32).to_be_bytes().to_vec();
        payload.resize(FLOW_PAYLOAD, 0);
        if let Some(key) = self.world.flood(src, FLOOD_GROUP, &payload) {
            self.flood_index.insert(key, self.floods.len());
            self.floods.push((key, live.len(), reach));
        }
        let _ = now;
    }

    fn on_move(&mut self, now: Instant) {
        let dt = MOVE_TICK.as_secs_f64();
        let (w, h) = self.world.spec.area;
        for (&i, wk) in self.walkers.iter_mut() {
            if now < wk.pause_until {
                continue;
            }
            let node = &mut self.world.spec.nodes[i];
            let Some(m) = node.mobility.clone() else {
                continue;
            };
            let (dx, dy) = (wk.target.0 - node.pos.0, wk.target.1 - node.pos.1);
            let d = (dx * dx + dy * dy).sqrt();
            let step = wk.speed * dt;
            if d <= step {
                node.pos = wk.target;
                wk.pause_until = now + secs(m.pause_s);
                let [x0, y0, x1, y1] = m.within.unwrap_or([0.0, 0.0, w, h]);
                wk.target = (
                    x0 + (x1 - x0) * self.rng.f64(),
                    y0 + (y1 - y0) * self.rng.f64(),
                );
                wk.speed = m.speed_mps[0] + (m.speed_mps[1] - m.speed_mps[0]) * self.rng.f64();
            } else {
                node.pos = (node.pos.0 + dx / d * step, node.pos.1 + dy / d * step);
            }
        }
        self.world.rebuild_links();
        self.graph = self.world.spec.graph();
        self.world.schedule(now + MOVE_TICK, Hook::Move);
    }

    fn debug_missing(&self) {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
        if let Some(x) = env("CALLSIGN_SIM_DEBUG_NODE") {
            let dx = env("CALLSIGN_SIM_DEBUG_DEST").unwrap_or(x);
            let ix = |id: &crate::identity::NodeId| self.world.ids.iter().position(|y| y == id);
            let name =
                |id: &crate::identity::NodeId| ix(id).map_or("?".into(), |i| format!("n{i}"));
            if let Some(node) = self.world.nodes[x].node() {
                eprintln!(
                    "node n{x}: {} routes; route to n{dx}: {}",
                    node.routes().len(),
                    node.debug_route(&self.world.ids[dx], &name)
                );
                for nb in node.neighbours(self.world.now()) {
                    let other = ix(&nb.id).and_then(|j| self.world.nodes[j].node());
                    eprintln!(
                        "  nbr {} cost {} rx {:.2} | its route to n{dx}: {:?}",
                        name(&nb.id),
                        nb.cost,
                        nb.rx_ratio,
                        other.map(|o| o.debug_route(&self.world.ids[dx], &name))
                    );
                    eprintln!(
                        "    we see it: {} | it sees us: {:?}",
                        node.debug_neighbour(&nb.id),
                        other.map(|o| o.debug_neighbour(&self.world.ids[x]))
                    );
                }
            }
        }
        let alive = self.alive();
        let comp = self.graph.components(&alive);
        let n = self.world.len();
        let ix = |id: &crate::identity::NodeId| self.world.ids.iter().position(|x| x == id);
        let mut shown = 0;
        let mut seen_at = Vec::new();
        for s in 0..n {
            for d in 0..n {
                if s == d
                    || !alive[s]
                    || !alive[d]
                    || comp[s] != comp[d]
                    || self.path(s, d).is_some()
                {
                    continue;
                }
                let mut walk = vec![s];
                let mut cur = s;
                for _ in 0..20 {
                    let Some(nh) = self.world.nodes[cur]
                        .node()
                        .and_then(|x| x.next_hop(&self.world.ids[d]))
                    else {
                        break;
                    };
                    let Some(j) = ix(&nh) else { break };
                    walk.push(j);
                    if j == d || !alive[j] {
                        break;
                    }
                    cur = j;
                }
                eprintln!("missing {s}->{d}: walk {walk:?}");
                let last = *walk.last().unwrap_or(&s);
                let at = if walk.len() > 1 && (last == d || !alive[last]) {
                    walk[walk.len() - 2]
                } else {
                    last
                };
                if (shown < 4
                    || std::env::var("CALLSIGN_SIM_DEBUG_NODE")
                        .ok()
                        .and_then(|v| v.parse::<usize>().ok())
                        == Some(at))
                    && !seen_at.contains(&at)
                {
                    shown += 1;
                    seen_at.push(at);
                    if let Some(node) = self.world.nodes[at].node() {
                        eprintln!(
                            "  at n{at}: {}",
                            node.debug_route(&self.world.ids[d], &|id| ix(id)
                                .map_or("?".into(), |i| format!("n{i}")))
                        );
                        for nb in node.neighbours(self.world.now()) {
                            eprintln!(
                                "    nbr n{:?} cost {} usable {} rx {:.2}",
                                ix(&nb.id),
                                nb.cost,
                                nb.usable,
                                nb.rx_ratio
                            );
                            if let Some(j) = ix(&nb.id)
                                && let Some(o) = self.world.nodes[j].node()
                            {
                                eprintln!(
                                    "      its route: {}",
                                    o.debug_route(&self.world.ids[d], &|id| ix(id)
                                        .map_or("?".into(), |i| format!("n{i}")))
                                );
                            }
                        }
                        eprintln!(
                            "  graph neighbours of n{at}: {:?} alive {:?}",
                            (0..n)
                                .filter(|&j| self.graph.adjacent(at, j))
                                .collect::<Vec<_>>(),
                            (0..n)
                                .filter(|&j| self.graph.adjacent(at, j))
                                .map(|j| alive[j])
                                .collect::<Vec<_>>()
                        );
                    }
                }
            }
        }
    }

    fn report(&mut self) -> Report {
        if std::env::var("CALLSIGN_SIM_DEBUG").is_ok() {
            self.debug_missing();
            for (i, f) in self.flows.iter().enumerate() {
                let lost: Vec<String> = f
                    .sent
                    .iter()
                    .zip(&f.delivered)
                    .filter(|(_, ok)| !**ok)
                    .map(|(t, _)| format!("{:.2}", t.as_micros() as f64 / 1e6))
                    .collect();
                eprintln!("flow {i} n{}->n{} lost at {lost:?}", f.src, f.dst);
            }
        }
        let now = self.world.now();
        self.close_pending(now);
        // Packets sent within the drain time of the end may still be in flight.
        let horizon = now - DRAIN;
        let (mut sent, mut got, mut excluded) = (0u64, 0u64, 0u64);
        for f in &self.flows {
            let dead_at = self.killed_at.get(&f.dst).copied().unwrap_or(Instant::MAX);
            for (t, ok) in f.sent.iter().zip(&f.delivered) {
                if *t >= dead_at || (*t > horizon && !ok) {
                    excluded += 1;
                } else {
                    sent += 1;
                    got += u64::from(*ok);
                }
            }
        }
        let hop_limit: u64 = self
            .world
            .nodes
            .iter()
            .filter_map(|n| n.node())
            .map(|n| n.stats().dropped_hop_limit)
            .sum();
        let mut ratios = Vec::new();
        let mut delivered = Vec::new();
        for (m, (key, live, reach)) in self.floods.iter().enumerate() {
            let tx = self.world.flood_tx.get(key).copied().unwrap_or(0);
            ratios.push(tx as f64 / *live as f64);
            let rx = self.flood_rx.range((m, 0)..(m + 1, 0)).count();
            delivered.push(if *reach == 0 {
                1.0
            } else {
                rx as f64 / *reach as f64
            });
        }
        let mean =
            |v: &[f64]| (!v.is_empty()).then(|| round3(v.iter().sum::<f64>() / v.len() as f64));
        let spec = &self.world.spec;
        let (bits, mut breakdown, idle_s, packets) = match &self.idle_result {
            Some((b, br, s, p)) => (Some(*b), br.clone(), round3(*s), Some(*p)),
            None => (None, ControlBreakdown::default(), 0.0, None),
        };
        // Each node re-issues its record every 3/4 lease; an idle window
        // shorter than that would miss the cost, so it is added from what
        // one refresh measured on air (mesh-wide bytes) at that rate.
        let refresh_s = self.refresh_interval_s();
        let refresh = self
            .names
            .bytes_per_refresh
            .map(|b| round3(b * 8.0 / refresh_s));
        breakdown.names_refresh = refresh.unwrap_or(0.0);
        let bits = bits.map(|b| round3(b + refresh.unwrap_or(0.0)));
        let (name_p50, name_p95) = self.names_figures();
        Report {
            name: spec.name.clone(),
            scenario: spec.scenario.clone(),
            topology: spec.topology.clone(),
            timers: self.timers_name.clone(),
            nodes: self.world.len(),
            seed: self.opts.seed,
            loss: self.opts.loss,
            diameter_hops: self.diameter,
            avg_degree: round3(self.avg_degree),
            converged: self.converged_at.is_some(),
            converged_ms: self.converged_at.map(|t| round3(t.as_millis_f64())),
            idle_window_s: idle_s,
            control_bits_per_s_per_node: bits,
            control_packets_per_s_per_node: packets,
            control_breakdown: breakdown,
            flows: self.flows.len(),
            route_repair_ms_p50: percentile(&self.flow_repairs, 50.0),
            route_repair_ms_p95: percentile(&self.flow_repairs, 95.0),
            route_repair_unrepaired: self.flow_unrepaired,
            route_repair_idle_ms_p50: percentile(&self.idle_repairs, 50.0),
            route_repair_idle_ms_p95: percentile(&self.idle_repairs, 95.0),
            route_repair_idle_unrepaired: self.idle_unrepaired,
            delivery_ratio: (sent > 0).then(|| round3(got as f64 / sent as f64 * 1000.0) / 1000.0),
            probe_packets_sent: sent,
            probe_packets_delivered: got,
            probe_packets_excluded: excluded,
            loops_detected: self.loop_observations + hop_limit,
            loop_observations: self.loop_observations,
            hop_limit_drops: hop_limit,
            loop_checks: self.loop_checks,
            routes_missing_at_last_check: self.invalid_pairs,
            loop_check_interval_ms: round3(self.check_every.as_secs_f64() * 1000.0),
            name_propagation_ms_p50: name_p50,
            name_propagation_ms_p95: name_p95,
            name_probes: self.names.probes_made(),
            name_probes_unresolved: self.names.unresolved,
            directory_bytes_per_claim: self.names.bytes_per_claim,
            directory_bytes_per_refresh: self.names.bytes_per_refresh,
            directory_refresh_bits_per_s_per_node: refresh,
            directory_converged_ms: self.names.converged_ms,
            command_holders_after_merge: self.names.command_holders,
            exclusive_conflicts_seen: self.names.conflicts_seen,
            floods: self.floods.len(),
            flood_rebroadcast_ratio: mean(&ratios),
            flood_delivery_ratio: mean(&delivered),
            voice: self.voice.as_ref().and_then(|v| v.report.clone()),
            stalls: self.stalls.as_ref().and_then(|p| p.report.clone()),
            kills: self.kills.clone(),
            air_packets: {
                let p = &self.world.air.packets;
                AirPackets {
                    hello: p[0],
                    update: p[1],
                    request: p[2],
                    ack: p[3],
                    data: p[4],
                    flood: p[5],
                    names: p[6],
                    nack: p[7],
                    lost: self.world.air.lost,
                }
            },
            node_stats: {
                let mut t = crate::node::Stats::default();
                for n in self.world.nodes.iter().filter_map(|n| n.node()) {
                    t.add(n.stats());
                }
                t
            },
            sim_seconds: round3(now.as_micros() as f64 / 1e6),
            events: self.world.events,
            livelock_guards: self.world.livelock_guards,
            wall_ms: if self.opts.wall_clock {
                self.wall_start.elapsed().as_millis() as u64
            } else {
                0
            },
        }
    }

    /// The failures so far (pictures, tools).
    pub fn kills(&self) -> &[Kill] {
        &self.kills
    }

    /// Source and destination of every probe flow started so far.
    pub fn flow_pairs(&self) -> Vec<(usize, usize)> {
        self.flows.iter().map(|f| (f.src, f.dst)).collect()
    }

    /// The current valid path from `s` to `d` (tests and tools).
    pub fn path(&self, s: usize, d: usize) -> Option<Vec<usize>> {
        valid_path(&self.world, &self.graph, &self.alive(), s, d)
    }
}
