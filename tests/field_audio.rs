//! Field test of the console's audio (issue 14, points 2 "Talkgroups", 4
//! and 7): five real daemons in a line (`field-tests/scenarios/console5.toml`,
//! the command post 4 hops from rescue-2).
//!
//! - The audio log: a burst rescue-2 talks with `callsign ptt --wav` is
//!   recorded by the command post into its data dir, listed by
//!   `GET /v1/audio`, fetched through the API with the same length as the
//!   speech sent, and shown on the console with a player and a download.
//!
//! Needs root, espeak-ng, sox, Python's `pesq` and (for the page)
//! `chromium` with `chromedriver`; runs with CALLSIGN_FIELD_TESTS=1.
//! Figures are printed as `FIGURE` lines.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/browser.rs"]
mod browser;
#[path = "../field-tests/harness.rs"]
mod harness;
#[path = "../field-tests/voice.rs"]
mod voice;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use browser::Browser;
use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const TG: &str = "fireground-1";
const CONSOLE: &str = "command";
const FAR: &str = "rescue-2";
/// A recorded burst is the speech sent, give or take the playout's start
/// and the DTX tail after it (one 400 ms keep-alive frame at most).
const LENGTH_SLACK_MS: i64 = 500;

/// GET `path` from inside `ns` with the API's token: (status, body).
fn http_get(ns: &str, path: &str, token: &str, out: &Path) -> (u16, Vec<u8>) {
    let py = format!(
        "import http.client, sys\n\
         c = http.client.HTTPConnection('127.0.0.1', 7480, timeout=10)\n\
         c.request('GET', sys.argv[1], headers={{'Authorization': 'Bearer {token}'}})\n\
         r = c.getresponse()\n\
         open(sys.argv[2], 'wb').write(r.read())\n\
         print(r.status, r.getheader('Content-Type'), r.getheader('Content-Disposition'))\n"
    );
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &py, path])
        .arg(out)
        .output()
        .expect("python3");
    let line = String::from_utf8_lossy(&o.stdout).to_string();
    let status = line
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: {}", String::from_utf8_lossy(&o.stderr)));
    eprintln!("GET {path}: {}", line.trim());
    (status, std::fs::read(out).unwrap_or_default())
}

fn wav_ms(bytes: &[u8]) -> i64 {
    (bytes.len().saturating_sub(44) as i64) * 1000 / 32_000
}

fn start_line() -> (Net, Vec<String>) {
    let sc = Scenario::load("console5");
    let mut net = Net::build(&sc);
    net.start_all(&["--talkgroup", TG, "--no-sip"]);
    let names: Vec<String> = sc.nodes.clone();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(
        wait_for(Duration::from_secs(30), || net.full_mesh(&refs)).is_some(),
        "the mesh did not converge"
    );
    (net, names)
}

#[test]
fn audio_log_records_a_burst_and_serves_it() {
    if !enabled() {
        return;
    }
    let _guard = serial();
    let (net, _) = start_line();
    let out = net.tmp.clone();
    let speech = voice::speech(&out);
    let speech_ms = wav_ms(&std::fs::read(&speech).expect("speech"));
    let ns = net.node(CONSOLE).ns.clone();
    let token = net.token(CONSOLE);

    let (ok, text) = net.run(
        Some(FAR),
        &[
            "ptt",
            TG,
            "--wav",
            speech.to_str().expect("utf-8"),
            "--json",
        ],
    );
    assert!(ok, "ptt --wav on {FAR}: {text}");

    // The file closes shortly after the burst's last frame plays.
    let mut list = serde_json::Value::Null;
    let listed = wait_for(Duration::from_secs(5), || {
        let (st, body) = http_get(&ns, "/v1/audio", &token, &out.join("list.json"));
        list = serde_json::from_slice(&body).unwrap_or_default();
        st == 200
            && list
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e["recording"] == false))
    });
    assert!(listed.is_some(), "no closed burst in the audio log: {list}");
    let e = &list[0];
    assert_eq!(e["talkgroup"], TG, "{e}");
    assert_eq!(e["talker"], FAR, "{e}");
    let file = e["file"].as_str().expect("file").to_string();
    assert!(
        net.node(CONSOLE).dir.join("audio").join(&file).is_file(),
        "{file} is not in the data dir"
    );

    let (st, wav) = http_get(
        &ns,
        &format!("/v1/audio/{file}"),
        &token,
        &out.join("burst.wav"),
    );
    assert_eq!(st, 200);
    assert_eq!(&wav[..4], b"RIFF");
    let rec_ms = wav_ms(&wav);
    figure("audio_log_speech_ms", speech_ms);
    figure("audio_log_recorded_ms", rec_ms);
    figure("audio_log_listed_ms", &e["length_ms"]);
    assert_eq!(e["length_ms"].as_i64(), Some(rec_ms));
    assert!(
        (rec_ms - speech_ms).abs() <= LENGTH_SLACK_MS,
        "recorded {rec_ms} ms of {speech_ms} ms sent"
    );
    let score = voice::pesq_wb(&speech, &out.join("burst.wav"));
    figure("audio_log_pesq_wb", format!("{score:.2}"));
    // Without the token: refused.
    let (st, _) = http_get(&ns, &format!("/v1/audio/{file}"), "", &out.join("x"));
    assert_eq!(st, 401);
    // Not a file of the log: not found (no path escapes the log).
    let (st, _) = http_get(
        &ns,
        "/v1/audio/fireground-1/..%2F..%2Fapi.token",
        &token,
        &out.join("x"),
    );
    assert_eq!(st, 404);
    let (st, _) = http_get(
        &ns,
        &format!("/v1/audio/{file}?download=1"),
        &token,
        &out.join("x"),
    );
    assert_eq!(st, 200);

    // The console lists the burst with a player that loads it, and a
    // download link.
    if !browser::available() {
        eprintln!("SKIPPED the console part: no chromium/chromedriver");
        return;
    }
    let url = net
        .cli(CONSOLE, &["console"])
        .and_then(|o| {
            o.lines()
                .find_map(|l| l.strip_prefix("console: ").map(str::to_string))
        })
        .expect("console address");
    let console = Browser::start(&ns, &out, "console", 1600, 1000, &[]);
    console.goto(&url);
    let row = format!("#bursts tr[data-file=\"{file}\"]");
    console
        .wait(
            Duration::from_secs(10),
            &format!("return !!document.querySelector('{row} audio')"),
        )
        .expect("the console lists the burst with a player");
    let text = console
        .js(&format!("return document.querySelector('{row}').innerText"))
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains(FAR) && text.contains("SAVE"), "{text}");
    console.js(&format!(
        "const a = document.querySelector('{row} audio'); a.preload = 'auto'; a.load(); return true;"
    ));
    let loaded = console.wait(
        Duration::from_secs(10),
        &format!(
            "const a = document.querySelector('{row} audio'); return a.readyState >= 1 && isFinite(a.duration);"
        ),
    );
    let dur = console.js(&format!(
        "return document.querySelector('{row} audio').duration"
    ));
    assert!(loaded.is_some(), "the player did not load the burst: {dur}");
    let page_ms = (dur.as_f64().unwrap_or(0.0) * 1000.0) as i64;
    figure("audio_log_player_duration_ms", page_ms);
    assert!((page_ms - rec_ms).abs() <= 20, "{page_ms} vs {rec_ms}");
    let png = console.screenshot();
    std::fs::write(out.join("console-audio-log.png"), &png).expect("png");
    if std::env::var_os("CALLSIGN_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console-audio-log.png");
        std::fs::write(&docs, &png).expect("docs png");
    }
}
