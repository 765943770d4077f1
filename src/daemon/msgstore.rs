//! The SQLite store of the data dir (`callsign.db`): messages (what the
//! core's [`Change`]s say must survive a crash) and the incident log.
//!
//! Every batch of changes is one transaction, committed with
//! `synchronous=FULL` in WAL mode (fsync at commit): the engine commits
//! before it sends anything, so an accepted message, a custody taken or a
//! receipt given is on disk first. Schema versions are `PRAGMA
//! user_version`, migrated in order at open.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::identity::NodeId;
use crate::msg::{
    Change, InMsg, MsgId, OutMsg, OutRecipient, RecipientState, Snapshot, id_hex, parse_id,
};

pub const DB_FILE: &str = "callsign.db";

/// Schema migrations: entry `n` takes version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: messages and the incident log.
    "CREATE TABLE bundles (id TEXT NOT NULL, dst TEXT NOT NULL, env BLOB NOT NULL,
         copies INTEGER NOT NULL, own INTEGER NOT NULL, PRIMARY KEY (id, dst));
     CREATE TABLE outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
         to_name TEXT NOT NULL, talkgroup INTEGER NOT NULL, text TEXT NOT NULL,
         created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
     CREATE TABLE outbox_recipients (id TEXT NOT NULL, node TEXT NOT NULL, seq INTEGER NOT NULL,
         state TEXT NOT NULL, at_ms INTEGER, PRIMARY KEY (id, node));
     CREATE TABLE inbox (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
         src TEXT NOT NULL, to_name TEXT NOT NULL, talkgroup INTEGER NOT NULL, text TEXT NOT NULL,
         seq INTEGER NOT NULL, created_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,
         expires_ms INTEGER NOT NULL);
     CREATE TABLE seen (id TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);
     CREATE TABLE receipts (id TEXT NOT NULL, dst TEXT NOT NULL, receipt BLOB NOT NULL,
         PRIMARY KEY (id, dst));
     CREATE TABLE seqs (dir TEXT NOT NULL, node TEXT NOT NULL, seq INTEGER NOT NULL,
         PRIMARY KEY (dir, node));
     CREATE TABLE log (n INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
         kind TEXT NOT NULL, detail TEXT NOT NULL);
     CREATE INDEX log_at ON log (at_ms);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Rows of the incident log kept; older ones are deleted at start.
const MAX_LOG_ROWS: i64 = 1_000_000;

pub type DbError = rusqlite::Error;

pub struct Db {
    conn: Connection,
    log_conn: Connection,
}

/// One row of the incident log.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogRow {
    pub n: i64,
    pub at_ms: i64,
    pub kind: String,
    pub detail: serde_json::Value,
    /// The event in words, members by name (`daemon::log_text`); filled
    /// in when the log is read, not stored.
    #[serde(default)]
    pub summary: String,
}

fn node(s: &str) -> Option<NodeId> {
    s.parse().ok()
}

impl Db {
    pub fn open(dir: &Path) -> Result<Self, DbError> {
        let conn = Connection::open(dir.join(DB_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // The incident log has a connection of its own that does not wait
        // for the disk at each row: the engine appends a row for every
        // event it publishes, and an fsync each (synchronous=FULL) stalled
        // the engine loop, and with it floor control and the directory,
        // for tens of ms at a time. WAL with synchronous=NORMAL keeps a
        // row through a crash of the daemon; only a power cut can lose
        // the last ones. Messages keep FULL on the main connection.
        let log_conn = Connection::open(dir.join(DB_FILE))?;
        log_conn.pragma_update(None, "synchronous", "NORMAL")?;
        log_conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut db = Db { conn, log_conn };
        db.migrate()?;
        db.conn.execute(
            "DELETE FROM log WHERE n <= (SELECT MAX(n) FROM log) - ?1",
            params![MAX_LOG_ROWS],
        )?;
        Ok(db)
    }

    pub fn schema_version(&self) -> Result<usize, DbError> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(v as usize)
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let from = self.schema_version()?;
        for (v, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (v + 1) as i64)?;
            tx.commit()?;
            tracing::info!(version = v + 1, "message store schema migrated");
        }
        Ok(())
    }

