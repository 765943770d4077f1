//! Field tests of the operator's daemon features (issue 16, point 4) on
//! real daemons in network namespaces (root, CALLSIGN_FIELD_TESTS=1),
//! scenario `roles3`: `command` and `engine-5` each one hop from the
//! handset `medic-12`, every daemon named for its role.
//!
//! - Auto-answer: medic-12 runs `--auto-answer command`. A call from
//!   engine-5 keeps ringing (and the ring tone, 440 + 480 Hz, reaches the
//!   speaker, here a WAV) until the caller gives up; a call from command
//!   is answered with no `answer`.
//! - The PAR alert: a roll call started at command sounds three 1050 Hz
//!   beeps every 4 s on medic-12's speaker (a WAV) until medic-12 reports
//!   with `par ack`, and nothing after.
//! - The speaker: a talkgroup joined at start plays a PTT burst (a 1 kHz
//!   tone sent by command) into medic-12's `--audio-out-wav`, with nobody
//!   running `listen`.
//! - A PTT key: command's `--ptt-key` is a FIFO standing in for
//!   `/dev/input/eventN` (no input device here); writing recorded
//!   `input_event` records of KEY_F13 down and up takes and frees the
//!   floor, as the other members see.
//! - `callsign ptt --hold` with stdin a pipe (not a terminal): Enter
//!   toggles talking on and off; end of input releases.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/ptt.rs"]
mod ptt;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use callsign::audio::tone::power_at as power;
use callsign::daemon::ptt_key::{InputEvent, encode};
use harness::{Net, Scenario, bin, enabled, figure, serial, wait_for};

const TG: &str = "fireground-1";
const KEY_F13: u16 = 183;

