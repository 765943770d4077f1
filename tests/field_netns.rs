//! Field tests: real `callsign up` daemons in Linux network namespaces.
//! Needs root, iproute2, nftables and python3; runs only with
//! CALLSIGN_FIELD_TESTS=1 (see field-tests/README.md). Each test prints its
//! figures as `FIGURE name=value` lines.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

#[test]
fn line5_routes_and_ping() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let t0 = net.start_all(&[]);
    let n5 = net.node("n5").id;
    let ok = wait_for(Duration::from_secs(5), || {
        net.routes("n1").get(&n5).is_some_and(|r| r.1 == 4)
    });
    let ms = t0.elapsed().as_millis();
    assert!(
        ok.is_some(),
        "n1 has no 4-hop route to n5 after 5 s: {:?}",
        net.routes("n1")
    );
    figure("line5_route_ms", ms);
    assert!(ms <= 3000, "route took {ms} ms");
    let out = net
        .cli(
            "n1",
            &[
                "ping",
                &n5.to_string(),
                "--count",
                "5",
                "--interval",
                "0.1",
                "--json",
            ],
        )
        .unwrap_or_default();
    let replies: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "reply")
        .collect();
    assert!(!replies.is_empty(), "no ping replies n1 -> n5:\n{out}");
    assert!(replies.iter().all(|r| r["hops"] == 4), "{out}");
    let avg = replies
        .iter()
        .filter_map(|r| r["rtt_ms"].as_f64())
        .sum::<f64>()
        / replies.len() as f64;
    figure("line5_ping_replies", format!("{}/5", replies.len()));
    figure("line5_ping_rtt_ms", format!("{avg:.2}"));
}

/// A ping stream n1 -> n4 every 20 ms; the second relay on its path is
/// SIGKILLed; the gap between the last reply before and the first after.
#[test]
fn ring6_relay_failure_under_traffic() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("ring6"));
    net.start_all(&[]);
    let ids: Vec<_> = net.nodes.iter().map(|n| n.id).collect();
    let names: Vec<&str> = vec!["n1", "n2", "n3", "n4", "n5", "n6"];
    assert!(
        wait_for(Duration::from_secs(5), || net.full_mesh(&names)).is_some(),
        "ring6 did not converge"
    );
    let n4 = net.node("n4").id;
    let first = net.routes("n1")[&n4].0;
    let first_name = names[ids
        .iter()
        .position(|i| *i == first)
        .expect("known next hop")];
    let second = net.routes(first_name)[&n4].0;
    let victim = names[ids
        .iter()
        .position(|i| *i == second)
        .expect("known next hop")];
    assert!(victim != "n4", "path n1 -> n4 is not 3 hops");
    let ns = net.node("n1").ns.clone();
    let mut ping = Command::new("ip")
        .env("CALLSIGN_DATA_DIR", &net.node("n1").dir)
        .args([
            "netns",
            "exec",
            &ns,
            harness::bin(),
            "ping",
            &n4.to_string(),
            "--interval",
            "0.02",
            "--timeout",
            "0.5",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ping");
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stdout = ping.stdout.take().expect("stdout");
    let a2 = arrivals.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("\"type\":\"reply\"") {
                a2.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Instant::now());
            }
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    let before = arrivals.lock().unwrap_or_else(|e| e.into_inner()).len();
    net.kill(victim);
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(3000));
    let _ = ping.kill();
    let _ = ping.wait();
    let _ = reader.join();
    let arr = arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        before > 10,
        "ping stream did not run before the kill ({before} replies)"
    );
    let last_before = arr.iter().filter(|t| **t <= killed).max().copied();
    let first_after = arr
        .iter()
        .find(|t| **t > killed + Duration::from_millis(100))
        .copied();
    let (Some(lb), Some(fa)) = (last_before, first_after) else {
        panic!("pings did not resume after killing {victim}");
    };
    // Replies already in flight right after the kill are not a resumption.
    let gap = arr
        .windows(2)
        .filter(|w| w[1] > lb)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default();
    let _ = fa;
    figure("ring6_killed_relay", victim);
    figure("ring6_ping_gap_ms", gap.as_millis());
    assert!(
        gap <= Duration::from_millis(1000),
        "gap {} ms",
        gap.as_millis()
    );
}

