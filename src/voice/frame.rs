//! The voice payload a flow frame carries (the `payload` of
//! `Node::send_voice`, next to the node's 16-bit frame `seq`):
//!
//! ```text
//! +--------+--------+------------------------------+
//! | capture_ms (u16) |  body: sealed Opus bytes     |
//! +--------+--------+  (ciphertext + 4-byte tag),   |
//!                   |  or plain Opus for talkgroups |
//!                   +------------------------------+
//! ```
//!
//! `capture_ms` is the sender's clock in milliseconds mod 2^16 when the
//! frame's first sample was captured: with clocks compared once (or an
//! echo), it gives mouth-to-ear delay figures without a second header. Two
//! bytes wrap every 65.5 s, far longer than any frame is worth waiting for.
//!
//! The 16-bit flow seq wraps every 22 minutes at 50 frames/s; nonces must
//! not, so [`FrameIndex`] extends it to 64 bits on receive the way SRTP
//! guesses its rollover counter.

use super::VoiceError;

/// Bytes the frame layout adds in front of the body.
pub const FRAME_HEADER_LEN: usize = 2;

/// One decoded voice payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceFrame {
    /// Sender clock at capture, ms mod 2^16.
    pub capture_ms: u16,
    /// Sealed (1:1 call) or plain (talkgroup) Opus bytes.
    pub body: Vec<u8>,
}

impl VoiceFrame {
    /// The capture time field for a sender clock reading.
    pub fn capture_ms_of(now: crate::time::Instant) -> u16 {
        ((now.as_micros() / 1000) % 65536) as u16
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FRAME_HEADER_LEN + self.body.len());
        out.extend_from_slice(&self.capture_ms.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Total: any byte string of 2 or more bytes is a frame (the body is
    /// checked by [`super::MediaKeys::open`] or the codec), shorter ones are
    /// an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, VoiceError> {
        match bytes {
            [hi, lo, body @ ..] => Ok(VoiceFrame {
                capture_ms: u16::from_be_bytes([*hi, *lo]),
                body: body.to_vec(),
            }),
            _ => Err(VoiceError::ShortFrame(bytes.len())),
        }
    }
}

/// Extends the 16-bit flow seq of one direction to a 64-bit frame index,
/// SRTP style (RFC 3711 §3.3.1): the rollover count is guessed from the
/// highest index seen so far, assuming reordering of less than half the
/// seq space (about 11 minutes of audio).
///
/// Call [`FrameIndex::guess`] for an arriving seq, open the frame with that
/// index, and only if it authenticates call [`FrameIndex::accept`]: a
/// forged seq must not move the rollover counter.
#[derive(Debug, Clone, Default)]
pub struct FrameIndex {
    highest: Option<u64>,
}

impl FrameIndex {
    pub fn new() -> Self {
        FrameIndex::default()
    }

    /// The most likely 64-bit index of `seq`.
    pub fn guess(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            return u64::from(seq);
        };
        let roc = highest >> 16;
        let s_l = (highest & 0xffff) as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                // Far above a low highest: from before the last wrap. At
                // roc 0 there is no "before": keep roc 0 (it will fail to
                // authenticate if it really was a stale frame).
                roc.saturating_sub(1)
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            // Far below a high highest: the seq wrapped.
            roc.saturating_add(1)
        } else {
            roc
        };
        (v << 16) | u64::from(seq)
    }

    /// Record an authenticated index.
    pub fn accept(&mut self, index: u64) {
        if self.highest.is_none_or(|h| index > h) {
            self.highest = Some(index);
        }
    }

    /// The highest authenticated index, if any.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frame_layout() {
        let f = VoiceFrame {
            capture_ms: 0x1234,
            body: vec![9, 8, 7],
        };
        assert_eq!(f.encode(), vec![0x12, 0x34, 9, 8, 7]);
        assert_eq!(VoiceFrame::decode(&[0x12, 0x34, 9, 8, 7]), Ok(f));
        assert_eq!(VoiceFrame::decode(&[1]), Err(VoiceError::ShortFrame(1)));
        assert_eq!(VoiceFrame::decode(&[]), Err(VoiceError::ShortFrame(0)));
        assert_eq!(
            VoiceFrame::capture_ms_of(crate::time::Instant::from_millis(65_536 + 5)),
            5
        );
    }

    #[test]
    fn index_follows_wraps_and_reordering() {
        let mut ix = FrameIndex::new();
        assert_eq!(ix.guess(65_530), 65_530);
        ix.accept(65_530);
        // Across the wrap.
        assert_eq!(ix.guess(3), 65_536 + 3);
        ix.accept(65_536 + 3);
        // A late frame from before the wrap keeps the old roc.
        assert_eq!(ix.guess(65_534), 65_534);
        ix.accept(65_534);
        assert_eq!(ix.highest(), Some(65_539));
        // Ordinary progress.
        assert_eq!(ix.guess(4), 65_540);
        // At roc 0 a "very old" seq cannot go below zero.
        let mut ix = FrameIndex::new();
        ix.accept(10);
        assert_eq!(ix.guess(60_000), 60_000);
    }

    #[test]
    fn index_of_a_long_call_never_repeats() {
        // 3 wraps of in-order frames with a little reordering.
        let mut ix = FrameIndex::new();
        let mut seen = std::collections::BTreeSet::new();
        for i in 0u64..(3 * 65_536) {
            // Every 7th pair arrives swapped.
            let sent = match i % 7 {
                3 => i + 1,
                4 => i - 1,
                _ => i,
            };
            let got = ix.guess((sent & 0xffff) as u16);
            assert_eq!(got, sent);
            assert!(seen.insert(got), "index {got} repeated");
            ix.accept(got);
        }
    }

    proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            match VoiceFrame::decode(&bytes) {
                Ok(f) => prop_assert_eq!(f.encode(), bytes),
                Err(_) => prop_assert!(bytes.len() < FRAME_HEADER_LEN),
            }
        }

        #[test]
        fn frame_round_trip(capture_ms in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let f = VoiceFrame { capture_ms, body };
            prop_assert_eq!(VoiceFrame::decode(&f.encode()), Ok(f));
        }

        #[test]
        fn guess_is_exact_within_half_the_seq_space(highest in 0u64..(1 << 40), delta in -30_000i64..30_000) {
            let mut ix = FrameIndex::new();
            ix.accept(highest);
            let target = highest as i64 + delta;
            prop_assume!(target >= 0);
            prop_assert_eq!(ix.guess((target as u64 & 0xffff) as u16), target as u64);
        }
    }
}
