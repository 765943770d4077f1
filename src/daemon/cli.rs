//! The subcommands that run the daemon or talk to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::config::{self, TimerPreset};
pub use super::settings::settings;
use super::{client, msg_client, names_client, voice_client};
use crate::identity::NodeId;

#[derive(Subcommand, Debug)]
pub enum NetCommand {
    /// Join the mesh: run the daemon on every usable interface.
    Up(Box<UpArgs>),
    /// This node: id, names, interfaces, neighbour and route counts, uptime.
    Status(ClientArgs),
    /// Each neighbour: id, names, interface, address, ETX, last heard.
    #[command(alias = "neighbours")]
    Neighbors(ClientArgs),
    /// Each destination: id, names, next hop, metric, hop count, base station.
    Routes(ClientArgs),
    /// Overlay echo across the mesh: hop count and round-trip time per reply.
    Ping(PingArgs),
    /// The directory: every name, its holders, presence, lease.
    Names(ClientArgs),
    /// Who holds NAME: each holder with hop count, next hop, presence.
    Whois(WhoisArgs),
    /// Claim a name (role, person, talkgroup) for this node.
    Claim(ClaimArgs),
    /// Give up a name this node holds.
    Release(NameArgs),
    /// Hand an exclusive role this node holds to another node.
    Handover(HandoverArgs),
    /// Set this node's presence: available, busy, emergency, off-duty.
    Presence(PresenceArgs),
    /// Call the holders of a name (all ring; the first to answer gets the call).
    Call(CallArgs),
    /// Answer the ringing call.
    Answer(AnswerArgs),
    /// End a call (or stop ringing, or decline).
    Hangup(HangupArgs),
    /// Calls in progress and recently ended, with their audio figures.
    Calls(ClientArgs),
    /// Push to talk on a talkgroup: wait for the permit, send, release
    /// (--hold: while Space is held in this terminal).
    Ptt(PttArgs),
    /// Join a talkgroup and show who talks (record with --record).
    Listen(ListenArgs),
    /// Talkgroups this node is in: talker, floor state, access times.
    Talkgroups(ClientArgs),
    /// Emergency: pre-empt the floor on every talkgroup and flag this node
    /// (presence emergency, position) in the directory.
    Mayday(MaydayArgs),
    /// PAR roll calls: `par start` (the commander), `par ack` (a member
    /// reports), `par status`.
    #[command(subcommand)]
    Par(super::console_client::ParCommand),
    /// Where the incident commander's console and the handset page are
    /// (served by the daemon on its API address; open it in a browser).
    Console(ClientArgs),
    /// Send a text message to every holder of a name (or --talkgroup
    /// member); stored and forwarded until delivered or expired.
    Msg(MsgArgs),
    /// Messages received, in each sender's order (--follow: as they come).
    Inbox(InboxArgs),
    /// Messages sent, each with its state: queued, forwarded, delivered N of M, expired.
    Outbox(ClientArgs),
    /// The incident log: joins and leaves, roles, calls, PTT bursts,
    /// maydays, messages (--csv: the spreadsheet export).
    Log(LogArgs),
    /// This device's public key and node id (--qr: as a QR code), for
    /// `callsign ca issue --node-pub`.
    Id(super::enrol::IdArgs),
    /// Enrolment without moving the secret key: `enrol request` writes a
    /// signed request for the station, `enrol install` takes the
    /// certificate that comes back.
    #[command(subcommand)]
    Enrol(super::enrol::EnrolCommand),
    /// Secured mode: put a revocation (`callsign ca revoke`) into the
    /// mesh (`revoke add FILE`), or list the devices revoked here.
    #[command(subcommand)]
    Revoke(super::revocations::RevokeCommand),
    /// Follow what happens: incoming calls (with a bell), maydays (in red),
    /// PAR requests, messages, neighbours; --json for scripts.
    Events(super::events::EventsArgs),
    /// Sound cards: `callsign audio devices` lists them.
    #[command(subcommand)]
    Audio(AudioCommand),
    /// Radio set-up from profiles: `radio plan` prints the iw commands for
    /// `--iface wlan0=truck-5g`, `radio apply` runs them.
    #[command(subcommand)]
    Radio(super::radio_run::RadioCommand),
    /// Benchmark traffic (needs a daemon started with --bench).
    #[command(hide = true, subcommand)]
    Bench(BenchCommand),
}

