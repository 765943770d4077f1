//! Radio set-up from profiles, against recording stand-ins for `iw` and
//! `ip` first on PATH (this kernel has no wireless stack): the exact
//! commands per profile, what a driver lacks, and `callsign up` running
//! the set-up at start and warning that no interface is usable.

// A test driver: real clocks, processes and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod daemon_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use daemon_common::{bin, free_port};

/// A directory with `iw` and `ip` stand-ins and their fixtures.
struct Fake {
    dir: PathBuf,
}

impl Fake {
    fn new(tag: &str) -> Fake {
        let dir =
            std::env::temp_dir().join(format!("callsign-fake-iw-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).expect("dir");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iw");
        for f in ["iw-dev.txt", "phy-phy0.txt", "phy-phy1.txt"] {
            std::fs::copy(fixtures.join(f), dir.join(f)).expect("fixture");
        }
        for name in ["iw", "ip"] {
            std::fs::copy(fixtures.join("fake-iw.sh"), dir.join("bin").join(name)).expect("script");
        }
        Fake { dir }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        let path = format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.env("PATH", path)
            .env("FAKE_DIR", &self.dir)
            .env("FAKE_LOG", self.dir.join("log"))
            .env("CALLSIGN_CONFIG", "/dev/null");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run callsign")
    }

    /// Every command the stand-ins saw, in order; the log is emptied.
    fn take_log(&self) -> Vec<String> {
        let p = self.dir.join("log");
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let _ = std::fs::remove_file(&p);
        text.lines().map(str::to_string).collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const QUERIES: [&str; 4] = ["iw dev", "iw phy phy0 info", "iw dev", "iw phy phy1 info"];

const TRUCK_ON_WLAN0: [&str; 4] = [
    "ip link set dev wlan0 down",
    "iw dev wlan0 set type mp",
    "ip link set dev wlan0 up",
    "iw dev wlan0 mesh join callsign-backbone freq 5180 HT20 mcast-rate 24 mesh_fwding=0",
];
const TRUCK_PS: &str = "iw dev wlan0 set power_save off";

const HANDSET_ON_WLAN1: [&str; 5] = [
    "ip link set dev wlan1 down",
    "iw dev wlan1 set type ibss",
    "ip link set dev wlan1 up",
    "iw dev wlan1 ibss join callsign-incident 2437 HT20 fixed-freq 02:ca:11:51:67:00 mcast-rate 6",
    "iw dev wlan1 set power_save off",
];

/// Every driver is asked before anything is changed, then each plan runs.
fn expected_setup() -> Vec<String> {
    let mut v: Vec<String> = QUERIES.iter().map(|s| s.to_string()).collect();
    v.extend(TRUCK_ON_WLAN0.iter().map(|s| s.to_string()));
    v.push(TRUCK_PS.into());
    v.extend(HANDSET_ON_WLAN1.iter().map(|s| s.to_string()));
    v
}

#[test]
fn plan_prints_exact_commands_and_runs_none() {
    let f = Fake::new("plan");
    let out = f.run(&[
        "radio",
        "plan",
        "--iface",
        "wlan0=truck-5g",
        "--iface",
        "wlan1=handset-2g4",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plans: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let lines = |i: usize| -> Vec<String> {
        plans[i]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                let mut l = s["program"].as_str().expect("program").to_string();
                for a in s["args"].as_array().expect("args") {
                    l.push(' ');
                    l.push_str(a.as_str().expect("arg"));
                }
                l
            })
            .collect()
    };
    let mut truck: Vec<String> = TRUCK_ON_WLAN0.iter().map(|s| s.to_string()).collect();
    truck.push(TRUCK_PS.into());
    assert_eq!(lines(0), truck);
    assert_eq!(lines(1), HANDSET_ON_WLAN1);
    assert_eq!(plans[0]["mode"], "mesh");
    assert_eq!(plans[1]["mode"], "ibss");
    assert!(plans[0]["missing"].as_array().expect("missing").is_empty());
    let checks = plans[0]["checks"].to_string();
    assert!(
        checks.contains("supports mesh point") && checks.contains("5180 MHz"),
        "{checks}"
    );
    // Only the driver was asked; nothing was changed.
    assert_eq!(f.take_log(), QUERIES);

    // The text form names each command and why.
    let out = f.run(&["radio", "plan", "--iface", "wlan1=handset-2g4"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("wlan1 (handset-2g4): IBSS (ad-hoc)"),
        "{text}"
    );
    assert!(text.contains("iw dev wlan1 set type ibss"), "{text}");
    assert!(text.contains("# ad-hoc (IBSS) mode"), "{text}");
}

#[test]
fn apply_runs_the_plan_in_order() {
    let f = Fake::new("apply");
    let out = f.run(&[
        "radio",
        "apply",
        "--iface",
        "wlan0=truck-5g",
        "--iface",
        "wlan1=handset-2g4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.take_log(), expected_setup());
}

#[test]
fn a_driver_without_the_mode_is_named_and_left_alone() {
    let f = Fake::new("missing");
    // wlan1's driver has no 802.11s and no 5 GHz band.
    let out = f.run(&["radio", "plan", "--iface", "wlan1=truck-5g"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("MISSING  the driver of wlan1 (phy1) does not support mesh point mode; it supports: IBSS, managed, monitor"),
        "{text}"
    );
    assert!(
        text.contains("MISSING  phy1 has no 5180 MHz channel"),
        "{text}"
    );
    f.take_log();
    let out = f.run(&["radio", "apply", "--iface", "wlan1=truck-5g"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wlan1: NOT set up: the driver of wlan1"),
        "{err}"
    );
    assert_eq!(
        f.take_log(),
        ["iw dev", "iw phy phy1 info"],
        "nothing applied"
    );
    // Not a wireless interface at all.
    let out = f.run(&["radio", "plan", "--iface", "eth0=handset-2g4"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "eth0 is not a wireless interface known to iw (`iw dev` lists: wlan1, wlan0)"
        ),
        "{text}"
    );
    f.take_log();
    // A profile that says "as-is" runs nothing and asks nothing.
    let prof = f.dir.join("wired.toml");
    std::fs::write(&prof, "cost_weight = 64\n[link]\nmode = \"as-is\"\n").expect("profile");
    let arg = format!("eth1={}", prof.display());
    let out = f.run(&["radio", "apply", "--iface", &arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(f.take_log().is_empty());
}

/// `callsign up` sets the radios up before it joins, logs each command,
/// and — with neither radio present in this kernel — warns loudly that
/// no interface is usable, naming why.
#[test]
fn up_sets_up_the_radios_and_warns_when_nothing_is_usable() {
    let f = Fake::new("up");
    let data = f.dir.join("data");
    let stderr = f.dir.join("up.log");
    let api = format!("127.0.0.1:{}", free_port());
    let mut child = f
        .cmd()
        .args([
            "up",
            "--iface",
            "wlan0=truck-5g",
            "--iface",
            "wlan1=handset-2g4",
            "--no-sip",
            "--api",
            &api,
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("log"))
        .spawn()
        .expect("spawn up");
    let t0 = Instant::now();
    let mut log = String::new();
    while t0.elapsed() < Duration::from_secs(15) && !log.contains("NO USABLE INTERFACE") {
        std::thread::sleep(Duration::from_millis(100));
        log = std::fs::read_to_string(&stderr).unwrap_or_default();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(f.take_log(), expected_setup(), "{log}");
    assert!(
        log.contains("radio: wlan0: iw dev wlan0 set type mp"),
        "{log}"
    );
    assert!(log.contains("radio set up"), "{log}");
    assert!(log.contains("NO USABLE INTERFACE"), "{log}");
    assert!(
        log.contains("wlan0: absent, or up without any address"),
        "{log}"
    );
}
