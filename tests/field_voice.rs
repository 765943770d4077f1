//! Field tests of voice: real daemons in network namespaces call each
//! other by role name and talk on push-to-talk talkgroups; speech from
//! espeak-ng is scored with PESQ-WB at the far end. Needs root, espeak-ng,
//! sox and Python's `pesq`; runs only with CALLSIGN_FIELD_TESTS=1 (see
//! field-tests/README.md). Figures are printed as `FIGURE` lines.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/voice.rs"]
mod voice;

use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

fn ms(v: &serde_json::Value, path: &[&str]) -> Option<u64> {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64()
}

/// Wait until every node routes to every other.
fn converge(net: &Net, names: &[&str]) {
    let ok = wait_for(Duration::from_secs(10), || net.full_mesh(names));
    assert!(ok.is_some(), "the mesh did not converge");
}

/// Start the line of four with `extra`, n4 also holding `medic-12`, and
/// wait until n1 routes everywhere and resolves the role to n4.
fn start_line4_with_medic(net: &mut Net, extra: &[&str]) {
    for i in 0..net.nodes.len() {
        let mut args = extra.to_vec();
        if net.nodes[i].name == "n4" {
            args.extend(["--name", "medic-12"]);
        }
        net.start(i, &args);
    }
    converge(net, &["n1", "n2", "n3", "n4"]);
    let n4 = net.node("n4").id.to_string();
    let ok = wait_for(Duration::from_secs(10), || {
        net.holders("n1", "medic-12") == vec![n4.clone()]
    });
    assert!(ok.is_some(), "medic-12 does not resolve at n1");
}

/// Acceptance 1: line5 (4 hops), no loss: a 1:1 call scores PESQ-WB of
/// at least 4.0 with mouth-to-ear p95 of at most 150 ms, and the
/// push-to-talk access time p95 is at most 150 ms.
#[test]
fn line5_call_and_ptt() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let speech = voice::speech(&net.tmp);
    for i in 0..net.nodes.len() {
        let mut extra = vec!["--talkgroup", "fireground-1"];
        match net.nodes[i].name.as_str() {
            "n1" => extra.extend(["--name", "captain.engine-3"]),
            "n5" => extra.extend(["--name", "medic-12"]),
            _ => {}
        }
        net.start(i, &extra);
    }
    converge(&net, &["n1", "n2", "n3", "n4", "n5"]);
    let n5 = net.node("n5").id.to_string();
    let ok = wait_for(Duration::from_secs(5), || {
        net.holders("n1", "medic-12") == vec![n5.clone()]
    });
    assert!(ok.is_some(), "medic-12 does not resolve at n1");

    let r = voice::call(&net, "n1", "n5", "medic-12", &speech, "line5");
    assert_eq!(
        r.caller["peer"].as_str(),
        Some(n5.as_str()),
        "answered by the wrong node: {}",
        r.caller
    );
    let setup = ms(&r.caller, &["answered_ms"]).expect("answered");
    figure("line5_call_setup_ms", setup);
    let p95 = ms(&r.callee, &["media", "rx", "m2e_p95_ms"]).expect("m2e figure");
    let p50 = ms(&r.callee, &["media", "rx", "m2e_p50_ms"]).expect("m2e figure");
    figure("line5_m2e_p50_ms", p50);
    figure("line5_m2e_p95_ms", p95);
    let score = voice::pesq_wb(&speech, &r.recording);
    eprintln!("the callee's view: {}", r.callee);
    figure("line5_call_pesq_wb", format!("{score:.2}"));
    assert!(score >= 4.0, "PESQ-WB {score:.2} < 4.0");
    assert!(p95 <= 150, "mouth-to-ear p95 {p95} ms > 150");

    // Push to talk: n1 presses 20 times on an idle floor with all five in
    // the talkgroup; the access time is press to talk permit at n1.
    let presses = 20;
    let tone = voice::tone(&net.tmp, 1);
    for _ in 0..presses {
        let (ok, out) = net.run(
            Some("n1"),
            &[
                "ptt",
                "fireground-1",
                "--wav",
                tone.to_str().expect("path"),
                "--duration",
                "0.3",
                "--json",
            ],
        );
        assert!(ok, "ptt: {out}");
        std::thread::sleep(Duration::from_millis(150));
    }
    let tg = net
        .json("n1", "talkgroups")
        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
        .expect("talkgroups");
    assert_eq!(tg["access_count"].as_u64(), Some(presses), "{tg}");
    let a50 = ms(&tg, &["access_p50_ms"]).expect("access figure");
    let a95 = ms(&tg, &["access_p95_ms"]).expect("access figure");
    figure("line5_ptt_access_p50_ms", a50);
    figure("line5_ptt_access_p95_ms", a95);
    assert!(a95 <= 150, "PTT access p95 {a95} ms > 150");
    // n5, four hops away, heard the bursts.
    let heard = net
        .json("n5", "talkgroups")
        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
        .expect("talkgroups at n5");
    let bursts = heard["bursts_heard"].as_u64().unwrap_or(0);
    figure("line5_ptt_bursts_heard_at_n5", bursts);
    assert!(
        bursts >= presses - 1,
        "n5 heard {bursts} of {presses} bursts: {heard}"
    );
    if let Some(p) = ms(&heard, &["rx", "m2e_p95_ms"]) {
        figure("line5_ptt_m2e_p95_ms", p);
    }
}

