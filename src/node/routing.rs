//! Route updates, seqno requests and triggered/periodic advertisement.

use std::time::Duration;

use super::{Event, LinkDst, MAX_REQUESTS_SEEN, Node, RouteInfo};
use crate::identity::NodeId;
use crate::link::{INFINITY, LinkKey, Suspicion};
use crate::route::{Change, Selected, seqno_newer};
use crate::time::{Instant, ms};
use crate::wire::control::{self, Request, RouteEntry, Update};
use crate::wire::{PacketType, WireError, flags};

/// Route entries per update packet (about 1100 bytes of CBOR).
const ENTRIES_PER_PACKET: usize = 40;
/// A part asked for again comes with this many routes of each part next
/// to it: a destination learnt or lost since the first dump shifts the
/// cuts, and a route that moved across one would be missed.
const PART_MARGIN: usize = 8;
/// Delay before the second copy of a triggered update.
const REPEAT_DELAY: Duration = Duration::from_millis(120);
/// Seqno requests: how often we retry while starving, and how many times.
/// Retries back off to at most `REQUEST_RETRY_MAX` apart: a request and
/// its answer cross many lossy hops unacknowledged, and after an idle
/// relay died (found out 2-4 s late) a loss or two either way cost a
/// starving region a whole doubled step (1.2 s, 2.4 s) and the 5 s idle
/// repair. `REQUEST_TRIES` still bounds what a vanished destination costs.
const REQUEST_RETRY: Duration = Duration::from_millis(150);
const REQUEST_RETRY_MAX: Duration = Duration::from_millis(600);
const REQUEST_TRIES: u32 = 8;
/// A request copy arriving by another path within this window is a duplicate;
/// a retry (after `REQUEST_RETRY`) is not.
const REQUEST_DEDUP: Duration = Duration::from_millis(100);
/// A starving node that gave up asks again when a neighbour offers a route
/// and this long has passed.
const REQUEST_RESTART: Duration = Duration::from_secs(5);

fn route_info(dest: &NodeId, s: &Selected) -> RouteInfo {
    RouteInfo {
        dest: *dest,
        next_hop: s.via.id,
        iface: s.via.iface,
        metric: s.metric,
        hops: s.hops,
        seqno: s.seqno,
        base_station: s.base,
    }
}

/// Exponential backoff between seqno request retries.
fn request_backoff(tries: u32) -> Duration {
    (REQUEST_RETRY * (1u32 << tries.saturating_sub(1).min(5))).min(REQUEST_RETRY_MAX)
}
/// Neighbours remembered per requested destination, to answer by unicast.
const MAX_ASKERS: usize = 4;
/// A neighbour a seqno request goes through is probed when it has been
/// silent this long (about a quarter of an idle hello interval: a live
/// one answers in milliseconds, a dead one is declared so in tenths of a
/// second).
const REQUEST_PROBE_SILENCE: Duration = Duration::from_millis(500);
/// Hop budget of a seqno request.
const REQUEST_HOPS: u8 = 32;
/// A destination nobody advertises is forgotten after this long.
const FORGET_AFTER: Duration = Duration::from_secs(120);
/// At most one resend request per neighbour in this time (and the time
/// after which an unanswered one is repeated).
pub(super) const RESEND_ASK_GAP: Duration = Duration::from_millis(200);
/// Resend requests per gap before asking for the whole table.
const RESEND_TRIES: u32 = 4;

