//! The JSON the local API speaks. Field names are stable and documented in
//! docs/API.md; add fields, never rename or remove them.

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub names: Vec<String>,
    pub base_station: bool,
    pub interfaces: Vec<Interface>,
    pub neighbours: usize,
    pub routes: usize,
    pub uptime_s: f64,
    pub port: u16,
    pub nearest_base: Option<NodeId>,
    pub version: String,
    /// "open" (zero configuration) or "secured" (agency certificates).
    #[serde(default)]
    pub trust: String,
    pub stats: crate::node::Stats,
    pub daemon: DaemonStats,
    /// The application layer's refusals (forged in-dialog SIP).
    #[serde(default)]
    pub app: crate::app::AppStats,
    /// The SIP front, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<SipStatus>,
    /// Secured mode: the devices revoked here (the refusals are counted
    /// in `stats`: `rx_revoked`, `rx_revoked_data`, `rx_revoked_flood`).
    #[serde(default)]
    pub revocations: RevocationStatus,
}

/// Secured mode: revoked devices and the directory records refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RevocationStatus {
    pub revoked: Vec<RevokedDevice>,
    /// Directory records of revoked devices dropped or refused.
    pub records_revoked: u64,
}

/// One revoked device, as the revocation says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokedDevice {
    pub id: NodeId,
    pub reason: String,
    /// Unix seconds, by the CA's clock.
    pub issued: u64,
}

/// Body of `POST /v1/revocations`: a revocation, hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeRequest {
    pub revocation: String,
}

/// Answer of `POST /v1/revocations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeDone {
    pub id: NodeId,
    /// False when the device was revoked here already.
    pub new: bool,
}

/// The SIP front: where phones register, who is registered.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SipStatus {
    pub address: String,
    pub phones: Vec<PhoneBinding>,
    /// Phone calls (dialogs) held, lingering ended ones included.
    pub calls: usize,
    /// Messages refused as malformed since start.
    pub malformed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhoneBinding {
    pub role: String,
    pub contact: String,
    pub from: String,
    /// "udp" or "tcp".
    pub transport: String,
    pub expires_s: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    /// "ipv6" (link-local multicast) or "ipv4" (broadcast fallback).
    pub family: String,
    pub address: String,
}

/// Counters of the daemon shell (the core's are in `stats`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DaemonStats {
    /// Datagrams the kernel refused (buffer full, no route, interface gone).
    pub tx_errors: u64,
    /// Receive errors other than "would block".
    pub rx_errors: u64,
    /// Interfaces that came up / went away while running.
    pub iface_up: u64,
    pub iface_down: u64,
    /// Times the engine woke for its own timers (the node's next deadline,
    /// the interface rescan), not for a packet or a command: on a handset
    /// each one costs CPU and battery, so an idle node keeps them few.
    #[serde(default)]
    pub timer_wakeups: u64,
    /// Times the engine ran its own deadline more than
    /// 80 ms late (`STALL_WARN_MS`), or spent that long
    /// on one wake-up: the daemon itself stalled (CPU starvation, a slow
    /// disk), and its neighbours may have taken it for dead meanwhile.
    #[serde(default)]
    pub loop_stalls: u64,
    /// The longest such stall, in milliseconds.
    #[serde(default)]
    pub loop_stall_max_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Neighbour {
    pub id: NodeId,
    pub names: Vec<String>,
    pub iface: String,
    pub iface_index: u32,
    pub addr: String,
    /// Expected transmission count, both directions; null when unusable.
    pub etx: Option<f64>,
    pub cost: u16,
    pub rx_ratio: f64,
    pub last_heard_ms: u64,
    pub usable: bool,
    pub base_station: bool,
    pub mpr: bool,
    pub mpr_selector: bool,
    pub fast: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Route {
    pub dest: NodeId,
    pub names: Vec<String>,
    pub next_hop: NodeId,
    pub next_hop_names: Vec<String>,
    pub iface: String,
    pub metric: u16,
    pub hops: u8,
    pub seqno: u16,
    pub base_station: bool,
}

/// Body of `POST /v1/ping`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PingRequest {
    /// A node id (32 hex digits), a unique prefix of a known id, or a name.
    pub target: String,
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// 0 = until the client disconnects.
    #[serde(default)]
    pub count: u64,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_interval() -> u64 {
    1000
}
fn default_timeout() -> u64 {
    2000
}

/// One line of the ping stream (newline-delimited JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PingLine {
    /// The target was resolved; pinging starts.
    Start { target: NodeId, names: Vec<String> },
    Reply {
        seq: u64,
        hops: u8,
        rtt_ms: f64,
        /// Milliseconds since the stream started, when the reply arrived.
        at_ms: f64,
    },
    /// No reply within `timeout_ms`.
    Timeout { seq: u64 },
    /// The node refused to send (e.g. queue full).
    Error { seq: u64, error: String },
    Summary {
        sent: u64,
        received: u64,
        loss_pct: f64,
        rtt_min_ms: Option<f64>,
        rtt_avg_ms: Option<f64>,
        rtt_max_ms: Option<f64>,
    },
}

