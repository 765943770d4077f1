//! Enrolment without moving secret keys, through the binary: `callsign
//! id`, `ca issue --node-pub`, the batch flow (`enrol request` on each
//! device, `ca issue-batch` at the station, `enrol install` back on the
//! device), and a daemon starting in secured mode with what was installed.

// A test driver: real clocks, processes and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod daemon_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon_common::bin;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .output()
        .expect("run callsign");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn batch_enrolment_keeps_secret_keys_on_the_devices() {
    let tmp = Tmp(std::env::temp_dir().join(format!("callsign-enrol-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let (d1, d2, ca, batch) = (
        tmp.0.join("engine-3"),
        tmp.0.join("command-1"),
        tmp.0.join("ca"),
        tmp.0.join("batch"),
    );
    std::fs::create_dir_all(&batch).expect("dir");

    // Each device: a key, and its public half printed.
    let (ok, out, err) = run(&["id", "--create", "--json", "--data-dir", s(&d1)]);
    assert!(ok, "{err}");
    let id1: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    let pk1 = id1["public_key"].as_str().expect("public_key").to_string();
    assert_eq!(pk1.len(), 64);
    let (ok, out, _) = run(&["id", "--data-dir", s(&d1), "--qr"]);
    assert!(ok);
    assert!(out.contains(&format!("public key  {pk1}")), "{out}");
    assert!(
        out.contains('█') && out.contains('▀'),
        "no QR code drawn:\n{out}"
    );
    let (ok, _, err) = run(&["id", "--data-dir", s(&tmp.0.join("nowhere"))]);
    assert!(!ok && err.contains("no device key at"), "{err}");
    assert!(run(&["id", "--create", "--data-dir", s(&d2)]).0);

    // The station: a CA, and a certificate from the public key alone.
    let (ok, _, err) = run(&["ca", "init", "--agency", "Metro Fire", "--out", s(&ca)]);
    assert!(ok, "{err}");
    let one = tmp.0.join("one.pem");
    let (ok, out, err) = run(&[
        "ca",
        "issue",
        "--ca",
        s(&ca),
        "--node-pub",
        &pk1,
        "--roles",
        "engine-*",
        "--out",
        s(&one),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains(id1["node_id"].as_str().expect("id")), "{out}");
    // The old flow still works, labelled as a convenience.
    let (ok, _, err) = run(&[
        "ca",
        "issue",
        "--ca",
        s(&ca),
        "--node-key",
        s(&d2.join("device.key")),
        "--roles",
        "command",
    ]);
    assert!(ok && err.contains("convenience"), "{err}");

    // Batch: a request from each device, one altered on the way.
    for (d, roles, name) in [(&d1, "engine-*", "engine-3"), (&d2, "command", "command-1")] {
        let out = batch.join(format!("{name}.req"));
        let (ok, _, err) = run(&[
            "enrol",
            "request",
            "--data-dir",
            s(d),
            "--roles",
            roles,
            "--name",
            name,
            "--out",
            s(&out),
        ]);
        assert!(ok, "{err}");
        let text = std::fs::read_to_string(&out).expect("request");
        assert!(
            !text.contains(&hex_of(&std::fs::read(d.join("device.key")).expect("key"))),
            "a secret in the request"
        );
    }
    let text = std::fs::read_to_string(batch.join("engine-3.req")).expect("request");
    std::fs::write(
        batch.join("tampered.req"),
        text.replace("engine-*", "chief"),
    )
    .expect("write");
    let (ok, out, err) = run(&[
        "ca",
        "issue-batch",
        "--ca",
        s(&ca),
        s(&batch),
        "--allow",
        "engine-*,command,chief",
    ]);
    assert!(!ok, "a tampered request must fail the batch: {out}");
    assert!(err.contains("1 of 3 requests refused"), "{err}");
    assert!(
        out.contains("REFUSED") && out.contains("tampered.req: the signature does not verify"),
        "{out}"
    );
    assert!(
        out.contains("issued") && out.contains("engine-3.req"),
        "{out}"
    );
    for f in ["engine-3.pem", "command-1.pem", "ca.pem"] {
        assert!(batch.join(f).is_file(), "{f} not written: {out}");
    }
    assert!(!batch.join("tampered.pem").exists());
    // --allow narrower than a request: refused.
    let batch2 = tmp.0.join("batch2");
    std::fs::create_dir_all(&batch2).expect("dir");
    std::fs::copy(batch.join("command-1.req"), batch2.join("command-1.req")).expect("copy");
    let (ok, out, _) = run(&[
        "ca",
        "issue-batch",
        "--ca",
        s(&ca),
        s(&batch2),
        "--allow",
        "engine-*",
    ]);
    assert!(!ok && out.contains("not within --allow"), "{out}");

    // Back on the device: install, refused on the wrong device.
    let (ok, _, err) = run(&[
        "enrol",
        "install",
        s(&batch.join("engine-3.pem")),
        "--trust-root",
        s(&batch.join("ca.pem")),
        "--data-dir",
        s(&d2),
    ]);
    assert!(!ok && err.contains("not this one"), "{err}");
    let (ok, out, err) = run(&[
        "enrol",
        "install",
        s(&batch.join("engine-3.pem")),
        "--trust-root",
        s(&batch.join("ca.pem")),
        "--data-dir",
        s(&d1),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Metro Fire") && out.contains("engine-*"),
        "{out}"
    );

    // The daemon starts secured with exactly what was installed.
    let api = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").to_string()
    };
    let mut up = Command::new(bin())
        .args([
            "up",
            "--no-sip",
            "--api",
            &api,
            "--data-dir",
            s(&d1),
            "--name",
            "engine-3",
        ])
        .args([
            "--trust-root",
            s(&d1.join("trust-root.pem")),
            "--cert",
            s(&d1.join("device.pem")),
        ])
        .env("CALLSIGN_CONFIG", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("up");
    let t0 = Instant::now();
    let mut status = String::new();
    while t0.elapsed() < Duration::from_secs(10) && !status.contains("\"trust\"") {
        std::thread::sleep(Duration::from_millis(100));
        status = Command::new(bin())
            .args(["status", "--json", "--api", &api, "--data-dir", s(&d1)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
    }
    let _ = up.kill();
    let _ = up.wait();
    assert!(status.contains("\"trust\":\"secured\""), "{status}");
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
