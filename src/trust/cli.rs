//! `callsign ca init`, `callsign ca issue`, `callsign ca issue-batch` and
//! `callsign ca revoke`: the agency CA on an operator's machine. Certificates are issued from
//! public keys (`--node-pub`, or signed enrolment requests); issuing from
//! a copied secret key file (`--node-key`) is kept as a labelled
//! convenience for a lab bench, never for the field. The only file IO and clock reads of the trust layer
//! live here (the module is exempt from the core's clippy bans in
//! `trust/mod.rs`); the rest is [`super::ca`].

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Secured, ca, roles};
use crate::identity::{Identity, NodeId};

#[derive(Debug, clap::Subcommand)]
pub enum CaCmd {
    /// Create an agency CA: `ca.pem` (give it to every device) and
    /// `ca.key` (mode 0600; keep it off the devices) in --out.
    Init {
        /// Agency name, written as the subject O of every certificate.
        #[arg(long)]
        agency: String,
        /// Directory for ca.pem and ca.key (created if missing; existing
        /// files are never overwritten).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 3650)]
        days: u32,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a device certificate binding a device's key to the agency and
    /// the roles it may claim. The device's public key comes from
    /// `callsign id` on the device; its secret key never moves.
    Issue {
        /// Directory holding ca.pem and ca.key.
        #[arg(long)]
        ca: PathBuf,
        /// The device's public key: 64 hex digits, as `callsign id` prints
        /// (or its QR code gives).
        #[arg(
            long = "node-pub",
            value_name = "KEY",
            required_unless_present = "node_key",
            conflicts_with = "node_key"
        )]
        node_pub: Option<String>,
        /// CONVENIENCE, NOT FOR THE FIELD: take the public key from a copy
        /// of the device's secret key file (`device.key`). Copying it off
        /// the device lets whoever holds the copy impersonate the device;
        /// use --node-pub, or `callsign enrol request` and `ca issue-batch`.
        #[arg(long = "node-key", value_name = "FILE-OR-KEY")]
        node_key: Option<String>,
        /// Comma-separated role patterns: `command`, `engine-*`,
        /// `*.engine-7`, `captain.engine-7`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Comma-separated talkgroup patterns the device may join in
        /// secured mode, same syntax: `division-*`, `command`.
        #[arg(long, value_delimiter = ',')]
        talkgroups: Vec<String>,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Where to write the certificate (PEM); stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print a summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue certificates for every enrolment request (`*.req`, from
    /// `callsign enrol request` on each device) in DIR: each request's
    /// signature is checked (the device holds the key), then NAME.pem is
    /// written next to NAME.req, and ca.pem is copied beside them, ready
    /// to hand back (`callsign enrol install NAME.pem --trust-root ca.pem`).
    IssueBatch {
        /// Directory holding ca.pem and ca.key.
        #[arg(long)]
        ca: PathBuf,
        /// Directory of *.req files; certificates are written there.
        dir: PathBuf,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Only grant roles within these patterns (comma-separated); a
        /// request asking for more is refused. Default: what each asks.
        #[arg(long, value_delimiter = ',', value_name = "PATTERNS")]
        allow: Vec<String>,
        /// Check and list the requests, issue nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a lost or stolen device: write a revocation signed by the
    /// CA key to --out. Put it into the mesh at any enrolled node
    /// (`callsign revoke add FILE`); it spreads to every node in seconds,
    /// and each then refuses the device's packets, routes, records and
    /// talkgroup traffic, across restarts. The device needs a new key
    /// (and certificate) to come back: the revocation names its NodeId,
    /// which every certificate for that key carries.
    Revoke {
        /// Directory holding ca.pem and ca.key (a root CA: devices refuse
        /// revocations from sub-CAs).
        #[arg(long)]
        ca: PathBuf,
        /// The device's NodeId (32 hex digits, `callsign id` or
        /// `callsign status` on any node that saw it).
        #[arg(
            long = "node-id",
            value_name = "NODEID",
            required_unless_present = "cert",
            conflicts_with = "cert"
        )]
        node_id: Option<String>,
        /// Or the device's certificate (PEM): its subject CN is the NodeId.
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// Why, for the logs of every node (at most 120 bytes).
        #[arg(long, default_value = "unspecified")]
        reason: String,
        /// Where to write the revocation (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Print a summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: CaCmd) -> Result<(), String> {
    match cmd {
        CaCmd::Init {
            agency,
            out,
            days,
            json,
        } => init(&agency, &out, days, json),
        CaCmd::Issue {
            ca,
            node_pub,
            node_key,
            roles,
            talkgroups,
            days,
            out,
            json,
        } => {
            let pk = match (node_pub, node_key) {
                (Some(hex), _) => hex32(hex.trim()).ok_or_else(|| {
                    format!(
                        "--node-pub {hex:?}: expected the device's public key as 64 hex digits \
                         (`callsign id` on the device prints it)"
                    )
                })?,
                (None, Some(k)) => {
                    eprintln!(
                        "note: --node-key is a convenience for a lab bench; in the field use \
                         --node-pub (`callsign id`) so the secret key never leaves the device"
                    );
                    parse_node_key(&k)?
                }
                (None, None) => return Err("give --node-pub KEY (from `callsign id`)".into()),
            };
            issue(&ca, pk, &roles, &talkgroups, days, out.as_deref(), json)
        }
        CaCmd::IssueBatch {
            ca,
            dir,
            days,
            allow,
            dry_run,
            json,
        } => issue_batch(&ca, &dir, days, &allow, dry_run, json),
        CaCmd::Revoke {
            ca,
            node_id,
            cert,
            reason,
            out,
            json,
        } => {
            let node = match (node_id, cert) {
                (Some(hex), _) => hex.trim().parse::<NodeId>().map_err(|_| {
                    format!(
                        "--node-id {hex:?}: expected a NodeId, 32 hex digits (`callsign id` \
                         on the device, or the neighbour list of any node that saw it)"
                    )
                })?,
                (None, Some(path)) => node_of_cert(&path)?,
                (None, None) => return Err("give --node-id NODEID or --cert FILE".into()),
            };
            revoke(&ca, node, &reason, &out, json)
        }
    }
}

/// The NodeId a device certificate names (its subject CN), checked
/// against the hash of its key.
fn node_of_cert(path: &Path) -> Result<NodeId, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let der = CertificateDer::from_pem_slice(&bytes)
        .map(|c| c.to_vec())
        .unwrap_or(bytes);
    let f = super::der::fields(&der)
        .map_err(|e| format!("{} is not a device certificate: {e}", path.display()))?;
    let key = f
        .ed25519_key
        .ok_or_else(|| format!("{}: not an Ed25519 device certificate", path.display()))?;
    let id = NodeId::from_public_key(&key);
    if f.common_name.as_deref() != Some(id.to_string().as_str()) {
        return Err(format!(
            "{}: its subject CN {:?} is not the NodeId {id} of its key (a CA certificate?)",
            path.display(),
            f.common_name.unwrap_or_default()
        ));
    }
    Ok(id)
}

