//! Field test of a talkgroup private to its members (issue 15, point 1,
//! open mode): five real daemons in a line of network namespaces
//! (`line5`), all in `fireground-1`. Four members have its passphrase
//! (two by `--talkgroup-key-file`, two by `--talkgroup-key`); the middle
//! one, n3, has none, and relays every packet between the two halves.
//!
//! - n1 talks espeak-ng speech, everybody records: each member's
//!   recording is scored with PESQ-WB; the outsider records nothing it
//!   can play (no audio, or PESQ-WB <= 1.5), and counts what it could not
//!   read.
//! - n1 talks the speech again while the outsider presses with emergency
//!   priority and talks a tone over it: the members count its frames and
//!   floor messages as refused, n1 keeps the floor (not pre-empted), every
//!   member still follows n1 and scores as before.
//!
//! Needs root, espeak-ng, sox and Python's `pesq`; runs only with
//! CALLSIGN_FIELD_TESTS=1 (see field-tests/README.md). Figures are printed
//! as `FIGURE` lines; the targets are asserted once all are printed.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/ptt.rs"]
mod ptt;
#[path = "../field-tests/voice.rs"]
mod voice;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const TG: &str = "fireground-1";
const PASSPHRASE: &str = "ladder 7 smells smoke";
const TALKER: &str = "n1";
const OUTSIDER: &str = "n3";
const LISTENERS: [&str; 3] = ["n2", "n4", "n5"];
/// Members' recordings, as the clean-mesh talkgroup target (issue 13).
const PESQ_MEMBER_MIN: f64 = 4.0;
/// What the outsider records may not be speech.
const PESQ_OUTSIDER_MAX: f64 = 1.5;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn app_stats(net: &Net, node: &str) -> serde_json::Value {
    net.json(node, "status")
        .map(|v| v["app"].clone())
        .unwrap_or_default()
}

fn count(net: &Net, node: &str, what: &str) -> u64 {
    app_stats(net, node)[what].as_u64().unwrap_or(0)
}

/// PESQ-WB of a recording (padded: it starts at the first frame heard),
/// or None when there is no audio in it to score.
fn score(speech: &Path, rec: &Path) -> Option<f64> {
    let secs: f64 = if rec.is_file() {
        harness::sh(&["soxi", "-D", s(rec)])
            .trim()
            .parse()
            .unwrap_or(0.0)
    } else {
        0.0
    };
    if secs < 0.5 {
        eprintln!("{}: {secs} s of audio", rec.display());
        return None;
    }
    let padded = rec.with_extension("padded.wav");
    harness::sh(&["sox", s(rec), s(&padded), "pad", "0.5", "0"]);
    voice::pesq_wb_delay(speech, &padded)
        .map_err(|e| eprintln!("{}: {e}", rec.display()))
        .ok()
        .map(|x| x.0)
}

/// What one round left: the talker's press, the other press (if any),
/// each node's recording and what its `listen --json` printed.
struct Round {
    press: (bool, String),
    other: Option<(bool, String)>,
    recs: BTreeMap<String, PathBuf>,
    views: BTreeMap<String, serde_json::Value>,
}

/// A member's playout counters from its `listen --json`, for the log.
fn rx_line(tag: &str, l: &str, v: &serde_json::Value) {
    let rx = &v["rx"];
    println!(
        "LISTENER {tag} {l} received={} played={} concealed={} late_dropped={} stretched={} \
         loss_pct={} m2e_p95_ms={}",
        rx["received"],
        rx["played"],
        rx["concealed"],
        rx["late_dropped"],
        rx["stretched"],
        rx["loss_pct"],
        rx["m2e_p95_ms"]
    );
}

