//! The discrete-event engine: simulated nodes driven exactly per the
//! `Node` calling contract, a radio per interface, and a heap of events.
//!
//! Determinism: one event heap ordered by (time, insertion counter), only
//! `Vec` and `BTreeMap` state, and every random draw from seeded [`Rng`]s
//! consumed in event order.
//!
//! Radio model and its limits: each interface transmits one datagram at a
//! time (airtime = (bytes + 48) × 8 / bitrate + MAC overhead), pulling the
//! next one from the node only when it is free, so the node's priority
//! order decides what goes first. Receivers in range get the datagram after
//! the airtime plus latency and jitter, unless the per-link loss draw drops
//! it. There is no collision or carrier-sense model (two neighbours may
//! transmit at once) and no MAC-layer retransmission: every datagram,
//! unicast or multicast, sees the link's loss once.
//!
//! Stalls ([`World::stall`]) model a daemon that is stopped (SIGSTOP, a
//! busy CPU) and then continues: for their length the node neither runs
//! its timers nor reads its sockets, and what it had already handed to the
//! radio still goes out; datagrams that reach it wait in its socket
//! buffer ([`STALL_QUEUE`]) and are read in order when it resumes, each
//! one an input like any other, then its overdue timers run.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::rc::Rc;
use std::time::Duration;

use super::radio::UDP_IPV6_OVERHEAD;
use super::scenario::WorldSpec;
use super::voice::VoiceLog;
use crate::app::{App, AppConfig, AppEvent};
use crate::identity::{Identity, NodeId};
use crate::names::NamesError;
use crate::node::{
    Class, Config, Event, IfaceId, Input, LinkDst, Node, NodeError, Timers, Transmit,
};
use crate::rng::Rng;
use crate::time::Instant;
use crate::wire::{Header, PacketType};

/// UDP port of the overlay.
pub const PORT: u16 = 7470;
/// Timeouts due at once that one node may ask for at the same instant
/// before the simulator pushes the next one a millisecond later.
const MAX_ZERO_TIME_TIMEOUTS: u32 = 64;
/// Datagrams a stalled node's socket buffer holds (about 200 KiB of
/// small datagrams); later ones are dropped, as the kernel drops them.
pub const STALL_QUEUE: usize = 1024;

/// Node `i` (0-based) lives at `[fe80::(i+1)]:7470`.
pub fn addr_of(i: usize) -> SocketAddr {
    let n = (i + 1) as u32;
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, (n >> 16) as u16, n as u16),
        PORT,
        0,
        0,
    ))
}

fn index_of(addr: &SocketAddr) -> Option<usize> {
    let SocketAddr::V6(a) = addr else { return None };
    let s = a.ip().segments();
    let n = ((s[6] as usize) << 16) | s[7] as usize;
    n.checked_sub(1)
}

/// Packet types as counted on air.
pub const TYPES: [&str; 8] = [
    "hello", "update", "request", "ack", "data", "flood", "names", "nack",
];

fn type_index(t: PacketType) -> usize {
    match t {
        PacketType::Hello => 0,
        PacketType::Update => 1,
        PacketType::Request => 2,
        PacketType::Ack => 3,
        PacketType::Data => 4,
        PacketType::Flood => 5,
        // Certificates ride with the directory (secured mode only).
        // Certificates and revocations ride with the directory (secured
        // mode only).
        PacketType::Names | PacketType::Cert | PacketType::Revoke => 6,
        PacketType::FloodNack => 7,
    }
}

/// Cumulative on-air counters (bytes include the 48-byte UDP/IPv6 header).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Air {
    pub bytes: [u64; 8],
    pub packets: [u64; 8],
    pub unparsable: u64,
    pub lost: u64,
    /// The console map's requests and answers (`wire::map`), every hop:
    /// part of the data bytes above.
    pub map_bytes: u64,
    pub map_packets: u64,
}

impl Air {
    /// Hello, update, request, ack and directory gossip: the protocol's
    /// own traffic.
    pub fn control_bytes(&self) -> u64 {
        self.bytes[..4].iter().sum::<u64>() + self.bytes[6]
    }

    /// The same, in datagrams: on a handset each one wakes the radio.
    pub fn control_packets(&self) -> u64 {
        self.packets[..4].iter().sum::<u64>() + self.packets[6]
    }
}

