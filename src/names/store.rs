//! The directory table: verified records keyed by `(name, holder)`, their
//! leases, the per-holder budgets, and name resolution.
//!
//! Resolution is a pure function of the records held, so two nodes holding
//! the same records resolve every name the same way, whatever order the
//! records arrived in. That is what makes partition merges deterministic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Refusal;
use super::record::{Handover, Record, SignedRecord, record_key};
use super::wire::{BUCKETS, SummaryEntry};
use crate::identity::NodeId;
use crate::time::Instant;

/// Table bounds and the per-holder rate limit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Names one holder may have in the table. At the limit the holder's
    /// expired entries make room; otherwise its new names are refused
    /// (updates of names it already has are always taken).
    pub per_holder: usize,
    /// Entries in all. At the limit expired entries make room, oldest
    /// first; otherwise new `(name, holder)` pairs are refused, except a
    /// record heard directly (our own, or pushed by its holder as our
    /// neighbour): it takes the place of the youngest entry not heard
    /// directly. So a device forging thousands of names fills only the
    /// room left, and pushes out none of the names there first.
    pub total: usize,
    /// Token bucket per holder: burst size and refill per minute. Every
    /// accepted new version costs one token; without one it is dropped
    /// (anti-entropy brings it back later).
    pub burst: u32,
    pub refill_per_min: u32,
    /// How long an expired entry is kept to reject replays of its version.
    pub dormant_hold: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_holder: 16,
            total: 4096,
            burst: 20,
            refill_per_min: 12,
            dormant_hold: Duration::from_secs(1800),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub signed: SignedRecord,
    pub rec: Record,
    pub key: u64,
    pub received: Instant,
    /// Lease end at this node (anchored at receipt).
    pub expires: Instant,
    /// The hand-over token, verified when the record was opened.
    pub token: Option<Handover>,
    expiry_reported: bool,
    /// When the `(name, holder)` pair entered the table (kept across
    /// versions): at the limit the youngest indirect entry gives way.
    pub first: Instant,
    /// Some version came straight from its holder (or is our own).
    pub direct: bool,
}

impl Entry {
    pub fn live(&self, now: Instant) -> bool {
        now < self.expires
    }
    /// The name resolves to this holder (before exclusivity is applied).
    pub fn claims(&self, now: Instant) -> bool {
        self.live(now) && !self.rec.released
    }
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires.saturating_since(now)
    }
}

#[derive(Debug)]
struct HolderState {
    count: usize,
    tokens_milli: u64,
    refilled: Instant,
}

/// How an exclusive name stands: the winner and the live claims it beats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    pub winner: Option<NodeId>,
    pub losers: BTreeSet<NodeId>,
}

/// `(store generation, valid until, (digest, count))`.
type CachedDigest = (u64, Instant, ([u8; 16], u32));

#[derive(Debug, Default)]
pub struct Store {
    limits: Limits,
    entries: BTreeMap<(String, NodeId), Entry>,
    keys: BTreeSet<(u64, String, NodeId)>,
    holders: BTreeMap<NodeId, HolderState>,
    /// Bumped on every insert and removal: the digest cache's key.
    generation: u64,
    /// `(generation, valid until, digest)`: hellos ask for the digest many
    /// times a second and it only changes with the table or a lease end.
    digest_cache: std::cell::Cell<Option<CachedDigest>>,
    /// `(generation, until)`: the table was full with nothing expired,
    /// and stays so until `until` (the first lease end) unless it changes.
    /// A flood of new names at a full table is refused without a scan.
    full_cache: std::cell::Cell<Option<(u64, Instant)>>,
    /// New entries refused at the limit, and entries evicted for one heard
    /// directly.
    refused: u64,
    evicted: u64,
}

/// Tenure order for exclusive claims: the earliest epoch wins, then the
/// latest hand-over of that tenure, then the lowest NodeId.
fn tenure(e: &Entry) -> (u64, Reverse<u32>, NodeId) {
    (e.rec.epoch_ms, Reverse(e.rec.generation), e.rec.holder)
}

