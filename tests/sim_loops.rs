//! No routing loop over many seeded failure scenarios.
//!
//! - Small random meshes at 5 % loss with relay kills under flows and idle
//!   relay kills. CI sweeps 50 seeds; the full sweep is
//!   `CALLSIGN_LOOP_SWEEP=1000 cargo test --release --test sim_loops`.
//! - Partitions and heals: the directory phase of the standard run cuts
//!   the live nodes into a west and an east half for 12 s and heals them.
//!   Every node of one half loses every destination of the other at once,
//!   starves and asks for newer seqnos whose requests cross paths, which is
//!   where the exceptions to plain route selection (answering a request,
//!   keeping the next hop's same-seqno update) are put to the test. CI
//!   sweeps 16 seeds of 30-node meshes; the full sweep is
//!   `CALLSIGN_PARTITION_SWEEP=500 cargo test --release --test sim_loops`.
//!   Seed `s` is the world of
//!   `callsign sim --topology random --nodes 30 --loss 0.05 --seed s
//!   --idle 2 --settle 0 --flows 0 --kills 0 --idle-kills 0 --floods 0`.

mod sim_common;

use callsign::sim::scenario::{self, GenOptions};
use callsign::sim::{RunOptions, simulate};

fn sweep(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_loops_over_seeded_failures() {
    let seeds = sweep("CALLSIGN_LOOP_SWEEP", 50);
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

#[test]
fn no_loops_across_partitions_and_heals() {
    let seeds = sweep("CALLSIGN_PARTITION_SWEEP", 16);
    let mut failed = Vec::new();
    let mut partitioned = 0;
    for seed in 1..=seeds {
        // The CLI's world for this seed, so a failure replays with `callsign sim`.
        let opt = GenOptions {
            nodes: 30,
            profile: "handset-2g4".into(),
            degree: 10.0,
            min_diameter: 0,
        };
        let spec =
            scenario::generate("random", &opt, &mut scenario::topology_rng(seed)).expect("world");
        let opts = RunOptions {
            loss: 0.05,
            flows: Some(0),
            settle_s: 0.0,
            names: true,
            ..sim_common::quick(seed)
        };
        let r = simulate(spec, opts).expect("run");
        partitioned += usize::from(r.directory_converged_ms.is_some());
        if r.loops_detected != 0 {
            failed.push((seed, r.loop_observations, r.hop_limit_drops));
        }
    }
    assert!(
        failed.is_empty(),
        "loops (seed, loop observations, hop-limit drops): {failed:?}"
    );
    // The phase ran: the halves' directories merged after the heal.
    assert!(
        partitioned as u64 * 2 >= seeds,
        "too few partitions healed: {partitioned} of {seeds}"
    );
}
