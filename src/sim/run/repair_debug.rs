//! `CALLSIGN_SIM_DEBUG_REPAIR=1`: while a flow kill is unrepaired, print
//! every 50 ms the walk of next hops from the flow's source towards its
//! destination, with each hop's route entry, so a slow repair shows
//! where it waited.

use super::{Sim, ms_between};
use crate::time::Instant;

impl Sim {
    pub(super) fn debug_repairs(&self, now: Instant) {
        if std::env::var("CALLSIGN_SIM_DEBUG_REPAIR").is_err() {
            return;
        }
        for p in &self.pending {
            let Some(f) = p.flow else { continue };
            let since = ms_between(p.at, now);
            if since < 150.0 {
                continue;
            }
            let (s, d) = (self.flows[f].src, self.flows[f].dst);
            let mut line = format!(
                "{:.2}s kill {} +{since:.0}ms flow {f} n{s}->n{d}:",
                now.as_millis_f64() / 1000.0,
                self.kills[p.kill].node
            );
            line.push_str(&self.route_walk(s, d));
            eprintln!("{line}");
        }
    }

    /// The same for an idle kill still unrepaired after 3 s: the pairs
    /// left, and the walk of the first.
    pub(super) fn debug_idle_repairs(&self, now: Instant) {
        if std::env::var("CALLSIGN_SIM_DEBUG_REPAIR").is_err() {
            return;
        }
        for p in &self.pending {
            let since = ms_between(p.at, now);
            if p.flow.is_some() || since < 3000.0 || (since as u64) % 1000 >= 100 {
                continue;
            }
            let Some(&(s, d)) = p.pairs.first() else {
                continue;
            };
            let mut line = format!(
                "{:.2}s idle kill {} +{since:.0}ms: {} pairs left {:?}; n{s}->n{d}:",
                now.as_millis_f64() / 1000.0,
                self.kills[p.kill].node,
                p.pairs.len(),
                &p.pairs[..p.pairs.len().min(8)]
            );
            line.push_str(&self.route_walk(s, d));
            eprintln!("{line}");
        }
    }

    /// The next hops from `s` towards `d`, a line per hop with its route
    /// entry, until `d`, a dead node or a hop without a route.
    fn route_walk(&self, s: usize, d: usize) -> String {
        let ix = |id: &crate::identity::NodeId| self.world.ids.iter().position(|y| y == id);
        let name = |id: &crate::identity::NodeId| ix(id).map_or("?".into(), |i| format!("n{i}"));
        let dst = self.world.ids[d];
        let mut out = String::new();
        let mut cur = s;
        for _ in 0..16 {
            let Some(node) = self.world.nodes[cur].node() else {
                out.push_str(" (down)");
                break;
            };
            let alive = self.world.nodes[cur].alive;
            out.push_str(&format!(
                "\n   n{cur}{}: {}",
                if alive { "" } else { " DEAD" },
                node.debug_route(&dst, &name)
            ));
            if cur == d || !alive {
                break;
            }
            let Some(j) = node.next_hop(&dst).and_then(|h| ix(&h)) else {
                break;
            };
            cur = j;
        }
        out
    }
}
