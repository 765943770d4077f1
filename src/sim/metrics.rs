//! The figures a run reports. Field order here is the JSON field order.

use serde::Serialize;

/// Control traffic on air per node, by packet type (bits/s/node).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ControlBreakdown {
    pub hello: f64,
    pub update: f64,
    pub request: f64,
    pub ack: f64,
    /// Directory gossip measured in the idle window (digests, refreshes
    /// that fell in it).
    pub names: f64,
    /// Directory refreshes at their steady rate (see `docs/SIM.md`),
    /// included in `control_bits_per_s_per_node`.
    pub names_refresh: f64,
}

/// Datagrams put on air over the whole run, by packet type.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AirPackets {
    pub hello: u64,
    pub update: u64,
    pub request: u64,
    pub ack: u64,
    pub data: u64,
    pub flood: u64,
    pub names: u64,
    /// Requests for lost voice floods (their repairs are floods).
    pub nack: u64,
    /// Receptions dropped by the loss model.
    pub lost: u64,
}

/// One node failure and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kill {
    pub node: String,
    pub at_ms: f64,
    /// `flow`: it relayed a probe flow; `idle`: it relayed routes but no
    /// flow; `other`: neither (a scenario failure of a leaf, say).
    pub kind: String,
    /// The flow whose path it was on (flow kills).
    pub flow: Option<usize>,
    /// Source-destination pairs whose route went through it.
    pub affected_pairs: usize,
    /// Flow kills: until the first packet sent after the kill arrived.
    /// Idle kills: until every affected pair had a valid route again.
    /// `None`: not repaired before the next phase.
    pub repair_ms: Option<f64>,
}

/// The voice phase's figures (`--ptt`, `--calls`; see `docs/SIM.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VoiceReport {
    pub voice_window_s: f64,
    pub ptt_talkgroups: usize,
    /// Bursts that got the floor.
    pub ptt_bursts: u64,
    pub ptt_denied: u64,
    pub ptt_frames_sent: u64,
    /// Frames played in time over frames owed, over every member.
    pub ptt_frame_delivery_ratio: Option<f64>,
    /// The same for the worst member.
    pub ptt_frame_delivery_min: Option<f64>,
    /// Capture to playout.
    pub ptt_m2e_ms_p50: Option<f64>,
    pub ptt_m2e_ms_p95: Option<f64>,
    /// Press to talk permit.
    pub ptt_access_ms_p50: Option<f64>,
    pub ptt_access_ms_p95: Option<f64>,
    /// Floods and flood repairs on air per voice frame, per node.
    pub ptt_tx_per_frame_per_node: Option<f64>,
    /// Members' playout slots, summed: frames that came too late for
    /// their slot, and slots concealed (nothing to play mid-burst).
    pub ptt_late_dropped: u64,
    pub ptt_concealed: u64,
    pub calls: usize,
    pub call_failures: u64,
    pub call_frames_sent: u64,
    /// Frames played in time over frames sent while the call was up
    /// (from 100 ms after the answer to 200 ms before the hang-up).
    pub call_frame_delivery_ratio: Option<f64>,
    pub call_m2e_ms_p50: Option<f64>,
    pub call_m2e_ms_p95: Option<f64>,
}

/// The stall phase's figures (`--stalls`; see `docs/SIM.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StallReport {
    pub stall_lengths_ms: Vec<u64>,
    pub stalls_per_length: usize,
    /// Stalls applied (a node already dead or stalled is not stalled).
    pub stalls_done: usize,
    /// Neighbours declared dead anywhere in the mesh during the phase.
    pub stall_neighbour_deaths: u64,
    /// The same, from each stall's start to the next one's, per length.
    pub stall_neighbour_deaths_by_length: Vec<u64>,
    /// The most source-destination pairs without a valid route at any
    /// route check during the phase.
    pub stall_pairs_without_route_max: u64,
    /// Datagrams a stalled node's full socket buffer dropped.
    pub stall_datagrams_dropped: u64,
}

