//! The incident ground of a scenario: named places (command post, staging,
//! the building), obstacles that attenuate links, roads, where a relay
//! truck may park, and handset groups placed by area ("8 handsets inside
//! the warehouse"). Read from the scenario's TOML (`docs/SCENARIOS.md`
//! documents every key); each bad entry is an error that names it.

use serde::Deserialize;

use super::obstacles::{Attenuation, Obstacle, Pt, Shape};
use super::scenario::Mobility;

/// A named spot or area of the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub name: String,
    /// What it is, in words ("command post", "staging").
    pub kind: String,
    /// Its point: the given one, or the middle of its area.
    pub at: Pt,
    /// Its area, when it has one.
    pub area: Option<Shape>,
}

/// A road or track a truck can drive and park on.
#[derive(Debug, Clone, PartialEq)]
pub struct Road {
    pub name: String,
    pub points: Vec<Pt>,
}

/// Where the relay placement search may put a truck.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parking {
    /// Only on the roads (spots every grid step along them).
    pub roads_only: bool,
    /// Only inside this area (and its name, for the report).
    pub within: Option<(String, Shape)>,
    /// Spacing of candidate spots, metres (default: chosen from the area).
    pub grid_m: Option<f64>,
}

/// Everything on the ground besides the nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub places: Vec<Place>,
    pub obstacles: Vec<Obstacle>,
    pub roads: Vec<Road>,
    pub parking: Parking,
}

impl Layout {
    /// The area called `name`: a place's area or an obstacle's outline.
    pub fn area(&self, name: &str) -> Option<&Shape> {
        self.places
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.area.as_ref())
            .or_else(|| {
                self.obstacles
                    .iter()
                    .find(|o| o.name == name && matches!(o.shape, Shape::Polygon(_)))
                    .map(|o| &o.shape)
            })
    }

    /// The point called `name`: a place's point, or an obstacle's middle.
    pub fn point(&self, name: &str) -> Option<Pt> {
        self.places
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.at)
            .or_else(|| {
                self.obstacles
                    .iter()
                    .find(|o| o.name == name)
                    .map(|o| o.shape.centre())
            })
    }

    fn names(&self) -> String {
        let v: Vec<&str> = self
            .places
            .iter()
            .map(|p| p.name.as_str())
            .chain(self.obstacles.iter().map(|o| o.name.as_str()))
            .collect();
        if v.is_empty() {
            "none defined".into()
        } else {
            v.join(", ")
        }
    }

    /// A position given as `[x, y]` or as the name of a place.
    pub fn resolve_at(&self, v: &toml::Value) -> Result<Pt, String> {
        match v {
            toml::Value::String(s) => self
                .point(s)
                .ok_or_else(|| format!("no place named {s:?} (places: {})", self.names())),
            toml::Value::Array(a) => match a.as_slice() {
                [x, y] => match (number(x), number(y)) {
                    (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Ok((x, y)),
                    _ => Err("a position is two finite numbers [x, y]".into()),
                },
                _ => Err("a position is [x, y] or the name of a place".into()),
            },
            _ => Err("a position is [x, y] or the name of a place".into()),
        }
    }
}

fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// `[[place]]`: a point (`at`) or an area (`rect` or `polygon`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceEntry {
    name: String,
    #[serde(default)]
    kind: String,
    at: Option<[f64; 2]>,
    rect: Option<[f64; 4]>,
    polygon: Option<Vec<[f64; 2]>>,
}

/// `[[obstacle]]`: an outline (`rect`, `polygon` or `line`) and what one
/// crossing costs (`attenuation_db` or `loss`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObstacleEntry {
    name: String,
    kind: Option<String>,
    rect: Option<[f64; 4]>,
    polygon: Option<Vec<[f64; 2]>>,
    line: Option<Vec<[f64; 2]>>,
    attenuation_db: Option<f64>,
    loss: Option<f64>,
}

/// `[[road]]`: a polyline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadEntry {
    name: String,
    points: Vec<[f64; 2]>,
}

/// `[placement]`: where a relay may park.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementEntry {
    /// `roads` or `anywhere` (default: roads when the scenario has some).
    on: Option<String>,
    /// A place or obstacle name, or `[x0, y0, x1, y1]`.
    within: Option<toml::Value>,
    grid_m: Option<f64>,
}

/// `[[group]]`: `count` handsets named `NAME-1` .. `NAME-count`, spread
/// evenly inside an area.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: String,
    pub count: usize,
    /// The area they are in: a place or obstacle name.
    #[serde(rename = "in")]
    pub inside: Option<String>,
    /// Or a box `[x0, y0, x1, y1]`.
    pub within: Option<[f64; 4]>,
    pub radios: Option<Vec<String>>,
    #[serde(default)]
    pub base_station: bool,
    /// Every member walks (waypoints in the group's box unless `within`).
    pub mobility: Option<Mobility>,
}

