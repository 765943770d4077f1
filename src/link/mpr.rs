//! Flood relay (MPR) selection from the neighbours' IHU lists.
//!
//! [`select_mprs`] is RFC 3626's greedy cover: the fewest one-hop
//! neighbours that reach every strict two-hop neighbour. It ignores link
//! quality, so it favours the neighbours that reach furthest, which sit at
//! the edge of radio range where links are the lossiest: on a 100-node
//! mesh at 5 % extra loss a third of the frames of a talkgroup missed some
//! member on the first pass.
//!
//! [`select_mprs_by_quality`] weighs each two-hop path by its delivery
//! probability (our hellos' reception at the relay, times the two-hop
//! neighbour's reception at the relay, a symmetric stand-in for the
//! relay's reception there) and counts a relay as covering a two-hop
//! neighbour only if its path is within [`SLACK`] of that neighbour's best.
//! A two-hop neighbour whose best path delivers less than `double_below`
//! is covered twice where two relays reach it (double coverage of lossy
//! two-hop neighbours). Deterministic: ties break on NodeId.

use std::collections::{BTreeMap, BTreeSet};

use crate::identity::NodeId;

/// A relay covers a two-hop neighbour when its path's delivery is at most
/// this much below the best path's.
pub const SLACK: f64 = 0.1;
/// A second relay of a lossy two-hop neighbour must deliver at least this
/// share of the best path's probability.
pub const SECOND_SHARE: f64 = 0.5;

/// Greedy MPR selection (RFC 3626 §8.3.1): choose among symmetric
/// neighbours `n1` a small set that covers every strict two-hop neighbour.
/// Deterministic: ties break on NodeId.
pub fn select_mprs(me: NodeId, n1: &[(NodeId, &[NodeId])]) -> Vec<NodeId> {
    let one_hop: BTreeSet<NodeId> = n1.iter().map(|(id, _)| *id).collect();
    let mut uncovered: BTreeSet<NodeId> = n1
        .iter()
        .flat_map(|(_, two)| two.iter().copied())
        .filter(|x| *x != me && !one_hop.contains(x))
        .collect();
    let mut chosen: BTreeSet<NodeId> = BTreeSet::new();
    // First: neighbours that are the only way to some two-hop node.
    for x in uncovered.clone() {
        let via: Vec<NodeId> = n1
            .iter()
            .filter(|(_, two)| two.contains(&x))
            .map(|(id, _)| *id)
            .collect();
        if via.len() == 1 {
            chosen.insert(via[0]);
        }
    }
    for c in &chosen {
        if let Some((_, two)) = n1.iter().find(|(id, _)| id == c) {
            for x in two.iter() {
                uncovered.remove(x);
            }
        }
    }
    // Then: greedily the neighbour covering the most remaining.
    while !uncovered.is_empty() {
        let best = n1
            .iter()
            .filter(|(id, _)| !chosen.contains(id))
            .map(|(id, two)| (two.iter().filter(|x| uncovered.contains(x)).count(), *id))
            .filter(|(n, _)| *n > 0)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, id)) = best else { break };
        chosen.insert(id);
        if let Some((_, two)) = n1.iter().find(|(i, _)| *i == id) {
            for x in two.iter() {
                uncovered.remove(x);
            }
        }
    }
    chosen.into_iter().collect()
}

/// One-hop neighbour for [`select_mprs_by_quality`]: its id, the
/// delivery probability of our packets to it, and its neighbours with the
/// quality of each (`q` in twentieths: 20 = perfect).
pub type QualityNeighbour<'a> = (NodeId, f64, &'a [(NodeId, u8)]);

