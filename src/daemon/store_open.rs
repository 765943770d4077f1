//! Opening the message store at start. A file that is not a SQLite
//! database, is damaged, holds another program's tables or a newer schema,
//! or sits on a filesystem that cannot be written is a clear error that
//! names the file and says what to do, never a panic and never a silent
//! wipe: the old file is only ever moved aside, and only when the operator
//! asks for it (`callsign up --move-aside-corrupt-store`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use super::config::Error;
use super::msgstore::{DB_FILE, Db, DbError, SCHEMA_VERSION};
use crate::msg::Snapshot;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreFault {
    /// Not a database, or a damaged one: moving it aside is the way out.
    #[error("{0}")]
    Damaged(String),
    /// A readable database that is not ours (another program's tables, or
    /// a newer callsign's schema): moving it aside is the way out too.
    #[error("{0}")]
    Foreign(String),
    /// The data dir cannot be written (read-only filesystem, full disk,
    /// permissions): the file may be fine, so it is never moved.
    #[error("{0}")]
    Unwritable(String),
}

impl StoreFault {
    fn movable(&self) -> bool {
        !matches!(self, StoreFault::Unwritable(_))
    }
}

impl From<DbError> for StoreFault {
    fn from(e: DbError) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreFault::Damaged(e.to_string())
            }
            Some(
                ErrorCode::ReadOnly
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
                | ErrorCode::PermissionDenied
                | ErrorCode::SystemIoFailure,
            ) => StoreFault::Unwritable(e.to_string()),
            // Missing tables or columns, wrong column types: a schema
            // this build did not write.
            _ => StoreFault::Foreign(e.to_string()),
        }
    }
}

/// The files of the store: the database and its WAL and shared-memory
/// files, which belong to it and move with it.
fn files(dir: &Path) -> [PathBuf; 3] {
    let db = dir.join(DB_FILE);
    [
        db.clone(),
        dir.join(format!("{DB_FILE}-wal")),
        dir.join(format!("{DB_FILE}-shm")),
    ]
}

/// The data dir takes a new file (a read-only filesystem or a full disk
/// shows here, before SQLite opens anything).
fn check_writable(dir: &Path) -> Result<(), StoreFault> {
    let probe = dir.join(".callsign-write-probe");
    std::fs::write(&probe, b"probe")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| StoreFault::Unwritable(format!("cannot write in {}: {e}", dir.display())))
}

/// A database with tables but no schema version is another program's
/// (migrating it would add our tables to it); a newer schema is a newer
/// callsign's; and the file must pass SQLite's quick check.
fn check_ours(path: &Path) -> Result<(), StoreFault> {
    if !path.exists() {
        return Ok(());
    }
    let c = Connection::open(path)?;
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if version == 0 && tables > 0 {
        return Err(StoreFault::Foreign(format!(
            "it holds {tables} tables but no callsign schema version"
        )));
    }
    if version > SCHEMA_VERSION as i64 {
        return Err(StoreFault::Foreign(format!(
            "schema version {version} is newer than this callsign's ({SCHEMA_VERSION})"
        )));
    }
    // A truncated or damaged file can open and read its first pages
    // cleanly: the quick check reads every page once, before anything is
    // written to it.
    let check: String = c.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreFault::Damaged(format!("integrity check: {check}")));
    }
    Ok(())
}

fn try_open(dir: &Path) -> Result<(Db, Snapshot), StoreFault> {
    check_writable(dir)?;
    let path = dir.join(DB_FILE);
    check_ours(&path)?;
    let db = Db::open(dir)?;
    let snap = db.load()?;
    Ok((db, snap))
}

