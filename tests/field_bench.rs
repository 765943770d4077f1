//! Relay cost benchmark (field test; CALLSIGN_FIELD_TESTS=1, root).
//!
//! Path a -> r -> b in three namespaces. Throughput: packets per second
//! delivered at b when a sends 20 000 voice-class packets as fast as it can,
//! through the callsign relay daemon on r, against a minimal UDP forwarder
//! (recv_from + send_to, nothing else) on r between a bare sender and a bare
//! sink. The daemon path has daemons at both ends too, so its figure is a
//! lower bound on the relay's own rate. Latency: one-way a -> b (2 hops)
//! minus a -> r (1 hop) at 1000 packets/s gives what one relay hop adds.
//!
//! The bare sender, forwarder and sink are this test binary re-run in a
//! namespace with CALLSIGN_FT_HELPER set (see `helper`).

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const PORT: u16 = 7471;
const COUNT: u64 = 20_000;
const SIZE: usize = 201;

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Helper modes, run in a namespace by the benchmark; a no-op otherwise.
#[test]
fn helper() {
    let Ok(mode) = std::env::var("CALLSIGN_FT_HELPER") else {
        return;
    };
    let arg = std::env::var("CALLSIGN_FT_ARG").unwrap_or_default();
    let sock = UdpSocket::bind(("::", PORT)).expect("bind");
    let _ = sock.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 2048];
    match mode.as_str() {
        "forward" => {
            let to: SocketAddr = arg.parse().expect("forward address");
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(&buf[..n], to);
            }
        }
        "sink" => {
            let (mut got, mut first, mut last, mut lat) = (0u64, None, Instant::now(), Vec::new());
            let _ = sock.set_read_timeout(Some(Duration::from_secs(20)));
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                let now = Instant::now();
                if n >= 8 {
                    let sent = u64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
                    lat.push(wall_us().saturating_sub(sent));
                }
                got += 1;
                first.get_or_insert(now);
                last = now;
                let _ = sock.set_read_timeout(Some(Duration::from_millis(1000)));
            }
            lat.sort_unstable();
            let span = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
            let p = |q: f64| {
                lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0)
            };
            let pps = if span > 0.0 {
                got.saturating_sub(1) as f64 / span
            } else {
                0.0
            };
            println!(
                "RESULT {{\"received\":{got},\"pps\":{pps:.0},\"p50_us\":{},\"p99_us\":{}}}",
                p(0.5),
                p(0.99)
            );
        }
        "blast" => {
            let (to, pps) = arg.split_once(' ').expect("blast args");
            let to: SocketAddr = to.parse().expect("blast address");
            let pps: u64 = pps.parse().expect("pps");
            let start = Instant::now();
            let mut pkt = [0u8; SIZE];
            for i in 0..COUNT {
                if pps > 0 {
                    let due = start + Duration::from_secs_f64(i as f64 / pps as f64);
                    while Instant::now() < due {
                        std::hint::spin_loop();
                    }
                }
                pkt[..8].copy_from_slice(&wall_us().to_be_bytes());
                let _ = sock.send_to(&pkt, to);
            }
        }
        m => panic!("unknown helper mode {m}"),
    }
}

fn spawn_helper(net: &Net, node: &str, mode: &str, arg: &str) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    Command::new("ip")
        .args(["netns", "exec", &net.node(node).ns])
        .arg(exe)
        .args(["helper", "--exact", "--nocapture", "--test-threads", "1"])
        .env("CALLSIGN_FT_HELPER", mode)
        .env("CALLSIGN_FT_ARG", arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("helper")
}

/// The kernel index of `iface` in node's namespace (std parses numeric scope ids only).
fn ifindex(net: &Net, node: &str, iface: &str) -> String {
    let out = harness::sh(&[
        "ip",
        "-n",
        &net.node(node).ns,
        "-o",
        "link",
        "show",
        "dev",
        iface,
    ]);
    out.split(':').next().unwrap_or("0").trim().to_string()
}

/// The link-local address of `iface` inside node's namespace.
fn link_local(net: &Net, node: &str, iface: &str) -> String {
    let out = harness::sh(&[
        "ip",
        "-n",
        &net.node(node).ns,
        "-6",
        "addr",
        "show",
        "dev",
        iface,
    ]);
    let addr = out
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("link-local address");
    addr.to_string()
}