#[derive(Debug, Clone, Copy)]
struct Link {
    to: u32,
    iface: u32,
    loss: f64,
}

#[derive(Debug, Default)]
struct Radio {
    busy: bool,
    queue: VecDeque<Transmit>,
}

pub struct SimNode {
    /// The device's application layer (and its node), once booted.
    pub app: Option<App>,
    pub alive: bool,
    secret: [u8; 32],
    seed: u64,
    config: Config,
    timer_gen: u64,
    timer_at: Option<Instant>,
    zero_at: Instant,
    zero_count: u32,
    radios: Vec<Radio>,
    links: Vec<Vec<Link>>,
    /// Stopped until this time (see [`World::stall`]).
    stalled_until: Option<Instant>,
    /// Datagrams that reached it while stopped: (iface, from, data).
    stall_queue: VecDeque<(u32, u32, Rc<[u8]>)>,
}

impl SimNode {
    /// The mesh node, once booted.
    pub fn node(&self) -> Option<&Node> {
        self.app.as_ref().map(App::node)
    }
}

enum Ev<H> {
    Boot(u32),
    Timer {
        node: u32,
        generation: u64,
    },
    TxDone {
        node: u32,
        iface: u32,
    },
    Rx {
        to: u32,
        iface: u32,
        from: u32,
        data: Rc<[u8]>,
    },
    /// A stalled node continues.
    Resume(u32),
    Hook(H),
}

struct Entry<H> {
    at: Instant,
    seq: u64,
    ev: Ev<H>,
}

impl<H> PartialEq for Entry<H> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<H> Eq for Entry<H> {}
impl<H> PartialOrd for Entry<H> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<H> Ord for Entry<H> {
    // Reversed: BinaryHeap is a max-heap, we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

pub struct World<H> {
    pub spec: WorldSpec,
    pub nodes: Vec<SimNode>,
    pub ids: Vec<NodeId>,
    by_id: Vec<(NodeId, u32)>,
    heap: BinaryHeap<Entry<H>>,
    seq: u64,
    now: Instant,
    rng: Rng,
    extra_loss: f64,
    pub air: Air,
    /// Transmissions of each flooded packet, by (origin, seq).
    pub flood_tx: BTreeMap<(NodeId, u32), u32>,
    /// Node events the driver of the run has not looked at yet.
    pub outbox: Vec<(Instant, usize, Event)>,
    /// Application events (calls, floors) the driver has not looked at yet.
    pub app_outbox: Vec<(Instant, usize, AppEvent)>,
    /// Voice frames sent and played (`--ptt`, `--calls`).
    pub voice: VoiceLog,
    pub events: u64,
    pub livelock_guards: u64,
    /// Datagrams dropped because a stalled node's buffer was full.
    pub stall_drops: u64,
    /// Every device claims its own name when it boots (off: the mesh core
    /// alone, `--no-names`).
    pub boot_claims: bool,
}

impl<H> World<H> {
    /// Build the nodes (not yet booted). Keys and node seeds come from `seed`.
    pub fn new(
        spec: WorldSpec,
        preset: &Timers,
        extra_loss: f64,
        seed: u64,
    ) -> Result<Self, super::SimError> {
        let mut root = Rng::new(seed);
        let mut nodes = Vec::with_capacity(spec.nodes.len());
        let mut ids = Vec::with_capacity(spec.nodes.len());
        for n in &spec.nodes {
            let mut secret = [0u8; 32];
            root.fill(&mut secret);
            let node_seed = root.next_u64();
            let timers = spec.profiles[n.radios[0]].timers(preset)?;
            ids.push(Identity::from_secret(&secret).id());
            nodes.push(SimNode {
                app: None,
                alive: true,
                secret,
                seed: node_seed,
                config: Config {
                    timers,
                    base_station: n.base_station,
                    names: vec![n.name.clone()],
                    names_config: crate::node::names_config(),
                    msg_config: crate::msg::MsgConfig::default(),
                },
                timer_gen: 0,
                timer_at: None,
                zero_at: Instant::ZERO,
                zero_count: 0,
                radios: n.radios.iter().map(|_| Radio::default()).collect(),
                links: vec![Vec::new(); n.radios.len()],
                stalled_until: None,
                stall_queue: VecDeque::new(),
            });
        }
        let mut by_id: Vec<(NodeId, u32)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u32))
            .collect();
        by_id.sort_unstable();
        let mut w = World {
            spec,
            nodes,
            ids,
            by_id,
            heap: BinaryHeap::new(),
            seq: 0,
            now: Instant::ZERO,
            rng: Rng::new(root.next_u64()),
            extra_loss,
            air: Air::default(),
            flood_tx: BTreeMap::new(),
            outbox: Vec::new(),
            app_outbox: Vec::new(),
            voice: VoiceLog::default(),
            events: 0,
            livelock_guards: 0,
            stall_drops: 0,
            boot_claims: true,
        };
        w.rebuild_links();
        Ok(w)
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node id with its index, sorted by id.
    pub fn sorted_ids(&self) -> &[(NodeId, u32)] {
        &self.by_id
    }

