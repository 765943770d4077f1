//! The engine: the one task that owns the application layer ([`App`],
//! and through it the node) and the sockets, sound cards and store, and
//! drives the core by its contract (feed an input, drain transmits and
//! events, sleep until `poll_timeout`). The API talks to it by [`Command`].
//! Protocol decisions are the application layer's; the engine carries
//! datagrams, encodes and decodes audio, stores, and answers the API.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use tokio::io::ReadBuf;
use tokio::sync::{broadcast, mpsc, oneshot};

mod bridge;
mod calls;
mod console;
mod directory;
mod events;
mod media;
mod mesh;
mod messages;
mod phones;
mod tak;
mod talkgroups;

pub use calls::CallCommand;
pub use console::ConsoleCommand;
pub use directory::NamesCommand;
pub use messages::{MAX_LOG_ANSWER, MsgCommand, unix_ms};
pub use talkgroups::{GroupPcm, TalkgroupCommand};

use super::clock;
use super::config::Settings;
use super::dto::{self, ApiEvent, DaemonStats};
use super::ifaces::{self, IfaceInfo};
use super::net::IfaceSockets;
use crate::app::{App, AppConfig};
use crate::identity::NodeId;
use crate::node::{Class, IfaceId, Input, Node};
use crate::time::Instant;

/// Protocol number of benchmark traffic (payload: 8-byte send time, padding).
pub const BENCH_PROTO: u8 = 0x7f;
/// Ping payload: session, sequence, send time (u64 each, big endian).
const PING_PAYLOAD: usize = 24;
/// Datagrams handled per wakeup before timers and commands get a turn.
const RX_BATCH: usize = 64;
/// Bound on remembered bench latencies (memory: 4 bytes each).
const MAX_BENCH_SAMPLES: usize = 2_000_000;
/// A deadline run this late, or one wake-up's work taking this long, is a
/// stall of the daemon itself: counted and logged, because neighbours
/// under traffic suspect a silent node after about 100 ms.
pub const STALL_WARN_MS: u64 = 80;

pub enum PingReply {
    Reply { seq: u64, hops: u8, rtt_us: u64 },
    Error { seq: u64, error: String },
}

pub enum Command {
    Status(oneshot::Sender<dto::Status>),
    Neighbours(oneshot::Sender<Vec<dto::Neighbour>>),
    Routes(oneshot::Sender<Vec<dto::Route>>),
    Resolve(
        String,
        oneshot::Sender<Result<(NodeId, Vec<String>), String>>,
    ),
    Ping {
        session: u64,
        dst: NodeId,
        seq: u64,
        replies: mpsc::Sender<PingReply>,
    },
    PingDone {
        session: u64,
    },
    BenchBurst {
        dst: NodeId,
        n: u32,
        size: usize,
        done: oneshot::Sender<(u64, u64)>,
    },
    BenchRecv {
        reset: bool,
        reply: oneshot::Sender<dto::BenchRecv>,
    },
    Names(NamesCommand),
    Calls(CallCommand),
    Talkgroups(TalkgroupCommand),
    Messages(MsgCommand),
    Console(console::ConsoleCommand),
    /// A revocation from the operator (`callsign revoke add`).
    Revoke(Vec<u8>, oneshot::Sender<Result<dto::RevokeDone, String>>),
}

#[derive(Default)]
struct BenchSink {
    received: u64,
    first: Option<Instant>,
    last: Instant,
    latencies_us: Vec<u32>,
}

