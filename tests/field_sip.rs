//! Field tests of the SIP front: Debian's baresip phones register to
//! their local daemons and call each other by role name across line5 (4
//! hops); the far phone's recording is scored with PESQ-WB beside the same
//! two phones calling each other directly on loopback. A scripted phone
//! (`tools/sip_probe.py`) checks the failure answers, and 10 000 malformed
//! messages hit a SIP port. Needs root, baresip-core, espeak-ng, sox and
//! Python's `pesq`; runs only with CALLSIGN_FIELD_TESTS=1.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/phone.rs"]
mod phone;
#[path = "../field-tests/voice.rs"]
mod voice;

use std::path::Path;
use std::time::Duration;

use harness::{Net, Scenario, enabled, figure, serial, wait_for};
use phone::{Phone, PhoneCfg, probe};

/// Opus as the reference figures were taken: mono, 24 kbit/s.
const OPUS: &str = "opus";
const OPUS_RATE: u32 = 24_000;

fn converge(net: &Net, names: &[&str]) {
    let ok = wait_for(Duration::from_secs(10), || net.full_mesh(names));
    assert!(ok.is_some(), "the mesh did not converge");
}

/// Wait until `name` resolves at `at` to `holder`'s node.
fn resolves(net: &Net, at: &str, name: &str, holder: &str) {
    let id = net.node(holder).id.to_string();
    let ok = wait_for(Duration::from_secs(10), || {
        net.holders(at, name).contains(&id)
    });
    assert!(ok.is_some(), "{name} does not resolve at {at} to {holder}");
}

/// `from` dials `uri`; `to` auto-answers; after the speech (plus a
/// second) `from` hangs up. Returns the recording at `to`, 16 kHz.
fn phone_call(from: &Phone, to: &Phone, uri: &str, speech: &Path, out: &Path) {
    let (nf, nt) = (from.calls() + 1, to.calls() + 1);
    from.dial(uri);
    let up = wait_for(Duration::from_secs(8), || {
        from.established(nf) && to.established(nt)
    });
    assert!(
        up.is_some(),
        "the call to {uri} was not established:\n{}\n---\n{}",
        from.log(),
        to.log()
    );
    let secs = wav_secs(speech);
    std::thread::sleep(Duration::from_secs_f64(secs + 1.0));
    from.hangup();
    let down = wait_for(Duration::from_secs(5), || {
        from.terminated(nf) && to.terminated(nt)
    });
    assert!(
        down.is_some(),
        "no clean BYE on {uri}:\n{}\n---\n{}",
        from.log(),
        to.log()
    );
    to.recording(out);
}

fn wav_secs(p: &Path) -> f64 {
    let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    (len.saturating_sub(44)) as f64 / 32_000.0
}

fn newest_call(net: &Net, node: &str) -> serde_json::Value {
    voice::calls(net, node)
        .into_iter()
        .max_by_key(|c| c["id"].as_u64())
        .unwrap_or_default()
}

