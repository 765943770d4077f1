//! The incident's audio log: every talkgroup burst this node hears,
//! decoded, as a 16 kHz mono WAV under the data dir,
//! `audio/<talkgroup>/<UTC start>-<talker>.wav` (the time with `-` for
//! `:`, so the names are valid on any disk an export lands on).
//!
//! Bounded by a quota: before a burst is opened the oldest files go until
//! the log and one burst of the longest allowed length fit. A write that
//! fails (the disk is full) stops that burst's file with one log line per
//! outage; the voice path never waits for or fails with the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::audio::wav::WavWriter;
use crate::daemon::msg_api::iso_utc;
use crate::identity::NodeId;
use crate::time::Instant;

/// The directory under the data dir.
pub const DIR: &str = "audio";
/// Bytes of a WAV header as [`WavWriter`] writes it.
const HEADER: u64 = 44;
/// Bytes of one second of 16 kHz 16-bit mono.
const BYTES_PER_S: u64 = 32_000;
/// A burst's file closes once nothing has played into it for this long
/// (the jitter buffer's tail plays after the floor goes idle).
pub const IDLE_CLOSE: Duration = Duration::from_millis(800);
/// Files kept at most, whatever their size (the listing stays cheap).
const MAX_FILES: usize = 20_000;

/// One burst on disk, as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub talkgroup: String,
    /// Role of the talker (`unknown` when the floor did not say).
    pub talker: String,
    /// Unix ms of the first sample.
    pub start_ms: u64,
    pub length_ms: u64,
    pub bytes: u64,
    /// `<talkgroup>/<file>`: the path under `/v1/audio/`.
    pub file: String,
    /// Still being written (its length grows).
    pub recording: bool,
}

struct Open {
    rel: String,
    path: PathBuf,
    w: WavWriter<std::io::BufWriter<std::fs::File>>,
    last: Instant,
}

pub struct AudioLog {
    dir: PathBuf,
    quota: u64,
    /// The longest burst the floor allows, in bytes: kept free.
    reserve: u64,
    /// Closed files, oldest first: (start_ms, relative path) -> bytes.
    files: BTreeMap<(u64, String), u64>,
    open: BTreeMap<NodeId, Open>,
    /// The last write or open failed (said once per outage).
    failing: bool,
}

/// `2026-12-07T12-45-00.123Z` for a Unix ms.
pub fn stamp(ms: u64) -> String {
    iso_utc(i64::try_from(ms).unwrap_or(i64::MAX)).replace(':', "-")
}

/// The Unix ms of a [`stamp`].
pub fn parse_stamp(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 24 || b[13] != b'-' || b[16] != b'-' || b[19] != b'.' {
        return None;
    }
    let iso = format!("{}:{}:{}Z", &s[..13], &s[14..16], &s[17..19]);
    let secs = crate::daemon::gpsd::parse_time(&iso)?;
    let ms: u64 = s.get(20..23)?.parse().ok()?;
    Some(secs * 1000 + ms)
}

/// Talkgroup, talker and start of a file name under the log, if it is one
/// of ours (`<talkgroup>/<stamp>-<talker>.wav`).
pub fn parse_rel(rel: &str) -> Option<(String, String, u64)> {
    let (tg, file) = rel.split_once('/')?;
    let stem = file.strip_suffix(".wav")?;
    let start = parse_stamp(stem.get(..24)?)?;
    let talker = stem.get(25..)?;
    if !crate::names::record::valid_name(tg) || !crate::names::record::valid_name(talker) {
        return None;
    }
    Some((tg.to_string(), talker.to_string(), start))
}

fn length_ms(bytes: u64) -> u64 {
    bytes.saturating_sub(HEADER) * 1000 / BYTES_PER_S
}

impl AudioLog {
    /// The log under `data_dir`, `quota` bytes at most (0: no log), kept
    /// with room for a burst of `max_burst`.
    pub fn open(data_dir: &Path, quota: u64, max_burst: Duration) -> AudioLog {
        let dir = data_dir.join(DIR);
        let mut log = AudioLog {
            dir,
            quota,
            reserve: HEADER + max_burst.as_secs().saturating_add(1) * BYTES_PER_S,
            files: BTreeMap::new(),
            open: BTreeMap::new(),
            failing: false,
        };
        if quota > 0 {
            log.scan();
            tracing::info!(
                dir = %log.dir.display(),
                files = log.files.len(),
                mb = log.used() / 1_000_000,
                quota_mb = quota / 1_000_000,
                "audio log"
            );
        }
        log
    }

    pub fn enabled(&self) -> bool {
        self.quota > 0
    }

