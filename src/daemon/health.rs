//! The loud warning when the daemon has no usable interface: a node that
//! joins nothing hears nobody, and an operator at the truck must see why
//! (the radio is down, a pattern excluded it, it has no address) in the
//! journal, not guess. Repeated every [`REPEAT`] while it lasts, said once
//! more when an interface comes.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::engine::Command;
use super::ifaces::{self, IfaceSelect};

/// First look after start (the engine scans interfaces every second).
const FIRST: Duration = Duration::from_secs(3);
/// Then this often while nothing is usable.
pub const REPEAT: Duration = Duration::from_secs(30);

/// Ask the engine for its interfaces every [`REPEAT`]; warn while none.
pub async fn watch(sel: IfaceSelect, cmds: mpsc::Sender<Command>) {
    tokio::time::sleep(FIRST).await;
    let mut warned = false;
    loop {
        let (tx, rx) = oneshot::channel();
        if cmds.send(Command::Status(tx)).await.is_err() {
            return;
        }
        let Ok(status) = rx.await else { return };
        if status.interfaces.is_empty() {
            warned = true;
            let why: Vec<String> = ifaces::explain(&sel)
                .into_iter()
                .filter_map(|(name, why)| why.map(|w| format!("{name}: {w}")))
                .collect();
            tracing::error!(
                "NO USABLE INTERFACE: this node hears nobody and nobody hears it. {}{}",
                if why.is_empty() {
                    "The kernel lists no interface.".to_string()
                } else {
                    format!("Interfaces: {}.", why.join("; "))
                },
                if sel.only.is_empty() {
                    " Name one with --iface (e.g. --iface wlan0=handset-2g4), or check --exclude-iface."
                } else {
                    " Check that the radio is up and joined (callsign radio plan)."
                }
            );
        } else if warned {
            warned = false;
            let names: Vec<&str> = status.interfaces.iter().map(|i| i.name.as_str()).collect();
            tracing::info!(interfaces = ?names, "an interface is usable again");
        }
        tokio::time::sleep(REPEAT).await;
    }
}