fn name_range(name: &str) -> std::ops::RangeInclusive<(String, NodeId)> {
    (name.to_string(), NodeId([0; 16]))..=(name.to_string(), NodeId([0xff; 16]))
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        Store {
            limits,
            ..Store::default()
        }
    }

    /// Most entries it holds (`Limits::total`).
    pub fn capacity(&self) -> usize {
        self.limits.total
    }

    /// New entries refused because the table was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Entries evicted to make room for one heard directly.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Estimated bytes the entries take: each entry (the signed body and
    /// the decoded record's strings on the heap) and its key in the index.
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        self.entries
            .iter()
            .map(|((name, _), e)| {
                let r = &e.rec;
                let strings = r.name.capacity()
                    + r.agency.capacity()
                    + r.unit.capacity()
                    + r.talkgroups.capacity() * size_of::<String>()
                    + r.talkgroups.iter().map(String::capacity).sum::<usize>();
                size_of::<((String, NodeId), Entry)>()
                    + name.capacity()
                    + e.signed.body.capacity()
                    + strings
                    + size_of::<(u64, String, NodeId)>()
                    + name.len()
            })
            .sum()
    }

    /// Holders with an entry (and a rate bucket).
    pub fn holders(&self) -> usize {
        self.holders.len()
    }

    /// Whether a new, indirect `(name, holder)` would be refused as the
    /// table is full: checked before the signature, so a flood of forged
    /// names costs a lookup each, not a verification.
    pub fn full_for(&mut self, now: Instant, name: &str, holder: &NodeId) -> bool {
        if self.entries.len() < self.limits.total || self.get(name, holder).is_some() {
            return false;
        }
        let full = self.full_without_expired(now);
        if full {
            self.refused += 1;
        }
        full
    }

    /// The table is full and no entry's lease is over (cached until the
    /// first lease end or the next change).
    fn full_without_expired(&self, now: Instant) -> bool {
        if self.entries.len() < self.limits.total {
            return false;
        }
        if let Some((g, until)) = self.full_cache.get()
            && g == self.generation
            && now < until
        {
            return true;
        }
        let first_end = self.entries.values().map(|e| e.expires).min();
        match first_end {
            Some(t) if t > now => {
                self.full_cache.set(Some((self.generation, t)));
                true
            }
            _ => false,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, name: &str, holder: &NodeId) -> Option<&Entry> {
        self.entries.get(&(name.to_string(), *holder))
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Entries whose key is `key` (almost always one).
    pub fn by_key(&self, key: u64) -> impl Iterator<Item = &Entry> {
        self.keys
            .range((key, String::new(), NodeId([0; 16]))..)
            .take_while(move |(k, _, _)| *k == key)
            .filter_map(|(_, n, h)| self.entries.get(&(n.clone(), *h)))
    }

    /// Every entry for `name`, live or not.
    pub fn for_name(&self, name: &str) -> impl Iterator<Item = &Entry> {
        self.entries.range(name_range(name)).map(|(_, e)| e)
    }

    fn refill(&self, st: &mut HolderState, now: Instant) {
        let us = now.saturating_since(st.refilled).as_micros();
        let add = us.saturating_mul(self.limits.refill_per_min as u128) / 60_000;
        let cap = self.limits.burst as u64 * 1000;
        st.tokens_milli = (st.tokens_milli as u128 + add).min(cap as u128) as u64;
        st.refilled = now;
    }

    /// Store a verified record. `remaining` is what the sender says is left
    /// of the lease; `charge` applies the holder's rate limit (not for our
    /// own records); `direct` says it is our own or came from its holder
    /// (see [`Limits::total`]). Returns the version it replaced, if any.
    pub fn insert(
        &mut self,
        now: Instant,
        signed: SignedRecord,
        rec: Record,
        remaining: Duration,
        charge: bool,
        direct: bool,
    ) -> Result<Option<u64>, Refusal> {
        let id = (rec.name.clone(), rec.holder);
        let prev = self.entries.get(&id).map(|e| e.rec.version);
        let (first, was_direct) = self
            .entries
            .get(&id)
            .map_or((now, false), |e| (e.first, e.direct));
        if let Some(have) = prev
            && have >= rec.version
        {
            return Err(Refusal::Stale {
                have,
                got: rec.version,
            });
        }
        let lease = Duration::from_secs(rec.lease_s as u64).min(remaining);
        if lease.is_zero() {
            return Err(Refusal::Expired);
        }
        if prev.is_none() {
            self.make_room(now, &rec.holder, direct)?;
        }
        if charge {
            let burst = self.limits.burst as u64 * 1000;
            let mut st = self.holders.remove(&rec.holder).unwrap_or(HolderState {
                count: 0,
                tokens_milli: burst,
                refilled: now,
            });
            self.refill(&mut st, now);
            let ok = st.tokens_milli >= 1000;
            if ok {
                st.tokens_milli -= 1000;
            }
            let keep = st.count > 0 || ok;
            if keep {
                self.holders.insert(rec.holder, st);
            }
            if !ok {
                return Err(Refusal::RateLimited);
            }
        }
        let key = record_key(&rec.name, &rec.holder);
        if prev.is_none() {
            let st = self.holders.entry(rec.holder).or_insert(HolderState {
                count: 0,
                tokens_milli: self.limits.burst as u64 * 1000,
                refilled: now,
            });
            st.count += 1;
            self.keys.insert((key, rec.name.clone(), rec.holder));
        }
        let token = rec.handover.as_ref().and_then(|t| t.open().ok());
        self.generation = self.generation.wrapping_add(1);
        self.entries.insert(
            id,
            Entry {
                token,
                signed,
                rec,
                key,
                received: now,
                expires: now + lease,
                expiry_reported: false,
                first,
                direct: direct || was_direct,
            },
        );
        Ok(prev)
    }

    /// Room for one more entry of `holder`: expired entries make room, and
    /// for a record heard `direct`ly the youngest indirect entry does.
    fn make_room(&mut self, now: Instant, holder: &NodeId, direct: bool) -> Result<(), Refusal> {
        let count = self.holders.get(holder).map_or(0, |s| s.count);
        if count >= self.limits.per_holder {
            let oldest = self
                .entries
                .values()
                .filter(|e| e.rec.holder == *holder && !e.live(now))
                .min_by_key(|e| e.expires)
                .map(|e| (e.rec.name.clone(), e.rec.holder));
            match oldest {
                Some(id) => self.remove(&id),
                None => return Err(Refusal::HolderLimit),
            }
        }
        if self.entries.len() >= self.limits.total {
            let oldest = if self.full_without_expired(now) {
                None
            } else {
                self.entries
                    .values()
                    .filter(|e| !e.live(now))
                    .min_by_key(|e| e.expires)
                    .map(|e| (e.rec.name.clone(), e.rec.holder))
            };
            // Heard directly: the youngest entry not heard directly goes
            // (ties to the highest key, so runs repeat). Forged names came
            // after the members they crowd, so they go first.
            let youngest = || {
                self.entries
                    .iter()
                    .filter(|(_, e)| !e.direct)
                    .max_by_key(|(id, e)| (e.first, *id))
                    .map(|(id, _)| id.clone())
            };
            match oldest.or_else(|| direct.then(youngest).flatten()) {
                Some(id) => {
                    if self.get(&id.0, &id.1).is_some_and(|e| e.live(now)) {
                        self.evicted += 1;
                    }
                    self.remove(&id)
                }
                None => {
                    self.refused += 1;
                    return Err(Refusal::TableFull);
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, id: &(String, NodeId)) {
        if let Some(e) = self.entries.remove(id) {
            self.generation = self.generation.wrapping_add(1);
            self.keys.remove(&(e.key, id.0.clone(), id.1));
            if let Some(st) = self.holders.get_mut(&id.1) {
                st.count = st.count.saturating_sub(1);
                if st.count == 0 {
                    self.holders.remove(&id.1);
                }
            }
        }
    }

    /// Forget every entry `holder` signed (a revoked device); returns the
    /// names it held.
    pub fn remove_holder(&mut self, holder: &NodeId) -> Vec<String> {
        let ids: Vec<(String, NodeId)> = self
            .entries
            .keys()
            .filter(|(_, h)| h == holder)
            .cloned()
            .collect();
        for id in &ids {
            self.remove(id);
        }
        ids.into_iter().map(|(n, _)| n).collect()
    }

    /// Report leases that ended since the last call (once each) and forget
    /// entries expired for longer than the dormant hold.
    pub fn expire(&mut self, now: Instant) -> Vec<(String, NodeId)> {
        let mut ended = Vec::new();
        let mut gone = Vec::new();
        for (id, e) in self.entries.iter_mut() {
            if e.live(now) {
                continue;
            }
            if !e.expiry_reported {
                e.expiry_reported = true;
                if !e.rec.released {
                    ended.push(id.clone());
                }
            }
            if now.saturating_since(e.expires) >= self.limits.dormant_hold {
                gone.push(id.clone());
            }
        }
        for id in gone {
            self.remove(&id);
        }
        ended
    }

    /// How an exclusive name stands, from the live claims alone.
    pub fn standing(&self, now: Instant, name: &str) -> Standing {
        let claims: Vec<&Entry> = self
            .for_name(name)
            .filter(|e| e.claims(now) && e.rec.exclusive)
            .collect();
        // A hand-over supersedes the giver's records up to the token's version.
        let mut superseded: BTreeMap<NodeId, u64> = BTreeMap::new();
        for e in &claims {
            if let Some(h) = &e.token {
                let v = superseded.entry(h.from).or_insert(0);
                *v = (*v).max(h.from_version);
            }
        }
        let mut standing: Vec<&Entry> = claims
            .into_iter()
            .filter(|e| {
                superseded
                    .get(&e.rec.holder)
                    .is_none_or(|v| e.rec.version > *v)
            })
            .collect();
        standing.sort_by_key(|e| tenure(e));
        let mut it = standing.into_iter().map(|e| e.rec.holder);
        Standing {
            winner: it.next(),
            losers: it.collect(),
        }
    }

    /// The holders `name` resolves to: the exclusive winner alone if there
    /// is a live exclusive claim, else every live claim.
    pub fn resolve(&self, now: Instant, name: &str) -> Vec<&Entry> {
        let standing = self.standing(now, name);
        self.for_name(name)
            .filter(|e| e.claims(now))
            .filter(|e| standing.winner.is_none() || standing.winner == Some(e.rec.holder))
            .filter(|e| standing.winner.is_none() || e.rec.exclusive)
            .collect()
    }

    /// Names with at least one live claim.
    pub fn names(&self, now: Instant) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ((name, _), e) in &self.entries {
            if e.claims(now) && out.last() != Some(name) {
                out.push(name.clone());
            }
        }
        out
    }

    /// Holders whose resolving records list `talkgroup`.
    pub fn members(&self, now: Instant, talkgroup: &str) -> Vec<NodeId> {
        let mut out = BTreeSet::new();
        for name in self.names(now) {
            for e in self.resolve(now, &name) {
                if e.rec.talkgroups.iter().any(|t| t == talkgroup) {
                    out.insert(e.rec.holder);
                }
            }
        }
        out.into_iter().collect()
    }

    /// The live `(key, version)` pairs anti-entropy compares, in key order.
    fn live_pairs(&self, now: Instant) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.keys.iter().filter_map(move |(k, n, h)| {
            let e = self.entries.get(&(n.clone(), *h))?;
            e.live(now).then_some((*k, e.rec.version))
        })
    }

    pub fn digest(&self, now: Instant) -> ([u8; 16], u32) {
        if let Some((g, until, d)) = self.digest_cache.get()
            && g == self.generation
            && now < until
        {
            return d;
        }
        let d = self.digest_uncached(now);
        // Valid until the next live lease ends (the set of live pairs
        // changes then, with no insert or removal).
        let until = self
            .entries
            .values()
            .filter(|e| e.live(now))
            .map(|e| e.expires)
            .min()
            .unwrap_or(Instant::MAX);
        self.digest_cache.set(Some((self.generation, until, d)));
        d
    }

    fn digest_uncached(&self, now: Instant) -> ([u8; 16], u32) {
        let mut h = Sha256::new();
        let mut count = 0u32;
        for (k, v) in self.live_pairs(now) {
            h.update(k.to_be_bytes());
            h.update(v.to_be_bytes());
            count += 1;
        }
        let d = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        (out, count)
    }

    pub fn bucket_hashes(&self, now: Instant) -> Vec<u32> {
        let mut hs: Vec<Sha256> = (0..BUCKETS).map(|_| Sha256::new()).collect();
        for (k, v) in self.live_pairs(now) {
            let h = &mut hs[bucket_of(k)];
            h.update(k.to_be_bytes());
            h.update(v.to_be_bytes());
        }
        hs.into_iter()
            .map(|h| {
                let d = h.finalize();
                u32::from_be_bytes([d[0], d[1], d[2], d[3]])
            })
            .collect()
    }

    /// Live entries with keys in `lo..=hi`.
    pub fn summary(&self, now: Instant, lo: u64, hi: u64) -> Vec<SummaryEntry> {
        self.live_pairs(now)
            .filter(|(k, _)| *k >= lo && *k <= hi)
            .map(|(key, version)| SummaryEntry { key, version })
            .collect()
    }

    /// Highest version held for `key`, live or dormant (dormant versions
    /// still count: re-fetching them would only replay them).
    pub fn version_of(&self, key: u64) -> Option<u64> {
        self.by_key(key).map(|e| e.rec.version).max()
    }
}

pub fn bucket_of(key: u64) -> usize {
    (key >> 60) as usize
}

/// The key range of bucket `b`.
pub fn bucket_range(b: usize) -> (u64, u64) {
    let lo = (b as u64) << 60;
    (lo, lo | ((1u64 << 60) - 1))
}
