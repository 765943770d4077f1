//! Hellos, IHUs, liveness and MPR selection: the link layer of the node.

use std::net::SocketAddr;
use std::time::Duration;

use super::{DownReason, Event, IfaceId, LinkDst, NeighbourInfo, Node};
use crate::identity::NodeId;
use crate::link::{
    INFINITY, LinkKey, Liveness, Neighbour, QualityNeighbour, Suspicion, select_mprs,
    select_mprs_by_quality,
};
use crate::time::{Instant, ms};
use crate::wire::control::{self, Hello, Ihu};
use crate::wire::{Header, PacketType, WireError, flags};

/// A hello asked for "soon" goes out within this window...
const SOON: Duration = Duration::from_millis(40);
/// ...but never closer than this to the previous one on the interface.
const MIN_HELLO_GAP: Duration = Duration::from_millis(100);
/// Multicast hello intervals vary by this fraction either way.
const HELLO_JITTER: f64 = 0.05;
/// A lost-neighbour rumour is ignored for a node heard this recently.
const LOST_RUMOUR_FRESH: Duration = Duration::from_millis(30);
/// Most lost neighbours announced in one hello.
const MAX_LOST: usize = 8;
/// A neighbour heard for less than this gets our neighbour list in every
/// hello.
const YOUNG_LINK: Duration = Duration::from_secs(10);

/// Updates `from..=to` of this neighbour were missed, judging by `seq`, its
/// latest multicast update number (from a hello, or an update itself).
pub(super) fn update_gap(n: &mut Neighbour, seq: u32, is_new: bool) -> Option<(u32, u32)> {
    let last = n.update_seq.replace(seq.max(n.update_seq.unwrap_or(0)));
    match last {
        // A new neighbour gets our full table and sends us its own.
        None if is_new => None,
        None => None,
        Some(l) if seq > l => Some((l + 1, seq)),
        Some(l) if seq < l.saturating_sub(1 << 16) => {
            // It restarted: its counter began again.
            n.update_seq = Some(seq);
            None
        }
        _ => None,
    }
}

