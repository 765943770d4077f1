//! Babel-style distance-vector routing over NodeIds (ideas from RFC 8966).
//!
//! Every node originates a route to itself with its own sequence number.
//! For each destination ("source" in Babel terms) the table keeps one
//! candidate per neighbour link, and selects the cheapest *feasible* one:
//! an advertisement `(seqno, metric)` is feasible when its seqno is newer
//! than our feasibility distance, or equal with a strictly smaller metric.
//! That condition keeps the routing graph loop-free at every instant, even
//! while updates are lost or in flight. A node left with only unfeasible
//! candidates (starvation) asks the destination for a newer seqno.
//!
//! The table never touches time except through the `now` arguments, and it
//! is bounded: at most [`MAX_SOURCES`] destinations. At the bound a new
//! destination is refused, unless a neighbour advertises itself: that
//! route takes the place of the youngest destination not heard directly,
//! so a device forging thousands of node ids can neither grow the table
//! nor push out the routes that were there first (see [`RouteTable`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::identity::NodeId;
use crate::link::{INFINITY, LinkKey};
use crate::time::Instant;
use crate::wire::control::RouteEntry;

/// Most destinations kept. Past it, updates for new destinations are
/// ignored, except a neighbour's route to itself (see [`RouteTable`]).
pub const MAX_SOURCES: usize = 4096;

/// `a` is newer than `b` in 16-bit sequence space (RFC 8966 §3.2.1).
pub fn seqno_newer(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000
}

/// Whether candidate `c` may be selected against feasibility distance `fd`
/// (RFC 8966 §3.5.1): a newer seqno, or the same with a strictly smaller
/// advertised metric. Every route selection goes through it.
fn feasible(fd: Option<(u16, u16)>, c: &Candidate) -> bool {
    match fd {
        None => true,
        Some((s, m)) => seqno_newer(c.seqno, s) || (c.seqno == s && c.adv_metric < m),
    }
}

/// One neighbour's advertisement for a destination.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub via: LinkKey,
    pub seqno: u16,
    /// Metric advertised by the neighbour.
    pub adv_metric: u16,
    /// Hop count from us (neighbour's + 1).
    pub hops: u8,
    pub base: bool,
    pub expires: Instant,
    /// Current cost of the link to the neighbour (kept in step by the node).
    pub link_cost: u16,
}

#[derive(Debug, Clone)]
pub struct Source {
    /// Feasibility distance: the best (seqno, metric) we ever advertised.
    pub fd: Option<(u16, u16)>,
    pub cands: Vec<Candidate>,
    pub selected: Option<Selected>,
    /// Starvation bookkeeping: last seqno request we originated.
    pub request: Option<(u16, Instant, u32)>,
    /// `selected` is what [`reselect`] makes of the entry as it stands
    /// (selection run since the last change to anything it reads), so a
    /// repeated advertisement that changes nothing but an expiry time can
    /// skip it: selection is idempotent, and most entries of a periodic
    /// dump repeat what the table already holds.
    settled: bool,
    /// When the destination entered the table: at the bound, the youngest
    /// indirect one gives way to a neighbour's own route.
    pub since: Instant,
}