pub struct Engine {
    app: App,
    settings: Settings,
    socks: BTreeMap<u32, IfaceSockets>,
    started: Instant,
    /// Names last heard in each node's hellos, plus configured peers.
    names: BTreeMap<NodeId, Vec<String>>,
    pings: BTreeMap<u64, mpsc::Sender<PingReply>>,
    events: broadcast::Sender<ApiEvent>,
    stats: DaemonStats,
    bench: BenchSink,
    /// Interfaces that failed to open, so the failure is logged once.
    failed: BTreeSet<u32>,
    /// `--iface` names not found, so the wait is logged once.
    missing: BTreeSet<String>,
    buf: Vec<u8>,
    /// The codec ends of calls and talkgroups.
    calls: calls::CallsMedia,
    groups: talkgroups::GroupsMedia,
    /// The SIP front's sockets.
    sip_net: Option<super::sip_net::SipNet>,
    /// The console's view: PAR, maydays, when members were last reachable.
    console: console::ConsoleState,
    /// Messages and the incident log (SQLite), and message changes a
    /// failed commit left to retry.
    db: super::msgstore::Db,
    unsaved: Vec<crate::msg::Change>,
    /// The last commit of messages, of a log row, failed (said once per
    /// outage).
    store_failing: bool,
    log_failing: bool,
    /// Incident log rows not yet written (a full disk): written in order
    /// once the store takes them again, the oldest dropped past
    /// [`messages::LOG_BACKLOG_MAX`].
    log_backlog: std::collections::VecDeque<(u64, &'static str, serde_json::Value)>,
    /// Rows dropped from a full backlog since start (said when it drains).
    log_dropped: u64,
    /// Talkgroup -> (talker, start in Unix ms) of the burst on air.
    bursts: BTreeMap<String, (Option<String>, u64)>,
    /// Where joined talkgroups, calls without a sink and the ring tone play.
    speaker: super::speaker::Speaker,
    /// Incoming calls ringing here (not at a phone): the ring tone plays.
    ringing: BTreeSet<crate::session::CallId>,
    /// When a sure clock reading was last recorded (`daemon::boot`).
    good_time_at: Instant,
    /// The Cursor-on-Target output (`up --cot`).
    cot: Option<super::cot::CotOut>,
    /// Every talkgroup burst heard, on disk (`daemon::audio_log`).
    audio_log: super::audio_log::AudioLog,
    /// Decoded talkgroup audio for pages listening live.
    pcm_tap: broadcast::Sender<talkgroups::GroupPcm>,
}

enum Wake {
    Stop,
    Rx(u32, io::Result<(SocketAddr, Vec<u8>)>),
    Cmd(Option<Command>),
    Timer,
    Rescan,
    Phone(Option<super::sip_net::PhoneIo>),
}

impl Wake {
    /// What the engine was doing, for the stall log.
    fn kind(&self) -> &'static str {
        match self {
            Wake::Stop => "stopping",
            Wake::Rx(..) => "receiving",
            Wake::Cmd(_) => "an API command",
            Wake::Timer => "its timers",
            Wake::Rescan => "the interface rescan",
            Wake::Phone(_) => "a phone's SIP",
        }
    }
}

impl Engine {
    /// The engine over `node`; the application layer's randomness (key
    /// shares, labels) is seeded from the OS.
    pub fn new(
        node: Node,
        settings: Settings,
        events: broadcast::Sender<ApiEvent>,
        pcm_tap: broadcast::Sender<talkgroups::GroupPcm>,
        db: super::msgstore::Db,
    ) -> Result<Self, String> {
        let seed = super::store::os_random::<32>().map_err(|e| format!("no randomness: {e}"))?;
        let cfg = AppConfig {
            fixed_names: settings.names.clone(),
            call: crate::session::CallConfig {
                // Call-IDs of a restarted daemon must not repeat.
                instance: clock::now().as_micros(),
                ..crate::session::CallConfig::default()
            },
            floor: crate::floor::FloorConfig {
                max_talk: settings.ptt_time_limit,
                ..crate::floor::FloorConfig::default()
            },
            front: crate::phone::FrontConfig {
                passwords: settings.sip_passwords.clone(),
                ..crate::phone::FrontConfig::default()
            },
            group_bitrate: talkgroups::GROUP_BITRATE,
            par: crate::app::ParConfig {
                interval: settings.par_interval,
            },
            auto_answer: settings.auto_answer.clone(),
            talkgroup_keys: settings.talkgroup_keys.clone(),
        };
        let speaker = super::speaker::Speaker::open(
            settings.audio_out.as_deref(),
            settings.audio_out_wav.as_deref(),
        )?;
        let cot = match &settings.cot {
            Some(c) => {
                let out = super::cot::CotOut::open(c, clock::now())?;
                tracing::info!(addr = %c.addr, interval_s = c.interval.as_secs(), iface = ?c.iface, "CoT output on");
                Some(out)
            }
            None => None,
        };
        let mut names = BTreeMap::new();
        for (name, id) in &settings.peers {
            names.entry(*id).or_insert_with(Vec::new).push(name.clone());
        }
        Ok(Engine {
            app: App::new(node, cfg, clock::now(), seed),
            socks: BTreeMap::new(),
            started: clock::now(),
            names,
            pings: BTreeMap::new(),
            events,
            stats: DaemonStats::default(),
            bench: BenchSink::default(),
            failed: BTreeSet::new(),
            missing: BTreeSet::new(),
            buf: vec![0; 65536],
            db,
            unsaved: Vec::new(),
            store_failing: false,
            log_failing: false,
            log_backlog: std::collections::VecDeque::new(),
            log_dropped: 0,
            bursts: BTreeMap::new(),
            calls: calls::CallsMedia::default(),
            groups: talkgroups::GroupsMedia::default(),
            sip_net: None,
            console: console::ConsoleState::default(),
            speaker,
            ringing: BTreeSet::new(),
            good_time_at: clock::now(),
            cot,
            audio_log: super::audio_log::AudioLog::open(
                &settings.data_dir,
                settings.audio_log_mb.saturating_mul(1_000_000),
                settings.ptt_time_limit,
            ),
            settings,
            pcm_tap,
        })
    }

