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
//!
//! A 1:1 call adds [`PAYLOAD_OVERHEAD`] = 6 bytes to each Opus frame (2 of
//! capture time, 4 of tag); the mesh's flow header comes on top.
//!
//! # The calling contract
//!
//! Sender, every 20 ms: encode a frame; `seq` advances by one per frame
//! period whether or not the frame is sent (DTX), so `index = seq`
//! extended is the media clock; seal with `index`, wrap in a
//! [`VoiceFrame`], hand to `Node::send_voice(now, dst, label, seq, ..)`.
//! Receiver, per `Event::VoiceFrame`: decode the [`VoiceFrame`], guess the
//! index from `seq` with [`FrameIndex`], open it, and only when it opens
//! `accept` the index and `push` the Opus bytes into the
//! [`JitterBuffer`]; every 20 ms `pop` and decode as [`Playout`] says.
//!
//! ```
//! use callsign::time::Instant;
//! use callsign::voice::*;
//!
//! let (a, b) = (KeyShare::new([1; 32]), KeyShare::new([2; 32]));
//! let tx = MediaKeys::derive(&a, &b.public(), b"call-id", true).unwrap();
//! let rx = MediaKeys::derive(&b, &a.public(), b"call-id", false).unwrap();
//! let (label, seq, opus) = (0x1234, 7u16, b"opus frame".to_vec());
//! let now = Instant::from_millis(140);
//!
//! // Sender: the payload for Node::send_voice.
//! let payload = VoiceFrame { capture_ms: VoiceFrame::capture_ms_of(now), body: tx.seal(label, u64::from(seq), &opus) }.encode();
//! assert_eq!(payload.len(), opus.len() + PAYLOAD_OVERHEAD);
//!
//! // Receiver, on Event::VoiceFrame { label, seq, payload, .. }.
//! let mut index = FrameIndex::new();
//! let mut jitter = JitterBuffer::new(JitterConfig::default());
//! let frame = VoiceFrame::decode(&payload).unwrap();
//! let ix = index.guess(seq);
//! let plain = rx.open(label, ix, &frame.body).unwrap();
//! index.accept(ix);
//! jitter.push(now, ix, plain);
//! // The playout tick, every 20 ms: silence until the target delay passed.
//! assert_eq!(jitter.pop(now), Playout::Silence);
//! assert_eq!(jitter.pop(Instant::from_millis(200)), Playout::Frame(opus));
//! ```

pub mod call_payload;
pub mod crypto;
pub mod frame;
pub mod jitter;

pub use crypto::{KeyShare, MediaKeys, TAG_LEN};
pub use frame::{FRAME_HEADER_LEN, FrameIndex, VoiceFrame};

/// Bytes a sealed voice payload adds to the Opus frame.
pub const PAYLOAD_OVERHEAD: usize = FRAME_HEADER_LEN + TAG_LEN;
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
