//! Forwarding: priority queues, hop-by-hop acknowledgement and
//! retransmission of control data, the pending buffer for packets that
//! wait for a route, and group flooding.
//!
//! Every queue is bounded; what happens at the limit is documented on its
//! constant.

use std::collections::{BTreeMap, VecDeque};

use super::{Class, Event, LinkDst, MAX_PAYLOAD, Node, NodeError, Stats, Timers, Transmit};
use crate::flood::DupCache;
use crate::flood::repair::RepeatWhy;
use crate::identity::NodeId;
use crate::link::{LinkKey, Liveness};
use crate::time::Instant;
use crate::wire::control::{self, Ack, AckEntry};
use crate::wire::{self, Header, PacketType, WireError, flags, proto};

/// Voice frames queued; at the limit the oldest is dropped (it is the
/// least useful frame).
const VOICE_QUEUE: usize = 256;
/// Repair copies of voice floods queued; at the limit the oldest goes.
const REPAIR_QUEUE: usize = 64;
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
    /// Copies of voice floods sent in answer to NACKs: after fresh voice
    /// (a repair storm must never delay the frames behind it), before the
    /// rest.
    repair: VecDeque<(Instant, Transmit)>,
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
            repair: VecDeque::new(),
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

    /// Queue a repair copy; at the limit the oldest goes (it is the one
    /// most likely past its playout).
    pub(super) fn enqueue_repair(&mut self, t: Transmit, now: Instant, stats: &mut Stats) {
        if self.repair.len() >= REPAIR_QUEUE {
            self.repair.pop_front();
            stats.dropped_queue_full += 1;
        }
        self.repair.push_back((now, t));
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
        while let Some((at, t)) = self.repair.pop_front() {
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

/// The previous voice flood rides in the next one only if it is this
/// recent (a talker's frames are 20 ms apart; a floor message long after
/// a burst needs no copy of its last frame).
const REDUNDANT_AGE: std::time::Duration = std::time::Duration::from_millis(100);
/// A voice flood goes out a second time this long after the first,
/// unless every relay of ours that may lack it has been heard passing it
/// on by then (see [`Node::repeat_needed`]): apart enough that a fade or a
/// collision that took the first rarely takes the second, and before the
/// next frame.
const REPEAT_AFTER: std::time::Duration = std::time::Duration::from_millis(7);
/// A relay repeats what it relayed only for a relay of its own that hears
/// less than this share of its packets. Relays held back until a look at
/// who else transmitted (see [`RepeatWhy::Held`]) paid for raising this
/// from 0.85: over 64 seeded meshes the worst member went from 0.978 to
/// 0.981 and the airtime per frame from 0.603 at most to 0.586.
const REPEAT_BELOW: f64 = 0.95;
/// After a recovery (see [`RepeatWhy::Recovered`]) a relay of ours counts
/// as reached by a neighbour heard transmitting the flood only if that
/// neighbour hears it at least this well (in twentieths, as IHUs carry
/// it): a weak two-hop link is where the packets thinned out.
const REACHED_WELL: u8 = 18;
/// Floods whose transmitters we remember (a flood's copies all arrive
/// within tens of milliseconds), and transmitters per flood.
const FLOOD_HEARD: usize = 64;
const FLOOD_HEARD_PER_PACKET: usize = 16;

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
        let fl = match class {
            Class::Voice => flags::VOICE,
            _ => flags::ACK_REQ,
        };
        self.send_checked(now, dst, fl, proto_no, payload)
    }

    /// Background data ([`flags::BACKGROUND`]): control class without
    /// fast hellos.
    pub(super) fn send_background(
        &mut self,
        now: Instant,
        dst: NodeId,
        proto_no: u8,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        let fl = flags::ACK_REQ | flags::BACKGROUND;
        self.send_checked(now, dst, fl, proto_no, payload)
    }

    /// The checks every routed send makes, then the send with `fl`.
    fn send_checked(
        &mut self,
        now: Instant,
        dst: NodeId,
        fl: u8,
        proto_no: u8,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(NodeError::PayloadTooLarge(payload.len(), MAX_PAYLOAD));
        }
        if dst == self.id {
            return Err(NodeError::SelfAddressed);
        }
        self.send_data_flags(now, dst, fl, proto_no, payload)
    }

    fn send_data_flags(
        &mut self,
        now: Instant,
        dst: NodeId,
        fl: u8,
        proto_no: u8,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        let seq = self.next_data_seq();
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

    /// Flood `payload` to the whole mesh as group `group`. Voice-class
    /// floods (talkgroups) are numbered in a sequence of their own, which
    /// the repair of lost ones relies on.
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
        let voice = class == Class::Voice;
        let protection = self.config.timers.flood_protection;
        let (seq, mut fl) = if voice {
            self.voice_seq = self.voice_seq.wrapping_add(1);
            (self.voice_seq, flags::VOICE)
        } else {
            (self.next_data_seq(), 0)
        };
        let mut body = std::borrow::Cow::Borrowed(payload);
        let depth = usize::from(self.config.timers.flood_redundancy).min(wire::MAX_REDUNDANT);
        if voice && protection.redundant() && depth > 0 {
            // Earlier floods ride along while they are this one's direct
            // predecessors, of the same group, recent, and all fit.
            let mut prev: Vec<&[u8]> = Vec::new();
            let mut size = 1 + payload.len();
            for (k, (pseq, pgroup, p, at)) in self.last_voice.iter().enumerate() {
                if pseq.wrapping_add(k as u32 + 1) != seq
                    || *pgroup != group
                    || now.saturating_since(*at) > REDUNDANT_AGE
                    || size + 2 + p.len() > MAX_PAYLOAD
                {
                    break;
                }
                size += 2 + p.len();
                prev.push(p);
            }
            if !prev.is_empty() {
                body = std::borrow::Cow::Owned(wire::join_redundant(&prev, payload));
                fl |= flags::REDUNDANT;
            }
            self.last_voice
                .push_front((seq, group, payload.to_vec(), now));
            self.last_voice.truncate(depth);
        }
        let pkt = Header::routed(PacketType::Flood, fl, self.id, group, seq).to_packet(&body);
        if voice {
            self.voice_seen.insert(self.id, seq);
            if protection.repairs() {
                self.repair.keep(now, self.id, seq, &pkt);
                self.repair
                    .repeat_at(now + REPEAT_AFTER, pkt.clone(), RepeatWhy::Own);
            }
        } else {
            self.flood_seen.insert(self.id, seq);
        }
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
        let fl = pkt.get(2).copied().unwrap_or(0);
        let class = data_class(fl);
        let voice = class == Class::Voice;
        let background = fl & flags::BACKGROUND != 0;
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
        if let Some(n) = self.nbrs.get_mut(&key).filter(|_| !background) {
            n.sending_data(now, linger);
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
        if self.is_revoked(&hdr.src) {
            self.stats.rx_revoked_data += 1;
            return Ok(());
        }
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
        // We carry this neighbour's traffic: let it know fast that we live
        // (unless it is background traffic, which does not wait on us).
        let background = hdr.flags & flags::BACKGROUND != 0;
        if let (Some(n), Some(_), false) = (
            self.nbrs.get_mut(&from),
            self.config.timers.hello_fast,
            background,
        ) {
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
                proto::MAP => self.on_map(now, hdr.src, payload)?,
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
        if self.is_revoked(&hdr.src) {
            self.stats.rx_revoked_flood += 1;
            return Ok(());
        }
        let class = data_class(hdr.flags);
        let voice = class == Class::Voice;
        let protection = self.config.timers.flood_protection;
        let repair = voice && protection.repairs();
        let mut payload = &raw[hdr.len()..];
        // Some earlier frame this packet carries was new to us: the packets
        // that should have brought it were lost on the way here.
        let mut recovered = false;
        if voice && hdr.flags & flags::REDUNDANT != 0 {
            let (prevs, cur) = wire::split_redundant(payload)
                .ok_or_else(|| WireError::Body("redundant flood".into()))?;
            payload = cur;
            // The origin's earlier floods, which we may have missed: the
            // oldest first, as they were sent.
            for (k, prev) in prevs.into_iter().enumerate().rev() {
                let pseq = hdr.seq.wrapping_sub(k as u32 + 1);
                if self.voice_seen.insert(hdr.src, pseq) {
                    recovered = true;
                    if repair {
                        self.repair.received(now, from, hdr.src, pseq);
                        let mut h = *hdr;
                        h.seq = pseq;
                        h.flags &= !flags::REDUNDANT;
                        self.repair.keep(now, hdr.src, pseq, &h.to_packet(prev));
                    }
                    self.push_event(Event::FloodDelivered {
                        src: hdr.src,
                        group: hdr.dst.unwrap_or_default(),
                        class,
                        seq: pseq,
                        hops: wire::hops_travelled(hdr.hop_limit),
                        payload: prev.to_vec(),
                    });
                }
            }
        }
        let fresh = if voice {
            self.voice_seen.insert(hdr.src, hdr.seq)
        } else {
            self.flood_seen.insert(hdr.src, hdr.seq)
        };
        if fresh {
            if repair {
                self.repair.received(now, from, hdr.src, hdr.seq);
                self.repair.keep(now, hdr.src, hdr.seq, raw);
            }
            self.push_event(Event::FloodDelivered {
                src: hdr.src,
                group: hdr.dst.unwrap_or_default(),
                class,
                seq: hdr.seq,
                hops: wire::hops_travelled(hdr.hop_limit),
                payload: payload.to_vec(),
            });
        } else {
            self.stats.rx_duplicates += 1;
        }
        // A relay relays a packet once, for the neighbours that chose it;
        // plain MPR flooding looks at the first copy only.
        let selector = self.nbrs.get(&from).is_some_and(|n| n.mpr_selector);
        let key = (hdr.src, hdr.seq ^ (u32::from(voice) << 31));
        let relay = if protection.relays_any_copy() {
            let heard = self.note_heard(key, from.id);
            let covered = selector && self.neighbourhood_covered(now, &heard);
            match (selector, voice) {
                (false, _) => false,
                (true, true) => self.voice_relayed.insert(hdr.src, hdr.seq) && !covered,
                (true, false) => self.flood_relayed.insert(hdr.src, hdr.seq) && !covered,
            }
        } else {
            selector && fresh
        };
        let mut relayed = false;
        if relay && repair && !fresh {
            // A neighbour that chose us sent a voice flood we already had
            // from another: on a dense mesh most of our neighbours have it
            // by now, or will within a few milliseconds. Look again then.
            let mut pkt = raw.to_vec();
            if wire::decrement_hop_limit(&mut pkt).is_some() {
                self.repair
                    .repeat_at(now + REPEAT_AFTER, pkt, RepeatWhy::Held);
            }
        } else if relay {
            let mut pkt = raw.to_vec();
            if wire::decrement_hop_limit(&mut pkt).is_some() {
                self.stats.flood_relayed += 1;
                let why = if recovered {
                    Some(RepeatWhy::Recovered)
                } else {
                    self.lossy_relay(now).then_some(RepeatWhy::LossyRelay)
                };
                if let Some(why) = why.filter(|_| repair) {
                    self.repair.repeat_at(now + REPEAT_AFTER, pkt.clone(), why);
                }
                self.multicast_all(now, pkt, class);
                relayed = true;
            }
        }
        if repair && fresh {
            // Neighbours that asked for it while we missed it too.
            for k in self.repair.take_owed(hdr.src, hdr.seq, relayed) {
                if let Some(addr) = self.nbrs.get(&k).map(|n| n.addr) {
                    self.fwd.enqueue_repair(
                        Transmit {
                            iface: k.iface,
                            dst: LinkDst::Unicast(addr),
                            class: Class::Voice,
                            data: raw.to_vec(),
                        },
                        now,
                        &mut self.stats,
                    );
                }
            }
            self.sync_repair_stats();
        }
        Ok(())
    }

    /// Remember that `who` transmitted the flood `key`; everyone heard so far.
    pub(super) fn note_heard(&mut self, key: (NodeId, u32), who: NodeId) -> Vec<NodeId> {
        // Newest first: copies of a flood come within moments of each other.
        if let Some((_, v)) = self.flood_heard.iter_mut().rev().find(|(k, _)| *k == key) {
            if !v.contains(&who) && v.len() < FLOOD_HEARD_PER_PACKET {
                v.push(who);
            }
            return v.clone();
        }
        if self.flood_heard.len() >= FLOOD_HEARD {
            self.flood_heard.pop_front();
        }
        self.flood_heard.push_back((key, vec![who]));
        vec![who]
    }

    /// Who we heard transmit the flood `key` (none if it was forgotten).
    fn heard(&self, key: (NodeId, u32)) -> Vec<NodeId> {
        self.flood_heard
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every usable neighbour of ours transmitted the packet or is a
    /// neighbour of one that did (as its IHU list says): relaying it would
    /// reach nobody new.
    fn neighbourhood_covered(&self, now: Instant, heard: &[NodeId]) -> bool {
        let reached: Vec<&[(NodeId, u8)]> = self
            .nbrs
            .iter()
            .filter(|n| heard.contains(&n.key.id))
            .map(|n| n.two_hop.as_slice())
            .collect();
        self.nbrs
            .iter()
            .filter(|n| n.usable(now, self.iface_weight(n.key.iface)))
            .all(|n| {
                heard.contains(&n.key.id)
                    || reached
                        .iter()
                        .any(|two| two.iter().any(|(x, _)| *x == n.key.id))
            })
    }

    /// A neighbour missed some voice floods: the copies we hold go back to
    /// it by unicast, ahead of other traffic.
    pub(super) fn on_flood_nack(
        &mut self,
        now: Instant,
        from: LinkKey,
        body: &[u8],
    ) -> Result<(), WireError> {
        let nack: crate::wire::control::FloodNack = control::decode(body)?;
        let Some(addr) = self.nbrs.get(&from).map(|n| n.addr) else {
            return Ok(());
        };
        for pkt in self.repair.answer(now, from, nack.src, &nack.seqs) {
            self.fwd.enqueue_repair(
                Transmit {
                    iface: from.iface,
                    dst: LinkDst::Unicast(addr),
                    class: Class::Voice,
                    data: pkt,
                },
                now,
                &mut self.stats,
            );
        }
        self.sync_repair_stats();
        Ok(())
    }

    /// NACKs for voice floods found missing.
    pub(super) fn flood_timers(&mut self, now: Instant) {
        if !self.config.timers.flood_protection.repairs() {
            return;
        }
        if self.repair.next_deadline().is_none_or(|t| t > now) {
            return;
        }
        for (pkt, why) in self.repair.poll_repeats(now) {
            let Ok((h, _)) = Header::parse(&pkt) else {
                continue;
            };
            let key = (h.src, h.seq ^ (1 << 31));
            if why == RepeatWhy::Held {
                if self.neighbourhood_covered(now, &self.heard(key)) {
                    self.stats.flood_relays_held += 1;
                } else {
                    self.stats.flood_relayed += 1;
                    self.multicast_all(now, pkt, Class::Voice);
                }
                continue;
            }
            if !self.repeat_needed(now, key, why) {
                self.repair.stats.repeats_saved += 1;
                continue;
            }
            self.repair.stats.repeats_sent += 1;
            self.multicast_all(now, pkt, Class::Voice);
        }
        for n in self.repair.poll_nacks(now) {
            let Some(addr) = self.nbrs.get(&n.to).map(|x| x.addr) else {
                continue;
            };
            let body = control::encode(&crate::wire::control::FloodNack {
                src: n.src,
                seqs: n.seqs,
            });
            self.send_link(
                n.to.iface,
                LinkDst::Unicast(addr),
                PacketType::FloodNack,
                0,
                0,
                &body,
            );
        }
        self.sync_repair_stats();
    }

    /// Whether the voice flood `key` we sent goes out again: some relay of
    /// ours has not been heard transmitting it and may well have missed it.
    ///
    /// Everything a talker says crosses its first hop, where no other path
    /// makes up a loss run longer than the redundant copies (a talker whose
    /// one relay lost 40 % of its frames cost every member late, batched
    /// repairs): the talker ([`RepeatWhy::Own`]) sends each frame again
    /// unless it heard every relay pass the first on, the relays' own
    /// copies serving as the acknowledgement. Further on, paths mostly
    /// overlap. A relay whose flood brought back frames it had missed
    /// ([`RepeatWhy::Recovered`]) sits below a lossy stretch, where each hop
    /// passes on only the packets it got and a chain of ten hops delivers a
    /// quarter of them, each carrying four frames late: it repeats for a
    /// relay of its own that no transmitter heard so far reaches well.
    /// Otherwise ([`RepeatWhy::LossyRelay`]) a relay repeats only for a
    /// relay of its own that hears it badly and that no transmitter heard
    /// so far reaches at all: a chain of lossy links on the edge of the
    /// mesh, where nothing else makes up a loss.
    fn repeat_needed(&self, now: Instant, key: (NodeId, u32), why: RepeatWhy) -> bool {
        let heard = self.heard(key);
        let heard = heard.as_slice();
        // Someone we heard transmit it is a neighbour of `id` (its IHU list
        // says so, at least `well`): `id` most likely has it from there.
        let reached = |id: NodeId, well: u8| {
            self.nbrs
                .iter()
                .filter(|t| heard.contains(&t.key.id))
                .any(|t| t.two_hop.iter().any(|(x, q)| *x == id && *q >= well))
        };
        self.nbrs.iter().any(|n| {
            n.mpr
                && n.usable(now, self.iface_weight(n.key.iface))
                && !heard.contains(&n.key.id)
                && match why {
                    RepeatWhy::Own => true,
                    RepeatWhy::Recovered => !reached(n.key.id, REACHED_WELL),
                    RepeatWhy::LossyRelay => n.tx_ratio() < REPEAT_BELOW && !reached(n.key.id, 0),
                    // Decided by coverage before this is asked.
                    RepeatWhy::Held => true,
                }
        })
    }

    /// Some relay of ours hears us badly (a relayed voice flood is then
    /// kept for a second sending).
    fn lossy_relay(&self, now: Instant) -> bool {
        self.nbrs.iter().any(|n| {
            n.mpr && n.usable(now, self.iface_weight(n.key.iface)) && n.tx_ratio() < REPEAT_BELOW
        })
    }

    /// Copy the flood repair's counters into the node's.
    fn sync_repair_stats(&mut self) {
        let r = self.repair.stats;
        let s = &mut self.stats;
        s.flood_gaps = r.gaps;
        s.flood_nacks_sent = r.nacks_sent;
        s.flood_repairs_sent = r.repairs_sent;
        s.flood_repaired = r.repaired;
        s.flood_given_up = r.given_up;
        s.flood_repeats_sent = r.repeats_sent;
        s.flood_repeats_saved = r.repeats_saved;
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
