//! Field test of the local API under abuse (issue 17, point 4): three
//! real daemons in a line (`line3`: n1 - n2 - n3), a ping stream from n1
//! to n3 relayed by n2, while n2's API is hammered from inside its
//! namespace by `field-tests/tools/api_abuse.py`: 1050 event-stream
//! subscribers that never read (beside one that does), 200 slowloris
//! connections, oversized, malformed and mistyped JSON bodies, all at
//! once. Asserted and printed: n2's resident memory and open file
//! descriptors before, during (bounded, and flat once the abuse is in
//! full swing) and after; the relayed pings' delivery and latency before
//! and during the abuse (50 a second, a voice stream's frame rate); the
//! CLI answering during it; and what the API answered every abuse, as
//! docs/API.md says (streams served up to the cap, 503 beyond it, events
//! still reaching a reader; slowloris dropped within the head timeout;
//! 413, 400 and 415 with JSON errors).
//!
//! Needs root, iproute2 and python3; runs with CALLSIGN_FIELD_TESTS=1.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

/// Seconds of abuse; the calm phase before it lasts half as long.
const ABUSE_S: u64 = 20;
/// Silent event-stream subscribers: more than the cap (1024 with the
/// reader), so both the served and the refused are seen.
const SSE_SILENT: u64 = 1050;

/// The log without its colours.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut it = log.chars();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for c in it.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `key=N` figure from the daemon's log.
fn logged(log: &str, key: &str) -> Option<u64> {
    let log = plain(log);
    let at = log.find(&format!("{key}="))? + key.len() + 1;
    let digits: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// (resident KiB, open fds) of a process.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss, fds)
}

/// Ping replies as (arrival, rtt ms) and timeouts as arrivals.
#[derive(Default)]
struct Pings {
    replies: Vec<(Instant, f64)>,
    timeouts: Vec<Instant>,
}

impl Pings {
    /// (sent, delivered %, p50 ms, p95 ms, max ms) for answers that
    /// arrived in [from, to).
    fn phase(&self, from: Instant, to: Instant) -> (usize, f64, f64, f64, f64) {
        let mut rtt: Vec<f64> = self
            .replies
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|r| r.1)
            .collect();
        rtt.sort_by(f64::total_cmp);
        let lost = self
            .timeouts
            .iter()
            .filter(|t| **t >= from && **t < to)
            .count();
        let n = rtt.len() + lost;
        let pct = |q: f64| {
            rtt.get(((rtt.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let delivered = if n == 0 {
            0.0
        } else {
            100.0 * rtt.len() as f64 / n as f64
        };
        (
            n,
            delivered,
            pct(0.5),
            pct(0.95),
            rtt.last().copied().unwrap_or(f64::NAN),
        )
    }
}

/// n2's (resident KiB, fds) sampled every 100 ms while `done` is unset.
fn sample(pid: u32, done: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<(Instant, u64, usize)>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        while !done.load(Ordering::Relaxed) {
            let (rss, fds) = usage(pid);
            out.push((Instant::now(), rss, fds));
            std::thread::sleep(Duration::from_millis(100));
        }
        out
    })
}

/// The largest (resident KiB, fds) sampled in [from, to).
fn peak(samples: &[(Instant, u64, usize)], from: Instant, to: Instant) -> (u64, usize) {
    samples
        .iter()
        .filter(|s| s.0 >= from && s.0 < to)
        .fold((0, 0), |p, s| (p.0.max(s.1), p.1.max(s.2)))
}

#[test]
fn api_abuse_leaves_the_relay_and_the_cli_working() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line3"));
    net.start_all(&["--no-sip"]);
    assert!(
        wait_for(Duration::from_secs(15), || net
            .full_mesh(&["n1", "n2", "n3"]))
        .is_some(),
        "line3 did not converge"
    );
    let n3 = net.node("n3").id;
    assert_eq!(
        net.routes("n1").get(&n3).map(|r| r.1),
        Some(2),
        "n1 does not reach n3 through n2"
    );
    let pid = net.nodes[net.index("n2")]
        .child
        .as_ref()
        .expect("n2 runs")
        .id();
    // `ip netns exec` execs the daemon: the child's pid is the daemon's.
    let log = net.log("n2");
    let (Some(conn_cap), Some(sse_cap)) =
        (logged(&log, "connections"), logged(&log, "event_streams"))
    else {
        panic!("n2 did not log its API limits:\n{log}")
    };

