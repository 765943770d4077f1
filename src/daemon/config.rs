//! The daemon's configuration: the TOML file, the radio profile, and how
//! command-line flags override both.
//!
//! [`FileConfig`] is the reference for `--config FILE`; every `callsign up`
//! flag has a key of the same name (dashes become underscores). See
//! `examples/callsign.toml`. Without `--config` (or `CALLSIGN_CONFIG`) the
//! daemon and the clients read [`DEFAULT_CONFIG`] when it exists: that is
//! the file the Debian package installs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::NodeId;
use crate::node::{Config, Timers};

/// The system config file, read when present and no other is named.
pub const DEFAULT_CONFIG: &str = "/etc/callsign/callsign.toml";
/// Where radio profiles are looked up by name, in order; then the shipped ones.
pub const PROFILE_DIRS: &[&str] = &[
    "/etc/callsign/radio-profiles",
    "/usr/share/callsign/radio-profiles",
];
/// The profiles compiled in, so `--iface wlan0=truck-5g` works anywhere.
const BUNDLED_PROFILES: &[(&str, &str)] = &[
    (
        "handset-2g4",
        include_str!("../../radio-profiles/handset-2g4.toml"),
    ),
    (
        "truck-5g",
        include_str!("../../radio-profiles/truck-5g.toml"),
    ),
];

/// The config file to read: the one named (`--config`, `CALLSIGN_CONFIG`),
/// else [`DEFAULT_CONFIG`] when it exists, else none.
pub fn config_path(named: Option<&Path>) -> Option<PathBuf> {
    match named {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.is_file()),
    }
}

/// Overlay UDP port used when neither flag nor file sets one.
pub const DEFAULT_PORT: u16 = 7470;
/// Local HTTP API address used when neither flag nor file sets one.
pub const DEFAULT_API: &str = "127.0.0.1:7480";
/// The SIP front's address when neither flag nor file sets one: the
/// handset's own softphone. Desk phones on a LAN need `--sip 0.0.0.0:5060`.
pub const DEFAULT_SIP: &str = "127.0.0.1:5060";

/// `role = "password"` lines for phone registration (digest auth).
pub fn load_sip_passwords(p: &Path) -> Result<BTreeMap<String, String>, Error> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| format!("cannot read SIP passwords {}: {e}", p.display()))?;
    let map: BTreeMap<String, String> = toml::from_str(&text).map_err(|e| {
        format!(
            "SIP passwords {}: {e}(expected lines of role = \"password\")",
            p.display()
        )
    })?;
    if let Some(bad) = map.keys().find(|r| !crate::names::record::valid_name(r)) {
        return Err(format!("SIP passwords {}: {bad:?} is not a role name", p.display()).into());
    }
    Ok(map)
}
/// Link-local multicast group for beacons. Our own group in the link-local
/// scope (not Babel's ff02::1:6, so callsign and babeld can share a link).
pub const MULTICAST_GROUP: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0xc511, 0x7470);

