//! Worlds: generated topologies (`line`, `ring`, `grid`, `random`) and
//! scenario files that place handsets and trucks by hand.
//!
//! A scenario file looks like `scenarios/fireground.toml`:
//!
//! ```toml
//! name = "fireground"
//! area_m = [700.0, 400.0]          # bounds for mobility
//! [run]                            # optional overrides of the standard run
//! idle_s = 20.0
//! [[node]]
//! name = "engine-1"
//! at = [0.0, 0.0]
//! radios = ["handset-2g4", "truck-5g"]   # iface 0, iface 1, ...
//! base_station = true
//! [[node]]
//! name = "ff-1"
//! at = [60.0, 40.0]
//! mobility = { speed_mps = [0.5, 1.5], pause_s = 5.0 }
//! [[fail]]
//! node = "ff-3"
//! at_s = 40.0
//! [[link]]                         # per-link loss override (1.0 = blocked)
//! a = "ff-1"
//! b = "ff-2"
//! loss = 0.3
//! [[flow]]                         # probe flows (otherwise chosen at random)
//! from = "ff-5"
//! to = "engine-1"
//! ```
//!
//! Named places, handset groups placed by area, obstacles, roads and where
//! a relay may park are read by [`super::layout`]; `docs/SCENARIOS.md`
//! documents every key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::SimError;
use super::graph::Graph;
use super::layout::{self, Layout};
use super::obstacles;
use super::radio::RadioProfile;
use crate::rng::Rng;

/// Random waypoint mobility of one node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mobility {
    pub speed_mps: [f64; 2],
    #[serde(default)]
    pub pause_s: f64,
    /// Waypoints are drawn in this box `[x0, y0, x1, y1]` (default: the area).
    #[serde(default)]
    pub within: Option<[f64; 4]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub name: String,
    pub pos: (f64, f64),
    /// Profile index per interface (iface 0 first).
    pub radios: Vec<usize>,
    pub base_station: bool,
    pub mobility: Option<Mobility>,
}

/// Per-scenario changes to the standard run; command-line flags win.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOverrides {
    pub idle_s: Option<f64>,
    pub flows: Option<usize>,
    pub kills: Option<usize>,
    pub idle_kills: Option<usize>,
    pub floods: Option<usize>,
    pub duration_s: Option<f64>,
    pub loss: Option<f64>,
}

/// Everything the simulator needs to build a world.
#[derive(Debug, Clone)]
pub struct WorldSpec {
    pub name: String,
    pub scenario: Option<String>,
    pub topology: String,
    pub profiles: Vec<RadioProfile>,
    pub nodes: Vec<NodeSpec>,
    /// Loss override per unordered pair (lower index first).
    pub link_loss: BTreeMap<(usize, usize), f64>,
    /// Scheduled failures: (seconds, node).
    pub failures: Vec<(f64, usize)>,
    pub flows: Vec<(usize, usize)>,
    pub area: (f64, f64),
    pub run: RunOverrides,
    /// Places, obstacles, roads and parking rules of a scenario.
    pub layout: Layout,
}

impl WorldSpec {
    /// Whether two nodes can hear each other (some shared channel in range,
    /// obstacles included, not blocked by a loss override of 1).
    pub fn in_range(&self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.nodes[a].radios.len(), self.nodes[b].radios.len());
        (0..ra).any(|ia| (0..rb).any(|ib| self.radio_loss(a, ia, b, ib).is_some()))
    }

    /// Loss of one datagram from node `a`'s radio `ia` to node `b`'s radio
    /// `ib`, before the run's extra loss; `None` when `b` does not hear it.
    /// A `[[link]]` override replaces the distance and obstacle model.
    pub fn radio_loss(&self, a: usize, ia: usize, b: usize, ib: usize) -> Option<f64> {
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        let (pa, pb) = (&self.profiles[na.radios[ia]], &self.profiles[nb.radios[ib]]);
        if pa.channel != pb.channel || dist(na.pos, nb.pos) > pa.range_m.min(pb.range_m) {
            return None;
        }
        match self.link_loss.get(&(a.min(b), a.max(b))) {
            Some(&l) => (l < 1.0).then_some(l),
            None => obstacles::link_loss(pa, na.pos, pb, nb.pos, &self.layout.obstacles),
        }
    }

    /// The ground-truth graph at the current positions.
    pub fn graph(&self) -> Graph {
        let n = self.nodes.len();
        let mut g = Graph::new(n);
        for a in 0..n {
            for b in a + 1..n {
                if self.in_range(a, b) {
                    g.add_edge(a, b);
                }
            }
        }
        g.finish();
        g
    }
}

