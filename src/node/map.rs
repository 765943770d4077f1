//! The console's mesh map, fetched on demand. While a map is open (a
//! driver called [`Node::map_open`] within the last [`MAP_OPEN`]), this
//! node asks the nodes it has a route to for their neighbour lists
//! (`wire::map`, control-class unicast flagged background, so that it
//! starts no fast hellos): one request every [`ASK_GAP`] at
//! most, each node again [`REFRESH`] after its last answer or [`RETRY`]
//! after a request that got none. Answers are kept with the time they
//! came, one per node the route table or the directory knows. Every node
//! answers with its own list, at most once per [`ANSWER_GAP`] to one
//! asker.
//!
//! Nothing is sent while no map is open: the idle mesh pays nothing, and
//! the lists never compete with a repair or a heal the way lists carried
//! in directory records did (each change was a record to flood).

use std::collections::BTreeMap;
use std::time::Duration;

use super::Node;
use crate::identity::NodeId;
use crate::link::INFINITY;
use crate::time::Instant;
use crate::wire::map::{LinkLevel, MapMsg, MapPacket, NeighbourRef};
use crate::wire::{WireError, proto};

/// A map counts as open this long after the driver last said it is looked
/// at (a console polls every few seconds).
pub const MAP_OPEN: Duration = Duration::from_secs(30);
/// Shortest gap between two requests: at most 6.7 a second, so a
/// 100-node mesh's first round takes 15 s.
pub const ASK_GAP: Duration = Duration::from_millis(150);
/// A node's list is asked for again this long after its last answer: a
/// map a commander glances at, not a link monitor (100 nodes: 1.7
/// requests a second once the first round is in; at 30 s and 100 ms
/// pacing the open map doubled the idle mesh's control traffic).
pub const REFRESH: Duration = Duration::from_secs(60);
/// A request without an answer is repeated after this long (every hop
/// already retransmits; this covers a route that broke under it).
pub const RETRY: Duration = Duration::from_secs(4);
/// One asker gets at most one answer this often; requests in between are
/// dropped (a repeat comes after [`RETRY`]).
pub const ANSWER_GAP: Duration = Duration::from_secs(1);
/// Askers remembered for [`ANSWER_GAP`]; at the limit the one answered
/// longest ago is forgotten.
pub const MAX_ASKERS: usize = 64;
/// Lists kept: one per route destination at most (`route::MAX_SOURCES`);
/// nodes neither routed to nor in the directory are forgotten every
/// [`REFRESH`], and new ones are not asked past the limit.
pub const MAX_LISTS: usize = crate::route::MAX_SOURCES;

/// One node's list as this node knows it.
#[derive(Debug, Default)]
struct Target {
    /// The last answer and when it came.
    list: Option<(Vec<NeighbourRef>, Instant)>,
    /// The last request (its id and when it went).
    asked: Option<(u32, Instant)>,
}

impl Target {
    /// When this node is next due a request.
    fn due(&self) -> Instant {
        let got = self.list.as_ref().map(|(_, t)| *t);
        match (self.asked, got) {
            (None, _) => Instant::ZERO,
            (Some((_, a)), Some(g)) if g >= a => g + REFRESH,
            (Some((_, a)), _) => a + RETRY,
        }
    }
}

/// Counters of the map protocol at this node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MapStats {
    pub requests_sent: u64,
    pub answers_received: u64,
    pub answers_sent: u64,
    /// Requests dropped by the per-asker limit.
    pub requests_refused: u64,
}

/// One node's neighbour list for a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapList {
    pub node: NodeId,
    pub neighbours: Vec<NeighbourRef>,
    /// When the answer came.
    pub at: Instant,
}

#[derive(Debug, Default)]
pub(super) struct MapState {
    open_until: Option<Instant>,
    next_ask: Instant,
    next_prune: Instant,
    ask_seq: u32,
    targets: BTreeMap<NodeId, Target>,
    /// Askers answered lately, and when.
    answered: BTreeMap<NodeId, Instant>,
    stats: MapStats,
}

impl MapState {
    fn is_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|t| now < t)
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.open_until.map(|_| self.next_ask)
    }
}

impl Node {
    /// A map is being looked at: fetch neighbour lists for the next
    /// [`MAP_OPEN`]. Call it on every look (each poll of the map).
    pub fn map_open(&mut self, now: Instant) {
        if !self.map.is_open(now) {
            self.map.next_ask = now;
            self.map.next_prune = now;
        }
        self.map.open_until = Some(now + MAP_OPEN);
    }

    /// Whether lists are being fetched.
    pub fn map_is_open(&self, now: Instant) -> bool {
        self.map.is_open(now)
    }

    /// The neighbour lists fetched, each with the time it came.
    pub fn map_lists(&self) -> Vec<MapList> {
        self.map
            .targets
            .iter()
            .filter_map(|(id, t)| {
                t.list.as_ref().map(|(l, at)| MapList {
                    node: *id,
                    neighbours: l.clone(),
                    at: *at,
                })
            })
            .collect()
    }

