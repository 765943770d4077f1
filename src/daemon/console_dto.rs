//! The API's data types for the console: PAR roll calls and the maydays
//! the console tracks (docs/API.md). Times are Unix milliseconds.

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

/// Body of `POST /v1/par`: a roll call of everyone, or of one talkgroup.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ParStartRequest {
    #[serde(default)]
    pub talkgroup: Option<String>,
    /// Seconds members have to answer [default: 60].
    #[serde(default)]
    pub window_s: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParMemberDto {
    pub node: NodeId,
    pub name: String,
    pub accounted: bool,
    /// Milliseconds from the start to the acknowledgement.
    pub acked_after_ms: Option<u64>,
}

/// A roll call this node started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParRoll {
    /// Decimal string: JavaScript numbers lose the low bits of a u64.
    pub par: String,
    /// Its short code for people, "3KX9" (`app::par::short_code`).
    #[serde(default)]
    pub code: String,
    pub talkgroup: Option<String>,
    pub started_ms: u64,
    pub deadline_ms: u64,
    /// "open", "all accounted" or "incomplete".
    pub state: String,
    /// The outcome in words: "all accounted", "incomplete: engine-3, ...",
    /// or "open: 3 of 5 accounted".
    pub summary: String,
    pub accounted: usize,
    pub members: Vec<ParMemberDto>,
}

/// A roll call waiting for this node's acknowledgement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParPendingDto {
    pub par: String,
    #[serde(default)]
    pub code: String,
    pub from: String,
    pub commander: NodeId,
    pub talkgroup: Option<String>,
}

/// `GET /v1/par`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParStatus {
    /// Roll calls started here, newest first.
    pub rolls: Vec<ParRoll>,
    /// Roll calls asking this node to report.
    pub pending: Vec<ParPendingDto>,
    /// The recurring PAR timer: when the next roll call is due (none
    /// before the first), its interval.
    pub next_due_ms: Option<u64>,
    pub interval_s: u64,
}

/// `POST /v1/par/ack`: the roll calls acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParAcked {
    pub acked: Vec<String>,
}

/// A member in emergency as the console tracks it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaydayDto {
    pub node: NodeId,
    pub names: Vec<String>,
    pub talkgroups: Vec<String>,
    pub position: Option<super::dto::PositionDto>,
    /// When this node first saw it.
    pub since_ms: u64,
    /// "active", "acknowledged" or "cleared".
    pub state: String,
    pub reason: Option<String>,
}

/// Body of `POST /v1/maydays/ack` and `/v1/maydays/clear`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaydayAction {
    pub node: NodeId,
    pub reason: String,
}

/// A node on the mesh map: every holder in the directory, every route
/// destination, and this node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeshNode {
    pub id: NodeId,
    /// The names it holds, exclusive roles first (empty if it holds none).
    pub names: Vec<String>,
    pub unit: String,
    pub base_station: bool,
    pub position: Option<super::dto::PositionDto>,
    /// Seconds since its neighbour list came (0 for this node, whose list
    /// is its neighbour table; `None` while none has come).
    pub list_age_s: Option<f64>,
    /// This node is the one serving the API.
    pub local: bool,
    /// Hops from here by the route table (0 for this node; `None` when
    /// unreachable).
    pub hops: Option<u8>,
    /// From this node to it, both ends included: the route table's next
    /// hop, then the shortest path over the links below. Empty when
    /// unreachable; ends at the next hop when the links do not reach it.
    pub route: Vec<NodeId>,
}

/// Who hears whom. Each end reports its own neighbours when the map asks
/// it; a link both ends report takes the worse level.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeshLink {
    pub a: NodeId,
    pub b: NodeId,
    /// "good", "fair" or "poor" (see docs/API.md).
    pub quality: String,
}

/// `GET /v1/mesh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeshDto {
    pub node: NodeId,
    /// Seconds a map stays open after the last look: lists are fetched
    /// while it is.
    pub open_s: u64,
    pub nodes: Vec<MeshNode>,
    pub links: Vec<MeshLink>,
}
