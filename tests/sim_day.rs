//! A slice of the simulated day (issue "Reliability", point 5): walking
//! handsets, a node killed every few minutes and powered on again a few
//! minutes later. No routing loop, every table within its bound, memory
//! per node steady. The whole day is `callsign sim --day 24 --nodes 100`
//! (docs/SIM.md); this is its CI slice.

use callsign::sim::day::{DayOptions, run};

#[test]
fn half_an_hour_of_kills_rejoins_and_walking() {
    let r = run(&DayOptions {
        seed: 7,
        nodes: 40,
        hours: 0.5,
        // Kills more often than the day's 3 minutes: a short slice must
        // still see a few deaths and rejoins.
        kill_every_s: 60.0,
        down_s: [30.0, 240.0],
        ..DayOptions::default()
    })
    .expect("runs");
    println!("{}", serde_json::to_string_pretty(&r).expect("json"));
    assert!(r.kills >= 15, "{} kills", r.kills);
    assert!(r.rejoins >= 10, "{} rejoins", r.rejoins);
    assert_eq!(r.loop_observations, 0);
    assert_eq!(r.hop_limit_drops, 0);
    assert_eq!(r.table_bound_violations, 0);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    // The tables were sampled and hold what a live mesh holds.
    let t = |name: &str| {
        r.tables
            .iter()
            .find(|t| t.table == name)
            .unwrap_or_else(|| panic!("no table {name}"))
    };
    assert!(t("neighbours").max_entries >= 3);
    assert!(t("routes").max_entries >= 30, "{:?}", t("routes"));
    assert!(t("directory").max_entries >= 30, "{:?}", t("directory"));
    assert!(r.mem_per_node_bytes_max > 0);
    // Routes heal after kills and walks. A link a walk breaks is found
    // out only after the idle hold and the stall grace (about 5 s), so
    // some pairs of one radio component are always without a valid
    // route (about a tenth on this seed): a sanity bound, not a target.
    let p95 = r.pairs_without_route_p95.expect("checks ran");
    assert!(
        p95 <= 40.0 * 39.0 * 0.2,
        "p95 of pairs without a route {p95}"
    );
}

/// The day's report is a function of its seed.
#[test]
fn the_same_seed_gives_the_same_day() {
    let o = DayOptions {
        seed: 3,
        nodes: 20,
        hours: 0.1,
        kill_every_s: 60.0,
        wall_clock: false,
        ..DayOptions::default()
    };
    let a = run(&o).expect("runs");
    let b = run(&o).expect("runs");
    assert_eq!(a, b);
    assert!(a.kills > 0);
}
