//! Forwarding: priority queues, hop-by-hop acknowledgement and
//! retransmission of control data, the pending buffer for packets that
//! wait for a route, and group flooding.
//!
//! Every queue is bounded; what happens at the limit is documented on its
//! constant.

use std::collections::{BTreeMap, VecDeque};

use super::{Class, Event, LinkDst, MAX_PAYLOAD, Node, NodeError, Stats, Timers, Transmit};
use crate::flood::DupCache;
use crate::identity::NodeId;
use crate::link::{LinkKey, Liveness};
use crate::time::Instant;
use crate::wire::control::{self, Ack, AckEntry};
use crate::wire::{self, Header, PacketType, WireError, flags, proto};

/// Voice frames queued; at the limit the oldest is dropped (it is the
/// least useful frame).
const VOICE_QUEUE: usize = 256;
/// Other packets queued; at the limit the new packet is dropped.
const OTHER_QUEUE: usize = 2048;
/// Directory gossip queued behind everything else; at the limit the new
/// packet is dropped (anti-entropy repairs the loss).
const BULK_QUEUE: usize = 256;
/// Control packets awaiting a hop-by-hop ack; at the limit the packet is
/// sent without retransmission state.
const MAX_UNACKED: usize = 512;
/// Control packets waiting for a route; at the limit the oldest is dropped.
const MAX_PENDING: usize = 512;
/// Control packets remembered to suppress retransmitted duplicates.
const SEEN_CACHE: usize = 8192;

#[derive(Debug)]
struct Unacked {
    pkt: Vec<u8>,
    via: LinkKey,
    tries: u32,
    deadline: Instant,
    dst: NodeId,
    originated: bool,
    expires: Instant,
}

#[derive(Debug)]
struct Pending {
    pkt: Vec<u8>,
    dst: NodeId,
    src: NodeId,
    seq: u32,
    failed_via: Option<LinkKey>,
    expires: Instant,
    originated: bool,
}

#[derive(Debug)]
pub(super) struct Forwarder {
    voice: VecDeque<(Instant, Transmit)>,
    other: VecDeque<Transmit>,
    /// Directory gossip: sent only when nothing else waits, so a burst of
    /// records (a crew powering on together) never delays a hello or a
    /// route update.
    bulk: VecDeque<Transmit>,
    unacked: BTreeMap<(NodeId, u32), Unacked>,
    pending: VecDeque<Pending>,
    pending_dirty: bool,
    seen: DupCache,
}

impl Default for Forwarder {
    fn default() -> Self {
        Forwarder {
            voice: VecDeque::new(),
            other: VecDeque::new(),
            bulk: VecDeque::new(),
            unacked: BTreeMap::new(),
            pending: VecDeque::new(),
            pending_dirty: false,
            seen: DupCache::new(SEEN_CACHE),
        }
    }
}

impl Forwarder {
    pub(super) fn enqueue(&mut self, t: Transmit, now: Instant, stats: &mut Stats) {
        if t.class == Class::Voice {
            if self.voice.len() >= VOICE_QUEUE {
                self.voice.pop_front();
                stats.dropped_queue_full += 1;
            }
            self.voice.push_back((now, t));
        } else if self.other.len() >= OTHER_QUEUE {
            stats.dropped_queue_full += 1;
        } else {
            self.other.push_back(t);
        }
    }

    pub(super) fn enqueue_bulk(&mut self, t: Transmit, stats: &mut Stats) {
        if self.bulk.len() >= BULK_QUEUE {
            stats.dropped_queue_full += 1;
        } else {
            self.bulk.push_back(t);
        }
    }

    pub(super) fn dequeue(
        &mut self,
        now: Instant,
        timers: &Timers,
        stats: &mut Stats,
    ) -> Option<Transmit> {
        while let Some((at, t)) = self.voice.pop_front() {
            if now.saturating_since(at) > timers.voice_max_queue_delay {
                stats.dropped_late_voice += 1;
                continue;
            }
            return Some(t);
        }
        self.other.pop_front()
    }

    /// The next directory packet, once nothing else waits.
    pub(super) fn dequeue_bulk(&mut self) -> Option<Transmit> {
        self.bulk.pop_front()
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let mut t = self.unacked.values().map(|u| u.deadline).min();
        if let Some(p) = self.pending.iter().map(|p| p.expires).min() {
            t = Some(t.map_or(p, |x| x.min(p)));
        }
        if self.pending_dirty && !self.pending.is_empty() {
            t = Some(Instant::ZERO);
        }
        t
    }

