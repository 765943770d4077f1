//! Voice flows: label-switched 1:1 call frames with hop-by-hop ARQ.
//!
//! A call's frames carry a 32-bit label chosen by the sender. A full frame
//! ([`FlowPacket::Full`], the routed 40-byte header) installs `label ->
//! (src, dst)` in every node it crosses; compressed frames (9 bytes of
//! header) carry only the label, and each node forwards them to its
//! *current* next hop for `dst`, so a route change re-routes the call at
//! once. Installation is lazy and hop by hop: the first
//! [`INSTALL_FULLS`] frames a node sends on a label to a given next hop,
//! and one every [`REFRESH_FULL`] after, go full; a node that gets a
//! compressed frame for a label it does not know answers the neighbour
//! with a `FlowMiss` (rate-limited), and that neighbour's next frames go
//! full again.
//!
//! With [`VoiceProtection::Arq`] each hop asks for a `FlowAck` and
//! retransmits an unacknowledged frame after a retransmission timeout
//! taken from the measured ack round trip, at most [`MAX_VOICE_RETX`]
//! times and never later than [`VOICE_DEADLINE`] after it first sent it:
//! late voice is worthless. Every hop suppresses duplicates per
//! `(label, seq)` (a lost ack makes one) and acknowledges them again.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Class, Event, IfaceId, LinkDst, Node, NodeError, Transmit, VoiceProtection};
use crate::identity::NodeId;
use crate::link::{LinkKey, Liveness};
use crate::time::{Instant, ms};
use crate::wire::flow::{FlowPacket, MAX_VOICE_PAYLOAD};
use crate::wire::{self, DEFAULT_HOP_LIMIT};

/// Frames sent full to a new next hop before compressing.
pub const INSTALL_FULLS: u8 = 3;
/// One full frame per this interval refreshes the label along the path.
pub const REFRESH_FULL: Duration = Duration::from_secs(1);
/// A label not used for this long is forgotten.
pub const LABEL_IDLE: Duration = Duration::from_secs(5);
/// Labels known (ours and relayed). At the limit the least recently used
/// is forgotten: the stalest flow; if it is still alive, its next
/// compressed frame draws a FlowMiss and it is installed again.
pub const MAX_LABELS: usize = 1024;
/// Frames awaiting a FlowAck. At the limit a frame is sent without
/// retransmission state (it gets the unprotected baseline).
pub const MAX_VOICE_UNACKED: usize = 512;
/// Retransmissions of one frame per hop.
pub const MAX_VOICE_RETX: u8 = 3;
/// No retransmission later than this after the hop first sent the frame.
pub const VOICE_DEADLINE: Duration = Duration::from_millis(40);
/// Retransmission timeout before a link's round trip is measured, and its
/// bounds after.
pub const RTO_INITIAL: Duration = Duration::from_millis(8);
pub const RTO_MIN: Duration = Duration::from_millis(4);
pub const RTO_MAX: Duration = Duration::from_millis(20);
/// FlowMiss packets to one neighbour for one label are this far apart.
pub const MISS_INTERVAL: Duration = Duration::from_millis(50);
/// (neighbour, label) pairs whose last FlowMiss is remembered. At the
/// limit the one sent longest ago is forgotten (it may be sent again
/// sooner, nothing worse).
pub const MAX_MISSES: usize = 64;
/// Links whose ack round trip is remembered; beyond it new links use
/// [`RTO_INITIAL`]. Entries of gone neighbours are dropped every second.
pub const MAX_RTT: usize = 256;

/// What we send a label with, towards one next hop.
#[derive(Debug, Clone, Copy)]
struct Out {
    via: LinkKey,
    fulls: u8,
    last_full: Instant,
}

#[derive(Debug)]
struct Label {
    src: NodeId,
    dst: NodeId,
    last_used: Instant,
    out: Option<Out>,
    /// Duplicate window: highest seq seen and a bitmap of the 64 before it
    /// (bit 0 = the highest).
    rx: Option<(u16, u64)>,
}

impl Label {
    /// Record `seq`; true if it was seen already (or is too old to matter).
    fn seen(&mut self, seq: u16) -> bool {
        let Some((high, mask)) = self.rx else {
            self.rx = Some((seq, 1));
            return false;
        };
        let d = seq.wrapping_sub(high) as i16;
        if d > 0 {
            let m = if d >= 64 { 0 } else { mask << d };
            self.rx = Some((seq, m | 1));
            return false;
        }
        let back = u32::from(d.unsigned_abs());
        if back >= 64 {
            return true;
        }
        let bit = 1u64 << back;
        self.rx = Some((high, mask | bit));
        mask & bit != 0
    }
}

