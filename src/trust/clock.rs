//! Secured mode without a trusted clock, sans-IO: which time certificates
//! are judged by, and which epoch the packet MAC starts at.
//!
//! A handset in an outage may boot with no battery-backed clock and no
//! NTP: its clock says 1970, or some day long past. Two things used to
//! depend on that clock, and neither may any longer:
//!
//! # The MAC epoch: a boot counter
//!
//! [`super::mac`] counters are `epoch << 32 | n`, and receivers refuse a
//! sender whose epoch went backwards. The epoch is a counter kept in the
//! data directory, raised and made durable before the first packet
//! ([`next_epoch`]): the previous epoch plus one, or the clock in Unix
//! seconds when the clock is sane and larger (so epochs stay in step with
//! time, and a device upgraded from when the epoch *was* the clock keeps
//! going up). A reboot with the clock at 1970 still gets a larger epoch.
//!
//! A missing or unreadable counter on a device that already had its key
//! (storage partly lost, a restore from backup) falls back, in order, to:
//! the sane clock; the last known good time (see below) plus
//! [`LAST_GOOD_MARGIN`], since epochs follow the clock and pass it only
//! by one per boot made without a clock; and, with neither,
//! [`EPOCH_JUMP`], far above any clock value before 2097, so above any
//! epoch neighbours can remember. What this misses: more than
//! [`LAST_GOOD_MARGIN`] clockless boots since the last good time, or a
//! counter lost twice with no clock and no good time either time. Then
//! neighbours refuse the device until they forget it (they forget silent
//! senders, see [`super::mac`]). Each fallback is logged by the daemon.
//!
//! # Certificates: the last known good time, and a grace
//!
//! The clock is judged by [`WallTime::judge`]: it is *unsure* when it
//! reads before [`BUILD_FLOOR_S`] (this source cannot be running before it
//! was written) or before the last known good time the daemon keeps in
//! the data directory (time does not run backwards across reboots; the
//! daemon records a sure clock reading at start and every hour). With a
//! sure clock, certificates are judged by it as always. With an unsure
//! one:
//! - certificates are judged at the *assumed* time, the later of the last
//!   known good time and the build floor: the real time is at least that,
//!   so a certificate that had expired by then is really expired;
//! - a certificate that starts after the assumed time, by at most
//!   [`NOT_BEFORE_GRACE_S`], is accepted (a device enrolled during the
//!   days since the last good time); one further ahead is refused as not
//!   yet valid;
//! - this device's own certificate is accepted whatever its start, with a
//!   loud log: refusing to start would take a responder off the air for a
//!   clock, and peers with sure clocks judge the certificate themselves;
//! - the daemon logs the judgement loudly at start, and the time stays
//!   assumed (it does not advance) until a restart with a sure clock:
//!   expiries are therefore noticed late, never early.
//!
//! The operator's view is in `docs/FIELD-GUIDE.md` ("Secured mode without
//! a clock").

/// No device can run this build before 2026-12-01T00:00:00Z: a clock
/// reading earlier is wrong. Bumped at releases (a build script reading
/// the clock would make builds unreproducible).
pub const BUILD_FLOOR_S: u64 = 1_796_083_200;

/// How far past the assumed time a certificate's start may be, with an
/// unsure clock: seven days, the longest an incident runs on the same
/// handsets without a crew change at a station with a sure clock.
pub const NOT_BEFORE_GRACE_S: u64 = 7 * 24 * 3600;

/// How far past the last known good time an epoch restarts when the
/// counter is lost and the clock is wrong: that many boots without a clock
/// since the last good time are covered (about 18 hours ahead of the
/// clock, which later boots with a sane clock simply count past).
pub const LAST_GOOD_MARGIN: u64 = 1 << 16;

/// The epoch of a device that lost its counter and has no clock: year
/// 2097 in Unix seconds, above any epoch taken from a clock before then,
/// and still 268 million boots short of the counter's end.
pub const EPOCH_JUMP: u32 = 0xF000_0000;

/// What the wall clock is taken to say, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WallTime {
    /// The clock reads at or after both the build floor and the last known
    /// good time: use it.
    Sure(u64),
    /// The clock is obviously wrong; `assumed_s` is the time certificates
    /// are judged at (see the module doc).
    Unsure { clock_s: u64, assumed_s: u64 },
}

impl WallTime {
    /// Judge a clock reading against the last known good time (if any).
    pub fn judge(clock_s: u64, last_good_s: Option<u64>) -> Self {
        let floor = BUILD_FLOOR_S.max(last_good_s.unwrap_or(0));
        if clock_s >= floor {
            WallTime::Sure(clock_s)
        } else {
            WallTime::Unsure {
                clock_s,
                assumed_s: floor,
            }
        }
    }

    /// The time to judge certificates at.
    pub fn assumed_s(&self) -> u64 {
        match *self {
            WallTime::Sure(s) => s,
            WallTime::Unsure { assumed_s, .. } => assumed_s,
        }
    }

