//! The legend panel of the SVG pictures: every symbol, line style and
//! colour of the map said in words, each flow's route with its hops, the
//! failures with their times, who is cut off, and the scale.

use std::fmt::Write;

use super::svg::{Picture, etx_class};
use super::svg_text::*;

/// Width of the legend panel in pixels.
pub const WIDTH: f64 = 640.0;
const SIZE: f64 = 18.0;
const LINE: f64 = 26.0;
/// Characters per legend line at `SIZE` (a conservative count).
const CHARS: usize = 50;

enum Sample {
    None,
    Base,
    Handset,
    Relay,
    Dead,
    Cut,
    Line(&'static str, f64, &'static str),
    Spot(&'static str),
}

enum Row {
    Heading(String),
    Item(Sample, String, &'static str),
}

/// The legend's rows, laid out once so the page height is known.
pub struct Legend {
    rows: Vec<Row>,
}

impl Legend {
    pub fn new(
        p: &Picture,
        cut: &[usize],
        links: &[(usize, usize, f64, bool)],
        grid_m: f64,
    ) -> Legend {
        let s = p.spec;
        let name = |i: usize| s.nodes[i].name.clone();
        let mut rows = vec![Row::Heading("Legend".into())];
        let item = |rows: &mut Vec<Row>, k: Sample, t: String, c: &'static str| {
            rows.push(Row::Item(k, t, c));
        };
        item(
            &mut rows,
            Sample::Base,
            "B: base station (truck)".into(),
            INK,
        );
        item(&mut rows, Sample::Handset, "handset".into(), INK);
        if !p.relays.is_empty() {
            item(
                &mut rows,
                Sample::Relay,
                "R: relay truck parked by the search".into(),
                INK,
            );
        }
        item(
            &mut rows,
            Sample::Dead,
            "dead node, with the time it died".into(),
            INK,
        );
        item(
            &mut rows,
            Sample::Cut,
            "cut off: no path to a base station".into(),
            INK,
        );
        rows.push(Row::Heading("Links (modelled ETX)".into()));
        item(
            &mut rows,
            Sample::None,
            "ETX = 1/((1-loss one way)(1-loss back)), loss from distance, obstacles and extra loss"
                .into(),
            MUTED,
        );
        for e in [1.0, 2.0, 4.0, 8.0] {
            let (c, w, d, words) = etx_class(e);
            item(&mut rows, Sample::Line(c, w, d), words.into(), INK);
        }
        if links.iter().any(|l| l.3) {
            let bb = s
                .nodes
                .iter()
                .flat_map(|n| n.radios.iter().skip(1))
                .next()
                .map_or(String::new(), |&r| format!(" ({})", s.profiles[r].name));
            item(
                &mut rows,
                Sample::Line(BACKBONE, 6.0, "none"),
                format!("truck backbone link{bb}"),
                INK,
            );
        }
        if p.ranges {
            item(
                &mut rows,
                Sample::Line("#37474f", 1.5, "6 6"),
                "radio range in the open (walls shorten it)".into(),
                INK,
            );
        }
        if !p.flows.is_empty() {
            rows.push(Row::Heading("Probe flows (route now)".into()));
        }
        for (f, fr) in p.flows.iter().enumerate() {
            let head = format!("flow {}: {} to {}", f + 1, name(fr.src), name(fr.dst));
            let t = match &fr.path {
                Some(path) => {
                    let via: Vec<String> =
                        path[1..path.len() - 1].iter().map(|&i| name(i)).collect();
                    let via = if via.is_empty() {
                        "direct".into()
                    } else {
                        format!("via {}", via.join(", "))
                    };
                    format!("{head}, {} hops {via}", path.len() - 1)
                }
                None => format!("{head}: NO ROUTE"),
            };
            let c = if fr.path.is_some() { INK } else { CUT };
            item(
                &mut rows,
                Sample::Line(FLOWS[f % FLOWS.len()], 7.0, "none"),
                t,
                c,
            );
        }
        rows.push(Row::Heading("State".into()));
        if p.deaths.is_empty() {
            item(&mut rows, Sample::None, "no node has died".into(), INK);
        }
        for &(i, t) in &p.deaths {
            item(
                &mut rows,
                Sample::None,
                format!("{} died at {t:.1} s", name(i)),
                CUT,
            );
        }
        let (n_hand, n_cut) = (
            (0..s.nodes.len())
                .filter(|&i| p.alive[i] && !s.nodes[i].base_station)
                .count(),
            cut.len(),
        );
        if cut.is_empty() {
            item(
                &mut rows,
                Sample::None,
                format!("all {n_hand} live handsets reach a base station"),
                GOOD,
            );
        } else {
            let names: Vec<String> = cut.iter().map(|&i| name(i)).collect();
            item(
                &mut rows,
                Sample::None,
                format!("{n_cut} of {n_hand} handsets CUT OFF: {}", names.join(", ")),
                CUT,
            );
        }
        let l = &s.layout;
        if !l.roads.is_empty() {
            let names: Vec<&str> = l.roads.iter().map(|r| r.name.as_str()).collect();
            item(
                &mut rows,
                Sample::Line("#d9c9a3", 10.0, "none"),
                format!("roads: {}", names.join(", ")),
                INK,
            );
        }
        if !l.places.is_empty() {
            let names: Vec<&str> = l.places.iter().map(|p| p.name.as_str()).collect();
            item(
                &mut rows,
                Sample::Line("#444444", 2.5, "10 6"),
                format!("places: {}", names.join(", ")),
                INK,
            );
        }
        for o in &s.layout.obstacles {
            item(
                &mut rows,
                Sample::None,
                format!("{}: {}, {}", o.name, o.kind, o.describe()),
                INK,
            );
        }
        if let Some(m) = &p.spots {
            rows.push(Row::Heading("Parking spots searched".into()));
            item(
                &mut rows,
                Sample::Relay,
                format!("the chosen spot: {}", m.what),
                INK,
            );
            item(
                &mut rows,
                Sample::Spot("#b9e4b9"),
                "every handset reaches a base station".into(),
                INK,
            );
            item(
                &mut rows,
                Sample::Spot("#ffd8a6"),
                "up to a quarter of the handsets cut off".into(),
                INK,
            );
            item(
                &mut rows,
                Sample::Spot("#f3b5b5"),
                "more than a quarter cut off".into(),
                INK,
            );
            item(
                &mut rows,
                Sample::None,
                "numbered circles: the runner-up spots".into(),
                INK,
            );
        }
        rows.push(Row::Heading("Scale".into()));
        item(
            &mut rows,
            Sample::None,
            format!(
                "grid lines every {}, labelled in metres; the scale bar is under the map; y grows up the page",
                metres(grid_m)
            ),
            INK,
        );
        for n in &p.notes {
            item(&mut rows, Sample::None, n.clone(), INK);
        }
        Legend { rows }
    }