/// Acceptance 2: three hops with 10 % loss on every link; the call with
/// the mesh's protection and, beside it, the same call without.
#[test]
fn lossy_three_hops_call() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line4loss10"));
    let speech = voice::speech(&net.tmp);
    let mut scores = Vec::new();
    for protection in ["arq", "none"] {
        start_line4_with_medic(&mut net, &["--voice-protection", protection]);
        let r = voice::call(&net, "n1", "n4", "medic-12", &speech, protection);
        let score = voice::pesq_wb(&speech, &r.recording);
        // Over the whole call: frames the caller sent that never arrived.
        let sent = r.caller["media"]["frames_sent"].as_f64().unwrap_or(0.0);
        let got = r.callee["media"]["rx"]["received"].as_f64().unwrap_or(0.0);
        let loss = if sent > 0.0 {
            100.0 * (1.0 - got / sent).max(0.0)
        } else {
            -1.0
        };
        eprintln!("{protection}: the callee's media: {}", r.callee["media"]);
        eprintln!("{protection}: the caller's media: {}", r.caller["media"]);
        figure(
            &format!("lossy3_{protection}_pesq_wb"),
            format!("{score:.2}"),
        );
        figure(
            &format!("lossy3_{protection}_e2e_loss_pct"),
            format!("{loss:.1}"),
        );
        if let Some(p) = ms(&r.callee, &["media", "rx", "m2e_p95_ms"]) {
            figure(&format!("lossy3_{protection}_m2e_p95_ms"), p);
        }
        scores.push(score);
        // What each hop did with the frames: if a call scores low, this
        // says where its audio went.
        for n in ["n1", "n2", "n3", "n4"] {
            if let Some(st) = net.json(n, "status") {
                let s = &st["stats"];
                eprintln!(
                    "{protection}: {n}: sent {} relayed {} delivered {} retx {} late {} no_route {} misses {} nbr_losses {} own stalls {} (max {} ms)",
                    s["voice_sent"],
                    s["voice_relayed"],
                    s["voice_delivered"],
                    s["voice_retransmissions"],
                    s["voice_dropped_late"],
                    s["dropped_no_route"],
                    s["voice_label_misses"],
                    s["neighbour_losses"],
                    st["daemon"]["loop_stalls"],
                    st["daemon"]["loop_stall_max_ms"],
                );
            }
            for l in net
                .log(n)
                .lines()
                .filter(|l| l.contains("neighbour down") || l.contains("daemon stalled"))
            {
                eprintln!("{protection}: {n}: {l}");
            }
        }
        for n in ["n1", "n2", "n3", "n4"] {
            net.kill(n);
        }
    }
    figure(
        "lossy3_pesq_ratio_arq_vs_none",
        format!("{:.2}", scores[0] / scores[1]),
    );
    assert!(
        scores[0] >= 3.3,
        "PESQ-WB with protection {:.2} < 3.3",
        scores[0]
    );
}