/// Acceptance 1 and 4, and phones to and from a daemon's own audio.
#[test]
fn line5_baresip_by_role_name() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let speech = voice::speech(&net.tmp);
    net.start_all(&[]);
    converge(&net, &["n1", "n2", "n3", "n4", "n5"]);
    let cfg = |user, port, auto, codecs| PhoneCfg {
        user,
        port,
        daemon: true,
        wav: &speech,
        codecs,
        opus_bitrate: OPUS_RATE,
        auto_answer: auto,
        password: None,
        tcp: false,
    };
    let a = Phone::start(&net, "n1", "A", &cfg("captain.engine-3", 5070, true, OPUS));
    let e = Phone::start(&net, "n5", "E", &cfg("medic-12", 5070, true, OPUS));
    resolves(&net, "n1", "medic-12", "n5");
    resolves(&net, "n5", "captain.engine-3", "n1");

    // 1. A -> 4 hops -> E by role name.
    let mesh_rec = net.tmp.join("mesh-E.wav");
    phone_call(&a, &e, "sip:medic-12@mesh", &speech, &mesh_rec);
    let c1 = newest_call(&net, "n1");
    eprintln!("n1's view of the phone's call: {c1}");
    let to_180 = c1["ringing_ms"].as_u64().expect("the call rang");
    figure("sip_line5_invite_to_180_ms", to_180);
    let mesh = voice::pesq_wb(&speech, &mesh_rec);
    figure("sip_line5_mesh_pesq_wb", format!("{mesh:.2}"));
    assert_eq!(c1["state"], "ended", "{c1}");
    let c5 = newest_call(&net, "n5");
    assert_eq!(
        c5["media"]["phone"]["codec"], "opus",
        "passed through: {c5}"
    );

    // The same two phones' settings, calling each other directly on
    // loopback (no daemon), in the same run.
    let direct = |user, port, auto| PhoneCfg {
        daemon: false,
        ..cfg(user, port, auto, OPUS)
    };
    let d1 = Phone::start(&net, "n1", "D1", &direct("alice", 5080, false));
    let d2 = Phone::start(&net, "n1", "D2", &direct("bob", 5090, true));
    let direct_rec = net.tmp.join("direct-D2.wav");
    phone_call(&d1, &d2, "sip:bob@127.0.0.1:5090", &speech, &direct_rec);
    let base = voice::pesq_wb(&speech, &direct_rec);
    figure("sip_direct_loopback_pesq_wb", format!("{base:.2}"));
    let ratio = mesh / base;
    figure("sip_mesh_vs_direct_pesq_ratio", format!("{ratio:.3}"));
    drop((d1, d2));
    assert!(to_180 <= 300, "INVITE to 180 took {to_180} ms > 300");
    assert!(ratio >= 0.95, "mesh/direct PESQ-WB {ratio:.3} < 0.95");

    // 4. A G.711-only phone calls the Opus phone across the mesh: the
    // daemon at n1 transcodes.
    let g = Phone::start(&net, "n1", "G", &cfg("pump-7", 5100, false, "pcmu"));
    resolves(&net, "n5", "pump-7", "n1");
    let g711_rec = net.tmp.join("g711-E.wav");
    phone_call(&g, &e, "sip:medic-12@mesh", &speech, &g711_rec);
    let g711 = voice::pesq_wb(&speech, &g711_rec);
    figure("sip_g711_to_opus_pesq_wb", format!("{g711:.2}"));
    let c = newest_call(&net, "n1");
    assert_eq!(c["media"]["phone"]["codec"], "PCMU", "{c}");
    drop(g);
    // For scale: G.711 end to end, two phones direct on loopback.
    let pcmu = |user, port, auto| PhoneCfg {
        daemon: false,
        ..cfg(user, port, auto, "pcmu")
    };
    let d3 = Phone::start(&net, "n1", "D3", &pcmu("carol", 5110, false));
    let d4 = Phone::start(&net, "n1", "D4", &pcmu("dave", 5120, true));
    let g711_direct_rec = net.tmp.join("g711-direct.wav");
    phone_call(
        &d3,
        &d4,
        "sip:dave@127.0.0.1:5120",
        &speech,
        &g711_direct_rec,
    );
    let g711_direct = voice::pesq_wb(&speech, &g711_direct_rec);
    figure(
        "sip_g711_direct_loopback_pesq_wb",
        format!("{g711_direct:.2}"),
    );
    drop((d3, d4));
    assert!(
        g711 >= 0.9 * g711_direct,
        "the transcoded G.711 call {g711:.2} is far below G.711 itself {g711_direct:.2}"
    );

    // A phone calls a role held by a daemon with no phone (n5's own
    // name); the daemon answers and records.
    let daemon_rec = net.tmp.join("daemon-n5.wav");
    a.dial("sip:n5@mesh");
    let rang = wait_for(Duration::from_secs(5), || {
        voice::call_in(&net, "n5", "ringing").is_some()
    });
    assert!(rang.is_some(), "n5 never rang for the phone: {}", a.log());
    let (ok, out) = net.run(
        Some("n5"),
        &[
            "answer",
            "--record",
            daemon_rec.to_str().expect("utf-8"),
            "--json",
        ],
    );
    assert!(ok, "answer at n5: {out}");
    std::thread::sleep(Duration::from_secs_f64(wav_secs(&speech) + 1.0));
    a.hangup();
    let ended = wait_for(Duration::from_secs(5), || {
        voice::call_in(&net, "n5", "ended").is_some() && a.terminated(2)
    });
    assert!(
        ended.is_some(),
        "the phone-to-daemon call did not end cleanly"
    );
    let to_daemon = voice::pesq_wb(&speech, &daemon_rec);
    figure("sip_phone_to_daemon_pesq_wb", format!("{to_daemon:.2}"));

    // And the reverse: n5's daemon calls the phone's role with a WAV.
    let (ok, out) = net.run(
        Some("n5"),
        &[
            "call",
            "captain.engine-3",
            "--wav",
            speech.to_str().expect("utf-8"),
            "--json",
        ],
    );
    assert!(ok, "n5 calling the phone: {out}");
    let gone = wait_for(Duration::from_secs(5), || a.terminated(3));
    assert!(
        gone.is_some(),
        "the phone did not see the hang-up: {}",
        a.log()
    );
    let from_daemon = voice::pesq_wb(&speech, &a.recording(&net.tmp.join("daemon-A.wav")));
    figure("sip_daemon_to_phone_pesq_wb", format!("{from_daemon:.2}"));
    assert!(
        to_daemon >= 2.5 && from_daemon >= 2.5,
        "{to_daemon:.2} {from_daemon:.2}"
    );
    // Every hang-up and cancel above crossed the mesh signed by its end's
    // daemon (the phones' plain BYEs included): none was refused.
    for n in ["n1", "n5"] {
        let s = net.json(n, "status").expect("status");
        for k in ["forged_bye", "forged_cancel", "forged_reinvite"] {
            assert_eq!(s["app"][k], 0, "{n}: {k} in {s}");
        }
    }
}