    pub fn index(&self, id: &NodeId) -> Option<usize> {
        self.by_id
            .binary_search_by(|(x, _)| x.cmp(id))
            .ok()
            .map(|k| self.by_id[k].1 as usize)
    }

    pub fn alive(&self) -> Vec<bool> {
        self.nodes.iter().map(|n| n.alive).collect()
    }

    pub fn node(&self, i: usize) -> Option<&Node> {
        self.nodes[i].node()
    }

    /// The application layer of node `i`, once booted.
    pub fn app(&self, i: usize) -> Option<&App> {
        self.nodes[i].app.as_ref()
    }

    /// Next hop of live node `i` towards node `d`, as a node index.
    pub fn next_hop(&self, i: usize, d: usize) -> Option<usize> {
        let nh = self.nodes[i].node()?.next_hop(&self.ids[d])?;
        self.index(&nh)
    }

    /// Recompute who hears whom (after positions change).
    pub fn rebuild_links(&mut self) {
        let n = self.nodes.len();
        for sn in &mut self.nodes {
            for l in &mut sn.links {
                l.clear();
            }
        }
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let (ra, rb) = (
                    self.spec.nodes[a].radios.len(),
                    self.spec.nodes[b].radios.len(),
                );
                for ia in 0..ra {
                    for ib in 0..rb {
                        // Distance, obstacles and `[[link]]` overrides.
                        let Some(base) = self.spec.radio_loss(a, ia, b, ib) else {
                            continue;
                        };
                        let loss = 1.0 - (1.0 - base) * (1.0 - self.extra_loss);
                        self.nodes[a].links[ia].push(Link {
                            to: b as u32,
                            iface: ib as u32,
                            loss,
                        });
                    }
                }
            }
        }
    }

    fn push(&mut self, at: Instant, ev: Ev<H>) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            ev,
        });
    }

    pub fn schedule(&mut self, at: Instant, hook: H) {
        self.push(at.max(self.now), Ev::Hook(hook));
    }

    pub fn schedule_boot(&mut self, i: usize, at: Instant) {
        self.push(at, Ev::Boot(i as u32));
    }

    /// Run internal events up to the next hook at or before `limit`.
    /// Returns `None` (with the clock at `limit`) when there is none.
    pub fn next_hook(&mut self, limit: Instant) -> Option<(Instant, H)> {
        while let Some(top) = self.heap.peek() {
            if top.at > limit {
                break;
            }
            let Some(e) = self.heap.pop() else { break };
            self.now = e.at;
            self.events += 1;
            match e.ev {
                Ev::Hook(h) => return Some((e.at, h)),
                Ev::Boot(i) => self.boot(i as usize),
                Ev::Resume(i) => self.resume(i as usize),
                Ev::Timer { node, generation } => {
                    let sn = &mut self.nodes[node as usize];
                    if sn.alive && sn.timer_gen == generation && sn.stalled_until.is_none() {
                        sn.timer_at = None;
                        self.handle(node as usize, Input::Timeout);
                    }
                }
                Ev::TxDone { node, iface } => {
                    let sn = &mut self.nodes[node as usize];
                    if sn.alive {
                        sn.radios[iface as usize].busy = false;
                        self.pump(node as usize);
                    }
                }
                Ev::Rx {
                    to,
                    iface,
                    from,
                    data,
                } => {
                    let sn = &mut self.nodes[to as usize];
                    if sn.alive && sn.app.is_some() && sn.stalled_until.is_some() {
                        if sn.stall_queue.len() < STALL_QUEUE {
                            sn.stall_queue.push_back((iface, from, data));
                        } else {
                            self.stall_drops += 1;
                        }
                    } else if sn.alive && sn.app.is_some() {
                        let input = Input::Receive {
                            iface: IfaceId(iface),
                            from: addr_of(from as usize),
                            data: data.to_vec(),
                        };
                        self.handle(to as usize, input);
                    }
                }
            }
        }
        self.now = self.now.max(limit);
        None
    }

    fn boot(&mut self, i: usize) {
        let now = self.now;
        let sn = &mut self.nodes[i];
        if !sn.alive || sn.app.is_some() {
            return;
        }
        let ident = Identity::from_secret(&sn.secret);
        let mut node = Node::new(ident, sn.config.clone(), now, sn.seed);
        let name = self.spec.nodes[i].name.clone();
        for (k, &r) in self.spec.nodes[i].radios.iter().enumerate() {
            let cost_weight = self.spec.profiles[r].cost_weight;
            node.handle(
                now,
                Input::IfaceUp {
                    iface: IfaceId(k as u32),
                    cost_weight,
                },
            );
        }
        // Every device claims its own name at power-on, as `callsign up
        // --name` does; a scenario name the directory refuses is skipped.
        if self.boot_claims {
            let _ = node.claim(now, &name, false);
        }
        let mut seed = [0u8; 32];
        Rng::new(sn.seed ^ 0xa99_5eed).fill(&mut seed);
        let cfg = AppConfig {
            fixed_names: if self.boot_claims {
                vec![name]
            } else {
                Vec::new()
            },
            ..AppConfig::default()
        };
        let mut app = App::new(node, cfg, now, seed);
        // What the node queued while it booted.
        app.with_node(now, |_| ());
        sn.app = Some(app);
        self.after(i);
    }

    /// Run `f` on node `i` if it is up, then put what it sent on the air.
    /// `None` if the node is down or not booted.
    fn on_live<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, Instant) -> R) -> Option<R> {
        let now = self.now;
        let sn = &mut self.nodes[i];
        let a = sn.app.as_mut().filter(|_| sn.alive)?;
        let r = a.with_node(now, |n| f(n, now));
        self.after(i);
        Some(r)
    }

    /// Run `f` on node `i`'s application layer if it is up, then put what
    /// it sent on the air. `None` if the node is down or not booted.
    pub fn on_app<R>(&mut self, i: usize, f: impl FnOnce(&mut App, Instant) -> R) -> Option<R> {
        let now = self.now;
        let sn = &mut self.nodes[i];
        let a = sn.app.as_mut().filter(|_| sn.alive)?;
        let r = f(a, now);
        self.after(i);
        Some(r)
    }

    /// Node `i` claims `name` in the directory.
    pub fn claim(&mut self, i: usize, name: &str, exclusive: bool) -> Result<(), NamesError> {
        self.on_live(i, |n, now| n.claim(now, name, exclusive))
            .unwrap_or(Err(NamesError::BadField("node is down")))
    }

    /// Node `i` refreshes its claim of `name` now.
    pub fn refresh_claim(&mut self, i: usize, name: &str) -> bool {
        self.on_live(i, |n, now| n.refresh_claim(now, name))
            .unwrap_or(false)
    }

    fn handle(&mut self, i: usize, input: Input) {
        let now = self.now;
        if let Some(n) = self.nodes[i].app.as_mut() {
            n.handle(now, input);
            self.after(i);
        }
    }

    /// Application send from node `i` to node `dst` (control class, app protocol).
    pub fn send(&mut self, i: usize, dst: usize, payload: &[u8]) -> Result<u32, NodeError> {
        let id = self.ids[dst];
        self.on_live(i, |n, now| {
            n.send(now, id, Class::Control, crate::wire::proto::APP, payload)
        })
        .unwrap_or(Err(NodeError::QueueFull))
    }

    /// Change every node's configuration (before they boot).
    pub fn configure(&mut self, f: impl Fn(&mut Config)) {
        for sn in &mut self.nodes {
            f(&mut sn.config);
        }
    }

    /// A store-and-forward message from node `i`.
    pub fn message(
        &mut self,
        i: usize,
        to: crate::node::MsgTo<'_>,
        text: &str,
    ) -> Result<crate::msg::MsgId, crate::msg::MsgError> {
        self.on_live(i, |n, now| n.message(now, to, text))
            .unwrap_or_else(|| Err(crate::msg::MsgError::NoRecipients("node is down".into())))
    }

    /// Flood from node `i`; returns the packet's (origin, seq).
    pub fn flood(&mut self, i: usize, group: NodeId, payload: &[u8]) -> Option<(NodeId, u32)> {
        let now = self.now;
        let id = self.ids[i];
        let n = self.nodes[i].app.as_mut()?;
        let seq = n.with_node(now, |n| n.flood(now, group, Class::Control, payload).ok());
        self.after(i);
        seq.map(|s| (id, s))
    }

    /// The node dies: it neither sends nor hears from now on.
    pub fn kill(&mut self, i: usize) {
        let sn = &mut self.nodes[i];
        sn.alive = false;
        sn.timer_gen += 1;
        sn.stalled_until = None;
        sn.stall_queue.clear();
        for r in &mut sn.radios {
            r.queue.clear();
        }
    }

    /// A dead node is powered on again: a fresh daemon with the same
    /// identity and configuration, booting now (nothing of its old state
    /// survives but its key, as after a SIGKILL and restart).
    pub fn revive(&mut self, i: usize) {
        let sn = &mut self.nodes[i];
        if sn.alive {
            return;
        }
        sn.alive = true;
        sn.app = None;
        sn.timer_gen += 1;
        sn.timer_at = None;
        for r in &mut sn.radios {
            r.busy = false;
            r.queue.clear();
        }
        let now = self.now;
        self.push(now, Ev::Boot(i as u32));
    }

    /// Stop node `i` for `d` (a SIGSTOP and SIGCONT): see the module doc.
    /// A node already stalled, dead or not booted is left alone.
    pub fn stall(&mut self, i: usize, d: Duration) -> bool {
        let now = self.now;
        let sn = &mut self.nodes[i];
        if !sn.alive || sn.app.is_none() || sn.stalled_until.is_some() {
            return false;
        }
        sn.stalled_until = Some(now + d);
        self.push(now + d, Ev::Resume(i as u32));
        true
    }

    /// Neighbours declared dead so far, summed over every booted node
    /// (a dead node's count as it was at its death).
    pub fn neighbour_losses(&self) -> u64 {
        self.nodes
            .iter()
            .filter_map(|n| n.node())
            .map(|n| n.stats().neighbour_losses)
            .sum()
    }

    /// Whether node `i` is stalled now.
    pub fn stalled(&self, i: usize) -> bool {
        self.nodes[i].stalled_until.is_some()
    }

    /// The stalled node continues: it reads its socket buffer in order,
    /// one input each (the daemon takes datagrams before timers), then
    /// runs its overdue timers.
    fn resume(&mut self, i: usize) {
        let sn = &mut self.nodes[i];
        if sn.stalled_until.take().is_none() || !sn.alive {
            return;
        }
        let queued = std::mem::take(&mut sn.stall_queue);
        for (iface, from, data) in queued {
            let input = Input::Receive {
                iface: IfaceId(iface),
                from: addr_of(from as usize),
                data: data.to_vec(),
            };
            self.handle(i, input);
        }
        self.nodes[i].timer_at = None;
        self.handle(i, Input::Timeout);
    }

    /// The calling contract, step 3 and 4: drain transmits and events,
    /// then (re)arm the node's timer.
    fn after(&mut self, i: usize) {
        let now = self.now;
        let Some(n) = self.nodes[i].app.as_mut() else {
            return;
        };
        while let Some(e) = n.poll_event() {
            match e {
                AppEvent::Node(
                    e @ (Event::Delivered { .. }
                    | Event::FloodDelivered { .. }
                    | Event::Undeliverable { .. }
                    | Event::Directory(_)
                    | Event::Message(_)),
                ) => self.outbox.push((now, i, e)),
                AppEvent::Node(_) => {}
                // Frames are asked for and sent in the same instant; the
                // simulator has no codec, its payloads say who sent what.
                AppEvent::FrameDue { stream, index } => {
                    let body = self.voice.frame(now, i, stream, index);
                    n.send_frame(now, stream, index, &body);
                }
                AppEvent::Play { stream, playout } => self.voice.played(now, i, stream, &playout),
                e => self.app_outbox.push((now, i, e)),
            }
        }
        self.pump(i);
        let sn = &mut self.nodes[i];
        let Some(n) = sn.app.as_ref() else { return };
        let Some(mut t) = n.poll_timeout() else {
            sn.timer_at = None;
            return;
        };
        if t <= now {
            if sn.zero_at == now {
                sn.zero_count += 1;
            } else {
                sn.zero_at = now;
                sn.zero_count = 1;
            }
            t = now;
            if sn.zero_count > MAX_ZERO_TIME_TIMEOUTS {
                t = now + Duration::from_millis(1);
                self.livelock_guards += 1;
            }
        }
        if sn.timer_at != Some(t) {
            sn.timer_gen += 1;
            sn.timer_at = Some(t);
            let generation = sn.timer_gen;
            self.push(
                t,
                Ev::Timer {
                    node: i as u32,
                    generation,
                },
            );
        }
    }

    /// Start transmissions on idle radios, pulling from the node only while
    /// some radio is idle (so its priority order is what goes on air first).
    fn pump(&mut self, i: usize) {
        loop {
            for k in 0..self.nodes[i].radios.len() {
                let r = &mut self.nodes[i].radios[k];
                if !r.busy
                    && let Some(t) = r.queue.pop_front()
                {
                    self.start_tx(i, k, t);
                }
            }
            let sn = &mut self.nodes[i];
            if !sn.alive || sn.stalled_until.is_some() || sn.radios.iter().all(|r| r.busy) {
                return;
            }
            let Some(t) = sn.app.as_mut().and_then(|n| n.poll_transmit(self.now)) else {
                return;
            };
            if let Some(r) = sn.radios.get_mut(t.iface.0 as usize) {
                r.queue.push_back(t);
            }
        }
    }

    fn start_tx(&mut self, i: usize, k: usize, t: Transmit) {
        let now = self.now;
        let prof = &self.spec.profiles[self.spec.nodes[i].radios[k]];
        let end = now + prof.airtime(t.data.len());
        let (lat, jit) = (prof.latency_ms, prof.jitter_ms);
        self.nodes[i].radios[k].busy = true;
        self.push(
            end,
            Ev::TxDone {
                node: i as u32,
                iface: k as u32,
            },
        );
        match Header::parse(&t.data) {
            Ok((h, body)) => {
                let ti = type_index(h.ty);
                self.air.bytes[ti] += (t.data.len() + UDP_IPV6_OVERHEAD) as u64;
                self.air.packets[ti] += 1;
                if h.ty == PacketType::Data && body.first() == Some(&crate::wire::proto::MAP) {
                    self.air.map_bytes += (t.data.len() + UDP_IPV6_OVERHEAD) as u64;
                    self.air.map_packets += 1;
                }
                if h.ty == PacketType::Flood {
                    *self.flood_tx.entry((h.src, h.seq)).or_insert(0) += 1;
                }
            }
            Err(_) => self.air.unparsable += 1,
        }
        let data: Rc<[u8]> = t.data.into();
        let unicast_to = match t.dst {
            LinkDst::Multicast => None,
            LinkDst::Unicast(a) => match index_of(&a) {
                Some(x) => Some(x as u32),
                None => return,
            },
        };
        for li in 0..self.nodes[i].links[k].len() {
            let l = self.nodes[i].links[k][li];
            if unicast_to.is_some_and(|u| u != l.to) || !self.nodes[l.to as usize].alive {
                continue;
            }
            if self.rng.chance(l.loss) {
                self.air.lost += 1;
                continue;
            }
            let delay = lat + jit * self.rng.f64();
            let at = end + Duration::from_micros((delay * 1000.0) as u64);
            self.push(
                at,
                Ev::Rx {
                    to: l.to,
                    iface: l.iface,
                    from: i as u32,
                    data: data.clone(),
                },
            );
        }
    }
}