impl Node {
    pub(super) fn on_hello(
        &mut self,
        now: Instant,
        key: LinkKey,
        from: SocketAddr,
        hdr: &Header,
        body: &[u8],
    ) -> Result<(), WireError> {
        let hello: Hello = control::decode(body)?;

        let timers = self.config.timers.clone();
        let me = self.id;
        let weight = self.iface_weight(key.iface);
        let Some((n, is_new)) = self.nbrs.touch(key, from, now, &timers) else {
            return Ok(());
        };
        let unicast = hdr.flags & flags::UNICAST != 0;
        let mut gap = None;
        n.base = hdr.flags & flags::BASE != 0;
        if unicast {
            n.fast_interval = (hello.interval_ms > 0).then(|| ms(hello.interval_ms as u64));
        } else {
            n.rx.received(hdr.seq);
            if hello.interval_ms > 0 {
                n.mcast_interval = ms(hello.interval_ms as u64).min(Duration::from_secs(60));
            }
            n.missed_at = now + n.mcast_interval.mul_f64(1.5);
            gap = update_gap(n, hello.update_seq, is_new);
        }
        let mut mpr_changed = false;
        let mut forgot_us = false;
        if let Some(list) = &hello.ihu {
            let mine = list.iter().find(|i| i.id == me);
            // It listed us and no longer does: it declared us dead (a
            // false death on a lossy link) or restarted.
            forgot_us = mine.is_none() && n.txcost != INFINITY;
            n.txcost = mine.map_or(INFINITY, |i| i.rxcost);
            // The IHU rides every Nth hello at the *idle* rate; a neighbour
            // still in its fast start-up hellos will slow down, so never
            // hold for less than the idle rate allows.
            let ihu_interval = n.mcast_interval.max(timers.hello_idle) * timers.ihu_every.max(1);
            n.ihu_expires = now + ihu_interval.mul_f64(timers.ihu_hold_factor);
            let sel = mine.is_some_and(|i| i.mpr);
            let two_hop: Vec<_> = list
                .iter()
                .filter(|i| i.id != me && i.rxcost != INFINITY)
                .map(|i| (i.id, twentieths(i.rxcost)))
                .collect();
            // Relay sets follow link quality only where they are chosen by
            // it: elsewhere a quality that wavers must not reshuffle them.
            let by_quality = timers.flood_protection.quality_relays().is_some();
            let same = if by_quality {
                n.two_hop == two_hop
            } else {
                n.two_hop.len() == two_hop.len()
                    && n.two_hop.iter().zip(&two_hop).all(|(a, b)| a.0 == b.0)
            };
            mpr_changed = !same || n.mpr_selector != sel;
            n.two_hop = two_hop;
            n.mpr_selector = sel;
            if !hello.names.is_empty() {
                n.names = hello.names.clone();
            }
        }
        let probe = hello.probe;
        let addr = n.addr;
        if let Some(d) = hello.dir {
            self.dir.on_peer_digest(now, key.id, d.hash, d.count);
        }
        // A neighbour reports losing a node we also hear: check it now.
        let rumours: Vec<LinkKey> = hello
            .lost
            .iter()
            .map(|id| LinkKey {
                iface: key.iface,
                id: *id,
            })
            .filter(|k| {
                self.nbrs
                    .get(k)
                    .is_some_and(|x| now.saturating_since(x.last_heard) > LOST_RUMOUR_FRESH)
            })
            .collect();
        // Its route count against ours through it: its route to us is not a
        // candidate here, but its route to itself is (and is not in its
        // count), so the two match. Short (see `routes_short`): some of its
        // updates never reached us; ask for its table. A slack of one
        // would leave a single missed destination unreachable until the
        // next periodic dump.
        if let Some(theirs) = hello.routes {
            let ours = self.routes.candidates_via(&key);
            if let Some(n) = self.nbrs.get_mut(&key)
                && n.routes_short(now, theirs, ours)
            {
                n.forget_table();
                n.usable_since = n.usable_since.min(now);
            }
        }
        if mpr_changed {
            self.mpr_dirty = true;
        }
        // Tell it at once that we hear it: otherwise it learns it only
        // from our next scheduled neighbour list, up to six hellos later,
        // and the link stays unusable on both sides until then.
        if forgot_us && !is_new {
            self.hello_soon(now, key.iface);
        }
        if is_new {
            self.push_event(Event::NeighbourUp {
                id: key.id,
                iface: key.iface,
                addr: from,
            });
            self.revocations_to(key, from);
            self.mpr_dirty = true;
            self.hello_soon(now, key.iface);
        }
        if probe {
            self.send_unicast_hello(now, key, addr, false, true);
        }
        for k in rumours {
            self.suspect(now, k, Suspicion::Rumour);
        }
        if let Some((from, to)) = gap {
            self.ask_resend(now, key, from, to);
        }
        let _ = weight;
        self.refresh_cost(now, key);
        Ok(())
    }

    /// Bring the routing cost of a link up to date (see
    /// [`Neighbour::routing_cost`]) and re-run route selection through it.
    pub(super) fn refresh_cost(&mut self, now: Instant, key: LinkKey) {
        let weight = self.iface_weight(key.iface);
        let Some(n) = self.nbrs.get_mut(&key) else {
            return;
        };
        let cost = n.cost(now, weight);
        let old = n.routing_cost;
        let flip = (cost == INFINITY) != (old == INFINITY);
        if !cost_moved(cost, old) {
            return;
        }
        n.routing_cost = cost;
        if flip {
            self.mpr_dirty = true;
            self.names_nbrs_dirty = true;
            n.usable_since = if cost == INFINITY { Instant::MAX } else { now };
            if old == INFINITY {
                // The link just became usable: give the neighbour our table
                // (it asks again if that is lost, see `table_ask_at`), and
                // announce ourselves in a numbered multicast update, which a
                // neighbour that misses it asks for again.
                self.dump_to.insert(key);
                let me = self.id;
                self.mark_dirty(now, me, false);
            }
        }
        let changes = self.routes.set_link_cost(key, cost);
        self.apply_changes(now, changes);
    }

    /// Send a multicast hello on `iface` soon (a new neighbour, a new MPR set).
    pub(super) fn hello_soon(&mut self, now: Instant, iface: IfaceId) {
        let jitter = self.rng.jitter(SOON, 0.5);
        if let Some(i) = self.ifaces.get_mut(&iface) {
            i.ihu_due = true;
            let at = (now + jitter).max(i.last_hello + MIN_HELLO_GAP);
            i.next_hello = i.next_hello.min(at);
        }
    }