impl Node {
    pub(super) fn on_update(
        &mut self,
        now: Instant,
        via: LinkKey,
        seq: u32,
        fl: u8,
        body: &[u8],
    ) -> Result<(), WireError> {
        let upd: Update = control::decode(body)?;
        let table = fl & flags::TABLE != 0;
        if table {
            // A part of its table (numbered in `seq`): the table counts as
            // received once every part has come.
            if let Some(n) = self.nbrs.get_mut(&via) {
                n.table_part(now, seq);
                n.resend_want = None;
            }
        } else if seq == 0
            && fl & flags::ANSWER == 0
            && let Some(n) = self.nbrs.get_mut(&via)
        {
            // A unicast update is the answer to a resend (an answer to a
            // seqno request says nothing about resends).
            n.resend_want = None;
        }
        // Multicast updates are numbered (other unicast ones carry 0): a gap
        // means we missed one, and a missed retraction could leave us on a
        // dead route until the next full dump.
        if seq != 0 && !table {
            let gap = self
                .nbrs
                .get_mut(&via)
                .and_then(|n| super::hello::update_gap(n, seq, false))
                .map(|(from, _)| (from, seq - 1));
            // This update itself arrived: only those before it are missing.
            if let Some((from, to)) = gap.filter(|(f, t)| f <= t) {
                self.ask_resend(now, via, from, to);
            }
        }
        let Some(n) = self.nbrs.get(&via) else {
            return Ok(());
        };
        let cost = n.routing_cost;
        let hold = self.config.timers.route_hold();
        let mut changes = Vec::new();
        let mut starving = Vec::new();
        for e in &upd.entries {
            // A neighbour that has not heard of a revocation yet still
            // offers a route to the device: not taken.
            if self.is_revoked(&e.dest) {
                continue;
            }
            if e.metric == INFINITY && self.routes.selected(&e.dest).is_some_and(|s| s.via == via) {
                self.defer_request(now, e.dest);
            }
            let (change, starved) = self.routes.update_starving(now, via, e, cost, hold);
            if let Some(c) = change {
                changes.push(c);
            }
            if e.metric != INFINITY && e.dest != self.id && starved {
                starving.push(e.dest);
            }
        }
        // Destinations evicted for a neighbour's own route: the driver
        // hears that their routes are gone.
        changes.extend(self.routes.take_evicted());
        // An update carrying a seqno someone asked for through us: use it,
        // so that our answer carries it on towards the asker.
        for e in &upd.entries {
            if let Some((want, until)) = self.requested.get(&e.dest).copied()
                && now < until
                && e.metric != INFINITY
                && (e.seqno == want || seqno_newer(e.seqno, want))
                && let Some(c) = self.routes.select_seqno(&e.dest, want)
            {
                changes.push(c);
            }
        }
        self.apply_changes(now, changes);
        // Offered only unfeasible routes: ask the destination for a newer seqno.
        for d in starving {
            self.request_seqno(now, d, true);
        }
        Ok(())
    }

