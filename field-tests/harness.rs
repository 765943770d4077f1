//! Field-test harness: one network namespace per node, veth pairs for
//! links, nftables random drop for loss, a real `callsign up` in each
//! namespace, checks through the CLI clients. Everything is torn down by
//! `Drop` (also when a check panics); namespaces left by a killed run are
//! removed at the next start (their owner pid is gone).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use callsign::identity::{Identity, NodeId};

/// Every namespace we make starts with this, then the owner pid
/// (`CALLSIGN_FIELD_NS_PREFIX` overrides it, for runs side by side on one
/// host that must not touch each other's namespaces).
fn ns_prefix() -> String {
    std::env::var("CALLSIGN_FIELD_NS_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "csft".into())
}

#[derive(Debug, serde::Deserialize)]
pub struct Link {
    pub a: String,
    pub b: String,
    /// Random loss in percent, applied on receive at both ends.
    #[serde(default)]
    pub loss: u32,
}

#[derive(Debug, serde::Deserialize)]
pub struct Scenario {
    pub name: String,
    pub nodes: Vec<String>,
    #[serde(default)]
    pub base_stations: Vec<String>,
    pub links: Vec<Link>,
}

impl Scenario {
    pub fn load(name: &str) -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("field-tests/scenarios")
            .join(format!("{name}.toml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Random loss of `pct` percent on every link (each direction).
    pub fn set_loss(&mut self, pct: u32) {
        for l in &mut self.links {
            l.loss = pct;
        }
    }

    /// The neighbours `node` has in this scenario.
    pub fn degree(&self, node: &str) -> usize {
        self.links
            .iter()
            .filter(|l| l.a == node || l.b == node)
            .count()
    }

    /// Shortest-path hop counts between every two connected nodes (breadth
    /// first over the links), keyed by (from, to).
    pub fn hops(&self) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for from in &self.nodes {
            let mut seen = BTreeMap::from([(from.clone(), 0u64)]);
            let mut frontier = vec![from.clone()];
            while !frontier.is_empty() {
                let mut next = Vec::new();
                for n in &frontier {
                    let d = seen[n];
                    for l in &self.links {
                        let other = if &l.a == n {
                            &l.b
                        } else if &l.b == n {
                            &l.a
                        } else {
                            continue;
                        };
                        if !seen.contains_key(other) {
                            seen.insert(other.clone(), d + 1);
                            next.push(other.clone());
                        }
                    }
                }
                frontier = next;
            }
            for (to, d) in seen {
                if &to != from {
                    out.insert((from.clone(), to), d);
                }
            }
        }
        out
    }
}

/// Field tests run only when asked (they need root and take a while).
pub fn enabled() -> bool {
    if std::env::var("CALLSIGN_FIELD_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set CALLSIGN_FIELD_TESTS=1 (as root) to run field tests");
        return false;
    }
    true
}

/// One field test at a time: timing figures need the CPU.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh_quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Remove namespaces (and their processes) of runs whose process is gone.
fn remove_stale() {
    let list = sh(&["ip", "netns", "list"]);
    let prefix = ns_prefix();
    for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = ns.strip_prefix(prefix.as_str()) else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            kill_ns(ns);
        }
    }
}

fn kill_ns(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            sh_quiet(&["kill", "-9", pid]);
        }
    }
    sh_quiet(&["ip", "netns", "del", ns]);
}

// The binary and a free port, as the loopback tests have them.
#[path = "../tests/daemon_common/mod.rs"]
mod daemon_common;
// Each test crate uses a part of the harness.
#[allow(unused_imports)]
pub use daemon_common::{bin, free_port};

pub struct Node {
    pub name: String,
    pub ns: String,
    pub id: NodeId,
    pub ifaces: Vec<String>,
    pub dir: PathBuf,
    pub child: Option<Child>,
}

/// A built network. Dropping it kills the daemons and deletes everything.
pub struct Net {
    pub nodes: Vec<Node>,
    pub tmp: PathBuf,
    /// Interface names per link: (a side, b side).
    pub veths: Vec<(String, String)>,
}