/// Every node in `who` records `TG` while `press` runs at the talker;
/// returns the talker's output and each recording.
fn round(
    net: &Net,
    tag: &str,
    who: &[&str],
    speech: &Path,
    listen_s: &str,
    during: impl FnOnce() -> Option<(bool, String)> + Send,
) -> Round {
    let recs: BTreeMap<String, PathBuf> = who
        .iter()
        .map(|l| (l.to_string(), net.tmp.join(format!("{tag}-{l}.wav"))))
        .collect();
    let mut views = BTreeMap::new();
    let (press, other) = std::thread::scope(|sc| {
        let hs: Vec<_> = who
            .iter()
            .map(|l| {
                let rec = &recs[*l];
                sc.spawn(move || {
                    net.run(
                        Some(l),
                        &[
                            "listen",
                            TG,
                            "--record",
                            s(rec),
                            "--duration",
                            listen_s,
                            "--json",
                        ],
                    )
                })
            })
            .collect();
        let ready = wait_for(Duration::from_secs(3), || {
            who.iter()
                .all(|l| ptt::view(net, l, TG)["recording"].as_str() == Some(s(&recs[*l])))
        });
        assert!(
            ready.is_some(),
            "{tag}: not every node recording within 3 s"
        );
        let talker = sc.spawn(|| net.run(Some(TALKER), &["ptt", TG, "--wav", s(speech), "--json"]));
        // Let the talker's grant reach everybody before anything else.
        std::thread::sleep(Duration::from_millis(700));
        let other = during();
        let press = talker.join().expect("talker thread");
        for (l, h) in who.iter().zip(hs) {
            let (ok, out) = h.join().expect("listen thread");
            assert!(ok, "{tag}: listen at {l}: {out}");
            views.insert(l.to_string(), voice::json_line(&out));
        }
        (press, other)
    });
    Round {
        press,
        other,
        recs,
        views,
    }
}