/// What `GET /v1/events` streams (server-sent events; the SSE event name is
/// the `type`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ApiEvent {
    NeighbourUp {
        id: NodeId,
        names: Vec<String>,
        iface: String,
        addr: String,
    },
    NeighbourDown {
        id: NodeId,
        iface: String,
    },
    RouteChanged {
        dest: NodeId,
        next_hop: Option<NodeId>,
        metric: u16,
        hops: u8,
    },
    IfaceUp {
        name: String,
        index: u32,
    },
    IfaceDown {
        name: String,
        index: u32,
    },
    /// A directory record was added or replaced (claim, refresh, release).
    NameChanged {
        name: String,
        holder: NodeId,
    },
    /// A lease ran out: `name` no longer resolves to `holder`.
    NameExpired {
        name: String,
        holder: NodeId,
    },
    /// Two claims of an exclusive role met; `loser` no longer holds it.
    NameConflict {
        name: String,
        winner: NodeId,
        loser: NodeId,
    },
    /// The holder of `name` handed it to this node.
    HandoverReceived {
        name: String,
        from: NodeId,
    },
    /// This node's claim of `name` was withdrawn.
    NameWithdrawn {
        name: String,
        reason: String,
    },
    /// A record from neighbour `from` was refused.
    NameRejected {
        from: NodeId,
        reason: String,
    },
    /// A call for this node is ringing.
    CallIncoming {
        call: u64,
        from: String,
        node: NodeId,
    },
    /// A callee's phone is ringing (each forked holder reports).
    CallRinging {
        call: u64,
        by: NodeId,
    },
    CallAnswered {
        call: u64,
        by: NodeId,
    },
    /// `state` is "ended" or "failed" (with the SIP `code`).
    CallEnded {
        call: u64,
        state: String,
        code: Option<u16>,
        reason: String,
    },
    /// Floor control: granted, denied, revoked, time_limit, taken, idle;
    /// `who` is the holder, pre-empter or new talker where there is one.
    Floor {
        talkgroup: String,
        event: String,
        who: Option<String>,
    },
    /// This node declared a mayday.
    Mayday {
        node: NodeId,
    },
    /// This node started a PAR roll call (`par`: decimal id).
    ParStarted {
        par: String,
        talkgroup: Option<String>,
        members: Vec<String>,
    },
    /// A PAR roll call asks this node's user to report.
    ParRequest {
        par: String,
        from: String,
        talkgroup: Option<String>,
    },
    /// This node acknowledged a roll call.
    ParAnswered {
        par: String,
    },
    /// A member acknowledged a roll call this node started.
    ParAccounted {
        par: String,
        name: String,
        node: NodeId,
    },
    /// A roll call this node started closed: "all accounted" or
    /// "incomplete" (with the names of those missing).
    ParClosed {
        par: String,
        outcome: String,
        missing: Vec<String>,
    },
    /// A member's directory record went to emergency (seen here).
    MaydayRaised {
        node: NodeId,
        names: Vec<String>,
    },
    /// The console acknowledged a member's mayday.
    MaydayAcknowledged {
        node: NodeId,
        names: Vec<String>,
        reason: String,
    },
    /// The console cleared a member's mayday.
    MaydayCleared {
        node: NodeId,
        names: Vec<String>,
        reason: String,
    },
    /// A SIP phone registered here for a role (claimed in the directory).
    PhoneRegistered {
        role: String,
    },
    /// The last SIP phone of a role is gone (the role is released).
    PhoneUnregistered {
        role: String,
    },
    /// An instant text for a name held here with no phone to take it.
    Text {
        from: String,
        to: String,
        node: NodeId,
        body: String,
    },
    /// A push-to-talk burst ended: who talked, from when (Unix ms), how long.
    PttBurst {
        talkgroup: String,
        talker: Option<String>,
        start_ms: u64,
        length_ms: u64,
        /// Its file in the audio log (`GET /v1/audio/<file>`), when it
        /// was heard here and recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recording: Option<String>,
    },
    /// This node sent a message (stored; `recipients` are node ids).
    MessageSent {
        id: String,
        to: String,
        talkgroup: bool,
        recipients: Vec<NodeId>,
    },
    /// A message for the user (each id once).
    MessageReceived {
        id: String,
        from: NodeId,
        from_names: Vec<String>,
        to: String,
        text: String,
        seq: u64,
        n: i64,
    },
    /// A recipient's receipt for our message came back.
    MessageDelivered {
        id: String,
        to: NodeId,
        delivered: usize,
        total: usize,
    },
    /// Our message expired before `to` got it.
    MessageExpired {
        id: String,
        to: NodeId,
    },
    /// This node took custody of copies of someone's message.
    MessageCustody {
        id: String,
        src: NodeId,
        dst: NodeId,
        from: NodeId,
        copies: u8,
    },
    /// A node took custody of copies of a message this node held.
    MessageHanded {
        id: String,
        dst: NodeId,
        to: NodeId,
        copies: u8,
    },
    /// A message packet from `from` was refused (forged, not for us, a limit).
    MessageRefused {
        from: NodeId,
        reason: String,
    },
}