    fn lines(t: &str, sample: bool) -> Vec<String> {
        wrap(t, if sample { CHARS - 6 } else { CHARS })
    }

    pub fn height(&self) -> f64 {
        let mut h = 20.0;
        for r in &self.rows {
            h += match r {
                Row::Heading(_) => LINE + 12.0,
                Row::Item(k, t, _) => {
                    LINE * Self::lines(t, !matches!(k, Sample::None)).len() as f64
                }
            };
        }
        h + 10.0
    }

    pub fn draw(&self, o: &mut String, x: f64, y: f64) {
        let _ = writeln!(
            o,
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#ffffff" stroke="#9a9a9a" stroke-width="1.5"/>"##,
            px(x),
            px(y),
            px(WIDTH - 16.0),
            px(self.height())
        );
        let mut cy = y + 10.0;
        let tx = x + 16.0;
        for r in &self.rows {
            match r {
                Row::Heading(t) => {
                    cy += LINE + 12.0;
                    text(o, tx, cy - 6.0, 21.0, "bold", INK, t);
                }
                Row::Item(k, t, c) => {
                    let has = !matches!(k, Sample::None);
                    let lines = Self::lines(t, has);
                    sample(o, k, tx, cy + LINE / 2.0 + 2.0);
                    let lx = if has { tx + 60.0 } else { tx };
                    for l in lines {
                        cy += LINE;
                        text(o, lx, cy - 4.0, SIZE, "normal", c, &l);
                    }
                }
            }
        }
    }
}

fn sample(o: &mut String, k: &Sample, x: f64, y: f64) {
    let cx = x + 22.0;
    let _ = match k {
        Sample::None => Ok(()),
        Sample::Base => writeln!(
            o,
            r#"<rect x="{}" y="{}" width="22" height="22" fill="{BASE}"/>"#,
            px(cx - 11.0),
            px(y - 11.0)
        ),
        Sample::Handset => writeln!(
            o,
            r#"<circle cx="{}" cy="{}" r="9" fill="{INK}"/>"#,
            px(cx),
            px(y)
        ),
        Sample::Relay => writeln!(
            o,
            r#"<path d="M{},{} l13,13 l-13,13 l-13,-13 z" fill="{RELAY}"/>"#,
            px(cx),
            px(y - 13.0)
        ),
        Sample::Dead => writeln!(
            o,
            r#"<circle cx="{0}" cy="{1}" r="9" fill="{DEAD}"/><path d="M{2},{3} l24,24 M{2},{4} l24,-24" stroke="{CUT}" stroke-width="5" stroke-linecap="round"/>"#,
            px(cx),
            px(y),
            px(cx - 12.0),
            px(y - 12.0),
            px(y + 12.0)
        ),
        Sample::Cut => writeln!(
            o,
            r#"<circle cx="{0}" cy="{1}" r="9" fill="{INK}"/><circle cx="{0}" cy="{1}" r="15" fill="none" stroke="{CUT}" stroke-width="3" stroke-dasharray="5 4"/>"#,
            px(cx),
            px(y)
        ),
        Sample::Line(c, w, d) => writeln!(
            o,
            r#"<line x1="{0}" y1="{2}" x2="{1}" y2="{2}" stroke="{c}" stroke-width="{3}" stroke-dasharray="{d}" stroke-linecap="round"/>"#,
            px(x),
            px(x + 46.0),
            px(y),
            px(*w)
        ),
        Sample::Spot(c) => writeln!(
            o,
            r##"<rect x="{}" y="{}" width="30" height="20" fill="{c}" stroke="#666666"/>"##,
            px(cx - 15.0),
            px(y - 10.0)
        ),
    };
}
