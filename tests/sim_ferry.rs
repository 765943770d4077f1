//! Acceptance 4 of the messages issue: two partitions joined only by a
//! walking responder; messages cross in the walker's handset.

use callsign::sim::ferry::{FerryOptions, run};

#[test]
fn messages_cross_a_partition_in_a_walkers_handset() {
    for seed in [1, 2] {
        let r = run(&FerryOptions {
            seed,
            ..FerryOptions::default()
        })
        .expect("runs");
        println!(
            "ferry seed={} nodes={} sent={} refused={} delivered={} delivery_ratio={} duplicates={} latency_p50_s={:?} latency_p95_s={:?} latency_max_s={:?} receipts={} max_holders={} max_copies={} copy_bound={} round_trip_s={}",
            r.seed,
            r.nodes,
            r.sent,
            r.refused,
            r.delivered,
            r.delivery_ratio,
            r.duplicates,
            r.latency_p50_s,
            r.latency_p95_s,
            r.latency_max_s,
            r.receipts,
            r.max_holders,
            r.max_copies,
            r.copy_bound,
            r.round_trip_s
        );
        assert!(r.sent >= 100, "{r:?}");
        assert_eq!(r.refused, 0, "{r:?}");
        assert_eq!(r.delivered, r.sent, "every message crosses: {r:?}");
        assert_eq!(r.duplicates, 0);
        assert!(r.max_copies <= r.copy_bound as u32, "{r:?}");
        assert!(r.max_holders >= 2, "custody was used: {r:?}");
        // Nothing can cross faster than the walk, nor take longer than
        // waiting for the walker plus a round trip.
        let p95 = r.latency_p95_s.expect("latencies");
        assert!(p95 <= 1.5 * r.round_trip_s, "{r:?}");
        assert!(
            r.receipts >= r.delivered * 9 / 10,
            "receipts come back: {r:?}"
        );
    }
}