    pub(super) fn route_changed(&mut self) {
        self.pending_dirty = true;
    }

    /// A neighbour is gone: its unacknowledged packets wait for a new route.
    pub(super) fn link_down(&mut self, now: Instant, key: LinkKey, timers: &Timers) {
        let gone: Vec<(NodeId, u32)> = self
            .unacked
            .iter()
            .filter(|(_, u)| u.via == key)
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Some(u) = self.unacked.remove(&k) {
                self.park(Pending {
                    pkt: u.pkt,
                    dst: u.dst,
                    src: k.0,
                    seq: k.1,
                    failed_via: Some(key),
                    expires: u.expires.max(now + timers.pending_timeout / 2),
                    originated: u.originated,
                });
            }
        }
        self.pending_dirty = true;
    }

    fn park(&mut self, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(p);
    }
}

/// The traffic class a data or flood packet's header flags carry.
fn data_class(header_flags: u8) -> Class {
    if header_flags & flags::VOICE != 0 {
        Class::Voice
    } else {
        Class::Control
    }
}

impl Node {
    /// Send `payload` to `dst`. `class` is [`Class::Voice`] (never
    /// retransmitted) or [`Class::Control`] (acknowledged hop by hop).
    /// Returns the packet's sequence number.
    pub fn send(
        &mut self,
        now: Instant,
        dst: NodeId,
        class: Class,
        proto_no: u8,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        let r = self.send_data(now, dst, class, proto_no, payload);
        self.on_timers(now);
        r
    }

