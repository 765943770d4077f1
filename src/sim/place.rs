//! Where to park the relay truck: a search over candidate spots on the
//! plane for the one that connects the most handsets to a base station,
//! with the best worst-case path.
//!
//! The search runs on the radio model, not on simulations: every link's
//! loss comes from [`super::obstacles::link_loss`] (distance, obstacles,
//! `[[link]]` overrides, the run's extra loss), its ETX is
//! `1 / ((1 - l_ab)(1 - l_ba))` and its cost is the ETX scaled by the radio's
//! cost weight, as the routing protocol weighs it. For each spot, one
//! Dijkstra from every base station at once gives each handset its
//! cheapest path to a base station; the spot is ranked by (1) handsets
//! connected, (2) the worst hop count of those paths, (3) the worst path
//! ETX, (4) the mean path ETX, (5) its order in the candidate list. No
//! randomness: the same scenario gives the same answer.
//!
//! Several trucks are placed greedily: the best spot for the first, then
//! the best spot for the second with the first parked, and so on.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::Serialize;

use super::SimError;
use super::obstacles::{self, Pt, Shape};
use super::place_spots::{self, Spots};
use super::radio::RadioProfile;
use super::scenario::{NodeSpec, WorldSpec, dist};

/// What to place.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceRequest {
    /// How many trucks.
    pub count: usize,
    /// The relay's radio profile: a shipped name or a `.toml` path.
    pub profile: String,
    /// Candidate spacing in metres (default: the scenario's, or chosen
    /// from the size of the area).
    pub grid_m: Option<f64>,
    /// Spots to list per truck, the best included.
    pub top: usize,
    /// Extra loss on every link, as in the run.
    pub extra_loss: f64,
}

/// One candidate spot and what parking there gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spot {
    /// `None` for the scenario as it is, without the truck.
    pub at: Option<[f64; 2]>,
    pub handsets_connected: usize,
    pub handsets_cut_off: usize,
    /// Names of the handsets with no path to a base station.
    pub cut_off: Vec<String>,
    /// Of the connected handsets' cheapest paths: the most hops.
    pub worst_hops: Option<u32>,
    /// ... the highest path ETX (sum of the links' ETX).
    pub worst_etx: Option<f64>,
    pub mean_etx: Option<f64>,
}

/// One truck of a greedy placement: where it goes and the runners-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub relay: String,
    pub best: Spot,
    /// The next best spots, each at least `spread_m` from every better one.
    pub runners_up: Vec<Spot>,
}

/// The answer of a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    pub scenario: String,
    pub relay_profile: String,
    /// Radios of each placed truck: the handsets' radio, then the profile
    /// (just the profile when it is the handsets' radio).
    pub relay_radios: Vec<String>,
    /// A truck with a backbone radio is a base station like the others.
    pub relay_base_station: bool,
    pub relays: usize,
    pub method: String,
    pub candidates: usize,
    pub grid_m: f64,
    /// Where spots were taken: "anywhere in the area", "on the roads", ...
    pub searched: String,
    pub spread_m: f64,
    /// Nodes of the scenario (trucks not counted).
    pub nodes: usize,
    pub handsets: usize,
    pub base_stations: Vec<String>,
    pub without_relay: Spot,
    pub steps: Vec<Step>,
    /// Every candidate of the last step and the handsets it leaves cut
    /// off (the picture's map of spots).
    #[serde(skip)]
    pub map: Vec<(Pt, usize)>,
}

impl Placement {
    /// Where the trucks go, in order.
    pub fn spots(&self) -> Vec<Pt> {
        self.steps
            .iter()
            .filter_map(|s| s.best.at.map(|a| (a[0], a[1])))
            .collect()
    }
}

/// A link of the model: the other end, its cost (ETX × weight), its ETX.
type ModelLink = (u32, f64, f64);

/// A model node: position, radios (profiles) and whether it is a target.
#[derive(Clone)]
struct ModelNode {
    pos: Pt,
    radios: Vec<usize>,
}

/// Link costs between model nodes, plus one candidate's links.
struct Net<'a> {
    spec: &'a WorldSpec,
    profiles: Vec<RadioProfile>,
    nodes: Vec<ModelNode>,
    adj: Vec<Vec<ModelLink>>,
    extra_loss: f64,
}