    /// What a previous run left (files this log could not name are not
    /// ours and stay untouched).
    fn scan(&mut self) {
        let Ok(groups) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for g in groups.flatten() {
            let Ok(files) = std::fs::read_dir(g.path()) else {
                continue;
            };
            let tg = g.file_name().to_string_lossy().into_owned();
            for f in files.flatten() {
                let rel = format!("{tg}/{}", f.file_name().to_string_lossy());
                let Some((_, _, start)) = parse_rel(&rel) else {
                    continue;
                };
                let bytes = f.metadata().map_or(0, |m| m.len());
                self.files.insert((start, rel), bytes);
            }
        }
    }

    fn used(&self) -> u64 {
        self.files.values().sum()
    }

    /// Delete the oldest files until `need` more bytes fit the quota.
    fn make_room(&mut self, need: u64) {
        while !self.files.is_empty()
            && (self.used() + need > self.quota || self.files.len() >= MAX_FILES)
        {
            let Some(((_, rel), _)) = self.files.pop_first() else {
                break;
            };
            let p = self.dir.join(&rel);
            match std::fs::remove_file(&p) {
                Ok(()) => tracing::info!(file = %rel, "audio log full: oldest burst deleted"),
                Err(e) => tracing::warn!(file = %rel, "audio log: cannot delete: {e}"),
            }
        }
    }

    /// Decoded audio of `g`'s burst by `talker` on `talkgroup`: appended
    /// to the burst's file (opened on its first frame).
    pub fn write(
        &mut self,
        now: Instant,
        unix_ms: u64,
        g: NodeId,
        talkgroup: &str,
        talker: Option<&str>,
        pcm: &[i16],
    ) {
        if self.quota == 0 {
            return;
        }
        if !self.open.contains_key(&g) {
            let Some(o) = self.start(now, unix_ms, talkgroup, talker) else {
                return;
            };
            self.open.insert(g, o);
        }
        let Some(o) = self.open.get_mut(&g) else {
            return;
        };
        o.last = now;
        if let Err(e) = o.w.write(pcm) {
            let rel = o.rel.clone();
            self.fail(&rel, &e.to_string());
            // What was written stays, with a header that says so.
            self.close(g);
        }
    }

    fn start(
        &mut self,
        now: Instant,
        unix_ms: u64,
        talkgroup: &str,
        talker: Option<&str>,
    ) -> Option<Open> {
        let talker = talker
            .filter(|t| crate::names::record::valid_name(t))
            .unwrap_or("unknown");
        if !crate::names::record::valid_name(talkgroup) {
            return None;
        }
        self.make_room(self.reserve);
        let rel = format!("{talkgroup}/{}-{talker}.wav", stamp(unix_ms));
        let path = self.dir.join(&rel);
        let made = std::fs::create_dir_all(self.dir.join(talkgroup))
            .and_then(|()| std::fs::File::create(&path))
            .map_err(|e| e.to_string())
            .and_then(|f| WavWriter::new(std::io::BufWriter::new(f)).map_err(|e| e.to_string()));
        match made {
            Ok(w) => Some(Open {
                rel,
                path,
                w,
                last: now,
            }),
            Err(e) => {
                self.fail(&rel, &e);
                None
            }
        }
    }

    fn fail(&mut self, rel: &str, e: &str) {
        if !std::mem::replace(&mut self.failing, true) {
            tracing::warn!(
                file = %rel,
                "AUDIO LOG NOT RECORDING (disk full or unwritable): {e}; voice is still relayed and played"
            );
        }
    }

    /// The file of `g`'s burst now being written, if any.
    pub fn current(&self, g: NodeId) -> Option<String> {
        self.open.get(&g).map(|o| o.rel.clone())
    }

