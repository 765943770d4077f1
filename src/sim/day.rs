//! The simulated day (`callsign sim --day HOURS`): a random mesh of
//! handsets (100 by default) at 5 % extra loss, every node walking
//! (random waypoint), a random node killed every few minutes and each dead
//! one powered on again a few minutes later (a fresh daemon with the same
//! key). What is checked the whole time: no routing loop among live nodes
//! (every route check), no packet dropped for its hop limit, and every
//! bounded table of every node within its bound (sampled every minute,
//! [`crate::node::Node::table_sizes`]). Printed: those counts, the most
//! entries each table held against its bound, memory per node (the tables'
//! estimated bytes summed per node: the max and p95 over every sample),
//! and the host's figures (peak resident memory of the whole simulator,
//! wall time). `docs/SIM.md` defines the figures.

use std::collections::BTreeMap;
use std::time::Duration;

use super::SimError;
use super::checks::{NextHops, check_all};
use super::metrics::{percentile, round3};
use super::scenario::{self, GenOptions, Mobility};
use super::world::World;
use crate::node::Timers;
use crate::rng::Rng;
use crate::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct DayOptions {
    pub seed: u64,
    pub nodes: usize,
    pub hours: f64,
    pub loss: f64,
    /// Mean time between kills (uniform in half to one and a half of it).
    pub kill_every_s: f64,
    /// A dead node comes back after a uniform draw in this range.
    pub down_s: [f64; 2],
    pub speed_mps: [f64; 2],
    pub pause_s: f64,
    /// Route and loop checks this often.
    pub check_every_s: f64,
    /// Table sizes sampled this often.
    pub sample_every_s: f64,
    /// Progress lines on stderr.
    pub quiet: bool,
    pub wall_clock: bool,
}

impl Default for DayOptions {
    fn default() -> Self {
        DayOptions {
            seed: 1,
            nodes: 100,
            hours: 24.0,
            loss: 0.05,
            kill_every_s: 180.0,
            down_s: [60.0, 600.0],
            speed_mps: [0.5, 1.5],
            pause_s: 60.0,
            check_every_s: 10.0,
            sample_every_s: 60.0,
            quiet: true,
            wall_clock: true,
        }
    }
}

/// One table's worst sample over the run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableFigure {
    pub table: String,
    pub bound: usize,
    pub max_entries: usize,
    pub max_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DayReport {
    pub seed: u64,
    pub nodes: usize,
    pub sim_hours: f64,
    pub kills: u64,
    pub rejoins: u64,
    pub route_checks: u64,
    /// Cycles of next hops among live nodes, over every check.
    pub loop_observations: u64,
    /// Packets dropped for their hop limit, summed over every node life.
    pub hop_limit_drops: u64,
    /// Pairs in one component without a valid route: mean and p95 over
    /// the checks (mobility and kills break routes; they must heal).
    pub pairs_without_route_mean: f64,
    pub pairs_without_route_p95: Option<f64>,
    /// Table samples over the bound (must be 0).
    pub table_bound_violations: u64,
    pub tables: Vec<TableFigure>,
    /// Estimated bytes of a node's tables: max and p95 over every sample
    /// of every live node.
    pub mem_per_node_bytes_max: usize,
    pub mem_per_node_bytes_p95: Option<f64>,
    /// The same max over each quarter of the run: steady once warm (the
    /// first quarter) means the last is no more than a quarter above the
    /// second.
    pub mem_per_node_bytes_max_by_quarter: Vec<usize>,
    /// Peak resident memory of the simulator process (all nodes and the
    /// simulator itself), from /proc/self/status VmHWM; 0 where unknown.
    pub peak_rss_kib: u64,
    pub events: u64,
    pub wall_ms: u64,
    /// Simulated seconds per wall second.
    pub speedup: f64,
    /// The checks that failed (empty: the day passed): a loop, a hop-limit
    /// drop, a table over its bound, memory per node still growing.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Hook {
    Check,
    Sample,
    Move,
    Kill,
    Rejoin(usize),
    End,
}

const MOVE_TICK: Duration = Duration::from_secs(2);

struct Walker {
    target: (f64, f64),
    speed: f64,
    pause_until: Instant,
}

#[allow(clippy::disallowed_methods)] // wall time of the host, reported as wall_ms
fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// Peak resident set of this process in KiB (Linux), else 0.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