    pub(super) fn hello_timers(&mut self, now: Instant) {
        let due: Vec<IfaceId> = self
            .ifaces
            .iter()
            .filter(|(_, i)| i.next_hello <= now)
            .map(|(id, _)| *id)
            .collect();
        for iface in due {
            self.send_multicast_hello(now, iface);
        }
        // Fast unicast hellos to neighbours that send us traffic.
        let Some(fast) = self.config.timers.hello_fast else {
            return;
        };
        let keys: Vec<(LinkKey, SocketAddr, bool)> = self
            .nbrs
            .iter()
            .filter(|n| {
                n.next_fast_hello <= now
                    || (n.in_fast_mode(now) && n.next_fast_hello == Instant::MAX)
            })
            .map(|n| (n.key, n.addr, n.in_fast_mode(now)))
            .collect();
        for (key, addr, active) in keys {
            if let Some(n) = self.nbrs.get_mut(&key) {
                n.next_fast_hello = if active { now + fast } else { Instant::MAX };
            }
            // The last one (interval 0) ends the stream at the receiver.
            self.send_unicast_hello_interval(
                key,
                addr,
                if active { fast } else { Duration::ZERO },
                false,
                false,
            );
        }
    }

    fn send_multicast_hello(&mut self, now: Instant, iface: IfaceId) {
        let timers = &self.config.timers;
        let Some(i) = self.ifaces.get_mut(&iface) else {
            return;
        };
        let interval = if i.hellos_sent < timers.startup_hellos {
            timers.hello_startup
        } else {
            timers.hello_idle
        };
        // A neighbour first heard lately may still wait for our neighbour
        // list to name it before it takes the link as two-way: the list
        // rides every hello for its first seconds (not for ever: a
        // neighbour that never hears us must not cost a list in every
        // hello). With the list only every sixth hello, one lost list
        // left a leaf on a lossy link cut off for eight seconds after
        // boot (seed 2 of the 100-node acceptance mesh).
        let young = self
            .nbrs
            .iter()
            .any(|n| n.key.iface == iface && now < n.first_heard + YOUNG_LINK);
        let with_ihu = i.ihu_due || young || i.hellos_sent % timers.ihu_every.max(1) == 0;
        i.ihu_due = false;
        i.hellos_sent += 1;
        i.mcast_seq = i.mcast_seq.wrapping_add(1);
        i.last_hello = now;
        let seq = i.mcast_seq;
        // ±5 %: enough to keep neighbours apart, and two intervals in a
        // row stay under the idle hold (`hold_factor_idle` 2.1), so one
        // lost hello never makes a neighbour suspect.
        let next = now + self.rng.jitter(interval, HELLO_JITTER);
        if let Some(i) = self.ifaces.get_mut(&iface) {
            i.next_hello = next;
        }
        // The neighbours on this interface first (the receiver reads its
        // link cost from the entry naming it), then those heard on our
        // other interfaces: without them a node whose links are on
        // separate interfaces (a truck with two radios, veth pairs) looks
        // like a dead end, is never chosen as a flood relay, and floods
        // stop at it.
        let ihu = with_ihu.then(|| {
            let mut listed = std::collections::BTreeSet::new();
            let mut out: Vec<Ihu> = Vec::new();
            for here in [true, false] {
                for n in self.nbrs.iter().filter(|n| (n.key.iface == iface) == here) {
                    if out.len() < control::MAX_LIST && listed.insert(n.key.id) {
                        out.push(Ihu {
                            id: n.key.id,
                            rxcost: n.rxcost(),
                            mpr: here && n.mpr,
                        });
                    }
                }
            }
            out
        });
        let ((hash, count), recent) = self.dir.hello_digest(now);
        let dir = (recent || with_ihu).then_some(control::DirDigest { hash, count });
        // The interval announced bounds the wait for our next hello, and
        // start-up hellos announce the idle one: a neighbour that missed
        // the single hello announcing the slow-down would otherwise count
        // a miss every start-up interval of the idle gap and suspect us
        // meanwhile, its cost of the link (and, through its neighbour
        // list, ours) tripling for seconds. In a 1000-node cold start
        // those swings ran across the mesh as metric changes and seqno
        // requests. Lost start-up hellos still count, from the gaps in
        // their sequence numbers.
        let announced = interval.max(self.config.timers.hello_idle);
        let hello = Hello {
            dir,
            interval_ms: announced.as_millis() as u32,
            probe: false,
            probe_reply: false,
            names: if with_ihu {
                self.config.names.clone()
            } else {
                Vec::new()
            },
            ihu,
            update_seq: self.ifaces.get(&iface).map_or(0, |i| i.update_seq),
            routes: with_ihu.then(|| self.routes.iter_selected().count() as u32),
            lost: std::mem::take(&mut self.lost)
                .into_iter()
                .filter(|(i, _)| *i == iface)
                .map(|(_, id)| id)
                .take(MAX_LOST)
                .collect(),
        };
        let fl = if self.config.base_station {
            flags::BASE
        } else {
            0
        };
        self.send_link(
            iface,
            LinkDst::Multicast,
            PacketType::Hello,
            fl,
            seq,
            &control::encode(&hello),
        );
    }

