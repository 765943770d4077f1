//! The device side of enrolment, so a secret key never leaves its device:
//!
//! - `callsign id` prints the device's public key and NodeId (and a QR
//!   code of the key with `--qr`), for `callsign ca issue --node-pub`;
//! - `callsign enrol request` writes a signed request file (public key,
//!   roles wanted, proof of possession) for `callsign ca issue-batch`;
//! - `callsign enrol install` checks a certificate that came back (it
//!   verifies against the agency CA and is for this device's key) and
//!   puts it and the CA beside the device key.
//!
//! The data dir is the daemon's: `--data-dir`, else the config file's
//! `data_dir`, else the default (/var/lib/callsign as root). Under the
//! packaged service the key belongs to the `callsign` user: run these
//! with sudo.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{config, store};
use crate::identity::Identity;
use crate::trust::{Secured, enrol};

type Error = Box<dyn std::error::Error>;

#[derive(Args, Debug, Clone, Default)]
pub struct DataDirArgs {
    /// The daemon's data dir (device key) [default: the config file's
    /// data_dir, else /var/lib/callsign as root, ~/.local/share/callsign
    /// otherwise].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file to take data_dir from [default:
    /// /etc/callsign/callsign.toml when present].
    #[arg(long, value_name = "FILE", env = "CALLSIGN_CONFIG")]
    pub config: Option<PathBuf>,
}

impl DataDirArgs {
    fn dir(&self) -> Result<PathBuf, Error> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        if let Some(p) = config::config_path(self.config.as_deref())
            && let Some(d) = config::load_file(&p).map_err(|e| e.to_string())?.data_dir
        {
            return Ok(d);
        }
        Ok(config::default_data_dir())
    }
}

#[derive(Args, Debug)]
pub struct IdArgs {
    /// Also draw the public key as a QR code (for a station to scan).
    #[arg(long)]
    pub qr: bool,
    /// Make the device key if there is none yet (as the daemon would at
    /// its first start).
    #[arg(long)]
    pub create: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DataDirArgs,
}

#[derive(Subcommand, Debug)]
pub enum EnrolCommand {
    /// Write a signed enrolment request for the station: this device's
    /// public key and the roles it asks for (no secret in it).
    Request {
        /// Role patterns wanted, comma-separated: `engine-*`, `command`.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// A label for the station's operator, e.g. "Engine 3 handset 2".
        #[arg(long, default_value = "")]
        name: String,
        /// The request file to write, e.g. engine-3.req.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        dir: DataDirArgs,
    },
    /// Install the certificate the station issued: checked against the
    /// agency CA and this device's key, then copied beside the key as
    /// device.pem and trust-root.pem.
    Install {
        /// The certificate (NAME.pem from `ca issue-batch` or `ca issue`).
        cert: PathBuf,
        /// The agency CA certificate (ca.pem) it must verify against.
        #[arg(long, value_name = "CA.pem")]
        trust_root: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDirArgs,
    },
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unix_now() -> Result<u64, Error> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970: set it first")?
        .as_secs())
}

/// This device's key, read (never made) from `dir`.
fn load(dir: &Path) -> Result<Identity, Error> {
    let path = dir.join(store::KEY_FILE);
    let bytes = std::fs::read(&path).map_err(|e| -> Error {
        match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "no device key at {}: start the daemon once (`systemctl start callsign`) or run \
                 `callsign id --create`",
                path.display()
            )
            .into(),
            std::io::ErrorKind::PermissionDenied => format!(
                "cannot read {}: it belongs to the daemon's user; run this with sudo",
                path.display()
            )
            .into(),
            _ => format!("cannot read {}: {e}", path.display()).into(),
        }
    })?;
    Ok(Identity::from_secret_slice(&bytes)
        .map_err(|e| format!("bad device key {}: {e}", path.display()))?)
}

