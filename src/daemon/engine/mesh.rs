//! The engine's mesh map (`GET /v1/mesh`): nodes from the directory and
//! the route table, links from the neighbour lists the node fetches while
//! a map is open (`node::map`; each look keeps it open) and this node's
//! own neighbour table, and the route from here to each node.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Engine;
use crate::daemon::console_dto::{MeshDto, MeshLink, MeshNode};
use crate::daemon::dto::PositionDto;
use crate::identity::NodeId;
use crate::node::RouteInfo;
use crate::time::Instant;
use crate::wire::map::{LinkLevel, NeighbourRef};

/// What the map knows of one node before routes are worked out.
#[derive(Default)]
struct Known {
    names: Vec<(bool, String)>,
    unit: String,
    position: Option<PositionDto>,
    /// The newest record's version: its unit and position win.
    version: u64,
    /// The neighbour list fetched, and when it came.
    reported: Vec<NeighbourRef>,
    listed_at: Option<Instant>,
}

impl Engine {
    pub(super) fn mesh(&self, now: Instant) -> MeshDto {
        let node = self.app.node();
        let me = node.id();
        let mut known: BTreeMap<NodeId, Known> = BTreeMap::new();
        for e in node.directory().store().entries().filter(|e| e.claims(now)) {
            let k = known.entry(e.rec.holder).or_default();
            k.names.push((e.rec.exclusive, e.rec.name.clone()));
            if e.rec.version >= k.version {
                k.version = e.rec.version;
                k.unit = e.rec.unit.clone();
                k.position = e.rec.position.map(|p| PositionDto {
                    lat: p.lat_e7 as f64 / 1e7,
                    lon: p.lon_e7 as f64 / 1e7,
                    accuracy_m: p.accuracy_m,
                    time_s: p.time_s,
                });
            }
        }

        let routes: BTreeMap<NodeId, RouteInfo> =
            node.routes().into_iter().map(|r| (r.dest, r)).collect();
        known.entry(me).or_default();
        for id in routes.keys() {
            known.entry(*id).or_default();
        }
        // Lists of nodes the map shows (a forgotten node's list is not
        // drawn).
        for l in node.map_lists() {
            if let Some(k) = known.get_mut(&l.node).filter(|_| l.node != me) {
                k.reported = l.neighbours;
                k.listed_at = Some(l.at);
            }
        }

        // Links: each holder's list, prefixes matched against known nodes;
        // ours from the neighbour table.
        let ids: Vec<NodeId> = known.keys().copied().collect();
        let mut links: BTreeMap<(NodeId, NodeId), LinkLevel> = BTreeMap::new();
        let mut add = |a: NodeId, b: NodeId, l: LinkLevel| {
            if a == b {
                return;
            }
            let key = (a.min(b), a.max(b));
            let cur = links.entry(key).or_insert(l);
            *cur = (*cur).max(l);
        };
        // A node we have no route to hears no one we reach: its cached
        // list, and others' lists naming it (up to a minute old), would draw
        // links that are gone.
        let reachable = |id: &NodeId| {
            *id == me
                || routes
                    .get(id)
                    .is_some_and(|r| r.metric != crate::link::INFINITY)
        };
        for (id, k) in &known {
            if *id == me || !reachable(id) {
                continue;
            }
            for n in &k.reported {
                if let Some(b) = ids.iter().find(|b| n.names(b)).filter(|b| reachable(b)) {
                    add(*id, *b, n.level);
                }
            }
        }
        let mut own: BTreeMap<NodeId, u16> = BTreeMap::new();
        for n in node.neighbours(now).iter().filter(|n| n.cost != u16::MAX) {
            let c = own.entry(n.id).or_insert(n.cost);
            *c = (*c).min(n.cost);
        }
        for (id, cost) in own {
            known.entry(id).or_default();
            add(me, id, LinkLevel::of_cost(cost));
        }

        let adj = adjacency(links.keys());
        let nodes = known
            .into_iter()
            .map(|(id, mut k)| {
                // Exclusive roles first: "command" says more than a person.
                k.names.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                k.names.dedup_by(|a, b| a.1 == b.1);
                let route = routes.get(&id);
                MeshNode {
                    id,
                    names: k.names.into_iter().map(|(_, n)| n).collect(),
                    unit: k.unit,
                    base_station: if id == me {
                        node.config().base_station
                    } else {
                        route.is_some_and(|r| r.base_station)
                    },
                    position: k.position,
                    list_age_s: if id == me {
                        Some(0.0)
                    } else {
                        k.listed_at
                            .map(|t| now.saturating_since(t).as_millis() as f64 / 1000.0)
                    },
                    local: id == me,
                    hops: if id == me {
                        Some(0)
                    } else {
                        route.map(|r| r.hops)
                    },
                    route: if id == me {
                        vec![me]
                    } else {
                        route.map_or_else(Vec::new, |r| path(&adj, me, r.next_hop, id))
                    },
                }
            })
            .collect();
        MeshDto {
            node: me,
            open_s: crate::node::MAP_OPEN.as_secs(),
            nodes,
            links: links
                .into_iter()
                .map(|((a, b), l)| MeshLink {
                    a,
                    b,
                    quality: l.as_str().into(),
                })
                .collect(),
        }
    }
}

