//! The daemon started on a damaged message store: garbage bytes, a real
//! store cut short, another program's database, a newer schema. Each is a
//! clear error (exit 1, never a panic) that names the file and the way out,
//! the file is kept byte for byte, and `--move-aside-corrupt-store` keeps it
//! under a new name and starts afresh. Loopback only, no root.

// A test driver: real clocks, processes and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod daemon_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon_common::{bin, free_port};

const DB: &str = "callsign.db";

/// A fresh directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("callsign-storage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn up_cmd(data: &Path, api: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(["up", "--no-sip", "--api", api, "--log", "info"])
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .stdin(Stdio::null());
    c
}

fn status_ok(api: &str, data: &Path) -> bool {
    Command::new(bin())
        .args(["status", "--json"])
        .env("CALLSIGN_API", api)
        .env("CALLSIGN_DATA_DIR", data)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Start the daemon, wait for its API, stop it with SIGTERM: a data dir
/// with a real key and store. Returns whether it came up.
fn run_until_up(data: &Path, extra: &[&str]) -> (bool, String) {
    let api = format!("127.0.0.1:{}", free_port());
    let log = data.with_extension("log");
    let mut child = up_cmd(data, &api, extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    let mut up = false;
    while t0.elapsed() < Duration::from_secs(15) {
        if status_ok(&api, data) {
            up = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGTERM: a clean stop checkpoints the WAL into the database file.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    (up, std::fs::read_to_string(&log).unwrap_or_default())
}

/// Start the daemon expecting it to refuse: (exit code, stderr). Bounded.
fn run_refused(data: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let api = format!("127.0.0.1:{}", free_port());
    let err = data.with_extension("err");
    let mut child = up_cmd(data, &api, extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("err"))
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    let code = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s.code();
        }
        if t0.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon did not stop on a bad store");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, std::fs::read_to_string(&err).unwrap_or_default())
}

/// A data dir with a real store in it (the daemon ran once).
fn real_store(tag: &str) -> Dir {
    let d = Dir::new(tag);
    let data = d.0.join("data");
    let (up, log) = run_until_up(&data, &[]);
    assert!(up, "the daemon did not start on an empty dir: {log}");
    assert!(data.join(DB).exists(), "no store after a run");
    d
}

/// The refusal and the way out, for a store `damage` made unusable.
fn refused_then_moved_aside(d: &Dir) {
    let data = d.0.join("data");
    let path = data.join(DB);
    let before = std::fs::read(&path).expect("store");
    let (code, err) = run_refused(&data, &[]);
    assert_eq!(code, Some(1), "exit code (101 is a panic): {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.contains("--move-aside-corrupt-store"),
        "the way out: {err}"
    );
    assert!(
        err.contains(&format!("mv {}", path.display())),
        "the mv: {err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("kept"),
        before,
        "the file changed"
    );

    let (up, log) = run_until_up(&data, &["--move-aside-corrupt-store"]);
    assert!(up, "no fresh start with --move-aside-corrupt-store: {log}");
    let aside: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("callsign.db.corrupt-")
                    && !n.to_string_lossy().ends_with("-wal")
                    && !n.to_string_lossy().ends_with("-shm")
            })
        })
        .collect();
    assert_eq!(aside.len(), 1, "one file moved aside: {aside:?}");
    assert_eq!(
        std::fs::read(&aside[0]).expect("old"),
        before,
        "the old file kept byte for byte"
    );
    assert!(log.contains("moved"), "the move is said: {log}");
    // The fresh store works: a second start is clean.
    let (up, log) = run_until_up(&data, &[]);
    assert!(up, "the fresh store does not open: {log}");
}

#[test]
fn garbage_bytes() {
    let d = Dir::new("garbage");
    let data = d.0.join("data");
    std::fs::create_dir_all(&data).expect("data");
    // Deterministic noise (an LCG), 16 KiB: not a SQLite header.
    let mut x: u32 = 12345;
    let junk: Vec<u8> = (0..16384)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(data.join(DB), &junk).expect("junk");
    refused_then_moved_aside(&d);
}

#[test]
fn truncated_real_store() {
    let d = real_store("truncated");
    let path = d.0.join("data").join(DB);
    let bytes = std::fs::read(&path).expect("store");
    assert!(bytes.len() >= 8192, "store of {} bytes", bytes.len());
    // Cut in the middle of a page, past the header.
    std::fs::write(&path, &bytes[..bytes.len() / 2 + 100]).expect("truncate");
    refused_then_moved_aside(&d);
}

#[test]
fn another_programs_database() {
    let d = Dir::new("foreign");
    let data = d.0.join("data");
    std::fs::create_dir_all(&data).expect("data");
    let c = rusqlite::Connection::open(data.join(DB)).expect("db");
    c.execute_batch(
        "CREATE TABLE bundles (name TEXT, size INTEGER);
         INSERT INTO bundles VALUES ('photos', 42);",
    )
    .expect("foreign schema");
    drop(c);
    refused_then_moved_aside(&d);
}

#[test]
fn newer_schema() {
    let d = real_store("newer");
    let c = rusqlite::Connection::open(d.0.join("data").join(DB)).expect("db");
    c.pragma_update(None, "user_version", 99).expect("version");
    drop(c);
    refused_then_moved_aside(&d);
}