    pub async fn run(mut self, mut cmds: mpsc::Receiver<Command>, mut stop: oneshot::Receiver<()>) {
        let mut rescan = tokio::time::interval(Duration::from_secs(1));
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        for tg in self.settings.talkgroups.clone() {
            if let Err((_, e)) = self.join(clock::now(), &tg, None, None) {
                tracing::warn!(talkgroup = %tg, "cannot join: {e}");
            }
        }
        if let Some(addr) = self.settings.sip {
            match super::sip_net::SipNet::bind(addr).await {
                Ok(n) => {
                    tracing::info!(sip = %n.bound, "SIP front: phones register here as sip:ROLE@mesh");
                    self.sip_net = Some(n);
                }
                // Checked at start-up when asked for; the default's
                // port may simply be taken by another SIP stack.
                Err(e) => tracing::warn!(sip = %addr, "no SIP front: {e}"),
            }
        }
        // What the node queued at start (claims, hellos).
        self.app.handle(clock::now(), Input::Timeout);
        self.drain(clock::now());
        loop {
            let now = clock::now();
            let due = [
                self.app.poll_timeout(),
                self.speaker.next_due(),
                self.cot.as_ref().map(|c| c.schedule.next_due()),
            ]
            .into_iter()
            .flatten()
            .min();
            let wait = due.map_or(Duration::from_secs(60), |t| t.saturating_since(now));
            let wake_at = tokio::time::Instant::now() + wait.min(Duration::from_secs(60));
            let due_at = now + wait.min(Duration::from_secs(60));
            let wake = tokio::select! {
                biased;
                _ = &mut stop => Wake::Stop,
                (i, r) = recv_any(&self.socks, &mut self.buf) => Wake::Rx(i, r),
                c = cmds.recv() => Wake::Cmd(c),
                _ = tokio::time::sleep_until(wake_at) => Wake::Timer,
                _ = rescan.tick() => Wake::Rescan,
                io = recv_phone(&mut self.sip_net) => Wake::Phone(io),
            };
            let woke = clock::now();
            let kind = wake.kind();
            if matches!(wake, Wake::Timer) {
                self.note_stall(woke.saturating_since(due_at), "timer late");
            }
            match wake {
                Wake::Stop | Wake::Cmd(None) => break,
                Wake::Rx(i, r) => {
                    self.on_rx(i, r);
                    self.rx_batch();
                }
                Wake::Cmd(Some(c)) => self.on_command(c),
                Wake::Phone(Some(io)) => self.on_phone_io(io),
                Wake::Phone(None) => self.sip_net = None,
                Wake::Timer => {
                    self.stats.timer_wakeups += 1;
                    let now = clock::now();
                    self.app.handle(now, Input::Timeout);
                    self.drain(now);
                }
                Wake::Rescan => {
                    self.stats.timer_wakeups += 1;
                    self.rescan();
                    // Rows held while the disk was full go in as soon as
                    // it takes them, even if nothing else happens.
                    self.flush_log();
                    let now = clock::now();
                    self.audio_log.close_idle(now);
                    if now.saturating_since(self.good_time_at) >= super::boot::LAST_GOOD_EVERY {
                        self.good_time_at = now;
                        let dir = &self.settings.data_dir;
                        super::boot::refresh_good_time(dir, unix_ms() / 1000);
                    }
                }
            }
            let now = clock::now();
            self.par_tone(now);
            self.speaker.pump(now);
            self.cot_pump(now);
            self.note_stall(clock::now().saturating_since(woke), kind);
        }
        self.speaker.finish();
        for t in self.app.talkgroups() {
            self.audio_log.close(t.group);
        }
        tracing::info!("stopped");
    }

