//! Rumours acknowledged by their echo. Every node that takes a new version
//! of a record relays it to all its neighbours, so a neighbour that has
//! the record has sent it to us (or we took it from it). A node that
//! pushed a new or changed record therefore knows which neighbours may
//! have missed it: those it has not heard the record from. It pushes the
//! record again, [`ECHO_GAP`] apart, until every neighbour has been heard
//! with it (or its hello digest equals ours), at most [`ECHO_SENDS`] times.
//!
//! In a dense, clean mesh every neighbour echoes and nothing is repeated;
//! at the edge, where a node hears the rumour from one lossy link, the
//! repeats go on until the far side answers. A neighbour that had the
//! record but whose echo we lost costs the remaining repeats, which is why
//! they are capped. Plain refreshes (only the version, lease or position
//! changed) are not watched: they are most of the idle cost, and a lost
//! one is repaired by the digests in hellos long before the lease is over.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::Directory;
use crate::identity::NodeId;
use crate::names::record::Record;
use crate::time::Instant;

/// A watched record goes out at most this many times (the push and the
/// repeats): at 40 % loss on the only link, 4 sends miss 1 time in 40.
pub const ECHO_SENDS: u8 = 4;
/// Between two sends of a watched record: a neighbour relays within
/// `NamesConfig::relay_delay`, so its echo is back well before this.
pub const ECHO_GAP: Duration = Duration::from_millis(150);
/// Records watched at once; beyond this a new one is pushed once.
pub const MAX_ECHO: usize = 256;

/// One watched record.
#[derive(Debug)]
pub(super) struct Echo {
    version: u64,
    /// Neighbours we have not heard this version (or a newer one) from.
    unheard: BTreeSet<NodeId>,
    /// How many times it went out; 0 while its first push waits.
    sends: u8,
}

pub(super) type Echoes = BTreeMap<(String, NodeId), Echo>;

/// `new` says more than `old` does, beyond the refresh of its lease and
/// position: it is worth the repeats.
pub(super) fn substantive(old: Option<&Record>, new: &Record) -> bool {
    let Some(old) = old else {
        return true;
    };
    old.released != new.released
        || old.presence != new.presence
        || old.talkgroups != new.talkgroups
        || old.handover != new.handover
        || old.exclusive != new.exclusive
        || old.epoch_ms != new.epoch_ms
        || old.generation != new.generation
        || old.agency != new.agency
        || old.unit != new.unit
}

impl Directory {
    /// Watch `(name, holder)` at `version`, taken from `from` (none for
    /// our own record), until every other neighbour echoes it.
    pub(super) fn watch_echo(
        &mut self,
        name: &str,
        holder: NodeId,
        version: u64,
        from: Option<NodeId>,
    ) {
        let key = (name.to_string(), holder);
        if self.echo.len() >= MAX_ECHO && !self.echo.contains_key(&key) {
            return;
        }
        let mut unheard = self.neighbours.clone();
        if let Some(f) = from {
            unheard.remove(&f);
        }
        self.echo.insert(
            key,
            Echo {
                version,
                unheard,
                sends: 0,
            },
        );
    }

    /// `from` sent us `(name, holder)` at `version`: it has it. Takes the
    /// name by value: both callers own it and drop it right after, and
    /// this runs for every duplicate copy of a rumour.
    pub(super) fn heard_echo(&mut self, from: NodeId, name: String, holder: NodeId, version: u64) {
        if let Some(e) = self.echo.get_mut(&(name, holder))
            && e.version <= version
        {
            e.unheard.remove(&from);
        }
    }

    /// `id` holds what we hold (its digest equals ours), or is gone.
    pub(super) fn echo_settled(&mut self, id: &NodeId) {
        for e in self.echo.values_mut() {
            e.unheard.remove(id);
        }
    }

    /// The pending push just went out with `keys`: their first send.
    pub(super) fn echo_pushed(&mut self, now: Instant, keys: &BTreeSet<(String, NodeId)>) {
        let mut armed = false;
        for k in keys {
            if let Some(e) = self.echo.get_mut(k)
                && e.sends == 0
            {
                e.sends = 1;
                armed = true;
            }
        }
        if armed && self.echo_at.is_none() {
            self.echo_at = Some(now + self.rng.jitter(ECHO_GAP, 0.3));
        }
    }

    /// The repeat timer fired: push again what some neighbour has not
    /// echoed, and forget what is echoed or sent often enough.
    pub(super) fn echo_due(&mut self, now: Instant) {
        self.echo_at = None;
        self.echo
            .retain(|_, e| e.sends == 0 || (!e.unheard.is_empty() && e.sends < ECHO_SENDS));
        let again: BTreeSet<(String, NodeId)> = self
            .echo
            .iter()
            .filter(|(_, e)| e.sends > 0)
            .map(|(k, _)| k.clone())
            .collect();
        if again.is_empty() {
            return;
        }
        for k in &again {
            if let Some(e) = self.echo.get_mut(k) {
                e.sends += 1;
            }
        }
        let entries = self.live_entries(now, &again);
        if !entries.is_empty() && !self.neighbours.is_empty() {
            self.stats.records_repeated += entries.len() as u64;
            self.push_to(crate::names::Dest::AllNeighbours, entries);
        }
        self.echo_at = Some(now + self.rng.jitter(ECHO_GAP, 0.3));
    }
}