#[derive(Debug)]
struct Unacked {
    src: NodeId,
    dst: NodeId,
    hop_limit: u8,
    payload: Vec<u8>,
    via: LinkKey,
    tries: u8,
    sent: Instant,
    next: Instant,
}

#[derive(Debug, Default)]
pub(super) struct Flows {
    labels: BTreeMap<u32, Label>,
    unacked: BTreeMap<(u32, u16), Unacked>,
    misses: BTreeMap<(LinkKey, u32), Instant>,
    /// Smoothed ack round trip per link.
    rtt: BTreeMap<LinkKey, Duration>,
    next_prune: Instant,
}

impl Flows {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.unacked.values().map(|u| u.next).min()
    }

    fn rto(&self, key: LinkKey) -> Duration {
        self.rtt
            .get(&key)
            .map_or(RTO_INITIAL, |r| (*r * 2 + ms(1)).clamp(RTO_MIN, RTO_MAX))
    }

    /// Install or refresh a label; a different (src, dst) replaces it.
    fn install(&mut self, now: Instant, label: u32, src: NodeId, dst: NodeId) -> &mut Label {
        if !self.labels.contains_key(&label) && self.labels.len() >= MAX_LABELS {
            let lru = self
                .labels
                .iter()
                .min_by_key(|(_, l)| l.last_used)
                .map(|(k, _)| *k);
            if let Some(k) = lru {
                self.labels.remove(&k);
            }
        }
        let l = self.labels.entry(label).or_insert(Label {
            src,
            dst,
            last_used: now,
            out: None,
            rx: None,
        });
        if (l.src, l.dst) != (src, dst) {
            *l = Label {
                src,
                dst,
                last_used: now,
                out: None,
                rx: None,
            };
        }
        l.last_used = now;
        l
    }
}

impl Node {
    /// Send one voice frame of the flow `label` to `dst`. `seq` is the
    /// frame's number in the flow (the receiver's [`Event::VoiceFrame`]
    /// carries it). A frame without a route is dropped and counted.
    /// Labels are the caller's (random, agreed in call signalling); a
    /// relayed flow that happens to use the same label here is replaced.
    pub fn send_voice(
        &mut self,
        now: Instant,
        dst: NodeId,
        label: u32,
        seq: u16,
        payload: &[u8],
    ) -> Result<(), NodeError> {
        if payload.len() > MAX_VOICE_PAYLOAD {
            return Err(NodeError::PayloadTooLarge(payload.len(), MAX_VOICE_PAYLOAD));
        }
        if dst == self.id {
            return Err(NodeError::SelfAddressed);
        }
        let id = self.id;
        self.flows.install(now, label, id, dst);
        self.stats.voice_sent += 1;
        self.flow_out(now, label, seq, DEFAULT_HOP_LIMIT, payload.to_vec(), None);
        self.on_timers(now);
        Ok(())
    }

    /// Forget our sending state for `label` (the call ended): its
    /// retransmissions stop and the label is free for reuse.
    pub fn close_flow(&mut self, label: u32) {
        if self
            .flows
            .labels
            .get(&label)
            .is_some_and(|l| l.src == self.id)
        {
            self.flows.labels.remove(&label);
        }
        self.flows
            .unacked
            .retain(|(l, _), u| *l != label || u.src != self.id);
    }

