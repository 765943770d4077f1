//! The directory carried by the node: [`crate::names::Directory`] messages
//! on the wire, its neighbour set kept equal to our usable links, and the
//! local face (claim, release, hand-over, presence, lookups).
//!
//! Directory messages are link-local [`PacketType::Names`] packets of the
//! protocol class: a message to all neighbours is one multicast per
//! interface that has a usable link, a message to one neighbour is unicast
//! on its cheapest link. They are not acknowledged: a lost rumour is
//! repaired by the next anti-entropy digest (and in a mesh a rumour comes
//! from several neighbours), which is cheaper than an acknowledgement for
//! every record on every link.

use std::collections::BTreeSet;

use super::{Event, IfaceId, LinkDst, Node, RouteInfo};
use crate::identity::NodeId;
use crate::link::{INFINITY, LinkKey};
use crate::names::{Dest, Entry, NamesConfig, NamesError, Position, Presence, Profile, Trust};
use crate::time::Instant;
use crate::wire::{PacketType, WireError, flags};

/// The directory settings of a node: digests ride the hellos, so the
/// periodic anti-entropy digest is only a slow backstop.
pub fn names_config() -> NamesConfig {
    NamesConfig {
        digest_interval: std::time::Duration::from_secs(60),
        ..NamesConfig::default()
    }
}

/// One holder of a name, with the route to it (if any) for tools.
#[derive(Debug, Clone)]
pub struct Holder {
    pub entry: Entry,
    /// The selected route to the holder; `None` for ourselves or when the
    /// holder is unreachable (the record may still be within its lease).
    pub route: Option<RouteInfo>,
    /// The holder is this node.
    pub local: bool,
}

impl Node {
    /// The directory (read-only: changes go through the methods below so
    /// that their messages reach the wire).
    pub fn directory(&self) -> &crate::names::Directory {
        &self.dir
    }

    /// Replace the trust policy every record must pass (secured mode).
    pub fn set_trust(&mut self, trust: Box<dyn Trust + Send>) {
        self.dir.set_trust(trust);
    }