impl Default for Source {
    fn default() -> Self {
        Source {
            fd: None,
            cands: Vec::new(),
            selected: None,
            request: None,
            settled: false,
            since: Instant::ZERO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub via: LinkKey,
    pub seqno: u16,
    pub metric: u16,
    pub hops: u8,
    pub base: bool,
}

/// What a table change asks of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub dest: NodeId,
    /// Send the update almost at once (lost route, new seqno).
    pub urgent: bool,
    /// The next hop or reachability changed (an event for the driver).
    pub route_changed: bool,
    /// Neighbours must hear of it (triggered update).
    pub advertise: bool,
    /// The selected route's seqno increased.
    pub seqno_up: bool,
}

/// The routing table of one node.
///
/// Bounded at [`MAX_SOURCES`] destinations against a device that forges
/// node ids (open mode lets anyone advertise anything). At the bound:
/// - an advertisement of a new destination is refused (counted in
///   [`RouteTable::refused`]): the destinations there first keep their
///   place, and a forger fills only the room that is left;
/// - except a neighbour advertising its own id (heard directly): it
///   replaces the youngest destination that no neighbour offers as
///   itself, so a member that walks up to a full node still gets its route.
///   Forged ids came after the members they crowd, so they go first.
#[derive(Debug)]
pub struct RouteTable {
    me: NodeId,
    pub seqno: u16,
    pub base: bool,
    sources: BTreeMap<NodeId, Source>,
    /// No candidate expires before this: `expire` skips its scan until then.
    next_expiry: Instant,
    /// Candidates held per neighbour link, kept in step with `sources`, so a
    /// node can tell cheaply that it misses some of a neighbour's routes.
    per_link: BTreeMap<LinkKey, u32>,
    /// `forget_unreachable` scans the table no sooner than this.
    next_forget: Instant,
    /// Counts changes of a selected next hop, so an observer can tell
    /// cheaply that none changed.
    next_hop_epoch: u64,
    /// New destinations refused at the bound, and destinations evicted
    /// for a neighbour's own route.
    refused: u64,
    evicted: u64,
    /// Destinations evicted with a route selected, until the node takes
    /// them ([`Self::take_evicted`]) to tell its driver the route is gone.
    evicted_routes: Vec<NodeId>,
}

impl RouteTable {
    pub fn new(me: NodeId, seqno: u16, base: bool) -> Self {
        RouteTable {
            me,
            seqno,
            base,
            sources: BTreeMap::new(),
            next_expiry: Instant::MAX,
            per_link: BTreeMap::new(),
            next_forget: Instant::ZERO,
            next_hop_epoch: 0,
            refused: 0,
            evicted: 0,
            evicted_routes: Vec::new(),
        }
    }

    /// The changes for destinations evicted (with a route selected) since
    /// the last call: their routes are gone.
    pub fn take_evicted(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.evicted_routes)
            .into_iter()
            .map(|dest| Change {
                dest,
                urgent: false,
                route_changed: true,
                advertise: false,
                seqno_up: false,
            })
            .collect()
    }

    /// New destinations refused because the table was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Destinations evicted to make room for a neighbour's own route.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// At the bound, room for neighbour `via`'s route to itself: evict the
    /// youngest destination that is not a neighbour heard directly (the
    /// latest to arrive; ties to the highest id, so runs repeat). A scan of
    /// the table, but only for a new neighbour at a full table: at most one
    /// per neighbour that appears.
    fn evict_for_direct(&mut self) -> bool {
        let victim = self
            .sources
            .iter()
            .filter(|(d, s)| !s.cands.iter().any(|c| c.via.id == **d))
            .max_by_key(|(d, s)| (s.since, **d))
            .map(|(d, _)| *d);
        let Some(d) = victim else {
            return false;
        };
        if let Some(src) = self.sources.remove(&d) {
            for c in &src.cands {
                Self::count(&mut self.per_link, c.via, -1);
            }
            if src.selected.is_some() {
                self.next_hop_epoch += 1;
                // Bounded: the node drains it after every update.
                if self.evicted_routes.len() < MAX_SOURCES {
                    self.evicted_routes.push(d);
                }
            }
        }
        self.evicted += 1;
        true
    }

    pub fn selected(&self, dest: &NodeId) -> Option<&Selected> {
        self.sources.get(dest)?.selected.as_ref()
    }

    pub fn iter_selected(&self) -> impl Iterator<Item = (&NodeId, &Selected)> {
        self.sources
            .iter()
            .filter_map(|(d, s)| s.selected.as_ref().map(|sel| (d, sel)))
    }