#[derive(PartialEq)]
struct Item(f64, u32, u32);
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    // Reversed (min-heap): cheapest first, then fewer hops, then lower index.
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0)
            .then(o.1.cmp(&self.1))
            .then(o.2.cmp(&self.2))
    }
}

impl<'a> Net<'a> {
    /// The best link between two model nodes: (cost, etx).
    fn link(&self, u: usize, v: usize) -> Option<(f64, f64)> {
        let (a, b) = (&self.nodes[u], &self.nodes[v]);
        let n = self.spec.nodes.len();
        let x = 1.0 - self.extra_loss;
        let mut best: Option<(f64, f64)> = None;
        for (ia, &ra) in a.radios.iter().enumerate() {
            for (ib, &rb) in b.radios.iter().enumerate() {
                let (pa, pb) = (&self.profiles[ra], &self.profiles[rb]);
                let (lab, lba) = if u < n && v < n {
                    // Both from the scenario: its overrides apply.
                    (
                        self.spec.radio_loss(u, ia, v, ib),
                        self.spec.radio_loss(v, ib, u, ia),
                    )
                } else {
                    let o = &self.spec.layout.obstacles;
                    (
                        obstacles::link_loss(pa, a.pos, pb, b.pos, o),
                        obstacles::link_loss(pb, b.pos, pa, a.pos, o),
                    )
                };
                let (Some(lab), Some(lba)) = (lab, lba) else {
                    continue;
                };
                let etx = obstacles::etx(1.0 - (1.0 - lab) * x, 1.0 - (1.0 - lba) * x);
                let w = f64::from(pa.cost_weight.max(pb.cost_weight)) / 256.0;
                let c = (etx * w, etx);
                if best.is_none_or(|b| c.0 < b.0) {
                    best = Some(c);
                }
            }
        }
        best
    }

    fn add_node(&mut self, m: ModelNode) -> usize {
        let v = self.nodes.len();
        self.nodes.push(m);
        self.adj.push(Vec::new());
        for u in 0..v {
            if let Some((c, e)) = self.link(u, v) {
                self.adj[u].push((v as u32, c, e));
                self.adj[v].push((u as u32, c, e));
            }
        }
        v
    }

    /// Cheapest path from any base station to every node: (cost, hops,
    /// path ETX), with `cand` (a node's index and its links) added.
    fn paths(&self, bases: &[usize], cand: Option<(usize, &[ModelLink])>) -> Vec<(f64, u32, f64)> {
        let total = self.nodes.len() + usize::from(cand.is_some());
        let mut best = vec![(f64::INFINITY, u32::MAX, 0.0); total];
        let mut to_cand = vec![None; total];
        if let Some((_, links)) = cand {
            for &(u, c, e) in links {
                to_cand[u as usize] = Some((c, e));
            }
        }
        let mut heap = BinaryHeap::new();
        for &b in bases {
            best[b] = (0.0, 0, 0.0);
            heap.push(Item(0.0, 0, b as u32));
        }
        while let Some(Item(c, h, u)) = heap.pop() {
            let u = u as usize;
            if (c, h) != (best[u].0, best[u].1) {
                continue;
            }
            let mut relax = |v: usize, lc: f64, le: f64, best: &mut Vec<(f64, u32, f64)>| {
                let nc = c + lc;
                let old = best[v];
                if nc < old.0 || (nc == old.0 && h + 1 < old.1) {
                    best[v] = (nc, h + 1, best[u].2 + le);
                    heap.push(Item(nc, h + 1, v as u32));
                }
            };
            if let Some((ci, links)) = cand
                && u == ci
            {
                for &(v, lc, le) in links {
                    relax(v as usize, lc, le, &mut best);
                }
            } else {
                for &(v, lc, le) in &self.adj[u] {
                    relax(v as usize, lc, le, &mut best);
                }
                if let (Some((ci, _)), Some((lc, le))) = (cand, to_cand[u]) {
                    relax(ci, lc, le, &mut best);
                }
            }
        }
        best
    }
}

