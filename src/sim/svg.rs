//! Pictures of a simulated incident: one self-contained SVG (no scripts,
//! no external fonts or images) of the ground, the nodes, their links and
//! routes at one moment, with a legend that says every state in words.
//!
//! [`render`] returns the document as a `String`; the command line writes
//! it. Links are coloured by their *modelled* ETX, `1 / ((1-l_ab)(1-l_ba))`
//! with each loss from the radio model (distance, obstacles, `[[link]]`
//! overrides and the run's extra loss), not by what the nodes measured.
//! The plane's y axis points up the page. Same input, same bytes.

use std::fmt::Write;

use super::graph::Graph;
use super::obstacles::{self, Pt, Shape};
use super::place_spots::search_box;
use super::scenario::WorldSpec;
use super::svg_legend::{self, Legend};
use super::svg_text::*;

/// The route of one probe flow at the moment drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRoute {
    pub src: usize,
    pub dst: usize,
    /// Node indices from source to destination; `None`: no valid route.
    pub path: Option<Vec<usize>>,
}

/// The relay placement search's spots, drawn under everything else.
#[derive(Debug, Clone, PartialEq)]
pub struct SpotMap {
    /// Every spot and how many handsets it leaves cut off.
    pub cells: Vec<(Pt, usize)>,
    pub grid_m: f64,
    /// Spots along roads are drawn as dots, grid spots as squares.
    pub dots: bool,
    /// The best spot and the runners-up, in rank order.
    pub ranked: Vec<Pt>,
    pub handsets: usize,
    /// Trucks placed, in words ("relay-1 (truck-5g)").
    pub what: String,
}

/// One moment of a world.
#[derive(Debug, Clone)]
pub struct Picture<'a> {
    /// Positions are the spec's (a running world moves them).
    pub spec: &'a WorldSpec,
    /// What the picture shows, e.g. "at 40.0 s" or "end of the run".
    pub when: String,
    pub alive: Vec<bool>,
    /// Nodes that died by then, with the time (seconds).
    pub deaths: Vec<(usize, f64)>,
    pub flows: Vec<FlowRoute>,
    /// Draw each radio's open-air range.
    pub ranges: bool,
    /// Nodes placed by the relay search.
    pub relays: Vec<usize>,
    pub spots: Option<SpotMap>,
    /// The run's extra loss on every link.
    pub extra_loss: f64,
    /// More lines for the legend (what the run measured).
    pub notes: Vec<String>,
}

/// Map size limits in pixels; the legend panel is beside the map.
const MAP_W: f64 = 1150.0;
const MAP_H: f64 = 860.0;
const MARGIN: f64 = 56.0;
const TITLE_H: f64 = 64.0;
const NODE_FONT: f64 = 19.0;
/// Room under the map for the scale bar.
const SCALE_H: f64 = 56.0;

/// World metres to page pixels (y up).
pub struct View {
    x0: f64,
    y1: f64,
    pub scale: f64,
    pub w: f64,
    pub h: f64,
}

impl View {
    pub fn x(&self, x: f64) -> f64 {
        MARGIN + (x - self.x0) * self.scale
    }
    pub fn y(&self, y: f64) -> f64 {
        TITLE_H + MARGIN + (self.y1 - y) * self.scale
    }
    fn pt(&self, p: Pt) -> String {
        format!("{},{}", px(self.x(p.0)), px(self.y(p.1)))
    }
}

/// Everything drawn must fit: nodes, obstacles, places, roads.
fn extent(p: &Picture) -> [f64; 4] {
    let mut b = search_box(p.spec);
    let mut add = |q: Pt| b = [b[0].min(q.0), b[1].min(q.1), b[2].max(q.0), b[3].max(q.1)];
    let l = &p.spec.layout;
    for o in &l.obstacles {
        o.shape.points().iter().for_each(|&q| add(q));
    }
    for pl in &l.places {
        add(pl.at);
        if let Some(s) = &pl.area {
            s.points().iter().for_each(|&q| add(q));
        }
    }
    for r in &l.roads {
        r.points.iter().for_each(|&q| add(q));
    }
    for n in &p.spec.nodes {
        if let Some([x0, y0, x1, y1]) = n.mobility.as_ref().and_then(|m| m.within) {
            add((x0, y0));
            add((x1, y1));
        }
    }
    let pad = ((b[2] - b[0]).max(b[3] - b[1]) * 0.06).max(15.0);
    [b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad]
}

