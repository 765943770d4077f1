//! Field test of the local API under abuse (issue 17, point 4): three
//! real daemons in a line (`line3`: n1 - n2 - n3), a ping stream and a
//! talkgroup burst from n1 to n3 relayed by n2, while n2's API is
//! hammered from inside its namespace by `field-tests/tools/api_abuse.py`:
//! 1050 event-stream subscribers that never read (beside one that does),
//! 200 slowloris connections, oversized, malformed and mistyped JSON
//! bodies, all at once. Asserted and printed: n2's resident memory and
//! open file descriptors before, during (bounded, and flat once the abuse
//! is in full swing) and after; the relayed pings' delivery and latency
//! (50 a second, a voice stream's frame rate) and the burst's frames,
//! loss, late frames, gaps and mouth-to-ear at n3, calm and under abuse;
//! the CLI answering during it; and what the API answered every abuse, as
//! docs/API.md says (streams served up to the cap, 503 beyond it, events
//! still reaching a reader; slowloris dropped within the head timeout;
//! 413, 400 and 415 with JSON errors).
//!
//! Needs root, iproute2, python3 and sox; runs with CALLSIGN_FIELD_TESTS=1.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/ptt.rs"]
mod ptt;
#[path = "../field-tests/voice.rs"]
mod voice;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

