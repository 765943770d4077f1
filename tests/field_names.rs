//! Field tests of the directory: real daemons in network namespaces look
//! each other up by name. Needs root; runs only with CALLSIGN_FIELD_TESTS=1
//! (see field-tests/README.md). Figures are printed as `FIGURE` lines.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const LEASE_S: u64 = 15;

/// n5 claims medic-12; n1, four hops away, resolves it within 3 s of
/// start; n5 dies and the name stops resolving at n1 within its lease.
#[test]
fn line5_whois_and_lease() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let lease = LEASE_S.to_string();
    let t0 = Instant::now();
    for i in 0..net.nodes.len() {
        let extra: Vec<&str> = if net.nodes[i].name == "n5" {
            vec!["--name", "medic-12", "--name-lease", &lease]
        } else {
            vec!["--name-lease", &lease]
        };
        net.start(i, &extra);
    }
    let n5 = net.node("n5").id.to_string();
    let ok = wait_for(Duration::from_secs(6), || {
        net.whois("n1", "medic-12") == vec![(n5.clone(), Some(4))]
    });
    let ms = t0.elapsed().as_millis();
    assert!(
        ok.is_some(),
        "n1 does not resolve medic-12 to n5 at 4 hops: {:?}",
        net.whois("n1", "medic-12")
    );
    figure("line5_whois_ms", ms);
    assert!(ms <= 3000, "whois took {ms} ms");
    // `ping NAME` goes through the directory too.
    let (ok, out) = net.run(
        Some("n1"),
        &[
            "ping",
            "medic-12",
            "--count",
            "2",
            "--interval",
            "0.1",
            "--json",
        ],
    );
    assert!(ok && out.contains("\"hops\":4"), "ping medic-12: {out}");

    net.kill("n5");
    let killed = Instant::now();
    let gone = wait_for(Duration::from_secs(LEASE_S + 5), || {
        net.whois("n1", "medic-12").is_empty()
    });
    let gone_ms = killed.elapsed().as_millis();
    assert!(
        gone.is_some(),
        "medic-12 still resolves {gone_ms} ms after n5 died"
    );
    figure("line5_name_gone_after_kill_ms", gone_ms);
    figure("line5_name_lease_ms", LEASE_S * 1000);
    // The lease counts from n5's last refresh, which came before the kill;
    // the slack covers propagation and this loop's polling.
    assert!(
        gone_ms <= u128::from(LEASE_S) * 1000 + 250,
        "name outlived its lease: {gone_ms} ms"
    );
    let (ok, out) = net.run(Some("n1"), &["whois", "medic-12"]);
    assert!(!ok && out.contains("no one holds"), "{out}");
}

/// `command` is exclusive: n1 takes it, n5's claim is refused, n1 hands it
/// to n3 and every node sees n3 as its only holder.
#[test]
fn line5_exclusive_handover() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    net.start_all(&[]);
    let all = ["n1", "n2", "n3", "n4", "n5"];
    assert!(
        wait_for(Duration::from_secs(5), || net.full_mesh(&all)).is_some(),
        "line5 did not converge"
    );
    let (ok, out) = net.run(Some("n1"), &["claim", "command", "--exclusive"]);
    assert!(ok, "n1 claim command: {out}");
    let n1 = net.node("n1").id.to_string();
    let n3 = net.node("n3").id.to_string();
    let seen = wait_for(Duration::from_secs(3), || {
        net.holders("n5", "command").contains(&n1)
    });
    assert!(seen.is_some(), "n5 never saw n1 take command");
    let (ok, out) = net.run(Some("n5"), &["claim", "command", "--exclusive"]);
    assert!(
        !ok && out.contains("held by"),
        "n5's claim was not refused: {out}"
    );

    let (ok, out) = net.run(Some("n1"), &["handover", "command", "--to", "n3"]);
    assert!(ok, "hand-over: {out}");
    let t = Instant::now();
    let moved = wait_for(Duration::from_secs(5), || {
        all.iter()
            .all(|n| net.holders(n, "command") == vec![n3.clone()])
    });
    assert!(
        moved.is_some(),
        "hand-over not seen mesh-wide: {:?}",
        all.iter()
            .map(|n| net.whois(n, "command"))
            .collect::<Vec<_>>()
    );
    figure("line5_handover_mesh_wide_ms", t.elapsed().as_millis());
    let (ok, out) = net.run(Some("n3"), &["status", "--json"]);
    assert!(
        ok && out.contains("\"command\""),
        "n3 does not hold command: {out}"
    );
}