/// SIGTERM one daemon and wait for it (its WAV is finished on the way out).
fn stop(net: &mut Net, name: &str) {
    let i = net.index(name);
    if let Some(mut c) = net.nodes[i].child.take() {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let ok = wait_for(Duration::from_secs(5), || {
            matches!(c.try_wait(), Ok(Some(_)))
        });
        if ok.is_none() {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
}

/// Every daemon resolves every other one's role.
fn converged(net: &Net) -> bool {
    let names = ["command", "engine-5", "medic-12"];
    names.iter().all(|a| {
        names
            .iter()
            .filter(|b| *b != a)
            .all(|b| net.holders(a, b).contains(&net.node(b).id.to_string()))
    })
}

/// medic-12's calls: (direction, name, state, answered).
fn calls_at(net: &Net, node: &str) -> Vec<(String, String, String, bool)> {
    net.json(node, "calls")
        .and_then(|v| {
            Some(
                v.as_array()?
                    .iter()
                    .map(|c| {
                        (
                            c["direction"].as_str().unwrap_or("").to_string(),
                            c["name"].as_str().unwrap_or("").to_string(),
                            c["state"].as_str().unwrap_or("").to_string(),
                            c["answered_ms"].is_u64(),
                        )
                    })
                    .collect(),
            )
        })
        .unwrap_or_default()
}

#[test]
fn auto_answer_by_role_and_the_ring_tone() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("roles3"));
    let speaker = net.tmp.join("medic-12-speaker.wav");
    let sp = speaker.display().to_string();
    net.start(0, &["--audio-out", "none"]);
    net.start(1, &["--audio-out", "none"]);
    let m = net.index("medic-12");
    net.start(
        m,
        &[
            "--auto-answer",
            "command",
            "--audio-out",
            "none",
            "--audio-out-wav",
            &sp,
        ],
    );
    assert!(
        wait_for(Duration::from_secs(15), || converged(&net)).is_some(),
        "the three roles do not resolve"
    );

    // engine-5 does not match: the call rings until the caller gives up.
    let ringing = Command::new("ip")
        .args(["netns", "exec", &net.node("engine-5").ns, bin()])
        .args(["call", "medic-12", "--ring-timeout", "4", "--json"])
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", &net.node("engine-5").dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("call from engine-5");
    let rang = wait_for(Duration::from_secs(3), || {
        calls_at(&net, "medic-12")
            .iter()
            .any(|c| c.0 == "in" && c.1 == "engine-5" && c.2 == "ringing")
    });
    assert!(
        rang.is_some(),
        "no ringing call from engine-5: {:?}",
        calls_at(&net, "medic-12")
    );
    std::thread::sleep(Duration::from_secs(2));
    let still = calls_at(&net, "medic-12");
    assert!(
        still
            .iter()
            .any(|c| c.1 == "engine-5" && c.2 == "ringing" && !c.3),
        "engine-5's call must still ring 2 s later, unanswered: {still:?}"
    );
    let out = ringing.wait_with_output().expect("engine-5's call");
    assert!(!out.status.success(), "engine-5's call was answered");
    let after = calls_at(&net, "medic-12");
    assert!(
        after.iter().all(|c| c.1 != "engine-5" || !c.3),
        "engine-5's call answered at medic-12: {after:?}"
    );

    // command matches: answered with no `answer`.
    let (ok, text) = net.run(
        Some("command"),
        &[
            "call",
            "medic-12",
            "--duration",
            "1",
            "--ring-timeout",
            "5",
            "--json",
        ],
    );
    assert!(ok, "command's call was not answered: {text}");
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("call json");
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    let answer_ms = v["answered_ms"].as_u64().expect("answered");
    figure("auto_answer_setup_ms", answer_ms);
    assert!(
        calls_at(&net, "medic-12")
            .iter()
            .any(|c| c.0 == "in" && c.1 == "command" && c.3),
        "medic-12 has no answered call from command"
    );
    assert!(net.log("medic-12").contains("answered automatically"));

    // The ring tone of engine-5's call reached the speaker: its first
    // two seconds are the 440 + 480 Hz burst.
    stop(&mut net, "medic-12");
    let pcm = callsign::audio::wav::read(&speaker).expect("speaker WAV");
    assert!(pcm.len() >= 32_000, "speaker WAV has {} samples", pcm.len());
    let burst = &pcm[1_600..30_400];
    let (a, b, off) = (
        power(burst, 440.0),
        power(burst, 480.0),
        power(burst, 1_000.0),
    );
    figure(
        "ring_tone_440_to_1k_db",
        format!("{:.0}", 10.0 * (a / off.max(1e-9)).log10()),
    );
    assert!(a > 1e5 && b > 1e5, "no ring tone: 440 Hz {a}, 480 Hz {b}");
    assert!(a > 100.0 * off, "ring tone not dominant: {a} vs {off}");
}

