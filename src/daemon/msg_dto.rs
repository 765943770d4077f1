//! The JSON of messages and the incident log (docs/API.md).

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendRequest {
    /// A role or person name, or a talkgroup with `talkgroup: true`.
    pub to: String,
    #[serde(default)]
    pub talkgroup: bool,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecipientDto {
    pub node: NodeId,
    pub names: Vec<String>,
    pub seq: u64,
    /// queued, forwarded, delivered or expired.
    pub state: String,
    /// Wall clock (Unix ms) of the receipt or the expiry.
    pub at_ms: Option<u64>,
}

/// One outgoing message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: String,
    pub to: String,
    pub talkgroup: bool,
    pub text: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// `queued`, `forwarded`, `delivered N of M`, `expired`.
    pub state: String,
    pub delivered: usize,
    pub total: usize,
    pub recipients: Vec<RecipientDto>,
}

/// One received message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxMessage {
    /// Position in this node's inbox (1, 2, ...): `?after=` takes it.
    pub n: i64,
    pub id: String,
    pub from: NodeId,
    pub from_names: Vec<String>,
    pub to: String,
    pub talkgroup: bool,
    pub text: String,
    /// The sender's sequence number for this node.
    pub seq: u64,
    pub created_ms: u64,
    pub received_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    pub after: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogQuery {
    /// Unix ms, or seconds ago with `ago_s`.
    #[serde(default)]
    pub since_ms: Option<u64>,
    #[serde(default)]
    pub ago_s: Option<u64>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}