/// No traffic: a relay dies; how long until no node routes through it and
/// every survivor again reaches every other.
#[test]
fn ring6_idle_repair() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("ring6"));
    net.start_all(&[]);
    let all = ["n1", "n2", "n3", "n4", "n5", "n6"];
    assert!(
        wait_for(Duration::from_secs(5), || net.full_mesh(&all)).is_some(),
        "ring6 did not converge"
    );
    // Let the startup burst of hellos end: measure the idle regime.
    std::thread::sleep(Duration::from_secs(2));
    let dead = net.node("n3").id;
    net.kill("n3");
    let survivors = ["n1", "n2", "n4", "n5", "n6"];
    let took = wait_for(Duration::from_secs(10), || {
        survivors.iter().all(|a| {
            let rs = net.routes(a);
            rs.values().all(|(nh, _)| *nh != dead)
                && survivors
                    .iter()
                    .filter(|b| *b != a)
                    .all(|b| rs.contains_key(&net.node(b).id))
        })
    });
    let Some(took) = took else {
        let ids: Vec<String> = net
            .nodes
            .iter()
            .map(|n| format!("{}={}", n.name, n.id.short()))
            .collect();
        let tables: Vec<String> = survivors
            .iter()
            .map(|a| format!("{a}: {:?}", net.routes(a)))
            .collect();
        panic!(
            "routes through the dead relay were not replaced within 10 s\n{ids:?}\n{}",
            tables.join("\n")
        );
    };
    figure("ring6_idle_repair_ms", took.as_millis());
    // Idle hellos every 2.1 s, suspect after 2.1 of them: within 5 s
    // (a call that starts over the dead relay finds out on its first
    // frames anyway).
    assert!(took <= Duration::from_secs(5), "{} ms", took.as_millis());
}

#[test]
fn fireground_join_time() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let sc = Scenario::load("fireground");
    let mut net = Net::build(&sc);
    let t0 = Instant::now();
    for i in 0..net.nodes.len() {
        let base = sc.base_stations.contains(&net.nodes[i].name);
        net.start(i, if base { &["--base-station"] } else { &[] });
    }
    let names: Vec<&str> = sc.nodes.iter().map(String::as_str).collect();
    let ok = wait_for(Duration::from_secs(10), || net.full_mesh(&names));
    let ms = t0.elapsed().as_millis();
    assert!(ok.is_some(), "fireground not fully joined after 10 s");
    figure("fireground_join_ms", ms);
    assert!(ms <= 3000, "join took {ms} ms");
    // Every handset has a route to a base station.
    let status = net.json("ff-5", "status").expect("status");
    assert!(
        status["nearest_base"].is_string(),
        "ff-5 has no base station: {status}"
    );
}

/// 100 000 random datagrams at the centre node's overlay port (sent from a
/// neighbour namespace over the test link); the daemon must keep running
/// and keep routing.
#[test]
fn grid9_garbage() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("grid9"));
    net.start_all(&[]);
    let all = ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"];
    assert!(
        wait_for(Duration::from_secs(8), || net.full_mesh(&all)).is_some(),
        "grid9 did not converge"
    );
    // Full routes can come before every direct link is up (a route may go
    // round a link whose first hellos were lost): wait for the link itself.
    let n5 = net.node("n5").id.to_string();
    let mut addr = None;
    wait_for(Duration::from_secs(5), || {
        addr = net
            .json("n4", "neighbors")
            .as_ref()
            .and_then(|v| v.as_array())
            .and_then(|a| a.iter().find(|n| n["id"] == n5.as_str()))
            .and_then(|n| n["addr"].as_str())
            .map(str::to_string);
        addr.is_some()
    });
    let addr = addr.unwrap_or_else(|| {
        panic!(
            "n5 is not n4's neighbour 5 s after convergence: {:?}",
            net.json("n4", "neighbors")
        )
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/field-tests/garbage.py");
    let started = Instant::now();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.node("n4").ns,
            "timeout",
            "60",
            "python3",
            script,
            &addr,
            "100000",
        ])
        .output()
        .expect("garbage sender");
    assert!(
        out.status.success(),
        "garbage sender: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    figure("garbage_sent", 100_000);
    figure("garbage_send_ms", started.elapsed().as_millis());
    assert!(net.alive("n5"), "n5 died under garbage");
    let status = net.json("n5", "status").expect("n5 answers its API");
    figure("garbage_rx_malformed", &status["stats"]["rx_malformed"]);
    let out = net
        .cli(
            "n1",
            &[
                "ping",
                &net.node("n9").id.to_string(),
                "--count",
                "5",
                "--interval",
                "0.1",
                "--json",
            ],
        )
        .unwrap_or_default();
    let replies = out
        .lines()
        .filter(|l| l.contains("\"type\":\"reply\""))
        .count();
    figure("garbage_ping_after", format!("{replies}/5"));
    assert!(replies > 0, "no routing after garbage:\n{out}");
    // Links lose 5 %: a route may be between repairs at any one instant.
    let ok = wait_for(Duration::from_secs(3), || net.full_mesh(&all));
    assert!(ok.is_some(), "routes lost after garbage");
}

#[test]
fn grid9_converges_under_loss() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("grid9"));
    let t0 = net.start_all(&[]);
    let all = ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"];
    assert!(
        wait_for(Duration::from_secs(8), || net.full_mesh(&all)).is_some(),
        "grid9 did not converge"
    );
    figure("grid9_join_ms", t0.elapsed().as_millis());
    let hops = net.routes("n1").get(&net.node("n9").id).map(|r| r.1);
    assert_eq!(hops, Some(4), "n1 -> n9 should be 4 hops");
}
