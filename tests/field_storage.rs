//! Field tests of the message store under storage faults: a data dir on a
//! read-only filesystem (a read-only bind mount in a private mount
//! namespace), and a data dir on a small tmpfs that fills up while the
//! daemon runs (real daemons in network namespaces). Needs root; runs only
//! with CALLSIGN_FIELD_TESTS=1 (see field-tests/README.md). Figures are
//! printed as `FIGURE` lines.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Net, Scenario, bin, enabled, figure, free_port, serial, sh, wait_for};

/// Every file of a directory, by name, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

/// `callsign up` on `data`, made read-only by a bind mount in a mount
/// namespace of its own (gone when the process ends): exit code, stderr.
fn up_read_only(data: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let api = format!("127.0.0.1:{}", free_port());
    let script = format!(
        "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && shift && exec \"$@\" {}",
        extra.join(" ")
    );
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(data)
        .args([
            bin(),
            "up",
            "--no-sip",
            "--api",
            &api,
            "--log",
            "info",
            "--data-dir",
        ])
        .arg(data)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    let t0 = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon kept running on a read-only data dir");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Acceptance 6: a data dir with a real key and store, on a read-only
/// filesystem, gives a clear error at start (exit 1, names the store, says
/// read-only), with or without --move-aside-corrupt-store, and no file
/// changes.
#[test]
fn read_only_data_dir() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let tmp = std::env::temp_dir().join(format!("callsign-field-ro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let data = tmp.join("data");
    // One run on a writable dir: a real key and store.
    let api = format!("127.0.0.1:{}", free_port());
    let mut first = Command::new(bin())
        .args([
            "up",
            "--no-sip",
            "--api",
            &api,
            "--log",
            "info",
            "--data-dir",
        ])
        .arg(&data)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let up = wait_for(Duration::from_secs(15), || {
        Command::new(bin())
            .args(["status", "--json"])
            .env("CALLSIGN_API", &api)
            .env("CALLSIGN_DATA_DIR", &data)
            .env("CALLSIGN_CONFIG", "/dev/null")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let _ = Command::new("kill").arg(first.id().to_string()).status();
    let _ = wait_for(Duration::from_secs(10), || {
        matches!(first.try_wait(), Ok(Some(_)))
    });
    let _ = first.kill();
    let _ = first.wait();
    assert!(up.is_some(), "the daemon did not start on a writable dir");
    let before = snapshot(&data);
    assert!(
        before.contains_key("callsign.db"),
        "no store: {:?}",
        before.keys()
    );

    for extra in [&[][..], &["--move-aside-corrupt-store"][..]] {
        let (code, err) = up_read_only(&data, extra);
        println!("read-only start {extra:?}: exit {code:?}: {err}");
        assert_eq!(code, Some(1), "exit code (101 is a panic): {err}");
        assert!(!err.contains("panicked"), "{err}");
        let db = data.join("callsign.db").display().to_string();
        assert!(err.contains(&db), "names the store: {err}");
        assert!(err.contains("Read-only file system"), "says why: {err}");
        assert!(err.contains("read-only or full"), "says what to do: {err}");
        assert_eq!(
            snapshot(&data),
            before,
            "a file changed on a read-only start"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A tmpfs mounted over a node's data dir; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn over(dir: &Path, size: &str) -> Tmpfs {
        let key = std::fs::read(dir.join("device.key")).expect("key");
        sh(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            dir.to_str().expect("utf-8"),
        ]);
        let t = Tmpfs(dir.to_path_buf());
        let mut f = std::fs::File::create(dir.join("device.key")).expect("key");
        f.write_all(&key).expect("key");
        sh(&[
            "chmod",
            "600",
            dir.join("device.key").to_str().expect("utf-8"),
        ]);
        t
    }

    /// Write zeros until the filesystem is full; returns the bytes written.
    fn fill(&self) -> u64 {
        let mut f = std::fs::File::create(self.0.join("fill")).expect("fill");
        let block = vec![0u8; 4096];
        let mut n = 0;
        while f.write_all(&block).is_ok() {
            n += 4096;
        }
        // The last partial block: byte by byte until nothing fits.
        while f.write_all(&[0]).is_ok() {
            n += 1;
        }
        n
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn inbox_texts(net: &Net, node: &str) -> Vec<String> {
    net.json(node, "inbox")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect()
}

/// Acceptance 6 (and 1's full disk): n1 - n2 - n3 (medic-12), n2's data dir
/// on a 16 MiB tmpfs filled up while it runs. Texts n2 sends are either
/// accepted and delivered, or refused with a clear error and never
/// delivered; none is acknowledged and lost. n2 keeps answering and keeps
/// relaying n1's texts to n3; with space again, n2's sends are accepted.
#[test]
fn full_disk_refuses_sends_and_keeps_relaying() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let mut net = Net::build(&Scenario::load("line3"));
    let n2_dir = net.node("n2").dir.clone();
    let fs = Tmpfs::over(&n2_dir, "16m");
    net.start(0, &[]);
    net.start(1, &[]);
    net.start(2, &["--name", "medic-12"]);
    assert!(
        wait_for(Duration::from_secs(15), || net
            .full_mesh(&["n1", "n2", "n3"]))
        .is_some(),
        "no full mesh of routes"
    );
    let medic = net.node("n3").id.to_string();
    for n in ["n1", "n2"] {
        assert!(
            wait_for(Duration::from_secs(15), || net.holders(n, "medic-12")
                == vec![medic.clone()])
            .is_some(),
            "{n} does not resolve medic-12"
        );
    }
    let (ok, out) = net.run(
        Some("n2"),
        &["msg", "medic-12", "before the disk fills", "--json"],
    );
    assert!(ok, "a send with space refused: {out}");

    let filled = fs.fill();
    figure("storage_filled_bytes", filled);
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let mut reasons = Vec::new();
    let pad = "x".repeat(600);
    for k in 0..60 {
        let text = format!("full disk {k} {pad}");
        let (ok, out) = net.run(Some("n2"), &["msg", "medic-12", &text, "--json"]);
        if ok {
            accepted.push(text);
        } else {
            reasons.push(out);
            refused.push(text);
        }
        if refused.len() >= 5 {
            break;
        }
    }
    figure("storage_full_accepted", accepted.len());
    figure("storage_full_refused", refused.len());
    println!(
        "first refusal: {}",
        reasons.first().map_or("", |s| s.as_str())
    );
    assert!(
        !refused.is_empty(),
        "no send refused on a full disk ({} accepted)",
        accepted.len()
    );
    for r in &reasons {
        assert!(
            r.contains("disk is full") && r.contains("not sent"),
            "unclear refusal: {r}"
        );
    }
    // n2 still answers and still relays: n1's text reaches n3 through it.
    assert!(
        net.cli("n2", &["status", "--json"]).is_some(),
        "n2 stopped answering"
    );
    let (ok, out) = net.run(
        Some("n1"),
        &["msg", "medic-12", "relayed through a full disk", "--json"],
    );
    assert!(ok, "n1's send refused: {out}");
    let relayed = wait_for(Duration::from_secs(10), || {
        inbox_texts(&net, "n3")
            .iter()
            .any(|t| t == "relayed through a full disk")
    });
    assert!(
        relayed.is_some(),
        "n2 did not relay n1's text on a full disk"
    );
    // Every accepted text arrives; no refused one ever does.
    let all = wait_for(Duration::from_secs(15), || {
        let got = inbox_texts(&net, "n3");
        accepted.iter().all(|a| got.contains(a))
    });
    assert!(all.is_some(), "an accepted text was lost");
    std::thread::sleep(Duration::from_secs(2));
    let got = inbox_texts(&net, "n3");
    let leaked: Vec<_> = refused.iter().filter(|r| got.contains(r)).collect();
    assert!(
        leaked.is_empty(),
        "refused texts were delivered: {}",
        leaked.len()
    );
    assert!(net.alive("n2"), "n2 exited on a full disk");

    // Space again: sends are accepted and delivered.
    std::fs::remove_file(n2_dir.join("fill")).expect("free");
    let (ok, out) = net.run(
        Some("n2"),
        &["msg", "medic-12", "after the disk is freed", "--json"],
    );
    assert!(ok, "refused with space again: {out}");
    assert!(
        wait_for(Duration::from_secs(10), || {
            inbox_texts(&net, "n3")
                .iter()
                .any(|t| t == "after the disk is freed")
        })
        .is_some(),
        "not delivered after the disk was freed"
    );
    net.kill("n2");
    drop(fs);
}