    pub fn source(&self, dest: &NodeId) -> Option<&Source> {
        self.sources.get(dest)
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Moves on whenever a selected next hop changes (or a route comes or
    /// goes): equal values mean the same next hops.
    pub fn next_hop_epoch(&self) -> u64 {
        self.next_hop_epoch
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Our own route, as advertised.
    pub fn self_entry(&self) -> RouteEntry {
        RouteEntry {
            dest: self.me,
            seqno: self.seqno,
            metric: 0,
            hops: 0,
            base: self.base,
        }
    }

    /// What we advertise for `dest` now: the selected route, or a
    /// retraction if we have none.
    pub fn entry_for(&self, dest: &NodeId) -> Option<RouteEntry> {
        if *dest == self.me {
            return Some(self.self_entry());
        }
        Some(Self::entry_of(dest, self.sources.get(dest)?))
    }

    /// What we advertise for `dest`, whose table entry is `src`.
    fn entry_of(dest: &NodeId, src: &Source) -> RouteEntry {
        match &src.selected {
            Some(sel) => RouteEntry {
                dest: *dest,
                seqno: sel.seqno,
                metric: sel.metric,
                hops: sel.hops,
                base: sel.base,
            },
            None => RouteEntry {
                dest: *dest,
                seqno: src.fd.map_or(0, |f| f.0),
                metric: INFINITY,
                hops: 0,
                base: false,
            },
        }
    }

    /// Every route we advertise in a full dump (self first), and a
    /// retraction for each destination we lost: a neighbour that missed our
    /// retraction must not keep routing through us.
    pub fn full_dump(&self) -> Vec<RouteEntry> {
        let mut v = vec![self.self_entry()];
        // Straight from the entries: a lookup per destination was wasted.
        v.extend(self.sources.iter().map(|(d, src)| {
            if *d == self.me {
                self.self_entry()
            } else {
                Self::entry_of(d, src)
            }
        }));
        v
    }

    /// Record that `entry` was advertised: update the feasibility distance.
    pub fn advertised(&mut self, entry: &RouteEntry) {
        if entry.dest == self.me || entry.metric == INFINITY {
            return;
        }
        if let Some(src) = self.sources.get_mut(&entry.dest) {
            let fd = Some(match src.fd {
                None => (entry.seqno, entry.metric),
                Some((s, _)) if seqno_newer(entry.seqno, s) => (entry.seqno, entry.metric),
                Some((s, m)) if s == entry.seqno => (s, m.min(entry.metric)),
                Some(fd) => fd,
            });
            if fd != src.fd {
                src.fd = fd;
                src.settled = false;
            }
        }
    }

    /// An update entry from neighbour `via`, whose link currently costs
    /// `link_cost`. Returns the change to act on, if any.
    pub fn update(
        &mut self,
        now: Instant,
        via: LinkKey,
        e: &RouteEntry,
        link_cost: u16,
        hold: Duration,
    ) -> Option<Change> {
        self.update_starving(now, via, e, link_cost, hold).0
    }

    /// [`Self::update`], and whether `e.dest` is left starving afterwards
    /// (held, no route selected, a feasibility distance; never for our own
    /// id). The node needs both for every entry of every update, and one
    /// table lookup serves both: lookups were a large share of a 1000-node
    /// simulation.
    pub fn update_starving(
        &mut self,
        now: Instant,
        via: LinkKey,
        e: &RouteEntry,
        link_cost: u16,
        hold: Duration,
    ) -> (Option<Change>, bool) {
        let starving = |s: &Source| s.selected.is_none() && s.fd.is_some();
        if e.dest == self.me {
            // Someone remembers a newer seqno of ours (we restarted): jump past it.
            if seqno_newer(e.seqno, self.seqno) {
                self.seqno = e.seqno.wrapping_add(1);
                let change = Some(Change {
                    dest: self.me,
                    urgent: true,
                    route_changed: false,
                    advertise: true,
                    seqno_up: false,
                });
                return (change, false);
            }
            return (None, false);
        }
        if e.metric != INFINITY
            && self.sources.len() >= MAX_SOURCES
            && !self.sources.contains_key(&e.dest)
        {
            // Heard directly: the neighbour advertises itself.
            let direct = e.dest == via.id;
            if !direct || !self.evict_for_direct() {
                self.refused += 1;
                return (None, false);
            }
        }
        let src = match self.sources.entry(e.dest) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                if e.metric == INFINITY {
                    return (None, false);
                }
                v.insert(Source {
                    since: now,
                    ..Source::default()
                })
            }
        };
        let pos = src.cands.iter().position(|c| c.via == via);
        // An unfeasible update from the next hop we use, for the same seqno:
        // keep the route as it was (RFC 8966 §3.5.4 allows ignoring it). The
        // feasibility distances along the path still decrease strictly, so
        // no loop can form, and a metric that wobbled up on a lossy link
        // does not cut the route and everything downstream of it.
        if e.metric != INFINITY
            && let (Some(p), Some(sel), Some((fs, fm))) = (pos, src.selected, src.fd)
            && sel.via == via
            && e.seqno == fs
            && e.seqno == src.cands[p].seqno
            && e.metric >= fm
        {
            src.cands[p].expires = now + hold;
            if src.cands[p].link_cost != link_cost {
                src.cands[p].link_cost = link_cost;
                src.settled = false;
            }
            self.next_expiry = self.next_expiry.min(now + hold);
            // No seqno request here: a request from a node tells its
            // neighbours it has no route (see the node's request handling),
            // and this node still has one. The metric is refreshed when the
            // destination's seqno next moves.
            return (None, starving(src));
        }
        if e.metric == INFINITY {
            match pos {
                Some(p) => {
                    src.cands.swap_remove(p);
                    Self::count(&mut self.per_link, via, -1);
                }
                None => return (None, starving(src)),
            }
        } else {
            let cand = Candidate {
                via,
                seqno: e.seqno,
                adv_metric: e.metric,
                hops: e.hops.saturating_add(1),
                base: e.base,
                expires: now + hold,
                link_cost,
            };
            self.next_expiry = self.next_expiry.min(cand.expires);
            match pos {
                // The same advertisement again: only its expiry moves, and
                // a settled selection would come out as it is.
                Some(p) if src.settled && same_offer(&src.cands[p], &cand) => {
                    src.cands[p].expires = cand.expires;
                    return (None, starving(src));
                }
                Some(p) => src.cands[p] = cand,
                None => {
                    src.cands.push(cand);
                    Self::count(&mut self.per_link, via, 1);
                }
            }
        }
        let change = reselect(&e.dest, src, &mut self.next_hop_epoch);
        (change, starving(src))
    }

    /// The cost of link `via` changed: recompute the routes it can change.
    /// A link that got dearer changes only the routes selected through it
    /// (another route cannot lose to it now if it did not before); one that
    /// got cheaper may win any destination it offers.
    pub fn set_link_cost(&mut self, via: LinkKey, cost: u16) -> Vec<Change> {
        let mut touched = Vec::new();
        for (dest, src) in self.sources.iter_mut() {
            let selected_here = src.selected.is_some_and(|s| s.via == via);
            for c in src.cands.iter_mut().filter(|c| c.via == via) {
                if c.link_cost != cost {
                    if cost < c.link_cost || selected_here {
                        touched.push(*dest);
                    }
                    c.link_cost = cost;
                    src.settled = false;
                }
            }
        }
        touched.iter().filter_map(|d| self.reselect(d)).collect()
    }

    fn count(per_link: &mut BTreeMap<LinkKey, u32>, via: LinkKey, d: i32) {
        let c = per_link.entry(via).or_default();
        *c = c.saturating_add_signed(d);
        if *c == 0 {
            per_link.remove(&via);
        }
    }

    /// Routes we hold from neighbour `via`.
    pub fn candidates_via(&self, via: &LinkKey) -> u32 {
        self.per_link.get(via).copied().unwrap_or(0)
    }

    /// Link `via` is gone: drop every candidate through it.
    pub fn link_down(&mut self, via: LinkKey) -> Vec<Change> {
        self.per_link.remove(&via);
        let mut touched = Vec::new();
        for (dest, src) in self.sources.iter_mut() {
            let before = src.cands.len();
            src.cands.retain(|c| c.via != via);
            if src.cands.len() != before {
                touched.push(*dest);
            }
        }
        touched.iter().filter_map(|d| self.reselect(d)).collect()
    }

    /// Drop every candidate route to `dest` (a revoked device): the change
    /// withdraws it. Updates that offer it again must be filtered by the
    /// caller.
    pub fn drop_dest(&mut self, dest: &NodeId) -> Option<Change> {
        let src = self.sources.get_mut(dest)?;
        for c in src.cands.drain(..) {
            Self::count(&mut self.per_link, c.via, -1);
        }
        src.settled = false;
        self.reselect(dest)
    }

    /// Drop candidates not refreshed in time, and forget destinations with
    /// neither candidates nor a recent request.
    pub fn expire(&mut self, now: Instant) -> Vec<Change> {
        if now < self.next_expiry {
            return Vec::new();
        }
        let mut touched = Vec::new();
        let mut next = Instant::MAX;
        for (dest, src) in self.sources.iter_mut() {
            let before = src.cands.len();
            for c in src.cands.iter().filter(|c| c.expires <= now) {
                Self::count(&mut self.per_link, c.via, -1);
            }
            src.cands.retain(|c| c.expires > now);
            if src.cands.len() != before {
                touched.push(*dest);
            }
            next = src.cands.iter().map(|c| c.expires).fold(next, Instant::min);
        }
        self.next_expiry = next;
        let changes: Vec<Change> = touched.iter().filter_map(|d| self.reselect(d)).collect();
        // Sources with nothing left are kept a while for their feasibility
        // distance; the node calls `forget` for them after the hold time.
        changes
    }

    /// Forget a destination entirely (nothing heard of it for long). The
    /// scan runs at most once per twelfth of `keep`: it visits every
    /// destination, and a destination kept up to 10 s past its time
    /// (of 120 s) costs nothing, while scanning a 1000-route table every
    /// second was 4 % of a 1000-node simulation.
    pub fn forget_unreachable(&mut self, now: Instant, keep: Duration) {
        if now < self.next_forget {
            return;
        }
        self.next_forget = now + keep / 12;
        self.sources.retain(|_, s| {
            !s.cands.is_empty()
                || s.selected.is_some()
                || s.request
                    .is_some_and(|(_, at, _)| now.saturating_since(at) < keep)
        });
    }

    /// Whether `dest` has no selected route but candidates that are
    /// unfeasible (or had a route before): it needs a newer seqno.
    pub fn starving(&self) -> impl Iterator<Item = (&NodeId, &Source)> {
        self.sources
            .iter()
            .filter(|(_, s)| s.selected.is_none() && s.fd.is_some())
    }

    pub fn source_mut(&mut self, dest: &NodeId) -> Option<&mut Source> {
        let src = self.sources.get_mut(dest)?;
        // The caller may change what selection reads (the request).
        src.settled = false;
        Some(src)
    }

    /// Someone asked us for seqno `want` of `dest`: switch to the cheapest
    /// usable *feasible* candidate that carries it, even if an older-seqno
    /// route is cheaper, so the answer can travel on.
    ///
    /// The feasibility test is not implied by the seqno: the asker knows
    /// only its own feasibility distance, and ours may already be at `want`
    /// (a request for seqno 10 reaching a node that advertised seqno 10
    /// before it starved). A candidate carrying seqno 10 with a metric no
    /// better than ours may then be a route through us, and taking it would
    /// close a loop: it is left to the normal selection, and the node keeps
    /// asking for a newer seqno.
    pub fn select_seqno(&mut self, dest: &NodeId, want: u16) -> Option<Change> {
        let src = self.sources.get_mut(dest)?;
        if src
            .selected
            .is_some_and(|s| s.seqno == want || seqno_newer(s.seqno, want))
        {
            return None;
        }
        let prev = src.selected;
        let fd = src.fd;
        let best = src
            .cands
            .iter()
            .filter(|c| {
                c.link_cost != INFINITY
                    && (c.seqno == want || seqno_newer(c.seqno, want))
                    && feasible(fd, c)
            })
            .map(|c| Selected {
                via: c.via,
                seqno: c.seqno,
                metric: (c.adv_metric as u32 + c.link_cost as u32).min(INFINITY as u32 - 1) as u16,
                hops: c.hops,
                base: c.base,
            })
            .min_by_key(|s| (s.metric, s.via))?;
        if prev.map(|p| p.via) != Some(best.via) {
            self.next_hop_epoch += 1;
        }
        src.selected = Some(best);
        src.request = None;
        src.settled = false;
        Some(Change {
            dest: *dest,
            urgent: true,
            route_changed: prev.map(|p| p.via) != Some(best.via),
            advertise: true,
            seqno_up: true,
        })
    }

    /// Re-run route selection for `dest` and report what changed.
    fn reselect(&mut self, dest: &NodeId) -> Option<Change> {
        let src = self.sources.get_mut(dest)?;
        reselect(dest, src, &mut self.next_hop_epoch)
    }
}

/// Whether `new` offers exactly what `old` did (only the expiry may differ).
fn same_offer(old: &Candidate, new: &Candidate) -> bool {
    old.seqno == new.seqno
        && old.adv_metric == new.adv_metric
        && old.hops == new.hops
        && old.base == new.base
        && old.link_cost == new.link_cost
}

/// Re-run route selection for `dest`, whose entry is `src`, and report what
/// changed; `next_hop_epoch` moves on if the next hop does. Apart from the
/// table so that `update` reuses the entry it already looked up.
fn reselect(dest: &NodeId, src: &mut Source, next_hop_epoch: &mut u64) -> Option<Change> {
    let prev = src.selected;
    let fd = src.fd;
    // A selected seqno newer than our feasibility distance has not been
    // advertised yet: the next flush does it, and raises the distance
    // past every older seqno. Until then, do not fall back to an older
    // seqno because it is cheaper: the flush would advertise the old
    // one, and the new seqno someone asked for would stop here (a
    // request answered at the destination but never back at the asker).
    let floor = prev
        .map(|p| p.seqno)
        .filter(|s| fd.is_none_or(|(f, _)| seqno_newer(*s, f)));
    let fresh = |c: &Candidate| floor.is_none_or(|s| !seqno_newer(s, c.seqno));
    let usable = |c: &&Candidate| c.link_cost != INFINITY && feasible(fd, c);
    let only_fresh = src.cands.iter().filter(usable).any(fresh);
    let mut best: Option<Selected> = None;
    let mut current: Option<Selected> = None;
    for c in src
        .cands
        .iter()
        .filter(usable)
        .filter(|c| !only_fresh || fresh(c))
    {
        let metric = (c.adv_metric as u32 + c.link_cost as u32).min(INFINITY as u32 - 1) as u16;
        let s = Selected {
            via: c.via,
            seqno: c.seqno,
            metric,
            hops: c.hops,
            base: c.base,
        };
        if prev.is_some_and(|p| p.via == c.via) {
            current = Some(s);
        }
        best = Some(match best {
            Some(b) if (b.metric, b.via) <= (s.metric, s.via) => b,
            _ => s,
        });
    }
    // Hysteresis: keep the current next hop unless another is clearly
    // better, so small ETX wobbles do not make routes flap.
    let chosen = match (current, best) {
        (Some(c), Some(b)) if c.metric <= b.metric.saturating_add(b.metric / 8 + 16) => Some(c),
        (_, b) => b,
    };
    src.selected = chosen;
    src.settled = true;
    // A request is answered once a route with the wanted seqno is in use;
    // until then its backoff state stays, so requests stay rate-limited.
    if let (Some(c), Some((want, _, _))) = (chosen, src.request)
        && (c.seqno == want || seqno_newer(c.seqno, want))
    {
        src.request = None;
    }
    let route_changed = prev.map(|p| p.via) != chosen.map(|c| c.via);
    if route_changed {
        *next_hop_epoch += 1;
    }
    match (prev, chosen) {
        (None, None) => None,
        (Some(_), None) => Some(Change {
            dest: *dest,
            urgent: true,
            route_changed: true,
            advertise: true,
            seqno_up: false,
        }),
        (None, Some(_)) => Some(Change {
            dest: *dest,
            urgent: false,
            route_changed: true,
            advertise: true,
            seqno_up: false,
        }),
        (Some(p), Some(c)) => {
            // Neighbours care about our metric and seqno, not our next
            // hop: a switch alone is not advertised (RFC 8966 §3.7.2),
            // only a new seqno or a metric change of more than a quarter.
            let seqno_up = seqno_newer(c.seqno, p.seqno);
            let big = c.metric.abs_diff(p.metric) > p.metric / 3;
            (route_changed || seqno_up || big).then_some(Change {
                dest: *dest,
                urgent: seqno_up,
                route_changed,
                advertise: big,
                seqno_up,
            })
        }
    }
}

#[cfg(test)]
mod tests;
