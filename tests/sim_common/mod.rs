//! Shared helpers of the simulator tests.
#![allow(dead_code)]

use callsign::rng::Rng;
use callsign::sim::scenario::{self, GenOptions};
use callsign::sim::{RunOptions, WorldSpec};

/// A generated world; `lossless` removes the distance loss so a test sees
/// routing, not the luck of the loss draws.
pub fn world(topology: &str, nodes: usize, seed: u64, degree: f64, lossless: bool) -> WorldSpec {
    let opt = GenOptions {
        nodes,
        profile: "handset-2g4".into(),
        degree,
        min_diameter: 0,
    };
    let mut spec = scenario::generate(topology, &opt, &mut Rng::new(seed)).expect("world");
    if lossless {
        for p in &mut spec.profiles {
            p.loss.near = 0.0;
            p.loss.edge = 0.0;
        }
    }
    spec
}

/// Short phases so a debug build stays fast.
pub fn quick(seed: u64) -> RunOptions {
    RunOptions {
        seed,
        idle_s: Some(2.0),
        // Small worlds: no settling time before the short idle window.
        settle_s: 0.0,
        kills: Some(0),
        idle_kills: Some(0),
        floods: Some(0),
        kill_interval_s: Some(3.0),
        wall_clock: false,
        ..RunOptions::default()
    }
}
