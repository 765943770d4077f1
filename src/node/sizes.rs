//! What the node's bounded tables hold against their bounds, with an
//! estimate of their size in memory (entries × the in-memory size of one,
//! plus what an entry holds on the heap where that varies). The
//! simulator's long runs check every bound and report memory per node
//! from it (`callsign sim --day`).

use std::mem::size_of;

use super::Node;
use crate::flood::{DUP_CACHE, VOICE_DUP_CACHE};
use crate::identity::NodeId;
use crate::link::{MAX_NEIGHBOURS, Neighbour};
use crate::names::record::MAX_RECORD;
use crate::route::{Candidate, MAX_SOURCES, Source};
use crate::time::Instant;
use crate::wire::map::ENTRY_LEN;

/// One table: how many entries, how many it may hold, bytes estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TableSize {
    pub name: &'static str,
    pub entries: usize,
    pub bound: usize,
    pub bytes: usize,
}

/// Bytes of one duplicate-cache entry: the key in the set and in the
/// eviction order.
const DUP_ENTRY: usize = 2 * size_of::<(NodeId, u32)>();

impl Node {
    /// Every bounded table of the mesh core (see the module doc).
    pub fn table_sizes(&self) -> Vec<TableSize> {
        let t = |name, entries, bound, bytes| TableSize {
            name,
            entries,
            bound,
            bytes,
        };
        let nbr_bytes: usize = self
            .nbrs
            .iter()
            .map(|n| {
                size_of::<Neighbour>()
                    + n.two_hop.capacity() * size_of::<(NodeId, u8)>()
                    + n.names.iter().map(String::capacity).sum::<usize>()
            })
            .sum();
        let cands: usize = self
            .nbrs
            .iter()
            .map(|n| self.routes.candidates_via(&n.key) as usize)
            .sum();
        let store = self.dir.store();
        vec![
            t("neighbours", self.nbrs.len(), MAX_NEIGHBOURS, nbr_bytes),
            t(
                "routes",
                self.routes.len(),
                MAX_SOURCES,
                self.routes.len() * size_of::<(NodeId, Source)>(),
            ),
            // A candidate per destination per neighbour at most.
            t(
                "route_candidates",
                cands,
                MAX_SOURCES * MAX_NEIGHBOURS,
                cands * size_of::<Candidate>(),
            ),
            t(
                "flood_seen",
                self.flood_seen.len(),
                DUP_CACHE,
                self.flood_seen.len() * DUP_ENTRY,
            ),
            t(
                "flood_relayed",
                self.flood_relayed.len(),
                DUP_CACHE,
                self.flood_relayed.len() * DUP_ENTRY,
            ),
            t(
                "voice_seen",
                self.voice_seen.len(),
                VOICE_DUP_CACHE,
                self.voice_seen.len() * DUP_ENTRY,
            ),
            // Records are at most MAX_RECORD bytes: an upper estimate.
            t(
                "directory",
                store.len(),
                store.capacity(),
                store.len() * MAX_RECORD,
            ),
            // A list of at most 16 entries per node asked, and the askers.
            t(
                "map_lists",
                self.map_len(),
                super::map::MAX_LISTS + super::map::MAX_ASKERS,
                self.map_len() * (size_of::<(NodeId, Instant)>() + 16 * ENTRY_LEN + 64),
            ),
            t(
                "events",
                self.events.len(),
                super::MAX_EVENTS,
                self.events.len() * size_of::<super::Event>(),
            ),
        ]
    }
}