impl ApiEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            ApiEvent::NeighbourUp { .. } => "neighbour_up",
            ApiEvent::NeighbourDown { .. } => "neighbour_down",
            ApiEvent::RouteChanged { .. } => "route_changed",
            ApiEvent::IfaceUp { .. } => "iface_up",
            ApiEvent::IfaceDown { .. } => "iface_down",
            ApiEvent::NameChanged { .. } => "name_changed",
            ApiEvent::NameExpired { .. } => "name_expired",
            ApiEvent::NameConflict { .. } => "name_conflict",
            ApiEvent::HandoverReceived { .. } => "handover_received",
            ApiEvent::NameWithdrawn { .. } => "name_withdrawn",
            ApiEvent::NameRejected { .. } => "name_rejected",
            ApiEvent::CallIncoming { .. } => "call_incoming",
            ApiEvent::CallRinging { .. } => "call_ringing",
            ApiEvent::CallAnswered { .. } => "call_answered",
            ApiEvent::CallEnded { .. } => "call_ended",
            ApiEvent::Floor { .. } => "floor",
            ApiEvent::Mayday { .. } => "mayday",
            ApiEvent::ParStarted { .. } => "par_started",
            ApiEvent::ParRequest { .. } => "par_request",
            ApiEvent::ParAnswered { .. } => "par_answered",
            ApiEvent::ParAccounted { .. } => "par_accounted",
            ApiEvent::ParClosed { .. } => "par_closed",
            ApiEvent::MaydayRaised { .. } => "mayday_raised",
            ApiEvent::MaydayAcknowledged { .. } => "mayday_acknowledged",
            ApiEvent::MaydayCleared { .. } => "mayday_cleared",
            ApiEvent::PhoneRegistered { .. } => "phone_registered",
            ApiEvent::PhoneUnregistered { .. } => "phone_unregistered",
            ApiEvent::Text { .. } => "text",
            ApiEvent::PttBurst { .. } => "ptt_burst",
            ApiEvent::MessageSent { .. } => "message_sent",
            ApiEvent::MessageReceived { .. } => "message_received",
            ApiEvent::MessageDelivered { .. } => "message_delivered",
            ApiEvent::MessageExpired { .. } => "message_expired",
            ApiEvent::MessageCustody { .. } => "message_custody",
            ApiEvent::MessageHanded { .. } => "message_handed",
            ApiEvent::MessageRefused { .. } => "message_refused",
        }
    }
}

/// Body of `POST /v1/bench/send` (bench endpoints are off unless enabled).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchSend {
    pub target: String,
    pub count: u64,
    /// Packets per second; 0 = as fast as the node takes them.
    #[serde(default)]
    pub pps: u64,
    /// Payload bytes (at least 8: the send timestamp).
    #[serde(default = "default_bench_size")]
    pub size: usize,
}