    /// The wall-clock time is `unix_ms` at `now` (dates exclusive claims).
    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: u64) {
        self.dir.set_wall_clock(now, unix_ms);
        self.msgs.set_wall_clock(now, unix_ms);
    }

    /// Claim `name` in the directory (`exclusive`: one holder mesh-wide).
    pub fn claim(&mut self, now: Instant, name: &str, exclusive: bool) -> Result<(), NamesError> {
        let r = self.dir.local_claim(now, name, exclusive);
        self.pump_names(now);
        r
    }

    /// Refresh the lease of `name` now (see [`crate::names::Directory::refresh`]).
    pub fn refresh_claim(&mut self, now: Instant, name: &str) -> bool {
        let r = self.dir.refresh(now, name);
        self.pump_names(now);
        r
    }

    /// Give up `name`.
    pub fn release(&mut self, now: Instant, name: &str) -> Result<(), NamesError> {
        let r = self.dir.local_release(now, name);
        self.pump_names(now);
        r
    }

    /// Hand the exclusive role `name` to `to`.
    pub fn handover(&mut self, now: Instant, name: &str, to: NodeId) -> Result<(), NamesError> {
        let r = self.dir.local_handover(now, name, to);
        self.pump_names(now);
        r
    }

    pub fn set_presence(&mut self, now: Instant, presence: Presence) {
        self.dir.set_presence(now, presence);
        self.pump_names(now);
    }

    pub fn set_position(&mut self, now: Instant, position: Option<Position>) {
        self.dir.set_position(now, position);
        self.pump_names(now);
    }

    pub fn profile(&self) -> &Profile {
        self.dir.profile()
    }

    pub fn set_profile(&mut self, now: Instant, profile: Profile) -> Result<(), NamesError> {
        let r = self.dir.set_profile(now, profile);
        self.pump_names(now);
        r
    }

    /// Every live holder of `name`, with its route. Holders we have no
    /// route to are listed too (their `route` is `None`): the record says
    /// who holds the role, the routing table says whether they can be
    /// reached now.
    pub fn whois(&self, now: Instant, name: &str) -> Vec<Holder> {
        self.dir
            .resolve(now, name)
            .into_iter()
            .map(|e| Holder {
                local: e.rec.holder == self.id,
                route: self.route_to(&e.rec.holder),
                entry: e.clone(),
            })
            .collect()
    }

    /// Names `id` holds according to the directory.
    pub fn names_of(&self, now: Instant, id: &NodeId) -> Vec<String> {
        let mut v: Vec<String> = self
            .dir
            .store()
            .entries()
            .filter(|e| e.rec.holder == *id && e.claims(now))
            .map(|e| e.rec.name.clone())
            .collect();
        v.dedup();
        v
    }

    pub(super) fn on_names(
        &mut self,
        now: Instant,
        key: LinkKey,
        body: &[u8],
    ) -> Result<(), WireError> {
        let r = self.dir.handle_bytes(now, key.id, body);
        self.pump_names(now);
        r.map_err(|e| WireError::Body(e.to_string()))
    }

    /// Keep the directory's neighbours equal to the nodes we have a usable
    /// (two-way) link to: a one-way neighbour would drop our digest. Runs
    /// only after a link's usability changed, not on every input.
    pub(super) fn sync_names_neighbours(&mut self, now: Instant) {
        if !std::mem::take(&mut self.names_nbrs_dirty) {
            return;
        }
        let usable: BTreeSet<NodeId> = self
            .nbrs
            .iter()
            .filter(|n| n.routing_cost != INFINITY)
            .map(|n| n.key.id)
            .collect();
        if usable == self.names_nbrs {
            return;
        }
        let gone: Vec<NodeId> = self.names_nbrs.difference(&usable).copied().collect();
        let new: Vec<NodeId> = usable.difference(&self.names_nbrs).copied().collect();
        self.names_nbrs = usable;
        for id in gone {
            self.dir.on_neighbour_down(now, id);
        }
        for id in new {
            self.dir.on_neighbour_up(now, id);
        }
    }

    pub(super) fn names_timers(&mut self, now: Instant) {
        self.sync_names_neighbours(now);
        if self.dir.poll_timeout().is_some_and(|t| t <= now) {
            self.dir.handle_timeout(now);
        }
        self.pump_names(now);
    }

    /// Put the directory's messages on the wire and pass its events on.
    pub(super) fn pump_names(&mut self, now: Instant) {
        while let Some((dest, msg)) = self.dir.poll_output() {
            let body = msg.encode();
            match dest {
                Dest::AllNeighbours => {
                    let ifaces: BTreeSet<IfaceId> = self
                        .nbrs
                        .iter()
                        .filter(|n| n.routing_cost != INFINITY)
                        .map(|n| n.key.iface)
                        .collect();
                    for iface in ifaces {
                        self.send_link_bulk(iface, LinkDst::Multicast, PacketType::Names, 0, &body);
                    }
                }
                Dest::Neighbour(id) => {
                    // Its cheapest usable link, else any link we hear it
                    // on: a neighbour that counts our link as usable before
                    // we count its link asks us for records, and an answer
                    // dropped for that left it behind for seconds after a
                    // partition healed.
                    let best = self
                        .nbrs
                        .iter()
                        .filter(|n| n.key.id == id)
                        .min_by_key(|n| (n.routing_cost == INFINITY, n.routing_cost))
                        .map(|n| (n.key.iface, n.addr));
                    if let Some((iface, addr)) = best {
                        self.send_link_bulk(
                            iface,
                            LinkDst::Unicast(addr),
                            PacketType::Names,
                            flags::UNICAST,
                            &body,
                        );
                    }
                }
            }
        }
        let _ = now;
        while let Some(e) = self.dir.poll_event() {
            self.push_event(Event::Directory(e));
        }
    }
}