    /// Finish `g`'s file (a new burst starts, or the group is left).
    pub fn close(&mut self, g: NodeId) {
        let Some(o) = self.open.remove(&g) else {
            return;
        };
        let bytes = o.w.finish().map_err(|e| e.to_string()).and_then(|w| {
            let f = w.into_inner().map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())?;
            f.metadata().map(|m| m.len()).map_err(|e| e.to_string())
        });
        match bytes {
            Ok(b) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!("audio log recording again (bursts in between are missing)");
                }
                let start = parse_rel(&o.rel).map_or(0, |(_, _, s)| s);
                self.files.insert((start, o.rel), b);
            }
            Err(e) => {
                self.fail(&o.rel, &e);
                let start = parse_rel(&o.rel).map_or(0, |(_, _, s)| s);
                let b = std::fs::metadata(&o.path).map_or(0, |m| m.len());
                self.files.insert((start, o.rel), b);
            }
        }
    }

    /// Close the files nothing has played into for [`IDLE_CLOSE`].
    pub fn close_idle(&mut self, now: Instant) {
        let idle: Vec<NodeId> = self
            .open
            .iter()
            .filter(|(_, o)| now.saturating_since(o.last) >= IDLE_CLOSE)
            .map(|(g, _)| *g)
            .collect();
        for g in idle {
            self.close(g);
        }
    }

    /// Every burst kept, newest first, at most `limit`.
    pub fn list(&self, limit: usize) -> Vec<Entry> {
        let open = self.open.values().map(|o| (o.rel.clone(), true));
        let closed = self.files.keys().map(|(_, rel)| (rel.clone(), false));
        let mut v: Vec<Entry> = closed
            .chain(open)
            .filter_map(|(rel, recording)| {
                let (talkgroup, talker, start_ms) = parse_rel(&rel)?;
                let bytes = match self.files.iter().find(|((_, r), _)| *r == rel) {
                    Some((_, b)) if !recording => *b,
                    _ => std::fs::metadata(self.dir.join(&rel)).map_or(0, |m| m.len()),
                };
                Some(Entry {
                    talkgroup,
                    talker,
                    start_ms,
                    length_ms: length_ms(bytes),
                    bytes,
                    file: rel,
                    recording,
                })
            })
            .collect();
        v.sort_by(|a, b| b.start_ms.cmp(&a.start_ms).then(a.file.cmp(&b.file)));
        v.truncate(limit);
        v
    }

    /// The path of a closed file named by the API, if it is one of ours.
    pub fn path_of(&self, rel: &str) -> Option<PathBuf> {
        let (_, _, start) = parse_rel(rel)?;
        self.files
            .contains_key(&(start, rel.to_string()))
            .then(|| self.dir.join(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("callsign-audiolog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn stamps_round_trip() {
        let ms = 1_796_646_300_123;
        let s = stamp(ms);
        assert_eq!(s.len(), 24, "{s}");
        assert!(!s.contains(':'));
        assert_eq!(parse_stamp(&s), Some(ms));
        assert_eq!(
            parse_rel(&format!("fireground-1/{s}-rescue-2.wav")),
            Some(("fireground-1".into(), "rescue-2".into(), ms))
        );
        assert_eq!(parse_rel("../etc/passwd"), None);
        assert_eq!(parse_rel(&format!("fireground-1/{s}-../x.wav")), None);
    }

    #[test]
    fn bursts_are_written_listed_and_the_oldest_go_over_quota() {
        let d = tmp("quota");
        // Room for four 1 s bursts: before the fifth opens the oldest goes.
        let one = HEADER + BYTES_PER_S;
        let mut log = AudioLog::open(&d, 4 * one + 100, Duration::from_secs(0));
        let g = NodeId([1; 16]);
        let mut now = Instant::ZERO;
        for i in 0..5u64 {
            for _ in 0..50 {
                log.write(
                    now,
                    1_000_000 + i * 10_000,
                    g,
                    "tg-1",
                    Some("engine-3"),
                    &[7; 320],
                );
                now = now + Duration::from_millis(20);
            }
            assert!(log.current(g).is_some());
            now = now + IDLE_CLOSE;
            log.close_idle(now);
            assert!(log.current(g).is_none());
        }
        let l = log.list(10);
        assert_eq!(l.len(), 4, "{l:?}");
        assert_eq!(l[0].start_ms, 1_040_000, "newest first");
        assert_eq!(l[3].start_ms, 1_010_000, "the oldest went");
        assert!(
            l.iter()
                .all(|e| e.length_ms == 1000 && e.talker == "engine-3")
        );
        let p = log.path_of(&l[0].file).expect("a kept file");
        let pcm = crate::audio::wav::read(&p).expect("a WAV");
        assert_eq!(pcm.len(), 16_000);
        assert!(log.path_of("tg-1/nothing.wav").is_none());
        // A restart finds what is there.
        let again = AudioLog::open(&d, 4 * one + 100, Duration::from_secs(0));
        assert_eq!(again.list(10), l);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_unwritable_dir_records_nothing_and_does_not_fail() {
        let d = tmp("ro");
        std::fs::create_dir_all(&d).expect("dir");
        // A file where the directory should be.
        std::fs::write(d.join(DIR), b"x").expect("file");
        let mut log = AudioLog::open(&d, 1_000_000, Duration::from_secs(1));
        let g = NodeId([2; 16]);
        log.write(Instant::ZERO, 5, g, "tg-1", None, &[0; 320]);
        assert!(log.current(g).is_none());
        assert!(log.failing);
        assert!(log.list(10).is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
