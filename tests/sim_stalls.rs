//! The stall phase (`callsign sim --stalls`): random nodes of a quiet
//! lossy mesh stopped for 500 ms one at a time and continued with their
//! socket buffers. With the stall grace (`--stall-grace 550`) no
//! neighbour is declared dead and no route is lost; without it (the
//! default, probes back to back) the same stalls are deaths, so the phase
//! does see them.

mod sim_common;

use callsign::sim::{RunOptions, simulate};

fn stalls(grace_ms: Option<u64>) -> callsign::sim::metrics::StallReport {
    let spec = sim_common::world("random", 30, 5, 8.0, false);
    let opts = RunOptions {
        loss: 0.1,
        stalls_ms: vec![500],
        stall_count: 60,
        stall_grace_ms: grace_ms,
        names: false,
        // On a mesh long settled: hellos at their idle pace, no start-up
        // exchanges still under way.
        settle_s: 10.0,
        idle_s: Some(20.0),
        ..sim_common::quick(5)
    };
    let r = simulate(spec, opts).expect("runs");
    assert!(r.converged);
    println!("simulated {} s", r.sim_seconds);
    r.stalls.expect("the stall phase ran")
}

#[test]
fn stalls_of_500_ms_are_not_deaths_with_the_grace_and_are_without() {
    let with = stalls(Some(callsign::link::STALL_GRACE.as_millis() as u64));
    println!("with the grace: {with:?}");
    assert_eq!(with.stalls_done, 60);
    assert_eq!(with.stall_neighbour_deaths, 0, "{with:?}");
    assert_eq!(with.stall_pairs_without_route_max, 0, "{with:?}");
    let without = stalls(Some(0));
    println!("without: {without:?}");
    assert!(without.stall_neighbour_deaths > 0, "{without:?}");
}
