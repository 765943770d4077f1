//! The types a driver exchanges with [`super::Node`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::identity::NodeId;
use crate::time::Instant;

/// A network interface as the driver numbers it. The core only needs to
/// tell interfaces apart and know each one's link cost weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct IfaceId(pub u32);

/// Link-layer destination of a transmitted datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDst {
    /// Every node on the interface (IPv6 link-local multicast group, or
    /// IPv4 broadcast where that is all there is).
    Multicast,
    /// One neighbour, at the address its packets came from.
    Unicast(SocketAddr),
}

/// Traffic class: decides queueing, retransmission and DSCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Voice: queued ahead of everything, never retransmitted, dropped
    /// rather than sent late. DSCP EF.
    Voice,
    /// Control data: hop-by-hop acknowledged and retransmitted (bounded).
    Control,
    /// The routing protocol's own packets (hello, update, request, ack).
    Protocol,
}

/// One datagram for the driver to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub iface: IfaceId,
    pub dst: LinkDst,
    pub class: Class,
    pub data: Vec<u8>,
}

/// What a driver feeds into the node.
#[derive(Debug, Clone)]
pub enum Input {
    /// A datagram arrived on `iface` from link address `from`.
    Receive {
        iface: IfaceId,
        from: SocketAddr,
        data: Vec<u8>,
    },
    /// The time returned by `poll_timeout` has come (early calls are harmless).
    Timeout,
    /// An interface became usable. `cost_weight` scales link costs on it,
    /// 256 = neutral (a truck's 5 GHz backbone is cheaper: e.g. 128).
    IfaceUp { iface: IfaceId, cost_weight: u16 },
    /// An interface went away: neighbours on it are dropped at once.
    IfaceDown { iface: IfaceId },
}

/// What the node reports to its driver.
/// How a neighbour was found dead: what raised the suspicion, how long it
/// had been silent and how many probes went unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownReason {
    pub cause: crate::link::Suspicion,
    pub silent_ms: u64,
    pub probes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    NeighbourUp {
        id: NodeId,
        iface: IfaceId,
        addr: SocketAddr,
    },
    NeighbourDown {
        id: NodeId,
        iface: IfaceId,
        /// `None`: its interface went away.
        why: Option<DownReason>,
    },
    /// The selected route to `dest` changed (next hop, or lost: `None`).
    RouteChanged {
        dest: NodeId,
        next_hop: Option<NodeId>,
        metric: u16,
        hops: u8,
    },
    /// A unicast data packet addressed to this node.
    Delivered {
        src: NodeId,
        class: Class,
        proto: u8,
        seq: u32,
        hops: u8,
        payload: Vec<u8>,
    },
    /// The answer to one of our echo requests; `payload` is what we sent.
    EchoReply {
        src: NodeId,
        seq: u32,
        hops: u8,
        payload: Vec<u8>,
    },
    /// A flooded group packet (this node is a member of every group for now).
    FloodDelivered {
        src: NodeId,
        group: NodeId,
        class: Class,
        seq: u32,
        hops: u8,
        payload: Vec<u8>,
    },
    /// A control-class packet this node originated could not be delivered
    /// (no route within the pending time, or the pending buffer was full).
    Undeliverable { dst: NodeId, seq: u32 },
    /// The directory changed or refused something (see [`crate::names::Event`]).
    Directory(crate::names::Event),
    /// Secured mode: a device presented a certificate that was refused.
    CertRefused { from: NodeId, reason: String },
    /// Store-and-forward messages: received, delivered, expired, custody.
    Message(crate::msg::MsgEvent),
    /// A voice frame of a flow addressed to this node (each `(label,
    /// seq)` once).
    VoiceFrame {
        src: NodeId,
        label: u32,
        seq: u16,
        hops: u8,
        payload: Vec<u8>,
    },
}

/// A neighbour as tools show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NeighbourInfo {
    pub id: NodeId,
    pub iface: IfaceId,
    #[serde(serialize_with = "ser_addr")]
    pub addr: SocketAddr,
    pub names: Vec<String>,
    pub base_station: bool,
    /// Link cost (256 = perfect link); `u16::MAX` when unusable.
    pub cost: u16,
    /// Expected transmission count, both directions (1.0 = perfect).
    pub etx: f64,
    /// Fraction of this neighbour's hellos we received (recent window).
    pub rx_ratio: f64,
    /// When we last heard anything from it.
    #[serde(skip)]
    pub last_heard: Instant,
    /// Whether the link is symmetric and usable for routing.
    pub usable: bool,
    /// Whether this neighbour chose us as a flood relay.
    pub mpr_selector: bool,
    /// Whether we chose this neighbour as a flood relay.
    pub mpr: bool,
    /// We are in fast-hello mode towards it (it carries our traffic).
    pub fast: bool,
}

fn ser_addr<S: serde::Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_string())
}

/// A selected route as tools show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteInfo {
    pub dest: NodeId,
    pub next_hop: NodeId,
    pub iface: IfaceId,
    pub metric: u16,
    pub hops: u8,
    pub seqno: u16,
    pub base_station: bool,
}