/// The config file (`--config FILE`). Every field is optional; a flag given
/// on the command line wins over the file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Names (roles, persons) claimed in the directory at start:
    /// `names = ["engine-3"]`.
    pub names: Option<Vec<String>>,
    /// Lease of our directory records, in seconds (refreshed at half;
    /// default 3600). A node that stops stops resolving within it.
    pub name_lease: Option<u64>,
    /// Advertise this node as a base station (a truck).
    pub base_station: Option<bool>,
    /// Interfaces to use, each `NAME` or `NAME=PROFILE` (set up as the
    /// radio profile says, links weighted by its `cost_weight`); empty or
    /// absent = every usable interface but the excluded ones.
    pub iface: Option<Vec<String>>,
    /// Interfaces never to use (`*` and `?` wildcards), e.g. `["eth0",
    /// "wwan*"]`. Without `iface`, container bridges, VPNs and loopback are
    /// left out as well.
    pub exclude_iface: Option<Vec<String>>,
    /// Device key and state.
    pub data_dir: Option<PathBuf>,
    /// Local HTTP API address.
    pub api: Option<SocketAddr>,
    /// Overlay UDP port.
    pub port: Option<u16>,
    /// Radio profile TOML (cost weight, timer overrides).
    pub radio_profile: Option<String>,
    /// Timer preset: "callsign" or "babel-default".
    pub timers: Option<TimerPreset>,
    /// Names of nodes that are not (yet) neighbours: `name = "node id"`.
    /// Until the directory exists, this is how `ping NAME` reaches them.
    pub peers: Option<BTreeMap<String, NodeId>>,
    /// Log filter (tracing `EnvFilter` syntax), e.g. "info" or "callsign=debug".
    pub log: Option<String>,
    /// Enable the benchmark endpoints under /v1/bench (test rigs only).
    pub bench: Option<bool>,
    /// Secured mode: the agency CA certificates of the incident (PEM),
    /// `trust_root = ["/etc/callsign/metro-fire.pem"]`. Any root turns
    /// secured mode on; every device of an incident must list the same.
    pub trust_root: Option<Vec<PathBuf>>,
    /// Secured mode: this device's certificate (PEM, from `callsign ca
    /// issue`), chain included if a sub-CA issued it.
    pub cert: Option<PathBuf>,
    /// Secured mode: a file whose bytes are the incident secret that keys
    /// the packet MAC (with the roots). Without it the key comes from the
    /// roots alone, which are public.
    pub incident_secret_file: Option<PathBuf>,
    pub talkgroups: Option<Vec<String>>,
    /// Open-mode talkgroup passphrases, `["fireground-1=PASSPHRASE"]`
    /// (keep the file private, or use `talkgroup_key_file`).
    pub talkgroup_key: Option<Vec<String>>,
    /// A file of `talkgroup = "passphrase"` lines.
    pub talkgroup_key_file: Option<PathBuf>,
    /// "arq" or "none" (see `callsign up --help`).
    pub voice_protection: Option<String>,
    /// Seconds (1..=600).
    pub ptt_time_limit: Option<u64>,
    /// Minutes between PAR roll calls (1..=240).
    pub par_interval: Option<u64>,
    /// Cursor-on-Target output for TAK clients (see `callsign up --help`).
    pub cot: Option<bool>,
    /// Its multicast group and port, e.g. "239.2.3.1:6969".
    pub cot_addr: Option<std::net::SocketAddrV4>,
    /// Seconds between position rounds (1..=300).
    pub cot_interval: Option<u64>,
    /// The interface it goes out of, e.g. "eth0".
    pub cot_iface: Option<String>,
    /// Disk quota of the audio log in MB (0: none).
    pub audio_log_mb: Option<u64>,
    /// The SIP front's address (UDP and TCP), e.g. "127.0.0.1:5060".
    pub sip: Option<SocketAddr>,
    /// No SIP front.
    pub no_sip: Option<bool>,
    /// TOML file of `role = "password"` for phone registration.
    pub sip_passwords: Option<PathBuf>,
    pub msg_ttl: Option<u64>,
    pub msg_copies: Option<u8>,
    pub msg_rate: Option<f64>,
    pub msg_burst: Option<f64>,
    /// gpsd to take this node's position from, e.g. "127.0.0.1:2947".
    pub gpsd: Option<String>,
    /// Publish a new position only after moving this far (metres).
    pub gps_min_move: Option<f64>,
    /// ... and at most this often (seconds).
    pub gps_interval: Option<u64>,
    /// The speaker's sound card: a device name, "default" or "none".
    pub audio_out: Option<String>,
    /// Also write what the speaker plays to this WAV.
    pub audio_out_wav: Option<PathBuf>,
    /// The microphone of presses and automatically answered calls.
    pub audio_in: Option<String>,
    /// Role patterns whose calls are answered automatically.
    pub auto_answer: Option<Vec<String>>,
    /// A push-to-talk button: "/dev/input/event3:KEY_F13".
    pub ptt_key: Option<String>,
    /// The talkgroup the button talks on (default: the first joined).
    pub ptt_talkgroup: Option<String>,
}

