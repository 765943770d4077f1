//! Revocations in the daemon: kept in the data dir so a revoked device
//! stays out across restarts, and `callsign revoke add|list`, the
//! operator's way to put one into the mesh. The checking and the list
//! itself are the core's (`trust::Secured::revoke`, `node/revoke.rs`);
//! this file only reads, writes and forwards bytes.
//!
//! Files: `revoked/<NodeId>.rev` in the data dir, each one revocation as
//! `callsign ca revoke` wrote it (so an operator may also copy a file in
//! there and restart). Written atomically (temporary file, fsync,
//! rename, fsync of the directory) when the node takes a new one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::cli::ClientArgs;
use super::client::get_json;
use super::dto;
use crate::identity::NodeId;

type Error = Box<dyn std::error::Error>;

/// The directory of revocations under the data dir.
pub const DIR: &str = "revoked";
/// Files read at start, at most: the core's list holds no more.
const MAX_FILES: usize = crate::trust::MAX_REVOKED;

/// Every revocation file in the data dir, as bytes, with its path (files
/// too large or unreadable are reported, not fatal: the others still
/// count).
pub fn load(data_dir: &Path) -> Vec<(PathBuf, Result<Vec<u8>, String>)> {
    let dir = data_dir.join(DIR);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rev"))
        .collect();
    paths.sort();
    paths.truncate(MAX_FILES);
    paths
        .into_iter()
        .map(|p| {
            let r = std::fs::metadata(&p)
                .map_err(|e| e.to_string())
                .and_then(|m| {
                    if m.len() > crate::trust::revoke::MAX_LEN as u64 {
                        Err(format!("{} bytes: not a revocation", m.len()))
                    } else {
                        std::fs::read(&p).map_err(|e| e.to_string())
                    }
                });
            (p, r)
        })
        .collect()
}

/// Keep the revocation of `id` in the data dir, durably.
pub fn save(data_dir: &Path, id: &NodeId, bytes: &[u8]) -> Result<PathBuf, String> {
    use std::io::Write;
    let dir = data_dir.join(DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{id}.rev"));
    let tmp = dir.join(format!(".{id}.rev.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[derive(Subcommand, Debug)]
pub enum RevokeCommand {
    /// Put a revocation (from `callsign ca revoke`) into the mesh through
    /// this node: it checks the signature against its trust roots, shuts
    /// the device out, keeps it in its data dir and passes it on; every
    /// node does the same within seconds.
    Add {
        /// The revocation file.
        file: PathBuf,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// The devices this node holds revoked, and what it refused of them.
    List(ClientArgs),
}

pub fn run(cmd: &RevokeCommand) -> Result<ExitCode, Error> {
    match cmd {
        RevokeCommand::Add { file, client } => add(file, client),
        RevokeCommand::List(a) => list(a),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn add(file: &Path, a: &ClientArgs) -> Result<ExitCode, Error> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    // Checked here too, for a clear message before the daemon is asked.
    let r = crate::trust::Revocation::decode(&bytes).map_err(|e| {
        format!(
            "{}: {e} (expected a file from `callsign ca revoke`)",
            file.display()
        )
    })?;
    let body = serde_json::json!({ "revocation": hex(&bytes) }).to_string();
    let (done, raw): (dto::RevokeDone, _) =
        get_json(a.api()?, "POST", "/v1/revocations", Some(&body))?;
    if a.json {
        println!("{}", raw.trim());
    } else if done.new {
        println!(
            "revoked {} ({}): shut out here, passing it to the mesh",
            done.id, r.reason
        );
    } else {
        println!("{} was already revoked here", done.id);
    }
    Ok(ExitCode::SUCCESS)
}

fn list(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (st, _): (dto::Status, _) = get_json(a.api()?, "GET", "/v1/status", None)?;
    let r = &st.revocations;
    if a.json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if r.revoked.is_empty() {
        println!("no device revoked");
    }
    for d in &r.revoked {
        println!("{}  issued {}  {}", d.id, d.issued, d.reason);
    }
    let s = &st.stats;
    println!(
        "refused: {} link packets, {} data, {} floods (talkgroups, floor), {} directory records; \
         {} revocations taken, {} refused",
        s.rx_revoked,
        s.rx_revoked_data,
        s.rx_revoked_flood,
        r.records_revoked,
        s.revocations_learned,
        s.revocations_refused
    );
    Ok(ExitCode::SUCCESS)
}
