//! Floor control messages, flooded to the talkgroup by the driver.
//!
//! Deterministic CBOR through minicbor (an enum is an array whose first
//! element is the variant index), like [`crate::wire::control`]. The sender
//! of a message is not in the body: it is the origin of the flooded packet,
//! which the driver passes to [`super::Floor::handle`] as `from`.
//!
//! [`FloorMsg::decode`] is total: any byte string yields a message or a
//! [`FloorError`], never a panic, and names longer than [`MAX_NAME`] bytes
//! are rejected.

use minicbor::decode::Decoder;
use minicbor::{Decode, Encode};

use super::{FloorError, Priority};
use crate::identity::NodeId;

/// Longest talker name carried (a role name such as `engine-12-officer`).
/// Longer names are refused on decode and truncated on send.
pub const MAX_NAME: usize = 64;

/// One floor control message. `burst` identifies one talk burst of one
/// talker (see [`super::Floor::burst`]).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum FloorMsg {
    /// "I want the floor" (TS 24.380 Floor Request).
    #[n(0)]
    Request {
        #[n(0)]
        prio: Priority,
        #[n(1)]
        name: String,
    },
    /// "I hold the floor": sent when granted and repeated during the burst,
    /// so members that missed it (or joined late) learn the talker.
    #[n(1)]
    Taken {
        #[n(0)]
        burst: u32,
        #[n(1)]
        prio: Priority,
        #[n(2)]
        name: String,
    },
    /// The talker refuses `to`'s request. Carries the talker's burst, so
    /// every member that sees it also learns who talks.
    #[n(2)]
    Deny {
        #[n(0)]
        to: NodeId,
        #[n(1)]
        burst: u32,
        #[n(2)]
        prio: Priority,
        #[n(3)]
        name: String,
    },
    /// The talker was pre-empted by `to`'s higher-priority request and hands
    /// the floor to it at once, without making it wait out its request time.
    #[n(3)]
    Grant {
        #[n(0)]
        to: NodeId,
    },
    /// The talker ends burst `burst`: the floor is idle.
    #[n(4)]
    Release {
        #[n(0)]
        burst: u32,
    },
}

impl FloorMsg {
    pub fn encode(&self) -> Vec<u8> {
        // Writing into a Vec cannot fail.
        minicbor::to_vec(self).unwrap_or_default()
    }

    /// Decode one message: total, rejects trailing bytes and long names.
    pub fn decode(bytes: &[u8]) -> Result<FloorMsg, FloorError> {
        let mut d = Decoder::new(bytes);
        let m: FloorMsg = d.decode().map_err(|e| FloorError::Decode(e.to_string()))?;
        if d.position() != bytes.len() {
            return Err(FloorError::Decode("trailing bytes".into()));
        }
        match &m {
            FloorMsg::Request { name, .. }
            | FloorMsg::Taken { name, .. }
            | FloorMsg::Deny { name, .. }
                if name.len() > MAX_NAME =>
            {
                Err(FloorError::NameTooLong(name.len()))
            }
            _ => Ok(m),
        }
    }
}

/// Cut `name` to at most [`MAX_NAME`] bytes on a character boundary.
pub(super) fn bounded_name(name: &str) -> String {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}
