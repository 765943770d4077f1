//! SIP phones no one here wrote: Debian's baresip, one instance per
//! phone, in a node's namespace, driven through its `ctrl_tcp` module;
//! and `tools/sip_probe.py`, a scripted phone for the failure cases.
//!
//! baresip 1.0 facts the set-up follows: `aufile` is a source only, so the
//! far phone records with `sndfile` (its decoder output, one file per call
//! in `snd_path`); it needs an IPv4 address that is not loopback for its
//! SDP, so each namespace with a phone gets a veth pair of its own
//! (10.200.0.1/24, never a mesh interface); `alsa,null` plays to nowhere;
//! `stdio.so` is not loaded (no TTY).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::harness::{Net, sh, wait_for};

/// The phone's own interface in a namespace (idempotent).
pub fn phone_lan(net: &Net, node: &str) {
    let ns = &net.node(node).ns;
    let out = Command::new("ip")
        .args(["-n", ns, "link", "show", "phlan0"])
        .output()
        .expect("ip");
    if out.status.success() {
        return;
    }
    sh(&[
        "ip", "-n", ns, "link", "add", "phlan0", "type", "veth", "peer", "name", "phlan1",
    ]);
    sh(&[
        "ip",
        "-n",
        ns,
        "addr",
        "add",
        "10.200.0.1/24",
        "dev",
        "phlan0",
    ]);
    sh(&["ip", "-n", ns, "link", "set", "phlan0", "up"]);
    sh(&["ip", "-n", ns, "link", "set", "phlan1", "up"]);
    // baresip reads its addresses once at start: wait for the carrier.
    let up = wait_for(Duration::from_secs(5), || {
        sh(&["ip", "-n", ns, "link", "show", "phlan0"]).contains("LOWER_UP")
    });
    assert!(
        up.is_some(),
        "the phone's interface in {ns} did not come up"
    );
}

pub struct Phone {
    pub name: String,
    ns: String,
    pub dir: PathBuf,
    ctrl: u16,
    child: Child,
}

pub struct PhoneCfg<'a> {
    /// The SIP URI user: the role it registers, or a plain user.
    pub user: &'a str,
    /// Its own SIP port (TLS takes the next one: leave a gap of 10).
    pub port: u16,
    /// Register to the node's daemon at 127.0.0.1:5060 (or, `false`, be
    /// a stand-alone phone at 127.0.0.1:`port` for a direct call).
    pub daemon: bool,
    /// What it sends in calls (16 kHz mono WAV).
    pub wav: &'a Path,
    /// baresip `audio_codecs`, e.g. "opus/48000/2" or "pcmu".
    pub codecs: &'a str,
    pub opus_bitrate: u32,
    pub auto_answer: bool,
    /// Digest password for the registration (`--sip-passwords` there).
    pub password: Option<&'a str>,
    /// SIP over TCP to the daemon (else UDP).
    pub tcp: bool,
}

