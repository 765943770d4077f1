//! `callsign ptt --hold` in a real terminal (a pseudo-terminal), against a
//! daemon on loopback (no root, no namespaces): spaces at a keyboard's
//! repeat rate hold the floor, their end releases it, Ctrl-C ends the
//! client, and the terminal is back in its cooked mode afterwards.

// A test driver: real clocks, processes and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod daemon_common;

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon_common::{bin, free_port};

fn cli(api: &str, data: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin())
        .args(args)
        .env("CALLSIGN_API", api)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", data)
        .output()
        .expect("run callsign");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Whether this node holds or asks for the floor of `tg`.
fn pressed(api: &str, data: &std::path::Path, tg: &str) -> bool {
    let (_, out) = cli(api, data, &["talkgroups", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_default();
    v.as_array().into_iter().flatten().any(|t| {
        t["name"] == tg
            && (t["transmitting"].as_bool() == Some(true)
                || t["requesting"].as_bool() == Some(true))
    })
}

fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A pseudo-terminal: (master, slave).
fn openpty() -> (File, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: two out-pointers; no name, default termios and size.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: fresh descriptors owned from here on.
    unsafe { (File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

fn lflag(fd: &OwnedFd) -> libc::tcflag_t {
    // SAFETY: termios is plain data; tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and pointer.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) }, 0);
    t.c_lflag
}

#[test]
fn space_held_in_a_terminal_talks_and_ctrl_c_restores_it() {
    let dir = std::env::temp_dir().join(format!("callsign-hold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let api = format!("127.0.0.1:{}", free_port());
    let port = free_port().to_string();
    let mut daemon = Command::new(bin())
        .args([
            "up",
            "--no-sip",
            "--api",
            &api,
            "--port",
            &port,
            "--audio-out",
            "none",
        ])
        .args(["--talkgroup", "tg1", "--data-dir"])
        .arg(dir.join("data"))
        .env("CALLSIGN_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("up.log")).expect("log"))
        .spawn()
        .expect("callsign up");
    assert!(
        wait(Duration::from_secs(10), || cli(
            &api,
            &dir.join("data"),
            &["status", "--json"]
        )
        .0)
        .is_some(),
        "the daemon did not answer"
    );

    let (mut master, slave) = openpty();
    let cooked = lflag(&slave);
    assert!(cooked & libc::ICANON != 0 && cooked & libc::ECHO != 0);
    let fd = |s: &OwnedFd| Stdio::from(s.try_clone().expect("dup"));
    let mut client = Command::new(bin())
        .args(["ptt", "--hold", "tg1"])
        .env("CALLSIGN_API", &api)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", dir.join("data"))
        .stdin(fd(&slave))
        .stdout(fd(&slave))
        .stderr(fd(&slave))
        .spawn()
        .expect("ptt --hold");
    // Raw mode is on once the client runs.
    assert!(
        wait(Duration::from_secs(5), || lflag(&slave) & libc::ICANON == 0).is_some(),
        "the client did not put the terminal in raw mode"
    );
    // Keep the master's output drained so the client never blocks on it.
    let mut reader = master.try_clone().expect("master");
    let echo = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });

    // A held Space: one, the initial delay, then a repeat every 30 ms.
    master.write_all(b" ").expect("space");
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let mut seen = false;
    while t0.elapsed() < Duration::from_millis(1_500) {
        master.write_all(b" ").expect("repeat");
        std::thread::sleep(Duration::from_millis(30));
        if !seen && t0.elapsed() > Duration::from_millis(200) {
            seen = pressed(&api, &dir.join("data"), "tg1");
        }
    }
    assert!(seen, "Space held: the floor was not asked for");
    assert!(
        pressed(&api, &dir.join("data"), "tg1"),
        "released while Space was still repeating"
    );
    // Repeats stop: released within a second (about 0.1 s, plus the API).
    let gone = wait(Duration::from_secs(1), || {
        !pressed(&api, &dir.join("data"), "tg1")
    });
    assert!(gone.is_some(), "Space let go: the floor is still held");

    // Ctrl-C ends the client and the terminal is cooked again.
    master.write_all(&[0x03]).expect("ctrl-c");
    let done = wait(Duration::from_secs(5), || {
        matches!(client.try_wait(), Ok(Some(_)))
    });
    assert!(done.is_some(), "Ctrl-C did not end the client");
    let status = client.wait().expect("client");
    let restored = lflag(&slave);
    drop(slave);
    drop(master);
    let text = echo.join().unwrap_or_default();
    assert!(status.success(), "ptt --hold failed: {text}");
    assert!(
        restored & libc::ICANON != 0 && restored & libc::ECHO != 0,
        "terminal left in raw mode"
    );
    assert!(
        text.contains("PTT down") && text.contains("PTT up"),
        "{text}"
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