/// Wait until `node` sees `who` talking on TG (or nobody, for `None`).
/// Issue 14, point 2: a PAR alerts the member's device with a tone on its
/// sound card (here the speaker's WAV) until the member acknowledges.
#[test]
fn par_alert_tone_until_acknowledged() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("roles3"));
    let speaker = net.tmp.join("medic-12-par.wav");
    let sp = speaker.display().to_string();
    net.start(0, &["--audio-out", "none"]);
    net.start(1, &["--audio-out", "none"]);
    let m = net.index("medic-12");
    net.start(m, &["--audio-out", "none", "--audio-out-wav", &sp]);
    assert!(
        wait_for(Duration::from_secs(15), || converged(&net)).is_some(),
        "the three roles do not resolve"
    );
    let (ok, out) = net.run(Some("command"), &["par", "start", "--window", "30"]);
    assert!(ok, "par start: {out}");
    let asked = std::time::Instant::now();
    let waiting = |net: &Net| {
        net.cli("medic-12", &["par", "status", "--json"])
            .and_then(|out| serde_json::from_str::<serde_json::Value>(&out).ok())
            .is_some_and(|v| v["pending"].as_array().is_some_and(|a| !a.is_empty()))
    };
    let reached = wait_for(Duration::from_secs(3), || waiting(&net));
    assert!(reached.is_some(), "the PAR did not reach medic-12");
    // Two whole alert periods, then the member reports.
    std::thread::sleep(Duration::from_millis(8_500).saturating_sub(asked.elapsed()));
    let (ok, out) = net.run(Some("medic-12"), &["par", "ack"]);
    assert!(ok, "par ack: {out}");
    let acked_after = asked.elapsed();
    // Anything after the acknowledgement would be in the WAV now.
    std::thread::sleep(Duration::from_secs(3));
    stop(&mut net, "medic-12");
    let pcm = callsign::audio::wav::read(&speaker).expect("speaker WAV");
    let secs = pcm.len() as f64 / 16_000.0;
    figure("par_tone_played_s", format!("{secs:.2}"));
    figure(
        "par_acked_after_s",
        format!("{:.2}", acked_after.as_secs_f64()),
    );
    // The speaker writes only while it sounds: from the request to the
    // acknowledgement, not after.
    assert!(
        secs > 7.0 && secs <= acked_after.as_secs_f64() + 0.2,
        "PAR tone played {secs:.2} s; acknowledged {acked_after:?} after the request"
    );
    // Three 150 ms beeps of 1050 Hz every 4 s: blocks of 10 ms with sound.
    let blocks: Vec<bool> = pcm
        .chunks(160)
        .map(|b| b.iter().any(|&v| v.unsigned_abs() > 100))
        .collect();
    let beeps = (0..blocks.len())
        .filter(|&i| blocks[i] && (i == 0 || !blocks[i - 1]))
        .count();
    figure("par_tone_beeps", beeps);
    let periods = (secs / 4.0).ceil() as usize;
    assert!(
        (3 * periods - 3..=3 * periods).contains(&beeps),
        "{beeps} beeps in {secs:.2} s"
    );
    let first = &pcm[..2_400];
    let (tone, ring, off) = (
        power(first, 1_050.0),
        power(first, 440.0),
        power(first, 2_000.0),
    );
    figure(
        "par_tone_1050_to_440_db",
        format!("{:.0}", 10.0 * (tone / ring.max(1e-9)).log10()),
    );
    assert!(tone > 1e5, "no 1050 Hz beep: {tone}");
    assert!(
        tone > 100.0 * ring && tone > 100.0 * off,
        "{tone} vs {ring}, {off}"
    );
    assert!(net.log("medic-12").contains("PAR alert tone"));
}

fn talker_is(net: &Net, node: &str, who: Option<&str>) -> Option<Duration> {
    wait_for(Duration::from_secs(3), || {
        ptt::talker_at(net, node, TG).as_deref() == who
    })
}

fn transmitting(net: &Net, node: &str) -> bool {
    ptt::view(net, node, TG)["transmitting"].as_bool() == Some(true)
}