/// Timer presets of the core.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TimerPreset {
    /// Adaptive: fast hellos towards neighbours that carry traffic.
    #[default]
    Callsign,
    /// RFC 8966 defaults, for comparison.
    BabelDefault,
}

/// A radio profile (`--radio-profile`, `--iface IF=PROFILE`). Unknown
/// keys (range and loss model, used by the simulator) are ignored here.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct RadioProfile {
    /// Link cost weight, 256 = neutral, lower = cheaper (a backbone link).
    pub cost_weight: Option<u16>,
    /// Timer overrides on top of the preset, same keys as the core's
    /// `Timers` (durations in milliseconds).
    pub timers: Option<toml::Table>,
    /// How to bring the radio up (see `daemon::radio`).
    pub link: Option<super::radio::LinkSetup>,
}

/// An interface given a profile: what to set up on it.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioIface {
    pub iface: String,
    pub profile: String,
    pub link: Option<super::radio::LinkSetup>,
}

/// Where to take positions from (`--gpsd`).
#[derive(Debug, Clone, PartialEq)]
pub struct GpsdSettings {
    pub addr: String,
    pub min_move_m: f64,
    pub interval: std::time::Duration,
}

/// An `--iface` entry: `NAME` or `NAME=PROFILE`.
pub fn parse_iface(s: &str) -> Result<(String, Option<String>), Error> {
    let (name, profile) = match s.split_once('=') {
        Some((n, p)) => (n.trim(), Some(p.trim())),
        None => (s.trim(), None),
    };
    // IFNAMSIZ is 16 with the NUL; `/` and whitespace are never in a name.
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '\t']) {
        return Err(
            format!("--iface {s:?}: not an interface name (expected IF or IF=PROFILE)").into(),
        );
    }
    if profile == Some("") {
        return Err(format!("--iface {s:?}: empty profile after `=`").into());
    }
    Ok((name.to_string(), profile.map(str::to_string)))
}

/// Everything `callsign up` runs with, after merging flags, file and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub names: Vec<String>,
    pub name_lease: std::time::Duration,
    /// First directory record version: the wall clock in ms at start, so a
    /// restarted daemon's records supersede those of its previous run.
    pub version_base: u64,
    pub base_station: bool,
    /// The `--iface` names (empty: all) and the exclusions.
    pub ifaces: super::ifaces::IfaceSelect,
    pub data_dir: PathBuf,
    pub api: SocketAddr,
    pub port: u16,
    /// Link cost weight of interfaces without one of their own.
    pub cost_weight: u16,
    /// Per-interface weights from `--iface IF=PROFILE`.
    pub iface_weights: BTreeMap<String, u16>,
    /// Interfaces whose radio is set up from a profile at start.
    pub radios: Vec<RadioIface>,
    /// The config file read (for SIGHUP), if any.
    pub config_path: Option<PathBuf>,
    /// Positions from gpsd.
    pub gpsd: Option<GpsdSettings>,
    pub timers: Timers,
    pub peers: BTreeMap<String, NodeId>,
    pub log: String,
    pub bench: bool,
    /// Secured mode when not empty.
    pub trust_roots: Vec<PathBuf>,
    pub cert: Option<PathBuf>,
    pub incident_secret_file: Option<PathBuf>,
    /// Talkgroups joined at start.
    pub talkgroups: Vec<String>,
    /// Keys of the talkgroups private to their members.
    pub talkgroup_keys: Vec<crate::app::group_key::EpochKey>,
    /// Push-to-talk transmit time limit.
    pub ptt_time_limit: std::time::Duration,
    /// Interval of the recurring PAR timer.
    pub par_interval: std::time::Duration,
    /// The Cursor-on-Target output (None: off).
    pub cot: Option<super::cot::CotSettings>,
    /// Disk quota of the audio log in MB (0: none).
    pub audio_log_mb: u64,
    /// The SIP front (None: off).
    pub sip: Option<SocketAddr>,
    /// The address was asked for: failing to bind it stops the daemon
    /// (the default's failure is only logged).
    pub sip_explicit: bool,
    /// Role -> password for phone registration (empty: none asked).
    pub sip_passwords: BTreeMap<String, String>,
    /// Store-and-forward messages: lifetime, copies, quotas, rate.
    pub msg_config: crate::msg::MsgConfig,
    /// The speaker's sound card (None: none) and WAV copy.
    pub audio_out: Option<String>,
    pub audio_out_wav: Option<PathBuf>,
    /// The microphone of presses without a source of their own.
    pub audio_in: Option<String>,
    /// Role patterns answered automatically.
    pub auto_answer: Vec<String>,
    /// The push-to-talk button and the talkgroup it talks on.
    pub ptt_key: Option<(super::ptt_key::KeySpec, String)>,
}