pub fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// The random stream generated worlds are placed with for `seed` (kept
/// apart from the run's own streams so a world does not change with them).
pub fn topology_rng(seed: u64) -> Rng {
    Rng::new(seed ^ 0x746f_706f_6c6f_6779)
}

/// Options of the generated topologies.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub nodes: usize,
    pub profile: String,
    pub degree: f64,
    pub min_diameter: u32,
}

/// Build a generated world. Nodes sit at 0.8 × range from their intended
/// neighbours and further than range from everyone else.
pub fn generate(topology: &str, opt: &GenOptions, rng: &mut Rng) -> Result<WorldSpec, SimError> {
    if opt.nodes < 2 {
        return Err(SimError::Input(format!(
            "--nodes must be at least 2, got {}",
            opt.nodes
        )));
    }
    let profile = RadioProfile::load(&opt.profile, None)?;
    let r = profile.range_m;
    let step = 0.8 * r;
    let n = opt.nodes;
    let area;
    let positions: Vec<(f64, f64)> = match topology {
        "line" => {
            area = (step * (n - 1) as f64, 0.0);
            (0..n).map(|i| (i as f64 * step, 0.0)).collect()
        }
        "ring" => {
            if n < 3 {
                return Err(SimError::Input("a ring needs at least 3 nodes".into()));
            }
            // Chord between neighbours = step; between i and i+2 it is longer
            // than range for every n >= 4 (and n = 3 is all neighbours anyway).
            let rad = step / (2.0 * (std::f64::consts::PI / n as f64).sin());
            area = (2.0 * rad, 2.0 * rad);
            (0..n)
                .map(|i| {
                    let a = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
                    (rad + rad * a.cos(), rad + rad * a.sin())
                })
                .collect()
        }
        "grid" => {
            let cols = (n as f64).sqrt().ceil() as usize;
            area = (step * (cols - 1) as f64, step * ((n - 1) / cols) as f64);
            (0..n)
                .map(|i| ((i % cols) as f64 * step, (i / cols) as f64 * step))
                .collect()
        }
        "random" => return random(opt, profile, rng),
        other => {
            return Err(SimError::Input(format!(
                "unknown topology {other:?} (expected line, ring, grid or random)"
            )));
        }
    };
    Ok(spec_from_positions(topology, profile, positions, area))
}

fn spec_from_positions(
    topology: &str,
    profile: RadioProfile,
    pos: Vec<(f64, f64)>,
    area: (f64, f64),
) -> WorldSpec {
    WorldSpec {
        name: format!("{topology}-{}", pos.len()),
        scenario: None,
        topology: topology.to_string(),
        profiles: vec![profile],
        nodes: pos
            .into_iter()
            .enumerate()
            .map(|(i, p)| NodeSpec {
                name: format!("n{}", i + 1),
                pos: p,
                radios: vec![0],
                base_station: false,
                mobility: None,
            })
            .collect(),
        link_loss: BTreeMap::new(),
        failures: Vec::new(),
        flows: Vec::new(),
        area,
        run: RunOverrides::default(),
        layout: Layout::default(),
    }
}

