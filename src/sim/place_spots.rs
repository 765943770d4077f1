//! The candidate spots of the relay placement search: a grid over the
//! incident area, or spots every grid step along the roads, kept to the
//! scenario's parking area when it names one, never inside a building.

use super::SimError;
use super::obstacles::Pt;
use super::place::parkable;
use super::scenario::WorldSpec;

/// Most candidate spots a search takes: the spacing grows to fit.
pub const MAX_CANDIDATES: usize = 20_000;
/// Default number of spots the area is cut into when no spacing is given.
const DEFAULT_SPOTS: f64 = 2500.0;

/// The spots and how they were made.
#[derive(Debug, Clone, PartialEq)]
pub struct Spots {
    pub points: Vec<Pt>,
    pub grid_m: f64,
    /// In words, for the report.
    pub searched: String,
}

/// The box searched: the scenario's area joined with every node's position
/// (a scenario's area starts at the origin, its nodes may not).
pub fn search_box(spec: &WorldSpec) -> [f64; 4] {
    let mut b = [0.0, 0.0, spec.area.0, spec.area.1];
    for n in &spec.nodes {
        b = [
            b[0].min(n.pos.0),
            b[1].min(n.pos.1),
            b[2].max(n.pos.0),
            b[3].max(n.pos.1),
        ];
    }
    b
}

fn nice(x: f64) -> f64 {
    // Whole metres, so the spots are easy to read and to find again.
    x.ceil().max(1.0)
}

/// Build the candidate spots; `grid_m` (the command line's) wins over the
/// scenario's `[placement] grid_m`.
pub fn candidates(spec: &WorldSpec, grid_m: Option<f64>) -> Result<Spots, SimError> {
    let park = &spec.layout.parking;
    if let Some(g) = grid_m
        && !(g.is_finite() && g >= 1.0)
    {
        return Err(SimError::Input(
            "--place-grid must be at least 1 (metres)".into(),
        ));
    }
    let within = park.within.as_ref();
    let keep = |p: Pt| within.is_none_or(|(_, s)| s.contains(p)) && parkable(spec, p);
    let (points, grid, mut searched) = if park.roads_only {
        let len: f64 = spec
            .layout
            .roads
            .iter()
            .map(|r| {
                r.points
                    .windows(2)
                    .map(|w| super::scenario::dist(w[0], w[1]))
                    .sum::<f64>()
            })
            .sum();
        let mut g = grid_m
            .or(park.grid_m)
            .unwrap_or_else(|| nice((len / DEFAULT_SPOTS).max(5.0)));
        g = g.max(len / MAX_CANDIDATES as f64);
        let mut pts = Vec::new();
        for r in &spec.layout.roads {
            // One spot every g metres along the road, from its first point.
            let mut carry = 0.0;
            for w in r.points.windows(2) {
                let (a, b) = (w[0], w[1]);
                let d = super::scenario::dist(a, b);
                let mut t = carry;
                while t <= d {
                    let f = if d > 0.0 { t / d } else { 0.0 };
                    pts.push((a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f));
                    t += g;
                }
                carry = t - d;
            }
            if let Some(&last) = r.points.last() {
                pts.push(last);
            }
        }
        (pts, g, "on the roads".to_string())
    } else {
        let [x0, y0, x1, y1] = match within {
            Some((_, s)) => s.bbox(),
            None => search_box(spec),
        };
        let (w, h) = ((x1 - x0).max(1.0), (y1 - y0).max(1.0));
        let mut g = grid_m
            .or(park.grid_m)
            .unwrap_or_else(|| nice((w * h / DEFAULT_SPOTS).sqrt().max(5.0)));
        while ((w / g).floor() + 1.0) * ((h / g).floor() + 1.0) > MAX_CANDIDATES as f64 {
            g *= 1.25;
        }
        let (cols, rows) = ((w / g).floor() as usize, (h / g).floor() as usize);
        let mut pts = Vec::with_capacity((cols + 1) * (rows + 1));
        for r in 0..=rows {
            for c in 0..=cols {
                pts.push((x0 + c as f64 * g, y0 + r as f64 * g));
            }
        }
        (pts, g, "anywhere in the area".to_string())
    };
    let mut points: Vec<Pt> = points.into_iter().filter(|&p| keep(p)).collect();
    points.dedup();
    if let Some((name, _)) = within {
        searched = format!("{searched}, within {name}");
    }
    if points.is_empty() {
        return Err(SimError::Input(format!(
            "--place-relay: no spot to search {searched} (outside buildings)"
        )));
    }
    Ok(Spots {
        points,
        grid_m: (grid * 1000.0).round() / 1000.0,
        searched,
    })
}