fn finite(p: &[f64]) -> bool {
    p.iter().all(|x| x.is_finite())
}

fn points(v: &[[f64; 2]]) -> Vec<Pt> {
    v.iter().map(|p| (p[0], p[1])).collect()
}

/// One outline from the optional keys of an entry; exactly one must be set.
fn shape(
    what: &str,
    rect: Option<[f64; 4]>,
    polygon: Option<&Vec<[f64; 2]>>,
    line: Option<&Vec<[f64; 2]>>,
) -> Result<Option<Shape>, String> {
    let given = [rect.is_some(), polygon.is_some(), line.is_some()];
    if given.iter().filter(|&&g| g).count() > 1 {
        return Err(format!("{what}: give only one of rect, polygon, line"));
    }
    if let Some(r) = rect {
        if !finite(&r) || r[0] == r[2] || r[1] == r[3] {
            return Err(format!(
                "{what}: rect is [x0, y0, x1, y1] with x0 != x1 and y0 != y1"
            ));
        }
        return Ok(Some(Shape::rect(r[0], r[1], r[2], r[3])));
    }
    if let Some(p) = polygon {
        if p.len() < 3 || !p.iter().all(|q| finite(q)) {
            return Err(format!("{what}: polygon needs at least 3 finite corners"));
        }
        return Ok(Some(Shape::Polygon(points(p))));
    }
    if let Some(p) = line {
        if p.len() < 2 || !p.iter().all(|q| finite(q)) {
            return Err(format!("{what}: line needs at least 2 finite points"));
        }
        return Ok(Some(Shape::Line(points(p))));
    }
    Ok(None)
}

/// Build and check the layout from the scenario's entries.
pub fn parse(
    places: &[PlaceEntry],
    obstacles: &[ObstacleEntry],
    roads: &[RoadEntry],
    placement: Option<&PlacementEntry>,
) -> Result<Layout, String> {
    let mut layout = Layout::default();
    let mut seen = std::collections::BTreeSet::new();
    for p in places {
        let what = format!("place {:?}", p.name);
        if !seen.insert(p.name.clone()) {
            return Err(format!("{what}: name used twice"));
        }
        let area = shape(&what, p.rect, p.polygon.as_ref(), None)?;
        let at = match (p.at, &area) {
            (Some(a), _) if finite(&a) => (a[0], a[1]),
            (Some(_), _) => return Err(format!("{what}: at must be finite")),
            (None, Some(s)) => s.centre(),
            (None, None) => return Err(format!("{what}: needs at, rect or polygon")),
        };
        layout.places.push(Place {
            name: p.name.clone(),
            kind: p.kind.clone(),
            at,
            area,
        });
    }
    for o in obstacles {
        let what = format!("obstacle {:?}", o.name);
        if !seen.insert(o.name.clone()) {
            return Err(format!(
                "{what}: name used twice (places and obstacles share names)"
            ));
        }
        let s = shape(&what, o.rect, o.polygon.as_ref(), o.line.as_ref())?
            .ok_or_else(|| format!("{what}: needs rect, polygon or line"))?;
        let attenuation = match (o.attenuation_db, o.loss) {
            (Some(db), None) if (0.0..=200.0).contains(&db) => Attenuation::Db(db),
            (None, Some(l)) if (0.0..=1.0).contains(&l) => Attenuation::Loss(l),
            (Some(_), None) => return Err(format!("{what}: attenuation_db must lie in [0, 200]")),
            (None, Some(_)) => return Err(format!("{what}: loss must lie in [0, 1]")),
            _ => {
                return Err(format!(
                    "{what}: give one of attenuation_db (dB per crossing) or loss (share lost per crossing)"
                ));
            }
        };
        let kind = o.kind.clone().unwrap_or_else(|| match s {
            Shape::Line(_) => "wall".into(),
            Shape::Polygon(_) => "building".into(),
        });
        layout.obstacles.push(Obstacle {
            name: o.name.clone(),
            kind,
            shape: s,
            attenuation,
        });
    }
    for r in roads {
        if r.points.len() < 2 || !r.points.iter().all(|q| finite(q)) {
            return Err(format!(
                "road {:?}: points needs at least 2 finite points",
                r.name
            ));
        }
        layout.roads.push(Road {
            name: r.name.clone(),
            points: points(&r.points),
        });
    }
    if let Some(p) = placement {
        let on = p.on.as_deref().unwrap_or(if layout.roads.is_empty() {
            "anywhere"
        } else {
            "roads"
        });
        layout.parking.roads_only = match on {
            "roads" if layout.roads.is_empty() => {
                return Err("placement: on = \"roads\" but the scenario has no [[road]]".into());
            }
            "roads" => true,
            "anywhere" => false,
            other => {
                return Err(format!(
                    "placement: on = {other:?} (expected \"roads\" or \"anywhere\")"
                ));
            }
        };
        layout.parking.within = match &p.within {
            None => None,
            Some(toml::Value::String(s)) => Some((
                s.clone(),
                layout.area(s).cloned().ok_or_else(|| {
                    format!("placement: within {s:?} is no area of a place or obstacle")
                })?,
            )),
            Some(v) => {
                let b: Option<Vec<f64>> =
                    v.as_array().map(|a| a.iter().filter_map(number).collect());
                match b.as_deref() {
                    Some(&[x0, y0, x1, y1])
                        if finite(&[x0, y0, x1, y1]) && x0 != x1 && y0 != y1 =>
                    {
                        Some((
                            format!("[{x0}, {y0}, {x1}, {y1}]"),
                            Shape::rect(x0, y0, x1, y1),
                        ))
                    }
                    _ => {
                        return Err("placement: within is a place name or [x0, y0, x1, y1]".into());
                    }
                }
            }
        };
        layout.parking.grid_m = match p.grid_m {
            Some(g) if g.is_finite() && g >= 1.0 => Some(g),
            Some(_) => return Err("placement: grid_m must be at least 1 (metres)".into()),
            None => None,
        };
    } else if !layout.roads.is_empty() {
        layout.parking.roads_only = true;
    }
    Ok(layout)
}

