//! The directory phase of the standard run, after the floods: probe claims
//! whose spread is timed node by node, then a partition of the mesh into
//! two halves that each claim names (and each an exclusive `command`),
//! and the heal, timed until every directory is the same.
//! `docs/SIM.md` defines the figures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Hook, Sim, ms_between};
use crate::identity::NodeId;
use crate::sim::metrics::{percentile, round3};
use crate::time::Instant;

/// Probe claims, this far apart.
const PROBE_GAP: Duration = Duration::from_millis(1000);
/// How long a probe may take before it counts as unresolved.
const PROBE_WAIT: Duration = Duration::from_secs(3);
/// Cut links stay cut this long: every link across dies and both halves
/// claim names that the other cannot hear.
const PARTITION_LEN: Duration = Duration::from_secs(12);
/// Claims in the halves, this long after the cut.
const PARTITION_CLAIMS_AFTER: Duration = Duration::from_secs(4);
/// Probe claims refreshed one by one after the probes, this far apart:
/// what a refresh costs on air (a known record: relayed once, where a
/// new one is repeated) prices the idle window's lease refreshes.
const REFRESHES: usize = 5;
/// After the heal, directories get this long to become equal.
pub(super) const HEAL_WAIT: Duration = Duration::from_secs(15);
const DIR_CHECK: Duration = Duration::from_millis(50);

/// The phase's hooks, carried by [`Hook::Names`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NamesHook {
    Claim(usize),
    ProbesDone,
    Refresh(usize),
    RefreshesDone,
    Cut,
    HalfClaims,
    Heal,
    Check,
}

struct Probe {
    name: String,
    holder: NodeId,
    at: Instant,
    waiting: BTreeSet<usize>,
}

#[derive(Default)]
pub struct NamesPhase {
    pub enabled: bool,
    probes: Vec<Probe>,
    started: Option<(Instant, u64)>,
    /// Link-loss overrides replaced by the cut, to put back at the heal.
    saved: BTreeMap<(usize, usize), Option<f64>>,
    halves: Option<(Vec<usize>, Vec<usize>)>,
    healed_at: Option<Instant>,
    pub propagation: Vec<f64>,
    pub unresolved: usize,
    /// Directory bytes on air per probe claim, mesh-wide.
    pub bytes_per_claim: Option<f64>,
    /// ... and per refresh of one (see [`REFRESHES`]).
    pub bytes_per_refresh: Option<f64>,
    refresh_started: Option<u64>,
    refreshes_made: usize,
    pub converged_ms: Option<f64>,
    /// Distinct holders `command` resolves to across live nodes at the end.
    pub command_holders: Option<usize>,
    pub conflicts_seen: u64,
}

/// Names claimed per half during the partition (besides `command`).
const HALF_CLAIMS: usize = 2;
pub const PROBES: usize = 20;

impl Sim {
    /// Plan the phase from `t`; returns when it ends.
    pub(super) fn schedule_names(&mut self, t: Instant) -> Instant {
        if !self.names.enabled {
            return t;
        }
        for k in 0..PROBES {
            self.world
                .schedule(t + PROBE_GAP * k as u32, Hook::Names(NamesHook::Claim(k)));
        }
        let done = t + PROBE_GAP * PROBES as u32 + PROBE_WAIT;
        self.world
            .schedule(done, Hook::Names(NamesHook::ProbesDone));
        for k in 0..REFRESHES {
            self.world.schedule(
                done + PROBE_GAP * k as u32,
                Hook::Names(NamesHook::Refresh(k)),
            );
        }
        let done = done + PROBE_GAP * REFRESHES as u32 + PROBE_WAIT;
        self.world
            .schedule(done, Hook::Names(NamesHook::RefreshesDone));
        self.world.schedule(done, Hook::Names(NamesHook::Cut));
        self.world.schedule(
            done + PARTITION_CLAIMS_AFTER,
            Hook::Names(NamesHook::HalfClaims),
        );
        let heal = done + PARTITION_LEN;
        self.world.schedule(heal, Hook::Names(NamesHook::Heal));
        heal + HEAL_WAIT + DIR_CHECK * 2
    }

