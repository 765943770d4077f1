//! Judging the routing state against the ground truth by following every
//! node's `next_hop(dest)` hop by hop.
//!
//! A route from `s` to `d` is *valid* when the walk reaches `d` through live
//! nodes, each hop between nodes that are in radio range of each other. A
//! *loop* is a cycle of next hops among live nodes (range is not required:
//! a cycle in the routing tables is a loop whatever the radio does).

use super::graph::Graph;
use super::world::World;

const UNKNOWN: u8 = 0;
const ON_PATH: u8 = 1;
const VALID: u8 = 2;
/// Reaches the destination, but some hop is out of range.
const STALE: u8 = 3;
const BROKEN: u8 = 4;

/// Outcome of one check over all pairs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CheckResult {
    /// Every live node has a valid route to every live node of its component.
    pub all_valid: bool,
    /// Distinct cycles seen (each counted once per destination per check).
    pub loops: u64,
    /// Pairs in one component without a valid route.
    pub invalid_pairs: u64,
}

const NONE: u32 = u32::MAX;

/// Every node's next hop to every node, read in one pass over each node's
/// route table (a lookup per pair would cost a tree search each). Kept
/// across checks: a row is read again only when its node's next hops
/// changed (most do not between two checks once a mesh has converged,
/// and reading 1000 tables of 1000 routes every check was a tenth of a
/// 1000-node run).
#[derive(Default)]
pub struct NextHops {
    n: usize,
    nh: Vec<u32>,
    /// Each row's node's next-hop epoch when it was read (`None`: not read).
    epochs: Vec<Option<u64>>,
}

impl NextHops {
    /// Bring every row up to date with `w`.
    pub fn refresh<H>(&mut self, w: &World<H>) {
        let n = w.len();
        if self.n != n {
            *self = NextHops {
                n,
                nh: vec![NONE; n * n],
                epochs: vec![None; n],
            };
        }
        let ids = w.sorted_ids();
        // Next hops are few per node: their indexes are looked up once.
        let mut hops: Vec<(crate::identity::NodeId, u32)> = Vec::new();
        for s in 0..n {
            let row = &mut self.nh[s * n..(s + 1) * n];
            let Some(node) = w.node(s) else {
                if self.epochs[s].take().is_some() {
                    row.fill(NONE);
                }
                continue;
            };
            let epoch = node.next_hop_epoch();
            if self.epochs[s] == Some(epoch) {
                continue;
            }
            self.epochs[s] = Some(epoch);
            row.fill(NONE);
            hops.clear();
            // Routes come in destination order, like `ids`: merge the two
            // instead of searching for every destination.
            let mut k = 0;
            for (dest, hop) in node.next_hops() {
                while k < ids.len() && ids[k].0 < *dest {
                    k += 1;
                }
                if k == ids.len() {
                    break;
                }
                if ids[k].0 != *dest {
                    continue;
                }
                let v = match hops.iter().find(|(h, _)| h == hop) {
                    Some((_, v)) => *v,
                    None => {
                        let v = w.index(hop).map_or(NONE, |v| v as u32);
                        hops.push((*hop, v));
                        v
                    }
                };
                row[ids[k].1 as usize] = v;
            }
        }
    }

    pub fn get(&self, s: usize, d: usize) -> Option<usize> {
        let v = self.nh[s * self.n + d];
        (v != NONE).then_some(v as usize)
    }
}

/// Walk every (source, destination) pair with a per-destination memo, so a
/// check costs one next-hop lookup per pair.
pub fn check_all(hops: &NextHops, g: &Graph, alive: &[bool]) -> CheckResult {
    let n = hops.n;
    let comp = g.components(alive);
    let mut res = CheckResult {
        all_valid: true,
        loops: 0,
        invalid_pairs: 0,
    };
    let mut memo = vec![UNKNOWN; n];
    let mut path: Vec<(usize, bool)> = Vec::new();
    for d in (0..n).filter(|&d| alive[d]) {
        memo.fill(UNKNOWN);
        memo[d] = VALID;
        for s in (0..n).filter(|&s| alive[s]) {
            let st = walk(hops, g, alive, d, s, &mut memo, &mut path, &mut res.loops);
            if st != VALID && comp[s] == comp[d] {
                res.all_valid = false;
                res.invalid_pairs += 1;
            }
        }
    }
    res
}

/// Memoised walk from `s` towards `d`; returns `s`'s state.
#[allow(clippy::too_many_arguments)]
fn walk(
    w: &NextHops,
    g: &Graph,
    alive: &[bool],
    d: usize,
    s: usize,
    memo: &mut [u8],
    path: &mut Vec<(usize, bool)>,
    loops: &mut u64,
) -> u8 {
    path.clear();
    let mut cur = s;
    let mut tail = loop {
        match memo[cur] {
            VALID | STALE | BROKEN => break memo[cur],
            ON_PATH => {
                *loops += 1;
                break BROKEN;
            }
            _ => {}
        }
        memo[cur] = ON_PATH;
        match w.get(cur, d) {
            Some(nh) if alive[nh] => {
                path.push((cur, g.adjacent(cur, nh)));
                cur = nh;
            }
            _ => {
                path.push((cur, false));
                break BROKEN;
            }
        }
    };
    for &(u, adjacent) in path.iter().rev() {
        if tail == VALID && !adjacent {
            tail = STALE;
        }
        memo[u] = tail;
    }
    memo[s]
}

/// The path `s`, ..., `d` if the route from `s` is valid now.
pub fn valid_path<H>(
    w: &World<H>,
    g: &Graph,
    alive: &[bool],
    s: usize,
    d: usize,
) -> Option<Vec<usize>> {
    let mut path = vec![s];
    let mut cur = s;
    while cur != d {
        let nh = w.next_hop(cur, d)?;
        if !alive[nh] || !g.adjacent(cur, nh) || path.len() > w.len() {
            return None;
        }
        path.push(nh);
        cur = nh;
    }
    Some(path)
}

/// Pairs (source, destination) among live nodes whose current route has
/// `v` as an intermediate hop.
pub fn pairs_through(hops: &NextHops, alive: &[bool], v: usize) -> Vec<(usize, usize)> {
    const THROUGH: u8 = 1;
    const NOT: u8 = 2;
    const VISITING: u8 = 3;
    let n = hops.n;
    let mut out = Vec::new();
    let mut memo = vec![UNKNOWN; n];
    let mut path = Vec::new();
    for d in (0..n).filter(|&d| alive[d] && d != v) {
        memo.fill(UNKNOWN);
        memo[d] = NOT;
        memo[v] = THROUGH;
        for s in (0..n).filter(|&s| alive[s] && s != v && s != d) {
            path.clear();
            let mut cur = s;
            let tail = loop {
                match memo[cur] {
                    THROUGH => break THROUGH,
                    NOT | VISITING => break NOT,
                    _ => {}
                }
                memo[cur] = VISITING;
                path.push(cur);
                match hops.get(cur, d) {
                    Some(nh) if alive[nh] || nh == v => cur = nh,
                    _ => break NOT,
                }
            };
            for &u in &path {
                memo[u] = tail;
            }
            if tail == THROUGH {
                out.push((s, d));
            }
        }
    }
    out
}
