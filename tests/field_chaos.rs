//! Field test: the chaos soak (issue "Reliability", point 1). Twelve real
//! daemons in network namespaces (`fireground12`) carry traffic the whole
//! time (PTT bursts on two talkgroups, one long call command -> ff-5, a
//! text every few seconds between changing pairs, pings) while faults come
//! the whole time, all drawn from one seed: SIGKILL and restart of a random
//! daemon every 30 s (never the call's two ends or ff-6), link flaps,
//! bursts of 10-30 % loss, a partition that heals, a daemon stopped for
//! 2 s and continued, medic-1's wall clock an hour fast (the daemon's
//! test-only offset), ff-6's data dir on a small tmpfs that fills up and
//! is freed.
//! The end checks are the list; the figures are `FIGURE` lines.
//!
//! `CALLSIGN_CHAOS_SECS` sets the length (default 300, the CI run; the
//! long run is 1800), `CALLSIGN_CHAOS_SEED` replays a run's fault and
//! traffic choices (the seed is printed first). Needs root; runs only
//! with CALLSIGN_FIELD_TESTS=1 (see field-tests/README.md).

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/chaos.rs"]
mod chaos;
#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/ptt.rs"]
mod ptt;
#[path = "../field-tests/voice.rs"]
mod voice;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos::{
    Cli, Fault, Ledger, Press, Rng, Sample, Text, Tmpfs, log_rows, ping_loop, proc_sample,
    ptt_loop, relayed, set_link, set_loss_burst, text_loop,
};
use harness::{Net, Scenario, enabled, figure, serial, wait_for};
use ptt::{percentile, unix_ms};

/// The long call's two ends: never killed, stopped or cut off.
const CALLER: &str = "command";
const CALLEE: &str = "ff-5";
/// Its data dir on a small tmpfs that the test fills; never killed.
const FULL_DISK: &str = "ff-6";
/// Its wall clock an hour fast.
const SKEWED: &str = "medic-1";
const SKEW_S: i64 = 3600;
const TG_INTERIOR: &str = "fireground-1";
const TG_REAR: &str = "fireground-2";
/// The partition: these links cut the rear crew off and heal later.
const CUT: [(&str, &str); 3] = [
    ("engine-1", "ladder-2"),
    ("command", "ladder-2"),
    ("ff-4", "ff-8"),
];

fn tg_members(tg: &str) -> &'static [&'static str] {
    if tg == TG_INTERIOR {
        &[
            "command", "engine-1", "ff-1", "ff-2", "ff-3", "ff-4", "ff-5",
        ]
    } else {
        &["command", "ladder-2", "ff-6", "ff-7", "ff-8", "medic-1"]
    }
}

/// The daemon's arguments for node `name` (the same at every restart).
fn node_args(name: &str) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    for tg in [TG_INTERIOR, TG_REAR] {
        if tg_members(tg).contains(&name) {
            a.extend(["--talkgroup".into(), tg.into()]);
        }
    }
    // The audio log of every burst heard is bounded small: twelve nodes'
    // audio logs share the host's disk for up to half an hour.
    a.extend(["--audio-log-mb".into(), "2".into(), "--no-sip".into()]);
    a
}

fn start(net: &mut Net, name: &str) {
    let i = net.index(name);
    let args = node_args(name);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let skew = SKEW_S.to_string();
    let env: Vec<(&str, &str)> = if name == SKEWED {
        vec![("CALLSIGN_TEST_WALL_OFFSET_S", skew.as_str())]
    } else {
        vec![]
    };
    net.start_env(i, &args, &env);
}

/// Whether the call's ends stay connected without `dead` nodes and `down`
/// links (scenario link indexes).
fn call_connected(
    sc: &Scenario,
    dead: &BTreeSet<String>,
    down: &BTreeSet<usize>,
    also_dead: Option<&str>,
) -> bool {
    let gone = |n: &str| dead.contains(n) || also_dead == Some(n);
    let mut seen = BTreeSet::from([CALLER.to_string()]);
    let mut frontier = vec![CALLER.to_string()];
    while let Some(n) = frontier.pop() {
        for (i, l) in sc.links.iter().enumerate() {
            if down.contains(&i) {
                continue;
            }
            let other = if l.a == n {
                &l.b
            } else if l.b == n {
                &l.a
            } else {
                continue;
            };
            if !gone(other) && seen.insert(other.clone()) {
                frontier.push(other.clone());
            }
        }
    }
    seen.contains(CALLEE)
}