/// The modelled links of live nodes: (a, b, etx, backbone) per channel.
fn links(p: &Picture) -> Vec<(usize, usize, f64, bool)> {
    let s = p.spec;
    let access = s
        .nodes
        .iter()
        .find(|n| !n.base_station)
        .map(|n| s.profiles[n.radios[0]].channel.clone());
    let x = 1.0 - p.extra_loss;
    let mut out = Vec::new();
    for a in 0..s.nodes.len() {
        for b in a + 1..s.nodes.len() {
            if !p.alive[a] || !p.alive[b] {
                continue;
            }
            // Best ETX per channel the two share.
            let mut per: Vec<(String, f64)> = Vec::new();
            for ia in 0..s.nodes[a].radios.len() {
                for ib in 0..s.nodes[b].radios.len() {
                    let (Some(l1), Some(l2)) =
                        (s.radio_loss(a, ia, b, ib), s.radio_loss(b, ib, a, ia))
                    else {
                        continue;
                    };
                    let e = obstacles::etx(1.0 - (1.0 - l1) * x, 1.0 - (1.0 - l2) * x);
                    let ch = s.profiles[s.nodes[a].radios[ia]].channel.clone();
                    match per.iter_mut().find(|c| c.0 == ch) {
                        Some(c) => c.1 = c.1.min(e),
                        None => per.push((ch, e)),
                    }
                }
            }
            for (ch, e) in per {
                out.push((a, b, e, access.as_ref().is_some_and(|c| *c != ch)));
            }
        }
    }
    out
}

/// Link classes: colour, width, dash, words.
pub fn etx_class(e: f64) -> (&'static str, f64, &'static str, &'static str) {
    if e < 1.5 {
        (GOOD, 4.0, "none", "good: ETX below 1.5")
    } else if e < 3.0 {
        (FAIR, 4.0, "16 7", "fair: ETX 1.5 to 3")
    } else if e < 6.0 {
        (POOR, 3.5, "7 6", "poor: ETX 3 to 6")
    } else {
        (POOR, 3.0, "2 7", "very poor: ETX 6 or more")
    }
}

/// Handsets (live, not base stations) with no path to a live base station.
pub fn cut_off(p: &Picture) -> Vec<usize> {
    let s = p.spec;
    let g: Graph = s.graph();
    let comp = g.components(&p.alive);
    let base_comps: Vec<u32> = (0..s.nodes.len())
        .filter(|&i| p.alive[i] && s.nodes[i].base_station)
        .map(|i| comp[i])
        .collect();
    (0..s.nodes.len())
        .filter(|&i| p.alive[i] && !s.nodes[i].base_station && !base_comps.contains(&comp[i]))
        .collect()
}