/// Acceptance 3: in ring6, the relay carrying an active call is killed;
/// the call goes on over the other side of the ring.
#[test]
fn ring6_call_survives_relay_kill() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("ring6"));
    let tone = voice::tone(&net.tmp, 30);
    for i in 0..net.nodes.len() {
        let extra: Vec<&str> = if net.nodes[i].name == "n4" {
            vec!["--name", "medic-12"]
        } else {
            vec![]
        };
        net.start(i, &extra);
    }
    converge(&net, &["n1", "n2", "n3", "n4", "n5", "n6"]);
    let n4 = net.node("n4").id;
    let ok = wait_for(Duration::from_secs(5), || {
        net.holders("n1", "medic-12") == vec![n4.to_string()]
    });
    assert!(ok.is_some(), "medic-12 does not resolve at n1");
    let rec = net.tmp.join("ring6.wav");
    std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            net.run(
                Some("n1"),
                &[
                    "call",
                    "medic-12",
                    "--wav",
                    tone.to_str().unwrap(),
                    "--duration",
                    "8",
                    "--json",
                ],
            )
        });
        let rang = wait_for(Duration::from_secs(5), || {
            voice::call_in(&net, "n4", "ringing").is_some()
        });
        assert!(rang.is_some(), "n4 never rang");
        let (ok, out) = net.run(
            Some("n4"),
            &["answer", "--record", rec.to_str().unwrap(), "--json"],
        );
        assert!(ok, "answer: {out}");
        std::thread::sleep(Duration::from_secs(2));
        // The relay on n1's path to n4 (n2 or n6), killed without a word.
        let (relay, _) = net.routes("n1")[&n4];
        let relay_name = net
            .nodes
            .iter()
            .find(|n| n.id == relay)
            .map(|n| n.name.clone())
            .expect("relay is a node");
        let before = voice::call_in(&net, "n4", "active").expect("active call");
        let got_before = before["media"]["rx"]["received"].as_u64().unwrap_or(0);
        figure("ring6_call_relay_killed", &relay_name);
        // Killing the relay from a scoped thread needs the net mutably:
        // do it through the CLI-free path, by pid.
        let pid = {
            let n = net
                .nodes
                .iter()
                .find(|n| n.name == relay_name)
                .expect("node");
            n.child.as_ref().map(|c| c.id()).expect("running")
        };
        harness::sh(&["kill", "-9", &pid.to_string()]);
        let killed = Instant::now();
        // Frames flow again: the received count grows past the kill.
        let resumed = wait_for(Duration::from_secs(3), || {
            voice::call_in(&net, "n4", "active").is_some_and(|c| {
                c["media"]["rx"]["received"].as_u64().unwrap_or(0) > got_before + 25
            })
        });
        assert!(resumed.is_some(), "no audio at n4 after the relay died");
        figure("ring6_call_resumed_after_ms", killed.elapsed().as_millis());
        let (ok, out) = h.join().expect("call thread");
        assert!(ok, "the call did not last: {out}");
    });
    let end = voice::call_in(&net, "n4", "ended").expect("ended at n4");
    let gap = ms(&end, &["media", "rx", "max_gap_ms"]).expect("gap figure");
    figure("ring6_call_audio_gap_ms", gap);
    assert!(gap <= 1500, "audio gap {gap} ms > 1500");
    // Ended by the caller's hang-up, not failed.
    assert!(end["code"].is_null(), "the call failed: {end}");
}

/// Acceptance 5: a role held by two nodes rings both; the first to answer
/// gets the call and the other stops ringing.
#[test]
fn forked_call_first_answer_wins() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    for i in 0..net.nodes.len() {
        let extra: Vec<&str> = match net.nodes[i].name.as_str() {
            "n3" | "n5" => vec!["--name", "medic-12"],
            _ => vec![],
        };
        net.start(i, &extra);
    }
    converge(&net, &["n1", "n2", "n3", "n4", "n5"]);
    let ok = wait_for(Duration::from_secs(5), || {
        net.holders("n1", "medic-12").len() == 2
    });
    assert!(ok.is_some(), "medic-12 does not have two holders at n1");
    std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            net.run(
                Some("n1"),
                &["call", "medic-12", "--duration", "1", "--json"],
            )
        });
        let both = wait_for(Duration::from_secs(5), || {
            voice::call_in(&net, "n3", "ringing").is_some()
                && voice::call_in(&net, "n5", "ringing").is_some()
        });
        assert!(both.is_some(), "both holders should ring");
        let (ok, out) = net.run(Some("n5"), &["answer", "--json"]);
        assert!(ok, "answer at n5: {out}");
        let stopped = wait_for(Duration::from_secs(3), || {
            voice::call_in(&net, "n3", "ringing").is_none()
        });
        assert!(stopped.is_some(), "n3 still rings after n5 answered");
        figure(
            "fork_other_stopped_ringing_ms",
            stopped.unwrap().as_millis(),
        );
        let (ok, out) = h.join().expect("call");
        assert!(ok, "call: {out}");
        let v: serde_json::Value = voice::json_line(&out);
        assert_eq!(
            v["peer"].as_str(),
            Some(net.node("n5").id.to_string().as_str()),
            "{v}"
        );
    });
    let n3 = voice::calls(&net, "n3");
    assert!(
        n3.iter()
            .all(|c| c["state"] != "active" && c["answered_ms"].is_null()),
        "n3 must not have been connected: {n3:?}"
    );
    // n3 stopped ringing on the caller's CANCEL, signed end to end, and
    // the call's BYE crossed to n5 the same way: nothing was refused.
    for n in ["n1", "n3", "n5"] {
        let s = net.json(n, "status").expect("status");
        for k in ["forged_bye", "forged_cancel", "forged_reinvite"] {
            assert_eq!(s["app"][k], 0, "{n}: {k} in {s}");
        }
    }
}