    /// [`Node::send`] without running the timers (for the layers above
    /// routing that send from within them).
    pub(super) fn send_data(
        &mut self,
        now: Instant,
        dst: NodeId,
        class: Class,
        proto_no: u8,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(NodeError::PayloadTooLarge(payload.len(), MAX_PAYLOAD));
        }
        if dst == self.id {
            return Err(NodeError::SelfAddressed);
        }
        let seq = self.next_data_seq();
        let mut fl = 0;
        match class {
            Class::Voice => fl |= flags::VOICE,
            _ => fl |= flags::ACK_REQ,
        }
        let hdr = Header::routed(PacketType::Data, fl, self.id, dst, seq);
        let mut pkt = Vec::with_capacity(hdr.len() + 1 + payload.len());
        hdr.emit(&mut pkt);
        pkt.push(proto_no);
        pkt.extend_from_slice(payload);
        self.fwd.seen.insert(self.id, seq);
        self.route_data(now, pkt, dst, self.id, seq, true);
        Ok(seq)
    }

    /// Overlay echo request; the reply comes back as [`Event::EchoReply`].
    pub fn ping(&mut self, now: Instant, dst: NodeId, payload: &[u8]) -> Result<u32, NodeError> {
        self.send(now, dst, Class::Control, proto::ECHO_REQUEST, payload)
    }

    /// Flood `payload` to the whole mesh as group `group`.
    pub fn flood(
        &mut self,
        now: Instant,
        group: NodeId,
        class: Class,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(NodeError::PayloadTooLarge(payload.len(), MAX_PAYLOAD));
        }
        let seq = self.next_data_seq();
        let fl = if class == Class::Voice {
            flags::VOICE
        } else {
            0
        };
        let pkt = Header::routed(PacketType::Flood, fl, self.id, group, seq).to_packet(payload);
        self.flood_seen.insert(self.id, seq);
        self.multicast_all(now, pkt, class);
        self.on_timers(now);
        Ok(seq)
    }

    fn multicast_all(&mut self, now: Instant, pkt: Vec<u8>, class: Class) {
        let ifaces: Vec<_> = self.ifaces.keys().copied().collect();
        for iface in ifaces {
            self.fwd.enqueue(
                Transmit {
                    iface,
                    dst: LinkDst::Multicast,
                    class,
                    data: pkt.clone(),
                },
                now,
                &mut self.stats,
            );
        }
    }

    /// Send a routed data packet towards `dst`, or park it.
    fn route_data(
        &mut self,
        now: Instant,
        pkt: Vec<u8>,
        dst: NodeId,
        src: NodeId,
        seq: u32,
        originated: bool,
    ) {
        let class = data_class(pkt.get(2).copied().unwrap_or(0));
        let voice = class == Class::Voice;
        let timers = &self.config.timers;
        let route = self.routes.selected(&dst).copied();
        let nbr = route.and_then(|r| self.nbrs.get(&r.via));
        let usable = nbr.filter(|n| voice || n.liveness == Liveness::Alive);
        let Some(n) = usable else {
            if voice {
                self.stats.dropped_no_route += 1;
            } else {
                let expires = now + timers.pending_timeout;
                self.fwd.park(Pending {
                    pkt,
                    dst,
                    src,
                    seq,
                    failed_via: route.map(|r| r.via),
                    expires,
                    originated,
                });
            }
            return;
        };
        let (key, addr) = (n.key, n.addr);
        let linger = timers.fast_linger;
        let ack_timeout = timers.ack_timeout;
        let pending_timeout = timers.pending_timeout;
        if let Some(n) = self.nbrs.get_mut(&key) {
            n.sent_data_until = now + linger;
        }
        if !voice && self.fwd.unacked.len() < MAX_UNACKED {
            self.fwd.unacked.insert(
                (src, seq),
                Unacked {
                    pkt: pkt.clone(),
                    via: key,
                    tries: 1,
                    deadline: now + ack_timeout,
                    dst,
                    originated,
                    expires: now + pending_timeout,
                },
            );
        }
        self.fwd.enqueue(
            Transmit {
                iface: key.iface,
                dst: LinkDst::Unicast(addr),
                class,
                data: pkt,
            },
            now,
            &mut self.stats,
        );
    }

    pub(super) fn on_data(
        &mut self,
        now: Instant,
        from: LinkKey,
        hdr: &Header,
        raw: &[u8],
    ) -> Result<(), WireError> {
        let dst = hdr.dst.unwrap_or_default();
        let class = data_class(hdr.flags);
        if hdr.flags & flags::ACK_REQ != 0 {
            let ack = control::encode(&Ack {
                acked: vec![AckEntry {
                    src: hdr.src,
                    seq: hdr.seq,
                }],
            });
            if let Some(addr) = self.nbrs.get(&from).map(|n| n.addr) {
                self.send_link(
                    from.iface,
                    LinkDst::Unicast(addr),
                    PacketType::Ack,
                    0,
                    0,
                    &ack,
                );
            }
            if !self.fwd.seen.insert(hdr.src, hdr.seq) {
                self.stats.rx_duplicates += 1;
                return Ok(());
            }
        }
        // We carry this neighbour's traffic: let it know fast that we live.
        if let (Some(n), Some(_)) = (self.nbrs.get_mut(&from), self.config.timers.hello_fast) {
            let was = n.in_fast_mode(now);
            n.fast_until = now + self.config.timers.fast_linger;
            if !was {
                n.next_fast_hello = now;
            }
        }
        if dst == self.id {
            let body = &raw[hdr.len()..];
            let (&p, payload) = body
                .split_first()
                .ok_or(WireError::Body("empty data".into()))?;
            let hops = wire::hops_travelled(hdr.hop_limit);
            self.stats.delivered += 1;
            match p {
                proto::ECHO_REQUEST => {
                    let mut reply = hdr.seq.to_be_bytes().to_vec();
                    reply.extend_from_slice(payload);
                    // Best effort: a failed reply is the pinger's timeout.
                    let _ = self.send(now, hdr.src, Class::Control, proto::ECHO_REPLY, &reply);
                }
                proto::MSG => self.on_msg(now, hdr.src, payload)?,
                proto::ECHO_REPLY => {
                    if payload.len() < 4 {
                        return Err(WireError::Body("short echo reply".into()));
                    }
                    let seq = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                    self.push_event(Event::EchoReply {
                        src: hdr.src,
                        seq,
                        hops,
                        payload: payload[4..].to_vec(),
                    });
                }
                _ => self.push_event(Event::Delivered {
                    src: hdr.src,
                    class,
                    proto: p,
                    seq: hdr.seq,
                    hops,
                    payload: payload.to_vec(),
                }),
            }
            return Ok(());
        }
        let mut pkt = raw.to_vec();
        if wire::decrement_hop_limit(&mut pkt).is_none() {
            self.stats.dropped_hop_limit += 1;
            return Ok(());
        }
        self.stats.forwarded += 1;
        self.route_data(now, pkt, dst, hdr.src, hdr.seq, false);
        Ok(())
    }

    pub(super) fn on_ack(&mut self, from: LinkKey, body: &[u8]) -> Result<(), WireError> {
        let ack: Ack = control::decode(body)?;
        for e in ack.acked {
            if self
                .fwd
                .unacked
                .get(&(e.src, e.seq))
                .is_some_and(|u| u.via.id == from.id)
            {
                self.fwd.unacked.remove(&(e.src, e.seq));
            }
        }
        Ok(())
    }

    pub(super) fn on_flood(
        &mut self,
        now: Instant,
        from: LinkKey,
        hdr: &Header,
        raw: &[u8],
    ) -> Result<(), WireError> {
        if !self.flood_seen.insert(hdr.src, hdr.seq) {
            self.stats.rx_duplicates += 1;
            return Ok(());
        }
        let class = data_class(hdr.flags);
        self.push_event(Event::FloodDelivered {
            src: hdr.src,
            group: hdr.dst.unwrap_or_default(),
            class,
            seq: hdr.seq,
            hops: wire::hops_travelled(hdr.hop_limit),
            payload: raw[hdr.len()..].to_vec(),
        });
        let relay = self.nbrs.get(&from).is_some_and(|n| n.mpr_selector);
        if relay {
            let mut pkt = raw.to_vec();
            if wire::decrement_hop_limit(&mut pkt).is_some() {
                self.stats.flood_relayed += 1;
                self.multicast_all(now, pkt, class);
            }
        }
        Ok(())
    }

    pub(super) fn forward_timers(&mut self, now: Instant) {
        let timers = self.config.timers.clone();
        // Retransmissions and delivery failures.
        let due: Vec<(NodeId, u32)> = self
            .fwd
            .unacked
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let Some(mut u) = self.fwd.unacked.remove(&k) else {
                continue;
            };
            if u.tries <= timers.max_retransmissions
                && let Some(addr) = self.nbrs.get(&u.via).map(|n| n.addr)
            {
                u.tries += 1;
                u.deadline = now + timers.ack_timeout;
                self.stats.retransmissions += 1;
                self.fwd.enqueue(
                    Transmit {
                        iface: u.via.iface,
                        dst: LinkDst::Unicast(addr),
                        class: Class::Control,
                        data: u.pkt.clone(),
                    },
                    now,
                    &mut self.stats,
                );
                self.fwd.unacked.insert(k, u);
                continue;
            }
            self.stats.ack_failures += 1;
            if timers.ack_failure_suspects {
                self.suspect(now, u.via, crate::link::Suspicion::AckFailure);
            }
            self.fwd.park(Pending {
                pkt: u.pkt,
                dst: u.dst,
                src: k.0,
                seq: k.1,
                failed_via: Some(u.via),
                expires: u.expires,
                originated: u.originated,
            });
            self.fwd.pending_dirty = true;
        }
        // Parked packets: send those that now have a live route, expire the rest.
        let expired = self.fwd.pending.iter().any(|p| p.expires <= now);
        if !(self.fwd.pending_dirty || expired) {
            return;
        }
        self.fwd.pending_dirty = false;
        let parked: Vec<Pending> = self.fwd.pending.drain(..).collect();
        for p in parked {
            if p.expires <= now {
                self.stats.dropped_no_route += 1;
                if p.originated {
                    self.push_event(Event::Undeliverable {
                        dst: p.dst,
                        seq: p.seq,
                    });
                }
                continue;
            }
            let ready = self.routes.selected(&p.dst).and_then(|r| {
                let n = self.nbrs.get(&r.via)?;
                let alive = n.liveness == Liveness::Alive;
                (alive
                    && (Some(r.via) != p.failed_via || n.last_heard > now - timers.ack_timeout * 4))
                    .then_some(())
            });
            if ready.is_some() {
                self.route_data(now, p.pkt, p.dst, p.src, p.seq, p.originated);
            } else {
                self.fwd.pending.push_back(p);
            }
        }
        // Packets routed just now may have been parked again; do not spin.
        self.fwd.pending_dirty = false;
    }
}
