//! A line of 6: node 1 reaches node 6 only through 2..5, and packets are
//! relayed by each of them.

mod sim_common;

use callsign::sim::{RunOptions, Sim};

#[test]
fn line_of_six_relays_through_the_chain() {
    let spec = sim_common::world("line", 6, 1, 10.0, true);
    let opts = RunOptions {
        flows_explicit: vec![(0, 5)],
        ..sim_common::quick(1)
    };
    let mut sim = Sim::new(spec, opts).expect("sim");
    let r = sim.run();
    assert!(r.converged, "line of 6 did not converge: {r:?}");
    assert_eq!(r.diameter_hops, 5);
    let w = &sim.world;
    let route = w
        .node(0)
        .and_then(|n| n.route_to(&w.ids[5]))
        .expect("route 1 -> 6");
    assert_eq!(route.hops, 5, "hop count from node 1 to node 6");
    assert_eq!(
        sim.path(0, 5),
        Some(vec![0, 1, 2, 3, 4, 5]),
        "next hops follow the chain"
    );
    assert!(r.probe_packets_delivered > 0);
    assert_eq!(r.delivery_ratio, Some(1.0), "{r:?}");
    for relay in 1..5 {
        let fwd = w.node(relay).map_or(0, |n| n.stats().forwarded);
        assert!(
            fwd >= r.probe_packets_delivered,
            "node {} forwarded {fwd} of {} probe packets",
            relay + 1,
            r.probe_packets_delivered
        );
    }
    assert_eq!(r.loops_detected, 0);
}