    pub(super) fn on_request(
        &mut self,
        now: Instant,
        via: LinkKey,
        body: &[u8],
    ) -> Result<(), WireError> {
        let req: Request = control::decode(body)?;
        match req {
            Request::Table => {
                self.dump_to.insert(via);
                self.schedule_flush(now, false);
            }
            Request::TableParts { parts, missing } => {
                let valid = (1..=crate::link::MAX_TABLE_PARTS).contains(&usize::from(parts));
                if valid && missing != 0 && self.nbrs.get(&via).is_some() {
                    self.parts_to.insert(via, (parts, missing));
                    self.schedule_flush(now, false);
                }
            }
            Request::Resend { from, to } => self.resend(via, from, to),
            Request::Seqno {
                dest,
                seqno,
                hop_count,
                origin,
            } => {
                if let Some((s, at)) = self.requests_seen.get(&(origin, dest))
                    && !seqno_newer(seqno, *s)
                    && now.saturating_since(*at) < REQUEST_DEDUP
                {
                    return Ok(());
                }
                if self.requests_seen.len() >= MAX_REQUESTS_SEEN {
                    self.requests_seen
                        .retain(|_, (_, at)| now.saturating_since(*at) < ms(2000));
                    if self.requests_seen.len() >= MAX_REQUESTS_SEEN {
                        return Ok(());
                    }
                }
                self.requests_seen.insert((origin, dest), (seqno, now));
                if dest == self.id {
                    if seqno_newer(seqno, self.routes.seqno) {
                        self.routes.seqno = seqno;
                    }
                    self.mark_dirty(now, dest, true);
                    self.answer_seqno_request(now, via, dest);
                    return Ok(());
                }
                // Our next hop asks for a newer seqno: it has no route any
                // more, and its retraction did not reach us.
                if let Some(sel) = self.routes.selected(&dest).copied()
                    && sel.via == via
                {
                    let retract = RouteEntry {
                        dest,
                        seqno: sel.seqno,
                        metric: INFINITY,
                        hops: 0,
                        base: false,
                    };
                    self.defer_request(now, dest);
                    let hold = self.config.timers.route_hold();
                    let changes: Vec<_> = self
                        .routes
                        .update(now, via, &retract, INFINITY, hold)
                        .into_iter()
                        .collect();
                    self.apply_changes(now, changes);
                }
                // The asker itself starves, and its feasibility distance
                // holds seqno - 1. Our route at that seqno may be feasible
                // for it (its candidate from us can be stale: a new seqno
                // travels only along request paths), so tell it at once,
                // instead of leaving it to wait for the destination's
                // answer across many lossy hops.
                if origin == via.id
                    && let Some(sel) = self.routes.selected(&dest)
                    && sel.via != via
                    && sel.seqno == seqno.wrapping_sub(1)
                {
                    self.answer_seqno_request(now, via, dest);
                }
                match self.routes.selected(&dest).copied() {
                    // We hold the seqno asked for: the multicast update
                    // serves every neighbour, and the asker gets it by
                    // unicast as well (RFC 8966 §3.8.1.2), so one lost
                    // packet does not leave it starving for a retry.
                    Some(sel) if sel.seqno == seqno || seqno_newer(sel.seqno, seqno) => {
                        self.mark_dirty(now, dest, true);
                        if sel.via != via {
                            self.answer_seqno_request(now, via, dest);
                        }
                    }
                    Some(sel) if hop_count > 1 && sel.via.id != via.id => {
                        self.note_requested(now, dest, seqno);
                        self.note_asker(dest, via);
                        self.forward_request(now, sel.via, dest, seqno, hop_count - 1, origin);
                    }
                    // Our route goes through the asker (it is about to be
                    // retracted) or we have none: remember the request, and
                    // pass it on as soon as we have a route elsewhere.
                    _ if hop_count > 1 => {
                        self.note_requested(now, dest, seqno);
                        self.note_asker(dest, via);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn forward_request(
        &mut self,
        now: Instant,
        to: LinkKey,
        dest: NodeId,
        seqno: u16,
        hop_count: u8,
        origin: NodeId,
    ) {
        let Some((addr, heard)) = self.nbrs.get(&to).map(|n| (n.addr, n.last_heard)) else {
            return;
        };
        // A request means a route broke nearby, maybe at this very
        // neighbour: one silent since before the break is asked at once
        // whether it lives, rather than found dead at its idle hold
        // seconds later while every request through it is lost.
        if now.saturating_since(heard) > REQUEST_PROBE_SILENCE {
            self.suspect(now, to, Suspicion::Request);
        }
        let fwd = Request::Seqno {
            dest,
            seqno,
            hop_count,
            origin,
        };
        let body = control::encode(&fwd);
        // A request crosses many hops unacknowledged: it goes twice on
        // every link (the copy is dropped as a duplicate on arrival), so a
        // request across ten lossy hops is not mostly lost. Links that
        // looked clean got one copy, but a 16-hello window often reads a
        // link losing 5 % as clean, and single lost copies on such links
        // stalled idle repairs for a retry.
        for _ in 0..2 {
            self.send_link(
                to.iface,
                LinkDst::Unicast(addr),
                PacketType::Request,
                0,
                0,
                &body,
            );
        }
    }

    /// Act on route table changes: events, triggered updates, starvation.
    pub(super) fn apply_changes(&mut self, now: Instant, changes: Vec<Change>) {
        for c in changes {
            if c.route_changed {
                let sel = self.routes.selected(&c.dest).copied();
                self.push_event(Event::RouteChanged {
                    dest: c.dest,
                    next_hop: sel.map(|s| s.via.id),
                    metric: sel.map_or(INFINITY, |s| s.metric),
                    hops: sel.map_or(0, |s| s.hops),
                });
                self.fwd.route_changed();
                if sel.is_some() {
                    self.msg_routes_up.insert(c.dest);
                }
                match sel {
                    None => self.request_seqno(now, c.dest, false),
                    Some(sel) => {
                        // A request we could not pass on: pass it on now.
                        if let Some((want, until)) = self.requested.get(&c.dest).copied()
                            && now < until
                            && seqno_newer(want, sel.seqno)
                        {
                            self.forward_request(now, sel.via, c.dest, want, REQUEST_HOPS, self.id);
                        }
                    }
                }
            }
            // A new seqno is passed on only where someone asked for it
            // (RFC 8966 §3.8.1.2); elsewhere the periodic dump carries it,
            // so a repair costs updates along the request path, not a flood.
            let requested = match (self.requested.get(&c.dest), self.routes.selected(&c.dest)) {
                (Some((want, until)), Some(sel)) => {
                    now < *until && (sel.seqno == *want || seqno_newer(sel.seqno, *want))
                }
                _ => false,
            };
            if requested {
                self.requested.remove(&c.dest);
                // The neighbours that asked through us get it by unicast
                // too: the multicast update is one unacknowledged packet.
                let via = self.routes.selected(&c.dest).map(|s| s.via);
                for key in self.askers.remove(&c.dest).unwrap_or_default() {
                    if Some(key) != via {
                        self.answer_seqno_request(now, key, c.dest);
                    }
                }
            }
            if c.advertise || (c.seqno_up && requested) {
                self.mark_dirty(now, c.dest, c.urgent || requested);
            }
        }
    }

    /// Queue our current route to `dest` for neighbour `to` (see
    /// `Node::answer_to`).
    fn answer_seqno_request(&mut self, now: Instant, to: LinkKey, dest: NodeId) {
        let held: usize = self.answer_to.values().map(|d| d.len()).sum();
        if held >= MAX_REQUESTS_SEEN {
            return;
        }
        self.answer_to.entry(to).or_default().insert(dest);
        self.schedule_flush(now, true);
    }

    /// Remember that a newer seqno of `dest` was asked for through us.
    fn note_requested(&mut self, now: Instant, dest: NodeId, seqno: u16) {
        if self.requested.len() >= MAX_REQUESTS_SEEN && !self.requested.contains_key(&dest) {
            self.expire_requested(now);
            if self.requested.len() >= MAX_REQUESTS_SEEN {
                return;
            }
        }
        self.requested.insert(dest, (seqno, now + ms(2000)));
    }

    /// Remember which neighbour asked for `dest` (noted in `requested`).
    fn note_asker(&mut self, dest: NodeId, via: LinkKey) {
        if !self.requested.contains_key(&dest) {
            return;
        }
        let askers = self.askers.entry(dest).or_default();
        if askers.len() < MAX_ASKERS {
            askers.insert(via);
        }
    }

    fn expire_requested(&mut self, now: Instant) {
        self.requested.retain(|_, (_, until)| *until > now);
        let requested = &self.requested;
        self.askers.retain(|d, _| requested.contains_key(d));
    }

    pub(super) fn mark_dirty(&mut self, now: Instant, dest: NodeId, urgent: bool) {
        self.dirty.insert(dest);
        if urgent {
            self.dirty_urgent.insert(dest);
        }
        self.schedule_flush(now, urgent);
    }

    pub(super) fn schedule_flush(&mut self, now: Instant, urgent: bool) {
        let t = &self.config.timers;
        let delay = if urgent {
            t.urgent_delay
        } else {
            t.triggered_delay
        };
        let at = now + self.rng.jitter(delay, 0.5);
        super::sooner(&mut self.dirty_at, at);
    }

    /// Ask for a newer seqno of `dest` (we lost our route to it).
    /// Our next hop lost its route to `dest` and has asked for a newer
    /// seqno itself: do not ask again right away (a retraction would
    /// otherwise set off a request from every node downstream), but wait
    /// for the answer it will pass on, and ask only if none comes.
    fn defer_request(&mut self, now: Instant, dest: NodeId) {
        let Some(src) = self.routes.source_mut(&dest) else {
            return;
        };
        let want = src.fd.map_or(0, |f| f.0).wrapping_add(1);
        if src.request.is_some_and(|(s, _, _)| s == want) {
            return;
        }
        // Counted as asked one retry interval from now, so that the first
        // request of our own goes out after twice that.
        src.request = Some((want, now + REQUEST_RETRY, 1));
        self.note_requested(now, dest, want);
        let retry = now + request_backoff(2);
        super::sooner(&mut self.request_retry_at, retry);
    }

    /// `offered`: a neighbour just offered an unfeasible route, so the
    /// destination exists; a node that gave up asking starts again.
    fn request_seqno(&mut self, now: Instant, dest: NodeId, offered: bool) {
        let Some(src) = self.routes.source_mut(&dest) else {
            return;
        };
        let want = src.fd.map_or(0, |f| f.0).wrapping_add(1);
        let tries = match src.request {
            Some((s, at, n)) if s == want => {
                let since = now.saturating_since(at);
                if n >= REQUEST_TRIES {
                    if !(offered && since >= REQUEST_RESTART) {
                        return;
                    }
                    1
                } else if since < request_backoff(n) {
                    return;
                } else {
                    n + 1
                }
            }
            _ => 1,
        };
        src.request = Some((want, now, tries));
        let retry = now + request_backoff(tries);
        super::sooner(&mut self.request_retry_at, retry);
        self.note_requested(now, dest, want);
        self.stats.seqno_requests_sent += 1;
        self.requests_seen.insert((self.id, dest), (want, now));
        let body = control::encode(&Request::Seqno {
            dest,
            seqno: want,
            hop_count: REQUEST_HOPS,
            origin: self.id,
        });
        let ifaces: Vec<_> = self.ifaces.keys().copied().collect();
        for iface in ifaces {
            self.send_link(iface, LinkDst::Multicast, PacketType::Request, 0, 0, &body);
        }
    }

    /// What we advertise now for each of `dests`.
    fn current_entries(&self, dests: std::collections::BTreeSet<NodeId>) -> Vec<RouteEntry> {
        dests
            .iter()
            .filter_map(|d| self.routes.entry_for(d))
            .collect()
    }

    pub(super) fn routing_timers(&mut self, now: Instant) {
        if self.dirty_at.is_some_and(|t| t <= now) {
            self.dirty_at = None;
            let dirty = std::mem::take(&mut self.dirty);
            let entries = self.current_entries(dirty);
            self.advertise(None, &entries, 0);
            // Retractions and new seqnos are repeated once: a lost one
            // leaves a neighbour on a dead route, or starving. A lost
            // ordinary update is covered by the other neighbours' updates
            // and by the periodic dump.
            let urgent = std::mem::take(&mut self.dirty_urgent);
            let again: Vec<NodeId> = entries
                .iter()
                .filter(|e| e.metric == INFINITY || urgent.contains(&e.dest))
                .map(|e| e.dest)
                .collect();
            if !again.is_empty() {
                self.repeat.extend(again);
                if self.repeat_at.is_none() {
                    self.repeat_at = Some(now + self.rng.jitter(REPEAT_DELAY, 0.3));
                }
            }
            let targets = std::mem::take(&mut self.dump_to);
            let parts_to = std::mem::take(&mut self.parts_to);
            if !targets.is_empty() || !parts_to.is_empty() {
                let dump = self.routes.full_dump();
                for key in &targets {
                    self.advertise(Some(*key), &dump, flags::TABLE);
                }
                for (key, (parts, missing)) in parts_to {
                    if !targets.contains(&key) {
                        self.send_table_parts(key, &dump, usize::from(parts), missing);
                    }
                }
            }
            for (key, dests) in std::mem::take(&mut self.answer_to) {
                let entries = self.current_entries(dests.clone());
                self.advertise(Some(key), &entries, flags::ANSWER);
                // Once more with the repeat (see `answer_again`).
                let held: usize = self.answer_again.values().map(|d| d.len()).sum();
                if held < MAX_REQUESTS_SEEN {
                    self.answer_again.entry(key).or_default().extend(dests);
                    if self.repeat_at.is_none() {
                        self.repeat_at = Some(now + self.rng.jitter(REPEAT_DELAY, 0.3));
                    }
                }
            }
        }
        if self.repeat_at.is_some_and(|t| t <= now) {
            self.repeat_at = None;
            let repeat = std::mem::take(&mut self.repeat);
            let entries = self.current_entries(repeat);
            self.advertise(None, &entries, 0);
            for (key, dests) in std::mem::take(&mut self.answer_again) {
                let entries = self.current_entries(dests);
                self.advertise(Some(key), &entries, flags::ANSWER);
            }
        }
        if self.next_dump <= now {
            let dump = self.routes.full_dump();
            self.advertise(None, &dump, 0);
            self.next_dump = now + self.rng.jitter(self.config.timers.update_interval, 0.1);
        }
        if self.request_retry_at.is_some_and(|t| t <= now) {
            self.request_retry_at = None;
            let starving: Vec<NodeId> = self
                .routes
                .starving()
                .filter(|(_, s)| s.request.is_some_and(|(_, _, n)| n < REQUEST_TRIES))
                .map(|(d, _)| *d)
                .collect();
            for d in starving {
                self.request_seqno(now, d, false);
            }
            // One timer serves every starving destination: those not due
            // yet (asked more recently, or deferred behind an upstream's
            // request) are woken again at their own time, not forgotten.
            let next = self
                .routes
                .starving()
                .filter_map(|(_, s)| s.request)
                .filter(|(_, _, n)| *n < REQUEST_TRIES)
                .map(|(_, at, n)| at + request_backoff(n))
                .min();
            if let Some(t) = next {
                super::sooner(&mut self.request_retry_at, t.max(now + ms(1)));
            }
        }
        if self.next_housekeeping <= now {
            self.next_housekeeping = now + ms(1000);
            let changes = self.routes.expire(now);
            self.apply_changes(now, changes);
            self.routes.forget_unreachable(now, FORGET_AFTER);
            self.requests_seen
                .retain(|_, (_, at)| now.saturating_since(*at) < ms(5000));
            self.expire_requested(now);
            self.secure_housekeeping();
            self.revoke_housekeeping(now);
        }
    }

    /// Send `entries` to one neighbour (unicast, with flags `fl`: `TABLE`,
    /// `ANSWER` or none) or to all (multicast on every interface), and
    /// record them as advertised.
    fn advertise(&mut self, to: Option<LinkKey>, entries: &[RouteEntry], fl: u8) {
        if entries.is_empty() {
            return;
        }
        for e in entries {
            self.routes.advertised(e);
        }
        let parts = entries.len().div_ceil(ENTRIES_PER_PACKET);
        for (i, chunk) in entries.chunks(ENTRIES_PER_PACKET).enumerate() {
            let body = control::encode(&Update {
                entries: chunk.to_vec(),
            });
            // A table's parts are numbered in the header's sequence field
            // (unused by unicast updates), so the receiver knows when one
            // was lost.
            let tag = if fl & flags::TABLE != 0 {
                crate::link::table_tag(i, parts)
            } else {
                0
            };
            match to {
                Some(key) => self.send_update_to(key, fl, tag, &body),
                None => {
                    let ifaces: Vec<_> = self.ifaces.keys().copied().collect();
                    let dests: Vec<NodeId> = chunk.iter().map(|e| e.dest).collect();
                    for iface in ifaces {
                        let Some(i) = self.ifaces.get_mut(&iface) else {
                            continue;
                        };
                        i.update_seq = i.update_seq.wrapping_add(1).max(1);
                        let seq = i.update_seq;
                        if i.update_log.len() >= super::UPDATE_LOG {
                            i.update_log.pop_front();
                        }
                        i.update_log.push_back((seq, dests.clone()));
                        self.send_link(
                            iface,
                            LinkDst::Multicast,
                            PacketType::Update,
                            0,
                            seq,
                            &body,
                        );
                    }
                }
            }
        }
    }

    /// One encoded update to neighbour `key` by unicast.
    fn send_update_to(&mut self, key: LinkKey, fl: u8, tag: u32, body: &[u8]) {
        if let Some(addr) = self.nbrs.get(&key).map(|n| n.addr) {
            self.send_link(
                key.iface,
                LinkDst::Unicast(addr),
                PacketType::Update,
                fl,
                tag,
                body,
            );
        }
    }

    /// Send neighbour `key` the parts `missing` (a bit per part from part 0)
    /// of our table `dump`, cut into `parts` parts the way it counted them.
    /// The table may have changed since: each part comes with
    /// [`PART_MARGIN`] routes of its neighbours, the last part carries the
    /// rest, and a route that moved further is caught by the route count
    /// in hellos.
    fn send_table_parts(&mut self, key: LinkKey, dump: &[RouteEntry], parts: usize, missing: u64) {
        if self.nbrs.get(&key).is_none() {
            return;
        }
        for i in (0..parts).filter(|i| missing & (1u64 << i) != 0) {
            let lo = (i * ENTRIES_PER_PACKET)
                .saturating_sub(PART_MARGIN)
                .min(dump.len());
            let hi = if i + 1 == parts {
                dump.len()
            } else {
                ((i + 1) * ENTRIES_PER_PACKET + PART_MARGIN).min(dump.len())
            };
            let chunk = &dump[lo..hi];
            for e in chunk {
                self.routes.advertised(e);
            }
            // An empty part still goes: it tells the neighbour the part came.
            let pieces: Vec<&[RouteEntry]> = if chunk.is_empty() {
                vec![chunk]
            } else {
                chunk.chunks(ENTRIES_PER_PACKET).collect()
            };
            for piece in pieces {
                let body = control::encode(&Update {
                    entries: piece.to_vec(),
                });
                self.send_update_to(key, flags::TABLE, crate::link::table_tag(i, parts), &body);
            }
        }
    }

    /// Ask neighbour `key` to resend multicast updates `from..=to`.
    pub(super) fn ask_resend(&mut self, now: Instant, key: LinkKey, from: u32, to: u32) {
        let Some(n) = self.nbrs.get_mut(&key) else {
            return;
        };
        // Remember the whole gap until an answer comes: the request or the
        // answer may be lost too, and later hellos no longer show the gap.
        let want = match n.resend_want {
            Some((f, t, _)) => (f.min(from), t.max(to)),
            None => (from, to),
        };
        n.resend_want = Some((want.0, want.1, 0));
        if now.saturating_since(n.resend_asked) >= RESEND_ASK_GAP {
            self.send_resend_request(now, key);
        }
    }

    /// (Re)send the pending resend request to `key`.
    pub(super) fn send_resend_request(&mut self, now: Instant, key: LinkKey) {
        let Some(n) = self.nbrs.get_mut(&key) else {
            return;
        };
        let Some((from, to, tries)) = n.resend_want else {
            return;
        };
        if tries >= RESEND_TRIES {
            n.resend_want = None;
            // Give up on the pieces: ask for the whole table instead.
            n.forget_table();
            return;
        }
        n.resend_want = Some((from, to, tries + 1));
        n.resend_asked = now;
        let addr = n.addr;
        let body = control::encode(&Request::Resend { from, to });
        self.send_link(
            key.iface,
            LinkDst::Unicast(addr),
            PacketType::Request,
            0,
            0,
            &body,
        );
    }

    /// A neighbour missed updates `from..=to`: send it the current routes
    /// for the destinations they carried, or our full table if they are
    /// older than the log.
    fn resend(&mut self, to_key: LinkKey, from: u32, to: u32) {
        let Some(i) = self.ifaces.get(&to_key.iface) else {
            return;
        };
        let span = to.wrapping_sub(from);
        let in_log = span < super::UPDATE_LOG as u32
            && i.update_log.front().is_some_and(|(s, _)| *s <= from)
            && to <= i.update_seq;
        if !in_log {
            self.dump_to.insert(to_key);
            return;
        }
        let mut dests: Vec<NodeId> = i
            .update_log
            .iter()
            .filter(|(s, _)| *s >= from && *s <= to)
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        dests.sort();
        dests.dedup();
        let entries: Vec<RouteEntry> = dests
            .iter()
            .filter_map(|d| self.routes.entry_for(d))
            .collect();
        self.advertise(Some(to_key), &entries, 0);
    }

    /// Selected routes, as tools show them.
    pub fn routes(&self) -> Vec<RouteInfo> {
        self.routes
            .iter_selected()
            .map(|(d, s)| route_info(d, s))
            .collect()
    }

    /// Moves on whenever a selected next hop changes: equal values mean
    /// `next_hops` gives the same as before.
    pub fn next_hop_epoch(&self) -> u64 {
        self.routes.next_hop_epoch()
    }

    /// (destination, next hop) of every selected route, in destination
    /// order: what the simulator's loop check reads of every node each
    /// check, without building a `RouteInfo` list.
    pub fn next_hops(&self) -> impl Iterator<Item = (&NodeId, &NodeId)> {
        self.routes.iter_selected().map(|(d, s)| (d, &s.via.id))
    }

    pub fn route_to(&self, dest: &NodeId) -> Option<RouteInfo> {
        self.routes.selected(dest).map(|s| route_info(dest, s))
    }

    /// A neighbour's link state, for debugging tools.
    pub fn debug_neighbour(&self, id: &NodeId) -> String {
        self.nbrs
            .iter()
            .filter(|n| n.key.id == *id)
            .map(|n| {
                format!(
                    "cost {} table_received {} resend_want {:?} update_seq {:?} usable_since {:?}",
                    n.routing_cost, n.table_received, n.resend_want, n.update_seq, n.usable_since
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The routing table's view of `dest`, for debugging tools.
    pub fn debug_route(&self, dest: &NodeId, name: &dyn Fn(&NodeId) -> String) -> String {
        let Some(src) = self.routes.source(dest) else {
            return "no entry".into();
        };
        let cands: Vec<String> = src
            .cands
            .iter()
            .map(|c| {
                format!(
                    "{}: seq {} adv {} link {} hops {}",
                    name(&c.via.id),
                    c.seqno,
                    c.adv_metric,
                    c.link_cost,
                    c.hops
                )
            })
            .collect();
        format!(
            "fd {:?} selected {:?} request {:?} cands [{}]",
            src.fd,
            src.selected.map(|s| (name(&s.via.id), s.seqno, s.metric)),
            src.request.map(|(s, _, n)| (s, n)),
            cands.join("; ")
        )
    }

    /// Next hop towards `dest`, if any (cheap; the simulator's loop checker uses it).
    pub fn next_hop(&self, dest: &NodeId) -> Option<NodeId> {
        self.routes.selected(dest).map(|s| s.via.id)
    }

    /// Our best route to the nearest base station.
    pub fn nearest_base(&self) -> Option<RouteInfo> {
        self.routes()
            .into_iter()
            .filter(|r| r.base_station)
            .min_by_key(|r| (r.metric, r.dest))
    }
}
