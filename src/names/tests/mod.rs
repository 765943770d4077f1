//! Tests of the directory: records and messages (round trips, totality,
//! signatures), the store's rules, and small in-test networks of
//! Directories passing encoded messages with a fixed delay.

mod directory;
mod net;
mod records;

use std::time::Duration;

use super::*;
use crate::identity::Identity;
use crate::time::Instant;

fn ident(i: usize) -> Identity {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    Identity::from_secret(&s)
}

/// A record as `ident` would issue it, with defaults for the rest.
fn record(ident: &Identity, name: &str, version: u64) -> Record {
    Record {
        name: name.to_string(),
        holder: ident.id(),
        key: ident.public_key(),
        agency: "metro-fire".into(),
        unit: "station 7".into(),
        talkgroups: vec!["fireground".into()],
        presence: Presence::Available,
        position: Some(Position {
            lat_e7: 515_000_000,
            lon_e7: -1_200_000,
            accuracy_m: 8,
            time_s: 1_700_000_000,
        }),
        exclusive: false,
        released: false,
        lease_s: 60,
        version,
        epoch_ms: 0,
        generation: 0,
        handover: None,
    }
}

fn push_of(signed: SignedRecord, remaining_ms: u32) -> NamesMsg {
    NamesMsg::Push {
        entries: vec![PushEntry {
            remaining_ms,
            record: signed,
            cert: None,
        }],
    }
}

fn config(lease_s: u64) -> NamesConfig {
    NamesConfig {
        lease: Duration::from_secs(lease_s),
        ..NamesConfig::default()
    }
}

fn directory(i: usize, cfg: NamesConfig) -> Directory {
    Directory::new(ident(i), cfg, Box::new(Open), Instant::ZERO, i as u64)
}

fn holders(d: &Directory, now: Instant, name: &str) -> Vec<crate::identity::NodeId> {
    d.resolve(now, name).iter().map(|e| e.rec.holder).collect()
}

fn drain_events(d: &mut Directory) -> Vec<Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}