/// Counters, cumulative since the node started.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub rx_malformed: u64,
    pub rx_duplicates: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_protocol_bytes: u64,
    pub forwarded: u64,
    pub delivered: u64,
    pub dropped_no_route: u64,
    pub dropped_hop_limit: u64,
    pub dropped_queue_full: u64,
    pub dropped_late_voice: u64,
    pub retransmissions: u64,
    pub ack_failures: u64,
    pub flood_relayed: u64,
    pub seqno_requests_sent: u64,
    pub neighbour_losses: u64,
    /// Secured mode: link-local packets whose MAC trailer was missing,
    /// wrong or replayed (dropped).
    #[serde(default)]
    pub rx_auth_failed: u64,
    /// Secured mode: authenticated packets from devices without a valid
    /// certificate (dropped; they were sent ours).
    #[serde(default)]
    pub rx_unenrolled: u64,
    /// Secured mode: device certificates learnt from certificate packets.
    #[serde(default)]
    pub certs_learned: u64,
    /// Secured mode: certificate packets whose chain did not verify.
    #[serde(default)]
    pub certs_refused: u64,
    /// Voice frames this node originated ([`super::Node::send_voice`]).
    #[serde(default)]
    pub voice_sent: u64,
    /// Voice frames relayed for others (first copies only).
    #[serde(default)]
    pub voice_relayed: u64,
    /// Voice frames delivered to this node's driver.
    #[serde(default)]
    pub voice_delivered: u64,
    /// Hop-by-hop voice retransmissions (ARQ).
    #[serde(default)]
    pub voice_retransmissions: u64,
    /// Voice retransmissions given up: they would have left more than
    /// the deadline after the frame's first send.
    #[serde(default)]
    pub voice_dropped_late: u64,
    /// Compressed voice frames for a label this node did not know.
    #[serde(default)]
    pub voice_label_misses: u64,
}

impl Stats {
    /// Add another node's counters (mesh-wide totals in the simulator).
    pub fn add(&mut self, o: &Stats) {
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
        self.rx_malformed += o.rx_malformed;
        self.rx_duplicates += o.rx_duplicates;
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.tx_protocol_bytes += o.tx_protocol_bytes;
        self.forwarded += o.forwarded;
        self.delivered += o.delivered;
        self.dropped_no_route += o.dropped_no_route;
        self.dropped_hop_limit += o.dropped_hop_limit;
        self.dropped_queue_full += o.dropped_queue_full;
        self.dropped_late_voice += o.dropped_late_voice;
        self.retransmissions += o.retransmissions;
        self.ack_failures += o.ack_failures;
        self.flood_relayed += o.flood_relayed;
        self.seqno_requests_sent += o.seqno_requests_sent;
        self.neighbour_losses += o.neighbour_losses;
        self.rx_auth_failed += o.rx_auth_failed;
        self.rx_unenrolled += o.rx_unenrolled;
        self.certs_learned += o.certs_learned;
        self.certs_refused += o.certs_refused;
        self.voice_sent += o.voice_sent;
        self.voice_relayed += o.voice_relayed;
        self.voice_delivered += o.voice_delivered;
        self.voice_retransmissions += o.voice_retransmissions;
        self.voice_dropped_late += o.voice_dropped_late;
        self.voice_label_misses += o.voice_label_misses;
    }
}

/// Errors a driver can get back from the node.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodeError {
    #[error("payload of {0} bytes exceeds the maximum of {1}")]
    PayloadTooLarge(usize, usize),
    #[error("cannot send to ourselves")]
    SelfAddressed,
    #[error("send queue full")]
    QueueFull,
}

/// Knobs of the routing and link protocols. Two presets: [`Timers::callsign`]
/// (adaptive) and [`Timers::babel_default`] (RFC 8966 defaults, for
/// side-by-side comparison).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Timers {
    /// Multicast hello interval when nothing flows.
    #[serde(with = "ms_serde")]
    pub hello_idle: Duration,
    /// Hello interval during the first seconds after start (fast discovery).
    #[serde(with = "ms_serde")]
    pub hello_startup: Duration,
    /// How many startup hellos are sent before slowing to `hello_idle`.
    pub startup_hellos: u32,
    /// Unicast hello interval towards a neighbour that sends us traffic;
    /// `None` disables fast mode.
    #[serde(with = "opt_ms_serde")]
    pub hello_fast: Option<Duration>,
    /// How long fast mode lasts after the last data packet.
    #[serde(with = "ms_serde")]
    pub fast_linger: Duration,
    /// A neighbour is suspected after this many idle intervals of silence.
    pub hold_factor_idle: f64,
    /// ... or this many fast intervals while it carries our traffic.
    pub hold_factor_fast: f64,
    /// Liveness probes sent to a suspected neighbour before it is declared
    /// dead (0: declare dead as soon as the hold time passes).
    pub probes: u32,
    #[serde(with = "ms_serde")]
    pub probe_interval: Duration,
    /// The neighbour list (IHU) rides in every Nth multicast hello.
    pub ihu_every: u32,
    /// A neighbour whose IHU we have not had for this many IHU intervals is
    /// treated as not hearing us.
    pub ihu_hold_factor: f64,
    /// Full route table dump interval.
    #[serde(with = "ms_serde")]
    pub update_interval: Duration,
    /// Routes not refreshed for this many update intervals expire.
    pub route_expiry_factor: f64,
    /// Delay before a triggered update is sent (batches changes).
    #[serde(with = "ms_serde")]
    pub triggered_delay: Duration,
    /// Delay for urgent updates (retractions, seqno changes).
    #[serde(with = "ms_serde")]
    pub urgent_delay: Duration,
    /// Hop-by-hop acknowledgement timeout for control-class data.
    #[serde(with = "ms_serde")]
    pub ack_timeout: Duration,
    /// Retransmissions of control-class data per hop.
    pub max_retransmissions: u32,
    /// A failed hop-by-hop delivery makes the neighbour suspect at once.
    pub ack_failure_suspects: bool,
    /// How long control data waits for a route before it is given up.
    #[serde(with = "ms_serde")]
    pub pending_timeout: Duration,
    /// Voice frames older than this in a queue are dropped, not sent.
    #[serde(with = "ms_serde")]
    pub voice_max_queue_delay: Duration,
    /// Hop-by-hop protection of voice flows.
    pub voice_protection: VoiceProtection,
}

