//! Replays on private talkgroups: what a sealed packet's own clock says
//! about its age.
//!
//! The key stops an outsider from making a packet, not from sending a
//! recorded one again. So every sealed floor message and loss report
//! carries its sender's clock (ms since its boot, in the first 8 bytes of
//! the nonce, authenticated with the box), and a voice frame's burst id is
//! its talker's grant time (ms mod 2^30, authenticated by the tag). A
//! member keeps, per sender, the newest clock it authenticated and when
//! ([`Freshness`]), and refuses:
//!
//! - a floor message or report whose clock is older than the newest one
//!   by more than [`REORDER`] (floods may overtake each other a little),
//!   or ahead of where the sender's clock should be by now by more than
//!   [`AHEAD`] (a recording from a previous life of the device);
//! - a voice frame whose burst began more than the longest burst
//!   ([`Freshness::new`]'s `max_talk`, plus [`REORDER`]) before the
//!   sender's clock now, or after it, or from a sender no floor message
//!   was authenticated from yet (a burst's `Request` and `Taken` come
//!   first, and `Taken` is repeated every second for late entries).
//!
//! A sender's clock going back is a reboot, taken only once nothing was
//! heard from it for [`REBOOT_SILENCE`] (a reboot takes longer). What
//! stays possible: replaying what a member sent before it fell silent for
//! that long (its last boot's messages included), until it speaks again.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::identity::NodeId;
use crate::time::Instant;

/// How far a sender's packets may overtake each other.
pub const REORDER: Duration = Duration::from_millis(500);
/// How far ahead of where it should be a sender's clock may seem.
pub const AHEAD: Duration = Duration::from_secs(2);
/// Silence after which a sender's clock may go back (it rebooted).
pub const REBOOT_SILENCE: Duration = Duration::from_secs(20);
/// Senders remembered; the one heard from longest ago goes first.
pub const MAX_SENDERS: usize = 256;
/// Burst ids carry the grant time modulo this (see `floor::Floor::burst`).
const BURST_CLOCK: u64 = 1 << 30;

/// The sender clock to put in a sealed packet's nonce: ms of `now`.
pub fn clock_ms(now: Instant) -> u64 {
    now.as_micros() / 1000
}

/// A sender's newest authenticated clock and our time then, and the
/// frames of its latest burst already taken.
#[derive(Debug, Clone, Copy)]
struct Seen {
    clock_ms: u64,
    at: Instant,
    /// Its latest burst, the highest seq taken and a bitmap of the 64
    /// seqs up to it (bit 0: the highest), IPsec style.
    burst: Option<u32>,
    top: u16,
    window: u64,
}

impl Seen {
    fn new(clock_ms: u64, at: Instant) -> Self {
        Seen {
            clock_ms,
            at,
            burst: None,
            top: 0,
            window: 0,
        }
    }

    /// The sender's clock now, had it kept running.
    fn predicted(&self, now: Instant) -> u64 {
        self.clock_ms + now.saturating_since(self.at).as_millis() as u64
    }

    /// How long before the sender's clock now `burst` began (mod 2^30).
    fn ago(&self, now: Instant, burst: u32) -> u64 {
        let clock = self.predicted(now) % BURST_CLOCK;
        let began = u64::from(burst) % BURST_CLOCK;
        (clock + BURST_CLOCK - began) % BURST_CLOCK
    }
}

/// Per sender, the newest clock authenticated. See the module doc.
#[derive(Debug, Clone)]
pub struct Freshness {
    seen: BTreeMap<NodeId, Seen>,
    max_talk: Duration,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness::new(crate::floor::FloorConfig::default().max_talk)
    }
}

impl Freshness {
    /// `max_talk`: the longest burst (the floor's transmit time limit).
    pub fn new(max_talk: Duration) -> Self {
        Freshness {
            seen: BTreeMap::new(),
            max_talk,
        }
    }

    /// An authenticated floor message or report from `sender` stamped
    /// `clock_ms`: fresh (and remembered) or a replay.
    pub fn control(&mut self, now: Instant, sender: NodeId, clock_ms: u64) -> bool {
        match self.seen.get(&sender) {
            Some(s) if now.saturating_since(s.at) < REBOOT_SILENCE => {
                let oldest = s.clock_ms.saturating_sub(REORDER.as_millis() as u64);
                let newest = s.predicted(now) + AHEAD.as_millis() as u64;
                if clock_ms < oldest || clock_ms > newest {
                    return false;
                }
                if clock_ms <= s.clock_ms {
                    // Overtaken by a newer one: fresh, nothing to learn.
                    return true;
                }
            }
            Some(_) => {}
            None if self.seen.len() >= MAX_SENDERS => {
                let oldest = self
                    .seen
                    .iter()
                    .min_by_key(|(_, s)| s.at)
                    .map(|(id, _)| *id);
                if let Some(id) = oldest {
                    self.seen.remove(&id);
                }
            }
            None => {}
        }
        let prev = self.seen.get(&sender).copied();
        let mut s = Seen::new(clock_ms, now);
        if let Some(p) = prev {
            (s.burst, s.top, s.window) = (p.burst, p.top, p.window);
        }
        self.seen.insert(sender, s);
        true
    }

