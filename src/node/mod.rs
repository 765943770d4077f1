//! The node: link, routing, flooding and forwarding composed into one
//! sans-IO state machine. Daemon and simulator drive it the same way.
//!
//! # Driving a node
//!
//! A driver owns the sockets (or the simulated radio) and a clock. It calls:
//!
//! 1. [`Node::new`] once, with the device identity, configuration, the
//!    current time and a seed for the node's random number generator.
//! 2. [`Node::handle`] with every [`Input`]: received datagrams, interface
//!    changes, and [`Input::Timeout`] when the deadline from step 4 passes.
//!    Application sends go through [`Node::send`], [`Node::ping`] and
//!    [`Node::flood`].
//! 3. After each call, drain [`Node::poll_transmit`] until it returns
//!    `None` and put each [`Transmit`] on the wire, and drain
//!    [`Node::poll_event`]. Transmits come out in priority order (voice
//!    first); a driver with a busy radio may leave them queued and poll
//!    again later (voice frames that waited too long are dropped then).
//! 4. [`Node::poll_timeout`] gives the next deadline; call
//!    `handle(now, Input::Timeout)` when it is reached.
//!
//! `now` must never go backwards between calls. The node never reads a clock,
//! never opens a socket and draws all randomness from its seeded [`Rng`].

mod api;
mod flow;
#[cfg(test)]
mod flow_tests;
mod forward;
mod hello;
#[cfg(test)]
mod idflood_tests;
mod map;
#[cfg(test)]
mod map_tests;
mod messages;
#[cfg(test)]
mod messages_tests;
mod names;
#[cfg(test)]
mod names_tests;
mod revoke;
#[cfg(test)]
mod revoke_tests;
mod routing;
mod secure;
#[cfg(test)]
mod secure_tests;
mod sizes;
#[cfg(test)]
mod stall_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use api::*;
pub use map::{MAP_OPEN, MapList, MapStats};
pub use messages::MsgTo;
pub use names::{Holder, names_config};
pub use sizes::{BoundCounts, TableSize};

use crate::flood::{DUP_CACHE, DupCache, VOICE_DUP_CACHE};
use crate::identity::{Identity, NodeId};
use crate::link::{LinkKey, Neighbours};
use crate::names::{Directory, Open};
pub use crate::rng::Rng;
use crate::route::RouteTable;
use crate::time::Instant;
use crate::wire::{self, Header, PacketType};

use forward::Forwarder;

/// Per-interface state.
#[derive(Debug)]
struct Iface {
    weight: u16,
    mcast_seq: u32,
    next_hello: Instant,
    last_hello: Instant,
    hellos_sent: u32,
    /// Put the neighbour list into the next hello.
    ihu_due: bool,
    /// Sequence number of the last multicast update sent here.
    update_seq: u32,
    /// Destinations carried by recent multicast updates, for resends.
    update_log: VecDeque<(u32, Vec<NodeId>)>,
}

/// Multicast updates remembered per interface for resends; older gaps get
/// a full table instead.
const UPDATE_LOG: usize = 64;