/// Quality-aware MPR selection (see the module documentation).
pub fn select_mprs_by_quality(
    me: NodeId,
    n1: &[QualityNeighbour<'_>],
    slack: f64,
    double_below: f64,
) -> Vec<NodeId> {
    let one_hop: BTreeSet<NodeId> = n1.iter().map(|(id, _, _)| *id).collect();
    // Two-hop neighbour -> every (relay index, path delivery).
    let mut paths: BTreeMap<NodeId, Vec<(usize, f64)>> = BTreeMap::new();
    for (k, (_, p1, two)) in n1.iter().enumerate() {
        for (x, q) in two.iter() {
            if *x == me || one_hop.contains(x) {
                continue;
            }
            let p = p1 * f64::from(*q).min(20.0) / 20.0;
            paths.entry(*x).or_default().push((k, p));
        }
    }
    // What each two-hop neighbour needs: one good relay, and a second
    // fair one when even its best path is lossy.
    struct Need {
        good: Vec<usize>,
        fair: Vec<usize>,
        want: usize,
        have_good: bool,
        have: usize,
    }
    impl Need {
        fn needs(&self, k: usize) -> bool {
            (!self.have_good && self.good.contains(&k))
                || (self.have < self.want && self.fair.contains(&k))
        }
        fn take(&mut self, k: usize) {
            if self.good.contains(&k) {
                self.have_good = true;
            }
            if self.fair.contains(&k) {
                self.have += 1;
            }
        }
    }
    let mut needs: Vec<Need> = Vec::with_capacity(paths.len());
    for ps in paths.values() {
        let best = ps.iter().map(|(_, p)| *p).fold(0.0, f64::max);
        let pick = |min: f64| -> Vec<usize> {
            ps.iter()
                .filter(|(_, p)| *p >= min)
                .map(|(k, _)| *k)
                .collect()
        };
        let good = pick(best - slack);
        let fair = pick(best * SECOND_SHARE);
        let want = if best < double_below && fair.len() >= 2 {
            2
        } else {
            1
        };
        needs.push(Need {
            good,
            fair,
            want,
            have_good: false,
            have: 0,
        });
    }
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    // Relays that are the only good way to some two-hop neighbour.
    let forced: BTreeSet<usize> = needs
        .iter()
        .filter(|n| n.good.len() == 1)
        .map(|n| n.good[0])
        .collect();
    for k in forced {
        chosen.insert(k);
        needs.iter_mut().for_each(|n| n.take(k));
    }
    // Then greedily: the relay that most remaining needs ask for.
    loop {
        let mut best: Option<(usize, usize)> = None;
        for k in (0..n1.len()).filter(|k| !chosen.contains(k)) {
            let score = needs.iter().filter(|n| n.needs(k)).count();
            let better = match best {
                _ if score == 0 => false,
                None => true,
                Some((s, b)) => score > s || (score == s && n1[k].0 < n1[b].0),
            };
            if better {
                best = Some((score, k));
            }
        }
        let Some((_, k)) = best else { break };
        chosen.insert(k);
        needs.iter_mut().for_each(|n| n.take(k));
    }
    let mut out: Vec<NodeId> = chosen.into_iter().map(|k| n1[k].0).collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> NodeId {
        NodeId([b; 16])
    }

    #[test]
    fn mpr_covers_all_two_hop_neighbours_with_few_relays() {
        // Star of 4 neighbours; 2 and 3 both reach 10, only 4 reaches 11.
        let a = [id(10)];
        let b = [id(10), id(12)];
        let c = [id(11)];
        let n1: Vec<(NodeId, &[NodeId])> =
            vec![(id(1), &[]), (id(2), &a), (id(3), &b), (id(4), &c)];
        let m = select_mprs(id(0), &n1);
        assert_eq!(m, vec![id(3), id(4)]);
    }

    #[test]
    fn mpr_ignores_one_hop_and_self() {
        let a = [id(0), id(2)];
        let n1: Vec<(NodeId, &[NodeId])> = vec![(id(1), &a), (id(2), &[])];
        assert!(select_mprs(id(0), &n1).is_empty());
    }

    #[test]
    fn a_good_path_is_preferred_to_a_far_reaching_lossy_one() {
        // Relay 1 reaches 10, 11 and 12 over poor links; relays 2 and 3
        // reach them well. The classic cover takes 1 alone.
        let far = [(id(10), 12), (id(11), 12), (id(12), 12)];
        let good_a = [(id(10), 20), (id(11), 19)];
        let good_b = [(id(12), 20)];
        let n1: Vec<QualityNeighbour> = vec![
            (id(1), 0.8, &far),
            (id(2), 1.0, &good_a),
            (id(3), 1.0, &good_b),
        ];
        assert_eq!(
            select_mprs_by_quality(id(0), &n1, SLACK, 0.0),
            vec![id(2), id(3)]
        );
        let plain: Vec<(NodeId, Vec<NodeId>)> = n1
            .iter()
            .map(|(i, _, t)| (*i, t.iter().map(|(x, _)| *x).collect()))
            .collect();
        let refs: Vec<(NodeId, &[NodeId])> =
            plain.iter().map(|(i, t)| (*i, t.as_slice())).collect();
        assert_eq!(select_mprs(id(0), &refs), vec![id(1)]);
    }

    #[test]
    fn a_lossy_two_hop_neighbour_gets_two_relays() {
        let a = [(id(10), 15)];
        let b = [(id(10), 14)];
        let n1: Vec<QualityNeighbour> = vec![(id(1), 0.95, &a), (id(2), 0.95, &b)];
        assert_eq!(select_mprs_by_quality(id(0), &n1, SLACK, 0.0), vec![id(1)]);
        assert_eq!(
            select_mprs_by_quality(id(0), &n1, SLACK, 0.85),
            vec![id(1), id(2)]
        );
        // A good path needs one.
        let c = [(id(10), 20)];
        let n1: Vec<QualityNeighbour> = vec![(id(1), 1.0, &c), (id(2), 0.95, &b)];
        assert_eq!(select_mprs_by_quality(id(0), &n1, SLACK, 0.85), vec![id(1)]);
    }
}
