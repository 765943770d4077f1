//! Field test of secured mode: real daemons in network namespaces with an
//! agency CA made by `callsign ca init` and device certificates from
//! `callsign ca issue`. Needs root and python3; runs only with
//! CALLSIGN_FIELD_TESTS=1 (see field-tests/README.md). Figures are
//! printed as `FIGURE` lines.
//!
//! line5: n1..n4 are enrolled (n3's certificate does not permit
//! `command`); n5 is an unenrolled device in open mode on the same radio.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const ENROLLED: [&str; 4] = ["n1", "n2", "n3", "n4"];

fn stat(net: &Net, node: &str, key: &str) -> u64 {
    net.json(node, "status")
        .and_then(|s| s["stats"][key].as_u64())
        .unwrap_or(0)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn line5_secured() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let ca = net.tmp.join("ca");
    let (ok, out) = net.run(
        None,
        &["ca", "init", "--agency", "Metro Fire", "--out", p(&ca)],
    );
    assert!(ok, "ca init: {out}");
    let secret = net.tmp.join("incident.secret");
    std::fs::write(&secret, b"incident 2026-0417 structure fire").expect("secret");
    let root = ca.join("ca.pem");
    for name in ENROLLED {
        let roles = if name == "n3" {
            format!("{name},engine-*")
        } else {
            format!("{name},engine-*,command")
        };
        let key = net.node(name).dir.join("device.key");
        let cert = net.tmp.join(format!("{name}.pem"));
        let (ok, out) = net.run(
            None,
            &[
                "ca",
                "issue",
                "--ca",
                p(&ca),
                "--node-key",
                p(&key),
                "--roles",
                &roles,
                "--days",
                "2",
                "--out",
                p(&cert),
            ],
        );
        assert!(ok, "ca issue {name}: {out}");
    }
    // A device certificate for another device's key is refused at start.
    let wrong = net.tmp.join("n1.pem");
    let dir5 = net.node("n5").dir.clone();
    let (ok, out) = net.run(
        Some("n5"),
        &[
            "up",
            "--data-dir",
            p(&dir5),
            "--trust-root",
            p(&root),
            "--cert",
            p(&wrong),
        ],
    );
    assert!(!ok && out.contains("not this device"), "wrong cert: {out}");

    let t0 = Instant::now();
    for i in 0..net.nodes.len() {
        let name = net.nodes[i].name.clone();
        if name == "n5" {
            net.start(i, &[]);
            continue;
        }
        let cert = net.tmp.join(format!("{name}.pem"));
        net.start(
            i,
            &[
                "--trust-root",
                p(&root),
                "--cert",
                p(&cert),
                "--incident-secret-file",
                p(&secret),
            ],
        );
    }
    let converged = wait_for(Duration::from_secs(10), || net.full_mesh(&ENROLLED));
    assert!(converged.is_some(), "enrolled nodes did not converge");
    figure("secured_line4_converge_ms", t0.elapsed().as_millis());
    for name in ENROLLED {
        let s = net.json(name, "status").expect("status");
        assert_eq!(s["trust"], "secured", "{name}");
    }
    assert_eq!(net.json("n5", "status").expect("status")["trust"], "open");

    // 1. Enrolled nodes' records are accepted mesh-wide.
    let resolved = wait_for(Duration::from_secs(6), || {
        ENROLLED.iter().all(|a| {
            ENROLLED
                .iter()
                .all(|b| net.holders(a, b) == vec![net.node(b).id.to_string()])
        })
    });
    assert!(
        resolved.is_some(),
        "enrolled names do not resolve mesh-wide"
    );
    figure("secured_names_mesh_wide_ms", t0.elapsed().as_millis());

    // 2. The unenrolled n5 shares n4's radio, but is nobody's neighbour,
    // route or holder.
    std::thread::sleep(Duration::from_secs(3));
    let n5 = net.node("n5").id;
    for name in ENROLLED {
        assert!(net.holders(name, "n5").is_empty(), "{name} resolves n5");
        let routes = net.routes(name);
        assert!(!routes.contains_key(&n5), "{name} has a route to n5");
        assert!(
            routes.values().all(|(nh, _)| *nh != n5),
            "{name} routes through n5"
        );
        let nbrs = net.json(name, "neighbors").expect("neighbours");
        let ids: Vec<&str> = nbrs
            .as_array()
            .map(|a| a.iter().filter_map(|n| n["id"].as_str()).collect())
            .unwrap_or_default();
        assert!(!ids.contains(&n5.to_string().as_str()), "{name} lists n5");
    }
    let n4_auth = stat(&net, "n4", "rx_auth_failed");
    assert!(n4_auth > 0, "n4 counted none of n5's packets");
    figure("secured_n4_rx_auth_failed_from_open_n5", n4_auth);

    // 3. n3's certificate does not permit command: the claim fails with
    // the reason, and nobody sees n3 hold it.
    let (ok, out) = net.run(Some("n3"), &["claim", "command", "--exclusive"]);
    assert!(
        !ok && out.contains("not permitted"),
        "n3 claimed command: {out}"
    );
    let (ok, out) = net.run(Some("n1"), &["claim", "command", "--exclusive"]);
    assert!(ok, "n1 claim command: {out}");
    let n1 = net.node("n1").id.to_string();
    let seen = wait_for(Duration::from_secs(3), || {
        ENROLLED
            .iter()
            .all(|n| net.holders(n, "command") == vec![n1.clone()])
    });
    assert!(seen.is_some(), "command is not n1's everywhere");

    // 4. A real directory packet of n1, captured on its radio and sent to
    // n2 again unchanged (replay) and with one byte changed (tamper):
    // n2's MAC check drops both, and its directory is unchanged.
    let n2_addr = net
        .json("n1", "neighbors")
        .and_then(|v| {
            v.as_array()?
                .iter()
                .find(|n| n["id"] == net.node("n2").id.to_string())
                .and_then(|n| n["addr"].as_str().map(str::to_string))
        })
        .expect("n2's address at n1");
    // "[fe80::…%7]:7470" -> "fe80::…"
    let ip = n2_addr
        .trim_start_matches('[')
        .split(['%', ']'])
        .next()
        .expect("address")
        .to_string();
    let iface = net.node("n1").ifaces[0].clone();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/field-tests/tools/replay.py");
    let before = stat(&net, "n2", "rx_auth_failed");
    let py = Command::new("ip")
        .args(["netns", "exec", &net.node("n1").ns, "python3", script])
        .args([&iface, &n1, &ip, "10"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::thread::sleep(Duration::from_millis(300));
    let (ok, out) = net.run(Some("n1"), &["claim", "engine-1"]);
    assert!(ok, "n1 claim engine-1: {out}");
    let out = py.wait_with_output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("sent tampered"),
        "{text}"
    );
    let dropped = wait_for(Duration::from_secs(2), || {
        stat(&net, "n2", "rx_auth_failed") >= before + 2
    });
    assert!(
        dropped.is_some(),
        "n2 took a replayed or tampered packet: rx_auth_failed {before} -> {}",
        stat(&net, "n2", "rx_auth_failed")
    );
    figure(
        "secured_n2_replay_and_tamper_dropped",
        stat(&net, "n2", "rx_auth_failed") - before,
    );
    assert_eq!(net.holders("n2", "engine-1"), vec![n1.clone()]);
    assert_eq!(net.holders("n2", "command"), vec![n1.clone()]);
    // The refusals are logged with their reason.
    let log3 = net.log("n3");
    assert!(
        log3.contains("not permitted") || log3.contains("NotAuthorised"),
        "n3's log has no reason"
    );
    let learned: u64 = ENROLLED
        .iter()
        .map(|n| stat(&net, n, "certs_learned"))
        .sum();
    figure("secured_certs_learned_total", learned);
    let unenrolled = stat(&net, "n4", "rx_unenrolled");
    figure("secured_n4_rx_unenrolled", unenrolled);
}