#[test]
fn joined_talkgroup_plays_and_ptt_from_key_and_terminal() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("roles3"));
    let speaker = net.tmp.join("medic-12-speaker.wav");
    let fifo = net.tmp.join("command-event-device");
    harness::sh(&["mkfifo", fifo.to_str().expect("utf-8")]);
    let key = format!("{}:KEY_F13", fifo.display());
    let sp = speaker.display().to_string();
    let c = net.index("command");
    net.start(
        c,
        &["--talkgroup", TG, "--audio-out", "none", "--ptt-key", &key],
    );
    net.start(1, &["--talkgroup", TG, "--audio-out", "none"]);
    let m = net.index("medic-12");
    net.start(
        m,
        &[
            "--talkgroup",
            TG,
            "--audio-out",
            "none",
            "--audio-out-wav",
            &sp,
        ],
    );
    assert!(
        wait_for(Duration::from_secs(15), || converged(&net)).is_some(),
        "the three roles do not resolve"
    );
    // The FIFO's reader is the daemon: opening it for writing waits for it.
    let mut dev = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open the stand-in device");

    // 1. A burst on the joined talkgroup lands in medic-12's speaker.
    let tone: Vec<i16> = (0..24_000)
        .map(|i| {
            (8_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * f64::from(i) / 16_000.0).sin())
                as i16
        })
        .collect();
    let wav = net.tmp.join("tone1k.wav");
    callsign::audio::wav::write(&wav, &tone).expect("tone");
    let (ok, text) = net.run(
        Some("command"),
        &["ptt", TG, "--wav", wav.to_str().expect("utf-8"), "--json"],
    );
    assert!(ok, "ptt: {text}");
    std::thread::sleep(Duration::from_millis(500));

    // 2. The key: down takes the floor, up frees it.
    let rec = |code, value| {
        encode(InputEvent {
            kind: 1,
            code,
            value,
        })
    };
    dev.write_all(&rec(KEY_F13, 1)).expect("key down");
    dev.flush().expect("flush");
    let took = talker_is(&net, "engine-5", Some("command"));
    assert!(
        took.is_some(),
        "key down: engine-5 does not hear command talk"
    );
    assert!(transmitting(&net, "command"));
    figure(
        "ptt_key_down_to_talker_ms",
        took.map_or(0, |d| d.as_millis()),
    );
    // Autorepeat while held changes nothing; up releases.
    dev.write_all(&rec(KEY_F13, 2)).expect("repeat");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        transmitting(&net, "command"),
        "autorepeat released the floor"
    );
    dev.write_all(&rec(KEY_F13, 0)).expect("key up");
    dev.flush().expect("flush");
    assert!(
        wait_for(Duration::from_secs(3), || !transmitting(&net, "command")).is_some(),
        "key up: command still transmits"
    );
    assert!(
        talker_is(&net, "engine-5", None).is_some(),
        "floor not idle after key up"
    );

    // 3. Hold-to-talk, stdin a pipe: Enter toggles, end of input releases.
    let mut hold = Command::new("ip")
        .args(["netns", "exec", &net.node("engine-5").ns, bin()])
        .args(["ptt", "--hold", TG])
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", &net.node("engine-5").dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptt --hold");
    let mut stdin = hold.stdin.take().expect("stdin");
    stdin.write_all(b"\n").expect("toggle on");
    assert!(
        talker_is(&net, "command", Some("engine-5")).is_some(),
        "ptt --hold: command does not hear engine-5"
    );
    stdin.write_all(b"\n").expect("toggle off");
    assert!(
        wait_for(Duration::from_secs(3), || !transmitting(&net, "engine-5")).is_some(),
        "ptt --hold: second Enter did not release"
    );
    stdin.write_all(b" ").expect("toggle on again");
    assert!(wait_for(Duration::from_secs(3), || transmitting(&net, "engine-5")).is_some());
    drop(stdin);
    let out = hold.wait_with_output().expect("ptt --hold");
    assert!(
        out.status.success(),
        "ptt --hold: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !transmitting(&net, "engine-5"),
        "end of input left the floor held"
    );

    // The speaker WAV holds the 1 kHz burst, with nobody running listen.
    stop(&mut net, "medic-12");
    let pcm = callsign::audio::wav::read(Path::new(&speaker)).expect("speaker WAV");
    let win = 3_200;
    let loud = pcm
        .chunks(win)
        .filter(|w| {
            w.len() == win && power(w, 1_000.0) > 1e6 && power(w, 1_000.0) > 100.0 * power(w, 440.0)
        })
        .count();
    figure(
        "speaker_1k_seconds",
        format!("{:.1}", (loud * win) as f64 / 16_000.0),
    );
    assert!(
        loud * win >= 16_000,
        "the burst is not in the speaker WAV: {} s of 1 kHz in {} s",
        (loud * win) as f64 / 16_000.0,
        pcm.len() as f64 / 16_000.0
    );
}