/// Rank key of a spot: more connected, then fewer worst hops, lower worst
/// ETX, lower mean ETX.
fn better(a: &Spot, b: &Spot) -> Ordering {
    let f = |x: Option<f64>| x.unwrap_or(f64::INFINITY);
    b.handsets_connected
        .cmp(&a.handsets_connected)
        .then(
            a.worst_hops
                .unwrap_or(u32::MAX)
                .cmp(&b.worst_hops.unwrap_or(u32::MAX)),
        )
        .then(f(a.worst_etx).total_cmp(&f(b.worst_etx)))
        .then(f(a.mean_etx).total_cmp(&f(b.mean_etx)))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn score(spec: &WorldSpec, handsets: &[usize], at: Option<Pt>, paths: &[(f64, u32, f64)]) -> Spot {
    let mut cut_off = Vec::new();
    let (mut hops, mut worst, mut sum, mut k) = (0u32, 0.0f64, 0.0, 0usize);
    for &h in handsets {
        let (c, hp, e) = paths[h];
        if c.is_finite() {
            hops = hops.max(hp);
            worst = worst.max(e);
            sum += e;
            k += 1;
        } else {
            cut_off.push(spec.nodes[h].name.clone());
        }
    }
    Spot {
        at: at.map(|p| [round3(p.0), round3(p.1)]),
        handsets_connected: k,
        handsets_cut_off: cut_off.len(),
        cut_off,
        worst_hops: (k > 0).then_some(hops),
        worst_etx: (k > 0).then(|| round3(worst)),
        mean_etx: (k > 0).then(|| round3(sum / k as f64)),
    }
}

/// The radio every handset uses first: the most common first radio of the
/// nodes that are not base stations (first seen wins a tie).
fn access_profile(spec: &WorldSpec, handsets: &[usize]) -> Option<usize> {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for &h in handsets {
        let r = spec.nodes[h].radios[0];
        match counts.iter_mut().find(|c| c.0 == r) {
            Some(c) => c.1 += 1,
            None => counts.push((r, 1)),
        }
    }
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|c| c.0)
}

