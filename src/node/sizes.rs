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

/// What the bounds turned away: new destinations and names refused at a
/// full table, and those evicted for one heard directly (see
/// [`crate::route::RouteTable`] and [`crate::names::Limits::total`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct BoundCounts {
    pub routes_refused: u64,
    pub routes_evicted: u64,
    pub names_refused: u64,
    pub names_evicted: u64,
}

/// Bytes of one duplicate-cache entry: the key in the set and in the
/// eviction order.
const DUP_ENTRY: usize = 2 * size_of::<(NodeId, u32)>();

impl Node {
    /// What the route table and the directory refused or evicted at their
    /// bounds.
    pub fn bound_counts(&self) -> BoundCounts {
        let store = self.dir.store();
        BoundCounts {
            routes_refused: self.routes.refused(),
            routes_evicted: self.routes.evicted(),
            names_refused: store.refused(),
            names_evicted: store.evicted(),
        }
    }

    /// The estimated bytes of every table of [`Self::table_sizes`].
    pub fn table_bytes(&self) -> usize {
        self.table_sizes().iter().map(|t| t.bytes).sum()
    }

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
            t("directory", store.len(), store.capacity(), store.bytes()),
            // A list of at most 16 entries per node asked, and the askers.
            t(
                "map_lists",
                self.map_len(),
                super::map::MAX_LISTS + super::map::MAX_ASKERS,
                self.map_len() * (size_of::<(NodeId, Instant)>() + 16 * ENTRY_LEN + 64),
            ),
            // Per foreign id: seqno requests seen and asked through us.
            t(
                "requests_seen",
                self.requests_seen.len(),
                super::MAX_REQUESTS_SEEN,
                self.requests_seen.len() * size_of::<((NodeId, NodeId), (u16, Instant))>(),
            ),
            t(
                "requested",
                self.requested.len(),
                super::MAX_REQUESTS_SEEN,
                self.requested.len() * size_of::<(NodeId, (u16, Instant))>(),
            ),
            t(
                "name_holders",
                store.holders(),
                store.capacity(),
                store.holders() * size_of::<(NodeId, [u64; 3])>(),
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