impl Settings {
    /// The link cost weight of interface `name`: its profile's, else the
    /// node-wide one.
    pub fn cost_weight_for(&self, name: &str) -> u16 {
        self.iface_weights
            .get(name)
            .copied()
            .unwrap_or(self.cost_weight)
    }

    pub fn node_config(&self) -> Config {
        Config {
            timers: self.timers.clone(),
            base_station: self.base_station,
            names: self.names.clone(),
            names_config: crate::names::NamesConfig {
                lease: self.name_lease,
                // Versions must grow across restarts: a restarted daemon's
                // records have to supersede its previous life's.
                version_base: self.version_base,
                ..crate::node::names_config()
            },
            msg_config: self.msg_config.clone(),
        }
    }
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub fn load_file(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("bad config {}: {e}", path.display()).into())
}

/// A radio profile by name (looked up in [`PROFILE_DIRS`], then the shipped
/// ones) or by path (anything with a `/` or ending in `.toml`). Returns
/// where it came from and the profile.
pub fn load_radio_profile(name_or_path: &str) -> Result<(String, RadioProfile), Error> {
    let parse = |text: &str, from: &str| -> Result<RadioProfile, Error> {
        let p: RadioProfile =
            toml::from_str(text).map_err(|e| format!("bad radio profile {from}: {e}"))?;
        if p.cost_weight == Some(0) {
            return Err(format!("radio profile {from}: cost_weight must be at least 1").into());
        }
        Ok(p)
    };
    let read = |path: &Path| -> Result<(String, RadioProfile), Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read radio profile {}: {e}", path.display()))?;
        let from = path.display().to_string();
        Ok((from.clone(), parse(&text, &from)?))
    };
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        return read(Path::new(name_or_path));
    }
    for dir in PROFILE_DIRS {
        let p = Path::new(dir).join(format!("{name_or_path}.toml"));
        if p.is_file() {
            return read(&p);
        }
    }
    match BUNDLED_PROFILES.iter().find(|(n, _)| *n == name_or_path) {
        Some((n, text)) => Ok((format!("{n} (shipped)"), parse(text, n)?)),
        None => Err(format!(
            "no radio profile {name_or_path:?}: not in {} and not shipped ({}); or give a .toml path",
            PROFILE_DIRS.join(", "),
            BUNDLED_PROFILES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )
        .into()),
    }
}

/// The preset with the profile's overrides applied key by key.
pub fn timers_with(preset: TimerPreset, overrides: Option<&toml::Table>) -> Result<Timers, Error> {
    let base = match preset {
        TimerPreset::Callsign => Timers::callsign(),
        TimerPreset::BabelDefault => Timers::babel_default(),
    };
    let Some(over) = overrides else {
        return Ok(base);
    };
    let mut table = toml::Table::try_from(&base)?;
    for (k, v) in over {
        if !table.contains_key(k) {
            return Err(format!("unknown timer `{k}` in radio profile").into());
        }
        table.insert(k.clone(), v.clone());
    }
    Ok(table.try_into()?)
}

/// Default data directory: $XDG_DATA_HOME/callsign, ~/.local/share/callsign,
/// or /var/lib/callsign when running as root.
pub fn default_data_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/callsign");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("callsign");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/callsign"),
        None => PathBuf::from("callsign-data"),
    }
}