    /// Send a frame of an installed label to the current next hop.
    /// `retry` carries the retransmission state of a frame sent before.
    fn flow_out(
        &mut self,
        now: Instant,
        label: u32,
        seq: u16,
        hop_limit: u8,
        payload: Vec<u8>,
        retry: Option<Unacked>,
    ) {
        let Some(l) = self.flows.labels.get_mut(&label) else {
            return;
        };
        let (src, dst) = (l.src, l.dst);
        let route = self.routes.selected(&dst).copied();
        // Voice goes to a suspect next hop too: waiting is worse than trying.
        let Some((key, addr)) = route
            .and_then(|r| self.nbrs.get(&r.via))
            .map(|n| (n.key, n.addr))
        else {
            self.stats.dropped_no_route += 1;
            return;
        };
        let out = match l.out {
            Some(o) if o.via == key => l.out.insert(o),
            _ => l.out.insert(Out {
                via: key,
                fulls: 0,
                last_full: Instant::ZERO,
            }),
        };
        let full = out.fulls < INSTALL_FULLS || now >= out.last_full + REFRESH_FULL;
        if full {
            out.fulls = out.fulls.saturating_add(1);
            out.last_full = now;
        }
        let ack_req = self.config.timers.voice_protection == VoiceProtection::Arq;
        let pkt = if full {
            FlowPacket::Full {
                src,
                dst,
                hop_limit,
                ack_req,
                label,
                seq,
                payload: &payload,
            }
        } else {
            FlowPacket::Frame {
                hop_limit,
                ack_req,
                label,
                seq,
                payload: &payload,
            }
        }
        .encode();
        if let Some(n) = self.nbrs.get_mut(&key) {
            n.sending_data(now, self.config.timers.fast_linger);
        }
        self.fwd.enqueue(
            Transmit {
                iface: key.iface,
                dst: LinkDst::Unicast(addr),
                class: Class::Voice,
                data: pkt,
            },
            now,
            &mut self.stats,
        );
        if !ack_req {
            return;
        }
        let rto = self.flows.rto(key);
        let u = match retry {
            Some(mut u) => {
                u.via = key;
                u.tries += 1;
                u.next = now + rto;
                u
            }
            None if self.flows.unacked.len() < MAX_VOICE_UNACKED => Unacked {
                src,
                dst,
                hop_limit,
                payload,
                via: key,
                tries: 1,
                sent: now,
                next: now + rto,
            },
            None => return,
        };
        self.flows.unacked.insert((label, seq), u);
    }

    /// A flow packet from the link address `from` on `iface`.
    pub(super) fn on_flow(&mut self, now: Instant, iface: IfaceId, from: SocketAddr, data: &[u8]) {
        // Like routed packets, flow packets are taken only from neighbours.
        let Some(key) = self.nbrs.key_by_addr(iface, from) else {
            return;
        };
        let pkt = match FlowPacket::decode(data) {
            Ok(p) => p,
            Err(_) => {
                self.stats.rx_malformed += 1;
                return;
            }
        };
        // A call's voice from a revoked device: its first frame names it.
        if let FlowPacket::Full { src, .. } = &pkt
            && self.is_revoked(src)
        {
            self.stats.rx_revoked_data += 1;
            return;
        }
        if let Some(n) = self.nbrs.get_mut(&key) {
            if n.liveness != Liveness::Alive {
                self.fwd.route_changed();
            }
            n.last_heard = now;
            n.liveness = Liveness::Alive;
        }
        match pkt {
            FlowPacket::Full {
                src,
                dst,
                hop_limit,
                ack_req,
                label,
                seq,
                payload,
            } => {
                if src == self.id {
                    return;
                }
                self.flows.install(now, label, src, dst);
                self.on_frame(now, key, label, seq, hop_limit, ack_req, payload);
            }
            FlowPacket::Frame {
                hop_limit,
                ack_req,
                label,
                seq,
                payload,
            } => {
                if self.flows.labels.contains_key(&label) {
                    self.on_frame(now, key, label, seq, hop_limit, ack_req, payload);
                } else {
                    self.stats.voice_label_misses += 1;
                    self.send_miss(now, key, label);
                }
            }
            FlowPacket::Miss { label } => {
                let Some(l) = self.flows.labels.get_mut(&label) else {
                    return;
                };
                if let Some(o) = l.out.as_mut().filter(|o| o.via == key) {
                    o.fulls = 0;
                }
                // The frames it dropped go again at once, in full.
                for ((_, _), u) in self.flows.unacked.range_mut((label, 0)..=(label, u16::MAX)) {
                    if u.via == key {
                        u.next = now;
                    }
                }
            }
            FlowPacket::Ack { label, seqs } => {
                for seq in seqs {
                    let k = (label, seq);
                    if self.flows.unacked.get(&k).is_some_and(|u| u.via == key)
                        && let Some(u) = self.flows.unacked.remove(&k)
                        && u.tries == 1
                        && (self.flows.rtt.len() < MAX_RTT || self.flows.rtt.contains_key(&key))
                    {
                        // Karn: only frames sent once give a clean sample.
                        let sample = now.saturating_since(u.sent);
                        let r = self.flows.rtt.entry(key).or_insert(sample);
                        *r = (*r * 7 + sample) / 8;
                    }
                }
            }
        }
    }

