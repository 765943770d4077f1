//! The receiving half of one voice stream, without the codec: the jitter
//! buffer, the capture time that rides with each frame through it, and the
//! figures (mouth-to-ear, arrival gaps, measured loss) the API and the
//! simulator report. Every 20 ms tick the stream says what the decoder
//! does ([`Playout`]); the driver decodes it (the daemon) or counts it (the
//! simulator).

use crate::stats::percentile_ms;
use crate::time::Instant;
use crate::voice::jitter::{JitterBuffer, JitterConfig, Playout};

/// Mouth-to-ear samples kept per stream (the first ones are kept; 10
/// minutes of frames).
const MAX_M2E_SAMPLES: usize = 30_000;
/// Frames this short are the encoder's "send nothing" under DTX.
pub const DTX_MAX_LEN: usize = 2;
/// Frames of a loss window.
const LOSS_WINDOW: u64 = 50;
/// Loss is figured over this many recent windows (5 s of speech).
const LOSS_WINDOWS: usize = 5;
/// A loss figure needs this many lost frames behind it, or all the
/// windows: one frame lost of 50 is not "2 % loss", and FEC planned on
/// it costs every frame of a clean path 0.45 PESQ-WB.
const MIN_LOST: u64 = 3;
/// A gap of this many slots or more is silence, not loss.
const LONG_GAP: u64 = 10;

/// What a stream's receiver measured.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PlayoutStats {
    pub received: u64,
    pub played: u64,
    pub concealed: u64,
    pub fec: u64,
    pub late_dropped: u64,
    pub stretched: u64,
    pub skipped: u64,
    pub jitter_target_ms: u64,
    pub m2e_p50_ms: Option<u64>,
    pub m2e_p95_ms: Option<u64>,
    /// Longest time between two arriving frames of one talk stream.
    pub max_gap_ms: u64,
    /// Loss over the last full windows of 50 frames (up to 250), percent.
    pub loss_pct: f64,
}

/// One stream's receiver: push frames as they arrive, `tick` every 20 ms.
#[derive(Debug)]
pub struct Stream {
    cfg: JitterConfig,
    jb: JitterBuffer,
    /// Counters of buffers replaced by `restart` (a new talker or burst).
    done: crate::voice::JitterStats,
    received: u64,
    m2e: Vec<u32>,
    last_arrival: Option<Instant>,
    max_gap_ms: u64,
    /// Loss window: frames heard, slots they span, highest index.
    window: (u64, u64, Option<u64>),
    /// Which of the 64 slots up to the highest index were heard (bit `d`
    /// is slot `highest - d`): a frame that comes late, by a redundant
    /// copy or a repair, was not lost.
    seen: u64,
    last_dtx: bool,
    /// Frames heard and slots spanned by the last full windows.
    windows: std::collections::VecDeque<(u64, u64)>,
    measured: bool,
    loss_pct: f64,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new(JitterConfig::default())
    }
}

impl Stream {
    pub fn new(cfg: JitterConfig) -> Stream {
        Stream {
            cfg,
            jb: JitterBuffer::new(cfg),
            done: Default::default(),
            received: 0,
            m2e: Vec::new(),
            last_arrival: None,
            max_gap_ms: 0,
            window: (0, 0, None),
            seen: 0,
            last_dtx: false,
            windows: std::collections::VecDeque::with_capacity(LOSS_WINDOWS),
            measured: false,
            loss_pct: 0.0,
        }
    }

    /// A new talker or burst: its frame counter starts afresh, so do the
    /// buffer and the loss window; the figures go on. The new buffer starts
    /// from the cold-start delay, not from what the last one learnt: a new
    /// talker's frames come over other paths, and a buffer that started
    /// from a far talker's delay with a near one skipped frames to catch up
    /// (every other frame of the first ten, in the simulator).
    pub fn restart(&mut self) {
        let s = self.jb.stats();
        let d = &mut self.done;
        d.played += s.played;
        d.concealed += s.concealed;
        d.fec += s.fec;
        d.late_dropped += s.late_dropped;
        d.stretched += s.stretched;
        d.skipped += s.skipped;
        d.overflow += s.overflow;
        d.duplicates += s.duplicates;
        self.jb = JitterBuffer::new(self.cfg);
        self.last_arrival = None;
        self.window = (0, 0, None);
        self.seen = 0;
        // A new talker's loss is its own: nothing is reported until a
        // window of its frames has been measured.
        self.windows.clear();
        self.measured = false;
    }

