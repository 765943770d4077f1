//! Hello reception estimator: a 16-hello history bitmap (RFC 8966 A.1),
//! fed by hello sequence numbers so that missed hellos count as soon as a
//! later one arrives.

use super::INFINITY;

#[derive(Debug, Clone, Default)]
pub struct RxEstimator {
    /// Sequence number of the last hello actually received.
    last_seq: Option<u32>,
    /// Newest hello in bit 0. The ratio reads 16 bits; the 16 above them
    /// keep what misses booked in excess would otherwise push out.
    history: u32,
    /// Number of valid slots in `history` (grows to 32).
    slots: u8,
    /// Misses booked by [`RxEstimator::missed`] since `last_seq`: the
    /// lowest bits of `history`, to be squared with the next sequence
    /// number heard.
    booked: u32,
}

impl RxEstimator {
    /// Record the reception of multicast hello `seq`.
    pub fn received(&mut self, seq: u32) {
        match self.last_seq {
            Some(last) => {
                let gap = seq.wrapping_sub(last);
                if gap == 0 || gap > 0x8000_0000 {
                    // Duplicate or reordered: ignore.
                    return;
                }
                if gap > 64 {
                    // The sender restarted, or a very long outage: start again.
                    self.history = 1;
                    self.slots = 1;
                } else {
                    // The sequence number tells how many hellos were really
                    // missed. Misses booked by deadline may be more (the
                    // sender slowed down and the hello saying so was lost):
                    // take the surplus back, or every later hello would look
                    // old and the link would die while we hear it well.
                    let missed = gap - 1;
                    let surplus = self.booked.saturating_sub(missed).min(16);
                    self.history >>= surplus;
                    self.slots = self.slots.saturating_sub(surplus as u8);
                    let shift = gap.saturating_sub(self.booked.min(missed));
                    self.history = if shift >= 32 {
                        0
                    } else {
                        self.history << shift
                    } | 1;
                    self.slots = (self.slots as u32 + shift).min(32) as u8;
                }
            }
            None => {
                self.history = 1;
                self.slots = 1;
            }
        }
        self.booked = 0;
        self.last_seq = Some(seq);
    }

    /// Record that an expected hello did not come (its deadline passed).
    pub fn missed(&mut self) {
        if self.last_seq.is_some() {
            self.history <<= 1;
            self.slots = (self.slots + 1).min(32);
            self.booked = self.booked.saturating_add(1);
        }
    }

    /// Fraction of recent hellos received, in [0, 1].
    pub fn ratio(&self) -> f64 {
        match self.window() {
            (_, 0) => 0.0,
            (heard, slots) => heard as f64 / slots as f64,
        }
    }

    /// Hellos heard and slots counted in the window [`Self::ratio`] reads.
    pub fn window(&self) -> (u32, u32) {
        let slots = u32::from(self.slots.min(16));
        if slots == 0 {
            return (0, 0);
        }
        let mask = ((1u64 << slots) - 1) as u32;
        ((self.history & mask).count_ones(), slots)
    }

    /// Reception cost, 256 = perfect, `INFINITY` when nothing is heard.
    pub fn cost(&self) -> u16 {
        let r = self.ratio();
        if r < 0.1 {
            INFINITY
        } else {
            (256.0 / r).round().min(INFINITY as f64 - 1.0) as u16
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_reception_costs_256() {
        let mut e = RxEstimator::default();
        for s in 0..20 {
            e.received(s);
        }
        assert_eq!(e.cost(), 256);
    }

    #[test]
    fn gaps_raise_the_cost() {
        let mut e = RxEstimator::default();
        for s in (0..32).step_by(2) {
            e.received(s);
        }
        assert!((e.ratio() - 0.5).abs() < 0.07, "{}", e.ratio());
        assert!(e.cost() > 480);
    }

    #[test]
    fn missed_hellos_count_and_silence_is_infinite() {
        let mut e = RxEstimator::default();
        e.received(1);
        for _ in 0..16 {
            e.missed();
        }
        assert_eq!(e.cost(), INFINITY);
        // One hello after a long silence is not yet a usable link; a few are.
        e.received(18);
        assert_eq!(e.cost(), INFINITY);
        e.received(19);
        e.received(20);
        assert!(e.cost() < INFINITY);
    }

    #[test]
    fn restart_of_sender_resets() {
        let mut e = RxEstimator::default();
        e.received(1000);
        e.received(3);
        assert_eq!(e.cost(), 256);
    }

    #[test]
    fn misses_booked_too_fast_are_taken_back() {
        // The sender's hellos slow from 200 ms to 1 s, and the hello saying
        // so is lost: the receiver books a miss every 200 ms for a while.
        // The hellos it then hears are newer than the last one received,
        // and must count (they used to be ignored as reordered: the link
        // died and stayed dead while every hello arrived).
        let mut e = RxEstimator::default();
        for s in 1..=5 {
            e.received(s);
        }
        for _ in 0..16 {
            e.missed();
        }
        assert_eq!(e.cost(), INFINITY);
        for s in 9..=14 {
            e.received(s);
        }
        // 5 heard, 3 lost, 6 heard: hello 9 counts three misses, not 16.
        assert!((e.ratio() - 11.0 / 14.0).abs() < 1e-9, "{}", e.ratio());
    }
}