/// Hop-by-hop protection of voice flow frames ([`super::Node::send_voice`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProtection {
    /// Each frame is sent once per hop (the baseline).
    None,
    /// Each hop asks for an acknowledgement and retransmits a lost frame
    /// (at most twice, within 40 ms of its first send).
    #[default]
    Arq,
}

impl Default for Timers {
    fn default() -> Self {
        Timers::callsign()
    }
}

impl Timers {
    /// How long a route candidate lives without being refreshed.
    pub fn route_hold(&self) -> Duration {
        self.update_interval.mul_f64(self.route_expiry_factor)
    }

    /// Adaptive timers: slow hellos when idle, fast towards neighbours that
    /// carry traffic, link-layer feedback from acknowledgements.
    pub fn callsign() -> Self {
        Timers {
            hello_idle: Duration::from_millis(1000),
            hello_startup: Duration::from_millis(200),
            startup_hellos: 5,
            hello_fast: Some(Duration::from_millis(100)),
            fast_linger: Duration::from_millis(2000),
            hold_factor_idle: 2.2,
            hold_factor_fast: 2.5,
            probes: 2,
            probe_interval: Duration::from_millis(12),
            ihu_every: 6,
            ihu_hold_factor: 6.0,
            update_interval: Duration::from_secs(120),
            route_expiry_factor: 3.5,
            triggered_delay: Duration::from_millis(40),
            urgent_delay: Duration::from_millis(4),
            ack_timeout: Duration::from_millis(30),
            max_retransmissions: 2,
            ack_failure_suspects: true,
            pending_timeout: Duration::from_millis(3000),
            voice_max_queue_delay: Duration::from_millis(100),
            voice_protection: VoiceProtection::Arq,
        }
    }

    /// RFC 8966 defaults (hello 4 s, IHU 3 × hello, update 16 s, no fast
    /// hellos, no link-layer feedback), to compare against in one run.
    pub fn babel_default() -> Self {
        Timers {
            hello_idle: Duration::from_secs(4),
            hello_startup: Duration::from_secs(4),
            startup_hellos: 0,
            hello_fast: None,
            fast_linger: Duration::from_millis(0),
            hold_factor_idle: 3.5,
            hold_factor_fast: 3.5,
            probes: 0,
            probe_interval: Duration::from_millis(100),
            ihu_every: 3,
            ihu_hold_factor: 3.5,
            update_interval: Duration::from_secs(16),
            route_expiry_factor: 3.5,
            triggered_delay: Duration::from_millis(40),
            urgent_delay: Duration::from_millis(4),
            ack_timeout: Duration::from_millis(30),
            max_retransmissions: 2,
            ack_failure_suspects: false,
            pending_timeout: Duration::from_millis(3000),
            voice_max_queue_delay: Duration::from_millis(100),
            voice_protection: VoiceProtection::Arq,
        }
    }
}

/// Configuration of one node.
#[derive(Debug, Clone)]
pub struct Config {
    pub timers: Timers,
    pub base_station: bool,
    /// Names carried in hellos as neighbour labels; the directory is where
    /// names are claimed and resolved.
    pub names: Vec<String>,
    /// The directory's lease, gossip timers and bounds.
    pub names_config: crate::names::NamesConfig,
    /// Store-and-forward messages: lifetime, copies, quotas, rate.
    pub msg_config: crate::msg::MsgConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: Timers::default(),
            base_station: false,
            names: Vec::new(),
            names_config: super::names_config(),
            msg_config: crate::msg::MsgConfig::default(),
        }
    }
}

mod ms_serde {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(v))
    }
}

mod opt_ms_serde {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_u64(0),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let v: u64 = serde::Deserialize::deserialize(d)?;
        Ok((v > 0).then(|| Duration::from_millis(v)))
    }
}