    /// An authenticated voice frame `seq` of `sender`'s burst `burst`:
    /// is the burst one that could be under way now, not older than the
    /// sender's latest, and the frame not taken already?
    pub fn voice(&mut self, now: Instant, sender: NodeId, burst: u32, seq: u16) -> bool {
        let Some(s) = self.seen.get_mut(&sender) else {
            return false;
        };
        let reorder = REORDER.as_millis() as u64;
        let longest = self.max_talk.as_millis() as u64 + reorder;
        let ago = s.ago(now, burst);
        if ago > longest && ago < BURST_CLOCK - reorder {
            return false;
        }
        match s.burst {
            Some(b) if b == burst => {
                if seq > s.top {
                    let shift = u32::from(seq - s.top);
                    s.window = s.window.checked_shl(shift).unwrap_or(0) | 1;
                    s.top = seq;
                    return true;
                }
                let back = u32::from(s.top - seq);
                if back >= 64 || s.window & (1 << back) != 0 {
                    return false;
                }
                s.window |= 1 << back;
                true
            }
            // An earlier burst than its latest: over.
            Some(b) if s.ago(now, b) < ago => false,
            _ => {
                (s.burst, s.top, s.window) = (Some(burst), seq, 1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId([1; 16]);

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn control_replays_are_refused_and_reordering_is_not() {
        let mut f = Freshness::new(Duration::from_secs(30));
        assert!(f.control(t(1000), A, 50_000));
        assert!(f.control(t(2000), A, 51_000));
        // Overtaken by a little: taken.
        assert!(f.control(t(2001), A, 50_700));
        // The first one again, a second later: a replay.
        assert!(!f.control(t(2100), A, 50_000));
        assert!(!f.control(t(15_000), A, 51_000 - 600));
        // Newer: taken.
        assert!(f.control(t(16_000), A, 65_000));
    }

    #[test]
    fn a_clock_going_back_is_a_reboot_only_after_silence() {
        let mut f = Freshness::new(Duration::from_secs(30));
        assert!(f.control(t(1000), A, 900_000));
        assert!(!f.control(t(5000), A, 3_000));
        // Silent for 20 s: the small clock is a rebooted device.
        assert!(f.control(t(1000) + REBOOT_SILENCE, A, 3_000));
        assert!(f.control(t(22_000), A, 4_000));
        // Its previous life's messages are now replays.
        assert!(!f.control(t(23_000), A, 900_000 - 1));
        assert!(!f.control(t(23_000), A, 2_000));
    }

    #[test]
    fn voice_of_a_burst_under_way_only() {
        let mut f = Freshness::new(Duration::from_secs(30));
        assert!(!f.voice(t(1000), A, 50_000, 0), "nothing heard from A yet");
        assert!(f.control(t(1000), A, 50_000));
        // A burst granted at 50 000 on A's clock, 10 s in.
        assert!(f.voice(t(11_000), A, 50_000, 500));
        // Granted 40 s before A's clock now: longer than any burst.
        assert!(!f.voice(t(41_000), A, 50_000, 501));
        // A burst from the future.
        assert!(!f.voice(t(1000), A, 52_000, 0));
        // Across the 2^30 wrap of the burst clock.
        let mut g = Freshness::new(Duration::from_secs(30));
        assert!(g.control(t(0), A, BURST_CLOCK + 1000));
        assert!(g.voice(t(0), A, (BURST_CLOCK - 2000) as u32, 0));
    }

    #[test]
    fn frames_are_taken_once_and_earlier_bursts_are_over() {
        let mut f = Freshness::new(Duration::from_secs(30));
        assert!(f.control(t(1000), A, 50_000));
        let b = (3 << 30) | 50_000;
        for seq in [0, 1, 3, 2, 10] {
            assert!(f.voice(t(1200), A, b, seq), "seq {seq}");
        }
        for seq in [0, 1, 2, 3, 10] {
            assert!(!f.voice(t(1300), A, b, seq), "seq {seq} again");
        }
        // Out of the 64-frame window.
        assert!(f.voice(t(3000), A, b, 100));
        assert!(!f.voice(t(3000), A, b, 20));
        // A later burst of A's; then the earlier one is over.
        let b2 = 55_000;
        assert!(f.voice(t(6000), A, b2, 0));
        assert!(!f.voice(t(6000), A, b, 101));
        assert!(f.voice(t(6020), A, b2, 1));
    }

    #[test]
    fn senders_are_bounded() {
        let mut f = Freshness::new(Duration::from_secs(30));
        for i in 0..(MAX_SENDERS + 10) as u64 {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            assert!(f.control(t(i), NodeId(id), 1000));
        }
        assert_eq!(f.seen.len(), MAX_SENDERS);
    }
}
