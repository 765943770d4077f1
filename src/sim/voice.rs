//! Voice in the simulator, without a codec: when a device's application
//! layer asks for a frame ([`AppEvent::FrameDue`](crate::app::AppEvent))
//! the world hands it a payload of a real frame's size that says who sent
//! it and which frame it is; when a device plays a frame the world looks
//! at that payload and notes who heard what, when. The run turns the log
//! into figures (`docs/SIM.md`).

use crate::app::{Playout, Stream};
use crate::time::Instant;

/// Bytes of a simulated Opus frame: 28 kbit/s for 20 ms.
pub const DEFAULT_FRAME_BYTES: usize = 70;
const TAG: u8 = b'V';
/// The frame's identity: tag, sender, frame number.
const HEADER: usize = 9;

/// One frame a device sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sent {
    pub at: Instant,
    pub node: u32,
    pub stream: Stream,
}

/// One frame a device played, in time (the jitter buffer drops late ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Played {
    pub node: u32,
    /// Index into [`VoiceLog::sent`].
    pub frame: u32,
    /// Capture (the tick before the send) to playout.
    pub m2e_us: u32,
}

#[derive(Debug, Clone)]
pub struct VoiceLog {
    pub frame_bytes: usize,
    pub sent: Vec<Sent>,
    pub played: Vec<Played>,
    /// Played payloads that were not a simulated frame (never expected).
    pub foreign: u64,
}

impl Default for VoiceLog {
    fn default() -> Self {
        VoiceLog {
            frame_bytes: DEFAULT_FRAME_BYTES,
            sent: Vec::new(),
            played: Vec::new(),
            foreign: 0,
        }
    }
}

impl VoiceLog {
    /// The payload of the next frame node `i` sends on `stream`.
    pub fn frame(&mut self, now: Instant, i: usize, stream: Stream, _index: u64) -> Vec<u8> {
        let n = self.sent.len() as u32;
        self.sent.push(Sent {
            at: now,
            node: i as u32,
            stream,
        });
        let mut b = vec![0u8; self.frame_bytes.max(HEADER)];
        b[0] = TAG;
        b[1..5].copy_from_slice(&(i as u32).to_be_bytes());
        b[5..9].copy_from_slice(&n.to_be_bytes());
        b
    }

    /// Node `i` played `p` on `stream`.
    pub fn played(&mut self, now: Instant, i: usize, _stream: Stream, p: &Playout) {
        let Playout::Frame(b) = p else {
            return;
        };
        let id = match b.as_slice() {
            [TAG, _, _, _, _, f0, f1, f2, f3, ..] => u32::from_be_bytes([*f0, *f1, *f2, *f3]),
            _ => {
                self.foreign += 1;
                return;
            }
        };
        let Some(s) = self.sent.get(id as usize) else {
            self.foreign += 1;
            return;
        };
        // The frame's audio began one frame before it was asked for.
        let captured = s.at.as_micros().saturating_sub(20_000);
        let m2e = now.as_micros().saturating_sub(captured);
        self.played.push(Played {
            node: i as u32,
            frame: id,
            m2e_us: m2e.min(u32::MAX as u64) as u32,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeId;

    #[test]
    fn a_played_frame_is_traced_to_its_sender() {
        let mut v = VoiceLog::default();
        let s = Stream::Group(NodeId([1; 16]));
        let b = v.frame(Instant::from_millis(100), 3, s, 0);
        assert_eq!(b.len(), DEFAULT_FRAME_BYTES);
        v.played(Instant::from_millis(160), 5, s, &Playout::Frame(b));
        v.played(Instant::from_millis(180), 5, s, &Playout::Conceal);
        assert_eq!(
            v.played,
            vec![Played {
                node: 5,
                frame: 0,
                m2e_us: 80_000
            }]
        );
        v.played(Instant::from_millis(180), 5, s, &Playout::Frame(vec![1, 2]));
        assert_eq!(v.foreign, 1);
    }
}