    pub fn map_stats(&self) -> MapStats {
        self.map.stats
    }

    pub(super) fn map_len(&self) -> usize {
        self.map.targets.len() + self.map.answered.len()
    }

    /// This node's usable neighbours, each at its best link, as an answer
    /// lists them.
    pub fn map_own_list(&self) -> Vec<NeighbourRef> {
        let mut best: BTreeMap<NodeId, u16> = BTreeMap::new();
        for n in self.nbrs.iter().filter(|n| n.routing_cost != INFINITY) {
            let c = best.entry(n.key.id).or_insert(n.routing_cost);
            *c = (*c).min(n.routing_cost);
        }
        let list: Vec<NeighbourRef> = best
            .iter()
            .map(|(id, c)| NeighbourRef::new(id, LinkLevel::of_cost(*c)))
            .collect();
        crate::wire::map::normalise(&list)
    }

    pub(super) fn map_timers(&mut self, now: Instant) {
        if self.map.open_until.is_none() {
            return;
        }
        if !self.map.is_open(now) {
            // Closed: lists are kept with their age; nothing more is sent.
            self.map.open_until = None;
            return;
        }
        if now >= self.map.next_prune {
            self.map.next_prune = now + REFRESH;
            self.map_prune(now);
        }
        if now < self.map.next_ask {
            return;
        }
        // The reachable node most overdue, nearest first among equals.
        let mut pick: Option<(Instant, u8, NodeId)> = None;
        for (id, sel) in self.routes.iter_selected() {
            if sel.metric == INFINITY {
                continue;
            }
            let due = self.map.targets.get(id).map_or(Instant::ZERO, Target::due);
            let key = (due, sel.hops, *id);
            if pick.is_none_or(|p| key < p) {
                pick = Some(key);
            }
        }
        let Some((due, _, id)) = pick else {
            self.map.next_ask = now + ASK_GAP * 10;
            return;
        };
        if due > now {
            // Nothing due: look again when it is (or a second from now,
            // for nodes that get a route meanwhile).
            self.map.next_ask = due.min(now + Duration::from_secs(1));
            return;
        }
        self.map.next_ask = now + ASK_GAP;
        if !self.map.targets.contains_key(&id) && self.map.targets.len() >= MAX_LISTS {
            return;
        }
        self.map.ask_seq = self.map.ask_seq.wrapping_add(1);
        let ask = self.map.ask_seq;
        self.map.targets.entry(id).or_default().asked = Some((ask, now));
        let msg = MapMsg::Request { ask }.emit();
        // A refusal (queue full) is covered by the retry.
        if self.send_background(now, id, proto::MAP, &msg).is_ok() {
            self.map.stats.requests_sent += 1;
        }
    }

    /// Forget lists of nodes neither routed to nor in the directory.
    fn map_prune(&mut self, now: Instant) {
        let holders: std::collections::BTreeSet<NodeId> = self
            .dir
            .store()
            .entries()
            .filter(|e| e.claims(now))
            .map(|e| e.rec.holder)
            .collect();
        let routes = &self.routes;
        self.map
            .targets
            .retain(|id, _| routes.source(id).is_some() || holders.contains(id));
        self.map
            .answered
            .retain(|_, at| now.saturating_since(*at) < ANSWER_GAP);
    }

    /// A map message from `src`.
    pub(super) fn on_map(
        &mut self,
        now: Instant,
        src: NodeId,
        payload: &[u8],
    ) -> Result<(), WireError> {
        let p = MapPacket::new_checked(payload)?;
        match MapMsg::parse(&p) {
            MapMsg::Request { ask } => {
                if let Some(at) = self.map.answered.get(&src)
                    && now.saturating_since(*at) < ANSWER_GAP
                {
                    self.map.stats.requests_refused += 1;
                    return Ok(());
                }
                if !self.map.answered.contains_key(&src) && self.map.answered.len() >= MAX_ASKERS {
                    let oldest = self
                        .map
                        .answered
                        .iter()
                        .min_by_key(|(_, at)| **at)
                        .map(|(id, _)| *id);
                    if let Some(o) = oldest {
                        self.map.answered.remove(&o);
                    }
                }
                self.map.answered.insert(src, now);
                let list = self.map_own_list();
                let msg = MapMsg::Answer { ask, list }.emit();
                // Best effort: the asker repeats its request.
                if self.send_background(now, src, proto::MAP, &msg).is_ok() {
                    self.map.stats.answers_sent += 1;
                }
            }
            MapMsg::Answer { ask, list } => {
                // Only answers to what we asked: no one fills our map
                // unasked.
                let Some(t) = self.map.targets.get_mut(&src) else {
                    return Ok(());
                };
                if t.asked.is_some_and(|(a, _)| a == ask) {
                    t.list = Some((list, now));
                    self.map.stats.answers_received += 1;
                }
            }
        }
        Ok(())
    }
}