    /// Count and log a stall of the engine's own loop (see
    /// [`STALL_WARN_MS`]).
    fn note_stall(&mut self, d: Duration, what: &'static str) {
        let ms = d.as_millis() as u64;
        if ms < STALL_WARN_MS {
            return;
        }
        self.stats.loop_stalls += 1;
        self.stats.loop_stall_max_ms = self.stats.loop_stall_max_ms.max(ms);
        tracing::warn!(ms, what, "the daemon stalled: neighbours may suspect it");
    }

    fn on_rx(&mut self, iface: u32, r: io::Result<(SocketAddr, Vec<u8>)>) {
        match r {
            Ok((from, data)) => {
                let input = Input::Receive {
                    iface: IfaceId(iface),
                    from,
                    data,
                };
                let now = clock::now();
                self.app.handle(now, input);
                self.drain(now);
            }
            Err(e) => {
                self.stats.rx_errors += 1;
                tracing::debug!(iface, "receive error: {e}");
            }
        }
    }

    /// Take what else is already queued on any socket, without waiting.
    fn rx_batch(&mut self) {
        let mut taken = 0;
        loop {
            let mut any = false;
            let idx: Vec<u32> = self.socks.keys().copied().collect();
            for i in idx {
                let Some(s) = self.socks.get(&i) else {
                    continue;
                };
                let Some(r) = s.try_recv(&mut self.buf) else {
                    continue;
                };
                let r = r.map(|(n, from)| (from, self.buf[..n].to_vec()));
                self.on_rx(i, r);
                any = true;
                taken += 1;
            }
            if !any || taken >= RX_BATCH {
                return;
            }
        }
    }

    /// Put every queued transmit on the wire and act on every event,
    /// until the application has nothing more to say (acting on an event
    /// can queue more: a frame asked for is sent at once).
    fn drain(&mut self, now: Instant) {
        for _ in 0..64 {
            self.flush_transmits();
            self.flush_sip();
            let mut any = false;
            while let Some(e) = self.app.poll_event() {
                self.on_app_event(now, e);
                any = true;
            }
            if !any {
                return;
            }
        }
    }

    /// Put every queued transmit on the wire.
    fn flush_transmits(&mut self) {
        // Nothing leaves before what it acknowledges is on disk (custody
        // taken, a receipt given).
        let _ = self.persist_messages();
        let now = clock::now();
        while let Some(t) = self.app.poll_transmit(now) {
            let Some(s) = self.socks.get(&t.iface.0) else {
                self.stats.tx_errors += 1;
                continue;
            };
            if let Err(e) = s.send(t.dst, t.class, &t.data) {
                self.stats.tx_errors += 1;
                tracing::debug!(iface = %s.info.name, dst = ?t.dst, "send failed: {e}");
            }
        }
    }

    fn iface_name(&self, iface: IfaceId) -> String {
        self.socks
            .get(&iface.0)
            .map_or_else(|| format!("#{}", iface.0), |s| s.info.name.clone())
    }

    /// Names from the directory, else those heard in hellos or configured.
    fn names_of(&self, id: &NodeId) -> Vec<String> {
        let v = self.app.node().names_of(clock::now(), id);
        if !v.is_empty() {
            return v;
        }
        self.names.get(id).cloned().unwrap_or_default()
    }

    /// Remember the names the current neighbours announce.
    fn learn_names(&mut self, now: Instant) {
        for n in self.app.node().neighbours(now) {
            if !n.names.is_empty() {
                self.names.insert(n.id, n.names);
            }
        }
    }

    fn publish(&mut self, e: ApiEvent) {
        self.log_event(&e);
        // No subscribers is normal.
        let _ = self.events.send(e);
    }