/// Push-to-talk floor on real daemons: simultaneous presses give one
/// talker, the same one each time; an emergency press pre-empts a normal
/// talker; a member who joins mid-burst hears it.
#[test]
fn ptt_floor_on_line5() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let speech = voice::speech(&net.tmp);
    for i in 0..net.nodes.len() {
        let extra: Vec<&str> = if net.nodes[i].name == "n3" {
            vec![]
        } else {
            vec!["--talkgroup", "fireground-1"]
        };
        net.start(i, &extra);
    }
    converge(&net, &["n1", "n2", "n3", "n4", "n5"]);
    let tg = |n: &str| {
        net.json(n, "talkgroups")
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
            .unwrap_or_default()
    };
    // Floods cross the line only once every relay has picked its MPRs,
    // which can take a hello round after the routes converge: one press
    // at each end, heard at the other, before the presses that race.
    for (talker, listener) in [("n1", "n5"), ("n5", "n1")] {
        let heard = tg(listener)["bursts_heard"].as_u64().unwrap_or(0);
        let ok = wait_for(Duration::from_secs(10), || {
            let (pressed, _) = net.run(
                Some(talker),
                &["ptt", "fireground-1", "--duration", "0.2", "--json"],
            );
            pressed && tg(listener)["bursts_heard"].as_u64().unwrap_or(0) > heard
        });
        assert!(
            ok.is_some(),
            "{listener} never heard {talker} on fireground-1"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    // Simultaneous presses at both ends, three rounds.
    let mut winners = Vec::new();
    for round in 0..3 {
        let (a, b) = std::thread::scope(|sc| {
            let a = sc.spawn(|| {
                net.run(
                    Some("n1"),
                    &["ptt", "fireground-1", "--duration", "0.5", "--json"],
                )
            });
            let b = sc.spawn(|| {
                net.run(
                    Some("n5"),
                    &["ptt", "fireground-1", "--duration", "0.5", "--json"],
                )
            });
            (a.join().expect("a"), b.join().expect("b"))
        });
        assert!(
            a.0 != b.0,
            "round {round}: exactly one must get the floor: n1 {a:?} n5 {b:?}"
        );
        winners.push(if a.0 { "n1" } else { "n5" });
        std::thread::sleep(Duration::from_millis(300));
    }
    figure("ptt_simultaneous_winner", winners.join(","));
    assert!(
        winners.iter().all(|w| *w == winners[0]),
        "the winner changed: {winners:?}"
    );

    // n2 talks; n4 presses emergency, then declares a mayday: each time
    // n2 is pre-empted. Returns what n4's client printed.
    let preempt_n2 = |n4_args: &[&str]| {
        std::thread::scope(|sc| {
            let talker = sc.spawn(|| {
                net.run(
                    Some("n2"),
                    &["ptt", "fireground-1", "--duration", "4", "--json"],
                )
            });
            let on = wait_for(Duration::from_secs(2), || tg("n2")["transmitting"] == true);
            assert!(on.is_some(), "n2 never got the floor");
            let (ok, out) = net.run(Some("n4"), n4_args);
            assert!(ok, "{n4_args:?}: {out}");
            let (_, out2) = talker.join().expect("talker");
            assert!(
                out2.contains("pre-empted"),
                "n2 was not pre-empted by {n4_args:?}: {out2}"
            );
            out
        })
    };
    let out = preempt_n2(&[
        "ptt",
        "fireground-1",
        "--priority",
        "emergency",
        "--duration",
        "0.5",
        "--json",
    ]);
    let pre = ms(&voice::json_line(&out), &["access_p95_ms"]).expect("access");
    figure("ptt_emergency_preempt_access_ms", pre);
    assert!(pre <= 100, "emergency access {pre} ms");

    // The mayday also shows in n1's directory, with n4's position.
    preempt_n2(&[
        "mayday",
        "--lat",
        "45.5017",
        "--lon",
        "-73.5673",
        "--duration",
        "0.5",
        "--json",
    ]);
    let n4 = net.node("n4").id.to_string();
    let flagged = wait_for(Duration::from_secs(3), || {
        net.json("n1", "names")
            .and_then(|v| v.as_array().cloned())
            .is_some_and(|rs| {
                rs.iter().any(|r| {
                    r["holder"] == n4.as_str()
                        && r["presence"] == "emergency"
                        && !r["position"].is_null()
                })
            })
    });
    assert!(
        flagged.is_some(),
        "n4's mayday is not flagged in n1's directory"
    );
    figure("ptt_mayday_flagged_at_n1_ms", flagged.unwrap().as_millis());

    // Late entry: n1 talks 6 s of speech; n3 joins 2 s in and hears it.
    std::thread::scope(|sc| {
        let talker = sc.spawn(|| {
            net.run(
                Some("n1"),
                &[
                    "ptt",
                    "fireground-1",
                    "--wav",
                    speech.to_str().unwrap(),
                    "--json",
                ],
            )
        });
        std::thread::sleep(Duration::from_secs(2));
        let (ok, out) = net.run(
            Some("n3"),
            &["listen", "fireground-1", "--duration", "2", "--json"],
        );
        assert!(ok, "listen: {out}");
        let v: serde_json::Value = voice::json_line(&out);
        assert!(
            v["bursts_heard"].as_u64().unwrap_or(0) >= 1,
            "late joiner heard nothing: {v}"
        );
        assert!(
            v["rx"]["played"].as_u64().unwrap_or(0) > 25,
            "late joiner played nothing: {v}"
        );
        let _ = talker.join();
    });
}

/// A relay stalled mid-call (its daemon stopped for 300 ms, as by a busy
/// CPU) holds the frames that reach it and lets them go at once when it
/// runs again. The callee must not play that backlog late and then win
/// the delay back by skipping frames through the next words (16 skips and
/// PESQ-WB 2.9 before): it plays on from fresh frames. Offline
/// (`callsign voice-lab --outage-held`) the jitter buffer now does; here
/// the caller declares the stalled relay dead after about 130 ms, so only
/// a few old frames come out of it, and they still start a late spurt.
#[test]
#[ignore = "open: 6-7 frames still skipped after a 300 ms relay stall (PESQ-WB 2.8-3.0)"]
fn lossy_three_hops_call_survives_a_relay_stall() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line4loss10"));
    let speech = voice::speech(&net.tmp);
    start_line4_with_medic(&mut net, &[]);
    let r = std::thread::scope(|sc| {
        sc.spawn(|| {
            // Mid-sentence, well after the call is up.
            std::thread::sleep(Duration::from_secs(6));
            net.signal("n2", "STOP");
            std::thread::sleep(Duration::from_millis(300));
            net.signal("n2", "CONT");
        });
        voice::call(&net, "n1", "n4", "medic-12", &speech, "stall")
    });
    let score = voice::pesq_wb(&speech, &r.recording);
    let rx = &r.callee["media"]["rx"];
    eprintln!("the callee's media: {}", r.callee["media"]);
    for n in ["n1", "n2", "n3", "n4"] {
        for l in net.log(n).lines().filter(|l| l.contains("neighbour down")) {
            eprintln!("{n}: {l}");
        }
    }
    figure("relay_stall_300ms_pesq_wb", format!("{score:.2}"));
    figure("relay_stall_300ms_skipped", &rx["skipped"]);
    figure("relay_stall_300ms_late_dropped", &rx["late_dropped"]);
    assert_eq!(
        rx["skipped"].as_u64(),
        Some(0),
        "frames skipped after the stall: {rx}"
    );
    let sent = r.caller["media"]["frames_sent"].as_u64().unwrap_or(0);
    let played = rx["played"].as_u64().unwrap_or(0);
    assert!(
        played + 40 >= sent,
        "{played} of {sent} frames played: more than the stall lost"
    );
}
