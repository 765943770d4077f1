//! Chaos soak helpers (`tests/field_chaos.rs`): a seeded random source,
//! the CLI for traffic threads, the traffic loops and their ledger, link
//! flaps and loss bursts, a filling tmpfs, `/proc` samples.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::{self, Net, sh};
use super::ptt::{self, unix_ms};

/// splitmix64: every choice of the run from one seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in `lo..=hi` seconds, as a Duration with ms steps.
    pub fn secs(&mut self, lo: f64, hi: f64) -> Duration {
        let span = ((hi - lo) * 1000.0) as u64;
        Duration::from_millis((lo * 1000.0) as u64 + self.below(span + 1))
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        (!v.is_empty()).then(|| &v[self.below(v.len() as u64) as usize])
    }
}

/// What a traffic thread needs to run the CLI at a node: its namespace
/// and data dir (the `Net` itself stays with the fault loop).
#[derive(Clone)]
pub struct Cli(pub BTreeMap<String, (String, PathBuf)>);

impl Cli {
    pub fn run(&self, node: &str, args: &[&str]) -> (bool, String) {
        let (ns, dir) = &self.0[node];
        match Command::new("ip")
            .args(["netns", "exec", ns, harness::bin()])
            .args(args)
            .env("CALLSIGN_CONFIG", "/dev/null")
            .env("CALLSIGN_DATA_DIR", dir)
            .output()
        {
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                (out.status.success(), text)
            }
            Err(e) => (false, e.to_string()),
        }
    }

    pub fn json(&self, node: &str, args: &[&str]) -> Option<serde_json::Value> {
        let (ok, out) = self.run(node, args);
        ok.then(|| serde_json::from_str(&out).ok()).flatten()
    }

    /// [`Cli::json`] tried up to three times a second apart: the end
    /// checks must not take a daemon busy for a moment for an empty one.
    pub fn json_retry(&self, node: &str, args: &[&str]) -> Option<serde_json::Value> {
        for _ in 0..2 {
            if let Some(v) = self.json(node, args) {
                return Some(v);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        self.json(node, args)
    }
}

/// One text the test asked a daemon to send.
#[derive(Debug, Clone)]
pub struct Text {
    pub from: String,
    pub to: String,
    /// The daemon's message id when it accepted the text.
    pub id: Option<String>,
    /// Why it was not accepted (daemon down, disk full, ...).
    pub refusal: Option<String>,
    /// Test clock (Unix ms) when the send was asked.
    pub asked_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Press {
    pub node: String,
    pub tg: &'static str,
    pub at_ms: u64,
    pub granted: bool,
    pub outcome: String,
}

#[derive(Default)]
pub struct Ledger {
    pub texts: Vec<Text>,
    pub presses: Vec<Press>,
    pub pings_sent: u64,
    pub pings_answered: u64,
}

/// (seconds into the chaos, resident KiB, open descriptors) of a daemon.
pub type Sample = (f64, u64, u64);

/// One fault as it happened, for the run's record and the log check.
#[derive(Debug, Clone)]
pub struct Fault {
    pub at_s: f64,
    pub what: String,
}

/// The namespace that holds veth end `v`.
fn veth_ns(net: &Net, v: &str) -> String {
    net.nodes
        .iter()
        .find(|n| n.ifaces.iter().any(|i| i == v))
        .map(|n| n.ns.clone())
        .expect("veth owner")
}

pub fn set_link(net: &Net, i: usize, up: bool) {
    let (va, vb) = net.veths[i].clone();
    for v in [va, vb] {
        let ns = veth_ns(net, &v);
        sh(&[
            "ip",
            "-n",
            &ns,
            "link",
            "set",
            &v,
            if up { "up" } else { "down" },
        ]);
    }
}

/// A burst of random loss on link `i` (both ends, on receive, as the
/// harness's static loss), or its end: a table of its own so the end
/// removes exactly the burst.
pub fn set_loss_burst(net: &Net, i: usize, pct: Option<u32>) {
    let (va, vb) = net.veths[i].clone();
    for v in [va, vb] {
        let ns = veth_ns(net, &v);
        let nft = |rule: &str| {
            let _ = Command::new("ip")
                .args(["netns", "exec", &ns, "nft", rule])
                .output();
        };
        match pct {
            Some(p) => {
                nft("add table inet chaos");
                nft(
                    "add chain inet chaos input { type filter hook input priority 0 ; policy accept ; }",
                );
                nft(&format!(
                    "add rule inet chaos input iifname \"{v}\" numgen random mod 100 < {p} drop"
                ));
            }
            None => nft("delete table inet chaos"),
        }
    }
}

/// A tmpfs mounted over a node's data dir (its key copied in); unmounted
/// on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn over(dir: &Path, size: &str) -> Tmpfs {
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

    /// Zeros until nothing fits; the bytes written.
    pub fn fill(&self) -> u64 {
        let mut f = std::fs::File::create(self.0.join("fill")).expect("fill");
        let block = vec![0u8; 4096];
        let mut n = 0;
        while f.write_all(&block).is_ok() {
            n += 4096;
        }
        while f.write_all(&[0]).is_ok() {
            n += 1;
        }
        n
    }

    pub fn free(&self) {
        let _ = std::fs::remove_file(self.0.join("fill"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Resident memory (KiB) and open descriptors of a process.
pub fn proc_sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// Relayed packets of a node so far (unicast forwards, flood relays,
/// voice relays), from `status --json`.
pub fn relayed(cli: &Cli, node: &str) -> Option<u64> {
    let v = cli.json(node, &["status", "--json"])?;
    let s = &v["stats"];
    Some(s["forwarded"].as_u64()? + s["flood_relayed"].as_u64()? + s["voice_relayed"].as_u64()?)
}

/// Texts between changing pairs, one every 2-4 s.
pub fn text_loop(
    cli: Cli,
    names: Vec<String>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    l: Arc<Mutex<Ledger>>,
) {
    let mut k = 0u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(rng.secs(2.0, 4.0));
        let from = rng.pick(&names).expect("nodes").clone();
        let to = loop {
            let t = rng.pick(&names).expect("nodes");
            if *t != from {
                break t.clone();
            }
        };
        k += 1;
        let text = format!("chaos {k} {from} to {to}");
        let asked_ms = unix_ms();
        let (ok, out) = cli.run(&from, &["msg", &to, &text, "--json"]);
        let id = ok
            .then(|| serde_json::from_str::<serde_json::Value>(&out).ok())
            .flatten()
            .and_then(|v| v["id"].as_str().map(str::to_string));
        let refusal = id.is_none().then(|| out.trim().replace('\n', " | "));
        l.lock()
            .unwrap_or_else(|e| e.into_inner())
            .texts
            .push(Text {
                from,
                to,
                id,
                refusal,
                asked_ms,
            });
    }
}

/// PTT bursts on one talkgroup: a random member presses for 1.5 s, every
/// 2-6 s.
pub fn ptt_loop(
    cli: Cli,
    tg: &'static str,
    members: &'static [&'static str],
    tone: PathBuf,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    l: Arc<Mutex<Ledger>>,
) {
    let wav = tone.display().to_string();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(rng.secs(2.0, 6.0));
        let node = rng.pick(members).expect("members").to_string();
        let at_ms = unix_ms();
        let (ok, out) = cli.run(
            &node,
            &["ptt", tg, "--wav", &wav, "--duration", "1.5", "--json"],
        );
        let outcome = ptt::outcome(&out);
        l.lock()
            .unwrap_or_else(|e| e.into_inner())
            .presses
            .push(Press {
                node,
                tg,
                at_ms,
                granted: ok && ptt::access_ms(&out).is_some(),
                outcome,
            });
    }
}

/// Three pings between a random pair every 2 s or so.
pub fn ping_loop(
    cli: Cli,
    names: Vec<String>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    l: Arc<Mutex<Ledger>>,
) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(rng.secs(1.0, 3.0));
        let from = rng.pick(&names).expect("nodes").clone();
        let to = rng.pick(&names).expect("nodes").clone();
        if from == to {
            continue;
        }
        let (_, out) = cli.run(
            &from,
            &["ping", &to, "-c", "3", "-i", "0.2", "-W", "1", "--json"],
        );
        let replies = out.matches("\"type\":\"reply\"").count() as u64;
        let mut g = l.lock().unwrap_or_else(|e| e.into_inner());
        g.pings_sent += 3;
        g.pings_answered += replies.min(3);
    }
}

/// The rows of `node`'s incident log since `since_s`, all kinds.
pub fn log_rows(cli: &Cli, node: &str, since_s: u64) -> Vec<serde_json::Value> {
    cli.json_retry(node, &["log", "--json", "--since", &since_s.to_string()])
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}
