//! Adaptive jitter buffer, sans-IO.
//!
//! The driver calls [`JitterBuffer::push`] for every frame that arrives
//! (authenticated, with its 64-bit index from [`super::FrameIndex`]) and
//! [`JitterBuffer::pop`] exactly once per playout tick (every
//! [`JitterConfig::frame`]); each pop says what the decoder does for that
//! tick ([`Playout`]).
//!
//! Contract with the sender: the frame index advances once per frame
//! period of captured audio, also across DTX pauses where nothing is sent,
//! so `index * frame` is the sender's media clock. Arrival time minus media
//! time is then the one-way delay up to a constant, and its spread over the
//! last [`DELAY_WINDOW`] arrivals is the jitter the target delay must cover.
//!
//! Playout maps index `i` to the instant `anchor_t + (i - anchor_i) * frame`.
//! - A talk spurt (the first frame after silence) is anchored to play at
//!   its arrival plus the current target delay.
//! - A frame that arrives after its slot was played is dropped and counted
//!   (`late_dropped`): late voice is never played.
//! - The target is a high quantile (`quantile`) of recent delay above the
//!   fastest frame, clamped to `[min_delay, max_delay]`; a spurt starts
//!   with it. Within a spurt the buffer watches the slack of recent frames
//!   (slot minus arrival): when more than `1 - quantile` of them were late
//!   and a frame is missing, playout holds one tick (a concealed frame,
//!   `stretched`) instead of moving on, which lengthens the delay by one
//!   frame; when even the slow frames wait more than
//!   [`SHRINK_SLACK_FRAMES`] frames and the fastest that much longer than
//!   the target, one frame is skipped. Smaller changes
//!   wait for the next talk spurt, where they are inaudible.
//! - A missing frame whose successor is buffered is recovered from the
//!   successor's in-band FEC ([`Playout::Fec`]); otherwise it is concealed.
//! - After `silence_after` ticks with nothing buffered (DTX, end of a
//!   burst) the buffer returns [`Playout::Silence`] until the next spurt.
//!   A frame not yet played starts that spurt even if the sender never
//!   paused (the path got slower: re-anchoring follows it at once), unless
//!   it is more than `max_delay` older than the idle playout clock.
//! - Frames that come faster than real time while a spurt waits to start
//!   are the backlog of an outage (a stalled relay releasing what it
//!   held): the spurt is re-anchored on the freshest, the backlog's slots
//!   pass unplayed, and its delays leave the delay statistics.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::time::Instant;

/// Frames held at most, counted from the next frame to play (1.28 s at
/// 20 ms, over six times the largest target delay). A frame further ahead
/// is dropped and counted in `overflow`: it could only come from a sender
/// whose clock runs away, and holding it would let the buffer grow.
pub const CAPACITY: u64 = 64;

/// Arrivals kept for the delay statistics (2 s at 50 frames/s); the oldest
/// is forgotten first, so the target follows the link within seconds.
pub const DELAY_WINDOW: usize = 100;

/// Arrivals needed before the measured target replaces `initial_delay`.
const MIN_SAMPLES: usize = 10;

/// The buffer skips a frame mid-spurt only when it runs this many frames
/// longer than the target (one dropped frame is audible; a short excess is
/// left for the next spurt to fix).
pub const SHRINK_SLACK_FRAMES: i128 = 3;

/// Tuning of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Lowest target delay (above the fastest frame).
    pub min_delay: Duration,
    /// Highest target delay: beyond this, frames are rather lost than late.
    pub max_delay: Duration,
    /// Target before enough arrivals were measured.
    pub initial_delay: Duration,
    /// Playout tick and frame duration.
    pub frame: Duration,
    /// Share of recent frames the target delay must cover (0..=1).
    pub quantile: f64,
    /// Empty ticks (concealed) before the buffer declares silence.
    pub silence_after: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            initial_delay: Duration::from_millis(60),
            frame: Duration::from_millis(20),
            quantile: 0.98,
            silence_after: 5,
        }
    }
}

