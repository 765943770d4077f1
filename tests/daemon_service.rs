//! The daemon as a service and its clients, on loopback (no root, no
//! namespaces): readiness over $NOTIFY_SOCKET, SIGHUP reloading names and
//! talkgroups from the config, the clients finding the daemon through
//! CALLSIGN_API or the config file, `callsign events` following the
//! stream, positions from a scripted gpsd, and the API refusing requests
//! without its token or from a foreign Host or Origin, bodies that are
//! too large or malformed, and event streams beyond its cap.

// A test driver: real clocks, processes and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod daemon_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon_common::{bin, free_port};

/// A daemon on loopback with its own data dir; killed on drop.
struct Daemon {
    dir: PathBuf,
    api: String,
    child: Child,
}

impl Daemon {
    fn start(tag: &str, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = std::env::temp_dir().join(format!("callsign-svc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        Daemon::start_in(dir, extra, env)
    }

    fn start_in(dir: PathBuf, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let api = format!("127.0.0.1:{}", free_port());
        let mut c = Command::new(bin());
        c.args(["up", "--no-sip", "--api", &api, "--log", "info"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(extra)
            .env("CALLSIGN_CONFIG", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("up.log")).expect("log"));
        for (k, v) in env {
            c.env(k, v);
        }
        let child = c.spawn().expect("spawn callsign up");
        let d = Daemon { dir, api, child };
        let up = wait(Duration::from_secs(10), || d.cli(&["status", "--json"]).0);
        assert!(up, "the daemon did not answer: {}", d.log());
        d
    }

    fn cli(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(bin())
            .args(args)
            .env("CALLSIGN_API", &self.api)
            .env("CALLSIGN_CONFIG", "/dev/null")
            .env("CALLSIGN_DATA_DIR", self.dir.join("data"))
            .output()
            .expect("run callsign");
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), s)
    }

    fn json(&self, what: &str) -> serde_json::Value {
        let (ok, out) = self.cli(&[what, "--json"]);
        assert!(ok, "{what}: {out}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("up.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn ready_is_notified_over_the_notify_socket() {
    use std::os::unix::net::UnixDatagram;
    let dir = std::env::temp_dir().join(format!("callsign-svc-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let sock = dir.join("notify.sock");
    let rx = UnixDatagram::bind(&sock).expect("bind");
    rx.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let d = Daemon::start_in(
        dir,
        &[],
        &[("NOTIFY_SOCKET", sock.to_str().expect("utf-8"))],
    );
    let mut buf = [0u8; 256];
    let n = rx.recv(&mut buf).expect("a notification within 10 s");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.starts_with("READY=1\n"), "{msg}");
    // SIGHUP: reloading, then ready again.
    Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .expect("kill");
    let n = rx.recv(&mut buf).expect("RELOADING");
    assert_eq!(&buf[..n], b"RELOADING=1");
    let n = rx.recv(&mut buf).expect("READY");
    assert_eq!(&buf[..n], b"READY=1");
}

#[test]
fn sighup_reloads_names_and_talkgroups() {
    let dir = std::env::temp_dir().join(format!("callsign-svc-hup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("callsign.toml");
    std::fs::write(&cfg, "names = [\"engine-3\"]\n").expect("config");
    let d = Daemon::start_in(dir, &["--config", cfg.to_str().expect("utf-8")], &[]);
    assert!(
        wait(Duration::from_secs(5), || d.json("status")["names"]
            == serde_json::json!(["engine-3"])),
        "{}",
        d.json("status")
    );
    std::fs::write(
        &cfg,
        "names = [\"medic-12\"]\ntalkgroups = [\"fireground-1\"]\nport = 7999\n",
    )
    .expect("config");
    Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .expect("kill");
    let ok = wait(Duration::from_secs(5), || {
        d.json("status")["names"] == serde_json::json!(["medic-12"])
            && d.json("talkgroups").to_string().contains("fireground-1")
    });
    assert!(
        ok,
        "{} {}\n{}",
        d.json("status"),
        d.json("talkgroups"),
        d.log()
    );
    let log = d.log();
    assert!(log.contains("SIGHUP: config reloaded"), "{log}");
    assert!(
        log.contains("need a restart") && log.contains("port"),
        "{log}"
    );
    // A broken config is refused and the running one kept.
    std::fs::write(&cfg, "names = [\n").expect("config");
    Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(
        wait(Duration::from_secs(5), || d
            .log()
            .contains("config refused")),
        "{}",
        d.log()
    );
    assert_eq!(d.json("status")["names"], serde_json::json!(["medic-12"]));
}

#[test]
fn clients_find_the_daemon_by_env_or_config_file() {
    let d = Daemon::start("find", &[], &[]);
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(bin());
        c.args(args)
            .env_remove("CALLSIGN_API")
            .env("CALLSIGN_CONFIG", "/dev/null")
            .env("CALLSIGN_DATA_DIR", d.dir.join("data"));
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(run(&[("CALLSIGN_API", &d.api)], &["status"]).0);
    let cfg = d.dir.join("client.toml");
    std::fs::write(&cfg, format!("api = \"{}\"\n", d.api)).expect("config");
    let cfg = cfg.to_str().expect("utf-8");
    assert!(run(&[("CALLSIGN_CONFIG", cfg)], &["status"]).0);
    assert!(run(&[], &["status", "--config", cfg]).0);
    // --api wins over the environment.
    let (ok, err) = run(
        &[("CALLSIGN_API", &d.api)],
        &["status", "--api", "127.0.0.1:9"],
    );
    assert!(
        !ok && err.contains("no callsign daemon at 127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn events_follow_the_stream() {
    let d = Daemon::start("events", &[], &[]);
    let mut follower = Command::new(bin())
        .args(["events", "--json", "--count", "1"])
        .env("CALLSIGN_API", &d.api)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", d.dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("events");
    // The follower says when it is connected; then a claim makes an event.
    let mut err = BufReader::new(follower.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("connected line");
    assert!(line.starts_with("following events"), "{line}");
    let (ok, out) = d.cli(&["claim", "ladder-7"]);
    assert!(ok, "{out}");
    let mut text = String::new();
    follower
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("read");
    let status = follower.wait().expect("wait");
    assert!(status.success());
    let ev: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
    assert_eq!(ev["type"], "name_changed", "{text}");
    assert_eq!(ev["name"], "ladder-7", "{text}");
}

/// A scripted gpsd on loopback: the daemon watches it and its throttled
/// fix is served at GET /v1/position.
#[test]
fn gpsd_positions_reach_the_daemon() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let gpsd = l.local_addr().expect("addr").to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(b"{\"class\":\"VERSION\",\"release\":\"3.25\"}\n")
            .expect("greet");
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        let mut watch = String::new();
        r.read_line(&mut watch).expect("watch");
        for lat in ["45.50000", "45.50001"] {
            let tpv = format!(
                "{{\"class\":\"TPV\",\"mode\":3,\"time\":\"2026-03-01T12:00:00.000Z\",\"lat\":{lat},\"lon\":-73.6,\"eph\":6.0}}\n"
            );
            s.write_all(tpv.as_bytes()).expect("tpv");
        }
        std::thread::sleep(Duration::from_secs(3));
        watch
    });
    let d = Daemon::start("gpsd", &["--gpsd", &gpsd], &[]);
    let get = || -> serde_json::Value {
        let mut s = std::net::TcpStream::connect(&d.api).expect("api");
        // The daemon takes only requests that name it in Host and carry
        // its token.
        let token = std::fs::read_to_string(d.dir.join("data/api.token")).expect("token");
        write!(
            s,
            "GET /v1/position HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            d.api,
            token.trim()
        )
        .expect("req");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        serde_json::from_str(body).unwrap_or_default()
    };
    assert!(
        wait(Duration::from_secs(5), || get()["published"] == 1),
        "{}\n{}",
        get(),
        d.log()
    );
    let p = get();
    assert_eq!(p["fix"]["lat"], 45.5);
    assert_eq!(p["fix"]["accuracy_m"], 6.0);
    assert_eq!(p["fix"]["time_s"], 1_772_366_400u64);
    assert_eq!(p["source"], format!("gpsd {gpsd}"));
    // The second fix, a metre away, was not published.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(get()["published"], 1);
    assert_eq!(
        server.join().expect("gpsd"),
        "?WATCH={\"enable\":true,\"json\":true}\n"
    );
}

/// One raw HTTP/1.1 request to `api` with these extra header lines: (status,
/// headers and body as text).
fn raw(api: &str, path: &str, headers: &[String]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(api).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn the_api_wants_its_token_and_its_own_host_while_the_cli_just_works() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start("auth", &[], &[]);
    let file = d.dir.join("data/api.token");
    let mode = std::fs::metadata(&file)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode {mode:o}");
    let token = std::fs::read_to_string(&file).expect("token");
    let token = token.trim();
    assert_eq!(token.len(), 64);
    let host = format!("Host: {}", d.api);
    let bearer = format!("Authorization: Bearer {token}");
    let wrong = format!("Authorization: Bearer {}", "f".repeat(64));

    let (st, body) = raw(&d.api, "/v1/status", &[host.clone(), bearer.clone()]);
    assert_eq!(st, 200, "{body}");
    let (st, body) = raw(&d.api, "/v1/status", std::slice::from_ref(&host));
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("an API token is required"), "{body}");
    let (st, body) = raw(&d.api, "/v1/status", &[host.clone(), wrong]);
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("wrong API token"), "{body}");
    // DNS rebinding: the right token cannot help a foreign Host.
    let (st, body) = raw(
        &d.api,
        "/v1/status",
        &["Host: rebind.example:7480".into(), bearer.clone()],
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("Host does not name this daemon"), "{body}");
    let (st, body) = raw(
        &d.api,
        "/v1/status",
        &[
            host.clone(),
            bearer.clone(),
            "Origin: http://evil.example".into(),
        ],
    );
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("Origin"), "{body}");
    // The token in a page address is traded for a cookie, which then
    // opens the API (and the event stream) to that browser.
    let (st, body) = raw(
        &d.api,
        &format!("/?token={token}"),
        std::slice::from_ref(&host),
    );
    assert_eq!(st, 200, "{body}");
    let cookie = body
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {body}"));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    let (st, body) = raw(
        &d.api,
        "/v1/status",
        &[host.clone(), format!("Cookie: {pair}")],
    );
    assert_eq!(st, 200, "{body}");
    // Never on the API itself.
    let (st, _) = raw(
        &d.api,
        &format!("/v1/status?token={token}"),
        std::slice::from_ref(&host),
    );
    assert_eq!(st, 401);
    // The CLI reads the token itself, and `console` prints it in the address.
    assert!(d.cli(&["status"]).0);
    let (ok, out) = d.cli(&["console"]);
    assert!(ok && out.contains(&format!("/?token={token}")), "{out}");
    // Without it (another data dir), the CLI says what is missing.
    let out = Command::new(bin())
        .args(["status"])
        .env("CALLSIGN_API", &d.api)
        .env("CALLSIGN_CONFIG", "/dev/null")
        .env("CALLSIGN_DATA_DIR", d.dir.join("elsewhere"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("401"), "{err}");
}

/// Raise this process's soft file limit to `want` (or its hard limit,
/// which is returned).
fn raise_file_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    lim.rlim_max
}

/// One raw POST with the token: (status, whole answer).
fn post(d: &Daemon, path: &str, body: &[u8]) -> (u16, String) {
    let token = std::fs::read_to_string(d.dir.join("data/api.token")).expect("token");
    let mut s = std::net::TcpStream::connect(&d.api).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        d.api,
        token.trim(),
        body.len()
    );
    s.write_all(head.as_bytes()).expect("head");
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn the_api_refuses_bad_bodies_and_too_many_event_streams() {
    let d = Daemon::start("abuse", &[], &[]);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(100 * 1024));
    let (st, out) = post(&d, "/v1/claim", big.as_bytes());
    assert_eq!(st, 413, "{out}");
    assert!(out.contains("\"error\"") && out.contains("bytes"), "{out}");
    let (st, out) = post(&d, "/v1/claim", b"{\"name\": ");
    assert_eq!(st, 400, "{out}");
    assert!(out.contains("\"error\""), "{out}");
    let (st, out) = post(&d, "/v1/presence", b"{\"presence\": 7}");
    assert_eq!(st, 400, "{out}");
    assert!(out.contains("\"error\""), "{out}");
    assert_eq!(post(&d, "/v1/claim", b"{\"name\": \"engine-3\"}").0, 200);

    // Event streams up to the cap (1024), then 503; one closing frees a
    // place. This end holds them all too: its soft file limit may be
    // systemd's 1024.
    let hard = raise_file_limit(4096);
    let token = std::fs::read_to_string(d.dir.join("data/api.token")).expect("token");
    let open = || {
        let mut s = std::net::TcpStream::connect(&d.api).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write!(
            s,
            "GET /v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            d.api,
            token.trim()
        )
        .expect("request");
        let mut head = [0u8; 12];
        s.read_exact(&mut head).expect("status line");
        (String::from_utf8_lossy(&head[9..12]).into_owned(), s)
    };
    let mut held = Vec::new();
    loop {
        let (st, s) = open();
        if st != "200" {
            assert_eq!(st, "503");
            break;
        }
        held.push(s);
        assert!(held.len() <= 2048, "no cap on event streams");
    }
    let cap = held.len();
    // All 1024 when the daemon could raise its own limit to 2048 + 128.
    assert!(
        cap == 1024 || (hard < 2176 && cap > 0),
        "{cap} event streams served before the 503"
    );
    held.pop();
    assert!(
        wait(Duration::from_secs(3), || {
            let (st, s) = open();
            let ok = st == "200";
            if ok {
                held.push(s);
            }
            ok
        }),
        "a closed stream did not free its place"
    );
    assert_eq!(held.len(), cap);
    // The CLI is unaffected.
    assert!(d.cli(&["status"]).0);
}
