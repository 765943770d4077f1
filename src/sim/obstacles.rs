//! Obstacles that attenuate radio links (walls, buildings, a ridge), the
//! plane geometry they need, and the one function that says how lossy a
//! link between two radios is: [`link_loss`]. The simulator's world, its
//! ground-truth graph, the relay placement search and the pictures all
//! call it, so a wall weakens a link the same way everywhere.
//!
//! Model: an obstacle attenuates every link whose straight line crosses
//! its outline, once per crossing (a link into a building crosses one
//! outer wall, a link through it two; a `line` obstacle is a wall crossed
//! once per segment). Attenuation in dB stretches the link's effective
//! distance by `10^(dB / (10 n))`, `n` the profile's path-loss exponent
//! (the link budget the radio loses to the wall is the one it would lose
//! over that much more distance); the distance model then gives the loss,
//! and a link whose effective distance is beyond range is not heard. A
//! `loss` factor instead lets through `(1 - loss)` of the datagrams per
//! crossing, on top of the distance model.

use super::radio::RadioProfile;
use super::scenario::dist;

/// A point on the plane, metres.
pub type Pt = (f64, f64);

/// The outline of an obstacle or an area.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A closed polygon (a rectangle is one too); at least 3 corners.
    Polygon(Vec<Pt>),
    /// An open polyline (a wall, a fence); at least 2 points.
    Line(Vec<Pt>),
}

impl Shape {
    pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Shape {
        let (xa, xb) = (x0.min(x1), x0.max(x1));
        let (ya, yb) = (y0.min(y1), y0.max(y1));
        Shape::Polygon(vec![(xa, ya), (xb, ya), (xb, yb), (xa, yb)])
    }

    pub fn points(&self) -> &[Pt] {
        match self {
            Shape::Polygon(p) | Shape::Line(p) => p,
        }
    }