/// Random geometric graph: a rectangle sized for the target average degree,
/// resampled until connected; stretched when its diameter is too small.
fn random(opt: &GenOptions, profile: RadioProfile, rng: &mut Rng) -> Result<WorldSpec, SimError> {
    let n = opt.nodes;
    let r = profile.range_m;
    if opt.degree <= 0.0 || !opt.degree.is_finite() {
        return Err(SimError::Input("--degree must be positive".into()));
    }
    let area = n as f64 * std::f64::consts::PI * r * r / opt.degree;
    let mut aspect: f64 = 1.0;
    for _ in 0..400 {
        let w = (area * aspect).sqrt();
        let h = area / w;
        let pos: Vec<(f64, f64)> = (0..n).map(|_| (rng.f64() * w, rng.f64() * h)).collect();
        let spec = spec_from_positions("random", profile.clone(), pos, (w, h));
        let g = spec.graph();
        let alive = vec![true; n];
        if !g.connected(&alive) {
            continue;
        }
        if g.diameter(&alive) < opt.min_diameter {
            aspect *= 1.2;
            continue;
        }
        return Ok(spec);
    }
    Err(SimError::Input(format!(
        "no connected random mesh of {n} nodes with average degree {} and diameter >= {} found; \
         raise --degree or lower --min-diameter",
        opt.degree, opt.min_diameter
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    area_m: Option<[f64; 2]>,
    #[serde(default)]
    run: RunOverrides,
    #[serde(default, rename = "node")]
    nodes: Vec<NodeEntry>,
    #[serde(default, rename = "group")]
    groups: Vec<layout::GroupEntry>,
    #[serde(default, rename = "place")]
    places: Vec<layout::PlaceEntry>,
    #[serde(default, rename = "obstacle")]
    obstacles: Vec<layout::ObstacleEntry>,
    #[serde(default, rename = "road")]
    roads: Vec<layout::RoadEntry>,
    placement: Option<layout::PlacementEntry>,
    #[serde(default, rename = "fail")]
    failures: Vec<FailEntry>,
    #[serde(default, rename = "link")]
    links: Vec<LinkEntry>,
    #[serde(default, rename = "flow")]
    flows: Vec<FlowEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    name: String,
    /// `[x, y]` or the name of a place.
    at: toml::Value,
    #[serde(default = "default_radios")]
    radios: Vec<String>,
    #[serde(default)]
    base_station: bool,
    mobility: Option<Mobility>,
}

fn default_radios() -> Vec<String> {
    vec!["handset-2g4".to_string()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailEntry {
    node: String,
    at_s: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkEntry {
    a: String,
    b: String,
    loss: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowEntry {
    from: String,
    to: String,
}

/// Parse a scenario; `origin` names it in errors and in the report,
/// `base` resolves relative radio profile paths.
pub fn parse_scenario(
    text: &str,
    origin: &str,
    base: Option<&Path>,
) -> Result<WorldSpec, SimError> {
    let bad = |m: String| SimError::Input(format!("scenario {origin}: {m}"));
    let f: ScenarioFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let layout =
        layout::parse(&f.places, &f.obstacles, &f.roads, f.placement.as_ref()).map_err(&bad)?;
    // Groups become ordinary nodes after the hand-placed ones.
    let mut entries = Vec::with_capacity(f.nodes.len());
    for n in &f.nodes {
        let at = layout
            .resolve_at(&n.at)
            .map_err(|e| bad(format!("node {:?}: {e}", n.name)))?;
        entries.push((n, n.name.clone(), at, n.mobility.clone()));
    }
    let group_radios: Vec<NodeEntry> = f
        .groups
        .iter()
        .map(|g| NodeEntry {
            name: g.name.clone(),
            at: toml::Value::Array(Vec::new()),
            radios: g.radios.clone().unwrap_or_else(default_radios),
            base_station: g.base_station,
            mobility: None,
        })
        .collect();
    for (g, proto) in f.groups.iter().zip(&group_radios) {
        for (name, at, mobility) in layout::expand_group(g, &layout).map_err(&bad)? {
            entries.push((proto, name, at, mobility));
        }
    }
    if entries.len() < 2 {
        return Err(bad(format!(
            "needs at least 2 nodes, has {}",
            entries.len()
        )));
    }
    let mut index = BTreeMap::new();
    for (i, (_, name, _, _)) in entries.iter().enumerate() {
        if index.insert(name.clone(), i).is_some() {
            return Err(bad(format!("node name {name:?} used twice")));
        }
    }
    let lookup = |name: &str| {
        index
            .get(name)
            .copied()
            .ok_or_else(|| bad(format!("no node named {name:?}")))
    };
    let mut profiles: Vec<RadioProfile> = Vec::new();
    let mut nodes = Vec::new();
    for (n, name, at, mobility) in &entries {
        if n.radios.is_empty() {
            return Err(bad(format!("node {name:?} has no radio")));
        }
        let mut radios = Vec::new();
        for r in &n.radios {
            let idx = match profiles.iter().position(|p| &p.name == r) {
                Some(i) => i,
                None => {
                    profiles.push(RadioProfile::load(r, base)?);
                    profiles.len() - 1
                }
            };
            radios.push(idx);
        }
        if let Some(m) = mobility
            && !(m.speed_mps[0] > 0.0 && m.speed_mps[0] <= m.speed_mps[1] && m.pause_s >= 0.0)
        {
            return Err(bad(format!(
                "node {name:?}: mobility needs 0 < speed_mps[0] <= speed_mps[1]"
            )));
        }
        nodes.push(NodeSpec {
            name: name.clone(),
            pos: *at,
            radios,
            base_station: n.base_station,
            mobility: mobility.clone(),
        });
    }
    let mut link_loss = BTreeMap::new();
    for l in &f.links {
        let (a, b) = (lookup(&l.a)?, lookup(&l.b)?);
        if a == b || !(0.0..=1.0).contains(&l.loss) {
            return Err(bad(format!(
                "link {}-{}: needs two nodes and loss in [0, 1]",
                l.a, l.b
            )));
        }
        link_loss.insert((a.min(b), a.max(b)), l.loss);
    }
    let mut failures = Vec::new();
    for x in &f.failures {
        if !(x.at_s >= 0.0 && x.at_s.is_finite()) {
            return Err(bad(format!(
                "fail {}: at_s must be a time in seconds",
                x.node
            )));
        }
        failures.push((x.at_s, lookup(&x.node)?));
    }
    let mut flows = Vec::new();
    for x in &f.flows {
        let (a, b) = (lookup(&x.from)?, lookup(&x.to)?);
        if a == b {
            return Err(bad(format!(
                "flow {} -> {}: source and destination are the same",
                x.from, x.to
            )));
        }
        flows.push((a, b));
    }
    let area = match f.area_m {
        Some([w, h]) if w > 0.0 && h > 0.0 => (w, h),
        Some(_) => return Err(bad("area_m must be two positive numbers".into())),
        None => {
            let w = nodes.iter().map(|n| n.pos.0).fold(0.0, f64::max);
            let h = nodes.iter().map(|n| n.pos.1).fold(0.0, f64::max);
            (w.max(1.0), h.max(1.0))
        }
    };
    Ok(WorldSpec {
        name: f.name,
        scenario: Some(origin.to_string()),
        topology: "scenario".into(),
        profiles,
        nodes,
        link_loss,
        failures,
        flows,
        area,
        run: f.run,
        layout,
    })
}

/// The scenario `callsign sim` runs without arguments.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/fireground.toml");

pub fn load_scenario(path: &Path) -> Result<WorldSpec, SimError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::Input(format!("cannot read scenario {}: {e}", path.display())))?;
    parse_scenario(&text, &path.display().to_string(), path.parent())
}