#[test]
fn private_talkgroup_in_open_mode() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let sc = Scenario::load("line5");
    let mut net = Net::build(&sc);
    let key_file = net.tmp.join("talkgroup-keys.toml");
    std::fs::write(&key_file, format!("{TG} = \"{PASSPHRASE}\"\n")).expect("key file");
    let flag = format!("{TG}={PASSPHRASE}");
    for name in ["n1", "n2", "n3", "n4", "n5"] {
        let i = net.index(name);
        match name {
            OUTSIDER => net.start(i, &["--talkgroup", TG]),
            "n1" | "n4" => net.start(
                i,
                &["--talkgroup", TG, "--talkgroup-key-file", s(&key_file)],
            ),
            _ => net.start(i, &["--talkgroup", TG, "--talkgroup-key", &flag]),
        }
    }
    let all = ["n1", "n2", "n3", "n4", "n5"];
    let full = wait_for(Duration::from_secs(30), || net.full_mesh(&all));
    assert!(full.is_some(), "the line did not converge in 30 s");
    // The members say the talkgroup is private; the outsider does not.
    for n in all {
        let epoch = ptt::view(&net, n, TG)["key_epoch"].as_u64();
        assert_eq!(epoch.is_some(), n != OUTSIDER, "{n}: key_epoch {epoch:?}");
    }

    let speech = voice::speech(&net.tmp);
    let tone = voice::tone(&net.tmp, 1);
    // Warm up: the members hear a short press (routes and floods settled).
    let heard = |n: &str| ptt::view(&net, n, TG)["bursts_heard"].as_u64().unwrap_or(0);
    let warm = wait_for(Duration::from_secs(30), || {
        let before: Vec<u64> = LISTENERS.iter().map(|l| heard(l)).collect();
        let (ok, _) = net.run(
            Some(TALKER),
            &["ptt", TG, "--wav", s(&tone), "--duration", "0.3", "--json"],
        );
        std::thread::sleep(Duration::from_millis(300));
        ok && LISTENERS.iter().zip(&before).all(|(l, b)| heard(l) > *b)
    });
    assert!(warm.is_some(), "the members never heard the warm-up press");

    let secs: f64 = harness::sh(&["soxi", "-D", s(&speech)])
        .trim()
        .parse()
        .expect("speech length");
    let listen_s = format!("{:.1}", secs + 6.0);

    // Round 1: n1 talks, everybody records.
    let outsider_no_key_before = count(&net, OUTSIDER, "tg_no_key");
    let mut who: Vec<&str> = LISTENERS.to_vec();
    who.push(OUTSIDER);
    let r = round(&net, "listen", &who, &speech, &listen_s, || None);
    let ((ok, out), recs) = (r.press, r.recs);
    assert!(ok, "the speech press at {TALKER}: {out}");
    let mut failures = Vec::new();
    for l in LISTENERS {
        rx_line("listen", l, &r.views[l]);
        let sc = score(&speech, &recs[l]);
        figure(
            &format!("tg_private_{l}_pesq_wb"),
            sc.map_or("none".into(), |x| format!("{x:.2}")),
        );
        match sc {
            Some(x) if x >= PESQ_MEMBER_MIN => {}
            o => failures.push(format!("member {l}: PESQ-WB {o:?} < {PESQ_MEMBER_MIN}")),
        }
    }
    let out_rec = &recs[OUTSIDER];
    let out_secs: f64 = if out_rec.is_file() {
        harness::sh(&["soxi", "-D", s(out_rec)])
            .trim()
            .parse()
            .unwrap_or(0.0)
    } else {
        0.0
    };
    let out_score = score(&speech, out_rec);
    figure("tg_private_outsider_recorded_s", format!("{out_secs:.2}"));
    figure(
        "tg_private_outsider_pesq_wb",
        out_score.map_or("none (no audio)".into(), |x| format!("{x:.2}")),
    );
    if out_score.is_some_and(|x| x > PESQ_OUTSIDER_MAX) {
        failures.push(format!("the outsider scored {out_score:?}"));
    }
    let unread = count(&net, OUTSIDER, "tg_no_key") - outsider_no_key_before;
    figure("tg_private_outsider_unreadable_packets", unread);
    // 50 frames a second of speech, and the floor messages.
    if (unread as f64) < secs * 40.0 {
        failures.push(format!("the outsider counted {unread} unreadable packets"));
    }
    // What its `listen` saw of the talkgroup as it left it.
    let seen = &r.views[OUTSIDER];
    let heard_out = seen["bursts_heard"].as_u64();
    let played_out = seen["rx"]["played"].as_u64();
    figure("tg_private_outsider_bursts_heard", heard_out.unwrap_or(0));
    figure("tg_private_outsider_frames_played", played_out.unwrap_or(0));
    if heard_out != Some(0) || played_out != Some(0) {
        failures.push(format!(
            "the outsider heard {heard_out:?} bursts, played {played_out:?} frames"
        ));
    }

    // Round 2: n1 talks again; the outsider presses with emergency
    // priority and talks a tone over it.
    let before: BTreeMap<&str, (u64, u64)> = all
        .iter()
        .map(|n| {
            (
                *n,
                (
                    count(&net, n, "tg_refused_voice"),
                    count(&net, n, "tg_refused_floor"),
                ),
            )
        })
        .collect();
    let tone3 = voice::tone(&net.tmp, 3);
    let r = round(&net, "intruded", &LISTENERS, &speech, &listen_s, || {
        Some(net.run(
            Some(OUTSIDER),
            &[
                "ptt",
                TG,
                "--priority",
                "emergency",
                "--wav",
                s(&tone3),
                "--json",
            ],
        ))
    });
    let ((ok, out), intruder, recs, views) = (r.press, r.other, r.recs, r.views);
    assert!(ok, "the second speech press at {TALKER}: {out}");
    let outcome = ptt::outcome(&out);
    figure("tg_private_talker_outcome_under_intrusion", &outcome);
    if outcome.contains("pre-empted") || outcome.contains("denied") {
        failures.push(format!("{TALKER} lost the floor: {outcome}"));
    }
    let (iok, iout) = intruder.expect("the outsider pressed");
    figure(
        "tg_private_outsider_press_outcome",
        if iok {
            ptt::outcome(&iout)
        } else {
            iout.trim().to_string()
        },
    );
    for l in LISTENERS {
        rx_line("intruded", l, &views[l]);
        let sc = score(&speech, &recs[l]);
        figure(
            &format!("tg_private_{l}_pesq_wb_under_intrusion"),
            sc.map_or("none".into(), |x| format!("{x:.2}")),
        );
        match sc {
            Some(x) if x >= PESQ_MEMBER_MIN => {}
            o => failures.push(format!(
                "member {l} under intrusion: PESQ-WB {o:?} < {PESQ_MEMBER_MIN}"
            )),
        }
    }
    for n in all.iter().filter(|n| **n != OUTSIDER) {
        let v = count(&net, n, "tg_refused_voice") - before[n].0;
        let f = count(&net, n, "tg_refused_floor") - before[n].1;
        // Nothing of the members' own traffic is taken for a replay.
        let replayed = count(&net, n, "tg_replayed");
        figure(&format!("tg_private_{n}_replayed"), replayed);
        if replayed > 0 {
            failures.push(format!("{n} took {replayed} genuine packets for replays"));
        }
        figure(&format!("tg_private_{n}_refused_voice"), v);
        figure(&format!("tg_private_{n}_refused_floor"), f);
        // Three seconds of the outsider's frames (150) cross every member.
        if v < 100 {
            failures.push(format!("{n} refused only {v} voice frames"));
        }
        if f == 0 {
            failures.push(format!("{n} refused no floor message"));
        }
    }
    let idle = wait_for(Duration::from_secs(8), || {
        all.iter()
            .filter(|n| **n != OUTSIDER)
            .all(|n| ptt::talker_at(&net, n, TG).is_none())
    });
    assert!(idle.is_some(), "the members' floor did not go idle");
    assert!(failures.is_empty(), "{}", failures.join("; "));
}