    pub(super) fn on_names_hook(&mut self, now: Instant, h: NamesHook) {
        match h {
            NamesHook::Claim(k) => self.probe_claim(now, k),
            NamesHook::ProbesDone => self.probes_done(now),
            NamesHook::Refresh(k) => self.refresh_probe(k),
            NamesHook::RefreshesDone => self.refreshes_done(),
            NamesHook::Cut => self.cut(),
            NamesHook::HalfClaims => self.half_claims(),
            NamesHook::Heal => self.heal(now),
            NamesHook::Check => self.dir_check(now),
        }
    }

    /// A directory record reached `node` at `at`.
    pub(super) fn on_name_changed(&mut self, at: Instant, node: usize, name: &str, holder: NodeId) {
        let mut done = Vec::new();
        for (k, p) in self.names.probes.iter_mut().enumerate() {
            if p.name == name
                && p.holder == holder
                && p.waiting.remove(&node)
                && p.waiting.is_empty()
            {
                done.push((k, round3(ms_between(p.at, at))));
            }
        }
        for (k, ms) in done {
            if std::env::var("CALLSIGN_SIM_DEBUG_NAMES").is_ok() {
                let nb = self.world.nodes[node]
                    .node()
                    .map_or(0, |n| n.neighbours(at).len());
                eprintln!("probe-{k}: {ms} ms, last n{node} ({nb} neighbours)");
            }
            self.names.propagation.push(ms);
        }
    }

    fn live_booted(&self) -> Vec<usize> {
        (0..self.world.len())
            .filter(|&i| self.world.nodes[i].alive && self.world.nodes[i].app.is_some())
            .collect()
    }

    fn probe_claim(&mut self, now: Instant, k: usize) {
        let live = self.live_booted();
        if live.is_empty() {
            return;
        }
        if self.names.started.is_none() {
            self.names.started = Some((now, self.world.air.bytes[6]));
        }
        let holder = live[self.rng.below(live.len() as u64) as usize];
        let name = format!("probe-{k}");
        if self.world.claim(holder, &name, false).is_err() {
            return;
        }
        let comp = self.graph.components(&self.alive());
        let waiting = live
            .iter()
            .copied()
            .filter(|&i| i != holder && comp[i] == comp[holder])
            .collect();
        self.names.probes.push(Probe {
            name,
            holder: self.world.ids[holder],
            at: now,
            waiting,
        });
    }

    fn probes_done(&mut self, now: Instant) {
        // An unresolved probe counts at the window's length (a lower bound)
        // and is closed, so a late arrival does not count it twice.
        if std::env::var("CALLSIGN_SIM_DEBUG").is_ok() {
            for p in &self.names.probes {
                for &i in &p.waiting {
                    let n = self.world.nodes[i].node();
                    eprintln!(
                        "probe {} not at n{i} after {:.0} ms: {} neighbours, digest {:?}",
                        p.name,
                        ms_between(p.at, now),
                        n.map_or(0, |n| n.neighbours(now).len()),
                        n.map(|n| n.directory().store().digest(now).1)
                    );
                }
            }
        }
        for p in &mut self.names.probes {
            if !p.waiting.is_empty() {
                p.waiting.clear();
                self.names.unresolved += 1;
                self.names.propagation.push(round3(ms_between(p.at, now)));
            }
        }
        if let Some((_, bytes0)) = self.names.started
            && !self.names.probes.is_empty()
        {
            let d = self.world.air.bytes[6] - bytes0;
            self.names.bytes_per_claim = Some(round3(d as f64 / self.names.probes.len() as f64));
        }
    }

    fn refresh_probe(&mut self, k: usize) {
        if self.names.refresh_started.is_none() {
            self.names.refresh_started = Some(self.world.air.bytes[6]);
        }
        let Some(p) = self.names.probes.get(k) else {
            return;
        };
        let (name, holder) = (p.name.clone(), p.holder);
        if let Some(i) = self.world.ids.iter().position(|x| *x == holder)
            && self.world.refresh_claim(i, &name)
        {
            self.names.refreshes_made += 1;
        }
    }

    fn refreshes_done(&mut self) {
        if let Some(bytes0) = self.names.refresh_started
            && self.names.refreshes_made > 0
        {
            let d = self.world.air.bytes[6] - bytes0;
            self.names.bytes_per_refresh =
                Some(round3(d as f64 / self.names.refreshes_made as f64));
        }
    }