/// `count` points spread evenly inside `area`: the middles of the cells of
/// the coarsest grid over its bounding box that has enough cells inside
/// it, taken row by row. No randomness: the same file, the same spots.
pub fn spread(area: &Shape, count: usize) -> Result<Vec<Pt>, String> {
    let [x0, y0, x1, y1] = area.bbox();
    let (w, h) = ((x1 - x0).max(1e-6), (y1 - y0).max(1e-6));
    let mut cells = count.max(1);
    for _ in 0..12 {
        let cols = ((cells as f64 * w / h).sqrt().ceil() as usize).max(1);
        let rows = cells.div_ceil(cols).max(1);
        let mut pts = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                let p = (
                    x0 + (c as f64 + 0.5) * w / cols as f64,
                    y0 + (r as f64 + 0.5) * h / rows as f64,
                );
                if area.contains(p) {
                    pts.push(p);
                }
            }
        }
        if pts.len() >= count {
            pts.truncate(count);
            return Ok(pts);
        }
        cells *= 2;
    }
    Err(format!("cannot fit {count} points inside the area"))
}

/// The members of a group: their names, positions and walking boxes.
pub fn expand_group(
    g: &GroupEntry,
    layout: &Layout,
) -> Result<Vec<(String, Pt, Option<Mobility>)>, String> {
    let what = format!("group {:?}", g.name);
    if g.count == 0 || g.count > 10_000 {
        return Err(format!("{what}: count must be 1 to 10000"));
    }
    let area = match (&g.inside, g.within) {
        (Some(n), None) => layout.area(n).cloned().ok_or_else(|| {
            format!(
                "{what}: in = {n:?} is no area of a place or obstacle (areas: {})",
                layout.names()
            )
        })?,
        (None, Some(r)) if finite(&r) && r[0] != r[2] && r[1] != r[3] => {
            Shape::rect(r[0], r[1], r[2], r[3])
        }
        (None, Some(_)) => return Err(format!("{what}: within is [x0, y0, x1, y1]")),
        _ => return Err(format!("{what}: give one of in (an area's name) or within")),
    };
    let pts = spread(&area, g.count).map_err(|e| format!("{what}: {e}"))?;
    let b = area.bbox();
    let mobility = g.mobility.clone().map(|mut m| {
        m.within.get_or_insert(b);
        m
    });
    Ok(pts
        .into_iter()
        .enumerate()
        .map(|(k, p)| (format!("{}-{}", g.name, k + 1), p, mobility.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_puts_every_point_inside_and_is_repeatable() {
        let l = Shape::Polygon(vec![
            (0.0, 0.0),
            (80.0, 0.0),
            (80.0, 20.0),
            (20.0, 20.0),
            (20.0, 50.0),
            (0.0, 50.0),
        ]);
        let a = spread(&l, 8).expect("fits");
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|&p| l.contains(p)));
        assert_eq!(a, spread(&l, 8).expect("fits"));
    }
}