    /// A frame of an installed label: acknowledge, deliver or relay.
    #[allow(clippy::too_many_arguments)]
    fn on_frame(
        &mut self,
        now: Instant,
        from: LinkKey,
        label: u32,
        seq: u16,
        hop_limit: u8,
        ack_req: bool,
        payload: &[u8],
    ) {
        if ack_req && let Some(addr) = self.nbrs.get(&from).map(|n| n.addr) {
            let ack = FlowPacket::Ack {
                label,
                seqs: vec![seq],
            };
            self.fwd.enqueue(
                Transmit {
                    iface: from.iface,
                    dst: LinkDst::Unicast(addr),
                    class: Class::Voice,
                    data: ack.encode(),
                },
                now,
                &mut self.stats,
            );
        }
        let Some(l) = self.flows.labels.get_mut(&label) else {
            return;
        };
        l.last_used = now;
        if l.seen(seq) {
            self.stats.rx_duplicates += 1;
            return;
        }
        let (src, dst) = (l.src, l.dst);
        // We carry this neighbour's traffic: let it know fast that we live.
        if let (Some(n), Some(_)) = (self.nbrs.get_mut(&from), self.config.timers.hello_fast) {
            let was = n.in_fast_mode(now);
            n.fast_until = now + self.config.timers.fast_linger;
            if !was {
                n.next_fast_hello = now;
            }
        }
        if dst == self.id {
            self.stats.voice_delivered += 1;
            self.push_event(Event::VoiceFrame {
                src,
                label,
                seq,
                hops: wire::hops_travelled(hop_limit),
                payload: payload.to_vec(),
            });
            return;
        }
        if hop_limit <= 1 {
            self.stats.dropped_hop_limit += 1;
            return;
        }
        self.stats.voice_relayed += 1;
        self.flow_out(now, label, seq, hop_limit - 1, payload.to_vec(), None);
    }

    fn send_miss(&mut self, now: Instant, key: LinkKey, label: u32) {
        if self
            .flows
            .misses
            .get(&(key, label))
            .is_some_and(|t| now < *t + MISS_INTERVAL)
        {
            return;
        }
        if self.flows.misses.len() >= MAX_MISSES {
            let oldest = self
                .flows
                .misses
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.flows.misses.remove(&k);
            }
        }
        self.flows.misses.insert((key, label), now);
        let Some(addr) = self.nbrs.get(&key).map(|n| n.addr) else {
            return;
        };
        self.fwd.enqueue(
            Transmit {
                iface: key.iface,
                dst: LinkDst::Unicast(addr),
                class: Class::Voice,
                data: FlowPacket::Miss { label }.encode(),
            },
            now,
            &mut self.stats,
        );
    }

    pub(super) fn flow_timers(&mut self, now: Instant) {
        let due: Vec<(u32, u16)> = self
            .flows
            .unacked
            .iter()
            .filter(|(_, u)| u.next <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            let Some(u) = self.flows.unacked.remove(&k) else {
                continue;
            };
            if u.tries > MAX_VOICE_RETX {
                // Sent three times, never acknowledged: the link may be gone.
                if self.config.timers.ack_failure_suspects
                    && self
                        .nbrs
                        .get(&u.via)
                        .is_some_and(|n| n.liveness == Liveness::Alive)
                {
                    self.suspect(now, u.via, crate::link::Suspicion::AckFailure);
                }
                continue;
            }
            if now > u.sent + VOICE_DEADLINE {
                self.stats.voice_dropped_late += 1;
                continue;
            }
            let (src, dst) = (u.src, u.dst);
            // The label may have been forgotten meanwhile (evicted or
            // replaced): the frame still belongs to its flow.
            if self
                .flows
                .labels
                .get(&k.0)
                .is_none_or(|l| (l.src, l.dst) != (src, dst))
            {
                self.flows.install(now, k.0, src, dst);
            }
            self.stats.voice_retransmissions += 1;
            let (hop_limit, payload) = (u.hop_limit, u.payload.clone());
            self.flow_out(now, k.0, k.1, hop_limit, payload, Some(u));
        }
        if now < self.flows.next_prune {
            return;
        }
        self.flows.next_prune = now + ms(1000);
        self.flows
            .labels
            .retain(|_, l| now < l.last_used + LABEL_IDLE);
        self.flows.misses.retain(|_, t| now < *t + MISS_INTERVAL);
        let nbrs = &self.nbrs;
        self.flows.rtt.retain(|k, _| nbrs.get(k).is_some());
    }
}