/// The message that stops the daemon: the file, the cause, the way out.
fn explain(dir: &Path, f: &StoreFault) -> String {
    let path = dir.join(DB_FILE);
    let aside = aside_name(dir, "<time>");
    match f {
        StoreFault::Unwritable(e) => format!(
            "cannot open the message store {}: {e}\n\
             The data dir must be writable (is the filesystem read-only or full?). \
             Nothing was changed. Free space or remount it read-write, or start with \
             another --data-dir.",
            path.display()
        ),
        StoreFault::Damaged(e) | StoreFault::Foreign(e) => format!(
            "cannot use the message store {}: {e}\n\
             Nothing was changed. To keep the old file and start with an empty store \
             (held messages, the outbox and the incident log start afresh), run \
             `callsign up --move-aside-corrupt-store` with your other options, \
             or move it yourself: mv {} {}",
            path.display(),
            path.display(),
            aside.display()
        ),
    }
}

fn aside_name(dir: &Path, stamp: &str) -> PathBuf {
    dir.join(format!("{DB_FILE}.corrupt-{stamp}"))
}

/// Move the store's files aside under one new name; returns the new path
/// of the database. Never deletes, never overwrites.
fn move_aside(dir: &Path) -> Result<PathBuf, Error> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut stamp = secs.to_string();
    let mut n = 1;
    while aside_name(dir, &stamp).exists() {
        n += 1;
        stamp = format!("{secs}-{n}");
    }
    let to = aside_name(dir, &stamp);
    for (i, from) in files(dir).iter().enumerate() {
        if !from.exists() {
            continue;
        }
        let dest = match i {
            0 => to.clone(),
            1 => PathBuf::from(format!("{}-wal", to.display())),
            _ => PathBuf::from(format!("{}-shm", to.display())),
        };
        std::fs::rename(from, &dest).map_err(|e| {
            format!(
                "cannot move {} aside to {}: {e}",
                from.display(),
                dest.display()
            )
        })?;
    }
    Ok(to)
}

/// Open the store in `dir` and load what the core needs back. With
/// `move_aside`, a damaged or foreign store is moved aside (kept, renamed)
/// and a new one started; an unwritable data dir is always an error.
pub fn open(dir: &Path, move_aside_corrupt: bool) -> Result<(Db, Snapshot), Error> {
    match try_open(dir) {
        Ok(x) => Ok(x),
        Err(f) if f.movable() && move_aside_corrupt => {
            let to = move_aside(dir)?;
            tracing::warn!(old = %to.display(), "message store moved aside ({f}); starting with an empty one");
            eprintln!(
                "callsign: the message store could not be used ({f}); it was moved to {} and an empty one started",
                to.display()
            );
            try_open(dir).map_err(|f| explain(dir, &f).into())
        }
        Err(f) => Err(explain(dir, &f).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("callsign-store-open-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn garbage_is_refused_then_moved_aside_on_request() {
        let d = dir("garbage");
        let junk = vec![0x5au8; 5000];
        std::fs::write(d.join(DB_FILE), &junk).expect("write");
        let e = open(&d, false).err().expect("refused").to_string();
        assert!(e.contains(&d.join(DB_FILE).display().to_string()), "{e}");
        assert!(e.contains("--move-aside-corrupt-store"), "{e}");
        assert_eq!(std::fs::read(d.join(DB_FILE)).expect("kept"), junk);
        open(&d, true).expect("fresh store");
        let moved: Vec<_> = std::fs::read_dir(&d)
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(moved.len(), 1);
        assert_eq!(std::fs::read(moved[0].path()).expect("old"), junk);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn another_programs_database_is_not_migrated() {
        let d = dir("foreign");
        let c = Connection::open(d.join(DB_FILE)).expect("db");
        c.execute_batch("CREATE TABLE bundles (x INTEGER); INSERT INTO bundles VALUES (1);")
            .expect("table");
        drop(c);
        let before = std::fs::read(d.join(DB_FILE)).expect("read");
        let e = open(&d, false).err().expect("refused").to_string();
        assert!(e.contains("no callsign schema version"), "{e}");
        assert_eq!(std::fs::read(d.join(DB_FILE)).expect("kept"), before);
        let _ = std::fs::remove_dir_all(&d);
    }
}
