//! Field test of the incident commander's console and the handset page
//! (issue 14, point 7) in a real browser: five real daemons in network
//! namespaces (`field-tests/scenarios/console5.toml`, a line: the command
//! post, then engine-3, ladder-7, medic-12 and rescue-2, 4 hops out), a
//! headless Chromium with its WebDriver inside the command post's
//! namespace showing the console, and others inside crews' namespaces
//! showing the handset page. Asserted:
//!
//! - the pages and the API refuse a foreign Host or Origin (DNS
//!   rebinding), and serve their embedded assets;
//! - the roster lists every node with the hop count of the line;
//! - a mayday held for 2 s on the far handset's page appears on the
//!   console within 1 s, with the alarm sounding; it is acknowledged and
//!   cleared with reasons, and both are in the incident log;
//! - a PAR started on the console is acknowledged from a handset page,
//!   from the CLI and by a push-to-talk press, and the console shows "all
//!   accounted" within 2 s of the last acknowledgement; a second one that
//!   medic-12 never answers closes "incomplete: medic-12"; the incident
//!   log shows members by name and the PAR by its short code, with no
//!   full node or PAR id on the page, and the CSV keeps the full ids;
//! - holding the handset's talk button shows the talker on the console
//!   and on the other handset page;
//! - a call placed from the CLI rings on the callee's handset page and is
//!   answered there;
//! - a member whose daemon is killed turns stale on the roster within its
//!   threshold.
//!
//! Needs root, `chromium` and `chromedriver` (./run test installs them);
//! runs with CALLSIGN_FIELD_TESTS=1. `CALLSIGN_UPDATE_DOCS=1` copies the
//! screenshots into `docs/`. Figures are printed as `FIGURE` lines.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/browser.rs"]
mod browser;
#[path = "../field-tests/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use browser::Browser;
use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const TG: &str = "fireground-1";
const CONSOLE: &str = "command";
const FAR: &str = "rescue-2";
const NEAR: &str = "engine-3";
const URL: &str = "http://127.0.0.1:7480";
/// Roster thresholds the console is opened with (seconds).
const AMBER_S: u64 = 5;
const RED_S: u64 = 20;
/// Issue 14, point 7.
const MAYDAY_MAX_MS: u64 = 1000;
const PAR_CLOSE_MAX_MS: u64 = 2000;

fn save(png: &[u8], dir: &Path, name: &str) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name} is not a PNG");
    let p = dir.join(name);
    std::fs::write(&p, png).expect("write screenshot");
    eprintln!("screenshot {}", p.display());
    if std::env::var_os("CALLSIGN_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name);
        std::fs::copy(&p, &docs).expect("copy to docs");
        eprintln!("wrote {}", docs.display());
    }
}

/// An HTTP request from inside `ns` with the given Host, Origin and
/// bearer token: the status code.
fn http_status(ns: &str, path: &str, host: &str, origin: Option<&str>, token: &str) -> u16 {
    let mut origin = origin
        .map(|o| format!("'Origin': '{o}',"))
        .unwrap_or_default();
    if !token.is_empty() {
        origin.push_str(&format!("'Authorization': 'Bearer {token}',"));
    }
    let py = format!(
        "import http.client\n\
         c = http.client.HTTPConnection('127.0.0.1', 7480, timeout=5)\n\
         c.putrequest('GET', '{path}', skip_host=True)\n\
         for k, v in {{'Host': '{host}', {origin}}}.items(): c.putheader(k, v)\n\
         c.endheaders()\n\
         print(c.getresponse().status)\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &py])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no status: {}", String::from_utf8_lossy(&out.stderr)))
}

fn js_str(b: &Browser, script: &str) -> String {
    b.js(script).as_str().unwrap_or_default().to_string()
}