    pub(super) fn send_unicast_hello(
        &mut self,
        now: Instant,
        key: LinkKey,
        addr: SocketAddr,
        probe: bool,
        reply: bool,
    ) {
        let interval = match self.nbrs.get(&key) {
            Some(n) if n.in_fast_mode(now) => {
                self.config.timers.hello_fast.unwrap_or(Duration::ZERO)
            }
            _ => Duration::ZERO,
        };
        self.send_unicast_hello_interval(key, addr, interval, probe, reply);
    }

    fn send_unicast_hello_interval(
        &mut self,
        key: LinkKey,
        addr: SocketAddr,
        interval: Duration,
        probe: bool,
        reply: bool,
    ) {
        let seq = match self.nbrs.get_mut(&key) {
            Some(n) => {
                n.ucast_seq = n.ucast_seq.wrapping_add(1);
                n.ucast_seq
            }
            None => return,
        };
        let hello = Hello {
            interval_ms: interval.as_millis() as u32,
            probe,
            probe_reply: reply,
            ihu: None,
            names: Vec::new(),
            lost: Vec::new(),
            update_seq: 0,
            routes: None,
            dir: None,
        };
        let fl = flags::UNICAST
            | if self.config.base_station {
                flags::BASE
            } else {
                0
            };
        self.send_link(
            key.iface,
            LinkDst::Unicast(addr),
            PacketType::Hello,
            fl,
            seq,
            &control::encode(&hello),
        );
    }

    /// Next time something must happen for this neighbour.
    pub(super) fn neighbour_deadline(&self, n: &Neighbour) -> Instant {
        let timers = &self.config.timers;
        let mut t = n.next_fast_hello.min(n.missed_at);
        if let Some(at) = n.table_ask_at() {
            t = t.min(at);
        }
        if n.resend_want.is_some() {
            t = t.min(n.resend_asked + super::routing::RESEND_ASK_GAP);
        }
        if n.routing_cost != INFINITY && n.ihu_expires > Instant::ZERO {
            t = t.min(n.ihu_expires);
        }
        match n.liveness {
            Liveness::Alive => t.min(n.hold_deadline(timers)),
            Liveness::Suspect {
                last_round, gap, ..
            } => {
                // Data through it since the last round: probe fast (an
                // early wake-up that finds nothing to do is harmless).
                let data = n.sent_data_until > last_round || n.fast_until > last_round;
                t.min(last_round + if data { timers.probe_interval } else { gap })
            }
        }
    }