/// Acceptance 2 and 3: 404, 486 and 480 reach the phone; 10 000 malformed
/// messages at a SIP port leave the daemon up and its phone callable.
#[test]
fn line5_sip_failures_and_garbage() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line5"));
    let speech = voice::speech(&net.tmp);
    // n5 asks its phones for passwords (digest): E has the right one.
    let pw = net.tmp.join("sip-passwords.toml");
    std::fs::write(&pw, "\"medic-12\" = \"hydrant-5th\"\n").expect("passwords");
    let with_pw = ["--sip-passwords", pw.to_str().expect("utf-8")];
    for i in 0..5 {
        let extra: &[&str] = if net.nodes[i].name == "n5" {
            &with_pw
        } else {
            &[]
        };
        net.start(i, extra);
    }
    converge(&net, &["n1", "n2", "n3", "n4", "n5"]);
    let e = Phone::start(
        &net,
        "n5",
        "E",
        &PhoneCfg {
            user: "medic-12",
            port: 5070,
            daemon: true,
            wav: &speech,
            codecs: OPUS,
            opus_bitrate: OPUS_RATE,
            auto_answer: true,
            password: Some("hydrant-5th"),
            // E speaks SIP over TCP to its daemon.
            tcp: true,
        },
    );
    resolves(&net, "n1", "medic-12", "n5");
    let st = net.json("n5", "status").unwrap_or_default();
    assert_eq!(st["sip"]["phones"][0]["transport"], "tcp", "{st}");
    // Without the password a phone cannot take a role there.
    let r = probe(&net, "n5", &["call", "--from", "medic-12", "--to", "n1"]);
    assert_eq!(r["registered"], 401, "{r}");

    // Unknown role: 404.
    let r = probe(
        &net,
        "n1",
        &["call", "--from", "probe-1", "--to", "nobody-9"],
    );
    eprintln!("unknown role: {r}");
    assert_eq!(r["final"], 404, "{r}");

    // A SIP MESSAGE to a role crosses the mesh to its phone (200 once E
    // took it); to nobody it is 404.
    let text = "hydrant at Fifth is dry";
    let r = probe(
        &net,
        "n1",
        &[
            "message", "--from", "probe-1", "--to", "medic-12", "--text", text,
        ],
    );
    eprintln!("message: {r}");
    assert_eq!(r["final"], 200, "{r}");
    figure("sip_message_to_phone_4_hops_ms", &r["ms"]);
    // The 200 is E's own answer, relayed back by n5's daemon as the
    // receipt; n5 logged the text's arrival from the mesh.
    assert!(net.log("n5").contains("text received"), "{}", net.log("n5"));
    let r = probe(
        &net,
        "n1",
        &[
            "message", "--from", "probe-1", "--to", "nobody-9", "--text", "x",
        ],
    );
    assert_eq!(r["final"], 404, "{r}");

    // A call that E answers, held for 4 s, while a second caller tries:
    // 486 Busy Here.
    let r = std::thread::scope(|sc| {
        let first = sc.spawn(|| {
            probe(
                &net,
                "n1",
                &[
                    "call", "--from", "probe-1", "--to", "medic-12", "--hold", "4",
                ],
            )
        });
        let up = wait_for(Duration::from_secs(8), || e.established(1));
        assert!(up.is_some(), "E did not answer: {}", e.log());
        let second = probe(
            &net,
            "n3",
            &["call", "--from", "probe-3", "--to", "medic-12"],
        );
        let first = first.join().expect("probe thread");
        eprintln!("first call: {first}\nsecond call: {second}");
        assert_eq!(first["final"], 200, "{first}");
        assert_eq!(first["bye"], 200, "{first}");
        figure("sip_probe_invite_to_180_ms", &first["ms_to_180"]);
        second
    });
    assert_eq!(r["final"], 486, "{r}");

    // 3. Garbage at n5's SIP port, then E is still callable.
    let f = probe(&net, "n5", &["fuzz", "--count", "10000"]);
    eprintln!("fuzz: {f}");
    figure("sip_garbage_sent", &f["sent"]);
    assert!(net.alive("n5"), "n5's daemon died under garbage");
    let r = probe(
        &net,
        "n1",
        &[
            "call", "--from", "probe-1", "--to", "medic-12", "--hold", "1", "--dtmf", "5#",
        ],
    );
    eprintln!("after the garbage: {r}");
    // That call also sent DTMF 5 and # as RFC 4733 events: they crossed
    // the mesh as event frames and reached E as telephone-events.
    let c = newest_call(&net, "n5");
    eprintln!("n5's view: {c}");
    figure("sip_dtmf_events_sent", &r["dtmf_sent"]);
    figure(
        "sip_dtmf_events_to_phone_at_n5",
        &c["media"]["phone"]["dtmf_to_phone"],
    );
    assert_eq!(
        c["media"]["phone"]["dtmf_to_phone"], r["dtmf_sent"],
        "every telephone-event reached the far phone: {c}"
    );
    assert_eq!(r["final"], 200, "E is not callable after the garbage: {r}");
    assert!(net.alive("n5"));
    let st = net.json("n5", "status").unwrap_or_default();
    figure("sip_n5_malformed_counted", &st["sip"]["malformed"]);

    // 2. The role's only holder has left (n5 SIGKILLed; its directory
    // record outlives it): 480 Temporarily Unavailable.
    drop(e);
    net.kill("n5");
    let r = probe(
        &net,
        "n1",
        &["call", "--from", "probe-1", "--to", "medic-12"],
    );
    eprintln!("holder gone: {r}");
    assert_eq!(r["final"], 480, "{r}");
}