/// Search the spots for `req.count` trucks.
pub fn search(spec: &WorldSpec, req: &PlaceRequest) -> Result<Placement, SimError> {
    let bad = |m: String| SimError::Input(format!("--place-relay: {m}"));
    if req.count == 0 || req.count > 16 {
        return Err(bad("place 1 to 16 trucks".into()));
    }
    let n = spec.nodes.len();
    let bases: Vec<usize> = (0..n).filter(|&i| spec.nodes[i].base_station).collect();
    let handsets: Vec<usize> = (0..n).filter(|&i| !spec.nodes[i].base_station).collect();
    if bases.is_empty() {
        return Err(bad(format!(
            "{} has no base station to connect handsets to (mark one with base_station = true)",
            spec.name
        )));
    }
    let access = access_profile(spec, &handsets)
        .ok_or_else(|| bad(format!("{} has no handsets to connect", spec.name)))?;
    let relay = RadioProfile::load(&req.profile, None)?;
    let mut profiles = spec.profiles.clone();
    let access_name = profiles[access].name.clone();
    let mut radios = vec![access];
    if relay.name != access_name {
        radios.push(profiles.len());
        profiles.push(relay.clone());
    }
    let mut net = Net {
        spec,
        profiles,
        nodes: spec
            .nodes
            .iter()
            .map(|s| ModelNode {
                pos: s.pos,
                radios: s.radios.clone(),
            })
            .collect(),
        adj: vec![Vec::new(); n],
        extra_loss: req.extra_loss,
    };
    for v in 0..n {
        for u in 0..v {
            if let Some((c, e)) = net.link(u, v) {
                net.adj[u].push((v as u32, c, e));
                net.adj[v].push((u as u32, c, e));
            }
        }
    }
    let access_range = net.profiles[access].range_m;
    let Spots {
        points,
        grid_m,
        searched,
    } = place_spots::candidates(spec, req.grid_m)?;
    let spread_m = (2.0 * grid_m).max(access_range / 3.0);
    let without_relay = score(spec, &handsets, None, &net.paths(&bases, None));
    let mut steps = Vec::new();
    let mut map = Vec::new();
    let mut placed: Vec<Pt> = Vec::new();
    let mut links = Vec::new();
    for k in 0..req.count {
        let mut ranked: Vec<(Spot, usize)> = Vec::with_capacity(points.len());
        let cand_index = net.nodes.len();
        for (ci, &p) in points.iter().enumerate() {
            if placed.iter().any(|&q| dist(p, q) < grid_m / 2.0) {
                continue;
            }
            net.nodes.push(ModelNode {
                pos: p,
                radios: radios.clone(),
            });
            links.clear();
            for u in 0..cand_index {
                if let Some((c, e)) = net.link(u, cand_index) {
                    links.push((u as u32, c, e));
                }
            }
            net.nodes.pop();
            let paths = net.paths(&bases, Some((cand_index, &links)));
            ranked.push((score(spec, &handsets, Some(p), &paths), ci));
        }
        ranked.sort_by(|a, b| better(&a.0, &b.0).then(a.1.cmp(&b.1)));
        let Some((best, _)) = ranked.first().cloned() else {
            return Err(bad("no candidate spot left to search".into()));
        };
        let mut listed: Vec<Pt> = Vec::new();
        let mut runners_up = Vec::new();
        for (s, ci) in &ranked {
            if listed.len() >= req.top.max(1) {
                break;
            }
            let p = points[*ci];
            if listed.iter().all(|&q| dist(p, q) >= spread_m) {
                if !listed.is_empty() {
                    runners_up.push(s.clone());
                }
                listed.push(p);
            }
        }
        if k + 1 == req.count {
            map = ranked
                .iter()
                .map(|(s, ci)| (points[*ci], s.handsets_cut_off))
                .collect();
            map.sort_by(|a, b| a.0.0.total_cmp(&b.0.0).then(a.0.1.total_cmp(&b.0.1)));
        }
        let at = best.at.map(|a| (a[0], a[1])).unwrap_or_default();
        placed.push(at);
        net.add_node(ModelNode {
            pos: at,
            radios: radios.clone(),
        });
        steps.push(Step {
            relay: relay_name(spec, k),
            best,
            runners_up,
        });
    }
    let relay_radios: Vec<String> = radios
        .iter()
        .map(|&r| net.profiles[r].name.clone())
        .collect();
    Ok(Placement {
        scenario: spec.name.clone(),
        relay_profile: relay.name.clone(),
        relay_base_station: relay_radios.len() > 1,
        relay_radios,
        relays: req.count,
        method: if req.count > 1 {
            "greedy: each truck at the best spot with the ones before it parked".into()
        } else {
            "every candidate spot ranked".into()
        },
        candidates: points.len(),
        grid_m,
        searched,
        spread_m: round3(spread_m),
        nodes: n,
        handsets: handsets.len(),
        base_stations: bases.iter().map(|&b| spec.nodes[b].name.clone()).collect(),
        without_relay,
        steps,
        map,
    })
}

/// `relay-K`, or `relay-K-placed` if the scenario already has that name.
fn relay_name(spec: &WorldSpec, k: usize) -> String {
    let name = format!("relay-{}", k + 1);
    if spec.nodes.iter().any(|n| n.name == name) {
        format!("{name}-placed")
    } else {
        name
    }
}

/// The scenario with the trucks parked where the search put them (added
/// after every other node, so the others keep their addresses).
pub fn with_relays(spec: &WorldSpec, p: &Placement) -> Result<WorldSpec, SimError> {
    let mut s = spec.clone();
    let mut radios = Vec::new();
    for name in &p.relay_radios {
        let idx = match s.profiles.iter().position(|x| &x.name == name) {
            Some(i) => i,
            None => {
                s.profiles.push(RadioProfile::load(&p.relay_profile, None)?);
                s.profiles.len() - 1
            }
        };
        radios.push(idx);
    }
    for (step, at) in p.steps.iter().zip(p.spots()) {
        s.nodes.push(NodeSpec {
            name: step.relay.clone(),
            pos: at,
            radios: radios.clone(),
            base_station: p.relay_base_station,
            mobility: None,
        });
    }
    Ok(s)
}

/// Whether `p` is a spot a truck can take: not inside a building.
pub fn parkable(spec: &WorldSpec, p: Pt) -> bool {
    !spec
        .layout
        .obstacles
        .iter()
        .any(|o| matches!(o.shape, Shape::Polygon(_)) && o.shape.contains(p))
}