    /// Apply the core's changes in one transaction.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), DbError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for c in changes {
            match c {
                Change::PutBundle {
                    id,
                    dst,
                    env,
                    copies,
                    own,
                } => {
                    tx.execute(
                        "INSERT INTO bundles (id, dst, env, copies, own) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (id, dst) DO UPDATE SET copies = excluded.copies",
                        params![id_hex(id), dst.to_string(), env, copies, own],
                    )?;
                }
                Change::DelBundle { id, dst } => {
                    tx.execute(
                        "DELETE FROM bundles WHERE id = ?1 AND dst = ?2",
                        params![id_hex(id), dst.to_string()],
                    )?;
                }
                Change::PutOut(m) => {
                    tx.execute(
                        "INSERT OR IGNORE INTO outbox (id, to_name, talkgroup, text, created_ms, expires_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![id_hex(&m.id), m.to, m.talkgroup, m.text, m.created_ms as i64, m.expires_ms as i64],
                    )?;
                    for r in &m.recipients {
                        tx.execute(
                            "INSERT INTO outbox_recipients (id, node, seq, state, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (id, node) DO UPDATE SET state = excluded.state, at_ms = excluded.at_ms",
                            params![id_hex(&m.id), r.node.to_string(), r.seq as i64, r.state.as_str(), r.at_ms.map(|x| x as i64)],
                        )?;
                    }
                }
                Change::Received(m) => {
                    tx.execute(
                        "INSERT OR IGNORE INTO inbox (id, src, to_name, talkgroup, text, seq, created_ms, received_ms, expires_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![id_hex(&m.id), m.src.to_string(), m.to, m.talkgroup, m.text, m.seq as i64,
                            m.created_ms as i64, m.received_ms as i64, m.expires_ms as i64],
                    )?;
                    tx.execute(
                        "INSERT OR REPLACE INTO seen (id, expires_ms) VALUES (?1, ?2)",
                        params![id_hex(&m.id), m.expires_ms as i64],
                    )?;
                }
                Change::ForgetSeen(id) => {
                    tx.execute("DELETE FROM seen WHERE id = ?1", params![id_hex(id)])?;
                }
                Change::PutReceipt { id, dst, receipt } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO receipts (id, dst, receipt) VALUES (?1, ?2, ?3)",
                        params![id_hex(id), dst.to_string(), receipt],
                    )?;
                }
                Change::DelReceipt { id, dst } => {
                    tx.execute(
                        "DELETE FROM receipts WHERE id = ?1 AND dst = ?2",
                        params![id_hex(id), dst.to_string()],
                    )?;
                }
                Change::TxSeq { dst, seq } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO seqs (dir, node, seq) VALUES ('tx', ?1, ?2)",
                        params![dst.to_string(), *seq as i64],
                    )?;
                }
                Change::RxSeq { src, seq } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO seqs (dir, node, seq) VALUES ('rx', ?1, ?2)",
                        params![src.to_string(), *seq as i64],
                    )?;
                }
                Change::ForgetRxSeq(src) => {
                    tx.execute(
                        "DELETE FROM seqs WHERE dir = 'rx' AND node = ?1",
                        params![src.to_string()],
                    )?;
                }
            }
        }
        tx.commit()
    }

    /// What the core needs back at start.
    pub fn load(&self) -> Result<Snapshot, DbError> {
        let mut s = Snapshot::default();
        let mut q = self.conn.prepare("SELECT env, copies, own FROM bundles")?;
        s.bundles = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut q = self.conn.prepare("SELECT receipt FROM receipts")?;
        s.receipts = q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let mut q = self.conn.prepare("SELECT id, expires_ms FROM seen")?;
        s.seen = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .filter_map(|r| r.ok())
            .filter_map(|(id, e)| Some((parse_id(&id)?, e as u64)))
            .collect();
        let mut q = self.conn.prepare("SELECT dir, node, seq FROM seqs")?;
        let rows: Vec<(String, String, i64)> = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (dir, n, seq) in rows {
            let Some(n) = node(&n) else { continue };
            if dir == "tx" {
                s.tx_seq.push((n, seq as u64));
            } else {
                s.rx_seq.push((n, seq as u64));
            }
        }
        s.outbox = self
            .outbox(None)?
            .into_iter()
            .filter(|m| !m.finished())
            .collect();
        Ok(s)
    }

    /// Outgoing messages, oldest first (`limit`: the newest that many).
    pub fn outbox(&self, limit: Option<usize>) -> Result<Vec<OutMsg>, DbError> {
        let mut q = self.conn.prepare(
            "SELECT id, to_name, talkgroup, text, created_ms, expires_ms FROM
             (SELECT * FROM outbox ORDER BY n DESC LIMIT ?1) ORDER BY n",
        )?;
        let lim = limit.map_or(-1, |l| l as i64);
        let rows: Vec<(String, String, bool, String, i64, i64)> = q
            .query_map(params![lim], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut rq = self.conn.prepare(
            "SELECT node, seq, state, at_ms FROM outbox_recipients WHERE id = ?1 ORDER BY node",
        )?;
        let mut out = Vec::new();
        for (id, to, talkgroup, text, created_ms, expires_ms) in rows {
            let Some(mid) = parse_id(&id) else { continue };
            let recipients = rq
                .query_map(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })?
                .filter_map(|r| r.ok())
                .filter_map(|(n, seq, st, at)| {
                    Some(OutRecipient {
                        node: node(&n)?,
                        seq: seq as u64,
                        state: RecipientState::parse(&st)?,
                        at_ms: at.map(|x| x as u64),
                    })
                })
                .collect();
            out.push(OutMsg {
                id: mid,
                to,
                talkgroup,
                text,
                created_ms: created_ms as u64,
                expires_ms: expires_ms as u64,
                recipients,
            });
        }
        Ok(out)
    }

    /// Received messages after row `after`, in the order they were shown.
    pub fn inbox(&self, after: i64) -> Result<Vec<(i64, InMsg)>, DbError> {
        let mut q = self.conn.prepare(
            "SELECT n, id, src, to_name, talkgroup, text, seq, created_ms, received_ms, expires_ms
             FROM inbox WHERE n > ?1 ORDER BY n",
        )?;
        let rows = q
            .query_map(params![after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            })?
            .filter_map(|r| r.ok())
            .filter_map(|(n, id, src, to, talkgroup, text, seq, c, rcv, e)| {
                Some((
                    n,
                    InMsg {
                        id: parse_id(&id)?,
                        src: node(&src)?,
                        to,
                        talkgroup,
                        text,
                        seq: seq as u64,
                        created_ms: c as u64,
                        received_ms: rcv as u64,
                        expires_ms: e as u64,
                    },
                ))
            })
            .collect();
        Ok(rows)
    }

    pub fn inbox_row(&self, id: &MsgId) -> Result<Option<i64>, DbError> {
        self.conn
            .query_row(
                "SELECT n FROM inbox WHERE id = ?1",
                params![id_hex(id)],
                |r| r.get(0),
            )
            .optional()
    }

    /// Append to the incident log (its own transaction: the log is for
    /// after-action review, a lost last row is not a lost message).
    pub fn log(
        &mut self,
        at_ms: u64,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Result<(), DbError> {
        self.log_conn.execute(
            "INSERT INTO log (at_ms, kind, detail) VALUES (?1, ?2, ?3)",
            params![at_ms as i64, kind, detail.to_string()],
        )?;
        Ok(())
    }

    /// Log rows at or after `since_ms`, oldest first.
    pub fn log_since(&self, since_ms: u64, limit: usize) -> Result<Vec<LogRow>, DbError> {
        let mut q = self.conn.prepare(
            "SELECT n, at_ms, kind, detail FROM log WHERE at_ms >= ?1 ORDER BY n LIMIT ?2",
        )?;
        let rows = q
            .query_map(params![since_ms as i64, limit as i64], |r| {
                let detail: String = r.get(3)?;
                Ok(LogRow {
                    n: r.get(0)?,
                    at_ms: r.get(1)?,
                    kind: r.get(2)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    summary: String::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("callsign-db-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn changes_survive_a_reopen_and_the_schema_is_versioned() {
        let d = dir("reopen");
        let n = NodeId([9; 16]);
        let out = OutMsg {
            id: [1; 16],
            to: "medic-12".into(),
            talkgroup: false,
            text: "hydrant dry".into(),
            created_ms: 5,
            expires_ms: 10,
            recipients: vec![OutRecipient {
                node: n,
                seq: 1,
                state: RecipientState::Queued,
                at_ms: None,
            }],
        };
        {
            let mut db = Db::open(&d).expect("open");
            assert_eq!(db.schema_version().expect("v"), MIGRATIONS.len());
            db.apply(&[
                Change::PutOut(out.clone()),
                Change::TxSeq { dst: n, seq: 1 },
                Change::PutBundle {
                    id: [1; 16],
                    dst: n,
                    env: vec![1, 2, 3],
                    copies: 4,
                    own: true,
                },
                Change::PutBundle {
                    id: [1; 16],
                    dst: n,
                    env: vec![1, 2, 3],
                    copies: 2,
                    own: true,
                },
            ])
            .expect("apply");
            db.log(7, "message_sent", &serde_json::json!({"id": "x"}))
                .expect("log");
        }
        let mut db = Db::open(&d).expect("reopen");
        let s = db.load().expect("load");
        assert_eq!(s.bundles, vec![(vec![1, 2, 3], 2, true)]);
        assert_eq!(s.outbox, vec![out.clone()]);
        assert_eq!(s.tx_seq, vec![(n, 1)]);
        let mut later = out.clone();
        for k in 2..=5u8 {
            later.id = [k; 16];
            db.apply(&[Change::PutOut(later.clone()), Change::PutOut(later.clone())])
                .expect("apply");
        }
        assert_eq!(db.outbox(Some(3)).expect("outbox").len(), 3, "the newest 3");
        assert_eq!(db.outbox(None).expect("outbox").len(), 5);
        let log = db.log_since(0, 10).expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].kind, "message_sent");
        let _ = std::fs::remove_dir_all(&d);
    }
}
