//! `callsign audio devices` on whatever machine runs the tests: with or
//! without a sound card it must answer (not panic or hang) and exit 0.
#![cfg(feature = "daemon")]

use std::process::Command;

fn devices(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_callsign"))
        .args(["audio", "devices"])
        .args(args)
        .output()
        .expect("run callsign")
}

#[test]
fn audio_devices_lists_or_says_there_are_none() {
    let out = devices(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("no sound devices found") || text.contains("NAME"),
        "{text}"
    );
    // Without a card the host has no devices at all.
    if !std::path::Path::new("/dev/snd").exists() {
        assert!(text.contains("no sound devices found"), "{text}");
    }
}

#[test]
fn audio_devices_json_has_both_lists() {
    let out = devices(&["--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["inputs"].is_array() && v["outputs"].is_array(), "{v}");
}
