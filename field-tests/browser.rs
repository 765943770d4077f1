//! A real browser inside a node's network namespace: Debian's headless
//! `chromium` driven by `chromedriver` (W3C WebDriver), both started in
//! the namespace so the page reaches that node's daemon at
//! 127.0.0.1:7480 exactly as a user's browser would. The test talks to
//! the driver through a Unix socket (`tools/uds_relay.py` relays it to
//! the driver's port inside the namespace). Dropping a [`Browser`] ends
//! the session and kills the driver, the browser and the relay.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub fn available() -> bool {
    ["chromium", "chromedriver"].iter().all(|b| {
        Command::new("which")
            .arg(b)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

pub struct Browser {
    sock: PathBuf,
    session: String,
    driver: Child,
    relay: Child,
    profile: PathBuf,
}

impl Browser {
    /// A headless browser in namespace `ns`, `w`×`h` pixels; `extra`
    /// browser flags (e.g. a fake microphone). Files go under `dir`.
    pub fn start(ns: &str, dir: &Path, tag: &str, w: u32, h: u32, extra: &[&str]) -> Browser {
        let port = 9515 + (std::process::id() % 1000) as u16;
        let sock = dir.join(format!("wd-{tag}.sock"));
        let profile = dir.join(format!("chromium-{tag}"));
        let log = std::fs::File::create(dir.join(format!("chromedriver-{tag}.log"))).expect("log");
        let driver = Command::new("ip")
            .args(["netns", "exec", ns, "chromedriver"])
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn chromedriver");
        let relay_py = Path::new(env!("CARGO_MANIFEST_DIR")).join("field-tests/tools/uds_relay.py");
        let relay = Command::new("ip")
            .args(["netns", "exec", ns, "python3"])
            .arg(&relay_py)
            .arg(&sock)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn relay");
        let mut b = Browser {
            sock,
            session: String::new(),
            driver,
            relay,
            profile: profile.clone(),
        };
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={w},{h}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        // The driver takes a moment to listen.
        let t0 = Instant::now();
        let v = loop {
            match b.try_call("POST", "/session", Some(&caps)) {
                Ok(v) => break v,
                Err(e) if t0.elapsed() > Duration::from_secs(20) => {
                    panic!("no WebDriver session: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        b.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {v}"))
            .to_string();
        b
    }

    fn try_call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut s = UnixStream::connect(&self.sock).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        // The driver keeps the connection open: read by Content-Length
        // (or chunks), not to the end.
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        let body = loop {
            let n = s.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed mid-answer".into());
            }
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).into_owned();
            let Some((head, rest)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let lower = head.to_ascii_lowercase();
            if lower.contains("transfer-encoding: chunked") {
                if rest.contains("\r\n0\r\n") || rest.starts_with("0\r\n") {
                    break dechunk(rest);
                }
                continue;
            }
            let len: usize = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or("no Content-Length")?;
            let head_len = head.len() + 4;
            if raw.len() >= head_len + len {
                break String::from_utf8_lossy(&raw[head_len..head_len + len]).into_owned();
            }
        };
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if v["value"]["error"].is_string() {
            return Err(format!(
                "{}: {}",
                v["value"]["error"], v["value"]["message"]
            ));
        }
        Ok(v)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let p = format!("/session/{}{path}", self.session);
        self.try_call(method, &p, body.as_ref())
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))["value"]
            .clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Run `script` (a function body: `return ...`) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    pub fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    pub fn click(&self, css: &str) {
        let e = self.element(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Press the pointer on `css`, hold `ms`, release: a real press of a
    /// hold-to-talk or hold-for-mayday button.
    pub fn hold(&self, css: &str, ms: u64) {
        self.pointer(css, &[("pointerDown", 0), ("pause", ms), ("pointerUp", 0)]);
    }

    pub fn press(&self, css: &str) {
        self.pointer(css, &[("pointerDown", 0)]);
    }

    pub fn release(&self, css: &str) {
        self.pointer(css, &[("pointerUp", 0)]);
    }

    fn pointer(&self, css: &str, steps: &[(&str, u64)]) {
        let e = self.element(css);
        let mut actions = vec![json!({
            "type": "pointerMove", "duration": 0, "x": 0, "y": 0,
            "origin": { ELEMENT: e }
        })];
        for (kind, ms) in steps {
            actions.push(match *kind {
                "pause" => json!({ "type": "pause", "duration": ms }),
                k => json!({ "type": k, "button": 0 }),
            });
        }
        self.call(
            "POST",
            "/actions",
            Some(json!({ "actions": [{
                "type": "pointer", "id": "finger", "parameters": { "pointerType": "mouse" },
                "actions": actions
            }]})),
        );
    }

    /// Poll `script` (returning a boolean) every 20 ms for up to `limit`;
    /// how long until it held.
    pub fn wait(&self, limit: Duration, script: &str) -> Option<Duration> {
        let t0 = Instant::now();
        loop {
            if self.js(script).as_bool() == Some(true) {
                return Some(t0.elapsed());
            }
            if t0.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A PNG of the whole window.
    pub fn screenshot(&self) -> Vec<u8> {
        let v = self.call("GET", "/screenshot", None);
        base64(v.as_str().expect("screenshot data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let p = format!("/session/{}", self.session);
            let _ = self.try_call("DELETE", &p, None);
        }
        for c in [&mut self.driver, &mut self.relay] {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.sock);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
