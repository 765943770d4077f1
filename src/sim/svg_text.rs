//! Small helpers of the SVG pictures: escaping, number formatting, word
//! wrapping, label placement without overlaps, and the palette. Kept apart
//! from the drawing itself so `svg.rs` reads as the picture it draws.

use std::fmt::Write;

/// Colours: dark on white, readable in daylight and when printed grey
/// (every state is also said in words and by line style).
pub const INK: &str = "#111111";
pub const MUTED: &str = "#555555";
pub const GRID: &str = "#e2e2e2";
pub const GOOD: &str = "#1b7f2a";
pub const FAIR: &str = "#b36b00";
pub const POOR: &str = "#c62828";
pub const BACKBONE: &str = "#1d4ed8";
pub const BASE: &str = "#0d3b8c";
pub const RELAY: &str = "#d84315";
pub const DEAD: &str = "#9e9e9e";
pub const CUT: &str = "#b71c1c";
pub const FLOWS: [&str; 4] = ["#6a1b9a", "#00796b", "#ad1457", "#4e342e"];
pub const FONT: &str = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/// Escape text for SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// A coordinate in pixels: one decimal, so output is stable and small.
pub fn px(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Metres as people say them: "120 m", "1.5 km".
pub fn metres(m: f64) -> String {
    if m >= 1000.0 {
        let k = m / 1000.0;
        if (k - k.round()).abs() < 1e-9 {
            format!("{k:.0} km")
        } else {
            format!("{k:.1} km")
        }
    } else {
        format!("{m:.0} m")
    }
}

/// A round step (1, 2 or 5 times a power of ten) near `x`.
pub fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.max(1e-9).log10().floor());
    let f = x / p;
    let m = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// Rough width of a text in pixels (bold sans-serif).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.62
}

/// Break `s` into lines of at most `max` characters, at spaces.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in s.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > max {
            lines.push(std::mem::take(&mut cur));
            cur.push_str("  ");
        } else if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A text element with a white halo, so it stays readable over lines.
pub fn label(out: &mut String, x: f64, y: f64, size: f64, fill: &str, anchor: &str, s: &str) {
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="{}" font-weight="bold" fill="{fill}" text-anchor="{anchor}" stroke="#ffffff" stroke-width="5" stroke-linejoin="round" paint-order="stroke">{}</text>"##,
        px(x),
        px(y),
        px(size),
        esc(s)
    );
}

/// Plain text (the legend).
pub fn text(out: &mut String, x: f64, y: f64, size: f64, weight: &str, fill: &str, s: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" font-size="{}" font-weight="{weight}" fill="{fill}">{}</text>"#,
        px(x),
        px(y),
        px(size),
        esc(s)
    );
}

/// Boxes already taken by labels; a new label tries eight places around
/// its node and takes the first that overlaps none (or the first).
#[derive(Default)]
pub struct Labels {
    taken: Vec<[f64; 4]>,
}

impl Labels {
    /// Keep an area free (a node's symbol).
    pub fn block(&mut self, b: [f64; 4]) {
        self.taken.push(b);
    }

    /// Where to put a `w` × `h` label next to a symbol of radius `r` at
    /// (`x`, `y`): returns the text's anchor point and anchor.
    pub fn place(&mut self, x: f64, y: f64, r: f64, w: f64, h: f64) -> (f64, f64, &'static str) {
        let g = r + 6.0;
        let up = y - r - 0.25 * h - 6.0;
        let down = y + r + 0.8 * h + 4.0;
        self.place_first(
            &[
                (x + g, y + h * 0.35, "start"),
                (x - g, y + h * 0.35, "end"),
                (x, up, "middle"),
                (x, down, "middle"),
                (x + g, up, "start"),
                (x - g, up, "end"),
                (x + g, down, "start"),
                (x - g, down, "end"),
            ],
            w,
            h,
        )
    }

    /// The first of `tries` where the label overlaps no other (or the
    /// first of them when none is free).
    pub fn place_first(
        &mut self,
        tries: &[(f64, f64, &'static str)],
        w: f64,
        h: f64,
    ) -> (f64, f64, &'static str) {
        let bbox = |&(tx, ty, a): &(f64, f64, &str)| {
            let x0 = match a {
                "start" => tx,
                "end" => tx - w,
                _ => tx - w / 2.0,
            };
            [x0 - 4.0, ty - h * 0.8, x0 + w + 4.0, ty + h * 0.25]
        };
        let free = |b: &[f64; 4]| {
            self.taken
                .iter()
                .all(|t| b[2] <= t[0] || b[0] >= t[2] || b[3] <= t[1] || b[1] >= t[3])
        };
        let pick = tries
            .iter()
            .find(|t| free(&bbox(t)))
            .or(tries.first())
            .copied()
            .unwrap_or((0.0, 0.0, "start"));
        self.taken.push(bbox(&pick));
        pick
    }

    /// The first free place of `tries`, or `None` (the label is left
    /// out: the legend says the same).
    pub fn try_place(
        &mut self,
        tries: &[(f64, f64, &'static str)],
        w: f64,
        h: f64,
    ) -> Option<(f64, f64, &'static str)> {
        let bbox = |&(tx, ty, a): &(f64, f64, &str)| {
            let x0 = match a {
                "start" => tx,
                "end" => tx - w,
                _ => tx - w / 2.0,
            };
            [x0 - 4.0, ty - h * 0.8, x0 + w + 4.0, ty + h * 0.25]
        };
        let pick = *tries.iter().find(|t| {
            let b = bbox(t);
            self.taken
                .iter()
                .all(|t| b[2] <= t[0] || b[0] >= t[2] || b[3] <= t[1] || b[1] >= t[3])
        })?;
        self.taken.push(bbox(&pick));
        Some(pick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(px(1.25), "1.3");
        assert_eq!(px(3.0), "3");
        assert_eq!(nice_step(130.0), 100.0);
        assert_eq!(nice_step(260.0), 200.0);
        assert_eq!(metres(1500.0), "1.5 km");
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "  ccc"]);
        let mut l = Labels::default();
        let a = l.place(0.0, 0.0, 10.0, 50.0, 18.0);
        let b = l.place(0.0, 0.0, 10.0, 50.0, 18.0);
        assert_ne!((a.0, a.1), (b.0, b.1));
    }
}