fn poly(out: &mut String, v: &View, s: &Shape, style: &str) {
    let pts: Vec<String> = s.points().iter().map(|&q| v.pt(q)).collect();
    let tag = if matches!(s, Shape::Polygon(_)) {
        "polygon"
    } else {
        "polyline"
    };
    let _ = writeln!(out, r#"<{tag} points="{}" {style}/>"#, pts.join(" "));
}

/// The picture as an SVG document.
pub fn render(p: &Picture) -> String {
    let b = extent(p);
    let (ww, wh) = (b[2] - b[0], b[3] - b[1]);
    let scale = (MAP_W / ww).min(MAP_H / wh);
    let v = View {
        x0: b[0],
        y1: b[3],
        scale,
        w: ww * scale,
        h: wh * scale,
    };
    let cut = cut_off(p);
    let links = links(p);
    let grid = nice_step(ww.max(wh) / 8.0);
    let legend = Legend::new(p, &cut, &links, grid);
    let width = v.w + 2.0 * MARGIN + svg_legend::WIDTH;
    let height = (TITLE_H + v.h + 2.0 * MARGIN + SCALE_H).max(legend.height() + TITLE_H + 30.0);
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}">"#,
        w = px(width),
        h = px(height)
    );
    let _ = writeln!(
        o,
        r##"<defs><pattern id="hatch" width="12" height="12" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="12" height="12" fill="#d6d6d6"/><line x1="0" y1="0" x2="0" y2="12" stroke="#8a8a8a" stroke-width="4"/></pattern></defs>"##
    );
    for (k, c) in FLOWS.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<defs><marker id="arrow{k}" viewBox="0 0 10 10" refX="6" refY="5" markerWidth="3.2" markerHeight="3.2" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker></defs>"#
        );
    }
    let _ = writeln!(o, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let title = format!("{} — {}", p.spec.name, p.when);
    text(&mut o, MARGIN, 44.0, 30.0, "bold", INK, &title);
    draw_grid(&mut o, &v, b, grid);
    // Everything on the ground stays inside the map's frame.
    let _ = writeln!(
        o,
        r#"<clipPath id="map"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath><g clip-path="url(#map)">"#,
        px(MARGIN),
        px(TITLE_H + MARGIN),
        px(v.w),
        px(v.h)
    );
    let ground = draw_ground(&mut o, &v, p);
    if let Some(m) = &p.spots {
        draw_spots(&mut o, &v, m);
    }
    if p.ranges {
        draw_ranges(&mut o, &v, p);
    }
    for &(a, bb, e, backbone) in &links {
        let (pa, pb) = (p.spec.nodes[a].pos, p.spec.nodes[bb].pos);
        let (colour, w, dash) = if backbone {
            (BACKBONE, 6.0, "none")
        } else {
            let c = etx_class(e);
            (c.0, c.1, c.2)
        };
        let _ = writeln!(
            o,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="{w}" stroke-dasharray="{dash}" stroke-linecap="round" opacity="0.9"/>"#,
            px(v.x(pa.0)),
            px(v.y(pa.1)),
            px(v.x(pb.0)),
            px(v.y(pb.1))
        );
    }
    draw_flows(&mut o, &v, p);
    o.push_str("</g>\n");
    draw_nodes(&mut o, &v, p, &cut, ground);
    draw_scale(&mut o, &v, b);
    legend.draw(&mut o, v.w + 2.0 * MARGIN, TITLE_H + 10.0);
    o.push_str("</svg>\n");
    o
}

fn draw_grid(o: &mut String, v: &View, b: [f64; 4], step: f64) {
    let _ = writeln!(
        o,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#fbfbf8" stroke="#9a9a9a" stroke-width="1.5"/>"##,
        px(MARGIN),
        px(TITLE_H + MARGIN),
        px(v.w),
        px(v.h)
    );
    let mut x = (b[0] / step).ceil() * step;
    while x <= b[2] {
        let _ = writeln!(
            o,
            r#"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{GRID}" stroke-width="1.5"/>"#,
            px(v.x(x)),
            px(TITLE_H + MARGIN),
            px(TITLE_H + MARGIN + v.h)
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" font-size="16" fill="{MUTED}" text-anchor="middle">{}</text>"#,
            px(v.x(x)),
            px(TITLE_H + MARGIN + v.h + 20.0),
            esc(&format!("{:.0}", x + 0.0))
        );
        x += step;
    }
    let mut y = (b[1] / step).ceil() * step;
    while y <= b[3] {
        let _ = writeln!(
            o,
            r#"<line x1="{1}" y1="{0}" x2="{2}" y2="{0}" stroke="{GRID}" stroke-width="1.5"/>"#,
            px(v.y(y)),
            px(MARGIN),
            px(MARGIN + v.w)
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" font-size="16" fill="{MUTED}" text-anchor="end">{}</text>"#,
            px(MARGIN - 6.0),
            px(v.y(y) + 5.0),
            esc(&format!("{:.0}", y + 0.0))
        );
        y += step;
    }
}