/// Made by root in a directory another user owns (the service's state
/// dir): give the new key to that user, or the daemon cannot read it.
fn hand_to_dir_owner(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)?;
    let key = dir.join(store::KEY_FILE);
    if std::fs::metadata(&key)?.uid() != meta.uid() {
        std::os::unix::fs::chown(&key, Some(meta.uid()), Some(meta.gid()))
            .map_err(|e| format!("cannot give {} to the data dir's owner: {e}", key.display()))?;
    }
    Ok(())
}

pub fn id(a: &IdArgs) -> Result<ExitCode, Error> {
    let dir = a.dir.dir()?;
    let ident = if a.create {
        let (ident, created) = store::load_or_create_identity(&dir).map_err(|e| e.to_string())?;
        if created {
            hand_to_dir_owner(&dir)?;
            eprintln!("created a new device key in {}", dir.display());
        }
        ident
    } else {
        load(&dir)?
    };
    let pk = hex(&ident.public_key());
    if a.json {
        let v = serde_json::json!({
            "node_id": ident.id(),
            "public_key": pk,
            "data_dir": dir,
        });
        println!("{v}");
    } else {
        println!("node id     {}", ident.id());
        println!("public key  {pk}");
        println!("enrol with  callsign ca issue --ca CA-DIR --node-pub {pk} --roles ROLES");
    }
    if a.qr {
        // Upper case: the QR code's compact alphanumeric mode.
        for line in super::qr::render(pk.to_ascii_uppercase().as_bytes())? {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: &EnrolCommand) -> Result<ExitCode, Error> {
    match cmd {
        EnrolCommand::Request {
            roles,
            name,
            out,
            dir,
        } => {
            let ident = load(&dir.dir()?)?;
            let roles: Vec<String> = roles
                .iter()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            let req = enrol::make(&ident, &roles, name, unix_now()?).map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&req)? + "\n";
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(out)
                .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!(
                "wrote {} for {} (roles {}); take it to the station: `callsign ca issue-batch --ca CA-DIR DIR`",
                out.display(),
                ident.id(),
                roles.join(",")
            );
            Ok(ExitCode::SUCCESS)
        }
        EnrolCommand::Install {
            cert,
            trust_root,
            json,
            dir,
        } => install(cert, trust_root, *json, &dir.dir()?),
    }
}

fn install(cert: &Path, root: &Path, json: bool, dir: &Path) -> Result<ExitCode, Error> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let (cert_bytes, root_bytes) = (read(cert)?, read(root)?);
    let ident = load(dir)?;
    let mut s = Secured::new();
    let agency = s
        .add_root(&root_bytes)
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let id = s.set_own(&cert_bytes, unix_now()?).map_err(|e| {
        format!(
            "{} does not verify against {}: {e}",
            cert.display(),
            root.display()
        )
    })?;
    if id != ident.id() {
        return Err(format!(
            "{} is for device {id}, not this one ({}): each device installs its own",
            cert.display(),
            ident.id()
        )
        .into());
    }
    let granted = s.peer(&id).cloned().ok_or("the certificate was not kept")?;
    let (cert_to, root_to) = (dir.join("device.pem"), dir.join("trust-root.pem"));
    for (from, to) in [(&cert_bytes, &cert_to), (&root_bytes, &root_to)] {
        // Replace atomically: a renewal must never leave half a file.
        let tmp = to.with_extension("pem.new");
        std::fs::write(&tmp, from)
            .and_then(|()| std::fs::rename(&tmp, to))
            .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    if json {
        let v = serde_json::json!({
            "node_id": id, "agency": agency, "roles": granted.roles,
            "not_after": granted.expiry, "cert": cert_to, "trust_root": root_to,
        });
        println!("{v}");
    } else {
        println!(
            "installed {} ({agency}, roles {}, until Unix {}) and {}",
            cert_to.display(),
            granted.roles.join(","),
            granted.expiry,
            root_to.display()
        );
        println!("secured mode: put these in /etc/callsign/callsign.toml and restart the daemon:");
        println!("  trust_root = [\"{}\"]", root_to.display());
        println!("  cert = \"{}\"", cert_to.display());
    }
    Ok(ExitCode::SUCCESS)
}