/// Seconds of abuse (at least 20); the calm phase before it lasts 10.
/// CALLSIGN_API_ABUSE_SECONDS makes it longer, to watch memory over time.
fn abuse_s() -> u64 {
    std::env::var("CALLSIGN_API_ABUSE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(20, |s: u64| s.max(20))
}
/// Silent event-stream subscribers: more than the cap (1024 with the
/// reader), so both the served and the refused are seen.
const SSE_SILENT: u64 = 1050;

/// The talkgroup n1 talks on and n3 listens to, relayed by n2.
const TG: &str = "fireground-1";
/// Seconds of the talkgroup burst in the calm phase and under abuse.
const CALM_VOICE_S: u32 = 6;
const ABUSE_VOICE_S: u32 = 12;

/// One PTT burst of a `secs` tone from n1, recorded at n3: n3's receive
/// statistics for it (`rx` of `listen --json`).
fn voice_burst(net: &Net, tone: &Path, secs: u32) -> serde_json::Value {
    let rec = net.tmp.join(format!("voice-{secs}.wav"));
    let rec_s = rec.to_str().expect("utf-8 path");
    let listen_s = (secs + 4).to_string();
    std::thread::scope(|sc| {
        let listener = sc.spawn(|| {
            net.run(
                Some("n3"),
                &[
                    "listen",
                    TG,
                    "--record",
                    rec_s,
                    "--duration",
                    &listen_s,
                    "--json",
                ],
            )
        });
        let ready = wait_for(Duration::from_secs(3), || {
            ptt::view(net, "n3", TG)["recording"].as_str() == Some(rec_s)
        });
        assert!(ready.is_some(), "n3 was not recording within 3 s");
        let (ok, out) = net.run(
            Some("n1"),
            &[
                "ptt",
                TG,
                "--wav",
                tone.to_str().expect("utf-8 path"),
                "--json",
            ],
        );
        assert!(ok, "the press at n1: {out}");
        let (ok, out) = listener.join().expect("listen thread");
        assert!(ok, "listen at n3: {out}");
        voice::json_line(&out)["rx"].clone()
    })
}

/// A talkgroup burst of `secs` across n2 while the CLI asks n2 every
/// second until `end` (a claim every other time, of `names`-0 to -3:
/// events the reading subscriber sees): the burst's
/// receive statistics and the CLI's (answered, asked, slowest).
fn phase(
    net: &Net,
    tone: &Path,
    secs: u32,
    end: Instant,
    names: &str,
) -> (serde_json::Value, (u32, u32, Duration)) {
    let (mut ok, mut tries, mut worst) = (0u32, 0u32, Duration::ZERO);
    std::thread::scope(|sc| {
        let talk = sc.spawn(|| voice_burst(net, tone, secs));
        while Instant::now() < end {
            let t = Instant::now();
            // A node holds a bounded number of names (and a released one
            // counts until its lease ends): four a phase, claimed again in
            // turn. Only the first claim of each is news to subscribers.
            let name = format!("{names}-{}", (tries / 2) % NEW_NAMES);
            let args: Vec<&str> = if tries % 2 == 1 {
                vec!["claim", &name]
            } else {
                vec!["status", "--json"]
            };
            tries += 1;
            let (answered, out) = net.run(Some("n2"), &args);
            if answered {
                ok += 1;
            } else {
                println!("CLI {args:?} at n2 failed: {}", out.trim());
            }
            worst = worst.max(t.elapsed());
            std::thread::sleep(Duration::from_millis(1000));
        }
        (talk.join().expect("voice burst"), (ok, tries, worst))
    })
}

/// Names each phase claims (a claim every other CLI probe, in turn).
const NEW_NAMES: u32 = 4;

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
    let abuse_s = abuse_s();
    let mut net = Net::build(&Scenario::load("line3"));
    net.start_all(&["--no-sip", "--talkgroup", TG]);
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
    // Floods reach n3 once n2 is n1's flood relay: press until n3 hears.
    let short = voice::tone(&net.tmp, 1);
    let heard = |net: &Net| {
        ptt::view(net, "n3", TG)["bursts_heard"]
            .as_u64()
            .unwrap_or(0)
    };
    let before_warm = heard(&net);
    assert!(
        wait_for(Duration::from_secs(30), || {
            let _ = net.run(
                Some("n1"),
                &[
                    "ptt",
                    TG,
                    "--wav",
                    short.to_str().expect("utf-8 path"),
                    "--duration",
                    "0.3",
                ],
            );
            heard(&net) > before_warm
        })
        .is_some(),
        "n3 never heard n1 on {TG}"
    );
    let calm_tone = voice::tone(&net.tmp, CALM_VOICE_S);
    let abuse_tone = voice::tone(&net.tmp, ABUSE_VOICE_S);
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

    // Calm: the baseline, the same CLI probes and a talkgroup burst.
    let calm = Instant::now();
    let (calm_voice, _) = phase(
        &net,
        &calm_tone,
        CALM_VOICE_S,
        calm + Duration::from_secs(10),
        "calm",
    );
    let calm_end = Instant::now();
    let before = usage(pid);

    // Abuse, with the same probes and a longer burst.
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
            &abuse_s.to_string(),
            &SSE_SILENT.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("api_abuse.py");
    std::thread::sleep(Duration::from_secs(2));
    let (abuse_voice, cli) = phase(
        &net,
        &abuse_tone,
        ABUSE_VOICE_S,
        abuse_start + Duration::from_secs(abuse_s - 2),
        "abuse",
    );
    let (cli_ok, cli_tries, cli_worst) = cli;
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
    let mid = abuse_start + Duration::from_secs(abuse_s / 2);
    let first_half = peak(&samples, abuse_start + Duration::from_secs(5), mid);
    let second_half = peak(&samples, mid, abuse_end);

    let p = pings.lock().unwrap_or_else(|e| e.into_inner());
    // Skip the first two seconds of each phase (ramp-up of the stream and
    // of the attack).
    let calm_phase = p.phase(calm + Duration::from_secs(2), calm_end);
    let abuse_phase = p.phase(abuse_start + Duration::from_secs(2), abuse_end);
    println!("abuse report: {report}");
    // When the slowest relayed pings arrived, from the abuse's start.
    let mut slow: Vec<&(Instant, f64)> = p.replies.iter().collect();
    slow.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (t, rtt) in slow.iter().take(3) {
        let at = t.checked_duration_since(abuse_start).map_or_else(
            || format!("-{:.1}", (abuse_start - *t).as_secs_f64()),
            |d| format!("{:.1}", d.as_secs_f64()),
        );
        println!("SLOW PING rtt {rtt:.1} ms, answered at {at} s into the abuse");
    }
    figure("abuse_api_connection_cap", conn_cap);
    figure("abuse_api_event_stream_cap", sse_cap);
    figure("abuse_rss_kib_before", before.0);
    figure("abuse_rss_kib_peak", during.0);
    figure(
        &format!("abuse_rss_kib_peak_5_to_{}s", abuse_s / 2),
        first_half.0,
    );
    figure(
        &format!("abuse_rss_kib_peak_{}_to_{abuse_s}s", abuse_s / 2),
        second_half.0,
    );
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
    for (name, rx) in [("calm", &calm_voice), ("abuse", &abuse_voice)] {
        println!("VOICE {name} n1 -> n3 across n2: {rx}");
        for k in [
            "received",
            "loss_pct",
            "late_dropped",
            "max_gap_ms",
            "m2e_p50_ms",
            "m2e_p95_ms",
        ] {
            figure(&format!("abuse_voice_{name}_{k}"), &rx[k]);
        }
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
    // ... and a reader among a thousand silent ones still got its events:
    // a name_changed for each new name claimed during the abuse.
    let new_claims = u64::from((cli_tries / 2).min(NEW_NAMES));
    let named = n(&report["sse_reader_events"]["name_changed"]);
    assert!(
        named >= new_claims,
        "{named} name_changed events for {new_claims} new names: {report}"
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
    // ... and the talkgroup's voice kept its deadlines: the frames
    // arrived, no more were lost than calm, at most 1 % came too late for
    // playout, and mouth to ear stayed within 150 ms and near calm. (The
    // longest gap is printed, not judged: on a shared test machine n1's
    // and n3's daemons lose the CPU now and then, which the jitter buffer
    // absorbs; a stall of n2 shows in the pings above.)
    let f = |rx: &serde_json::Value, k: &str| rx[k].as_f64().unwrap_or(f64::MAX);
    let frames = f64::from(ABUSE_VOICE_S) * 50.0;
    assert!(
        f(&abuse_voice, "received") >= frames * 0.99,
        "voice frames received under abuse: {abuse_voice}"
    );
    assert!(
        f(&abuse_voice, "loss_pct") <= f(&calm_voice, "loss_pct") + 1.0,
        "voice loss under abuse: {abuse_voice} (calm {calm_voice})"
    );
    assert!(
        f(&abuse_voice, "late_dropped") <= frames * 0.01,
        "late voice frames under abuse: {abuse_voice} (calm {calm_voice})"
    );
    let m2e = f(&abuse_voice, "m2e_p95_ms");
    assert!(
        m2e <= 150.0 && m2e <= f(&calm_voice, "m2e_p95_ms") + 20.0,
        "voice mouth-to-ear p95 under abuse {m2e} ms (calm {calm_voice})"
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