    // The relayed traffic: 50 pings a second n1 -> n3, across n2.
    let mut ping = Command::new("ip")
        .args(["netns", "exec", &net.node("n1").ns, harness::bin()])
        .args([
            "ping",
            &n3.to_string(),
            "--interval",
            "0.02",
            "--timeout",
            "1",
            "--json",
        ])
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", &net.node("n1").dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ping");
    let pings: Arc<Mutex<Pings>> = Arc::default();
    let (p2, stdout) = (pings.clone(), ping.stdout.take().expect("stdout"));
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let mut p = p2.lock().unwrap_or_else(|e| e.into_inner());
            match v["type"].as_str() {
                Some("reply") => p
                    .replies
                    .push((Instant::now(), v["rtt_ms"].as_f64().unwrap_or(0.0))),
                Some("timeout") => p.timeouts.push(Instant::now()),
                _ => {}
            }
        }
    });
    let done = Arc::new(AtomicBool::new(false));
    let sampler = sample(pid, done.clone());

    // Calm: the baseline.
    let calm = Instant::now();
    std::thread::sleep(Duration::from_secs(ABUSE_S / 2));
    let before = usage(pid);

    // Abuse, with the CLI asked every second (a claim every other time,
    // which the reading subscriber sees as an event).
    let token = net.token("n2");
    let tool =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("field-tests/tools/api_abuse.py");
    let abuse_start = Instant::now();
    let attacker = Command::new("ip")
        .args(["netns", "exec", &net.node("n2").ns, "python3"])
        .arg(&tool)
        .args([
            "7480",
            &token,
            &ABUSE_S.to_string(),
            &SSE_SILENT.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("api_abuse.py");
    let (mut cli_ok, mut cli_tries, mut cli_worst) = (0u32, 0u32, Duration::ZERO);
    std::thread::sleep(Duration::from_secs(2));
    while abuse_start.elapsed() < Duration::from_secs(ABUSE_S - 2) {
        let t = Instant::now();
        let args: Vec<String> = if cli_tries % 2 == 0 {
            vec!["status".into(), "--json".into()]
        } else {
            vec!["claim".into(), format!("probe-{cli_tries}")]
        };
        cli_tries += 1;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if net.cli("n2", &args).is_some() {
            cli_ok += 1;
        }
        cli_worst = cli_worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(1000));
    }
    let out = attacker.wait_with_output().expect("api_abuse.py");
    let abuse_end = Instant::now();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "api_abuse.py: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });

    // After: connections gone.
    std::thread::sleep(Duration::from_secs(3));
    let after = usage(pid);
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler");
    let _ = ping.kill();
    let _ = ping.wait();
    let _ = reader.join();
    assert!(net.alive("n2"), "n2 exited under abuse:\n{}", net.log("n2"));
    let during = peak(&samples, abuse_start, abuse_end);
    // The abuse is in full swing from 5 s in (every stream open, the
    // slowloris being dropped and replaced): memory must not climb after.
    let mid = abuse_start + Duration::from_secs(ABUSE_S / 2);
    let first_half = peak(&samples, abuse_start + Duration::from_secs(5), mid);
    let second_half = peak(&samples, mid, abuse_end);

    let p = pings.lock().unwrap_or_else(|e| e.into_inner());
    // Skip the first two seconds of each phase (ramp-up of the stream and
    // of the attack).
    let calm_phase = p.phase(
        calm + Duration::from_secs(2),
        calm + Duration::from_secs(ABUSE_S / 2),
    );
    let abuse_phase = p.phase(abuse_start + Duration::from_secs(2), abuse_end);
    println!("abuse report: {report}");
    figure("abuse_api_connection_cap", conn_cap);
    figure("abuse_api_event_stream_cap", sse_cap);
    figure("abuse_rss_kib_before", before.0);
    figure("abuse_rss_kib_peak", during.0);
    figure("abuse_rss_kib_peak_5_to_10s", first_half.0);
    figure("abuse_rss_kib_peak_10_to_20s", second_half.0);
    figure("abuse_rss_kib_after", after.0);
    figure("abuse_fds_before", before.1);
    figure("abuse_fds_peak", during.1);
    figure("abuse_fds_after", after.1);
    let conns = during.1.saturating_sub(before.1).max(1);
    figure(
        "abuse_rss_kib_per_connection",
        format!(
            "{:.1}",
            during.0.saturating_sub(before.0) as f64 / conns as f64
        ),
    );
    for (name, ph) in [("calm", calm_phase), ("abuse", abuse_phase)] {
        figure(&format!("abuse_ping_{name}_sent"), ph.0);
        figure(
            &format!("abuse_ping_{name}_delivered_pct"),
            format!("{:.1}", ph.1),
        );
        figure(&format!("abuse_ping_{name}_p50_ms"), format!("{:.2}", ph.2));
        figure(&format!("abuse_ping_{name}_p95_ms"), format!("{:.2}", ph.3));
        figure(&format!("abuse_ping_{name}_max_ms"), format!("{:.2}", ph.4));
    }
    figure("abuse_cli_answered", format!("{cli_ok}/{cli_tries}"));
    figure("abuse_cli_worst_ms", cli_worst.as_millis());

    // Every abuse got the answer docs/API.md gives it: event streams
    // served up to the cap (the reader holds one), 503 beyond ...
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let sse = &report["sse"];
    assert_eq!(
        n(&report["sse_reader"]["200"]),
        1,
        "the reading subscriber: {report}"
    );
    assert_eq!(n(&sse["200"]), sse_cap - 1, "streams served: {sse}");
    assert_eq!(
        n(&sse["503"]),
        SSE_SILENT - (sse_cap - 1),
        "streams refused: {sse}"
    );
    let at_end = &report["sse_at_end"];
    assert_eq!(
        n(&at_end["200 open"]),
        sse_cap - 1,
        "served streams the daemon dropped: {at_end}"
    );
    assert_eq!(
        n(&at_end["503 closed"]),
        SSE_SILENT - (sse_cap - 1),
        "refused streams the daemon kept: {at_end}"
    );
    // ... and a reader among a thousand silent ones still got its events.
    let claims = u64::from(cli_tries / 2);
    assert!(
        n(&report["sse_reader_events"]) >= claims,
        "{} events for {claims} claims: {report}",
        n(&report["sse_reader_events"])
    );
    // Slowloris: dropped within the head timeout (10 s) and a sampling
    // second.
    let slow = &report["slowloris"];
    let dropped: u64 = slow
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.starts_with("dropped"))
                .map(|(_, v)| n(v))
                .sum()
        })
        .unwrap_or(0);
    assert!(
        dropped >= 200,
        "slowloris connections were not dropped: {report}"
    );
    let life = report["slowloris_max_lifetime_s"]
        .as_f64()
        .unwrap_or(f64::MAX);
    assert!(life <= 12.0, "a slowloris connection lived {life} s");
    // Bodies: the status, always with a JSON error.
    for (case, code) in [
        ("oversized", "413"),
        ("malformed", "400"),
        ("wrong_type", "400"),
        ("not_json", "400"),
        ("no_content_type", "415"),
    ] {
        let c = &report[case];
        let total: u64 = c.as_object().map(|o| o.values().map(n).sum()).unwrap_or(0);
        assert!(n(&c[code]) > 0 && n(&c[code]) == total, "{case}: {c}");
    }
    // The daemon kept answering the CLI and relaying, a voice stream's
    // packets within its deadlines ...
    assert_eq!(cli_ok, cli_tries, "the CLI went unanswered under abuse");
    assert!(cli_tries >= 10, "too few CLI probes: {cli_tries}");
    assert!(
        abuse_phase.0 >= 400,
        "the ping stream stalled: {abuse_phase:?}"
    );
    assert!(
        abuse_phase.1 >= 99.0,
        "relayed delivery under abuse: {abuse_phase:?} (calm {calm_phase:?})"
    );
    assert!(
        abuse_phase.3 <= calm_phase.3 + 20.0,
        "relayed p95 under abuse {:.1} ms vs {:.1} ms calm",
        abuse_phase.3,
        calm_phase.3
    );
    // ... with memory and descriptors bounded: a connection costs a
    // socket and hyper's capped buffers, never a queue of events.
    assert!(
        during.0 <= before.0 + 64 * 1024,
        "resident memory grew from {} to {} KiB",
        before.0,
        during.0
    );
    assert!(
        second_half.0 <= first_half.0 + 4 * 1024,
        "resident memory still climbing under steady abuse: {} then {} KiB",
        first_half.0,
        second_half.0
    );
    assert!(
        during.1 as u64 <= before.1 as u64 + conn_cap,
        "descriptors beyond the connection cap: {} before, {} peak",
        before.1,
        during.1
    );
    assert!(
        after.1 <= before.1 + 8,
        "descriptors left open: {} before, {} after",
        before.1,
        after.1
    );
}