fn revoke(ca_dir: &Path, node: NodeId, reason: &str, out: &Path, json: bool) -> Result<(), String> {
    let files = read_ca(ca_dir)?;
    let reason = reason.trim();
    if reason.len() > super::revoke::MAX_REASON || reason.chars().any(char::is_control) {
        return Err(format!(
            "--reason: at most {} bytes, one line",
            super::revoke::MAX_REASON
        ));
    }
    let now = now_unix_s()?;
    let bytes = ca::revoke(&files, node, reason, now).map_err(|e| e.to_string())?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} already exists: remove it or choose another --out",
                out.display()
            ),
            _ => format!("cannot create {}: {e}", out.display()),
        })?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    if json {
        let v = serde_json::json!({
            "node_id": node,
            "reason": reason,
            "issued": now,
            "out": out,
            "bytes": bytes.len(),
        });
        println!("{v}");
    } else {
        println!(
            "revoked {node} ({reason}): {} ({} bytes); put it into the mesh at any enrolled \
             node with `callsign revoke add {}`",
            out.display(),
            bytes.len(),
            out.display()
        );
    }
    Ok(())
}

fn now_unix_s() -> Result<u64, String> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| "the system clock is before 1970: set it before issuing".to_string())
}

/// Write `contents` to a new file (never overwrite) with `mode`.
fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} already exists: remove it or choose another --out",
                path.display()
            ),
            _ => format!("cannot create {}: {e}", path.display()),
        })?;
    f.write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn init(agency: &str, out: &Path, days: u32, json: bool) -> Result<(), String> {
    let files = ca::init(agency, days, now_unix_s()?).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let (cert_path, key_path) = (out.join("ca.pem"), out.join("ca.key"));
    for p in [&cert_path, &key_path] {
        if p.exists() {
            return Err(format!(
                "{} already exists: remove it or choose another --out",
                p.display()
            ));
        }
    }
    write_new(&key_path, &files.key_pem, 0o600)?;
    write_new(&cert_path, &files.cert_pem, 0o644)?;
    if json {
        let v = serde_json::json!({
            "agency": agency,
            "days": days,
            "cert": cert_path,
            "key": key_path,
        });
        println!("{v}");
    } else {
        println!(
            "created CA for {agency:?}: {} (give to every device), {} (secret, 0600)",
            cert_path.display(),
            key_path.display()
        );
    }
    Ok(())
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The device public key named by `--node-key`: 64 hex digits, or a key
/// file in the daemon's format (the raw 32-byte secret, as
/// `daemon::store` writes `device.key`), or a file holding 64 hex digits.
pub fn parse_node_key(arg: &str) -> Result<[u8; 32], String> {
    let arg = arg.trim();
    if let Some(pk) = hex32(arg) {
        return Ok(pk);
    }
    if arg.len() == 32 && arg.parse::<NodeId>().is_ok() {
        return Err(format!(
            "{arg} is a NodeId: it is a hash of the device's public key and cannot give the key \
             back, and a certificate must carry the key. Pass the device's key file instead \
             (device.key in its data dir: /var/lib/callsign or ~/.local/share/callsign), or \
             its public key as 64 hex digits"
        ));
    }
    let path = Path::new(arg);
    let bytes = std::fs::read(path).map_err(|e| {
        format!("--node-key {arg:?} is neither 64 hex digits nor a readable key file: {e}")
    })?;
    if bytes.len() == 32 {
        return Identity::from_secret_slice(&bytes)
            .map(|i| i.public_key())
            .map_err(|e| format!("bad device key {}: {e}", path.display()));
    }
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| hex32(s.trim()))
        .ok_or_else(|| {
            format!(
                "{} is not a device key file (32 raw bytes) nor 64 hex digits ({} bytes)",
                path.display(),
                bytes.len()
            )
        })
}

