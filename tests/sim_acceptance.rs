//! The 100-node acceptance figures of the mesh core (issue 2, point 1):
//! a random geometric mesh with diameter >= 6, handset profile, 5 % extra
//! loss per link. Release only, ignored by default:
//! `cargo test --release --test sim_acceptance -- --ignored --nocapture`
//! (the same figures: `callsign sim --topology random --nodes 100 --loss 0.05 --seed 1 --compare-babel --json`).

use callsign::sim::scenario::{self, GenOptions};
use callsign::sim::{RunOptions, compare};

#[test]
#[ignore = "release-only acceptance run (about a minute)"]
fn hundred_node_mesh_meets_the_targets() {
    let opt = GenOptions {
        nodes: 100,
        profile: "handset-2g4".into(),
        degree: 10.0,
        min_diameter: 6,
    };
    // The same world derivation as the CLI for --seed 1.
    let mut rng = scenario::topology_rng(1);
    let spec = scenario::generate("random", &opt, &mut rng).expect("world");
    let opts = RunOptions {
        seed: 1,
        loss: 0.05,
        ..RunOptions::default()
    };
    let c = compare(spec, opts).expect("run");
    println!("{}", serde_json::to_string_pretty(&c).expect("json"));
    let r = &c.callsign;
    let mut failed = Vec::new();
    let mut want = |ok: bool, what: String| {
        if !ok {
            failed.push(what);
        }
    };
    want(
        r.diameter_hops >= 6,
        format!("diameter_hops {} >= 6", r.diameter_hops),
    );
    want(
        r.converged_ms.is_some_and(|x| x <= 3000.0),
        format!("converged_ms {:?} <= 3000", r.converged_ms),
    );
    want(
        r.route_repair_ms_p95.is_some_and(|x| x <= 500.0),
        format!("route_repair_ms_p95 {:?} <= 500", r.route_repair_ms_p95),
    );
    // A quiet mesh (issue "A quiet mesh", points 2 and 4): idle repair
    // within 5 s for an idle overhead of at most 800 bit/s per node.
    want(
        r.route_repair_idle_ms_p95.is_some_and(|x| x <= 5000.0),
        format!(
            "route_repair_idle_ms_p95 {:?} <= 5000",
            r.route_repair_idle_ms_p95
        ),
    );
    want(
        r.control_bits_per_s_per_node.is_some_and(|x| x <= 800.0),
        format!(
            "control_bits_per_s_per_node {:?} <= 800",
            r.control_bits_per_s_per_node
        ),
    );
    want(
        r.loops_detected == 0,
        format!("loops_detected {} == 0", r.loops_detected),
    );
    want(
        r.delivery_ratio.is_some_and(|x| x >= 0.999),
        format!("delivery_ratio {:?} >= 0.999", r.delivery_ratio),
    );
    want(
        r.flood_rebroadcast_ratio.is_some_and(|x| x <= 0.5),
        format!(
            "flood_rebroadcast_ratio {:?} <= 0.5",
            r.flood_rebroadcast_ratio
        ),
    );
    // The directory (issue "The directory and trust", point 1).
    want(
        r.name_propagation_ms_p95.is_some_and(|x| x <= 1000.0),
        format!(
            "name_propagation_ms_p95 {:?} <= 1000",
            r.name_propagation_ms_p95
        ),
    );
    want(
        r.directory_converged_ms.is_some_and(|x| x <= 2000.0),
        format!(
            "directory_converged_ms {:?} <= 2000",
            r.directory_converged_ms
        ),
    );
    want(
        r.command_holders_after_merge == Some(1),
        format!(
            "command_holders_after_merge {:?} == 1",
            r.command_holders_after_merge
        ),
    );
    assert!(failed.is_empty(), "targets missed: {failed:#?}");
}
