//! No routing loop over many seeded failure scenarios: small random meshes
//! at 5 % loss with relay kills under flows and idle relay kills.
//!
//! CI sweeps 50 seeds; the full sweep is
//! `CALLSIGN_LOOP_SWEEP=1000 cargo test --release --test sim_loops`.

mod sim_common;

use callsign::sim::{RunOptions, simulate};

#[test]
fn no_loops_over_seeded_failures() {
    let seeds: u64 = std::env::var("CALLSIGN_LOOP_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut kills = 0;
    for seed in 1..=seeds {
        let spec = sim_common::world("random", 16, seed, 6.0, false);
        let opts = RunOptions {
            loss: 0.05,
            flows: Some(2),
            kills: Some(2),
            idle_kills: Some(2),
            floods: Some(1),
            converge_timeout_s: 10.0,
            ..sim_common::quick(seed)
        };
        let r = simulate(spec, opts).expect("run");
        kills += r.kills.len();
        assert_eq!(
            r.loops_detected, 0,
            "seed {seed}: {} loop observations, {} hop-limit drops",
            r.loop_observations, r.hop_limit_drops
        );
    }
    assert!(kills as u64 >= seeds, "too few kills happened: {kills}");
}
