//! `callsign ca init` and `callsign ca issue`: the agency CA on an
//! operator's machine. The only file IO and clock reads of the trust layer
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
    /// the roles it may claim.
    Issue {
        /// Directory holding ca.pem and ca.key.
        #[arg(long)]
        ca: PathBuf,
        /// The device's public key as 64 hex digits, or its key file
        /// (`device.key` in the device's data dir).
        #[arg(long = "node-key", value_name = "FILE-OR-KEY")]
        node_key: String,
        /// Comma-separated role patterns: `command`, `engine-*`,
        /// `*.engine-7`, `captain.engine-7`.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Where to write the certificate (PEM); stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
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
            node_key,
            roles,
            days,
            out,
            json,
        } => issue(&ca, &node_key, &roles, days, out.as_deref(), json),
    }
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

fn issue(
    ca_dir: &Path,
    node_key: &str,
    roles: &[String],
    days: u32,
    out: Option<&Path>,
    json: bool,
) -> Result<(), String> {
    let read = |name: &str| {
        let p = ca_dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let files = ca::CaFiles {
        cert_pem: read("ca.pem")?,
        key_pem: read("ca.key")?,
    };
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
    let pk = parse_node_key(node_key)?;
    let now = now_unix_s()?;
    let pem = ca::issue(&files, pk, &roles, days, now).map_err(|e| e.to_string())?;
    // Read back what was granted, for the summary.
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
            node_key: hex.clone(),
            roles: vec!["engine-*".into(), "command".into()],
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

        let bad = cmd(CaCmd::Issue {
            ca: dir.clone(),
            node_key: hex,
            roles: vec!["Engine 3".into()],
            days: 7,
            out: None,
            json: false,
        });
        assert!(bad.expect_err("bad role").contains("invalid role pattern"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
