//! systemd's readiness protocol (`sd_notify`), written out: one datagram
//! of `KEY=VALUE` lines to the Unix socket named by `$NOTIFY_SOCKET` (a
//! path, or `@name` for the abstract namespace). `Type=notify` units are
//! "started" only when `READY=1` arrives, so `systemctl start callsign`
//! returns once the API answers and dependants can rely on it.
//!
//! No crate: the protocol is a sendto(2), and libsystemd would be the
//! larger dependency. Outside systemd (`$NOTIFY_SOCKET` unset) every call
//! does nothing.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Send `state` (e.g. "READY=1\nSTATUS=...") to the service manager, if
/// there is one. Failures are logged, never fatal: a daemon that runs is
/// worth more than one that reported it.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    if let Err(e) = notify_to(&target, state) {
        tracing::warn!(socket = %target, "cannot notify systemd: {e}");
    }
}

/// Send `state` to the socket `target` (a path or `@abstract`).
pub fn notify_to(target: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = target.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), Path::new(target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_a_path_socket_and_an_abstract_one() {
        let dir = std::env::temp_dir().join(format!("callsign-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("notify.sock");
        let rx = UnixDatagram::bind(&path).expect("bind");
        notify_to(path.to_str().expect("utf-8"), "READY=1\nSTATUS=up").expect("send");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("callsign-notify-test-{}", std::process::id());
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract");
        let rx = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        notify_to(&format!("@{name}"), "STOPPING=1").expect("send");
        let n = rx.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"STOPPING=1");
        assert!(notify_to(dir.join("absent.sock").to_str().expect("utf-8"), "READY=1").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