fn default_bench_size() -> usize {
    160
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchSent {
    pub sent: u64,
    pub refused: u64,
    pub elapsed_ms: f64,
}

/// What a bench sink received since the last reset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchRecv {
    pub received: u64,
    /// From the first to the last arrival.
    pub span_ms: f64,
    pub pps: f64,
    /// One-way latency from the sender's clock (same host: namespaces share
    /// CLOCK_BOOTTIME).
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
    pub latency_max_us: Option<u64>,
}

/// One directory record as tools show it (`GET /v1/names`,
/// `GET /v1/names/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameRecord {
    pub name: String,
    pub holder: NodeId,
    /// Other names the holder answers to.
    pub holder_names: Vec<String>,
    pub agency: String,
    pub unit: String,
    pub talkgroups: Vec<String>,
    /// "available", "busy", "emergency" or "off-duty".
    pub presence: String,
    pub position: Option<PositionDto>,
    pub exclusive: bool,
    pub version: u64,
    /// Seconds until the lease runs out here unless refreshed.
    pub lease_remaining_s: f64,
    /// Milliseconds since this version arrived.
    pub last_heard_ms: u64,
    /// Milliseconds since the route to the holder was lost (since the
    /// daemon started if it never had one); `None` while reachable: a
    /// route lives only as long as the holder's neighbours hear it, so
    /// this is how long the mesh has not heard it.
    #[serde(default)]
    pub unreachable_ms: Option<u64>,
    /// This node holds the name.
    pub local: bool,
    /// There is a route to the holder now (always true for `local`).
    pub reachable: bool,
    pub hops: Option<u8>,
    pub metric: Option<u16>,
    pub next_hop: Option<NodeId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PositionDto {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: u16,
    /// Fix time, Unix seconds by the holder's clock.
    pub time_s: u64,
}

/// Body of `POST /v1/claim`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub name: String,
    #[serde(default)]
    pub exclusive: bool,
}

/// Body of `POST /v1/release`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRequest {
    pub name: String,
}

/// Body of `POST /v1/handover`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandoverRequest {
    pub name: String,
    /// A node id, a unique id prefix, or a name that resolves to one node.
    pub to: String,
}

/// Body of `POST /v1/presence`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresenceRequest {
    /// "available", "busy", "emergency" or "off-duty".
    pub presence: String,
}

/// Answer of the directory's POST endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamesDone {
    pub ok: bool,
    /// The names this node holds after the change.
    pub held: Vec<String>,
}

/// Body of `POST /v1/calls`: call the holders of `name`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DialRequest {
    pub name: String,
    /// A 16 kHz mono WAV to send (default: silence).
    #[serde(default)]
    pub wav: Option<std::path::PathBuf>,
    /// Record what the far end sends here (WAV).
    #[serde(default)]
    pub record: Option<std::path::PathBuf>,
    /// Capture from this sound card (a name from `callsign audio devices`,
    /// or `default`) when no `wav` is given.
    #[serde(default)]
    pub audio_in: Option<String>,
    /// Play the far end on this sound card when no `record` is given.
    #[serde(default)]
    pub audio_out: Option<String>,
}

/// Body of `POST /v1/answer`: the ringing call (`call`, or the first one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AnswerRequest {
    #[serde(default)]
    pub call: Option<u64>,
    #[serde(default)]
    pub wav: Option<std::path::PathBuf>,
    #[serde(default)]
    pub record: Option<std::path::PathBuf>,
    /// As in `DialRequest`: sound cards, when no WAV is given.
    #[serde(default)]
    pub audio_in: Option<String>,
    #[serde(default)]
    pub audio_out: Option<String>,
}

/// Body of `POST /v1/hangup`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HangupRequest {
    #[serde(default)]
    pub call: Option<u64>,
}

