//! The daemon's clock: CLOCK_BOOTTIME, so timers count the time a phone
//! spent suspended (a neighbour silent for the whole suspension is stale);
//! and the daemon's wall clock, which a test can shift (one node an hour
//! off) without touching the machine's.

use crate::time::Instant;

/// Monotonic time since boot, including suspend.
pub fn now() -> Instant {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; clock_gettime only writes to it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return fallback();
    }
    Instant::from_micros(ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000)
}

/// Without CLOCK_BOOTTIME: std's monotonic clock from the first call.
fn fallback() -> Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    Instant::from_micros(start.elapsed().as_micros() as u64)
}

/// Test-only: the environment variable that shifts this daemon's wall
/// clock by whole seconds (`3600`: an hour fast, `-3600`: an hour slow).
/// The chaos soak (`tests/field_chaos.rs`) gives one daemon a wrong wall
/// clock this way, without stepping the machine's own clock that every
/// other daemon on the host shares. Not a setting: no flag or config key
/// reaches it, and the daemon warns at start when it is set.
pub const TEST_WALL_OFFSET_ENV: &str = "CALLSIGN_TEST_WALL_OFFSET_S";

/// The test-only wall clock offset in ms (0 unless the variable is set to
/// a whole number of seconds), read once.
pub fn test_wall_offset_ms() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var(TEST_WALL_OFFSET_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(0, |s| s.saturating_mul(1000))
    })
}

/// The wall clock in Unix ms, as this daemon believes it: the system's,
/// plus the test-only offset. Every wall-clock reading of the daemon
/// (message stamps, the incident log, the directory's epochs, the last
/// good time) goes through here, so one offset moves them all together.
#[allow(clippy::disallowed_methods)] // the daemon's one wall-clock read
pub fn unix_ms() -> u64 {
    let sys = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    sys.saturating_add_signed(test_wall_offset_ms())
}
