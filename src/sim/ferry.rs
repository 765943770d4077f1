//! The ferry run (`callsign sim --ferry`): two groups of handsets that
//! never hear each other, and one responder who walks between them. Every
//! few seconds someone in one group messages someone in the other, by
//! name; the messages can only cross in the walker's handset (custody,
//! spray and wait: `msg`). Prints the delivery ratio, latency, duplicates
//! and the most copies of one message held at once, against the bound.

use std::collections::BTreeMap;
use std::time::Duration;

use super::SimError;
use super::metrics::{percentile, round3};
use super::scenario::{self, GenOptions};
use super::world::World;
use crate::msg::{MsgEvent, MsgId};
use crate::node::{Event, MsgTo, Timers};
use crate::rng::Rng;
use crate::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct FerryOptions {
    pub seed: u64,
    /// Handsets per group (a line: the far ones are several hops from
    /// where the walker stops).
    pub group: usize,
    /// Walking speed and the pause at each group.
    pub speed_mps: f64,
    pub dwell_s: f64,
    /// Messages are sent this often, alternately from each side, from the
    /// walker's first return until `send_for_s` later.
    pub every_s: f64,
    pub send_for_s: f64,
}

impl Default for FerryOptions {
    fn default() -> Self {
        FerryOptions {
            seed: 1,
            group: 3,
            speed_mps: 3.0,
            dwell_s: 60.0,
            every_s: 10.0,
            send_for_s: 1800.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FerryReport {
    pub seed: u64,
    pub nodes: usize,
    pub sent: usize,
    /// Sends the sender refused (no holder of the name known yet, limits).
    pub refused: usize,
    pub delivered: usize,
    pub delivery_ratio: f64,
    /// Deliveries of an id already delivered (must be 0).
    pub duplicates: usize,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    pub latency_max_s: Option<f64>,
    /// Receipts back at the sender.
    pub receipts: usize,
    /// Most nodes holding one message at once, and most copies of its
    /// budget held at once (sampled every second), against the budget.
    pub max_holders: usize,
    pub max_copies: u32,
    pub copy_bound: u8,
    /// Time from the start of the walker's round trip to its return.
    pub round_trip_s: f64,
}

#[derive(Debug, Clone, Copy)]
enum Hook {
    Move,
    Send(bool),
    Sample,
}

const TICK: Duration = Duration::from_secs(1);

/// Run the ferry world.
pub fn run(o: &FerryOptions) -> Result<FerryReport, SimError> {
    let g = o.group.max(1);
    let opts = GenOptions {
        nodes: 2 * g + 1,
        profile: "handset-2g4".into(),
        degree: 2.0,
        min_diameter: 0,
    };
    let mut rng = Rng::new(o.seed);
    let mut spec = scenario::generate("line", &opts, &mut rng)?;
    let range = spec.profiles[0].range_m;
    let gap = 0.8 * range;
    let a_end = gap * (g - 1) as f64;
    // Far apart: the walker is the only way across.
    let b_start = a_end + 8.0 * range;
    for i in 0..g {
        spec.nodes[i].pos = (gap * i as f64, 0.0);
        spec.nodes[g + i].pos = (b_start + gap * i as f64, 0.0);
    }
    let ferry = 2 * g;
    // It stops in range of one end handset of each group only.
    let stop_a = a_end + 0.5 * range;
    let stop_b = b_start - 0.5 * range;
    spec.nodes[ferry].pos = (stop_a, 0.0);
    spec.nodes[ferry].name = "walker".into();
    let leg_s = (stop_b - stop_a) / o.speed_mps;
    let round_trip_s = 2.0 * (o.dwell_s + leg_s);
    let mut w: World<Hook> = World::new(spec, &Timers::callsign(), 0.0, o.seed)?;
    // A group hears of the other's names only through the walker: leases
    // must outlast a round trip plus the holder's refresh margin.
    let lease = Duration::from_secs_f64((4.0 * round_trip_s).max(1200.0));
    w.configure(|c| c.names_config.lease = lease);
    for i in 0..w.len() {
        w.schedule_boot(i, Instant::ZERO + Duration::from_millis(10 * i as u64));
    }
    let start = Instant::ZERO + Duration::from_secs_f64(round_trip_s);
    let end_send = start + Duration::from_secs_f64(o.send_for_s);
    let end = end_send + Duration::from_secs_f64(2.5 * round_trip_s);
    w.schedule(Instant::ZERO + TICK, Hook::Move);
    w.schedule(Instant::ZERO + TICK, Hook::Sample);
    w.schedule(start, Hook::Send(true));
    let copy_bound = crate::msg::MsgConfig::default().copies;
    let mut sent: BTreeMap<MsgId, Instant> = BTreeMap::new();
    let mut got: BTreeMap<MsgId, Instant> = BTreeMap::new();
    let (mut refused, mut duplicates, mut receipts) = (0, 0, 0);
    let (mut max_holders, mut max_copies) = (0usize, 0u32);
    while let Some((now, h)) = w.next_hook(end) {
        match h {
            Hook::Move => {
                let t = now.saturating_since(Instant::ZERO).as_secs_f64() % round_trip_s;
                // dwell at A, walk to B, dwell at B, walk back.
                let x = if t < o.dwell_s {
                    stop_a
                } else if t < o.dwell_s + leg_s {
                    stop_a + (t - o.dwell_s) * o.speed_mps
                } else if t < 2.0 * o.dwell_s + leg_s {
                    stop_b
                } else {
                    stop_b - (t - 2.0 * o.dwell_s - leg_s) * o.speed_mps
                };
                w.spec.nodes[ferry].pos = (x, 0.0);
                w.rebuild_links();
                w.schedule(now + TICK, Hook::Move);
            }
            Hook::Send(from_a) => {
                let (src, dst) = if from_a {
                    (
                        rng.below(g as u64) as usize,
                        g + rng.below(g as u64) as usize,
                    )
                } else {
                    (
                        g + rng.below(g as u64) as usize,
                        rng.below(g as u64) as usize,
                    )
                };
                let name = w.spec.nodes[dst].name.clone();
                let text = format!(
                    "from {} at {:.0} s",
                    w.spec.nodes[src].name,
                    now.as_millis_f64() / 1000.0
                );
                match w.message(src, MsgTo::Name(&name), &text) {
                    Ok(id) => {
                        sent.insert(id, now);
                    }
                    Err(_) => refused += 1,
                }
                let next = now + Duration::from_secs_f64(o.every_s);
                if next < end_send {
                    w.schedule(next, Hook::Send(!from_a));
                }
            }
            Hook::Sample => {
                let mut holders: BTreeMap<MsgId, (usize, u32)> = BTreeMap::new();
                for i in 0..w.len() {
                    if let Some(n) = w.node(i) {
                        for (id, _, _, copies, _) in n.messages().held() {
                            let e = holders.entry(id).or_default();
                            e.0 += 1;
                            e.1 += copies as u32;
                        }
                    }
                }
                for (h, c) in holders.values() {
                    max_holders = max_holders.max(*h);
                    max_copies = max_copies.max(*c);
                }
                w.schedule(now + TICK, Hook::Sample);
            }
        }
        for (at, _, e) in std::mem::take(&mut w.outbox) {
            match e {
                Event::Message(MsgEvent::Received(m)) if got.contains_key(&m.id) => {
                    duplicates += 1;
                }
                Event::Message(MsgEvent::Received(m)) => {
                    got.insert(m.id, at);
                }
                Event::Message(MsgEvent::Delivered { .. }) => receipts += 1,
                _ => {}
            }
        }
    }
    let lat: Vec<f64> = got
        .iter()
        .filter_map(|(id, at)| Some(at.saturating_since(*sent.get(id)?).as_secs_f64()))
        .collect();
    let delivered = lat.len();
    Ok(FerryReport {
        seed: o.seed,
        nodes: w.len(),
        sent: sent.len(),
        refused,
        delivered,
        delivery_ratio: round3(delivered as f64 / sent.len().max(1) as f64),
        duplicates,
        latency_p50_s: percentile(&lat, 50.0).map(round3),
        latency_p95_s: percentile(&lat, 95.0).map(round3),
        latency_max_s: lat.iter().copied().reduce(f64::max).map(round3),
        receipts,
        max_holders,
        max_copies,
        copy_bound,
        round_trip_s: round3(round_trip_s),
    })
}
