//! The types a driver exchanges with [`super::Node`].

use std::net::SocketAddr;

use crate::identity::NodeId;
pub use crate::link::{FloodProtection, IfaceId, Timers, VoiceProtection};
use crate::time::Instant;

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
    /// Secured mode: a root revoked device `id` and this node learnt it
    /// (from the operator or a neighbour); the device is shut out. The
    /// driver persists `revocation` so that it holds after a restart.
    Revoked { id: NodeId, revocation: Vec<u8> },
    /// Secured mode: a revocation from neighbour `from` was refused
    /// (malformed, not signed by a root, or the list is full).
    RevocationRefused { from: NodeId, reason: String },
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
    /// Voice floods a neighbour that chose us sent after another already
    /// had, whose relaying was held back and then found not needed.
    pub flood_relays_held: u64,
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
    /// Secured mode: link-local packets from a revoked device (dropped).
    #[serde(default)]
    pub rx_revoked: u64,
    /// Secured mode: unicast data a revoked device originated (neither
    /// delivered nor relayed).
    #[serde(default)]
    pub rx_revoked_data: u64,
    /// Secured mode: floods a revoked device originated (talkgroup voice
    /// and floor messages among them; neither delivered nor relayed).
    #[serde(default)]
    pub rx_revoked_flood: u64,
    /// Secured mode: revocations taken (new here).
    #[serde(default)]
    pub revocations_learned: u64,
    /// Secured mode: revocations refused (malformed, not signed by a
    /// trust root, list full).
    #[serde(default)]
    pub revocations_refused: u64,
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
    /// Voice floods found missing (`flood::repair`).
    #[serde(default)]
    pub flood_gaps: u64,
    /// NACKs sent for them.
    #[serde(default)]
    pub flood_nacks_sent: u64,
    /// Copies sent in answer to neighbours' NACKs.
    #[serde(default)]
    pub flood_repairs_sent: u64,
    /// Missing voice floods that came after all.
    #[serde(default)]
    pub flood_repaired: u64,
    /// Missing voice floods given up at their deadline.
    #[serde(default)]
    pub flood_given_up: u64,
    /// Voice floods sent a second time (a relay not heard passing the
    /// first on).
    #[serde(default)]
    pub flood_repeats_sent: u64,
    /// Second sendings saved: every relay passed the first on.
    #[serde(default)]
    pub flood_repeats_saved: u64,
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
        self.flood_relays_held += o.flood_relays_held;
        self.seqno_requests_sent += o.seqno_requests_sent;
        self.neighbour_losses += o.neighbour_losses;
        self.rx_auth_failed += o.rx_auth_failed;
        self.rx_unenrolled += o.rx_unenrolled;
        self.certs_learned += o.certs_learned;
        self.certs_refused += o.certs_refused;
        self.rx_revoked += o.rx_revoked;
        self.rx_revoked_data += o.rx_revoked_data;
        self.rx_revoked_flood += o.rx_revoked_flood;
        self.revocations_learned += o.revocations_learned;
        self.revocations_refused += o.revocations_refused;
        self.voice_sent += o.voice_sent;
        self.voice_relayed += o.voice_relayed;
        self.voice_delivered += o.voice_delivered;
        self.voice_retransmissions += o.voice_retransmissions;
        self.voice_dropped_late += o.voice_dropped_late;
        self.voice_label_misses += o.voice_label_misses;
        self.flood_gaps += o.flood_gaps;
        self.flood_nacks_sent += o.flood_nacks_sent;
        self.flood_repairs_sent += o.flood_repairs_sent;
        self.flood_repaired += o.flood_repaired;
        self.flood_given_up += o.flood_given_up;
        self.flood_repeats_sent += o.flood_repeats_sent;
        self.flood_repeats_saved += o.flood_repeats_saved;
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