    /// A frame arrived: `index` from the sender's media clock, the sender's
    /// capture time, the codec bytes.
    pub fn push(&mut self, now: Instant, index: u64, capture_ms: u16, body: &[u8]) {
        self.received += 1;
        if let Some(last) = self.last_arrival {
            let gap = now.saturating_since(last).as_millis() as u64;
            self.max_gap_ms = self.max_gap_ms.max(gap);
        }
        self.last_arrival = Some(now);
        self.count_loss(index, body.len());
        // The capture time rides with the frame through the buffer.
        let mut b = Vec::with_capacity(2 + body.len());
        b.extend_from_slice(&capture_ms.to_be_bytes());
        b.extend_from_slice(body);
        self.jb.push(now, index, b);
    }

    /// Frames are buffered or a spurt is playing.
    pub fn busy(&self) -> bool {
        !self.jb.is_empty()
    }

    /// The loss of the last full windows, in whole percent (None before
    /// it is worth a figure).
    pub fn loss_report(&self) -> Option<u8> {
        self.measured
            .then(|| self.loss_pct.round().clamp(0.0, 100.0) as u8)
    }

    /// Loss over windows of 50 frames: what the mesh did not deliver at
    /// all, which is what the talker's FEC must plan for. Slots missing
    /// between two frames of speech are loss until they arrive (a frame
    /// recovered late by a redundant copy or a repair is heard); a gap next
    /// to a DTX frame (the encoder's "send nothing" packet: the sender
    /// sends the first of a silence and one of every 20 after it) is
    /// silence and counts for nothing, and so does a gap over 10 slots.
    fn count_loss(&mut self, index: u64, len: usize) {
        let dtx = len <= DTX_MAX_LEN;
        let (heard, span, last) = &mut self.window;
        match *last {
            Some(l) if index <= l => {
                let bit = u32::try_from(l - index)
                    .ok()
                    .and_then(|d| 1u64.checked_shl(d))
                    .unwrap_or(0);
                if bit != 0 && self.seen & bit == 0 {
                    self.seen |= bit;
                    *heard += 1;
                }
                return;
            }
            Some(l) => {
                let gap = index - l;
                self.seen = u32::try_from(gap)
                    .ok()
                    .and_then(|g| self.seen.checked_shl(g))
                    .unwrap_or(0);
                *span += if gap < LONG_GAP && !dtx && !self.last_dtx {
                    gap
                } else {
                    1
                };
            }
            None => *span += 1,
        }
        self.seen |= 1;
        self.last_dtx = dtx;
        *heard += 1;
        *last = Some(index);
        if *heard >= LOSS_WINDOW {
            if self.windows.len() == LOSS_WINDOWS {
                self.windows.pop_front();
            }
            self.windows.push_back((*heard, *span));
            let (h, sp) = self
                .windows
                .iter()
                .fold((0, 0), |(h, sp), (a, b)| (h + a, sp + b));
            let lost = sp.saturating_sub(h);
            self.loss_pct = 100.0 * lost as f64 / sp.max(1) as f64;
            self.measured |= lost >= MIN_LOST || self.windows.len() == LOSS_WINDOWS;
            let keep = *last;
            self.window = (0, 0, keep);
        }
    }

    /// One playout slot: what the decoder does now, with the capture stamp
    /// taken off (the codec bytes only).
    pub fn tick(&mut self, now: Instant) -> Playout {
        let split = |b: Vec<u8>| -> Option<(u16, Vec<u8>)> {
            let c = u16::from_be_bytes(b.get(..2)?.try_into().ok()?);
            Some((c, b.get(2..)?.to_vec()))
        };
        match self.jb.pop(now) {
            Playout::Frame(b) => match split(b) {
                Some((c, body)) => {
                    let now_ms = (now.as_micros() / 1000) as u16;
                    if self.m2e.len() < MAX_M2E_SAMPLES {
                        self.m2e.push(u32::from(now_ms.wrapping_sub(c)));
                    }
                    Playout::Frame(body)
                }
                None => Playout::Conceal,
            },
            // The next frame's in-band FEC stands in for the lost one.
            Playout::Fec(b) => match split(b) {
                Some((_, body)) => Playout::Fec(body),
                None => Playout::Conceal,
            },
            p => p,
        }
    }