#[test]
fn console_and_handset_pages_in_chromium() {
    if !enabled() {
        return;
    }
    if !browser::available() {
        let msg = "SKIPPED console_and_handset_pages_in_chromium: no chromium/chromedriver \
                   (apt-get install chromium chromium-driver; ./run test installs them)";
        assert!(
            std::env::var_os("CALLSIGN_REQUIRE_CHROMIUM").is_none(),
            "{msg}"
        );
        eprintln!("{msg}");
        return;
    }
    let _guard = serial();
    let sc = Scenario::load("console5");
    let hops = sc.hops();
    let mut net = Net::build(&sc);
    net.start_all(&["--talkgroup", TG, "--no-sip"]);
    let names: Vec<String> = sc.nodes.clone();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(
        wait_for(Duration::from_secs(30), || net.full_mesh(&refs)).is_some(),
        "the mesh did not converge"
    );
    // Every crew's record (with its talkgroup) has reached the console.
    assert!(
        wait_for(Duration::from_secs(20), || {
            names.iter().all(|n| {
                net.whois(CONSOLE, n)
                    .first()
                    .is_some_and(|(_, h)| n == CONSOLE || h.is_some())
            })
        })
        .is_some(),
        "the console's directory lacks members"
    );
    let ns = |n: &str| net.node(n).ns.clone();
    let out = net.tmp.clone();

    // --- Safe by default: Host and Origin checks (DNS rebinding), and
    // the API token.
    let token = net.token(CONSOLE);
    assert_eq!(token.len(), 64, "no API token in the data dir");
    let st = |path: &str, host: &str, origin: Option<&str>, token: &str| {
        http_status(&ns(CONSOLE), path, host, origin, token)
    };
    assert_eq!(st("/v1/status", "127.0.0.1:7480", None, &token), 200);
    assert_eq!(st("/", "localhost:7480", None, &token), 200);
    assert_eq!(st("/v1/status", "127.0.0.1:7480", None, ""), 401);
    assert_eq!(st("/", "127.0.0.1:7480", None, ""), 401);
    assert_eq!(
        st("/v1/status", "127.0.0.1:7480", None, &"0".repeat(64)),
        401
    );
    assert_eq!(st("/v1/status", "rebind.example:7480", None, &token), 403);
    assert_eq!(
        st(
            "/v1/status",
            "127.0.0.1:7480",
            Some("http://evil.example"),
            &token
        ),
        403
    );

    // --- The console, opened at the address `callsign console` prints
    // (it carries the token; the page trades it for a cookie).
    let urls = net.cli(CONSOLE, &["console"]).expect("callsign console");
    let page = |n: &str, what: &str| {
        let out = net.cli(n, &["console"]).expect("callsign console");
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{what}: ")))
            .unwrap_or_else(|| panic!("no {what} address: {out}"))
            .to_string()
    };
    let console_url = page(CONSOLE, "console");
    assert!(console_url == format!("{URL}/?token={token}"), "{urls}");
    let console = Browser::start(&ns(CONSOLE), &out, "console", 1600, 1000, &[]);
    console.goto(&format!("{console_url}&amber={AMBER_S}&red={RED_S}"));
    let far = Browser::start(&ns(FAR), &out, "far", 480, 1000, &[]);
    far.goto(&page(FAR, "handset"));
    let near = Browser::start(&ns(NEAR), &out, "near", 480, 1000, &[]);
    near.goto(&page(NEAR, "handset"));
    // The token left the address bar; the cookie is not readable by scripts.
    assert_eq!(
        js_str(&console, "return location.search"),
        format!("?amber={AMBER_S}&red={RED_S}")
    );
    assert_eq!(js_str(&console, "return document.cookie"), "");

    // Roster: every node, with the line's hop count.
    let roster_ok = console.wait(
        Duration::from_secs(10),
        &format!(
            "const want = {};\
             const rows = [...document.querySelectorAll('#roster tbody tr')];\
             return rows.length === Object.keys(want).length && rows.every(r => \
               String(want[r.dataset.role]) === r.querySelector('.hops').textContent);",
            serde_json::json!(
                names
                    .iter()
                    .map(|n| (
                        n.clone(),
                        hops.get(&(CONSOLE.to_string(), n.clone()))
                            .copied()
                            .unwrap_or(0)
                    ))
                    .collect::<std::collections::BTreeMap<_, _>>()
            )
        ),
    );
    assert!(
        roster_ok.is_some(),
        "roster: {}",
        js_str(
            &console,
            "return document.querySelector('#roster').innerText"
        )
    );
    assert_eq!(
        js_str(
            &console,
            "return document.getElementById('link').textContent"
        ),
        "LIVE"
    );

    // --- Talk from the far handset: the console and the near handset
    // show the talker while the button is held.
    far.wait(
        Duration::from_secs(5),
        &format!("return document.getElementById('tg').value === '{TG}'"),
    )
    .expect("the handset lists its talkgroup");
    far.press("#talk");
    let seen_console = console.wait(
        Duration::from_secs(3),
        &format!(
            "const li = document.querySelector('#talkgroups li[data-tg=\"{TG}\"]');\
             return !!li && li.textContent.includes('{FAR} TALKING');"
        ),
    );
    let seen_near = near.wait(
        Duration::from_secs(3),
        &format!("return document.getElementById('talker').dataset.talker === '{FAR}'"),
    );
    let talking_far = js_str(
        &far,
        "return document.getElementById('talk-state').textContent",
    );
    save(&far.screenshot(), &out, "handset-talking.png");
    far.release("#talk");
    assert!(
        seen_console.is_some(),
        "the console did not show the talker"
    );
    assert!(
        seen_near.is_some(),
        "the near handset did not show the talker"
    );
    figure(
        "console_talker_shown_ms",
        seen_console.map_or(0, |d| d.as_millis()),
    );
    assert_eq!(talking_far, "TRANSMITTING");
    near.wait(
        Duration::from_secs(5),
        "return document.getElementById('talker').textContent === 'Channel clear'",
    )
    .expect("the channel clears after the release");
    console
        .wait(
            Duration::from_secs(5),
            &format!("return document.getElementById('bursts').textContent.includes('{FAR}')"),
        )
        .expect("the console lists the burst in its history");

    // --- PAR: handset page, CLI and a PTT press acknowledge; all accounted.
    console.click("#par-start");
    far.wait(
        Duration::from_secs(5),
        "return !document.getElementById('par-alert').classList.contains('hidden')",
    )
    .expect("the far handset alerts for the PAR");
    save(&far.screenshot(), &out, "handset-par.png");
    // medic-12 answers by pressing to talk, rescue-2 on its page,
    // ladder-7 and then engine-3 (the last) with the CLI.
    let (ok, text) = net.run(
        Some("medic-12"),
        &["ptt", TG, "--duration", "0.3", "--json"],
    );
    assert!(ok, "ptt on medic-12: {text}");
    far.click("#par-ack");
    let (ok, text) = net.run(Some("ladder-7"), &["par", "ack"]);
    assert!(ok, "par ack on ladder-7: {text}");
    // Timed from before the last acknowledgement's command starts.
    let last_ack = Instant::now();
    let (ok, text) = net.run(Some(NEAR), &["par", "ack", "--json"]);
    assert!(ok, "par ack on {NEAR}: {text}");
    let closed = console.wait(
        Duration::from_secs(5),
        "const o = document.getElementById('par-outcome');\
         return !!o && o.dataset.state === 'all accounted';",
    );
    let par_text = js_str(&console, "return document.getElementById('par').innerText");
    assert!(closed.is_some(), "the PAR did not close: {par_text}");
    let close_ms = last_ack.elapsed().as_millis() as u64;
    figure("par_all_accounted_after_last_ack_ms", close_ms);
    assert!(par_text.contains("ALL ACCOUNTED"), "{par_text}");
    // The CLI agrees.
    let status = net
        .cli(CONSOLE, &["par", "status", "--json"])
        .expect("par status");
    let v: serde_json::Value = serde_json::from_str(&status).expect("json");
    assert_eq!(v["rolls"][0]["state"], "all accounted", "{v}");
    assert_eq!(v["rolls"][0]["members"].as_array().map(Vec::len), Some(4));
    // The incident log reads in names and the PAR's short code; the full
    // ids stay in the CSV's detail for machines.
    let par_id = v["rolls"][0]["par"].as_str().expect("par id").to_string();
    let code = v["rolls"][0]["code"]
        .as_str()
        .expect("par code")
        .to_string();
    assert_eq!(code.len(), 4, "{v}");
    assert!(par_text.contains(&format!("PAR {code}")), "{par_text}");
    console
        .wait(
            Duration::from_secs(5),
            &format!(
                "return document.getElementById('log').innerText\
                 .includes('PAR {code} · outcome: all accounted')"
            ),
        )
        .expect("the console's log shows the PAR by its code");
    let log_text = js_str(&console, "return document.getElementById('log').innerText");
    for n in &net.nodes {
        let id = n.id.to_string();
        assert!(
            !log_text.contains(&id),
            "full id of {} in the log panel:\n{log_text}",
            n.name
        );
    }
    assert!(
        !log_text.contains(&par_id),
        "full PAR id in the log panel:\n{log_text}"
    );
    assert!(
        log_text.contains(&format!("PAR {code} · name: {NEAR}")),
        "{log_text}"
    );
    let csv = net.cli(CONSOLE, &["log", "--csv"]).expect("log csv");
    let row = csv
        .lines()
        .find(|l| l.contains(",par_accounted,") && l.contains(&format!("name: {NEAR}")))
        .unwrap_or_else(|| panic!("no par_accounted row for {NEAR}:\n{csv}"));
    assert!(row.contains(&par_id), "{row}");
    assert!(row.contains(&net.node(NEAR).id.to_string()), "{row}");
    // The map above has a screenshot of its own (field_console_map).
    console.js("document.getElementById('roster-section').scrollIntoView(); return true;");
    save(&console.screenshot(), &out, "console-par.png");

    // A second PAR that medic-12 never answers: incomplete with its name.
    let (ok, text) = net.run(Some(CONSOLE), &["par", "start", "--window", "6", "--json"]);
    assert!(ok, "par start: {text}");
    far.wait(
        Duration::from_secs(5),
        "return !document.getElementById('par-alert').classList.contains('hidden')",
    )
    .expect("alert for the second PAR");
    far.click("#par-ack");
    for n in [NEAR, "ladder-7"] {
        let (ok, text) = net.run(Some(n), &["par", "ack"]);
        assert!(ok, "par ack on {n}: {text}");
    }
    let incomplete = console.wait(
        Duration::from_secs(12),
        "const o = document.getElementById('par-outcome');\
         return !!o && o.dataset.state === 'incomplete';",
    );
    let par_text = js_str(&console, "return document.getElementById('par').innerText");
    assert!(incomplete.is_some(), "{par_text}");
    assert!(par_text.contains("INCOMPLETE: medic-12"), "{par_text}");

    // --- Mayday: held 2 s on the far handset, on the console within 1 s.
    far.hold("#mayday-btn", 2300);
    let shown = console.wait(
        Duration::from_secs(5),
        "return !document.getElementById('mayday').classList.contains('hidden')",
    );
    assert!(shown.is_some(), "no mayday on the console");
    let sent_at: u64 = js_str(&far, "return document.body.dataset.maydayAt || ''")
        .parse()
        .expect("the handset recorded its mayday");
    let shown_at: u64 = js_str(&console, "return document.body.dataset.maydayShownAt || ''")
        .parse()
        .expect("the console recorded the mayday");
    let latency = shown_at.saturating_sub(sent_at);
    figure("mayday_handset_to_console_ms", latency);
    let who = js_str(
        &console,
        "return document.getElementById('mayday-who').textContent",
    );
    assert!(who.contains(FAR), "mayday names {who}");
    let sounding = console.wait(
        Duration::from_secs(2),
        "return document.body.dataset.alarm === 'sounding'",
    );
    assert!(sounding.is_some(), "the alarm is not sounding");
    assert!(
        js_str(
            &console,
            "return document.getElementById('mayday-sound').textContent"
        ) == "Alarm sounding"
    );
    save(&console.screenshot(), &out, "console-mayday.png");
    save(&far.screenshot(), &out, "handset-mayday.png");
    console.type_into("#mayday-reason", "RIT sent to rescue-2");
    console.click("#mayday-ack");
    console
        .wait(
            Duration::from_secs(3),
            "return document.getElementById('mayday-state').textContent.startsWith('ACKNOWLEDGED')",
        )
        .expect("acknowledged on the console");
    assert_eq!(
        js_str(&console, "return document.body.dataset.alarm"),
        "off",
        "the alarm stops once acknowledged"
    );
    console.type_into("#mayday-reason", "rescue-2 out and safe");
    console.click("#mayday-clear");
    console
        .wait(
            Duration::from_secs(3),
            "return document.getElementById('mayday').classList.contains('hidden')",
        )
        .expect("cleared on the console");
    let log = net.cli(CONSOLE, &["log", "--csv"]).expect("log");
    for words in [
        "mayday_raised",
        "RIT sent to rescue-2",
        "rescue-2 out and safe",
        "par_closed",
        "all accounted",
        "incomplete",
    ] {
        assert!(
            log.contains(words),
            "the incident log lacks {words:?}:\n{log}"
        );
    }
    // The far node stops its emergency press and goes back to normal.
    let _ = net.run(Some(FAR), &["presence", "available"]);
    let _ = net.run(Some(FAR), &["ptt", TG, "--duration", "0.1"]);

    // --- A call from the CLI rings on the near handset page; answered there.
    let caller = Command::new("ip")
        .args(["netns", "exec", &ns("ladder-7"), harness::bin()])
        .env("CALLSIGN_DATA_DIR", &net.node("ladder-7").dir)
        .args([
            "call",
            NEAR,
            "--duration",
            "4",
            "--ring-timeout",
            "15",
            "--json",
        ])
        .env("CALLSIGN_CONFIG", "/dev/null")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("call");
    let rang = near.wait(
        Duration::from_secs(5),
        "return document.getElementById('ring').dataset.state === 'ringing'",
    );
    let ring_text = js_str(&near, "return document.getElementById('ring').innerText");
    if rang.is_some() {
        save(&near.screenshot(), &out, "handset-ringing.png");
        near.click("#answer");
    }
    let active = near.wait(
        Duration::from_secs(5),
        "return document.getElementById('ring').dataset.state === 'active'",
    );
    let call_out = caller.wait_with_output().expect("call ends");
    let call_text = String::from_utf8_lossy(&call_out.stdout).to_string()
        + &String::from_utf8_lossy(&call_out.stderr);
    assert!(rang.is_some(), "no ring on the handset: {ring_text}");
    assert!(active.is_some(), "not answered on the handset");
    assert!(ring_text.contains("ladder-7"), "{ring_text}");
    assert!(call_out.status.success(), "the call: {call_text}");
    assert!(call_text.contains("\"answered_ms\""), "{call_text}");

    // --- A member whose daemon dies turns stale within its threshold.
    drop(far);
    net.kill(FAR);
    let killed = Instant::now();
    let stale = console.wait(
        Duration::from_secs(AMBER_S + 15),
        &format!(
            "const r = document.querySelector('#roster tr[data-role=\"{FAR}\"] .heard span');\
             return !!r && Number(r.dataset.level) >= 1;"
        ),
    );
    let stale_text = js_str(
        &console,
        "return document.querySelector('#roster').innerText",
    );
    assert!(stale.is_some(), "{FAR} never turned stale: {stale_text}");
    let stale_ms = killed.elapsed().as_millis() as u64;
    figure("roster_stale_after_kill_ms", stale_ms);
    // Its links leave the map with its route, though the neighbour lists
    // that named it may be 30 s old.
    let far_id = net.node(FAR).id.to_string();
    let unlinked = console.wait(
        Duration::from_secs(3),
        &format!(
            "return !!document.querySelector('#map line.link') && \
               ![...document.querySelectorAll('#map line.link')].some(l => \
                 l.dataset.a === '{far_id}' || l.dataset.b === '{far_id}');"
        ),
    );
    assert!(
        unlinked.is_some(),
        "the map still draws {FAR}'s links after its route went"
    );
    // The map above has a screenshot of its own (field_console_map).
    console.js("document.getElementById('roster-section').scrollIntoView(); return true;");
    save(&console.screenshot(), &out, "console.png");
    // The route goes within a few seconds; the page then waits the amber
    // threshold on top.
    assert!(
        stale_ms <= (AMBER_S + 10) * 1000,
        "stale after {stale_ms} ms"
    );
    assert!(
        latency <= MAYDAY_MAX_MS,
        "mayday took {latency} ms to reach the console"
    );
    assert!(
        close_ms <= PAR_CLOSE_MAX_MS,
        "all accounted {close_ms} ms after the last acknowledgement"
    );
}
