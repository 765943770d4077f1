//! The stall phase of the standard run (`--stalls MS,...`): after the idle
//! window and before the probe flows, on a quiet mesh, random nodes are
//! stopped one at a time for each given length (what a SIGSTOP, or a CPU
//! busy elsewhere, does to a daemon) and continue with their socket
//! buffers. A stall of up to 500 ms must not make a neighbour declare a
//! node dead, nor a route through it lost: the phase counts neighbour
//! deaths (every node's `neighbour_losses`) and the most pairs without a
//! valid route at any route check while it runs. The flows and their
//! relay kills follow in the same run, so that a dead relay under traffic
//! is shown to be found as fast as ever. `docs/SIM.md` defines the figures.

use std::time::Duration;

use super::{Hook, Sim};
use crate::sim::metrics::StallReport;
use crate::time::Instant;

/// The phase's hooks, carried by [`Hook::Stall`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StallHook {
    /// Stall the next node.
    Next,
    /// The phase is over: count and go on with the run.
    Done,
}

/// Between stalls: the stall's own length, then at least this long...
const GAP: Duration = Duration::from_millis(1000);
/// ...plus a uniform draw up to this (an idle hello interval, so stalls
/// fall at every phase of the victims' and their neighbours' hellos).
const GAP_SPREAD_MS: f64 = 2100.0;
/// After the last stall, late consequences (a death declared after the
/// probes of a suspicion ran out) get this long to show.
const TAIL: Duration = Duration::from_secs(6);

/// Stalls to come and what they did so far.
#[derive(Debug, Default)]
pub struct StallPhase {
    /// Stall lengths in ms, in the order they are applied.
    plan: Vec<u64>,
    next: usize,
    /// Mesh-wide neighbour losses when the phase began.
    losses_before: u64,
    /// Running: route checks record pairs without a valid route.
    pub active: bool,
    pub pairs_lost_max: u64,
    pub report: Option<StallReport>,
    lengths: Vec<u64>,
    /// Neighbour losses from each stall's start to the next one's, per length.
    deaths_by_length: Vec<u64>,
    current: Option<(usize, u64)>,
    done: usize,
}

impl StallPhase {
    /// `count` stalls of each of `lengths_ms`, the lengths interleaved.
    pub fn new(lengths_ms: &[u64], count: usize) -> Self {
        let mut plan = Vec::with_capacity(lengths_ms.len() * count);
        for _ in 0..count {
            plan.extend_from_slice(lengths_ms);
        }
        StallPhase {
            plan,
            lengths: lengths_ms.to_vec(),
            deaths_by_length: vec![0; lengths_ms.len()],
            ..StallPhase::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }
}

impl Sim {
    pub(super) fn on_stall_hook(&mut self, now: Instant, h: StallHook) {
        let losses = self.world.neighbour_losses();
        let Some(phase) = self.stalls.as_mut() else {
            return;
        };
        if !phase.active {
            phase.active = true;
            phase.losses_before = losses;
        }
        // Deaths since the previous stall began are that stall's.
        if let Some((k, at_start)) = phase.current.take() {
            phase.deaths_by_length[k] += losses - at_start;
        }
        match h {
            StallHook::Next => {
                let Some(&ms) = phase.plan.get(phase.next) else {
                    self.world
                        .schedule(now + TAIL, Hook::Stall(StallHook::Done));
                    return;
                };
                phase.next += 1;
                let k = phase.lengths.iter().position(|&l| l == ms).unwrap_or(0);
                phase.current = Some((k, losses));
                let live: Vec<usize> = (0..self.world.len())
                    .filter(|&i| self.world.nodes[i].alive)
                    .collect();
                if !live.is_empty() {
                    let v = live[self.rng.below(live.len() as u64) as usize];
                    if self.world.stall(v, Duration::from_millis(ms)) {
                        phase.done += 1;
                    }
                }
                let gap = Duration::from_millis(ms)
                    + GAP
                    + Duration::from_micros((GAP_SPREAD_MS * 1000.0 * self.rng.f64()) as u64);
                self.world.schedule(now + gap, Hook::Stall(StallHook::Next));
            }
            StallHook::Done => {
                phase.active = false;
                let per = phase.plan.len() / phase.lengths.len().max(1);
                phase.report = Some(StallReport {
                    stall_lengths_ms: phase.lengths.clone(),
                    stalls_per_length: per,
                    stalls_done: phase.done,
                    stall_neighbour_deaths: losses - phase.losses_before,
                    stall_neighbour_deaths_by_length: phase.deaths_by_length.clone(),
                    stall_pairs_without_route_max: phase.pairs_lost_max,
                    stall_datagrams_dropped: self.world.stall_drops,
                });
                self.after_idle(now);
            }
        }
    }
}
