//! Voice helpers of the field tests: speech from espeak-ng, PESQ-WB
//! scores, and one call between two daemons driven through the CLI.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::harness::{Net, wait_for};

/// Eight seconds or so of 16 kHz mono speech (espeak-ng, then sox).
pub fn speech(dir: &Path) -> PathBuf {
    let raw = dir.join("speech-raw.wav");
    let out = dir.join("speech16k.wav");
    if out.is_file() {
        return out;
    }
    let text = "Engine three to command. We have fire showing from the second floor, \
                one occupant reported trapped. Requesting a second alarm and a medic unit \
                to the east side. Ladder twelve, take the roof.";
    run(&["espeak-ng", "-v", "en-us", "-s", "150", "-w", s(&raw), text]);
    run(&[
        "sox",
        s(&raw),
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        s(&out),
    ]);
    out
}

/// A steady tone (no silence, so no DTX): for measuring gaps in the audio.
pub fn tone(dir: &Path, secs: u32) -> PathBuf {
    let out = dir.join(format!("tone{secs}.wav"));
    if !out.is_file() {
        run(&[
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            s(&out),
            "synth",
            &secs.to_string(),
            "sine",
            "440",
            "gain",
            "-12",
        ]);
    }
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (is it installed? ./run test installs it)", args[0]));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Python with numpy and pesq: `./run test` keeps them in the
/// repository's `.venv/`; without it, the system's python3.
pub fn scorer_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// PESQ-WB (ITU-T P.862.2) of `deg` against `reference`, aligned first.
pub fn pesq_wb(reference: &Path, deg: &Path) -> f64 {
    pesq_wb_delay(reference, deg)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// PESQ-WB of `deg` against `reference` and the delay (ms) the aligner
/// found between them; an error when the scorer fails (e.g. a recording
/// with no speech in it).
pub fn pesq_wb_delay(reference: &Path, deg: &Path) -> Result<(f64, f64), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("field-tests/tools/pesq_wb.py");
    let out = Command::new(scorer_python())
        .arg(&script)
        .args([s(reference), s(deg), "--json"])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "pesq_wb.py failed on {}: {text}{}",
            deg.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("pesq_wb.py JSON: {e}: {text}"))?;
    Ok((
        v["pesq_wb"].as_f64().ok_or("no pesq_wb figure")?,
        v["delay_ms"].as_f64().unwrap_or(f64::NAN),
    ))
}

/// The calls `node` lists, as JSON values.
pub fn calls(net: &Net, node: &str) -> Vec<serde_json::Value> {
    net.json(node, "calls")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// The newest call at `node` in `state`.
pub fn call_in(net: &Net, node: &str, state: &str) -> Option<serde_json::Value> {
    calls(net, node)
        .into_iter()
        .rev()
        .find(|c| c["state"] == state)
}

pub struct CallResult {
    /// The caller's last view of the call (`callsign call --json`).
    pub caller: serde_json::Value,
    /// The callee's view after the end.
    pub callee: serde_json::Value,
    /// What the callee recorded of the caller's audio.
    pub recording: PathBuf,
}

/// `caller` calls `name`; `callee` answers as soon as it rings and
/// records; the caller sends `wav` and hangs up a second after it.
pub fn call(
    net: &Net,
    caller: &str,
    callee: &str,
    name: &str,
    wav: &Path,
    tag: &str,
) -> CallResult {
    let rec = net.tmp.join(format!("{tag}-{callee}.wav"));
    let (caller_out, callee_view) = std::thread::scope(|sc| {
        let h = sc.spawn(|| net.run(Some(caller), &["call", name, "--wav", s(wav), "--json"]));
        let rang = wait_for(Duration::from_secs(5), || {
            call_in(net, callee, "ringing").is_some()
        });
        assert!(rang.is_some(), "{callee} never rang for {name}");
        let (ok, out) = net.run(Some(callee), &["answer", "--record", s(&rec), "--json"]);
        assert!(ok, "answer at {callee}: {out}");
        let (ok, out) = h.join().expect("call thread");
        assert!(ok, "call from {caller}: {out}");
        let ended = wait_for(Duration::from_secs(5), || {
            call_in(net, callee, "ended").is_some()
        });
        assert!(ended.is_some(), "the call never ended at {callee}");
        (out, call_in(net, callee, "ended").expect("ended call"))
    });
    CallResult {
        caller: json_line(&caller_out),
        callee: callee_view,
        recording: rec,
    }
}

/// The JSON object a `--json` client printed among its progress lines.
pub fn json_line(out: &str) -> serde_json::Value {
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in: {out}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}