pub fn run(o: &DayOptions) -> Result<DayReport, SimError> {
    if !(o.hours > 0.0 && o.hours.is_finite()) {
        return Err(SimError::Input(
            "--day must be a positive number of hours".into(),
        ));
    }
    let opt = GenOptions {
        nodes: o.nodes,
        profile: "handset-2g4".into(),
        degree: 10.0,
        min_diameter: 0,
    };
    let mut spec = scenario::generate("random", &opt, &mut scenario::topology_rng(o.seed))?;
    let (w, h) = spec.area;
    for n in &mut spec.nodes {
        n.mobility = Some(Mobility {
            speed_mps: o.speed_mps,
            pause_s: o.pause_s,
            within: Some([0.0, 0.0, w, h]),
        });
    }
    let mut rng = Rng::new(o.seed ^ 0xda7_0000_0001);
    let mut world: World<Hook> = World::new(spec, &Timers::callsign(), o.loss, o.seed)?;
    let n = world.len();
    for i in 0..n {
        world.schedule_boot(i, Instant::ZERO + secs(0.1 * rng.f64()));
    }
    let mut walkers: BTreeMap<usize, Walker> = (0..n)
        .map(|i| {
            let pos = world.spec.nodes[i].pos;
            let speed = o.speed_mps[0] + (o.speed_mps[1] - o.speed_mps[0]) * rng.f64();
            (
                i,
                Walker {
                    target: pos,
                    speed,
                    pause_until: Instant::ZERO,
                },
            )
        })
        .collect();
    let end = Instant::ZERO + secs(o.hours * 3600.0);
    let check_every = secs(o.check_every_s);
    let sample_every = secs(o.sample_every_s);
    world.schedule(Instant::ZERO + check_every, Hook::Check);
    world.schedule(Instant::ZERO + sample_every, Hook::Sample);
    world.schedule(Instant::ZERO + MOVE_TICK, Hook::Move);
    let kill_gap = |rng: &mut Rng| secs(o.kill_every_s * (0.5 + rng.f64()));
    let first = kill_gap(&mut rng);
    world.schedule(Instant::ZERO + first, Hook::Kill);
    world.schedule(end, Hook::End);

    let mut graph = world.spec.graph();
    let mut hops = NextHops::default();
    let (mut kills, mut rejoins, mut checks, mut loops) = (0u64, 0u64, 0u64, 0u64);
    let mut invalid: Vec<f64> = Vec::new();
    let mut violations = 0u64;
    let mut tables: BTreeMap<&'static str, TableFigure> = BTreeMap::new();
    let mut mem: Vec<f64> = Vec::new();
    let mut mem_max = 0usize;
    let mut mem_quarters = [0usize; 4];
    // Hop-limit drops of node lives that ended (a revived node starts at 0).
    let mut drops_before = 0u64;
    let wall = wall_now();
    let mut next_progress = 0.1;
    while let Some((now, hook)) = world.next_hook(end) {
        match hook {
            Hook::End => break,
            Hook::Check => {
                let alive = world.alive();
                hops.refresh(&world);
                let r = check_all(&hops, &graph, &alive);
                checks += 1;
                loops += r.loops;
                invalid.push(r.invalid_pairs as f64);
                world.schedule(now + check_every, Hook::Check);
                let frac = now.as_micros() as f64 / end.as_micros().max(1) as f64;
                if !o.quiet && frac >= next_progress {
                    eprintln!(
                        "day: {:>3.0} % ({:.2} h simulated, {:.0} s wall, {} kills)",
                        frac * 100.0,
                        now.as_millis_f64() / 3.6e6,
                        wall.elapsed().as_secs_f64(),
                        kills
                    );
                    next_progress += 0.1;
                }
            }
            Hook::Sample => {
                for i in 0..n {
                    if !world.nodes[i].alive {
                        continue;
                    }
                    let Some(node) = world.node(i) else { continue };
                    let mut total = 0;
                    for t in node.table_sizes() {
                        total += t.bytes;
                        if t.entries > t.bound {
                            violations += 1;
                        }
                        let f = tables.entry(t.name).or_insert(TableFigure {
                            table: t.name.into(),
                            bound: t.bound,
                            max_entries: 0,
                            max_bytes: 0,
                        });
                        f.max_entries = f.max_entries.max(t.entries);
                        f.max_bytes = f.max_bytes.max(t.bytes);
                    }
                    mem_max = mem_max.max(total);
                    mem.push(total as f64);
                    let q = (4 * now.as_micros() / end.as_micros().max(1)).min(3) as usize;
                    mem_quarters[q] = mem_quarters[q].max(total);
                }
                world.schedule(now + sample_every, Hook::Sample);
            }
            Hook::Move => {
                step_walkers(&mut world, &mut walkers, &mut rng, now, o);
                world.rebuild_links();
                graph = world.spec.graph();
                world.schedule(now + MOVE_TICK, Hook::Move);
            }
            Hook::Kill => {
                let live: Vec<usize> = (0..n).filter(|&i| world.nodes[i].alive).collect();
                // Keep most of the mesh up: at most a tenth down at once.
                if live.len() > n - n / 10 {
                    let v = live[rng.below(live.len() as u64) as usize];
                    if let Some(node) = world.node(v) {
                        drops_before += node.stats().dropped_hop_limit;
                    }
                    world.kill(v);
                    kills += 1;
                    let back = o.down_s[0] + (o.down_s[1] - o.down_s[0]) * rng.f64();
                    world.schedule(now + secs(back), Hook::Rejoin(v));
                }
                let gap = kill_gap(&mut rng);
                world.schedule(now + gap, Hook::Kill);
            }
            Hook::Rejoin(v) => {
                world.revive(v);
                rejoins += 1;
                // The new node's next-hop epoch starts afresh: read its
                // row again whatever the epoch says.
                hops = NextHops::default();
            }
        }
    }
    let drops_now: u64 = (0..n)
        .filter(|&i| world.nodes[i].alive)
        .filter_map(|i| world.node(i))
        .map(|x| x.stats().dropped_hop_limit)
        .sum();
    let wall_ms = if o.wall_clock {
        wall.elapsed().as_millis() as u64
    } else {
        0
    };
    let sim_s = world.now().as_millis_f64() / 1000.0;
    let hop_limit_drops = drops_before + drops_now;
    let mut failures = Vec::new();
    if loops > 0 {
        failures.push(format!("{loops} loop observations"));
    }
    if hop_limit_drops > 0 {
        failures.push(format!("{hop_limit_drops} hop-limit drops"));
    }
    if violations > 0 {
        failures.push(format!("{violations} table samples over their bound"));
    }
    // Warm-up is the first quarter; later quarters must not keep growing.
    if mem_quarters[1] > 0 && mem_quarters[3] * 4 > mem_quarters[1] * 5 {
        failures.push(format!(
            "memory per node still growing: max {} bytes in the second quarter, {} in the last",
            mem_quarters[1], mem_quarters[3]
        ));
    }
    Ok(DayReport {
        seed: o.seed,
        nodes: n,
        sim_hours: round3(sim_s / 3600.0),
        kills,
        rejoins,
        route_checks: checks,
        loop_observations: loops,
        hop_limit_drops,
        pairs_without_route_mean: round3(invalid.iter().sum::<f64>() / invalid.len().max(1) as f64),
        pairs_without_route_p95: percentile(&invalid, 95.0),
        table_bound_violations: violations,
        tables: tables.into_values().collect(),
        mem_per_node_bytes_max: mem_max,
        mem_per_node_bytes_p95: percentile(&mem, 95.0),
        mem_per_node_bytes_max_by_quarter: mem_quarters.to_vec(),
        peak_rss_kib: if o.wall_clock { peak_rss_kib() } else { 0 },
        events: world.events,
        wall_ms,
        speedup: if wall_ms > 0 {
            round3(sim_s / (wall_ms as f64 / 1000.0))
        } else {
            0.0
        },
        failures,
    })
}

fn step_walkers(
    world: &mut World<Hook>,
    walkers: &mut BTreeMap<usize, Walker>,
    rng: &mut Rng,
    now: Instant,
    o: &DayOptions,
) {
    let dt = MOVE_TICK.as_secs_f64();
    let (w, h) = world.spec.area;
    for (&i, wk) in walkers.iter_mut() {
        if now < wk.pause_until {
            continue;
        }
        let node = &mut world.spec.nodes[i];
        let (dx, dy) = (wk.target.0 - node.pos.0, wk.target.1 - node.pos.1);
        let d = (dx * dx + dy * dy).sqrt();
        let step = wk.speed * dt;
        if d <= step {
            node.pos = wk.target;
            wk.pause_until = now + secs(o.pause_s * rng.f64());
            wk.target = (w * rng.f64(), h * rng.f64());
            wk.speed = o.speed_mps[0] + (o.speed_mps[1] - o.speed_mps[0]) * rng.f64();
        } else {
            node.pos = (node.pos.0 + dx / d * step, node.pos.1 + dy / d * step);
        }
    }
}