fn result(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("helper output");
    let text = String::from_utf8_lossy(&out.stdout);
    // libtest prints "test helper ... " on the same line first.
    let line = text
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|x| x.1))
        .unwrap_or_else(|| panic!("helper result: {text}"));
    serde_json::from_str(line).expect("helper json")
}

fn bench(net: &Net, node: &str, args: &[&str]) -> serde_json::Value {
    let out = net
        .cli(node, &[&["bench"], args].concat())
        .expect("bench command");
    serde_json::from_str(&out).expect("bench json")
}

#[test]
fn relay_cost() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("relay3"));
    let (ar_r, rb_r, rb_b) = (
        net.veths[0].1.clone(),
        net.veths[1].0.clone(),
        net.veths[1].1.clone(),
    );

    // Baseline first, before any daemon runs.
    let r_ll = link_local(&net, "r", &ar_r);
    let b_ll = link_local(&net, "b", &rb_b);
    let sink = spawn_helper(&net, "b", "sink", "");
    let fwd = spawn_helper(
        &net,
        "r",
        "forward",
        &format!("[{b_ll}%{}]:{PORT}", ifindex(&net, "r", &rb_r)),
    );
    std::thread::sleep(Duration::from_millis(300));
    let a_if = net.veths[0].0.clone();
    let blast = spawn_helper(
        &net,
        "a",
        "blast",
        &format!("[{r_ll}%{}]:{PORT} 0", ifindex(&net, "a", &a_if)),
    );
    let _ = result_or_wait(blast);
    let base = result(sink);
    let _ = fwd.wait_with_output();
    let base_pps = base["pps"].as_f64().unwrap_or(0.0);
    figure("forwarder_pps", format!("{base_pps:.0}"));
    figure("forwarder_received", &base["received"]);

    // The same path through callsign daemons.
    net.start_all(&["--bench"]);
    let b_id = net.node("b").id.to_string();
    let r_id = net.node("r").id.to_string();
    let bid = net.node("b").id;
    assert!(
        wait_for(Duration::from_secs(5), || net
            .routes("a")
            .get(&bid)
            .is_some_and(|r| r.1 == 2))
        .is_some(),
        "no route a -> b"
    );
    bench(&net, "b", &["recv", "--reset"]);
    let sent = bench(
        &net,
        "a",
        &[
            "send",
            &b_id,
            "--count",
            &COUNT.to_string(),
            "--pps",
            "0",
            "--size",
            "160",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let got = bench(&net, "b", &["recv", "--reset"]);
    let pps = got["pps"].as_f64().unwrap_or(0.0);
    figure("relay_daemon_pps", format!("{pps:.0}"));
    figure("relay_daemon_sent", &sent["sent"]);
    figure("relay_daemon_received", &got["received"]);
    let ratio = if base_pps > 0.0 { pps / base_pps } else { 0.0 };
    figure("relay_pps_ratio", format!("{ratio:.2}"));

    // Latency at 1000 packets/s: two hops, then one.
    bench(
        &net,
        "a",
        &[
            "send", &b_id, "--count", "3000", "--pps", "1000", "--size", "160",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let two = bench(&net, "b", &["recv", "--reset"]);
    bench(&net, "r", &["recv", "--reset"]);
    bench(
        &net,
        "a",
        &[
            "send", &r_id, "--count", "3000", "--pps", "1000", "--size", "160",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let one = bench(&net, "r", &["recv", "--reset"]);
    let us = |v: &serde_json::Value, k: &str| v[k].as_i64().unwrap_or(0);
    figure("oneway_2hop_p50_us", us(&two, "latency_p50_us"));
    figure("oneway_2hop_p99_us", us(&two, "latency_p99_us"));
    figure("oneway_1hop_p50_us", us(&one, "latency_p50_us"));
    figure("oneway_1hop_p99_us", us(&one, "latency_p99_us"));
    let add50 = us(&two, "latency_p50_us") - us(&one, "latency_p50_us");
    let add99 = us(&two, "latency_p99_us") - us(&one, "latency_p99_us");
    figure("relay_added_p50_us", add50);
    figure("relay_added_p99_us", add99);
    figure("forwarder_oneway_2hop_p50_us", &base["p50_us"]);
    assert!(
        ratio >= 0.5,
        "relay reaches {ratio:.2} of a bare forwarder's rate"
    );
    assert!(add99 <= 1000, "a relay hop adds {add99} us at p99");
}

fn result_or_wait(c: Child) -> std::process::Output {
    c.wait_with_output().expect("helper")
}