impl Phone {
    pub fn start(net: &Net, node: &str, name: &str, c: &PhoneCfg<'_>) -> Phone {
        phone_lan(net, node);
        let dir = net.tmp.join(format!("phone-{name}"));
        let rec = dir.join("rec");
        std::fs::create_dir_all(&rec).expect("phone dir");
        let ctrl = c.port + 5;
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{port}\n\
             audio_player alsa,null\n\
             audio_alert alsa,null\n\
             audio_source aufile,{wav}\n\
             ausrc_srate 16000\nausrc_channels 1\n\
             auplay_srate 16000\nauplay_channels 1\n\
             rtcp_mux no\n\
             jitter_buffer_delay 1-10\n\
             module_path /usr/lib/baresip/modules\n\
             module aufile.so\nmodule sndfile.so\nmodule opus.so\nmodule g711.so\nmodule alsa.so\n\
             module_tmp account.so\n\
             module_app menu.so\nmodule_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl}\n\
             opus_bitrate {rate}\nopus_stereo no\nopus_sprop_stereo no\n\
             snd_path {rec}\n",
            port = c.port,
            wav = c.wav.display(),
            rate = c.opus_bitrate,
            rec = rec.display(),
        );
        std::fs::write(dir.join("config"), config).expect("baresip config");
        let mut answer = if c.auto_answer {
            ";answermode=auto"
        } else {
            ""
        }
        .to_string();
        if let Some(p) = c.password {
            answer.push_str(&format!(";auth_pass={p}"));
        }
        let account = if c.daemon {
            format!(
                "<sip:{}@mesh{}>;outbound=\"sip:127.0.0.1:5060{}\";regint=60;audio_codecs={}{answer}\n",
                c.user,
                if c.tcp { ";transport=tcp" } else { "" },
                if c.tcp { ";transport=tcp" } else { "" },
                c.codecs
            )
        } else {
            format!(
                "<sip:{}@127.0.0.1:{}>;regint=0;audio_codecs={}{answer}\n",
                c.user, c.port, c.codecs
            )
        };
        std::fs::write(dir.join("accounts"), account).expect("baresip accounts");
        let ns = net.node(node).ns.clone();
        let log = std::fs::File::create(dir.join("baresip.log")).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, "baresip", "-f"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("baresip (is baresip-core installed? ./run test installs it)");
        let p = Phone {
            name: name.to_string(),
            ns,
            dir,
            ctrl,
            child,
        };
        let up = wait_for(Duration::from_secs(5), || {
            p.command("reginfo", "").is_some()
        });
        assert!(up.is_some(), "baresip {name} did not start: {}", p.log());
        p
    }

    /// A command through `ctrl_tcp` (a netstring of JSON); its response.
    pub fn command(&self, command: &str, params: &str) -> Option<String> {
        let msg =
            serde_json::json!({"command": command, "params": params, "token": "t"}).to_string();
        let script = "import socket,sys\n\
            m=sys.argv[2].encode()\n\
            s=socket.create_connection(('127.0.0.1',int(sys.argv[1])),timeout=2)\n\
            s.sendall(b'%d:%s,'%(len(m),m))\n\
            d=b''\n\
            while not d.endswith(b','):\n\
            \x20   c=s.recv(65536)\n\
            \x20   if not c: break\n\
            \x20   d+=c\n\
            print(d.decode('utf-8','replace'))\n";
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", script])
            .arg(self.ctrl.to_string())
            .arg(msg)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn dial(&self, uri: &str) {
        let r = self.command("dial", uri);
        assert!(r.is_some(), "dial at {}: {}", self.name, self.log());
    }

    pub fn hangup(&self) {
        let _ = self.command("hangup", "");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// Calls established so far.
    pub fn calls(&self) -> usize {
        self.log().matches("Call established").count()
    }

    /// Whether its log says a call is established (the n-th one).
    pub fn established(&self, n: usize) -> bool {
        self.log().matches("Call established").count() >= n
    }

    /// Whether its log says `n` calls ended (a BYE either way).
    pub fn terminated(&self, n: usize) -> bool {
        self.log().matches(" terminated (duration").count() >= n
    }

    /// What it decoded in its newest call, as 16 kHz mono (sox).
    pub fn recording(&self, out: &Path) -> PathBuf {
        let mut decs: Vec<PathBuf> = std::fs::read_dir(self.dir.join("rec"))
            .expect("rec dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        decs.sort();
        let last = decs
            .pop()
            .unwrap_or_else(|| panic!("{} recorded nothing: {}", self.name, self.log()));
        sh(&[
            "sox",
            last.to_str().expect("utf-8"),
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            out.to_str().expect("utf-8"),
        ]);
        // One file per call: the next call's is the only new one.
        let _ = std::fs::remove_file(&last);
        out.to_path_buf()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- baresip {} ---\n{}", self.name, self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tools/sip_probe.py` in `node`'s namespace: its one JSON line.
pub fn probe(net: &Net, node: &str, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("field-tests/tools/sip_probe.py");
    let out = Command::new("ip")
        .args(["netns", "exec", &net.node(node).ns, "python3"])
        .arg(&script)
        .args(args)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sip_probe.py {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}