fn read_ca(ca_dir: &Path) -> Result<ca::CaFiles, String> {
    let read = |name: &str| {
        let p = ca_dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    Ok(ca::CaFiles {
        cert_pem: read("ca.pem")?,
        key_pem: read("ca.key")?,
    })
}

/// Issue one certificate and read back what it grants.
fn issue_one(
    files: &ca::CaFiles,
    pk: [u8; 32],
    roles: &[String],
    talkgroups: &[String],
    days: u32,
    now: u64,
) -> Result<(String, NodeId, super::PeerCert), String> {
    let pem = ca::issue_with_talkgroups(files, pk, roles, talkgroups, days, now)
        .map_err(|e| e.to_string())?;
    let mut check = Secured::new();
    check
        .add_root(files.cert_pem.as_bytes())
        .map_err(|e| e.to_string())?;
    let id = check
        .add_peer_cert(pem.as_bytes(), now)
        .map_err(|e| e.to_string())?;
    let granted = check
        .peer(&id)
        .cloned()
        .ok_or("issued certificate not cached")?;
    Ok((pem, id, granted))
}

/// Whether the pattern asked for lies within one allowed: the same
/// pattern, a name the allowed pattern permits, or a narrower wildcard
/// (`engine-3*` within `engine-*`; the parts after the first dot equal).
fn within(asked: &str, allowed: &[String]) -> bool {
    let split = |s: &str| -> (String, Option<String>) {
        match s.split_once('.') {
            Some((f, r)) => (f.to_string(), Some(r.to_string())),
            None => (s.to_string(), None),
        }
    };
    allowed.iter().any(|a| {
        let ((af, ar), (qf, qr)) = (split(a), split(asked));
        a == asked
            || roles::permits(a, asked)
            || ar == qr
                && matches!(
                    (af.strip_suffix('*'), qf.strip_suffix('*')),
                    (Some(ap), Some(qp)) if qp.starts_with(ap)
                )
    })
}

fn issue_batch(
    ca_dir: &Path,
    dir: &Path,
    days: u32,
    allow: &[String],
    dry_run: bool,
    json: bool,
) -> Result<(), String> {
    use super::enrol;
    let files = read_ca(ca_dir)?;
    let now = now_unix_s()?;
    let mut reqs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "req"))
        .collect();
    reqs.sort();
    if reqs.is_empty() {
        return Err(format!(
            "no *.req files in {} (each device makes one: `callsign enrol request --roles ... --out NAME.req`)",
            dir.display()
        ));
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    for p in &reqs {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out = dir.join(format!("{stem}.pem"));
        let result = (|| -> Result<(NodeId, Vec<String>, String), String> {
            let bytes = std::fs::read(p).map_err(|e| format!("cannot read: {e}"))?;
            let c = enrol::check(&bytes).map_err(|e| e.to_string())?;
            if let Some(bad) = c
                .roles
                .iter()
                .find(|r| !allow.is_empty() && !within(r, allow))
            {
                return Err(format!(
                    "asks for {bad:?}, not within --allow {}",
                    allow.join(",")
                ));
            }
            if out.exists() {
                return Err(format!(
                    "{} already exists (issued before?): remove it to issue again",
                    out.display()
                ));
            }
            if dry_run {
                return Ok((c.node_id, c.roles, c.name));
            }
            let (pem, id, granted) = issue_one(&files, c.public_key, &c.roles, &[], days, now)?;
            write_new(&out, &pem, 0o644)?;
            Ok((id, granted.roles, c.name))
        })();
        match result {
            Ok((id, roles, name)) => rows.push(serde_json::json!({
                "request": p, "ok": true, "node_id": id, "name": name, "roles": roles,
                "cert": if dry_run { None } else { Some(&out) },
            })),
            Err(e) => {
                failed += 1;
                rows.push(serde_json::json!({ "request": p, "ok": false, "error": e }));
            }
        }
    }
    let ca_copy = dir.join("ca.pem");
    if !dry_run && !ca_copy.exists() {
        write_new(&ca_copy, &files.cert_pem, 0o644)?;
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
    } else {
        for r in &rows {
            let req = r["request"].as_str().unwrap_or("");
            if r["ok"] == true {
                let roles: Vec<&str> = r["roles"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default();
                println!(
                    "{} {req}: {} {} roles {}",
                    if dry_run { "would issue" } else { "issued" },
                    r["node_id"].as_str().unwrap_or(""),
                    r["name"]
                        .as_str()
                        .filter(|n| !n.is_empty())
                        .map_or(String::new(), |n| format!("({n})")),
                    roles.join(",")
                );
            } else {
                println!("REFUSED {req}: {}", r["error"].as_str().unwrap_or(""));
            }
        }
        if !dry_run {
            println!(
                "hand each device its NAME.pem and {} (`callsign enrol install NAME.pem --trust-root ca.pem`)",
                ca_copy.display()
            );
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} requests refused", reqs.len()));
    }
    Ok(())
}

fn issue(
    ca_dir: &Path,
    pk: [u8; 32],
    roles: &[String],
    talkgroups: &[String],
    days: u32,
    out: Option<&Path>,
    json: bool,
) -> Result<(), String> {
    let files = read_ca(ca_dir)?;
    let roles: Vec<String> = roles
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if let Some(bad) = roles.iter().find(|r| !roles::valid_pattern(r)) {
        return Err(format!(
            "invalid role pattern {bad:?}: lowercase labels [a-z0-9-] joined by dots, the first \
             may be `*` or end in `*` (command, engine-*, *.engine-7, captain.engine-7)"
        ));
    }
    let talkgroups: Vec<String> = talkgroups
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if let Some(bad) = talkgroups.iter().find(|r| !roles::valid_pattern(r)) {
        return Err(format!(
            "invalid talkgroup pattern {bad:?}: the role pattern syntax (division-*, command)"
        ));
    }
    let now = now_unix_s()?;
    let (pem, id, granted) = issue_one(&files, pk, &roles, &talkgroups, days, now)?;
    match out {
        Some(p) => write_new(p, &pem, 0o644)?,
        None if !json => print!("{pem}"),
        None => {}
    }
    if json {
        let v = serde_json::json!({
            "node_id": id,
            "agency": granted.agency,
            "roles": granted.roles,
            "talkgroups": granted.talkgroups,
            "not_before": granted.not_before,
            "not_after": granted.expiry,
            "out": out,
            "pem": if out.is_none() { Some(&pem) } else { None },
        });
        println!("{v}");
    } else if let Some(p) = out {
        println!(
            "issued {} for {id} ({}), roles {}, until Unix {}",
            p.display(),
            granted.agency,
            granted.roles.join(","),
            granted.expiry
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_cli_node_key_forms() {
        let ident = Identity::from_secret(&[5u8; 32]);
        let hex: String = ident
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(parse_node_key(&hex), Ok(ident.public_key()));
        let err = parse_node_key(&ident.id().to_string()).expect_err("node id");
        assert!(err.contains("is a NodeId"), "{err}");
        assert!(parse_node_key("/nonexistent/device.key").is_err());

        let dir = std::env::temp_dir().join(format!("callsign-trust-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("device.key");
        std::fs::write(&key, ident.secret()).expect("write");
        assert_eq!(
            parse_node_key(key.to_str().expect("utf8")),
            Ok(ident.public_key())
        );
        std::fs::write(&key, b"short").expect("write");
        assert!(parse_node_key(key.to_str().expect("utf8")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn trust_cli_revoke_by_node_id_and_by_certificate() {
        let dir = std::env::temp_dir().join(format!("callsign-trust-rev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        run(CaCmd::Init {
            agency: "County Fire".into(),
            out: dir.clone(),
            days: 30,
            json: true,
        })
        .expect("init");
        let ident = Identity::from_secret(&[8u8; 32]);
        let hex: String = ident
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let cert = dir.join("engine-8.pem");
        run(CaCmd::Issue {
            ca: dir.clone(),
            node_pub: Some(hex),
            node_key: None,
            roles: vec!["engine-8".into()],
            talkgroups: Vec::new(),
            days: 7,
            out: Some(cert.clone()),
            json: true,
        })
        .expect("issue");
        let revoke = |node_id: Option<String>, cert: Option<PathBuf>, out: &str| {
            run(CaCmd::Revoke {
                ca: dir.clone(),
                node_id,
                cert,
                reason: "stolen".into(),
                out: dir.join(out),
                json: false,
            })
        };
        revoke(Some(ident.id().to_string()), None, "a.rev").expect("by node id");
        revoke(None, Some(cert.clone()), "b.rev").expect("by certificate");
        let err = revoke(None, Some(dir.join("ca.pem")), "c.rev").expect_err("a CA cert");
        assert!(err.contains("not the NodeId"), "{err}");
        let err = revoke(Some("engine-8".into()), None, "d.rev").expect_err("not an id");
        assert!(err.contains("expected a NodeId"), "{err}");
        let err = revoke(Some(ident.id().to_string()), None, "a.rev").expect_err("exists");
        assert!(err.contains("already exists"), "{err}");
        for f in ["a.rev", "b.rev"] {
            let mut s = Secured::new();
            s.add_root(&std::fs::read(dir.join("ca.pem")).expect("ca"))
                .expect("root");
            let bytes = std::fs::read(dir.join(f)).expect("revocation");
            assert_eq!(s.revoke(&bytes), Ok(Some(ident.id())));
            assert!(!s.is_enrolled(&ident.id()));
            let pem = std::fs::read(&cert).expect("cert");
            assert_eq!(
                s.add_peer_cert(&pem, now_unix_s().expect("clock")),
                Err(super::super::TrustError::Revoked(ident.id()))
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn trust_cli_allowed_roles() {
        let allow = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(within("engine-*", &allow(&["engine-*"])));
        assert!(within("engine-3", &allow(&["engine-*"])));
        assert!(within("engine-3*", &allow(&["engine-*"])));
        assert!(within("captain.engine-7", &allow(&["*.engine-7"])));
        assert!(!within("command", &allow(&["engine-*"])));
        assert!(!within("*", &allow(&["engine-*"])));
        assert!(!within("ladder-*", &allow(&["engine-*", "medic-*"])));
    }

    #[test]
    fn trust_cli_init_then_issue() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("callsign-trust-ca-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cmd = |c| run(c);
        cmd(CaCmd::Init {
            agency: "County Fire".into(),
            out: dir.clone(),
            days: 30,
            json: true,
        })
        .expect("init");
        let mode = std::fs::metadata(dir.join("ca.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = cmd(CaCmd::Init {
            agency: "County Fire".into(),
            out: dir.clone(),
            days: 30,
            json: false,
        });
        assert!(again.expect_err("exists").contains("already exists"));

        let ident = Identity::from_secret(&[6u8; 32]);
        let hex: String = ident
            .public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let out = dir.join("engine-3.pem");
        cmd(CaCmd::Issue {
            ca: dir.clone(),
            node_pub: Some(hex.clone()),
            node_key: None,
            roles: vec!["engine-*".into(), "command".into()],
            talkgroups: vec!["division-*".into(), " command".into()],
            days: 7,
            out: Some(out.clone()),
            json: false,
        })
        .expect("issue");
        let pem = std::fs::read(&out).expect("cert");
        let mut s = Secured::new();
        s.add_root(&std::fs::read(dir.join("ca.pem")).expect("ca"))
            .expect("root");
        assert_eq!(
            s.add_peer_cert(&pem, now_unix_s().expect("clock")),
            Ok(ident.id())
        );
        assert!(s.permits_talkgroup(&ident.id(), "division-4"));
        assert!(s.permits_talkgroup(&ident.id(), "command"));

        let bad = cmd(CaCmd::Issue {
            ca: dir.clone(),
            node_pub: Some(hex.clone()),
            node_key: None,
            roles: vec!["Engine 3".into()],
            talkgroups: Vec::new(),
            days: 7,
            out: None,
            json: false,
        });
        assert!(bad.expect_err("bad role").contains("invalid role pattern"));
        let bad = cmd(CaCmd::Issue {
            ca: dir.clone(),
            node_pub: Some(hex),
            node_key: None,
            roles: vec!["command".into()],
            talkgroups: vec!["Division 2".into()],
            days: 7,
            out: None,
            json: false,
        });
        assert!(
            bad.expect_err("bad tg")
                .contains("invalid talkgroup pattern")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