    /// Cut every link between the west and the east half of the live nodes.
    fn cut(&mut self) {
        let mut live = self.live_booted();
        if live.len() < 4 {
            return;
        }
        let pos = |i: usize| self.world.spec.nodes[i].pos;
        live.sort_by(|&a, &b| pos(a).0.total_cmp(&pos(b).0).then(a.cmp(&b)));
        let (west, east) = live.split_at(live.len() / 2);
        let (west, east) = (west.to_vec(), east.to_vec());
        let n = self.world.len();
        let in_west: Vec<bool> = (0..n).map(|i| west.contains(&i)).collect();
        let in_east: Vec<bool> = (0..n).map(|i| east.contains(&i)).collect();
        for a in 0..n {
            for b in a + 1..n {
                if (in_west[a] && in_east[b]) || (in_east[a] && in_west[b]) {
                    let old = self.world.spec.link_loss.insert((a, b), 1.0);
                    self.names.saved.insert((a, b), old);
                }
            }
        }
        self.world.rebuild_links();
        self.graph = self.world.spec.graph();
        self.names.halves = Some((west, east));
    }

    fn half_claims(&mut self) {
        let Some((west, east)) = self.names.halves.clone() else {
            return;
        };
        for (side, half) in [("w", &west), ("e", &east)] {
            let live: Vec<usize> = half
                .iter()
                .copied()
                .filter(|&i| self.world.nodes[i].alive)
                .collect();
            if live.is_empty() {
                continue;
            }
            for j in 0..HALF_CLAIMS {
                let i = live[self.rng.below(live.len() as u64) as usize];
                let _ = self.world.claim(i, &format!("part-{side}-{j}"), false);
            }
            let i = live[self.rng.below(live.len() as u64) as usize];
            let _ = self.world.claim(i, "command", true);
        }
    }

    fn heal(&mut self, now: Instant) {
        if self.names.halves.is_none() {
            return;
        }
        for ((a, b), old) in std::mem::take(&mut self.names.saved) {
            match old {
                Some(l) => self.world.spec.link_loss.insert((a, b), l),
                None => self.world.spec.link_loss.remove(&(a, b)),
            };
        }
        self.world.rebuild_links();
        self.graph = self.world.spec.graph();
        self.names.healed_at = Some(now);
        self.world
            .schedule(now + DIR_CHECK, Hook::Names(NamesHook::Check));
    }

    /// Equal directories: the same digest everywhere and one `command`.
    fn dir_check(&mut self, now: Instant) {
        let Some(healed) = self.names.healed_at else {
            return;
        };
        let live = self.live_booted();
        let mut digests = BTreeSet::new();
        let mut commanders = BTreeSet::new();
        for &i in &live {
            if let Some(n) = self.world.nodes[i].node() {
                let d = n.directory();
                digests.insert(d.store().digest(now));
                for e in d.resolve(now, "command") {
                    commanders.insert(e.rec.holder);
                }
            }
        }
        self.names.command_holders = Some(commanders.len());
        if digests.len() == 1 && commanders.len() == 1 {
            self.names.converged_ms = Some(round3(ms_between(healed, now)));
            return;
        }
        let since = now.saturating_since(healed);
        if since < HEAL_WAIT {
            self.world
                .schedule(now + DIR_CHECK, Hook::Names(NamesHook::Check));
        }
        if std::env::var("CALLSIGN_SIM_DEBUG").is_ok() {
            self.debug_directories(now, healed, &live, &commanders);
        }
    }

    /// Seconds between two refreshes of one record: the sim's nodes run
    /// the directory's default lease and refresh at three quarters of it.
    pub(super) fn refresh_interval_s(&self) -> f64 {
        crate::names::NamesConfig::default().lease.as_secs_f64() * 0.75
    }

    pub(super) fn names_figures(&self) -> (Option<f64>, Option<f64>) {
        (
            percentile(&self.names.propagation, 50.0),
            percentile(&self.names.propagation, 95.0),
        )
    }
}

impl NamesPhase {
    pub fn new(enabled: bool) -> Self {
        NamesPhase {
            enabled,
            ..NamesPhase::default()
        }
    }

    pub fn probes_made(&self) -> usize {
        self.probes.len()
    }
}
