//! What a 1:1 call frame carries inside its seal:
//!
//! ```text
//! +-------+--------+--------+---------------------------+
//! | kind  | rtp_ts (u16)    | Opus frame, or a 4-byte    |
//! |report |                 | telephone-event (RFC 4733) |
//! +-------+--------+--------+---------------------------+
//! ```
//!
//! The first byte's top bit says telephone-event (DTMF) rather than audio;
//! its low 7 bits are the loss (percent, 0..=100) the sender measures on
//! the stream coming the other way, or 127 for "nothing measured": the
//! far encoder plans its FEC on it. `rtp_ts` is the low 16 bits of the
//! stream's RTP timestamp at 48 kHz from its start: with the flow index
//! (the sequence) and the frame's capture time, the far daemon rebuilds a
//! phone's RTP timing exactly across silences (see `phone`).

use super::VoiceError;

/// Bytes in front of the body.
pub const HEADER: usize = 3;
const EVENT: u8 = 0x80;
/// The report value meaning "nothing measured yet".
pub const NO_REPORT: u8 = 0x7f;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallPayload<'a> {
    /// A telephone-event rather than an Opus frame.
    pub event: bool,
    /// Loss the sender sees on the reverse stream, percent.
    pub report: Option<u8>,
    pub rtp_ts: u16,
    pub body: &'a [u8],
}

impl<'a> CallPayload<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let r = self.report.map_or(NO_REPORT, |r| r.min(100));
        let mut v = Vec::with_capacity(HEADER + self.body.len());
        v.push(r | if self.event { EVENT } else { 0 });
        v.extend_from_slice(&self.rtp_ts.to_be_bytes());
        v.extend_from_slice(self.body);
        v
    }

    pub fn decode(b: &'a [u8]) -> Result<CallPayload<'a>, VoiceError> {
        let [k, hi, lo, body @ ..] = b else {
            return Err(VoiceError::ShortFrame(b.len()));
        };
        let r = k & !EVENT;
        Ok(CallPayload {
            event: k & EVENT != 0,
            report: (r <= 100).then_some(r),
            rtp_ts: u16::from_be_bytes([*hi, *lo]),
            body,
        })
    }
}

/// Rebuilds a full RTP timestamp from its low 16 bits: the candidate
/// nearest `prev + elapsed`, where `elapsed` comes from the frames'
/// capture times (so a silence of many seconds does not confuse it).
pub fn extend_ts(prev: u64, elapsed_ticks: u64, low: u16) -> u64 {
    let guess = prev + elapsed_ticks;
    let base = guess & !0xffff;
    [base.saturating_sub(0x1_0000), base, base + 0x1_0000]
        .into_iter()
        .map(|b| b | u64::from(low))
        .min_by_key(|c| c.abs_diff(guess))
        .unwrap_or(guess)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_input() {
        let p = CallPayload {
            event: true,
            report: Some(12),
            rtp_ts: 0xbeef,
            body: &[1, 2, 3, 4],
        };
        assert_eq!(CallPayload::decode(&p.encode()).unwrap(), p);
        let q = CallPayload {
            event: false,
            report: None,
            rtp_ts: 0,
            body: b"",
        };
        assert_eq!(CallPayload::decode(&q.encode()).unwrap(), q);
        for n in 0..3 {
            assert!(CallPayload::decode(&[0u8; 3][..n]).is_err());
        }
    }

    #[test]
    fn timestamps_survive_wraps_and_long_silences() {
        // 20 ms steps at 48 kHz, across a wrap of the low 16 bits.
        let mut prev = 0u64;
        for i in 1..200u64 {
            let ts = i * 960;
            prev = extend_ts(prev, 960, ts as u16);
            assert_eq!(prev, ts);
        }
        // 9 s of silence, the capture clock says about 9 s (±30 ms).
        let ts = prev + 9 * 48_000;
        assert_eq!(extend_ts(prev, 9 * 48_000 + 1440, ts as u16), ts);
        assert_eq!(extend_ts(prev, 9 * 48_000 - 1440, ts as u16), ts);
    }
}