/// One mesh node. See the module documentation for the calling contract.
pub struct Node {
    ident: Identity,
    id: NodeId,
    config: Config,
    rng: Rng,
    ifaces: BTreeMap<IfaceId, Iface>,
    nbrs: Neighbours,
    routes: RouteTable,
    fwd: Forwarder,
    /// Voice flows: labels, hop-by-hop ARQ state.
    flows: flow::Flows,
    flood_seen: DupCache,
    /// Voice floods have a sequence (and a duplicate cache) of their own,
    /// so a gap in one origin's numbers is a loss to repair.
    voice_seen: DupCache,
    voice_seq: u32,
    /// Our last voice floods (seq, group, payload, when), newest first,
    /// which the next ones carry as well when protection is redundant.
    last_voice: VecDeque<(u32, NodeId, Vec<u8>, Instant)>,
    /// Floods we relayed (the forwarded set: relay once, on any copy).
    flood_relayed: DupCache,
    voice_relayed: DupCache,
    /// Neighbours heard transmitting each recent flood, so a relay whose
    /// whole neighbourhood already heard it stays quiet (bounded FIFO).
    flood_heard: VecDeque<((NodeId, u32), Vec<NodeId>)>,
    /// Repair of lost voice floods (`flood::repair`).
    repair: crate::flood::repair::Repair<LinkKey>,
    events: VecDeque<Event>,
    stats: Stats,
    data_seq: u32,
    /// Destinations whose route must be re-advertised, and when.
    dirty: BTreeSet<NodeId>,
    /// The subset of `dirty` that is urgent (repeated once after sending).
    dirty_urgent: BTreeSet<NodeId>,
    dirty_at: Option<Instant>,
    /// Triggered updates are sent twice: the second copy covers a loss.
    repeat: BTreeSet<NodeId>,
    repeat_at: Option<Instant>,
    next_dump: Instant,
    next_housekeeping: Instant,
    /// Neighbours that should get our full table by unicast.
    dump_to: BTreeSet<LinkKey>,
    /// Neighbours that asked for some parts of our table: (count, bits).
    /// One entry per neighbour link, so bounded like the neighbours.
    parts_to: BTreeMap<LinkKey, (u16, u64)>,
    /// Neighbours that asked for a seqno of destinations we hold a route
    /// to at that seqno (or, starving, at their feasibility distance's),
    /// or that asked through us for one that has come: they get our
    /// current route by unicast with the next flush (bounded by
    /// `MAX_REQUESTS_SEEN` destinations in all; past it, none are added).
    answer_to: BTreeMap<LinkKey, BTreeSet<NodeId>>,
    /// Those answers again with the repeat of triggered updates: an
    /// answer crosses one lossy link unacknowledged (bounded like
    /// `answer_to`).
    answer_again: BTreeMap<LinkKey, BTreeSet<NodeId>>,
    mpr_dirty: bool,
    /// Seqno requests already handled: (origin, dest) -> (seqno, when).
    requests_seen: BTreeMap<(NodeId, NodeId), (u16, Instant)>,
    /// Destinations whose next seqno someone asked for through us, until when.
    requested: BTreeMap<NodeId, (u16, Instant)>,
    /// The neighbours that asked, per destination of `requested` (at most
    /// `MAX_ASKERS` each): they get the answer by unicast as well.
    askers: BTreeMap<NodeId, BTreeSet<LinkKey>>,
    /// Neighbours declared dead, to announce in the next hello.
    lost: Vec<(IfaceId, NodeId)>,
    /// When starving destinations get their seqno request repeated.
    request_retry_at: Option<Instant>,
    /// The directory of names, and the neighbours it was told about.
    dir: Directory,
    names_nbrs: BTreeSet<NodeId>,
    /// A link became usable or unusable, or a neighbour went: the
    /// directory's neighbour set must be recomputed.
    names_nbrs_dirty: bool,
    /// Secured mode (`None`: open mode).
    secure: Option<secure::Secure>,
    /// Store-and-forward messages, and the routes that appeared since it
    /// was last told.
    msgs: crate::msg::Messages,
    msg_routes_up: BTreeSet<NodeId>,
    /// The console's map: neighbour lists fetched while a map is open.
    map: map::MapState,
}

/// Label of the seed of the texts' ephemeral-key generator.
const MSG_KEYS: &[u8] = b"callsign msg keys";

/// Bound on remembered seqno requests.
const MAX_REQUESTS_SEEN: usize = 1024;
/// Bound on queued events (a driver that never drains loses the oldest).
const MAX_EVENTS: usize = 4096;

