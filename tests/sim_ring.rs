//! A ring of 6: kill node 3 while node 2 sends to node 4, and the traffic
//! goes the other way round.

mod sim_common;

use callsign::sim::{RunOptions, Sim};

#[test]
fn ring_of_six_reroutes_around_a_dead_node() {
    let mut spec = sim_common::world("ring", 6, 1, 10.0, true);
    // 0-based: node 3 is index 2; flow from node 2 (index 1) to node 4 (index 3).
    spec.failures.push((10.0, 2));
    let opts = RunOptions {
        flows_explicit: vec![(1, 3)],
        ..sim_common::quick(3)
    };
    let mut sim = Sim::new(spec, opts).expect("sim");
    let r = sim.run();
    assert!(r.converged, "{r:?}");
    let kill = r.kills.first().expect("the scheduled kill");
    assert_eq!(kill.node, "n3");
    assert_eq!(kill.kind, "flow", "node 3 carried the flow when it died");
    let repair = kill.repair_ms.expect("delivery resumed");
    assert!(repair < 3000.0, "repair took {repair} ms");
    assert_eq!(
        sim.path(1, 3),
        Some(vec![1, 0, 5, 4, 3]),
        "the new path goes the other way"
    );
    assert!(r.delivery_ratio.unwrap_or(0.0) > 0.9, "{r:?}");
    assert_eq!(r.loops_detected, 0);
}