/// What the decoder does for one playout tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this frame normally.
    Frame(Vec<u8>),
    /// The frame for this tick is missing but the next one is here: decode
    /// it with `fec = true` to recover this tick's audio from its in-band
    /// FEC (the next tick gets the same bytes again as a `Frame`).
    Fec(Vec<u8>),
    /// Missing: run packet loss concealment.
    Conceal,
    /// Nothing is being received: play silence (or comfort noise).
    Silence,
}

/// Counters of one buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JitterStats {
    pub played: u64,
    pub concealed: u64,
    pub fec: u64,
    pub late_dropped: u64,
    /// Ticks held to lengthen the delay (concealed, no frame lost).
    pub stretched: u64,
    /// Frames skipped to shorten the delay.
    pub skipped: u64,
    pub overflow: u64,
    pub duplicates: u64,
    /// Current target delay above the fastest frame.
    pub target_ms: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No frame ever, or silence: pops return `Silence`.
    Idle,
    /// A spurt is anchored; waiting for its first slot.
    Waiting,
    Playing,
}

/// An adaptive, bounded jitter buffer for one incoming stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    frames: BTreeMap<u64, Vec<u8>>,
    state: State,
    /// Next index to play; every buffered index is `>= next`.
    next: u64,
    /// Indices below this are late (played, concealed or skipped).
    floor: u64,
    /// While idle: the index that would play now if the last spurt had
    /// gone on. A frame more than `max_delay` behind it is stale.
    idle_clock: u64,
    /// Playout mapping: index `anchor_i` plays at `anchor_t` (µs).
    anchor: Option<(i128, i128)>,
    /// First index of the current spurt (for the delay measurement).
    spurt_first: u64,
    /// When the frame that started it arrived.
    spurt_at: Instant,
    /// Its head was found to be an outage's backlog.
    backlogged: bool,
    /// The frame (index, arrival) the waiting spurt is anchored on: a
    /// frame that comes well ahead of its pace is part of a backlog.
    pace: Option<(u64, Instant)>,
    arrivals: VecDeque<(Instant, u64)>,
    target: Duration,
    missing_run: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        let target = cfg.initial_delay.clamp(cfg.min_delay, cfg.max_delay);
        JitterBuffer {
            cfg,
            frames: BTreeMap::new(),
            state: State::Idle,
            next: 0,
            floor: 0,
            idle_clock: 0,
            anchor: None,
            spurt_first: 0,
            spurt_at: Instant::ZERO,
            backlogged: false,
            pace: None,
            arrivals: VecDeque::with_capacity(DELAY_WINDOW),
            target,
            missing_run: 0,
            stats: JitterStats::default(),
        }
    }

    fn frame_us(&self) -> i128 {
        self.cfg.frame.as_micros() as i128
    }

    /// Playout instant (µs, may be negative) of `index` under the anchor.
    fn slot(&self, index: u64) -> Option<i128> {
        self.anchor
            .map(|(t, i)| t + (i128::from(index) - i) * self.frame_us())
    }

    /// Recompute the target from the arrival window.
    fn update_target(&mut self) {
        let n = self.arrivals.len();
        if n < MIN_SAMPLES {
            return;
        }
        let f = self.frame_us();
        let mut transit: Vec<i128> = self
            .arrivals
            .iter()
            .map(|(t, i)| i128::from(t.as_micros()) - i128::from(*i) * f)
            .collect();
        transit.sort_unstable();
        let fastest = transit.first().copied().unwrap_or(0);
        let q = self.cfg.quantile.clamp(0.0, 1.0);
        let at = ((q * (n - 1) as f64).ceil() as usize).min(n - 1);
        let spread = transit.get(at).copied().unwrap_or(fastest) - fastest;
        let spread = Duration::from_micros(spread.clamp(0, i128::from(u64::MAX)) as u64);
        self.target = spread.clamp(self.cfg.min_delay, self.cfg.max_delay);
    }

    /// Slack of the recent frames of this spurt under the current
    /// mapping (slot minus arrival, µs; negative = it was late), as
    /// `(low, fastest)`: `low` is the `1 - quantile` quantile (the margin
    /// of the slowest frames the target is meant to cover), `fastest` the
    /// largest (the delay the buffer adds to the fastest frame).
    fn slack(&self) -> Option<(i128, i128)> {
        let mut v: Vec<i128> = self
            .arrivals
            .iter()
            .filter(|(_, i)| *i >= self.spurt_first)
            .filter_map(|(t, i)| Some(self.slot(*i)? - i128::from(t.as_micros())))
            .collect();
        v.sort_unstable();
        let n = v.len();
        let q = 1.0 - self.cfg.quantile.clamp(0.0, 1.0);
        let at = ((q * n.saturating_sub(1) as f64).floor() as usize).min(n.saturating_sub(1));
        Some((*v.get(at)?, *v.last()?))
    }

    /// A frame arrived at `now`. Late, duplicate and far-ahead frames are
    /// dropped and counted.
    pub fn push(&mut self, now: Instant, index: u64, payload: Vec<u8>) {
        let max_frames =
            (self.cfg.max_delay.as_micros() / self.cfg.frame.as_micros().max(1)) as u64;
        let stale = self.state == State::Idle && index.saturating_add(max_frames) < self.idle_clock;
        if self.anchor.is_some() && stale {
            // Older than any delay the buffer would cover: not a sample of
            // the path's jitter either (an outage's backlog).
            self.stats.late_dropped += 1;
            return;
        }
        // Frames faster than real time: how far this one is ahead of the
        // pace of the last frame the spurt was anchored on (µs).
        let ahead = match self.pace {
            Some((i, t)) if self.state == State::Waiting && index > i => {
                let media = i128::from(index - i) * self.frame_us();
                media - i128::from(now.saturating_since(t).as_micros() as u64)
            }
            _ => 0,
        };
        // More than a few frames ahead: the head was not merely jittered.
        // Once a backlog is found, every frame that comes as fast belongs
        // to it.
        let margin = if self.backlogged {
            self.frame_us() / 2
        } else {
            SHRINK_SLACK_FRAMES * self.frame_us()
        };
        let backlog = ahead > margin;
        if backlog {
            // Frames faster than real time: what came before this one in
            // the spurt (and the too-late frames that came with its head)
            // is a backlog a stalled relay let go of at once, and its
            // delays say nothing about the path's jitter. Forgetting them
            // keeps the target; playout starts from the freshest frame and
            // the backlog's slots pass unplayed (see `pop`). Played late,
            // the backlog cost a run of skips afterwards: PESQ-WB 2.7-2.9
            // for a 300 ms stall in `callsign voice-lab --outage-held`,
            // against 3.3-3.7 now.
            let since = self.spurt_at - self.cfg.frame;
            self.arrivals.retain(|(t, i)| *i >= index || *t < since);
        }
        if self.arrivals.len() == DELAY_WINDOW {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back((now, index));
        self.update_target();
        if backlog {
            self.backlogged = true;
            self.pace = Some((index, now));
            let fresh = i128::from((now + self.target).as_micros());
            self.anchor = Some((fresh, i128::from(index)));
        }
        if self.anchor.is_some() && index < self.floor {
            self.stats.late_dropped += 1;
            return;
        }
        if self.frames.contains_key(&index) {
            self.stats.duplicates += 1;
            return;
        }
        match self.state {
            State::Idle => {
                // A new spurt: play it the target delay after this arrival.
                let t = i128::from((now + self.target).as_micros());
                self.anchor = Some((t, i128::from(index)));
                self.next = index;
                self.spurt_first = index;
                self.spurt_at = now;
                self.backlogged = false;
                self.pace = Some((index, now));
                self.state = State::Waiting;
            }
            State::Waiting if index < self.next => {
                // Reordered start of the spurt: play it first if its slot
                // is still ahead.
                if self
                    .slot(index)
                    .is_some_and(|s| s > i128::from(now.as_micros()))
                {
                    self.next = index;
                    self.spurt_first = index;
                } else {
                    self.stats.late_dropped += 1;
                    return;
                }
            }
            State::Waiting | State::Playing => {}
        }
        if index >= self.next.saturating_add(CAPACITY) {
            self.stats.overflow += 1;
            return;
        }
        self.frames.insert(index, payload);
    }

    /// The decision for the playout tick at `now`. Call once per frame.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let now_us = i128::from(now.as_micros());
        match self.state {
            State::Idle => {
                self.idle_clock = self.idle_clock.saturating_add(1);
                Playout::Silence
            }
            State::Waiting => {
                let half = self.frame_us() / 2;
                if self.slot(self.next).is_some_and(|s| now_us + half < s) {
                    return Playout::Silence;
                }
                // The backlog of a burst: what should have played already
                // is late, and late voice is never played.
                while self.slot(self.next).is_some_and(|s| s + half < now_us)
                    && self.frames.range(self.next + 1..).next().is_some()
                {
                    if self.frames.remove(&self.next).is_some() {
                        self.stats.late_dropped += 1;
                    }
                    self.next += 1;
                    self.floor = self.next;
                    self.spurt_first = self.next;
                }
                self.state = State::Playing;
                self.play(now_us)
            }
            State::Playing => self.play(now_us),
        }
    }

    fn advance(&mut self, now_us: i128, played: u64) {
        self.anchor = Some((now_us, i128::from(played)));
        self.next = played.saturating_add(1);
        self.floor = self.next;
    }

    fn play(&mut self, now_us: i128) -> Playout {
        let k = self.next;
        let f = self.frame_us();
        let max = self.cfg.max_delay.as_micros() as i128;
        let target = self.target.as_micros() as i128;
        // Measured against a slot mapping re-anchored at this tick.
        self.anchor = Some((now_us, i128::from(k)));
        let slack = self.slack();

        if let Some(p) = self.frames.remove(&k) {
            self.missing_run = 0;
            let excess = SHRINK_SLACK_FRAMES * f;
            if slack.is_some_and(|(low, fastest)| low > excess && fastest > target + excess)
                && let Some(q) = self.frames.remove(&(k + 1))
            {
                self.stats.skipped += 1;
                self.stats.played += 1;
                self.advance(now_us, k + 1);
                return Playout::Frame(q);
            }
            self.stats.played += 1;
            self.advance(now_us, k);
            return Playout::Frame(p);
        }

        if self.frames.is_empty() {
            self.missing_run += 1;
            if self.missing_run > self.cfg.silence_after {
                // Frames from k on may still come (a slower path, or the
                // next spurt): they start a spurt of their own.
                self.state = State::Idle;
                self.idle_clock = k.saturating_add(1);
                return Playout::Silence;
            }
        }
        if slack.is_some_and(|(low, fastest)| low < 0 && fastest + f <= max + f / 2) {
            // Too many recent frames were late: hold, so frame k gets one
            // more tick to arrive and the delay grows by one frame (never
            // past `max_delay` for the fastest frame).
            self.anchor = Some((now_us + f, i128::from(k)));
            self.floor = k;
            self.stats.stretched += 1;
            return Playout::Conceal;
        }
        self.advance(now_us, k);
        if let Some(p) = self.frames.get(&(k + 1)) {
            self.stats.fec += 1;
            return Playout::Fec(p.clone());
        }
        self.stats.concealed += 1;
        Playout::Conceal
    }

    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_ms: u32::try_from(self.target.as_millis()).unwrap_or(u32::MAX),
            ..self.stats
        }
    }

    /// Frames buffered now.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