    pub(super) fn neighbour_timers(&mut self, now: Instant) {
        let timers = self.config.timers.clone();
        let mut dead = Vec::new();
        let mut probes = Vec::new();
        for n in self.nbrs.iter_mut() {
            if now >= n.missed_at {
                // An expected multicast hello did not come: ETX must see it.
                n.rx.missed();
                n.missed_at = now + n.mcast_interval;
            }
            match n.liveness {
                Liveness::Alive => {
                    if now >= n.hold_deadline(&timers) {
                        if timers.probes == 0 {
                            dead.push((n.key, Suspicion::Silence, now, 0));
                        } else {
                            let cause = Suspicion::Silence;
                            let budget = n.probe_budget(timers.probes, now, false);
                            n.liveness = Liveness::Suspect {
                                last_round: now,
                                probes_sent: 1,
                                cause,
                                since: now,
                                gap: n.probe_gap(&timers, now, cause, budget),
                            };
                            probes.push((n.key, n.addr));
                        }
                    }
                }
                Liveness::Suspect {
                    last_round,
                    probes_sent,
                    cause,
                    since,
                    gap,
                } => {
                    // Data through it since the suspicion began: probe fast.
                    let gap = if n.carrying(now) {
                        timers.probe_interval
                    } else {
                        gap
                    };
                    let next = last_round + gap;
                    let reported = matches!(cause, Suspicion::Rumour | Suspicion::Request);
                    let budget = n.probe_budget(timers.probes, now, reported);
                    // A quiet link fallen silent gets its stall grace in
                    // full (see `Neighbour::probe_gap`).
                    let quiet = cause == Suspicion::Silence && !n.carrying(now);
                    let graced = !quiet || now >= since + timers.stall_grace;
                    if now >= next {
                        if probes_sent > budget && graced {
                            dead.push((n.key, cause, n.last_heard, budget));
                        } else {
                            n.liveness = Liveness::Suspect {
                                last_round: now,
                                probes_sent: probes_sent + 1,
                                cause,
                                since,
                                gap: n.probe_gap(&timers, now, cause, budget),
                            };
                            if probes_sent < budget {
                                probes.push((n.key, n.addr));
                            }
                        }
                    }
                }
            }
        }
        for (key, addr) in probes {
            self.send_unicast_hello(now, key, addr, true, false);
        }
        // Only the links whose cost moved enough to matter: this runs after
        // every input, and a lookup per neighbour to find that nothing
        // moved was a measurable share of a large simulation. Refreshing one
        // link does not move another's cost.
        let ifaces = &self.ifaces;
        let moved: Vec<LinkKey> = self
            .nbrs
            .iter()
            .filter(|n| {
                let weight = ifaces.get(&n.key.iface).map_or(256, |i| i.weight);
                cost_moved(n.cost(now, weight), n.routing_cost)
            })
            .map(|n| n.key)
            .collect();
        for key in moved {
            self.refresh_cost(now, key);
        }
        // Unanswered resend requests: ask again.
        let again: Vec<LinkKey> = self
            .nbrs
            .iter()
            .filter(|n| {
                n.resend_want.is_some() && now >= n.resend_asked + super::routing::RESEND_ASK_GAP
            })
            .map(|n| n.key)
            .collect();
        for key in again {
            self.send_resend_request(now, key);
        }
        // Neighbours whose table never arrived: ask for it.
        let ask: Vec<(LinkKey, SocketAddr)> = self
            .nbrs
            .iter()
            .filter(|n| n.table_ask_at().is_some_and(|t| t <= now))
            .map(|n| (n.key, n.addr))
            .collect();
        for (key, addr) in ask {
            let mut req = crate::wire::control::Request::Table;
            if let Some(n) = self.nbrs.get_mut(&key) {
                n.table_asked = now;
                if let Some((parts, missing)) = n.table_missing() {
                    req = crate::wire::control::Request::TableParts { parts, missing };
                }
            }
            let body = control::encode(&req);
            self.send_link(
                key.iface,
                LinkDst::Unicast(addr),
                PacketType::Request,
                0,
                0,
                &body,
            );
        }
        for (key, cause, heard, probes) in dead {
            self.nbrs.remove(&key);
            let why = DownReason {
                cause,
                silent_ms: now.saturating_since(heard).as_millis() as u64,
                probes,
            };
            self.neighbour_gone(now, key, Some(why));
            // Tell the others at once (see `Hello::lost`).
            if self.lost.len() < MAX_LOST * 4 {
                self.lost.push((key.iface, key.id));
            }
            if let Some(i) = self.ifaces.get_mut(&key.iface) {
                i.next_hello = now;
            }
        }
    }

    /// Make a neighbour suspect at once (a hop-by-hop delivery failed, or
    /// another neighbour lost it).
    pub(super) fn suspect(&mut self, now: Instant, key: LinkKey, cause: Suspicion) {
        let fast = self.config.timers.probe_interval;
        let Some(n) = self.nbrs.get_mut(&key) else {
            return;
        };
        n.liveness = match n.liveness {
            Liveness::Alive => Liveness::Suspect {
                last_round: now,
                probes_sent: 1,
                cause,
                since: now,
                gap: fast,
            },
            // Already suspect for a quiet silence, with its probes spread
            // over the stall grace: what this says (a failed delivery, a
            // rumour, a broken route nearby) makes a dead relay likely,
            // so the probes go back to back from now.
            Liveness::Suspect {
                probes_sent,
                since,
                gap,
                ..
            } if gap > fast => Liveness::Suspect {
                last_round: now,
                probes_sent,
                cause,
                since,
                gap: fast,
            },
            Liveness::Suspect { .. } => return,
        };
        let addr = n.addr;
        self.send_unicast_hello(now, key, addr, true, false);
    }