/// A call as `GET /v1/calls` lists it. Times count from when it began here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    pub id: u64,
    /// "out" (we dialled) or "in".
    pub direction: String,
    /// The name dialled, or the caller's name.
    pub name: String,
    /// The node at the other end, once known.
    pub peer: Option<NodeId>,
    /// dialing, ringing, active, ended, failed.
    pub state: String,
    /// SIP status of a failure: 404 unknown name, 480 unreachable, 486 busy.
    pub code: Option<u16>,
    pub reason: Option<String>,
    pub ringing_ms: Option<u64>,
    pub answered_ms: Option<u64>,
    pub age_ms: u64,
    pub media: Option<MediaStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaStats {
    pub frames_sent: u64,
    pub frame_ms: u64,
    /// The loss our encoder plans its in-band FEC for (from the far end's stream).
    pub expected_loss_pct: u8,
    /// Frames that failed end-to-end authentication.
    pub rejected: u64,
    pub source: Option<String>,
    pub source_ended: bool,
    pub rx: RxStats,
    /// For a call bridged to a SIP phone: its RTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneMediaStats>,
}

/// A SIP phone's side of a bridged call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhoneMediaStats {
    pub codec: String,
    pub rtp_from_phone: u64,
    pub rtp_to_phone: u64,
    pub dtmf_from_phone: u64,
    pub dtmf_to_phone: u64,
    /// RTP dropped: other payload type, late, malformed, other source.
    pub dropped: u64,
}

/// The receiving side of a stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RxStats {
    pub received: u64,
    pub played: u64,
    pub concealed: u64,
    pub fec: u64,
    pub late_dropped: u64,
    /// Playout held a slot to lengthen the buffer / skipped a frame to shorten it.
    pub stretched: u64,
    pub skipped: u64,
    pub jitter_target_ms: u64,
    /// Capture to playout (the sender's timestamp; sound-card buffers excluded).
    pub m2e_p50_ms: Option<u64>,
    pub m2e_p95_ms: Option<u64>,
    /// Longest time between two arriving frames.
    pub max_gap_ms: u64,
    pub loss_pct: f64,
    pub recording: Option<String>,
    /// The sound card the stream plays on.
    #[serde(default)]
    pub playback: Option<String>,
}

/// Body of `POST /v1/talkgroups/{name}/listen`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListenRequest {
    #[serde(default)]
    pub record: Option<std::path::PathBuf>,
    /// Play the bursts on this sound card when no `record` is given.
    #[serde(default)]
    pub audio_out: Option<String>,
}

/// Body of `POST /v1/talkgroups/{name}/ptt`: press (released when the WAV ends).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PttRequest {
    #[serde(default)]
    pub wav: Option<std::path::PathBuf>,
    /// Talk from this sound card when no `wav` is given (released by
    /// `/release`, the burst does not end on its own).
    #[serde(default)]
    pub audio_in: Option<String>,
    /// normal, command or emergency.
    #[serde(default)]
    pub priority: Option<String>,
    /// Talk what the page posts to `/v1/talkgroups/{name}/audio` (a
    /// browser's microphone) instead of a file or sound card.
    #[serde(default)]
    pub browser: bool,
}

/// Body of `POST /v1/mayday`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MaydayRequest {
    /// Join this talkgroup first.
    #[serde(default)]
    pub talkgroup: Option<String>,
    #[serde(default)]
    pub wav: Option<std::path::PathBuf>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub accuracy_m: Option<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Talker {
    pub node: NodeId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Talkgroup {
    pub name: String,
    pub talker: Option<Talker>,
    pub transmitting: bool,
    pub requesting: bool,
    pub last_outcome: Option<String>,
    /// Press-to-permit times of this node's grants.
    pub access_count: usize,
    pub access_p50_ms: Option<u64>,
    pub access_p95_ms: Option<u64>,
    pub bursts_heard: u64,
    pub recording: Option<String>,
    /// Our bursts' encoder: Opus bit rate, and the loss its FEC is
    /// planned for (the worst listener's recent report; 0 when nobody
    /// reports loss).
    pub bitrate: u32,
    pub expected_loss_pct: u8,
    pub frames_sent: u64,
    /// The epoch of the key the talkgroup is private under; null: open.
    #[serde(default)]
    pub key_epoch: Option<u32>,
    pub rx: RxStats,
}

/// `GET /v1/position`: where this node is, from `--gpsd`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PositionStatus {
    /// "gpsd HOST:PORT", or null without `--gpsd`.
    pub source: Option<String>,
    /// The last fix that passed the movement and rate limits.
    pub fix: Option<super::gpsd::Fix>,
    /// Fixes that passed them since start.
    pub published: u64,
}