fn adjacency<'a>(
    links: impl Iterator<Item = &'a (NodeId, NodeId)>,
) -> BTreeMap<NodeId, BTreeSet<NodeId>> {
    let mut adj: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
    for (a, b) in links {
        adj.entry(*a).or_default().insert(*b);
        adj.entry(*b).or_default().insert(*a);
    }
    adj
}

/// `me`, the route table's next hop, then the fewest links from there to
/// `dest` (not back through `me`). Ends at the next hop when the links
/// known do not reach `dest`.
fn path(
    adj: &BTreeMap<NodeId, BTreeSet<NodeId>>,
    me: NodeId,
    next_hop: NodeId,
    dest: NodeId,
) -> Vec<NodeId> {
    let mut out = vec![me, next_hop];
    if next_hop == dest {
        return out;
    }
    let mut prev: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    let mut q = VecDeque::from([next_hop]);
    let mut seen = BTreeSet::from([me, next_hop]);
    while let Some(u) = q.pop_front() {
        if u == dest {
            break;
        }
        for v in adj.get(&u).into_iter().flatten() {
            if seen.insert(*v) {
                prev.insert(*v, u);
                q.push_back(*v);
            }
        }
    }
    if !prev.contains_key(&dest) {
        return out;
    }
    let mut tail = vec![dest];
    let mut at = dest;
    while let Some(p) = prev.get(&at).filter(|p| **p != next_hop) {
        tail.push(*p);
        at = *p;
    }
    out.extend(tail.into_iter().rev());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> NodeId {
        NodeId([b; 16])
    }

    #[test]
    fn the_path_follows_the_next_hop_then_the_fewest_links() {
        // 0 - 1 - 2 - 3, and 0 - 4 - 3: the table says go via 1.
        let links = [
            (id(0), id(1)),
            (id(1), id(2)),
            (id(2), id(3)),
            (id(0), id(4)),
            (id(3), id(4)),
        ];
        let adj = adjacency(links.iter());
        assert_eq!(
            path(&adj, id(0), id(1), id(3)),
            vec![id(0), id(1), id(2), id(3)]
        );
        assert_eq!(path(&adj, id(0), id(4), id(3)), vec![id(0), id(4), id(3)]);
        assert_eq!(path(&adj, id(0), id(1), id(1)), vec![id(0), id(1)]);
        // Links that do not reach: the route ends at the next hop.
        assert_eq!(path(&adj, id(0), id(1), id(9)), vec![id(0), id(1)]);
    }
}
