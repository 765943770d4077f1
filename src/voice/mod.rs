//! Voice payloads, sans-IO: what rides inside a flow frame
//! (`Node::send_voice`'s payload) and what the receiver does with it.
//!
//! | module | holds |
//! |---|---|
//! | [`crypto`] | end-to-end media keys of a 1:1 call: X25519, HKDF-SHA256, ChaCha20 + 4-byte HMAC tag |
//! | [`frame`] | the payload layout (capture time + sealed or plain Opus bytes) and the 16-bit to 64-bit index extension |
//! | [`jitter`] | the adaptive jitter buffer that turns arrivals into one decision per 20 ms playout tick |
//!
//! Like the rest of the core this never reads a clock or the OS random
//! source: `now` and random bytes are arguments. The codec itself (C
//! libopus) lives in `crate::audio`, behind the `daemon` feature.

pub mod crypto;
pub mod frame;
pub mod jitter;

pub use crypto::{KeyShare, MediaKeys, TAG_LEN};
pub use frame::{FrameIndex, VoiceFrame};
pub use jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};

/// Errors of the voice layer. Every decoder returns one of these for bad
/// input; none panics.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VoiceError {
    /// The peer's X25519 share gave an all-zero secret (a low-order point):
    /// an attacker (or a bug) could force a known key, so the call is refused.
    #[error("peer key share is a low-order point (all-zero shared secret)")]
    LowOrderPoint,
    /// A sealed frame shorter than its tag.
    #[error("sealed frame too short: {0} bytes")]
    ShortSealed(usize),
    /// Tag mismatch: forged, corrupted, wrong key or wrong index.
    #[error("voice frame failed authentication")]
    BadTag,
    /// A voice payload shorter than its 2-byte capture time.
    #[error("voice payload too short: {0} bytes")]
    ShortFrame(usize),
}