/// One simulated run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub name: String,
    pub scenario: Option<String>,
    pub topology: String,
    pub timers: String,
    pub nodes: usize,
    pub seed: u64,
    pub loss: f64,
    pub diameter_hops: u32,
    pub avg_degree: f64,
    pub converged: bool,
    pub converged_ms: Option<f64>,
    pub idle_window_s: f64,
    pub control_bits_per_s_per_node: Option<f64>,
    /// Control datagrams sent per node per second in the idle window
    /// (directory refreshes, about one per node per 900 s, not added).
    pub control_packets_per_s_per_node: Option<f64>,
    pub control_breakdown: ControlBreakdown,
    pub flows: usize,
    pub route_repair_ms_p50: Option<f64>,
    pub route_repair_ms_p95: Option<f64>,
    pub route_repair_unrepaired: usize,
    pub route_repair_idle_ms_p50: Option<f64>,
    pub route_repair_idle_ms_p95: Option<f64>,
    pub route_repair_idle_unrepaired: usize,
    pub delivery_ratio: Option<f64>,
    pub probe_packets_sent: u64,
    pub probe_packets_delivered: u64,
    pub probe_packets_excluded: u64,
    pub loops_detected: u64,
    pub loop_observations: u64,
    pub hop_limit_drops: u64,
    pub loop_checks: u64,
    /// Pairs in one component without a valid route at the last check.
    pub routes_missing_at_last_check: u64,
    pub loop_check_interval_ms: f64,
    /// A claim made at one node until every node in its component had it.
    pub name_propagation_ms_p50: Option<f64>,
    pub name_propagation_ms_p95: Option<f64>,
    pub name_probes: usize,
    pub name_probes_unresolved: usize,
    /// Directory bytes on air, mesh-wide, for one claim to spread.
    pub directory_bytes_per_claim: Option<f64>,
    pub directory_bytes_per_refresh: Option<f64>,
    pub directory_refresh_bits_per_s_per_node: Option<f64>,
    /// After a partition of two halves heals, until every directory is
    /// the same (same digest, one `command`).
    pub directory_converged_ms: Option<f64>,
    pub command_holders_after_merge: Option<usize>,
    pub exclusive_conflicts_seen: u64,
    pub floods: usize,
    pub flood_rebroadcast_ratio: Option<f64>,
    pub flood_delivery_ratio: Option<f64>,
    /// Talkgroups and calls (`--ptt`, `--calls`); absent otherwise.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub voice: Option<VoiceReport>,
    /// The stall phase (`--stalls`); absent otherwise.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stalls: Option<StallReport>,
    pub kills: Vec<Kill>,
    pub air_packets: AirPackets,
    /// Every node's counters summed (dead nodes as they were at death).
    pub node_stats: crate::node::Stats,
    pub sim_seconds: f64,
    pub events: u64,
    pub livelock_guards: u64,
    pub wall_ms: u64,
}

/// `--compare-babel`: the same world under both timer presets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub callsign: Report,
    pub babel_default: Report,
    /// Ours p95 / Babel p95 (below 1: we repair faster).
    pub route_repair_ratio_vs_babel: Option<f64>,
    pub route_repair_idle_ratio_vs_babel: Option<f64>,
    pub control_bits_ratio_vs_babel: Option<f64>,
}

impl Comparison {
    pub fn new(callsign: Report, babel_default: Report) -> Self {
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(round3(a / b)),
            _ => None,
        };
        Comparison {
            route_repair_ratio_vs_babel: ratio(
                callsign.route_repair_ms_p95,
                babel_default.route_repair_ms_p95,
            ),
            route_repair_idle_ratio_vs_babel: ratio(
                callsign.route_repair_idle_ms_p95,
                babel_default.route_repair_idle_ms_p95,
            ),
            control_bits_ratio_vs_babel: ratio(
                callsign.control_bits_per_s_per_node,
                babel_default.control_bits_per_s_per_node,
            ),
            callsign,
            babel_default,
        }
    }
}

pub use crate::stats::percentile;

/// Figures are printed to three decimals so the JSON stays readable and
/// byte-stable.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
