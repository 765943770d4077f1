//! The data directory: the device key, and the OS randomness that makes it
//! and seeds the core's generators.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::identity::Identity;

use super::config::Error;

pub const KEY_FILE: &str = "device.key";

/// Bytes from the OS random source, through getrandom(2): no file to
/// open (a chroot or a sandbox without /dev still works) and, unlike a
/// read of /dev/urandom, it waits for the kernel's pool to be initialised
/// early at boot instead of handing out predictable bytes. Only the daemon
/// reads OS randomness; the core gets seeds.
pub fn os_random<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(buf)
}

/// Load the device key from `dir`, creating the directory and a new key
/// (mode 0600) on first start.
pub fn load_or_create_identity(dir: &Path) -> Result<(Identity, bool), Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let mode = std::fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "device key is readable by others; chmod 600 it");
            }
            let ident = Identity::from_secret_slice(&bytes)
                .map_err(|e| format!("bad device key {}: {e}", path.display()))?;
            Ok((ident, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = os_random()?;
            // create_new: never overwrite a key another process just made.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("cannot create device key {}: {e}", path.display()))?;
            f.write_all(&secret)?;
            f.sync_all()?;
            Ok((Identity::from_secret(&secret), true))
        }
        Err(e) => Err(format!("cannot read device key {}: {e}", path.display()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_random_is_not_constant() {
        let a: [u8; 32] = os_random().expect("randomness");
        let b: [u8; 32] = os_random().expect("randomness");
        assert_ne!(a, b);
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn key_is_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("callsign-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, created) = load_or_create_identity(&dir).expect("create");
        assert!(created);
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (b, created) = load_or_create_identity(&dir).expect("load");
        assert!(!created);
        assert_eq!(a.id(), b.id());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