impl Net {
    pub fn build(sc: &Scenario) -> Net {
        static RUN: AtomicU32 = AtomicU32::new(0);
        remove_stale();
        let pid = std::process::id();
        let k = RUN.fetch_add(1, Ordering::Relaxed);
        let tmp = std::env::temp_dir().join(format!("callsign-field-{pid}-{k}"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).expect("temp dir");
        let mut net = Net {
            nodes: Vec::new(),
            tmp,
            veths: Vec::new(),
        };
        for (i, name) in sc.nodes.iter().enumerate() {
            let ns = format!("{}{pid}x{k}-{name}", ns_prefix());
            let dir = net.tmp.join(name);
            std::fs::create_dir_all(&dir).expect("node dir");
            // Keys made here so the test knows every node id up front.
            let mut secret = [0u8; 32];
            secret[..8].copy_from_slice(&(pid as u64 * 1000 + i as u64).to_le_bytes());
            secret[8] = k as u8;
            secret[31] = 0x5a;
            let key = dir.join("device.key");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&key)
                .expect("key");
            f.write_all(&secret).expect("key");
            sh(&["chmod", "600", key.to_str().expect("utf-8 path")]);
            let id = Identity::from_secret(&secret).id();
            net.nodes.push(Node {
                name: name.clone(),
                ns: ns.clone(),
                id,
                ifaces: Vec::new(),
                dir,
                child: None,
            });
            sh(&["ip", "netns", "add", &ns]);
            // DAD off before any veth end moves in, or link-local addresses
            // stay tentative for a second or two.
            sh(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        for (i, l) in sc.links.iter().enumerate() {
            let (ia, ib) = (net.index(&l.a), net.index(&l.b));
            let va = format!("v{pid}x{k}l{i}a");
            let vb = format!("v{pid}x{k}l{i}b");
            sh(&[
                "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
            ]);
            for (v, n) in [(&va, ia), (&vb, ib)] {
                let ns = net.nodes[n].ns.clone();
                sh(&["ip", "link", "set", v, "netns", &ns]);
                sh(&["ip", "-n", &ns, "link", "set", v, "up"]);
                net.nodes[n].ifaces.push(v.clone());
                if l.loss > 0 {
                    net.add_loss(n, v, l.loss);
                }
            }
            net.veths.push((va, vb));
        }
        net
    }

    fn add_loss(&self, n: usize, iface: &str, pct: u32) {
        let ns = &self.nodes[n].ns;
        let nft = |rule: &str| sh(&["ip", "netns", "exec", ns, "nft", rule]);
        if !Command::new("ip")
            .args(["netns", "exec", ns, "nft", "list", "table", "inet", "loss"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            nft("add table inet loss");
            nft(
                "add chain inet loss input { type filter hook input priority 0 ; policy accept ; }",
            );
        }
        nft(&format!(
            "add rule inet loss input iifname \"{iface}\" numgen random mod 100 < {pct} drop"
        ));
    }

    pub fn index(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    pub fn node(&self, name: &str) -> &Node {
        &self.nodes[self.index(name)]
    }

    /// Start `callsign up` in every namespace; returns when all are spawned.
    pub fn start_all(&mut self, extra: &[&str]) -> Instant {
        let t0 = Instant::now();
        for i in 0..self.nodes.len() {
            self.start(i, extra);
        }
        t0
    }

    pub fn start(&mut self, i: usize, extra: &[&str]) {
        self.start_env(i, extra, &[]);
    }

    /// [`Net::start`] with environment variables for the daemon (the
    /// test-only wall clock offset). The log is appended to, so a daemon
    /// restarted after a kill keeps its earlier lines.
    pub fn start_env(&mut self, i: usize, extra: &[&str], env: &[(&str, &str)]) {
        let n = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.tmp.join(format!("{}.log", n.name)))
            .expect("log file");
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &n.ns,
            bin(),
            "up",
            "--api",
            "127.0.0.1:7480",
            "--name",
            &n.name,
            "--log",
            "info",
        ]);
        cmd.arg("--data-dir").arg(&n.dir);
        for f in &n.ifaces {
            cmd.args(["--iface", f]);
        }
        cmd.args(extra);
        // Hermetic: never the machine's /etc/callsign/callsign.toml.
        if !extra.contains(&"--config") {
            cmd.env("CALLSIGN_CONFIG", "/dev/null");
        }
        cmd.envs(env.iter().copied());
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        let child = cmd.spawn().expect("spawn callsign up");
        self.nodes[i].child = Some(child);
    }

    /// SIGKILL one daemon: a relay that dies without a word.
    pub fn kill(&mut self, name: &str) {
        let i = self.index(name);
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Send a signal (`"STOP"`, `"CONT"`) to one daemon.
    pub fn signal(&self, name: &str, sig: &str) {
        if let Some(c) = &self.node(name).child {
            sh(&["kill", &format!("-{sig}"), &c.id().to_string()]);
        }
    }

    pub fn alive(&mut self, name: &str) -> bool {
        let i = self.index(name);
        self.nodes[i]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Run the CLI in a node's namespace (on the host for `None`), whatever
    /// its exit: (success, stdout then stderr).
    pub fn run(&self, node: Option<&str>, args: &[&str]) -> (bool, String) {
        let out = match node {
            Some(n) => Command::new("ip")
                .args(["netns", "exec", &self.node(n).ns, bin()])
                .args(args)
                .env("CALLSIGN_CONFIG", "/dev/null")
                .env("CALLSIGN_DATA_DIR", &self.node(n).dir)
                .output(),
            None => Command::new(bin())
                .args(args)
                .env("CALLSIGN_CONFIG", "/dev/null")
                .output(),
        }
        .expect("run the CLI");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// Holders of `name` as `node`'s `callsign whois --json` lists them:
    /// (holder id, hops). Empty when the name does not resolve.
    pub fn whois(&self, node: &str, name: &str) -> Vec<(String, Option<u64>)> {
        let Some(out) = self.cli(node, &["whois", name, "--json"]) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r["holder"].as_str().unwrap_or_default().to_string(),
                            r["hops"].as_u64(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The holder ids of `name` at `node`.
    pub fn holders(&self, node: &str, name: &str) -> Vec<String> {
        self.whois(node, name).into_iter().map(|h| h.0).collect()
    }

    /// The daemon's API token (the CLI reads it itself; raw HTTP needs it).
    pub fn token(&self, name: &str) -> String {
        std::fs::read_to_string(self.node(name).dir.join("api.token"))
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    }

    /// Run the CLI in a node's namespace; stdout on success.
    pub fn cli(&self, name: &str, args: &[&str]) -> Option<String> {
        let n = self.node(name);
        let out = Command::new("ip")
            .args(["netns", "exec", &n.ns, bin()])
            .args(args)
            .env("CALLSIGN_CONFIG", "/dev/null")
            // The CLI finds the daemon's API token there.
            .env("CALLSIGN_DATA_DIR", &n.dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn json(&self, name: &str, what: &str) -> Option<serde_json::Value> {
        serde_json::from_str(&self.cli(name, &[what, "--json"])?).ok()
    }

    /// Destination id -> (next hop, hops) from `callsign routes --json`.
    pub fn routes(&self, name: &str) -> BTreeMap<NodeId, (NodeId, u64)> {
        let mut out = BTreeMap::new();
        let Some(serde_json::Value::Array(rs)) = self.json(name, "routes") else {
            return out;
        };
        for r in rs {
            let dest = r["dest"].as_str().and_then(|s| s.parse().ok());
            let nh = r["next_hop"].as_str().and_then(|s| s.parse().ok());
            if let (Some(d), Some(nh), Some(h)) = (dest, nh, r["hops"].as_u64()) {
                out.insert(d, (nh, h));
            }
        }
        out
    }

    /// Whether every listed node has a route to every other listed node.
    pub fn full_mesh(&self, names: &[&str]) -> bool {
        names.iter().all(|a| {
            let rs = self.routes(a);
            names
                .iter()
                .filter(|b| *b != a)
                .all(|b| rs.contains_key(&self.node(b).id))
        })
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.tmp.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                // SIGTERM first: exercises the clean shutdown path.
                sh_quiet(&["kill", "-TERM", &c.id().to_string()]);
                let deadline = Instant::now() + Duration::from_secs(2);
                while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                eprintln!("--- log of {} ---\n{}", n.name, self.log(&n.name));
            }
        }
        for n in &self.nodes {
            kill_ns(&n.ns);
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Poll `f` every 50 ms until it holds or `limit` passes; the time it took.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("FIGURE {name}={value}");
}

/// Run `f` on a thread that has entered network namespace `ns`: sockets
/// it opens belong to that namespace (and stay there wherever they are
/// used after), so a test can listen inside a node's namespace.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on this thread only; the fd is open for the call.
        let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("thread in namespace")
}
