//! `CALLSIGN_SIM_DEBUG`: what the directory phase prints while it waits
//! for directories to agree (records per node every half second; at 3 s
//! and at the end, which records differ and the neighbours of the nodes
//! that lack them).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::names::HEAL_WAIT;
use super::{Sim, ms_between};
use crate::identity::NodeId;
use crate::time::Instant;

impl Sim {
    pub(super) fn debug_directories(
        &self,
        now: Instant,
        healed: Instant,
        live: &[usize],
        commanders: &BTreeSet<NodeId>,
    ) {
        let since = now.saturating_since(healed);
        let by_digest: BTreeSet<([u8; 16], u32)> = live
            .iter()
            .filter_map(|&i| self.world.nodes[i].node())
            .map(|n| n.directory().store().digest(now))
            .collect();
        if now.as_micros() % 500_000 < 50_000 {
            let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
            for &i in live {
                if let Some(n) = self.world.nodes[i].node() {
                    *counts
                        .entry(n.directory().store().digest(now).1)
                        .or_default() += 1;
                }
            }
            eprintln!(
                "{:.1} s after heal: {} digests, records per node {counts:?}, {} command holders",
                ms_between(healed, now) / 1000.0,
                by_digest.len(),
                commanders.len()
            );
        }
        if since >= HEAL_WAIT
            || (since >= Duration::from_secs(3) && since < Duration::from_millis(3050))
        {
            let mut by: BTreeMap<([u8; 16], u32), Vec<usize>> = BTreeMap::new();
            for &i in live {
                if let Some(n) = self.world.nodes[i].node() {
                    by.entry(n.directory().store().digest(now))
                        .or_default()
                        .push(i);
                }
            }
            for ((_, c), v) in &by {
                eprintln!(
                    "directory of {c} records at {} nodes: {:?}",
                    v.len(),
                    &v[..v.len().min(12)]
                );
            }
            eprintln!("command holders {commanders:?}");
            let key = |i: usize| -> BTreeSet<(String, NodeId, u64)> {
                self.world.nodes[i].node().map_or(BTreeSet::new(), |n| {
                    n.directory()
                        .store()
                        .entries()
                        .filter(|e| e.live(now))
                        .map(|e| (e.rec.name.clone(), e.rec.holder, e.rec.version))
                        .collect()
                })
            };
            if let (Some(a), Some(b)) = (by.values().next(), by.values().nth(1)) {
                let (ka, kb) = (key(a[0]), key(b[0]));
                eprintln!(
                    "only at n{}: {:?}",
                    a[0],
                    ka.difference(&kb).collect::<Vec<_>>()
                );
                eprintln!(
                    "only at n{}: {:?}",
                    b[0],
                    kb.difference(&ka).collect::<Vec<_>>()
                );
                for &i in a {
                    let Some(n) = self.world.nodes[i].node() else {
                        continue;
                    };
                    let nbs: Vec<String> = n
                        .neighbours(now)
                        .iter()
                        .map(|nb| {
                            let j = self.world.index(&nb.id).unwrap_or(usize::MAX);
                            let c = self
                                .world
                                .nodes
                                .get(j)
                                .and_then(|x| x.node())
                                .map(|x| x.directory().store().digest(now).1);
                            format!(
                                "n{j} usable={} etx={:.2} rx={:.2} count={c:?}",
                                nb.usable, nb.etx, nb.rx_ratio
                            )
                        })
                        .collect();
                    eprintln!("n{i}: {nbs:?} stats {:?}", n.directory().stats());
                }
            }
        }
    }
}