fn draw_spots(o: &mut String, v: &View, m: &SpotMap) {
    let side = (m.grid_m * v.scale).max(2.0);
    for &(q, cut) in &m.cells {
        let fill = if cut == 0 {
            "#b9e4b9"
        } else if cut * 4 <= m.handsets.max(1) {
            "#ffd8a6"
        } else {
            "#f3b5b5"
        };
        if m.dots {
            let _ = writeln!(
                o,
                r##"<circle cx="{}" cy="{}" r="5" fill="{fill}" stroke="#666666" stroke-width="0.8"/>"##,
                px(v.x(q.0)),
                px(v.y(q.1))
            );
        } else {
            let _ = writeln!(
                o,
                r#"<rect x="{}" y="{}" width="{s}" height="{s}" fill="{fill}"/>"#,
                px(v.x(q.0) - side / 2.0),
                px(v.y(q.1) - side / 2.0),
                s = px(side)
            );
        }
    }
    for (k, &q) in m.ranked.iter().enumerate().skip(1) {
        let (x, y) = (v.x(q.0), v.y(q.1));
        let _ = writeln!(
            o,
            r##"<circle cx="{}" cy="{}" r="15" fill="#ffffff" stroke="{RELAY}" stroke-width="3"/>"##,
            px(x),
            px(y)
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" font-size="17" font-weight="bold" fill="{RELAY}" text-anchor="middle">{}</text>"#,
            px(x),
            px(y + 6.0),
            k + 1
        );
    }
}

