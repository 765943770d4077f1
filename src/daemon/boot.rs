//! What a start needs from the data directory when no clock can be
//! trusted: the last known good time and the MAC's boot counter (the
//! policy is `trust::clock`; this is its files). Both are one decimal
//! number in a small file, replaced atomically and made durable (written
//! to a temporary file, fsynced, renamed, directory fsynced), so a crash
//! leaves the old value or the new one, never a torn one.

use std::io::Write;
use std::path::Path;

use crate::trust::clock::{self, EpochFrom, WallTime};

use super::config::Error;

/// The latest sure clock reading, Unix seconds.
pub const LAST_GOOD_FILE: &str = "clock.last-good";
/// The MAC epoch of the latest start.
pub const EPOCH_FILE: &str = "mac.epoch";
/// How often a running daemon records a sure clock reading.
pub const LAST_GOOD_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The number in `dir/name`: `Ok(None)` when the file is missing,
/// `Err` with the reason when it is there but unreadable or not a number.
fn read_number(dir: &Path, name: &str) -> Result<Option<u64>, String> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| format!("{}: not a number ({e})", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Replace `dir/name` with `value`, durably (see the module doc).
fn write_number(dir: &Path, name: &str, value: u64) -> Result<(), Error> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f =
        std::fs::File::create(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    writeln!(f, "{value}")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    // The rename itself must survive a power cut.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The last known good time, if recorded and readable (an unreadable one
/// is logged and ignored: it only ever makes the clock look sure).
pub fn last_good(dir: &Path) -> Option<u64> {
    match read_number(dir, LAST_GOOD_FILE) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("last known good time unreadable, ignored: {e}");
            None
        }
    }
}

/// Judge the clock reading `clock_s` (see `trust::clock`) and, when it is
/// sure, record it as the last known good time. An unsure clock is logged
/// loudly.
pub fn judge_clock(dir: &Path, clock_s: u64) -> Result<(WallTime, Option<u64>), Error> {
    let last = last_good(dir);
    let wall = WallTime::judge(clock_s, last);
    match wall {
        WallTime::Sure(s) => record_good_time(dir, s)?,
        WallTime::Unsure { clock_s, assumed_s } => tracing::error!(
            clock_s,
            assumed_s,
            last_good = ?last,
            build_floor = clock::BUILD_FLOOR_S,
            "THE CLOCK IS WRONG (before this build or before the last known good time): certificates are judged at the assumed time until a restart with a good clock; texts and directory records carry no trustworthy time"
        ),
    }
    Ok((wall, last))
}

/// Record a sure clock reading as the last known good time (never moving
/// it backwards).
pub fn record_good_time(dir: &Path, unix_s: u64) -> Result<(), Error> {
    if last_good(dir).is_some_and(|g| g >= unix_s) {
        return Ok(());
    }
    write_number(dir, LAST_GOOD_FILE, unix_s)
}

/// The running daemon's hourly refresh: record `clock_s` if it is sure.
/// A failure to write is logged, not fatal (the older good time stands).
pub fn refresh_good_time(dir: &Path, clock_s: u64) {
    if let WallTime::Sure(s) = WallTime::judge(clock_s, last_good(dir))
        && let Err(e) = record_good_time(dir, s)
    {
        tracing::warn!("cannot record the last known good time: {e}");
    }
}

/// The MAC epoch of this start: raised from the stored counter (or a
/// fallback, see `trust::clock::next_epoch`) and made durable before it is
/// returned, so before the first packet. `new_key`: the device key was
/// created by this start.
pub fn next_epoch(
    dir: &Path,
    new_key: bool,
    wall: WallTime,
    last_good: Option<u64>,
) -> Result<u32, Error> {
    let stored = match read_number(dir, EPOCH_FILE) {
        Ok(v) => v.map(|e| u32::try_from(e).unwrap_or(u32::MAX)),
        Err(e) => {
            tracing::error!("MAC boot counter unreadable, falling back: {e}");
            None
        }
    };
    let (epoch, from) = clock::next_epoch(stored, new_key, wall, last_good);
    match from {
        EpochFrom::Counter | EpochFrom::NewKey => tracing::info!(epoch, "MAC epoch"),
        EpochFrom::Clock => {
            tracing::warn!(epoch, "MAC boot counter missing: epoch from the clock")
        }
        EpochFrom::LastGood => tracing::error!(
            epoch,
            "MAC boot counter missing and the clock is wrong: epoch from the last known good time"
        ),
        EpochFrom::Jump => tracing::error!(
            epoch,
            "MAC boot counter missing, the clock is wrong and no good time is known: epoch jumps ahead"
        ),
    }
    write_number(dir, EPOCH_FILE, u64::from(epoch))?;
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("callsign-boot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn the_counter_grows_across_starts_with_the_clock_at_1970() {
        let d = dir("counter");
        let good = clock::BUILD_FLOOR_S + 86_400;
        let (wall, last) = judge_clock(&d, good).expect("judge");
        assert_eq!(wall, WallTime::Sure(good));
        let e1 = next_epoch(&d, true, wall, last).expect("first");
        assert_eq!(last_good(&d), Some(good), "a sure clock is recorded");
        let (wall, last) = judge_clock(&d, 7).expect("judge");
        assert_eq!(wall.assumed_s(), good);
        let e2 = next_epoch(&d, false, wall, last).expect("second");
        let e3 = next_epoch(&d, false, wall, last).expect("third");
        assert!(e1 < e2 && e2 < e3, "{e1} {e2} {e3}");
        assert_eq!(last_good(&d), Some(good), "an unsure clock is not recorded");
        // A corrupt counter: the fallback is above what was used.
        std::fs::write(d.join(EPOCH_FILE), "garbage").expect("write");
        let e4 = next_epoch(&d, false, wall, last).expect("fallback");
        assert!(e4 > e3, "{e4} > {e3}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