    /// A neighbour is gone (dead, or its interface went down).
    pub(super) fn neighbour_gone(&mut self, now: Instant, key: LinkKey, why: Option<DownReason>) {
        self.stats.neighbour_losses += 1;
        self.names_nbrs_dirty = true;
        self.push_event(Event::NeighbourDown {
            id: key.id,
            iface: key.iface,
            why,
        });
        self.mpr_dirty = true;
        self.dump_to.remove(&key);
        self.parts_to.remove(&key);
        self.hello_soon(now, key.iface);
        let changes = self.routes.link_down(key);
        self.apply_changes(now, changes);
        self.fwd.link_down(now, key, &self.config.timers);
    }

    pub(super) fn recompute_mprs(&mut self, now: Instant) {
        self.mpr_dirty = false;
        let usable: Vec<&Neighbour> = self
            .nbrs
            .iter()
            .filter(|n| n.usable(now, self.iface_weight(n.key.iface)))
            .collect();
        let mprs = match self.config.timers.flood_protection.quality_relays() {
            Some((slack, double_below)) => {
                let n1: Vec<QualityNeighbour> = usable
                    .iter()
                    .map(|n| {
                        let p = f64::from(twentieths(n.txcost)) / 20.0;
                        (n.key.id, p, n.two_hop.as_slice())
                    })
                    .collect();
                select_mprs_by_quality(self.id, &n1, slack, double_below)
            }
            None => {
                let plain: Vec<(NodeId, Vec<NodeId>)> = usable
                    .iter()
                    .map(|n| (n.key.id, n.two_hop.iter().map(|(x, _)| *x).collect()))
                    .collect();
                let refs: Vec<(NodeId, &[NodeId])> = plain
                    .iter()
                    .map(|(id, two)| (*id, two.as_slice()))
                    .collect();
                select_mprs(self.id, &refs)
            }
        };
        let mut changed_ifaces = Vec::new();
        for n in self.nbrs.iter_mut() {
            let m = mprs.binary_search(&n.key.id).is_ok();
            if m != n.mpr {
                n.mpr = m;
                changed_ifaces.push(n.key.iface);
            }
        }
        changed_ifaces.dedup();
        for iface in changed_ifaces {
            self.hello_soon(now, iface);
        }
    }

    /// The neighbour table as tools show it.
    pub fn neighbours(&self, now: Instant) -> Vec<NeighbourInfo> {
        self.nbrs
            .iter()
            .map(|n| {
                let weight = self.iface_weight(n.key.iface);
                let cost = n.cost(now, weight);
                let both = n.rx.ratio() * n.tx_ratio();
                NeighbourInfo {
                    id: n.key.id,
                    iface: n.key.iface,
                    addr: n.addr,
                    names: n.names.clone(),
                    base_station: n.base,
                    cost,
                    etx: if both > 0.0 {
                        1.0 / both
                    } else {
                        f64::INFINITY
                    },
                    rx_ratio: n.rx.ratio(),
                    last_heard: n.last_heard,
                    usable: cost != INFINITY,
                    mpr_selector: n.mpr_selector,
                    mpr: n.mpr,
                    fast: n.in_fast_mode(now),
                }
            })
            .collect()
    }
}

/// A reception cost (256 = perfect) as a delivery probability in
/// twentieths: coarse, so that ETX noise does not reshuffle flood relays.
fn twentieths(cost: u16) -> u8 {
    if cost == INFINITY || cost == 0 {
        return 0;
    }
    ((20.0 * 256.0 / f64::from(cost)).round() as u8).min(20)
}

/// Whether a link's cost moved from `old` to `cost` enough to re-run route
/// selection: in or out of `INFINITY`, or by more than a fifth.
fn cost_moved(cost: u16, old: u16) -> bool {
    (cost == INFINITY) != (old == INFINITY) || cost.abs_diff(old) > old / 5
}