    pub fn stats(&self) -> PlayoutStats {
        let j = self.jb.stats();
        let d = &self.done;
        PlayoutStats {
            received: self.received,
            played: d.played + j.played,
            concealed: d.concealed + j.concealed,
            fec: d.fec + j.fec,
            late_dropped: d.late_dropped + j.late_dropped,
            stretched: d.stretched + j.stretched,
            skipped: d.skipped + j.skipped,
            jitter_target_ms: u64::from(j.target_ms),
            m2e_p50_ms: percentile_ms(&self.m2e, 50.0),
            m2e_p95_ms: percentile_ms(&self.m2e, 95.0),
            max_gap_ms: self.max_gap_ms,
            loss_pct: self.loss_pct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_play_with_their_mouth_to_ear_time() {
        let mut s = Stream::default();
        let t0 = Instant::from_millis(1000);
        for i in 0..60u64 {
            let sent = t0 + crate::time::ms(20 * i);
            let at = sent + crate::time::ms(15);
            s.push(at, i, (sent.as_micros() / 1000) as u16, &[i as u8; 40]);
        }
        let mut played = 0;
        for k in 0..120u64 {
            if let Playout::Frame(b) = s.tick(t0 + crate::time::ms(20 * k)) {
                assert_eq!(b.len(), 40);
                played += 1;
            }
        }
        assert_eq!(played, 60);
        let st = s.stats();
        assert_eq!(st.received, 60);
        assert!(
            st.m2e_p95_ms.is_some_and(|m| (15..200).contains(&m)),
            "{st:?}"
        );
    }

    #[test]
    fn loss_is_measured_between_speech_frames_only() {
        let mut s = Stream::default();
        let t = Instant::from_millis(0);
        // Every tenth slot missing: 10 % loss.
        let mut i = 0u64;
        while s.loss_report().is_none() {
            if i % 10 != 9 {
                s.push(t, i, 0, &[1; 30]);
            }
            i += 1;
        }
        let r = s.loss_report();
        assert!(r.is_some_and(|r| (9..=11).contains(&r)), "{r:?}");
        // A restart keeps the figures; the new talker's loss is reported
        // only once a window of its own frames is measured.
        s.restart();
        assert_eq!(s.loss_report(), None);
        assert!(s.stats().loss_pct > 0.0);
    }

    #[test]
    fn one_lost_frame_is_no_loss_figure() {
        let mut s = Stream::default();
        let t = Instant::from_millis(0);
        // One frame lost in 200: below the evidence a figure needs until
        // five windows are in, and then 0.5 %.
        for i in 0..260u64 {
            if i != 30 {
                s.push(t, i, 0, &[1; 30]);
            }
            if i < 245 {
                assert_eq!(s.loss_report(), None, "{i}");
            }
        }
        assert_eq!(s.loss_report(), Some(0));
        assert!((s.stats().loss_pct - 0.4).abs() < 0.01, "{:?}", s.stats());
    }

    #[test]
    fn a_jump_past_the_bitmap_forgets_it() {
        let mut s = Stream::default();
        let t = Instant::from_millis(0);
        // A jump of 2^32 + 1 slots must not wrap into a one-slot shift.
        s.push(t, 0, 0, &[1; 30]);
        s.push(t, (1 << 32) + 1, 0, &[1; 30]);
        assert_eq!(s.seen, 1);
    }

    #[test]
    fn a_frame_that_comes_late_is_not_lost() {
        let mut s = Stream::default();
        let t = Instant::from_millis(0);
        // Every tenth frame comes one slot late (a redundant copy), and
        // once more as a duplicate: nothing is lost.
        let mut i = 0u64;
        while s.loss_report().is_none() {
            if i % 10 != 9 {
                s.push(t, i, 0, &[1; 30]);
            }
            if i.is_multiple_of(10) && i > 0 {
                s.push(t, i - 1, 0, &[1; 30]);
                s.push(t, i - 1, 0, &[1; 30]);
            }
            i += 1;
        }
        assert_eq!(s.loss_report(), Some(0));
    }
}