/// Flags of `callsign up`. Each has a key of the same name in the config file.
#[derive(Args, Debug, Default, Clone)]
pub struct UpArgs {
    /// Config file (TOML); flags override it. See examples/callsign.toml
    /// [default: /etc/callsign/callsign.toml when present].
    #[arg(long, value_name = "FILE", env = "CALLSIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// A name or role to claim in the directory (repeatable), e.g. engine-3.
    #[arg(long = "name", value_name = "ROLE")]
    pub names: Vec<String>,
    /// Lease of this node's directory records in seconds [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub name_lease: Option<u64>,
    /// Advertise this node as a base station (truck).
    #[arg(long)]
    pub base_station: bool,
    /// Use only this interface (repeatable; default: every usable one but
    /// the excluded). `IF=PROFILE` also brings the radio into the profile's
    /// mode (IBSS, 802.11s mesh, ...) and weights its links by the
    /// profile's cost: `--iface wlan0=truck-5g --iface wlan1=handset-2g4`.
    /// `callsign radio plan` shows the commands first.
    #[arg(long = "iface", value_name = "IF[=PROFILE]")]
    pub ifaces: Vec<String>,
    /// Never use this interface (repeatable; `*` and `?` wildcards, e.g.
    /// `wwan*`). Without --iface, loopback, container bridges (docker*,
    /// br-*, veth*, virbr*) and VPNs (tun*, tap*, wg*) are left out too.
    #[arg(long = "exclude-iface", value_name = "PATTERN")]
    pub exclude_ifaces: Vec<String>,
    /// Device key, API token and state [default: $XDG_DATA_HOME/callsign,
    /// /var/lib/callsign as root].
    #[arg(long, value_name = "DIR", env = "CALLSIGN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Local HTTP API address [default: 127.0.0.1:7480].
    #[arg(long, value_name = "ADDR")]
    pub api: Option<SocketAddr>,
    /// Overlay UDP port [default: 7470].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Radio profile for every interface without one of its own (a name
    /// or a .toml path): link cost weight and timer overrides.
    #[arg(long, value_name = "PROFILE")]
    pub radio_profile: Option<String>,
    /// Timer preset [default: callsign].
    #[arg(long, value_enum)]
    pub timers: Option<TimerPreset>,
    /// Name a node that is not a neighbour: NAME=NODEID (repeatable).
    #[arg(long = "peer", value_name = "NAME=NODEID", value_parser = config::parse_peer)]
    pub peers: Vec<(String, NodeId)>,
    /// If the message store cannot be used (damaged, or not a callsign
    /// store), rename it to callsign.db.corrupt-TIME and start an empty one.
    #[arg(long)]
    pub move_aside_corrupt_store: bool,
    /// Log filter, e.g. info or callsign=debug [default: info; RUST_LOG wins].
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Enable the /v1/bench endpoints (test rigs).
    #[arg(long, hide = true)]
    pub bench: bool,
    /// Secured mode: trust this agency CA (PEM; repeatable under mutual
    /// aid). Every device of the incident must list the same roots.
    #[arg(long = "trust-root", value_name = "CA.pem")]
    pub trust_roots: Vec<PathBuf>,
    /// Secured mode: this device's certificate (from `callsign ca issue`).
    #[arg(long, value_name = "CERT.pem")]
    pub cert: Option<PathBuf>,
    /// Secured mode: the incident secret keying the packet MAC.
    #[arg(long, value_name = "FILE")]
    pub incident_secret_file: Option<PathBuf>,
    /// Mesh protection of call audio: arq (hop-by-hop retransmission
    /// within a 40 ms deadline) or none (the baseline) [default: arq].
    #[arg(long, value_name = "MODE", value_parser = ["arq", "none"])]
    pub voice_protection: Option<String>,
    /// Push-to-talk transmit time limit in seconds [default: 30].
    #[arg(long, value_name = "S")]
    pub ptt_time_limit: Option<u64>,
    /// Interval of the recurring PAR roll-call timer in minutes
    /// (1..=240) [default: 20].
    #[arg(long, value_name = "MIN")]
    pub par_interval: Option<u64>,
    /// Cursor-on-Target output for ATAK and other TAK clients: every
    /// --cot-interval, one position report (type a-f-G-U-C, callsign =
    /// role) per directory member with a known position, and a mayday at
    /// once as a 911 alert (b-a-o-tbl); UDP multicast, TTL 1, at most 20
    /// packets a second.
    #[arg(long)]
    pub cot: bool,
    /// Where the CoT output goes [default: 239.2.3.1:6969, TAK's SA group].
    #[arg(long, value_name = "ADDR:PORT")]
    pub cot_addr: Option<std::net::SocketAddrV4>,
    /// Seconds between CoT position rounds (1..=300); a report is stale
    /// three intervals after it is sent [default: 10].
    #[arg(long, value_name = "S")]
    pub cot_interval: Option<u64>,
    /// Send the CoT output out of this interface (the command post's LAN,
    /// e.g. eth0; it needs an IPv4 address) [default: where the routing
    /// table sends the group].
    #[arg(long, value_name = "IF")]
    pub cot_iface: Option<String>,
    /// Disk quota of the audio log (every talkgroup burst heard, as WAV
    /// under the data dir's audio/), in MB; the oldest bursts go first;
    /// 0 records nothing [default: 512].
    #[arg(long, value_name = "MB")]
    pub audio_log_mb: Option<u64>,
    /// A talkgroup to join at start (repeatable), e.g. fireground-1.
    #[arg(long = "talkgroup", value_name = "TG")]
    pub talkgroups: Vec<String>,
    /// Make a talkgroup private to those given its passphrase (repeatable):
    /// its voice, floor messages and loss reports are encrypted and
    /// authenticated with a key stretched from it (PBKDF2), and packets
    /// without that key are refused. Every member must give the same one.
    /// Visible in `ps`: prefer --talkgroup-key-file.
    #[arg(long = "talkgroup-key", value_name = "TG=PASSPHRASE")]
    pub talkgroup_keys: Vec<String>,
    /// Talkgroup passphrases from a file of `TG = "passphrase"` lines
    /// (TOML; keep it readable by the daemon only).
    #[arg(long, value_name = "FILE")]
    pub talkgroup_key_file: Option<PathBuf>,
    /// SIP phones register here (UDP and TCP) as sip:ROLE@mesh and call
    /// roles by name [default: 127.0.0.1:5060; 0.0.0.0:5060 for desk
    /// phones on the LAN, with --sip-passwords].
    #[arg(long, value_name = "ADDR", conflicts_with = "no_sip")]
    pub sip: Option<SocketAddr>,
    /// No SIP front.
    #[arg(long)]
    pub no_sip: bool,
    /// Phones must prove a password to register a role (digest): a TOML
    /// file of `role = "password"` lines. Roles not in it are refused.
    #[arg(long, value_name = "FILE")]
    pub sip_passwords: Option<PathBuf>,
    /// Lifetime of a message in seconds [default: 86400].
    #[arg(long, value_name = "SECS")]
    pub msg_ttl: Option<u64>,
    /// Copies of a message custodians may carry, the sender's included [default: 4].
    #[arg(long, value_name = "N")]
    pub msg_copies: Option<u8>,
    /// New messages per second accepted per sender, sustained [default: 100].
    #[arg(long, value_name = "N")]
    pub msg_rate: Option<f64>,
    /// ... and in a burst [default: 1000].
    #[arg(long, value_name = "N")]
    pub msg_burst: Option<f64>,
    /// Take this node's position from gpsd (e.g. 127.0.0.1:2947) and put
    /// it in the directory.
    #[arg(long, value_name = "HOST:PORT")]
    pub gpsd: Option<String>,
    /// Publish a new position only after moving this many metres [default: 25].
    #[arg(long, value_name = "M")]
    pub gps_min_move: Option<f64>,
    /// ... and at most every this many seconds [default: 30].
    #[arg(long, value_name = "S")]
    pub gps_interval: Option<u64>,
    /// The speaker: talkgroups joined (at start or later) without a sink
    /// of their own, calls answered without one and the ring tone of an
    /// incoming call play on this sound card (a name from `callsign audio
    /// devices`, `default`, or `none`). Several talkgroups at once are
    /// mixed; an emergency burst plays alone while it lasts [default:
    /// default; without a card the log says so once].
    #[arg(long, value_name = "NAME")]
    pub audio_out: Option<String>,
    /// Also write what the speaker plays to this WAV (16 kHz mono; idle
    /// time left out): a record of what was heard, or a test rig's ear.
    #[arg(long, value_name = "OUT.wav")]
    pub audio_out_wav: Option<PathBuf>,
    /// The microphone: push to talk without a WAV or device of its own
    /// (`callsign ptt`, the --ptt-key button) and calls answered
    /// automatically talk from this capture device [default: none, silence].
    #[arg(long, value_name = "NAME")]
    pub audio_in: Option<String>,
    /// Answer calls by itself when the caller holds a role matching this
    /// pattern in the directory (repeatable): `command`, `engine-*`,
    /// `*.engine-7`. Other calls ring (with the ring tone) until answered.
    #[arg(long = "auto-answer", value_name = "ROLE-PATTERN")]
    pub auto_answer: Vec<String>,
    /// A push-to-talk button on an input device: `DEVICE:KEY`, e.g.
    /// `/dev/input/event3:KEY_F13` (or the key's number, `...:183`; `evtest`
    /// shows both). Held: talk on --ptt-talkgroup from --audio-in.
    #[arg(long, value_name = "DEVICE:KEY")]
    pub ptt_key: Option<String>,
    /// The talkgroup the --ptt-key button talks on [default: the first
    /// --talkgroup].
    #[arg(long, value_name = "TG")]
    pub ptt_talkgroup: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AudioCommand {
    /// Input and output devices by name (the default marked), for
    /// --audio-in / --audio-out.
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Sound cards for a call: used when no WAV is given.
#[derive(Args, Debug, Default)]
pub struct AudioInArgs {
    /// Talk from this capture device (a name from `callsign audio
    /// devices`, or `default`) when no --wav is given.
    #[arg(long, value_name = "NAME")]
    pub audio_in: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct AudioOutArgs {
    /// Play what is heard on this playback device (or `default`) when no
    /// --record is given.
    #[arg(long, value_name = "NAME")]
    pub audio_out: Option<String>,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// The name to call, e.g. medic-12.
    pub name: String,
    /// Send this WAV (any rate and channel count; default: silence).
    #[arg(long, value_name = "IN.wav")]
    pub wav: Option<PathBuf>,
    /// Record what the far end says (WAV, 16 kHz mono).
    #[arg(long, value_name = "OUT.wav")]
    pub record: Option<PathBuf>,
    /// Hang up this many seconds after the answer (default: when the WAV
    /// has been sent, or Ctrl-C).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Give up if nobody answers within this many seconds.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub ring_timeout: u64,
    #[command(flatten)]
    pub audio_in: AudioInArgs,
    #[command(flatten)]
    pub audio_out: AudioOutArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct AnswerArgs {
    /// The call to answer [default: the ringing one].
    #[arg(long, value_name = "ID")]
    pub call: Option<u64>,
    #[arg(long, value_name = "IN.wav")]
    pub wav: Option<PathBuf>,
    #[arg(long, value_name = "OUT.wav")]
    pub record: Option<PathBuf>,
    /// Stay on the call this many seconds, then hang up and print the
    /// figures (default: answer and return).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub audio_in: AudioInArgs,
    #[command(flatten)]
    pub audio_out: AudioOutArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct HangupArgs {
    /// The call to end [default: the current one].
    #[arg(long, value_name = "ID")]
    pub call: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct PttArgs {
    /// The talkgroup, e.g. fireground-1 (joined if need be).
    pub talkgroup: String,
    /// What to say: a WAV (any rate and channel count), sent from the talk permit on.
    #[arg(long, value_name = "IN.wav")]
    pub wav: Option<PathBuf>,
    /// normal, command or emergency (pre-empts a lower-priority talker).
    #[arg(long, default_value = "normal", value_parser = ["normal", "command", "emergency"])]
    pub priority: String,
    /// Release after this many seconds (default: at the end of the WAV;
    /// with --audio-in, on Ctrl-C).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Hold to talk in this terminal: talk while Space is held (judged
    /// from the key's repeat: the floor goes about 0.1 s after the
    /// repeats stop, 0.8 s after a single tap); q or Ctrl-C ends. Talks
    /// from --audio-in, else the daemon's microphone (`up --audio-in`).
    /// When stdin is not a terminal, Space or Enter toggles instead.
    #[arg(long, conflicts_with_all = ["wav", "duration"])]
    pub hold: bool,
    /// Like --hold, but each Space (or Enter) toggles talking on and off:
    /// for terminals and remote sessions whose key repeat is unreliable.
    #[arg(long, conflicts_with_all = ["wav", "duration"])]
    pub toggle: bool,
    #[command(flatten)]
    pub audio_in: AudioInArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    pub talkgroup: String,
    /// Record every burst heard (WAV, 16 kHz mono).
    #[arg(long, value_name = "OUT.wav")]
    pub record: Option<PathBuf>,
    /// Stop after this many seconds (default: Ctrl-C).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Stay in the talkgroup after this command ends.
    #[arg(long)]
    pub stay: bool,
    #[command(flatten)]
    pub audio_out: AudioOutArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct MaydayArgs {
    /// Join this talkgroup first (default: every talkgroup joined).
    #[arg(long, value_name = "TG")]
    pub talkgroup: Option<String>,
    /// What to say after the permit (a WAV, any rate and channel count).
    #[arg(long, value_name = "IN.wav")]
    pub wav: Option<PathBuf>,
    /// Position to flag in the directory (degrees).
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    pub lat: Option<f64>,
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    pub lon: Option<f64>,
    /// Hold the floor this many seconds (the WAV's length when shorter),
    /// then release it; the presence stays `emergency` until changed.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub duration: f64,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Address of the daemon's API [default: $CALLSIGN_API, else the
    /// config file's `api`, else 127.0.0.1:7480].
    #[arg(long = "api", value_name = "ADDR", env = "CALLSIGN_API")]
    pub api_addr: Option<SocketAddr>,
    /// Config file whose `api` key names the daemon [default:
    /// /etc/callsign/callsign.toml when present].
    #[arg(long, value_name = "FILE", env = "CALLSIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// The daemon's data dir, where its API token is [default:
    /// $CALLSIGN_DATA_DIR, else the config file's `data_dir`, else the
    /// daemon's default]. $CALLSIGN_TOKEN gives the token itself.
    #[arg(long, value_name = "DIR", env = "CALLSIGN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ClientArgs {
    /// The daemon's API: --api, then CALLSIGN_API, then the config file's
    /// `api`, then the default; with the token from CALLSIGN_TOKEN, else
    /// `api.token` in the daemon's data dir (--data-dir, then
    /// CALLSIGN_DATA_DIR, then the config file's `data_dir`, then the
    /// default), so the user types nothing for it.
    pub fn api(&self) -> Result<super::client::Api, Box<dyn std::error::Error>> {
        let file = match config::config_path(self.config.as_deref()) {
            Some(p) => Some(config::load_file(&p).map_err(|e| e.to_string())?),
            None => None,
        };
        let addr = match (self.api_addr, file.as_ref().and_then(|f| f.api)) {
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => config::DEFAULT_API.parse()?,
        };
        let dir = self
            .data_dir
            .clone()
            .or_else(|| file.and_then(|f| f.data_dir))
            .unwrap_or_else(config::default_data_dir);
        super::client::Api::new(addr, &dir)
    }
}

#[derive(Args, Debug)]
pub struct MsgArgs {
    /// Send to every member of this talkgroup (then all words are the text).
    #[arg(long, value_name = "TG")]
    pub talkgroup: Option<String>,
    /// NAME then the text, e.g. `medic-12 hydrant at Fifth is dry`.
    #[arg(required = true, num_args = 1.., value_name = "NAME TEXT")]
    pub words: Vec<String>,
    /// Test rigs: send N messages, numbered `TEXT #1` .. `TEXT #N`, one
    /// after the other (each accepted before the next).
    #[arg(long, hide = true, default_value_t = 1)]
    pub repeat: u32,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct InboxArgs {
    /// Keep running and print each new message as it arrives.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Only events since: 90s, 15m, 2h, 1d ago, or Unix seconds.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Print the CSV export (header row, one event per row).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct PingArgs {
    /// Node id, unique id prefix, or a name (the directory's nearest
    /// reachable holder; or a name known from hellos or --peer).
    #[arg(value_name = "NODE-OR-NAME")]
    pub target: String,
    /// Seconds between pings, like ping(8): fractions allowed, at least
    /// 0.2 (root: 0.002), a warning below 1 (every echo crosses the radio
    /// links on the incident's channel).
    #[arg(long, short = 'i', value_name = "S", default_value_t = 1.0)]
    pub interval: f64,
    /// Stop after this many pings (default: until Ctrl-C).
    #[arg(long, short = 'c')]
    pub count: Option<u64>,
    /// Seconds to wait for each reply (fractions allowed).
    #[arg(long, short = 'W', value_name = "S", default_value_t = 2.0)]
    pub timeout: f64,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct WhoisArgs {
    /// The name to look up, e.g. medic-12.
    pub name: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct ClaimArgs {
    /// The name to claim, e.g. engine-3.
    pub name: String,
    /// One holder mesh-wide (e.g. command): refused while someone else
    /// holds it; it moves by `callsign handover`.
    #[arg(long)]
    pub exclusive: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct NameArgs {
    pub name: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct HandoverArgs {
    /// The exclusive role to hand over, e.g. command.
    pub name: String,
    /// The new holder: node id, unique id prefix, or a name it holds.
    #[arg(long, value_name = "NODE-OR-NAME")]
    pub to: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct PresenceArgs {
    /// available, busy, emergency or off-duty.
    #[arg(value_parser = ["available", "busy", "emergency", "off-duty"])]
    pub state: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Send voice-class packets to TARGET and print what was sent.
    Send {
        target: String,
        #[arg(long)]
        count: u64,
        /// Packets per second (0: as fast as the node takes them).
        #[arg(long, default_value_t = 0)]
        pps: u64,
        #[arg(long, default_value_t = 160)]
        size: usize,
        #[arg(long, default_value = config::DEFAULT_API)]
        api: SocketAddr,
    },
    /// Print what this node received (and optionally reset the counters).
    Recv {
        #[arg(long)]
        reset: bool,
        #[arg(long, default_value = config::DEFAULT_API)]
        api: SocketAddr,
    },
}

pub fn run(cmd: NetCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cmd {
        NetCommand::Up(args) => {
            let settings = settings(&args).map_err(|e| e.to_string())?;
            init_logging(&settings.log);
            super::up(settings, *args).map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        NetCommand::Status(a) => client::status(&a),
        NetCommand::Neighbors(a) => client::neighbours(&a),
        NetCommand::Routes(a) => client::routes(&a),
        NetCommand::Ping(a) => client::ping(&a),
        NetCommand::Names(a) => names_client::list(&a),
        NetCommand::Whois(a) => names_client::whois(&a.name, &a.client),
        NetCommand::Claim(a) => names_client::claim(&a),
        NetCommand::Release(a) => names_client::release(&a),
        NetCommand::Handover(a) => names_client::handover(&a),
        NetCommand::Presence(a) => names_client::presence(&a),
        NetCommand::Call(a) => voice_client::call(&a),
        NetCommand::Answer(a) => voice_client::answer(&a),
        NetCommand::Hangup(a) => voice_client::hangup(&a),
        NetCommand::Calls(a) => voice_client::calls(&a),
        NetCommand::Ptt(a) => voice_client::ptt(&a),
        NetCommand::Listen(a) => voice_client::listen(&a),
        NetCommand::Talkgroups(a) => voice_client::talkgroups(&a),
        NetCommand::Mayday(a) => voice_client::mayday(&a),
        NetCommand::Par(c) => super::console_client::run(&c),
        NetCommand::Console(a) => super::console_client::console(&a),
        NetCommand::Msg(a) => msg_client::send(&a),
        NetCommand::Inbox(a) => msg_client::inbox(&a),
        NetCommand::Outbox(a) => msg_client::outbox(&a),
        NetCommand::Log(a) => msg_client::log(&a),
        NetCommand::Audio(AudioCommand::Devices { json }) => voice_client::audio_devices(json),
        NetCommand::Id(a) => super::enrol::id(&a),
        NetCommand::Enrol(c) => super::enrol::run(&c),
        NetCommand::Events(a) => super::events::run(&a),
        NetCommand::Revoke(c) => super::revocations::run(&c),
        NetCommand::Radio(c) => super::radio_run::run_cli(c).map_err(|e| e.to_string().into()),
        NetCommand::Bench(b) => client::bench(&b),
    }
}

fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