fn secs_from_env() -> u64 {
    std::env::var("CALLSIGN_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s >= 60)
        .unwrap_or(300)
}

fn seed_from_env() -> u64 {
    std::env::var("CALLSIGN_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

#[test]
fn chaos_soak() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let secs = secs_from_env();
    let seed = seed_from_env();
    println!(
        "CHAOS seed={seed} secs={secs} (CALLSIGN_CHAOS_SEED={seed} CALLSIGN_CHAOS_SECS={secs} replays it)"
    );
    figure("chaos_seed", seed);
    figure("chaos_secs", secs);
    let mut rng = Rng(seed);
    let sc = Scenario::load("fireground12");
    let mut net = Net::build(&sc);
    let names: Vec<String> = sc.nodes.clone();
    let cli = Cli(net
        .nodes
        .iter()
        .map(|n| (n.name.clone(), (n.ns.clone(), n.dir.clone())))
        .collect());
    let fs = Tmpfs::over(&net.node(FULL_DISK).dir.clone(), "16m");
    let tone_ptt = voice::tone(&net.tmp, 2);
    // The call's tone outlasts the call, which ends by its --duration;
    // the daemon takes a WAV of 30 minutes at most, so the long run's
    // call ends 10 s before the chaos does.
    let call_secs = secs.min(1790);
    let tone_call = voice::tone(&net.tmp, call_secs as u32 + 10);
    let since_s = unix_ms() / 1000;
    for n in &names {
        start(&mut net, n);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let conv = wait_for(Duration::from_secs(30), || net.full_mesh(&refs));
    assert!(conv.is_some(), "fireground12 did not converge");
    figure("chaos_converge_ms", conv.map_or(0, |d| d.as_millis()));
    let callee_id = net.node(CALLEE).id.to_string();
    assert!(
        wait_for(Duration::from_secs(15), || net.holders(CALLER, CALLEE)
            == vec![callee_id.clone()])
        .is_some(),
        "{CALLER} does not resolve {CALLEE}"
    );

    // The long call: answered at once, hung up by the caller after `secs`.
    let rec = net.tmp.join("call.wav");
    let call = {
        let cli = cli.clone();
        let wav = tone_call.display().to_string();
        let d = call_secs.to_string();
        std::thread::spawn(move || {
            cli.run(
                CALLER,
                &["call", CALLEE, "--wav", &wav, "--duration", &d, "--json"],
            )
        })
    };
    let rang = wait_for(Duration::from_secs(10), || {
        voice::call_in(&net, CALLEE, "ringing").is_some()
    });
    if rang.is_none() {
        let (_, out) = call.join().expect("call thread");
        panic!("{CALLEE} never rang: {out}");
    }
    let (ok, out) = net.run(
        Some(CALLEE),
        &["answer", "--record", rec.to_str().expect("utf-8"), "--json"],
    );
    assert!(ok, "answer at {CALLEE}: {out}");

    // Traffic the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut threads = Vec::new();
    {
        let (c, n, r, s, l) = (
            cli.clone(),
            names.clone(),
            Rng(seed ^ 1),
            stop.clone(),
            ledger.clone(),
        );
        threads.push(std::thread::spawn(move || text_loop(c, n, r, s, l)));
        let (c, n, r, s, l) = (
            cli.clone(),
            names.clone(),
            Rng(seed ^ 2),
            stop.clone(),
            ledger.clone(),
        );
        threads.push(std::thread::spawn(move || ping_loop(c, n, r, s, l)));
        for (k, tg) in [TG_INTERIOR, TG_REAR].into_iter().enumerate() {
            let (c, t, r, s, l) = (
                cli.clone(),
                tone_ptt.clone(),
                Rng(seed ^ (3 + k as u64)),
                stop.clone(),
                ledger.clone(),
            );
            threads.push(std::thread::spawn(move || {
                ptt_loop(c, tg, tg_members(tg), t, r, s, l)
            }));
        }
    }

    // Faults the whole time, from the seed.
    let t0 = Instant::now();
    let run = Duration::from_secs(secs);
    let at = |f: f64| Duration::from_secs_f64(secs as f64 * f);
    let mut faults: Vec<Fault> = Vec::new();
    let log_fault = |faults: &mut Vec<Fault>, what: String| {
        let at_s = t0.elapsed().as_secs_f64();
        println!("FAULT t={at_s:.1}s {what}");
        faults.push(Fault { at_s, what });
    };
    let cut: BTreeSet<usize> = CUT
        .iter()
        .map(|(a, b)| {
            sc.links
                .iter()
                .position(|l| (l.a == *a && l.b == *b) || (l.a == *b && l.b == *a))
                .expect("cut link in the scenario")
        })
        .collect();
    let mut dead: BTreeSet<String> = BTreeSet::new();
    let mut stopped: Option<(String, Instant)> = None;
    let mut down: BTreeSet<usize> = BTreeSet::new();
    let mut restarts: Vec<(String, Instant)> = Vec::new();
    let mut flaps: Vec<(usize, Instant)> = Vec::new();
    let mut loss: Option<(usize, Instant)> = None;
    let mut partitioned = false;
    let mut partition_done = false;
    let (part_from, part_len) = (at(0.4), Duration::from_secs((secs / 10).max(20)));
    let (fill_at, free_at) = (at(0.25), at(0.7));
    let mut disk_full = false;
    let mut disk_done = false;
    let mut disk_refusals: Vec<String> = Vec::new();
    let mut disk_accepted = 0usize;
    let mut relayed_at_fill = None;
    let mut relayed_while_full = None;
    let mut next_kill = Duration::from_secs(30);
    let mut next_flap = rng.secs(10.0, 20.0);
    let mut next_loss = rng.secs(15.0, 30.0);
    let mut next_stop = at(0.2);
    let mut kills: Vec<(String, u64)> = Vec::new();
    let mut stops: Vec<(String, u64)> = Vec::new();
    let mut path_kills = 0usize;
    // Link -> Unix ms it went down; (link, down, up) once it is back.
    let mut down_since: BTreeMap<usize, u64> = BTreeMap::new();
    let mut link_downs: Vec<(usize, u64, u64)> = Vec::new();
    let mut crashes: Vec<String> = Vec::new();
    // (name, pid) -> samples (t s, rss KiB, fds)
    let mut mem: BTreeMap<(String, u32), Vec<Sample>> = BTreeMap::new();
    // The callee's received frames, sampled about once a second.
    let mut call_rx: Vec<(f64, u64)> = Vec::new();
    let mut next_sample = Duration::ZERO;
    while t0.elapsed() < run {
        let now = t0.elapsed();
        let wall = Instant::now();
        // Restarts and ends of timed faults.
        restarts.retain(|(n, when)| {
            if wall < *when {
                return true;
            }
            start(&mut net, n);
            dead.remove(n);
            println!("FAULT t={:.1}s restart {n}", now.as_secs_f64());
            false
        });
        flaps.retain(|(i, when)| {
            if wall < *when {
                return true;
            }
            if !(partitioned && cut.contains(i)) {
                set_link(&net, *i, true);
                down.remove(i);
                if let Some(t) = down_since.remove(i) {
                    link_downs.push((*i, t, unix_ms()));
                }
            }
            false
        });
        if let Some((i, until)) = loss
            && wall >= until
        {
            set_loss_burst(&net, i, None);
            loss = None;
        }
        if let Some((n, until)) = stopped.clone()
            && wall >= until
        {
            net.signal(&n, "CONT");
            stopped = None;
            dead.remove(&n);
            log_fault(&mut faults, format!("continue {n}"));
        }
        // New faults.
        if now >= next_kill {
            next_kill += Duration::from_secs(30);
            let cands: Vec<String> = names
                .iter()
                .filter(|n| *n != CALLER && *n != CALLEE && !dead.contains(*n))
                // The full-disk node lives the whole run (stops aside): a
                // third long-lived daemon for the memory check, and the one
                // whose log backlog grows while its disk is full.
                .filter(|n| *n != FULL_DISK)
                .filter(|n| call_connected(&sc, &dead, &down, Some(n)))
                .cloned()
                .collect();
            if let Some(v) = rng.pick(&cands).cloned() {
                // Was it a relay of the call (either end's next hop)?
                let on_path = [(CALLER, CALLEE), (CALLEE, CALLER)].iter().any(|(a, b)| {
                    net.routes(a)
                        .get(&net.node(b).id)
                        .is_some_and(|(nh, _)| *nh == net.node(&v).id)
                });
                if on_path {
                    path_kills += 1;
                }
                net.kill(&v);
                dead.insert(v.clone());
                kills.push((v.clone(), unix_ms()));
                let back = rng.secs(2.0, 8.0);
                restarts.push((v.clone(), wall + back));
                log_fault(
                    &mut faults,
                    format!(
                        "SIGKILL {v}{}, restart in {:.1}s",
                        if on_path {
                            " (a relay of the call)"
                        } else {
                            ""
                        },
                        back.as_secs_f64()
                    ),
                );
            }
        }
        if now >= next_flap {
            next_flap = now + rng.secs(10.0, 20.0);
            let cands: Vec<usize> = (0..sc.links.len())
                .filter(|i| !(down.contains(i) || partitioned && cut.contains(i)))
                .filter(|i| {
                    let mut d = down.clone();
                    d.insert(*i);
                    call_connected(&sc, &dead, &d, None)
                })
                .collect();
            if let Some(&i) = rng.pick(&cands) {
                let len = rng.secs(2.0, 6.0);
                set_link(&net, i, false);
                down.insert(i);
                down_since.insert(i, unix_ms());
                flaps.push((i, wall + len));
                let l = &sc.links[i];
                log_fault(
                    &mut faults,
                    format!("link {} - {} down for {:.1}s", l.a, l.b, len.as_secs_f64()),
                );
            }
        }
        if now >= next_loss && loss.is_none() {
            next_loss = now + rng.secs(15.0, 30.0);
            let i = rng.below(sc.links.len() as u64) as usize;
            let pct = 10 + rng.below(21) as u32;
            let len = rng.secs(5.0, 10.0);
            set_loss_burst(&net, i, Some(pct));
            loss = Some((i, wall + len));
            let l = &sc.links[i];
            log_fault(
                &mut faults,
                format!(
                    "loss {pct}% on {} - {} for {:.1}s",
                    l.a,
                    l.b,
                    len.as_secs_f64()
                ),
            );
        }
        if !partition_done && !partitioned && now >= part_from {
            partitioned = true;
            for &i in &cut {
                if !down.contains(&i) {
                    set_link(&net, i, false);
                    down.insert(i);
                    down_since.insert(i, unix_ms());
                }
            }
            log_fault(
                &mut faults,
                format!("partition: rear crew cut off for {}s", part_len.as_secs()),
            );
        }
        if partitioned && now >= part_from + part_len {
            partitioned = false;
            partition_done = true;
            for &i in &cut {
                flaps.retain(|(j, _)| *j != i);
                set_link(&net, i, true);
                down.remove(&i);
                if let Some(t) = down_since.remove(&i) {
                    link_downs.push((i, t, unix_ms()));
                }
            }
            log_fault(&mut faults, "partition healed".into());
        }
        if now >= next_stop && stopped.is_none() {
            next_stop = now + rng.secs(40.0, 80.0);
            let cands: Vec<String> = names
                .iter()
                .filter(|n| *n != CALLER && *n != CALLEE && !dead.contains(*n))
                .filter(|n| call_connected(&sc, &dead, &down, Some(n)))
                .cloned()
                .collect();
            if let Some(v) = rng.pick(&cands).cloned() {
                net.signal(&v, "STOP");
                stops.push((v.clone(), unix_ms()));
                dead.insert(v.clone());
                stopped = Some((v.clone(), wall + Duration::from_secs(2)));
                log_fault(&mut faults, format!("SIGSTOP {v} for 2s"));
            }
        }
        if !disk_full && !disk_done && now >= fill_at && !dead.contains(FULL_DISK) {
            relayed_at_fill = relayed(&cli, FULL_DISK);
            let filled = fs.fill();
            disk_full = true;
            log_fault(
                &mut faults,
                format!("{FULL_DISK}'s disk filled ({filled} bytes)"),
            );
            figure("chaos_disk_filled_bytes", filled);
            // Sends from the full node until one is refused.
            let pad = "x".repeat(600);
            for k in 0..60 {
                let text = format!("full disk {k} {pad}");
                let to = if k % 2 == 0 { "ladder-2" } else { "ff-7" };
                let asked_ms = unix_ms();
                let (ok, out) = net.run(Some(FULL_DISK), &["msg", to, &text, "--json"]);
                let id = ok
                    .then(|| serde_json::from_str::<serde_json::Value>(&out).ok())
                    .flatten()
                    .and_then(|v| v["id"].as_str().map(str::to_string));
                if id.is_some() {
                    disk_accepted += 1;
                } else {
                    disk_refusals.push(out.trim().to_string());
                }
                ledger
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .texts
                    .push(Text {
                        from: FULL_DISK.into(),
                        to: to.into(),
                        refusal: id.is_none().then(|| out.trim().to_string()),
                        id,
                        asked_ms,
                    });
                if !disk_refusals.is_empty() {
                    break;
                }
            }
        }
        if disk_full && now >= free_at {
            relayed_while_full = relayed(&cli, FULL_DISK);
            fs.free();
            disk_full = false;
            disk_done = true;
            log_fault(&mut faults, format!("{FULL_DISK}'s disk freed"));
        }
        // Samples once a second: crashes, memory, descriptors, the call.
        if now >= next_sample {
            next_sample = now + Duration::from_secs(1);
            let t = now.as_secs_f64();
            for i in 0..net.nodes.len() {
                let name = net.nodes[i].name.clone();
                if dead.contains(&name) || restarts.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                if !net.alive(&name) {
                    let tail: String = net
                        .log(&name)
                        .lines()
                        .rev()
                        .take(20)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    println!("CRASH t={t:.1}s {name} exited on its own; log tail:\n{tail}");
                    crashes.push(name.clone());
                    start(&mut net, &name);
                    continue;
                }
                if let Some(pid) = net.nodes[i].child.as_ref().map(|c| c.id())
                    && let Some((rss, fds)) = proc_sample(pid)
                {
                    mem.entry((name, pid)).or_default().push((t, rss, fds));
                }
            }
            if let Some(c) = voice::call_in(&net, CALLEE, "active") {
                call_rx.push((t, c["media"]["rx"]["received"].as_u64().unwrap_or(0)));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Chaos over: stop the traffic, heal everything.
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    if let Some((n, _)) = stopped.take() {
        net.signal(&n, "CONT");
        dead.remove(&n);
    }
    for (n, _) in std::mem::take(&mut restarts) {
        start(&mut net, &n);
        dead.remove(&n);
    }
    for i in std::mem::take(&mut down) {
        set_link(&net, i, true);
        if let Some(t) = down_since.remove(&i) {
            link_downs.push((i, t, unix_ms()));
        }
    }
    if let Some((i, _)) = loss.take() {
        set_loss_burst(&net, i, None);
    }
    if disk_full {
        relayed_while_full = relayed(&cli, FULL_DISK);
        fs.free();
    }
    let (call_ok, call_out) = call.join().expect("call thread");

    // Settle: every accepted text delivered, or given up after a bound.
    let accepted: Vec<Text> = ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .texts
        .iter()
        .filter(|t| t.id.is_some())
        .cloned()
        .collect();
    let inboxes = |cli: &Cli| -> BTreeMap<String, Vec<serde_json::Value>> {
        names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    cli.json_retry(n, &["inbox", "--json"])
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default(),
                )
            })
            .collect()
    };
    let count_in = |inb: &BTreeMap<String, Vec<serde_json::Value>>, t: &Text| {
        let id = t.id.as_deref().unwrap_or_default();
        inb[&t.to].iter().filter(|m| m["id"] == id).count()
    };
    let settle = Duration::from_secs(60 + secs / 20);
    let settled = wait_for(settle, || {
        let inb = inboxes(&cli);
        accepted.iter().all(|t| count_in(&inb, t) >= 1)
    });
    figure(
        "chaos_settle_ms",
        settled.map_or(settle.as_millis(), |d| d.as_millis()),
    );
    let inb = inboxes(&cli);
    let outboxes: BTreeMap<String, Vec<serde_json::Value>> = names
        .iter()
        .map(|n| {
            (
                n.clone(),
                cli.json_retry(n, &["outbox", "--json"])
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let (mut delivered, mut dup, mut held, mut lost) = (0, 0, 0, Vec::new());
    let mut lat: Vec<u64> = Vec::new();
    for t in &accepted {
        let id = t.id.as_deref().unwrap_or_default();
        match count_in(&inb, t) {
            0 => {
                let state = outboxes[&t.from]
                    .iter()
                    .find(|m| m["id"] == id)
                    .and_then(|m| m["state"].as_str().map(str::to_string));
                match state.as_deref() {
                    Some("queued") | Some("forwarded") => {
                        held += 1;
                        println!(
                            "HELD {id} {} -> {}: {}",
                            t.from,
                            t.to,
                            state.unwrap_or_default()
                        );
                    }
                    s => {
                        println!("LOST {id} {} -> {}: outbox says {s:?}", t.from, t.to);
                        lost.push(id.to_string());
                    }
                }
            }
            n => {
                delivered += 1;
                if n > 1 {
                    dup += 1;
                    println!("DUPLICATE {id} {} -> {}: {n} copies", t.from, t.to);
                }
                let m = inb[&t.to].iter().find(|m| m["id"] == id).expect("found");
                let skew = if t.to == SKEWED { SKEW_S * 1000 } else { 0 };
                let rx = m["received_ms"].as_i64().unwrap_or(0) - skew;
                lat.push((rx - t.asked_ms as i64).max(0) as u64);
            }
        }
    }
    let all_texts = ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .texts
        .clone();
    // Why texts were not accepted, by kind (a daemon down is most).
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for t in all_texts.iter().filter_map(|t| t.refusal.as_deref()) {
        let kind = if t.contains("disk is full") {
            "disk full"
        } else if t.contains("onnect") {
            "daemon down"
        } else {
            t
        };
        *why.entry(kind.chars().take(120).collect()).or_default() += 1;
    }
    println!("not accepted: {why:?}");
    figure("chaos_texts_asked", all_texts.len());
    figure("chaos_texts_sent", accepted.len());
    figure("chaos_texts_not_accepted", all_texts.len() - accepted.len());
    figure("chaos_texts_delivered", delivered);
    figure("chaos_texts_duplicated", dup);
    figure("chaos_texts_in_custody", held);
    figure("chaos_texts_lost", lost.len());
    figure("chaos_delivery_p50_ms", percentile(&lat, 50.0).unwrap_or(0));
    figure("chaos_delivery_p95_ms", percentile(&lat, 95.0).unwrap_or(0));
    figure(
        "chaos_delivery_max_ms",
        lat.iter().max().copied().unwrap_or(0),
    );

    // The call: it lasted to the caller's hang-up; its gaps.
    let end = voice::call_in(&net, CALLEE, "ended");
    let max_gap = end
        .as_ref()
        .and_then(|c| c["media"]["rx"]["max_gap_ms"].as_u64())
        .unwrap_or(0);
    let received = end
        .as_ref()
        .and_then(|c| c["media"]["rx"]["received"].as_u64())
        .unwrap_or(0);
    // Seconds in which fewer than half the 50 frames a second arrived.
    let thin: Vec<String> = call_rx
        .windows(2)
        .filter(|w| {
            let dt = w[1].0 - w[0].0;
            ((w[1].1 - w[0].1) as f64) < 25.0 * dt
        })
        .map(|w| format!("{:.0}s", w[0].0))
        .collect();
    println!("call: ok={call_ok} thin seconds at {CALLEE}: {thin:?}");
    figure("chaos_call_received_frames", received);
    figure("chaos_call_max_gap_ms", max_gap);
    figure("chaos_call_thin_seconds", thin.len());
    figure("chaos_call_relay_kills", path_kills);

    // Memory and descriptors of the daemons that ran the whole time.
    let warm = secs as f64 / 3.0;
    let mut mem_fail = Vec::new();
    let (mut rss_lo, mut rss_hi, mut fd_lo, mut fd_hi) = (u64::MAX, 0, u64::MAX, 0);
    let mut long_lived = 0;
    for ((name, pid), s) in &mem {
        let first = s.first().map_or(0.0, |x| x.0);
        let last = s.last().map_or(0.0, |x| x.0);
        if first > 5.0 || last < secs as f64 - 5.0 {
            continue; // restarted during the run
        }
        long_lived += 1;
        let mid: Vec<_> = s
            .iter()
            .filter(|x| x.0 >= warm && x.0 < 2.0 * warm)
            .collect();
        let tail: Vec<_> = s.iter().filter(|x| x.0 >= 2.0 * warm).collect();
        let max = |v: &[&Sample], f: fn(&Sample) -> u64| v.iter().map(|x| f(x)).max().unwrap_or(0);
        let (rm, rt) = (max(&mid, |x| x.1), max(&tail, |x| x.1));
        let (fm, ft) = (max(&mid, |x| x.2), max(&tail, |x| x.2));
        let rmin = s.iter().map(|x| x.1).min().unwrap_or(0);
        let fmin = s.iter().map(|x| x.2).min().unwrap_or(0);
        rss_lo = rss_lo.min(rmin);
        rss_hi = rss_hi.max(rt.max(rm));
        fd_lo = fd_lo.min(fmin);
        fd_hi = fd_hi.max(ft.max(fm));
        println!(
            "MEM {name} pid {pid}: rss KiB min {rmin}, max after warm-up {rm}, max in the last third {rt}; fds min {fmin}, {fm}, {ft}"
        );
        // "Stops growing": the last third's peak within 10 % + 2 MiB of
        // the middle third's, descriptors within 4.
        if rt > rm + rm / 10 + 2048 || ft > fm + 4 {
            mem_fail.push(format!("{name}: rss {rm} -> {rt} KiB, fds {fm} -> {ft}"));
        }
    }
    figure("chaos_long_lived_daemons", long_lived);
    figure("chaos_rss_kib_min", rss_lo);
    figure("chaos_rss_kib_max", rss_hi);
    figure("chaos_fds_min", fd_lo);
    figure("chaos_fds_max", fd_hi);
    figure("chaos_daemon_crashes", crashes.len());

    // The incident logs hold every event.
    let logs: BTreeMap<String, Vec<serde_json::Value>> = names
        .iter()
        .map(|n| (n.clone(), log_rows(&cli, n, since_s)))
        .collect();
    let has = |node: &str, kind: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        logs[node]
            .iter()
            .any(|r| r["kind"] == kind && f(&r["detail"]))
    };
    let mut missing: Vec<String> = Vec::new();
    for t in &accepted {
        let id = t.id.as_deref().unwrap_or_default();
        if !has(&t.from, "message_sent", &|d| d["id"] == id) {
            missing.push(format!("message_sent {id} at {}", t.from));
        }
        if count_in(&inb, t) > 0 && !has(&t.to, "message_received", &|d| d["id"] == id) {
            missing.push(format!("message_received {id} at {}", t.to));
        }
    }
    let presses = ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .presses
        .clone();
    let granted: Vec<&Press> = presses.iter().filter(|p| p.granted).collect();
    for p in &granted {
        let lo = p.at_ms.saturating_sub(1000) as i64;
        let skew = if p.node == SKEWED { SKEW_S * 1000 } else { 0 };
        let ok = logs[&p.node].iter().any(|r| {
            r["kind"] == "ptt_burst"
                && r["detail"]["talkgroup"] == p.tg
                && r["at_ms"].as_i64().unwrap_or(0) - skew >= lo
                && r["at_ms"].as_i64().unwrap_or(0) - skew <= lo + 15_000
        });
        if !ok {
            missing.push(format!(
                "ptt_burst of {} on {} at {}",
                p.node, p.tg, p.at_ms
            ));
        }
    }
    for n in [CALLER, CALLEE] {
        for kind in ["call_answered", "call_ended"] {
            if !has(n, kind, &|_| true) {
                missing.push(format!("{kind} at {n}"));
            }
        }
    }
    for (victim, _) in &kills {
        let id = net.node(victim).id.to_string();
        let seen = names
            .iter()
            .any(|n| has(n, "neighbour_down", &|d| d["id"] == id.as_str()));
        if !seen {
            missing.push(format!("neighbour_down of killed {victim}"));
        }
    }
    // Every link taken down shows as `iface_down` at both ends, unless
    // that end was killed or stopped around it.
    let busy = |n: &str, from: u64, to: u64| {
        kills
            .iter()
            .chain(stops.iter())
            .any(|(v, t)| v == n && *t + 12_000 >= from && *t <= to)
    };
    for (i, from, to) in &link_downs {
        let (va, vb) = &net.veths[*i];
        let l = &sc.links[*i];
        for (node, v) in [(&l.a, va), (&l.b, vb)] {
            if busy(node, *from, *to) {
                continue;
            }
            let skew = if node == SKEWED { SKEW_S * 1000 } else { 0 };
            let ok = logs[node].iter().any(|r| {
                let at = r["at_ms"].as_i64().unwrap_or(0) - skew;
                r["kind"] == "iface_down"
                    && r["detail"]["name"] == v.as_str()
                    && at >= *from as i64 - 1000
                    && at <= *to as i64 + 2000
            });
            if !ok {
                missing.push(format!("iface_down of {v} at {node} ({} - {})", l.a, l.b));
            }
        }
    }
    figure("chaos_link_downs", link_downs.len());
    for m in missing.iter().take(20) {
        println!("MISSING {m}");
    }
    figure("chaos_log_rows", logs.values().map(Vec::len).sum::<usize>());
    figure("chaos_log_missing", missing.len());
    let pl = ledger.lock().unwrap_or_else(|e| e.into_inner());
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for p in &presses {
        let o: String = p.outcome.split_whitespace().next().unwrap_or("-").into();
        *outcomes.entry(o).or_default() += 1;
    }
    println!("ptt outcomes: {outcomes:?}");
    figure("chaos_ptt_presses", presses.len());
    figure("chaos_ptt_granted", granted.len());
    figure("chaos_pings_sent", pl.pings_sent);
    figure("chaos_pings_answered", pl.pings_answered);
    drop(pl);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &faults {
        *kinds
            .entry(f.what.split_whitespace().next().unwrap_or("-"))
            .or_default() += 1;
    }
    let last = faults.last().map_or(0.0, |f| f.at_s);
    println!("faults by kind: {kinds:?} (last at {last:.0} s)");
    figure("chaos_faults", faults.len());
    figure("chaos_kills", kills.len());
    figure("chaos_disk_full_accepted", disk_accepted);
    figure("chaos_disk_full_refused", disk_refusals.len());
    let relayed_full = match (relayed_at_fill, relayed_while_full) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    figure("chaos_disk_full_relayed_packets", relayed_full);
    // What the full disk did to its incident log (rows held, then written).
    for l in net
        .log(FULL_DISK)
        .lines()
        .filter(|l| l.contains("incident log"))
    {
        println!("{FULL_DISK}: {l}");
    }

    // The list.
    assert!(
        crashes.is_empty(),
        "daemons exited on their own: {crashes:?}"
    );
    assert!(lost.is_empty(), "accepted texts lost: {lost:?}");
    assert_eq!(dup, 0, "texts delivered more than once");
    assert!(
        call_ok && end.as_ref().is_some_and(|c| c["code"].is_null()),
        "the call did not last to the hang-up: {call_out} / {end:?}"
    );
    assert!(received > 0, "no audio reached {CALLEE}");
    assert!(long_lived >= 2, "too few long-lived daemons sampled");
    assert!(
        mem_fail.is_empty(),
        "memory or descriptors still growing: {mem_fail:?}"
    );
    assert!(
        missing.is_empty(),
        "{} events missing from the incident logs",
        missing.len()
    );
    assert!(
        !disk_refusals.is_empty(),
        "no send refused on the full disk"
    );
    for r in &disk_refusals {
        assert!(
            r.contains("disk is full") && r.contains("not sent"),
            "unclear refusal on a full disk: {r}"
        );
    }
    assert!(
        relayed_full > 0,
        "{FULL_DISK} relayed nothing while its disk was full"
    );
    assert!(!accepted.is_empty() && !granted.is_empty(), "no traffic");
    drop(fs);
}