    /// Segments of the outline (a polygon's last corner joins its first).
    pub fn segments(&self) -> impl Iterator<Item = (Pt, Pt)> + '_ {
        let p = self.points();
        let closed = matches!(self, Shape::Polygon(_));
        let n = if closed { p.len() } else { p.len() - 1 };
        (0..n).map(move |i| (p[i], p[(i + 1) % p.len()]))
    }

    /// How many times the segment `a`–`b` crosses the outline.
    pub fn crossings(&self, a: Pt, b: Pt) -> u32 {
        self.segments()
            .filter(|&(c, d)| segments_cross(a, b, c, d))
            .count() as u32
    }

    /// Whether `p` lies inside a polygon (on its outline counts as
    /// inside); a line has no inside.
    pub fn contains(&self, p: Pt) -> bool {
        if !matches!(self, Shape::Polygon(_)) {
            return false;
        }
        let mut inside = false;
        for (a, b) in self.segments() {
            if on_segment(p, a, b) {
                return true;
            }
            if (a.1 > p.1) != (b.1 > p.1) {
                let x = a.0 + (p.1 - a.1) / (b.1 - a.1) * (b.0 - a.0);
                if p.0 < x {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// `[x0, y0, x1, y1]` of the points.
    pub fn bbox(&self) -> [f64; 4] {
        let p = self.points();
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for &(x, y) in p {
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        b
    }

    /// A representative point: the middle of the bounding box (inside
    /// every convex shape; shapes here are rooms, lots and buildings).
    pub fn centre(&self) -> Pt {
        let b = self.bbox();
        ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
    }
}

fn orient(a: Pt, b: Pt, c: Pt) -> f64 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

/// A point exactly on a line counts on its positive side: a link that
/// grazes a corner is counted consistently on both of its edges, so a
/// polygon's crossings keep their parity.
fn side(x: f64) -> bool {
    x >= 0.0
}

fn segments_cross(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    side(orient(c, d, a)) != side(orient(c, d, b)) && side(orient(a, b, c)) != side(orient(a, b, d))
}

fn on_segment(p: Pt, a: Pt, b: Pt) -> bool {
    orient(a, b, p).abs() <= 1e-9 * (1.0 + dist(a, b))
        && p.0 >= a.0.min(b.0) - 1e-9
        && p.0 <= a.0.max(b.0) + 1e-9
        && p.1 >= a.1.min(b.1) - 1e-9
        && p.1 <= a.1.max(b.1) + 1e-9
}

/// What one crossing of an obstacle costs a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attenuation {
    /// Link budget lost per crossing, dB.
    Db(f64),
    /// Share of datagrams lost per crossing, in [0, 1].
    Loss(f64),
}

/// A wall, a building, a ridge: anything that weakens links across it.
#[derive(Debug, Clone, PartialEq)]
pub struct Obstacle {
    pub name: String,
    /// What it is, in words, for the picture ("building", "wall", "ridge").
    pub kind: String,
    pub shape: Shape,
    pub attenuation: Attenuation,
}

impl Obstacle {
    /// How the picture and the docs say it: "14 dB per wall crossed".
    pub fn describe(&self) -> String {
        match self.attenuation {
            Attenuation::Db(db) => format!("{db:.0} dB per crossing"),
            Attenuation::Loss(l) => format!("{:.0} % lost per crossing", l * 100.0),
        }
    }
}

/// Total dB and the share of datagrams let through by every obstacle
/// the segment `a`–`b` crosses.
pub fn path_attenuation(obstacles: &[Obstacle], a: Pt, b: Pt) -> (f64, f64) {
    let mut db = 0.0;
    let mut pass = 1.0;
    for o in obstacles {
        let [x0, y0, x1, y1] = o.shape.bbox();
        // Cheap rejection: a segment entirely to one side of the box
        // crosses nothing in it.
        if a.0.max(b.0) < x0 || a.0.min(b.0) > x1 || a.1.max(b.1) < y0 || a.1.min(b.1) > y1 {
            continue;
        }
        let k = o.shape.crossings(a, b);
        if k == 0 {
            continue;
        }
        match o.attenuation {
            Attenuation::Db(x) => db += x * k as f64,
            Attenuation::Loss(l) => pass *= (1.0 - l).powi(k as i32),
        }
    }
    (db, pass)
}

/// Loss of one datagram sent by a radio of profile `pa` at `a` to a radio
/// of profile `pb` at `b`, through `obstacles`; `None` when `b` cannot hear
/// it (other channel, out of range, or attenuated out of range).
pub fn link_loss(
    pa: &RadioProfile,
    a: Pt,
    pb: &RadioProfile,
    b: Pt,
    obstacles: &[Obstacle],
) -> Option<f64> {
    if pa.channel != pb.channel {
        return None;
    }
    let range = pa.range_m.min(pb.range_m);
    let d = dist(a, b);
    if d > range {
        return None;
    }
    let (db, pass) = path_attenuation(obstacles, a, b);
    let d_eff = if db > 0.0 {
        d * 10f64.powf(db / (10.0 * pa.path_loss_exponent))
    } else {
        d
    };
    if d_eff > range {
        return None;
    }
    let loss = 1.0 - (1.0 - pa.loss_at(d_eff, range)) * pass;
    (loss < 1.0).then_some(loss)
}

/// Expected transmissions for one delivery over a link with these losses
/// each way (a datagram and its acknowledgement): `1 / ((1-l_ab)(1-l_ba))`.
pub fn etx(l_ab: f64, l_ba: f64) -> f64 {
    1.0 / ((1.0 - l_ab) * (1.0 - l_ba)).max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handset() -> RadioProfile {
        RadioProfile::load("handset-2g4", None).expect("profile")
    }

    #[test]
    fn a_wall_is_crossed_once_a_building_twice() {
        let wall = Shape::Line(vec![(50.0, -10.0), (50.0, 10.0)]);
        assert_eq!(wall.crossings((0.0, 0.0), (100.0, 0.0)), 1);
        assert_eq!(wall.crossings((0.0, 20.0), (100.0, 20.0)), 0);
        let b = Shape::rect(40.0, -10.0, 60.0, 10.0);
        assert_eq!(b.crossings((0.0, 0.0), (100.0, 0.0)), 2);
        assert_eq!(b.crossings((0.0, 0.0), (50.0, 0.0)), 1);
        assert_eq!(b.crossings((45.0, 0.0), (55.0, 0.0)), 0);
        // Through a corner exactly: in and out, never one.
        assert_eq!(b.crossings((30.0, -20.0), (70.0, 20.0)) % 2, 0);
        assert!(b.contains((50.0, 0.0)));
        assert!(b.contains((40.0, 0.0)));
        assert!(!b.contains((39.0, 0.0)));
        assert!(!wall.contains((50.0, 0.0)));
    }

    #[test]
    fn attenuation_shortens_reach_and_raises_loss() {
        let p = handset();
        let open = link_loss(&p, (0.0, 0.0), &p, (60.0, 0.0), &[]).expect("heard");
        let wall = Obstacle {
            name: "w".into(),
            kind: "wall".into(),
            shape: Shape::Line(vec![(30.0, -5.0), (30.0, 5.0)]),
            attenuation: Attenuation::Db(6.0),
        };
        let through = link_loss(&p, (0.0, 0.0), &p, (60.0, 0.0), std::slice::from_ref(&wall));
        let through = through.expect("still heard through 6 dB");
        assert!(through > open, "{through} > {open}");
        // 6 dB with n = 3 is 1.58 x the distance: 100 m reads as 158 m.
        assert!(
            link_loss(
                &p,
                (0.0, 0.0),
                &p,
                (100.0, 0.0),
                std::slice::from_ref(&wall)
            )
            .is_none()
        );
        assert!(link_loss(&p, (0.0, 0.0), &p, (100.0, 0.0), &[]).is_some());
        let lossy = Obstacle {
            attenuation: Attenuation::Loss(0.5),
            ..wall
        };
        let l = link_loss(&p, (0.0, 0.0), &p, (60.0, 0.0), &[lossy]).expect("heard");
        assert!((1.0 - l - (1.0 - open) * 0.5).abs() < 1e-12);
    }

    #[test]
    fn etx_of_a_clean_and_a_lossy_link() {
        assert!((etx(0.0, 0.0) - 1.0).abs() < 1e-12);
        assert!((etx(0.5, 0.5) - 4.0).abs() < 1e-12);
    }
}