/// Parse `NAME=NODEID` from `--peer`.
pub fn parse_peer(s: &str) -> Result<(String, NodeId), String> {
    let (name, id) = s.split_once('=').ok_or("expected NAME=NODEID")?;
    let id = id.parse::<NodeId>().map_err(|e| e.to_string())?;
    Ok((name.to_string(), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../examples/callsign.toml");
        let c: FileConfig = toml::from_str(text).expect("example config");
        assert_eq!(c.port, Some(DEFAULT_PORT));
        assert_eq!(c.timers, Some(TimerPreset::Callsign));
    }

    #[test]
    fn sound_and_ptt_keys_parse() {
        let c: FileConfig = toml::from_str(
            "audio_out = \"none\"\naudio_in = \"default\"\naudio_out_wav = \"/tmp/s.wav\"\n\
             auto_answer = [\"command\"]\nptt_key = \"/dev/input/event3:KEY_F13\"\n\
             ptt_talkgroup = \"fireground-1\"\n",
        )
        .expect("config");
        assert_eq!(c.auto_answer, Some(vec!["command".to_string()]));
        assert_eq!(c.ptt_key.as_deref(), Some("/dev/input/event3:KEY_F13"));
    }

    #[test]
    fn talkgroup_key_settings_parse() {
        let c: FileConfig = toml::from_str(
            "talkgroup_key = [\"command-1=four words\"]\n\
             talkgroup_key_file = \"/etc/callsign/talkgroup-keys.toml\"\n",
        )
        .expect("config");
        assert_eq!(
            c.talkgroup_key,
            Some(vec!["command-1=four words".to_string()])
        );
        assert_eq!(
            c.talkgroup_key_file.as_deref(),
            Some(Path::new("/etc/callsign/talkgroup-keys.toml"))
        );
    }

    #[test]
    fn sip_passwords_file() {
        let dir = std::env::temp_dir().join(format!("callsign-sippw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("good.toml");
        std::fs::write(&good, "\"medic-12\" = \"s3cret\"\ncommand = \"x\"\n").expect("write");
        let m = load_sip_passwords(&good).expect("passwords");
        assert_eq!(m.get("medic-12").map(String::as_str), Some("s3cret"));
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "\"Not A Role\" = \"x\"\n").expect("write");
        let e = load_sip_passwords(&bad).expect_err("bad role");
        assert!(e.to_string().contains("not a role name"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn shipped_profiles_set_up_their_radios() {
        let (_, h) = load_radio_profile("handset-2g4").expect("handset");
        let link = h.link.expect("handset [link]");
        assert_eq!(link.mode, super::super::radio::Mode::Ibss);
        assert_eq!(link.freq_mhz, Some(2437));
        let (_, t) = load_radio_profile("truck-5g").expect("truck");
        assert_eq!(t.cost_weight, Some(128));
        assert_eq!(t.link.expect("truck [link]").freq_mhz, Some(5180));
        assert!(load_radio_profile("truck-9g").is_err());
    }

    #[test]
    fn iface_entries() {
        assert_eq!(parse_iface("wlan0").expect("plain"), ("wlan0".into(), None));
        assert_eq!(
            parse_iface("wlan0=truck-5g").expect("profile"),
            ("wlan0".into(), Some("truck-5g".into()))
        );
        assert!(parse_iface("=x").is_err());
        assert!(parse_iface("wlan0=").is_err());
        assert!(parse_iface("a-very-long-interface-name").is_err());
    }

    #[test]
    fn profile_overrides_timers() {
        let p: RadioProfile =
            toml::from_str("cost_weight = 128\nchannel = 36\n[timers]\nhello_idle = 500\n")
                .expect("profile");
        let t = timers_with(TimerPreset::Callsign, p.timers.as_ref()).expect("timers");
        assert_eq!(t.hello_idle, std::time::Duration::from_millis(500));
        assert_eq!(t.hello_startup, Timers::callsign().hello_startup);
        let bad: toml::Table = toml::from_str("helo_idle = 5").expect("table");
        assert!(timers_with(TimerPreset::Callsign, Some(&bad)).is_err());
    }
}
