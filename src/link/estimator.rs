//! Hello reception estimator: a 16-hello history bitmap (RFC 8966 A.1),
//! fed by hello sequence numbers so that missed hellos count as soon as a
//! later one arrives.

use super::INFINITY;

#[derive(Debug, Clone, Default)]
pub struct RxEstimator {
    last_seq: Option<u32>,
    history: u16,
    /// Number of valid slots in `history` (grows to 16).
    slots: u8,
}

impl RxEstimator {
    /// Record the reception of multicast hello `seq`.
    pub fn received(&mut self, seq: u32) {
        match self.last_seq {
            Some(last) => {
                let gap = seq.wrapping_sub(last);
                let back = last.wrapping_sub(seq);
                if gap == 0 || (gap > 0x8000_0000 && back <= 64) {
                    // Duplicate or reordered: ignore.
                    return;
                }
                if gap > 64 {
                    // The sender restarted, or a very long outage: start again.
                    self.history = 1;
                    self.slots = 1;
                } else {
                    let shift = gap.min(16);
                    self.history = if shift >= 16 {
                        0
                    } else {
                        self.history << shift
                    } | 1;
                    self.slots = (self.slots as u32 + gap).min(16) as u8;
                }
            }
            None => {
                self.history = 1;
                self.slots = 1;
            }
        }
        self.last_seq = Some(seq);
    }

    /// Record that an expected hello did not come (its deadline passed).
    pub fn missed(&mut self) {
        if self.last_seq.is_some() {
            self.history <<= 1;
            self.slots = (self.slots + 1).min(16);
            self.last_seq = self.last_seq.map(|s| s.wrapping_add(1));
        }
    }

    /// Fraction of recent hellos received, in [0, 1].
    pub fn ratio(&self) -> f64 {
        if self.slots == 0 {
            return 0.0;
        }
        let mask = if self.slots >= 16 {
            u16::MAX
        } else {
            (1u16 << self.slots) - 1
        };
        (self.history & mask).count_ones() as f64 / self.slots as f64
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
}