    /// The clock reading, when it can be trusted.
    pub fn sure(&self) -> Option<u64> {
        match *self {
            WallTime::Sure(s) => Some(s),
            WallTime::Unsure { .. } => None,
        }
    }
}

/// Where an epoch came from (the daemon logs the fallbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochFrom {
    /// The stored counter plus one (or the sure clock, if larger).
    Counter,
    /// A new device key: nothing to be above.
    NewKey,
    /// Counter lost: the sure clock.
    Clock,
    /// Counter lost, clock unsure: the last known good time plus
    /// [`LAST_GOOD_MARGIN`].
    LastGood,
    /// Counter lost, nothing known: [`EPOCH_JUMP`].
    Jump,
}

/// The MAC epoch of this start: larger than that of any earlier start of
/// the device (see the module doc). `stored` is the counter in the data
/// dir (`None`: missing or unreadable), `new_key` says the device key was
/// created by this start.
pub fn next_epoch(
    stored: Option<u32>,
    new_key: bool,
    wall: WallTime,
    last_good_s: Option<u64>,
) -> (u32, EpochFrom) {
    let clock = wall
        .sure()
        .map_or(0, |s| u32::try_from(s).unwrap_or(u32::MAX));
    match stored {
        // At u32::MAX the counter can go no further: neighbours refuse
        // the device until they forget it (4 billion boots; never).
        Some(e) => (e.saturating_add(1).max(clock), EpochFrom::Counter),
        None if new_key => (clock.max(1), EpochFrom::NewKey),
        None if clock > 0 => (clock, EpochFrom::Clock),
        None => match last_good_s {
            Some(g) => (
                u32::try_from(g.saturating_add(LAST_GOOD_MARGIN)).unwrap_or(u32::MAX),
                EpochFrom::LastGood,
            ),
            None => (EPOCH_JUMP, EpochFrom::Jump),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn a_clock_before_the_build_or_the_last_good_time_is_unsure() {
        let good = BUILD_FLOOR_S + 30 * DAY;
        assert_eq!(
            WallTime::judge(good + 5, Some(good)),
            WallTime::Sure(good + 5)
        );
        assert_eq!(
            WallTime::judge(BUILD_FLOOR_S, None).sure(),
            Some(BUILD_FLOOR_S)
        );
        let w = WallTime::judge(3, Some(good));
        assert_eq!(w.sure(), None);
        assert_eq!(w.assumed_s(), good);
        let w = WallTime::judge(good - DAY, Some(good));
        assert_eq!(w.assumed_s(), good, "a day backwards is unsure too");
        assert_eq!(WallTime::judge(3, None).assumed_s(), BUILD_FLOOR_S);
    }

    #[test]
    fn epochs_grow_across_restarts_with_or_without_a_clock() {
        let t0 = BUILD_FLOOR_S + 100 * DAY;
        let (e1, from) = next_epoch(None, true, WallTime::judge(t0, None), None);
        assert_eq!((e1, from), (t0 as u32, EpochFrom::NewKey));
        // Restart with the clock at 1970: one more, not the clock.
        let (e2, from) = next_epoch(Some(e1), false, WallTime::judge(0, Some(t0)), Some(t0));
        assert_eq!((e2, from), (e1 + 1, EpochFrom::Counter));
        // Restart a minute later with a sane clock: back in step with it.
        let w = WallTime::judge(t0 + 60, Some(t0));
        assert_eq!(next_epoch(Some(e2), false, w, Some(t0)).0, (t0 + 60) as u32);
        // Two starts within one second: still one more.
        let w = WallTime::judge(t0, Some(t0));
        assert_eq!(
            next_epoch(Some(t0 as u32), false, w, Some(t0)).0,
            t0 as u32 + 1
        );
    }

    #[test]
    fn a_lost_counter_falls_back_to_something_above_what_neighbours_remember() {
        let t0 = BUILD_FLOOR_S + 100 * DAY;
        // Sure clock: the clock (above every earlier clock-driven epoch).
        let w = WallTime::judge(t0 + DAY, Some(t0));
        assert_eq!(
            next_epoch(None, false, w, Some(t0)),
            ((t0 + DAY) as u32, EpochFrom::Clock)
        );
        // Unsure clock, a last good time: the margin past it, so above
        // the epochs of clockless boots since (one more each).
        let w = WallTime::judge(0, Some(t0));
        let mut e = t0 as u32;
        for _ in 0..1000 {
            e = next_epoch(Some(e), false, w, Some(t0)).0;
        }
        let (fallback, from) = next_epoch(None, false, w, Some(t0));
        assert_eq!(from, EpochFrom::LastGood);
        assert!(fallback > e, "{fallback} > {e} after 1000 clockless boots");
        // Nothing known: the jump, above any clock before 2097.
        let (e, from) = next_epoch(None, false, WallTime::judge(0, None), None);
        assert_eq!(from, EpochFrom::Jump);
        assert!(u64::from(e) > 4_000_000_000, "above 2096 in Unix seconds");
        // And counting on from a jump works as from anything else.
        assert_eq!(
            next_epoch(Some(e), false, WallTime::judge(t0, None), None).0,
            e + 1
        );
    }
}