/// A label of the ground (a road, a place, an obstacle), placed after the
/// nodes' labels at the first free spot of `at` (or around its first).
struct GroundLabel {
    at: Vec<(f64, f64, &'static str)>,
    size: f64,
    text: String,
}

fn draw_ground(o: &mut String, v: &View, p: &Picture) -> Vec<GroundLabel> {
    let l = &p.spec.layout;
    let mut labels = Vec::new();
    for r in &l.roads {
        let s = Shape::Line(r.points.clone());
        let w = px((8.0 * v.scale).max(10.0));
        poly(
            o,
            v,
            &s,
            &format!(
                r##"fill="none" stroke="#d9c9a3" stroke-width="{w}" stroke-linejoin="round" stroke-linecap="round""##
            ),
        );
        if let Some(&q) = r.points.first() {
            labels.push(GroundLabel {
                at: vec![
                    (v.x(q.0) + 8.0, v.y(q.1) - 12.0, "start"),
                    (v.x(q.0) + 8.0, v.y(q.1) + 26.0, "start"),
                ],
                size: 16.0,
                text: format!("{} (road)", r.name),
            });
        }
    }
    for pl in &l.places {
        if let Some(s) = &pl.area {
            poly(
                o,
                v,
                s,
                r##"fill="none" stroke="#444444" stroke-width="2.5" stroke-dasharray="10 6""##,
            );
        } else {
            let (x, y) = (v.x(pl.at.0), v.y(pl.at.1));
            let _ = writeln!(
                o,
                r##"<path d="M{},{} l12,12 l-12,12 l-12,-12 z" fill="#ffffff" stroke="#444444" stroke-width="3"/>"##,
                px(x),
                px(y - 12.0)
            );
        }
        let kind = if pl.kind.is_empty() {
            String::new()
        } else {
            format!(" ({})", pl.kind)
        };
        let top = pl.area.as_ref().map_or(pl.at.1, |s| s.bbox()[3]);
        let lx = pl.area.as_ref().map_or(pl.at.0, |s| s.bbox()[0]);
        let dy = if pl.area.is_some() { -8.0 } else { -18.0 };
        labels.push(GroundLabel {
            at: vec![
                (v.x(lx), v.y(top) + dy, "start"),
                (v.x(lx), v.y(top) + 22.0, "start"),
            ],
            size: 17.0,
            text: format!("{}{kind}", pl.name),
        });
    }
    for ob in &l.obstacles {
        match &ob.shape {
            Shape::Polygon(_) => poly(
                o,
                v,
                &ob.shape,
                r##"fill="url(#hatch)" fill-opacity="0.75" stroke="#333333" stroke-width="4""##,
            ),
            Shape::Line(_) => poly(
                o,
                v,
                &ob.shape,
                r##"fill="none" stroke="#333333" stroke-width="7" stroke-linecap="round""##,
            ),
        }
        // The name on the map; what it is and costs is in the legend.
        let b = ob.shape.bbox();
        let (cx, top, bottom) = (v.x((b[0] + b[2]) / 2.0), v.y(b[3]), v.y(b[1]));
        let at = match &ob.shape {
            Shape::Polygon(_) => vec![
                (cx, top - 10.0, "middle"),
                (cx, bottom + 24.0, "middle"),
                (cx, top + 22.0, "middle"),
            ],
            Shape::Line(pts) => {
                let (s, e) = (pts[0], pts[pts.len() - 1]);
                vec![
                    (v.x(e.0), v.y(e.1) - 10.0, "middle"),
                    (v.x(s.0), v.y(s.1) + 24.0, "middle"),
                    (v.x(e.0) + 10.0, v.y(e.1), "start"),
                ]
            }
        };
        labels.push(GroundLabel {
            at,
            size: 17.0,
            text: ob.name.clone(),
        });
    }
    // Where the walkers wander: one box per distinct area.
    let mut boxes: Vec<[f64; 4]> = Vec::new();
    for n in &p.spec.nodes {
        if let Some(w) = n.mobility.as_ref().and_then(|m| m.within)
            && !boxes.contains(&w)
        {
            boxes.push(w);
            poly(
                o,
                v,
                &Shape::rect(w[0], w[1], w[2], w[3]),
                r##"fill="none" stroke="#6d6d6d" stroke-width="2" stroke-dasharray="3 5""##,
            );
            labels.push(GroundLabel {
                at: vec![
                    (v.x(w[0]), v.y(w[3]) - 8.0, "start"),
                    (v.x(w[0]), v.y(w[1]) + 20.0, "start"),
                ],
                size: 15.0,
                text: "walking area".into(),
            });
        }
    }
    labels
}

fn draw_ranges(o: &mut String, v: &View, p: &Picture) {
    let s = p.spec;
    for (i, n) in s.nodes.iter().enumerate() {
        if !p.alive[i] {
            continue;
        }
        for &r in &n.radios {
            let colour = if r == 0 { "#37474f" } else { BACKBONE };
            let _ = writeln!(
                o,
                r#"<circle cx="{}" cy="{}" r="{}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 6" opacity="0.7"/>"#,
                px(v.x(n.pos.0)),
                px(v.y(n.pos.1)),
                px(s.profiles[r].range_m * v.scale)
            );
        }
    }
}

fn draw_flows(o: &mut String, v: &View, p: &Picture) {
    let k = p.flows.len() as f64;
    for (f, fr) in p.flows.iter().enumerate() {
        let Some(path) = &fr.path else { continue };
        let colour = FLOWS[f % FLOWS.len()];
        // Flows side by side rather than on top of each other.
        let off = (f as f64 - (k - 1.0) / 2.0) * 7.0;
        let pts: Vec<String> = path
            .iter()
            .map(|&i| {
                let q = p.spec.nodes[i].pos;
                format!("{},{}", px(v.x(q.0) + off), px(v.y(q.1) + off))
            })
            .collect();
        let pts = pts.join(" ");
        let _ = writeln!(
            o,
            r##"<polyline points="{pts}" fill="none" stroke="#ffffff" stroke-width="15" stroke-linejoin="round" stroke-linecap="round" opacity="0.9"/>"##
        );
        let _ = writeln!(
            o,
            r#"<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="7" stroke-linejoin="round" stroke-linecap="round" marker-mid="url(#arrow{m})" marker-end="url(#arrow{m})"/>"#,
            m = f % FLOWS.len()
        );
    }
}

fn draw_nodes(o: &mut String, v: &View, p: &Picture, cut: &[usize], ground: Vec<GroundLabel>) {
    let s = p.spec;
    let mut labels = Labels::default();
    for n in &s.nodes {
        let (x, y) = (v.x(n.pos.0), v.y(n.pos.1));
        labels.block([x - 12.0, y - 12.0, x + 12.0, y + 12.0]);
    }
    // Symbols first, then every label on top of them all.
    let mut texts = Vec::new();
    for (i, n) in s.nodes.iter().enumerate() {
        let (x, y) = (v.x(n.pos.0), v.y(n.pos.1));
        let dead = !p.alive[i];
        let relay = p.relays.contains(&i);
        let (r, mark) = if relay {
            let fill = if dead { DEAD } else { RELAY };
            let _ = writeln!(
                o,
                r##"<path d="M{},{} l16,16 l-16,16 l-16,-16 z" fill="{fill}" stroke="#ffffff" stroke-width="2.5"/>"##,
                px(x),
                px(y - 16.0)
            );
            (16.0, "R")
        } else if n.base_station {
            let fill = if dead { DEAD } else { BASE };
            let _ = writeln!(
                o,
                r##"<rect x="{}" y="{}" width="26" height="26" fill="{fill}" stroke="#ffffff" stroke-width="2.5"/>"##,
                px(x - 13.0),
                px(y - 13.0)
            );
            (13.0, "B")
        } else {
            let fill = if dead { DEAD } else { INK };
            let _ = writeln!(
                o,
                r##"<circle cx="{}" cy="{}" r="9" fill="{fill}" stroke="#ffffff" stroke-width="2.5"/>"##,
                px(x),
                px(y)
            );
            (9.0, "")
        };
        if !mark.is_empty() {
            let _ = writeln!(
                o,
                r##"<text x="{}" y="{}" font-size="16" font-weight="bold" fill="#ffffff" text-anchor="middle">{mark}</text>"##,
                px(x),
                px(y + 6.0)
            );
        }
        if dead {
            let d = r + 3.0;
            let _ = writeln!(
                o,
                r#"<path d="M{0},{1} l{2},{2} M{3},{4} l{2},-{2}" stroke="{CUT}" stroke-width="5" stroke-linecap="round"/>"#,
                px(x - d),
                px(y - d),
                px(2.0 * d),
                px(x - d),
                px(y + d)
            );
        }
        let is_cut = cut.contains(&i);
        if is_cut {
            let _ = writeln!(
                o,
                r#"<circle cx="{}" cy="{}" r="16" fill="none" stroke="{CUT}" stroke-width="3" stroke-dasharray="5 4"/>"#,
                px(x),
                px(y)
            );
        }
        let mut name = n.name.clone();
        if let Some((_, t)) = p.deaths.iter().find(|d| d.0 == i) {
            name = format!("{name} DEAD {t:.1} s");
        } else if is_cut {
            name = format!("{name} (cut off)");
        }
        let colour = if dead || is_cut { CUT } else { INK };
        let (tx, ty, anchor) = labels.place(x, y, r, text_width(&name, NODE_FONT), NODE_FONT);
        texts.push((tx, ty, NODE_FONT, colour, anchor, name));
    }
    for g in ground {
        let w = text_width(&g.text, g.size);
        if let Some((tx, ty, anchor)) = labels.try_place(&g.at, w, g.size) {
            texts.push((tx, ty, g.size, "#333333", anchor, g.text));
        }
    }
    for (tx, ty, size, colour, anchor, t) in texts {
        label(o, tx, ty, size, colour, anchor, &t);
    }
}

fn draw_scale(o: &mut String, v: &View, b: [f64; 4]) {
    let len = nice_step((b[2] - b[0]) / 5.0);
    // Under the map, beside the first x label, never over a node.
    let (x, y) = (MARGIN + 150.0, TITLE_H + MARGIN + v.h + 40.0);
    let w = len * v.scale;
    let _ = writeln!(
        o,
        r#"<rect x="{}" y="{}" width="{}" height="10" fill="{INK}"/>"#,
        px(x),
        px(y),
        px(w)
    );
    let _ = writeln!(
        o,
        r##"<rect x="{}" y="{}" width="{}" height="10" fill="#ffffff" stroke="{INK}" stroke-width="1.5"/>"##,
        px(x + w / 2.0),
        px(y),
        px(w / 2.0)
    );
    text(
        o,
        x - 140.0,
        y + 10.0,
        18.0,
        "bold",
        INK,
        &format!("scale: {}", metres(len)),
    );
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{}" font-size="15" fill="{INK}" text-anchor="middle">{}</text>"#,
        px(x + w / 2.0),
        px(y + 28.0),
        esc(&metres(len / 2.0))
    );
    for (at, t) in [(x, "0".to_string()), (x + w, metres(len))] {
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" font-size="15" fill="{INK}" text-anchor="middle">{}</text>"#,
            px(at),
            px(y + 28.0),
            esc(&t)
        );
    }
}
