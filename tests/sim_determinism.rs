//! Same world and seed: byte-identical JSON.

mod sim_common;

use callsign::sim::{RunOptions, simulate};

fn json(seed: u64) -> String {
    let spec = sim_common::world("random", 14, seed, 6.0, false);
    let opts = RunOptions {
        loss: 0.05,
        kills: Some(2),
        idle_kills: Some(2),
        floods: Some(3),
        flows: Some(2),
        ..sim_common::quick(seed)
    };
    serde_json::to_string_pretty(&simulate(spec, opts).expect("run")).expect("json")
}

#[test]
fn same_seed_gives_identical_json() {
    let a = json(7);
    let b = json(7);
    assert_eq!(a, b);
    assert_ne!(a, json(8), "a different seed must change the run");
}