    fn on_command(&mut self, c: Command) {
        let now = clock::now();
        match c {
            Command::Status(tx) => {
                let _ = tx.send(self.status(now));
            }
            Command::Revoke(bytes, tx) => {
                let node = self.app.node_mut();
                let r = match node.add_revocation(now, &bytes) {
                    Ok(Some(id)) => Ok(dto::RevokeDone { id, new: true }),
                    Ok(None) => crate::trust::Revocation::decode(&bytes)
                        .map(|r| dto::RevokeDone {
                            id: r.node,
                            new: false,
                        })
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                let _ = tx.send(r);
            }
            Command::Neighbours(tx) => {
                self.learn_names(now);
                let _ = tx.send(self.neighbours(now));
            }
            Command::Routes(tx) => {
                self.learn_names(now);
                let _ = tx.send(self.routes());
            }
            Command::Resolve(target, tx) => {
                self.learn_names(now);
                let _ = tx.send(self.resolve(&target).map(|id| (id, self.names_of(&id))));
            }
            Command::Ping {
                session,
                dst,
                seq,
                replies,
            } => {
                let mut payload = Vec::with_capacity(PING_PAYLOAD);
                payload.extend_from_slice(&session.to_be_bytes());
                payload.extend_from_slice(&seq.to_be_bytes());
                payload.extend_from_slice(&now.as_micros().to_be_bytes());
                if let Err(e) = self.app.with_node(now, |n| n.ping(now, dst, &payload)) {
                    let _ = replies.try_send(PingReply::Error {
                        seq,
                        error: e.to_string(),
                    });
                }
                self.pings.entry(session).or_insert(replies);
                self.drain(now);
            }
            Command::PingDone { session } => {
                self.pings.remove(&session);
            }
            Command::BenchBurst { dst, n, size, done } => {
                let (mut sent, mut refused) = (0, 0);
                let mut payload = vec![0u8; size.max(8)];
                for _ in 0..n {
                    let t = clock::now();
                    payload[..8].copy_from_slice(&t.as_micros().to_be_bytes());
                    match self
                        .app
                        .with_node(t, |n| n.send(t, dst, Class::Voice, BENCH_PROTO, &payload))
                    {
                        Ok(_) => sent += 1,
                        Err(_) => refused += 1,
                    }
                    self.drain(t);
                }
                let _ = done.send((sent, refused));
            }
            Command::BenchRecv { reset, reply } => {
                let _ = reply.send(self.bench_report());
                if reset {
                    self.bench = BenchSink::default();
                }
            }
            Command::Names(c) => self.on_names_command(c),
            Command::Calls(c) => self.on_call_command(c),
            Command::Talkgroups(c) => self.on_talkgroup_command(c),
            Command::Messages(c) => self.on_msg_command(c),
            Command::Console(c) => self.on_console_command(c),
        }
    }

    fn bench_record(&mut self, now: Instant, payload: &[u8]) {
        let Some(sent) = payload
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
        else {
            return;
        };
        let b = &mut self.bench;
        b.received += 1;
        b.first.get_or_insert(now);
        b.last = now;
        if b.latencies_us.len() < MAX_BENCH_SAMPLES {
            let lat = now.saturating_since(Instant::from_micros(sent)).as_micros();
            b.latencies_us.push(lat.min(u32::MAX as u128) as u32);
        }
    }

    fn bench_report(&self) -> dto::BenchRecv {
        let b = &self.bench;
        let mut lat = b.latencies_us.clone();
        lat.sort_unstable();
        let pct = |p: f64| -> Option<u64> {
            let i = ((lat.len() as f64 * p).ceil() as usize).saturating_sub(1);
            lat.get(i.min(lat.len().saturating_sub(1)))
                .map(|&v| v as u64)
        };
        let span_ms = b
            .first
            .map_or(0.0, |f| b.last.saturating_since(f).as_secs_f64() * 1000.0);
        dto::BenchRecv {
            received: b.received,
            span_ms,
            pps: if span_ms > 0.0 {
                b.received.saturating_sub(1) as f64 * 1000.0 / span_ms
            } else {
                0.0
            },
            latency_p50_us: pct(0.50),
            latency_p99_us: pct(0.99),
            latency_max_us: lat.last().map(|&v| v as u64),
        }
    }

    /// A full node id, a name in the directory (its nearest reachable
    /// holder), a name heard in hellos or configured, or a unique prefix
    /// (4+ hex digits) of a known node id.
    fn resolve(&self, target: &str) -> Result<NodeId, String> {
        if let Ok(id) = target.parse::<NodeId>() {
            return Ok(id);
        }
        let holders = self.resolve_name(clock::now(), target);
        if let Some(first) = holders.first() {
            return Ok(*first);
        }
        let by_name: Vec<NodeId> = self
            .names
            .iter()
            .filter(|(_, n)| n.iter().any(|n| n == target))
            .map(|(id, _)| *id)
            .collect();
        let candidates = if !by_name.is_empty() {
            by_name
        } else if target.len() >= 4 && target.chars().all(|c| c.is_ascii_hexdigit()) {
            let t = target.to_ascii_lowercase();
            let mut known: BTreeSet<NodeId> = self
                .app
                .node()
                .routes()
                .into_iter()
                .map(|r| r.dest)
                .collect();
            known.extend(self.names.keys().copied());
            known
                .into_iter()
                .filter(|id| id.to_string().starts_with(&t))
                .collect()
        } else {
            Vec::new()
        };
        match candidates.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!(
                "no known node `{target}`: no reachable holder in the directory, no neighbour or configured peer of that name, no node id with that prefix"
            )),
            many => Err(format!(
                "`{target}` matches several nodes: {}",
                many.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn status(&self, now: Instant) -> dto::Status {
        let interfaces = self
            .socks
            .values()
            .map(|s| dto::Interface {
                name: s.info.name.clone(),
                index: s.info.index,
                family: if s.info.uses_v6() { "ipv6" } else { "ipv4" }.into(),
                address: match (s.info.link_local, s.info.v4) {
                    (Some(a), _) => a.to_string(),
                    (None, Some((a, _))) => a.to_string(),
                    _ => String::new(),
                },
            })
            .collect();
        let node = self.app.node();
        dto::Status {
            id: node.id(),
            names: self.held_names(),
            base_station: node.config().base_station,
            interfaces,
            neighbours: node.neighbours(now).len(),
            routes: node.routes().len(),
            uptime_s: now.saturating_since(self.started).as_secs_f64(),
            port: self.settings.port,
            trust: if node.is_secured() { "secured" } else { "open" }.into(),
            nearest_base: node.nearest_base().map(|r| r.dest),
            version: env!("CARGO_PKG_VERSION").into(),
            stats: node.stats().clone(),
            revocations: dto::RevocationStatus {
                revoked: node
                    .revocations()
                    .iter()
                    .filter_map(|b| crate::trust::Revocation::decode(b).ok())
                    .map(|r| dto::RevokedDevice {
                        id: r.node,
                        reason: r.reason,
                        issued: r.issued_unix_s,
                    })
                    .collect(),
                records_revoked: node.directory().stats().records_revoked,
            },
            daemon: self.stats.clone(),
            app: *self.app.stats(),
            sip: self.sip_net.as_ref().map(|n| {
                let f = self.app.front();
                dto::SipStatus {
                    address: n.bound.to_string(),
                    phones: f
                        .bindings()
                        .map(|b| dto::PhoneBinding {
                            role: b.role.clone(),
                            contact: b.contact.clone(),
                            from: b.peer.addr.to_string(),
                            transport: match b.peer.tp {
                                crate::phone::Transport::Udp => "udp",
                                crate::phone::Transport::Tcp(_) => "tcp",
                            }
                            .into(),
                            expires_s: b.expires.saturating_since(now).as_secs(),
                        })
                        .collect(),
                    calls: f.legs().count(),
                    malformed: f.malformed,
                }
            }),
        }
    }

    fn neighbours(&self, now: Instant) -> Vec<dto::Neighbour> {
        self.app
            .node()
            .neighbours(now)
            .into_iter()
            .map(|n| dto::Neighbour {
                names: if n.names.is_empty() {
                    self.names_of(&n.id)
                } else {
                    n.names
                },
                iface: self.iface_name(n.iface),
                iface_index: n.iface.0,
                addr: n.addr.to_string(),
                etx: n.etx.is_finite().then_some(n.etx),
                cost: n.cost,
                rx_ratio: n.rx_ratio,
                last_heard_ms: now.saturating_since(n.last_heard).as_millis() as u64,
                usable: n.usable,
                base_station: n.base_station,
                mpr: n.mpr,
                mpr_selector: n.mpr_selector,
                fast: n.fast,
                id: n.id,
            })
            .collect()
    }

    fn routes(&self) -> Vec<dto::Route> {
        self.app
            .node()
            .routes()
            .into_iter()
            .map(|r| dto::Route {
                dest: r.dest,
                names: self.names_of(&r.dest),
                next_hop: r.next_hop,
                next_hop_names: self.names_of(&r.next_hop),
                iface: self.iface_name(r.iface),
                metric: r.metric,
                hops: r.hops,
                seqno: r.seqno,
                base_station: r.base_station,
            })
            .collect()
    }

    /// Open interfaces that appeared, close those that vanished or changed.
    fn rescan(&mut self) {
        let found = match ifaces::scan(&self.settings.ifaces) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("cannot list interfaces: {e}");
                return;
            }
        };
        tracing::trace!(?found, "interfaces");
        let now = clock::now();
        let gone: Vec<u32> = self
            .socks
            .iter()
            .filter(|(i, s)| found.get(i) != Some(&s.info))
            .map(|(i, _)| *i)
            .collect();
        for i in gone {
            if let Some(s) = self.socks.remove(&i) {
                tracing::info!(iface = %s.info.name, "interface down");
                self.app.handle(now, Input::IfaceDown { iface: IfaceId(i) });
                self.stats.iface_down += 1;
                self.publish(ApiEvent::IfaceDown {
                    name: s.info.name,
                    index: i,
                });
            }
        }
        self.failed.retain(|i| found.contains_key(i));
        for (i, info) in found {
            if self.socks.contains_key(&i) {
                continue;
            }
            self.open(now, info);
        }
        for want in &self.settings.ifaces {
            let present = self.socks.values().any(|s| &s.info.name == want);
            if present {
                self.missing.remove(want);
            } else if self.missing.insert(want.clone()) {
                tracing::warn!(iface = %want, "interface not usable yet (absent, down or without an address); waiting for it");
            }
        }
        self.drain(now);
    }

    fn open(&mut self, now: Instant, info: IfaceInfo) {
        match IfaceSockets::open(&info, self.settings.port) {
            Ok(s) => {
                tracing::info!(iface = %info.name, index = info.index, v6 = ?info.link_local, v4 = ?info.v4.map(|v| v.0), port = self.settings.port, "interface up");
                self.socks.insert(info.index, s);
                self.failed.remove(&info.index);
                let cost_weight = self.settings.cost_weight_for(&info.name);
                self.app.handle(
                    now,
                    Input::IfaceUp {
                        iface: IfaceId(info.index),
                        cost_weight,
                    },
                );
                self.stats.iface_up += 1;
                self.publish(ApiEvent::IfaceUp {
                    name: info.name,
                    index: info.index,
                });
            }
            Err(e) => {
                if self.failed.insert(info.index) {
                    tracing::warn!(iface = %info.name, "cannot open sockets (will retry): {e}");
                }
            }
        }
    }
}

fn decode_ping(p: &[u8]) -> Option<(u64, u64, u64)> {
    if p.len() != PING_PAYLOAD {
        return None;
    }
    let word = |i: usize| {
        p.get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    };
    Some((word(0)?, word(1)?, word(2)?))
}

/// The next thing the SIP front's sockets read (never, without a front).
async fn recv_phone(net: &mut Option<super::sip_net::SipNet>) -> Option<super::sip_net::PhoneIo> {
    match net {
        Some(n) => n.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The first datagram on any interface.
async fn recv_any(
    socks: &BTreeMap<u32, IfaceSockets>,
    buf: &mut [u8],
) -> (u32, io::Result<(SocketAddr, Vec<u8>)>) {
    std::future::poll_fn(|cx| {
        for (i, s) in socks {
            let mut rb = ReadBuf::new(buf);
            if let Poll::Ready(r) = s.poll_recv(cx, &mut rb) {
                return Poll::Ready((*i, r.map(|from| (from, rb.filled().to_vec()))));
            }
        }
        Poll::Pending
    })
    .await
}