impl Node {
    pub fn new(ident: Identity, config: Config, now: Instant, seed: u64) -> Self {
        let id = ident.id();
        let mut rng = Rng::new(seed ^ u64::from_le_bytes(id.0[..8].try_into().unwrap_or_default()));
        // A random start seqno makes a restarted node's updates less likely
        // to look old to neighbours that remember its previous life.
        let seqno = rng.below(u16::MAX as u64) as u16;
        let update_interval = config.timers.update_interval;
        let dump_at = now + rng.jitter(update_interval, 0.25);
        let dir = Directory::new(
            ident.clone(),
            config.names_config.clone(),
            Box::new(Open),
            now,
            rng.next_u64(),
        );
        // Ephemeral keys of texts: from the 64-bit seed until a driver
        // with 32 bytes of entropy calls `seed_keys` (the app does).
        let msgs = crate::msg::Messages::new(
            ident.clone(),
            config.msg_config.clone(),
            crate::rng::KeyRng::derive_seed(MSG_KEYS, &[&seed.to_le_bytes(), &id.0]),
        );
        // Data sequence numbers start at random too: neighbours remember
        // (source, sequence) to drop retransmitted duplicates, and a
        // restarted node counting from 1 again would have its first
        // packets dropped as copies of its previous life's. A generator
        // of its own, so the node's other draws stay as they were.
        let mut seq_rng = Rng::new(seed.rotate_left(17) ^ 0xda7a_5e9e);
        let data_seq = seq_rng.next_u64() as u32;
        let voice_seq = seq_rng.next_u64() as u32;
        let repair = crate::flood::repair::Repair::new(
            config.timers.flood_nack_delay,
            config.timers.flood_nack_retry,
        );
        Node {
            dir,
            msgs,
            msg_routes_up: BTreeSet::new(),
            map: map::MapState::default(),
            names_nbrs: BTreeSet::new(),
            names_nbrs_dirty: false,
            secure: None,
            routes: RouteTable::new(id, seqno, config.base_station),
            ident,
            id,
            config,
            rng,
            ifaces: BTreeMap::new(),
            nbrs: Neighbours::default(),
            fwd: Forwarder::default(),
            flows: flow::Flows::default(),
            flood_seen: DupCache::new(DUP_CACHE),
            voice_seen: DupCache::new(VOICE_DUP_CACHE),
            voice_seq,
            last_voice: VecDeque::new(),
            flood_relayed: DupCache::new(DUP_CACHE),
            voice_relayed: DupCache::new(VOICE_DUP_CACHE),
            flood_heard: VecDeque::new(),
            repair,
            events: VecDeque::new(),
            stats: Stats::default(),
            data_seq,
            dirty: BTreeSet::new(),
            dirty_urgent: BTreeSet::new(),
            dirty_at: None,
            repeat: BTreeSet::new(),
            repeat_at: None,
            next_dump: dump_at,
            next_housekeeping: now + crate::time::ms(1000),
            dump_to: BTreeSet::new(),
            parts_to: BTreeMap::new(),
            answer_to: BTreeMap::new(),
            answer_again: BTreeMap::new(),
            mpr_dirty: false,
            requests_seen: BTreeMap::new(),
            requested: BTreeMap::new(),
            askers: BTreeMap::new(),
            lost: Vec::new(),
            request_retry_at: None,
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Seed the generator of the ephemeral keys that seal texts with 32
    /// secret bytes (OS entropy in the daemon, the run's seed in the
    /// simulator). [`Node::new`] seeds it from its 64-bit seed, too little
    /// for keys: a driver calls this once before the first message
    /// ([`crate::app::App::new`] does).
    pub fn seed_keys(&mut self, seed: [u8; 32]) {
        self.msgs
            .reseed_keys(crate::rng::KeyRng::derive_seed(MSG_KEYS, &[&seed]));
    }

    pub fn identity(&self) -> &Identity {
        &self.ident
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Names carried in our hellos from now on.
    pub fn set_names(&mut self, names: Vec<String>) {
        self.config.names = names;
        for i in self.ifaces.values_mut() {
            i.ihu_due = true;
        }
    }

    /// Feed one input. See the module documentation.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Receive { iface, from, data } => self.on_receive(now, iface, from, &data),
            Input::Timeout => {}
            Input::IfaceUp { iface, cost_weight } => {
                let jitter = self.rng.jitter(crate::time::ms(50), 1.0);
                self.ifaces.entry(iface).or_insert(Iface {
                    weight: cost_weight.max(1),
                    mcast_seq: 0,
                    next_hello: now + jitter,
                    last_hello: Instant::ZERO,
                    hellos_sent: 0,
                    ihu_due: true,
                    update_seq: 0,
                    update_log: VecDeque::new(),
                });
            }
            Input::IfaceDown { iface } => {
                self.ifaces.remove(&iface);
                for key in self.nbrs.drop_iface(iface) {
                    self.neighbour_gone(now, key, None);
                }
            }
        }
        self.on_timers(now);
    }

    /// The next transmission, highest priority first.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let t = match self.fwd.dequeue(now, &self.config.timers, &mut self.stats) {
            Some(t) => t,
            // Directory gossip is sealed as it leaves, not as it is queued:
            // it waits behind everything else, and a MAC counter far older
            // than the packets sent meanwhile would look like a replay.
            None => {
                let mut t = self.fwd.dequeue_bulk()?;
                t.data = self.seal(std::mem::take(&mut t.data));
                t
            }
        };
        self.stats.tx_packets += 1;
        self.stats.tx_bytes += t.data.len() as u64;
        if t.class == Class::Protocol {
            self.stats.tx_protocol_bytes += t.data.len() as u64;
        }
        Some(t)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest time at which [`Input::Timeout`] must be handled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_dump.min(self.next_housekeeping);
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = t.min(x);
            }
        };
        consider(self.dirty_at);
        consider(self.repeat_at);
        consider(self.request_retry_at);
        for i in self.ifaces.values() {
            consider(Some(i.next_hello));
        }
        for n in self.nbrs.iter() {
            consider(Some(self.neighbour_deadline(n)));
        }
        consider(self.fwd.next_deadline());
        consider(self.flows.next_deadline());
        consider(self.repair.next_deadline());
        consider(self.dir.poll_timeout());
        consider(self.msgs.poll_timeout());
        consider(self.map.next_deadline());
        Some(t)
    }

    fn push_event(&mut self, e: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn on_receive(
        &mut self,
        now: Instant,
        iface: IfaceId,
        from: std::net::SocketAddr,
        data: &[u8],
    ) {
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += data.len() as u64;
        if !self.ifaces.contains_key(&iface) {
            return;
        }
        // Voice flows have their own compact headers (and no MAC).
        if wire::flow::is_flow(data) {
            self.on_flow(now, iface, from, data);
            return;
        }
        let (mut hdr, mut body) = match Header::parse(data) {
            Ok(x) => x,
            Err(_) => {
                self.stats.rx_malformed += 1;
                return;
            }
        };
        if hdr.src == self.id {
            // Our own multicast looped back, or a relay's copy of our own
            // voice flood: that relay has it, so the flood's second sending
            // can be saved (see `Node::poll_repair`).
            if hdr.ty == PacketType::Flood
                && hdr.flags & crate::wire::flags::VOICE != 0
                && let Some(k) = self.nbrs.key_by_addr(iface, from)
            {
                self.note_heard((self.id, hdr.seq ^ (1 << 31)), k.id);
            }
            return;
        }
        if self.secure.is_some() && !hdr.ty.is_routed() {
            // Secured mode: authenticate before trusting anything in it.
            let Some(inner) = self.open(data) else {
                return;
            };
            (hdr, body) = match Header::parse(inner) {
                Ok(x) => x,
                Err(_) => {
                    self.stats.rx_malformed += 1;
                    return;
                }
            };
            // Taken from anyone with the incident key: the root's
            // signature is what counts, not who passed it on.
            if hdr.ty == PacketType::Revoke {
                self.on_revoke(now, hdr.src, body);
                return;
            }
            if self.is_revoked(&hdr.src) {
                self.stats.rx_revoked += 1;
                return;
            }
            if hdr.ty == PacketType::Cert {
                if self.on_cert(now, iface, from, hdr.src, body).is_err() {
                    self.stats.rx_malformed += 1;
                }
                return;
            }
            if !self.is_enrolled(&hdr.src) {
                self.unenrolled(now, iface, from, hdr.src);
                return;
            }
        }
        let key = if hdr.ty.is_routed() {
            match self.nbrs.key_by_addr(iface, from) {
                Some(k) => k,
                None => {
                    // The revoked device itself, no longer a neighbour.
                    if self.is_revoked(&hdr.src) {
                        if hdr.ty == PacketType::Flood {
                            self.stats.rx_revoked_flood += 1;
                        } else {
                            self.stats.rx_revoked_data += 1;
                        }
                    }
                    return;
                }
            }
        } else {
            LinkKey { iface, id: hdr.src }
        };
        // A suspect neighbour that speaks again is alive: control data
        // parked after failing to reach it can go now.
        if self
            .nbrs
            .get(&key)
            .is_some_and(|n| n.liveness != crate::link::Liveness::Alive)
        {
            self.fwd.route_changed();
        }
        let ok = match hdr.ty {
            PacketType::Hello => self.on_hello(now, key, from, &hdr, body),
            _ => {
                // Only hellos create neighbours; anything else from a known
                // neighbour proves it alive.
                let Some(n) = self.nbrs.get_mut(&key) else {
                    return;
                };
                n.last_heard = now;
                n.liveness = crate::link::Liveness::Alive;
                match hdr.ty {
                    PacketType::Update => {
                        let seq = if hdr.flags & crate::wire::flags::UNICAST != 0 {
                            0
                        } else {
                            hdr.seq
                        };
                        self.on_update(now, key, seq, hdr.flags, body)
                    }
                    PacketType::Request => self.on_request(now, key, body),
                    PacketType::Ack => self.on_ack(key, body),
                    PacketType::Data => self.on_data(now, key, &hdr, data),
                    PacketType::Flood => self.on_flood(now, key, &hdr, data),
                    PacketType::Names => self.on_names(now, key, body),
                    PacketType::FloodNack => self.on_flood_nack(now, key, body),
                    // Open mode takes no certificates or revocations.
                    PacketType::Hello | PacketType::Cert | PacketType::Revoke => Ok(()),
                }
            }
        };
        if ok.is_err() {
            self.stats.rx_malformed += 1;
        }
    }

    /// Process everything that is due.
    fn on_timers(&mut self, now: Instant) {
        self.hello_timers(now);
        self.neighbour_timers(now);
        if self.mpr_dirty {
            self.recompute_mprs(now);
        }
        self.routing_timers(now);
        self.forward_timers(now);
        self.flow_timers(now);
        self.flood_timers(now);
        self.names_timers(now);
        self.msg_timers(now);
        self.map_timers(now);
    }

    /// Queue a link-local protocol packet.
    fn send_link(
        &mut self,
        iface: IfaceId,
        dst: LinkDst,
        ty: PacketType,
        flags: u8,
        seq: u32,
        body: &[u8],
    ) {
        let pkt = Header::link(ty, flags, self.id, seq).to_packet(body);
        let pkt = self.seal(pkt);
        self.fwd.enqueue(
            Transmit {
                iface,
                dst,
                class: Class::Protocol,
                data: pkt,
            },
            Instant::ZERO,
            &mut self.stats,
        );
    }

    /// Queue a link-local packet behind all other traffic (directory gossip).
    fn send_link_bulk(
        &mut self,
        iface: IfaceId,
        dst: LinkDst,
        ty: PacketType,
        flags: u8,
        body: &[u8],
    ) {
        let pkt = Header::link(ty, flags, self.id, 0).to_packet(body);
        self.fwd.enqueue_bulk(
            Transmit {
                iface,
                dst,
                class: Class::Protocol,
                data: pkt,
            },
            &mut self.stats,
        );
    }

    fn next_data_seq(&mut self) -> u32 {
        self.data_seq = self.data_seq.wrapping_add(1);
        self.data_seq
    }

    fn iface_weight(&self, iface: IfaceId) -> u16 {
        self.ifaces.get(&iface).map_or(256, |i| i.weight)
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("neighbours", &self.nbrs.len())
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

/// Move the deadline in `slot` forward to `at` if that is sooner.
fn sooner(slot: &mut Option<Instant>, at: Instant) {
    *slot = Some(slot.map_or(at, |t| t.min(at)));
}

/// Maximum application payload in one unicast data packet.
pub const MAX_PAYLOAD: usize = wire::MAX_PACKET - wire::ROUTED_HEADER_LEN - 1 - 4;
