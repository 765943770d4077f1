//! [`Directory`]: the directory state machine. See the module
//! documentation of [`super`] for the calling contract and the protocol.

mod echo;
pub use echo::{ECHO_GAP, ECHO_SENDS};
mod sync;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::record::{EPOCH_UNKNOWN, Handover, Record, SignedHandover, valid_name};
use super::store::{Store, bucket_range};
use super::wire::{BUCKETS, MAX_SUMMARY, NamesMsg, PushEntry, SummaryEntry, pack_push};
use super::{Dest, Event, NamesConfig, NamesError, Position, Presence, Profile, Refusal, Trust};
use crate::identity::{Identity, NodeId};
use crate::rng::Rng;
use crate::time::{Instant, ms};

/// Queued outgoing messages. At the limit new ones are dropped: every loss
/// is repaired by the next anti-entropy round.
const MAX_OUT: usize = 512;
/// Queued events. At the limit the oldest is dropped.
const MAX_EVENTS: usize = 1024;
/// Expiry is checked at least this often.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// A name this device holds.
#[derive(Debug, Clone)]
struct LocalClaim {
    exclusive: bool,
    epoch_ms: u64,
    generation: u32,
    handover: Option<SignedHandover>,
    issued: Instant,
    /// Something changed: issue a new version no later than this.
    due: Option<Instant>,
}

/// Counters for tests, the simulator and the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub msgs_out: u64,
    pub records_pushed: u64,
    /// Of those, pushed again because a neighbour had not echoed them
    /// (see the `echo` module).
    pub records_repeated: u64,
    pub digests_sent: u64,
    pub records_accepted: u64,
    pub records_rejected: u64,
    pub outputs_dropped: u64,
    /// Certificate chains beside records that did not verify.
    pub certs_refused: u64,
    /// Records of revoked devices: dropped from the table when the
    /// revocation came, and refused when they arrive after it.
    pub records_revoked: u64,
}

/// The directory state machine of one device.
pub struct Directory {
    ident: Identity,
    id: NodeId,
    config: NamesConfig,
    trust: Box<dyn Trust + Send>,
    rng: Rng,
    store: Store,
    neighbours: BTreeSet<NodeId>,
    profile: Profile,
    local: BTreeMap<String, LocalClaim>,
    next_version: u64,
    /// `(now, Unix ms)` at the last wall-clock reading the driver gave.
    wall: Option<(Instant, u64)>,
    /// Records to relay to all neighbours at `push_at`.
    pending: BTreeSet<(String, NodeId)>,
    push_at: Option<Instant>,
    /// New or changed records pushed again at `echo_at` until every
    /// neighbour has echoed them (see the `echo` module).
    echo: echo::Echoes,
    echo_at: Option<Instant>,
    next_digest: Instant,
    next_housekeeping: Instant,
    out: VecDeque<(Dest, NamesMsg)>,
    events: VecDeque<Event>,
    stats: Stats,
    /// The store's digest when last computed, and when it last changed.
    digest_now: ([u8; 16], u32),
    digest_changed: Instant,
    /// When we last opened an exchange with each neighbour on a hello
    /// digest mismatch (bounded by the neighbour set).
    last_sync: BTreeMap<NodeId, Instant>,
    /// Neighbours whose last hello digest differed from ours (bounded by
    /// the neighbour set): while any does, our hellos keep carrying ours.
    disagree: BTreeSet<NodeId>,
}

impl Directory {
    pub fn new(
        ident: Identity,
        config: NamesConfig,
        trust: Box<dyn Trust + Send>,
        now: Instant,
        seed: u64,
    ) -> Self {
        let id = ident.id();
        let mut rng = Rng::new(seed ^ u64::from_le_bytes(id.0[..8].try_into().unwrap_or_default()));
        let next_digest = now + rng.jitter(config.digest_interval, 0.5);
        Directory {
            ident,
            id,
            store: Store::new(config.limits.clone()),
            next_version: config.version_base.max(1),
            config,
            trust,
            rng,
            neighbours: BTreeSet::new(),
            profile: Profile::default(),
            local: BTreeMap::new(),
            wall: None,
            pending: BTreeSet::new(),
            push_at: None,
            echo: BTreeMap::new(),
            echo_at: None,
            next_digest,
            next_housekeeping: now + HOUSEKEEPING,
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            digest_now: ([0; 16], 0),
            digest_changed: now,
            last_sync: BTreeMap::new(),
            disagree: BTreeSet::new(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Names this device holds, with whether each is exclusive.
    pub fn held(&self) -> Vec<(String, bool)> {
        self.local
            .iter()
            .map(|(n, c)| (n.clone(), c.exclusive))
            .collect()
    }

    /// The records `name` resolves to now (see [`Store::resolve`]).
    pub fn resolve(&self, now: Instant, name: &str) -> Vec<&super::Entry> {
        self.store.resolve(now, name)
    }

    /// Holders of `talkgroup`.
    pub fn members(&self, now: Instant, talkgroup: &str) -> Vec<NodeId> {
        self.store.members(now, talkgroup)
    }

    /// The wall-clock time is `unix_ms` at `now` (also the time the trust
    /// policy judges certificates by, kept current by the timers).
    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: u64) {
        self.wall = Some((now, unix_ms));
        self.trust.set_now(unix_ms / 1000);
    }

    /// The trust policy (secured mode: who is enrolled).
    pub fn trust(&self) -> &dyn Trust {
        &*self.trust
    }

    /// The trust policy, to learn a certificate that arrived on the mesh.
    pub fn trust_mut(&mut self) -> &mut dyn Trust {
        &mut *self.trust
    }

    /// Bring the trust policy's clock up to `now` (no-op without a wall
    /// clock).
    fn trust_clock(&mut self, now: Instant) {
        if self.wall.is_some() {
            let s = self.wall_ms(now) / 1000;
            self.trust.set_now(s);
        }
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        match self.wall {
            Some((at, unix)) => unix.saturating_add(now.saturating_since(at).as_millis() as u64),
            None => EPOCH_UNKNOWN,
        }
    }

    pub fn on_neighbour_up(&mut self, now: Instant, id: NodeId) {
        if self.neighbours.insert(id) {
            // Exchange digests at once: a late joiner or a healed partition
            // converges in one round trip instead of a digest interval.
            self.send_digest(now, id);
        }
        self.on_timers(now);
    }

    pub fn on_neighbour_down(&mut self, now: Instant, id: NodeId) {
        self.neighbours.remove(&id);
        self.last_sync.remove(&id);
        self.disagree.remove(&id);
        self.echo_settled(&id);
        self.on_timers(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.on_timers(now);
    }

    /// Decode and handle one message; a malformed one is an error, never a
    /// panic.
    pub fn handle_bytes(
        &mut self,
        now: Instant,
        from: NodeId,
        bytes: &[u8],
    ) -> Result<(), NamesError> {
        let msg = NamesMsg::decode(bytes)?;
        self.handle(now, from, msg);
        Ok(())
    }

    pub fn handle(&mut self, now: Instant, from: NodeId, msg: NamesMsg) {
        match msg {
            NamesMsg::Push { entries } => {
                for e in entries {
                    self.accept_remote(now, from, e);
                }
            }
            NamesMsg::Digest { hash, count } => {
                if (hash, count) == self.store.digest(now) {
                    self.echo_settled(&from);
                } else {
                    // A neighbour that is behind most often missed a recent
                    // rumour: what arrived lately goes first, so a lossy link
                    // is repaired in one round trip, not three.
                    let _ = self.push_recent(now, from, count);
                    let hashes = self.store.bucket_hashes(now);
                    self.send(Dest::Neighbour(from), NamesMsg::Buckets { hashes });
                }
            }
            NamesMsg::Buckets { hashes } => {
                let ours = self.store.bucket_hashes(now);
                for b in 0..BUCKETS {
                    if hashes.get(b) != ours.get(b) {
                        self.send_summary(now, from, b);
                    }
                }
            }
            NamesMsg::Summary { lo, hi, entries } => self.on_summary(now, from, lo, hi, entries),
            NamesMsg::Want { keys } => {
                let mut push = Vec::new();
                for k in keys {
                    push.extend(
                        self.store
                            .by_key(k)
                            .filter(|e| e.live(now))
                            .map(|e| push_entry(&*self.trust, now, e)),
                    );
                }
                self.push_to(Dest::Neighbour(from), push);
            }
        }
        self.on_timers(now);
    }

    pub fn poll_output(&mut self) -> Option<(Dest, NamesMsg)> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_digest.min(self.next_housekeeping);
        for c in self.local.values() {
            t = t.min(self.reissue_at(c));
        }
        if let Some(p) = self.push_at {
            t = t.min(p);
        }
        if let Some(p) = self.echo_at {
            t = t.min(p);
        }
        Some(t)
    }

    // ---- the local face ----

    /// Claim `name` for this device.
    pub fn local_claim(
        &mut self,
        now: Instant,
        name: &str,
        exclusive: bool,
    ) -> Result<(), NamesError> {
        if !valid_name(name) {
            return Err(NamesError::BadName(name.to_string()));
        }
        if let Some(c) = self.local.get(name)
            && c.exclusive == exclusive
        {
            return Ok(());
        }
        if !self.local.contains_key(name) && self.local.len() >= self.config.limits.per_holder {
            return Err(Refusal::HolderLimit.into());
        }
        let standing = self.store.standing(now, name);
        if let Some(w) = standing.winner.filter(|w| *w != self.id) {
            return Err(Refusal::HeldBy { holder: w }.into());
        }
        if exclusive {
            let others = self
                .store
                .for_name(name)
                .filter(|e| e.claims(now) && e.rec.holder != self.id)
                .count();
            if others > 0 {
                return Err(Refusal::Shared { holders: others }.into());
            }
        }
        let claim = LocalClaim {
            exclusive,
            epoch_ms: if exclusive { self.wall_ms(now) } else { 0 },
            generation: 0,
            handover: None,
            issued: now,
            due: None,
        };
        self.issue(now, name, &claim, false)?;
        self.local.insert(name.to_string(), claim);
        self.on_timers(now);
        Ok(())
    }

    /// Give `name` up: a release record spreads and overrides the claim.
    pub fn local_release(&mut self, now: Instant, name: &str) -> Result<(), NamesError> {
        let claim = self
            .local
            .remove(name)
            .ok_or_else(|| NamesError::NotHeld(name.to_string()))?;
        let release = LocalClaim {
            handover: None,
            ..claim
        };
        self.issue(now, name, &release, true)?;
        self.on_timers(now);
        Ok(())
    }

    /// Hand the exclusive role `name` to `to`. The token rides in our
    /// release record; `to` takes the role when that reaches it.
    pub fn local_handover(
        &mut self,
        now: Instant,
        name: &str,
        to: NodeId,
    ) -> Result<(), NamesError> {
        let claim = match self.local.get(name) {
            Some(c) if c.exclusive => c.clone(),
            _ => return Err(NamesError::NotHeld(name.to_string())),
        };
        if to == self.id {
            return Err(NamesError::BadHandover("hand-over to self"));
        }
        if let Some(w) = self
            .store
            .standing(now, name)
            .winner
            .filter(|w| *w != self.id)
        {
            return Err(Refusal::HeldBy { holder: w }.into());
        }
        let version = self.next_version;
        let token = Handover {
            role: name.to_string(),
            from: self.id,
            from_key: self.ident.public_key(),
            to,
            epoch_ms: claim.epoch_ms,
            generation: claim.generation.saturating_add(1),
            from_version: version,
        }
        .sign(&self.ident)?;
        let release = LocalClaim {
            handover: Some(token),
            ..claim
        };
        self.issue(now, name, &release, true)?;
        self.local.remove(name);
        self.on_timers(now);
        Ok(())
    }

    /// Refresh the lease of a name we hold now rather than at three
    /// quarters of it (the simulator times what a refresh costs on air).
    /// `false` if we do not hold it.
    pub fn refresh(&mut self, now: Instant, name: &str) -> bool {
        let Some(c) = self.local.get_mut(name) else {
            return false;
        };
        c.due = Some(now);
        self.on_timers(now);
        true
    }

    /// Presence goes out quickly (an emergency must be seen), at most one
    /// version per `min_reissue`.
    pub fn set_presence(&mut self, now: Instant, presence: Presence) {
        if self.profile.presence != presence {
            self.profile.presence = presence;
            // A mayday goes out now, not after the reissue hold that
            // keeps ordinary presence changes from flooding the mesh.
            let within = if presence == Presence::Emergency {
                Duration::ZERO
            } else {
                self.config.min_reissue
            };
            self.mark_dirty(now, within);
        }
    }

    /// Positions change all the time: they ride the next version, or go
    /// out on their own after `position_interval`. A first fix (or one
    /// regained) goes out as any other change does: until then the
    /// console's map and ATAK had no place for the member at all, for two
    /// minutes after start-up.
    pub fn set_position(&mut self, now: Instant, position: Option<Position>) {
        if self.profile.position != position {
            let first_fix = self.profile.position.is_none() && position.is_some();
            self.profile.position = position;
            let within = if first_fix {
                self.config.min_reissue
            } else {
                self.config.position_interval
            };
            self.mark_dirty(now, within);
        }
    }

    /// Replace the trust policy (e.g. after enrolment). Records already
    /// held are not re-checked.
    pub fn set_trust(&mut self, trust: Box<dyn Trust + Send>) {
        self.trust = trust;
    }

    /// Names that resolve to at least one holder now.
    pub fn names(&self, now: Instant) -> Vec<String> {
        self.store.names(now)
    }

    /// Replace agency, unit, talkgroups, presence and position. Checked
    /// by building a record with it: a profile that would make records
    /// invalid or too large is refused.
    /// The attributes copied into our records.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn set_profile(&mut self, now: Instant, profile: Profile) -> Result<(), NamesError> {
        let old = std::mem::replace(&mut self.profile, profile);
        let probe = LocalClaim {
            exclusive: true,
            epoch_ms: u64::MAX,
            generation: u32::MAX,
            handover: None,
            issued: now,
            due: None,
        };
        if let Err(e) = self
            .build(&"a".repeat(63), &probe, false, u64::MAX)
            .sign(&self.ident)
        {
            self.profile = old;
            return Err(e);
        }
        if self.profile != old {
            self.mark_dirty(now, self.config.min_reissue);
        }
        Ok(())
    }

    fn mark_dirty(&mut self, now: Instant, within: Duration) {
        for c in self.local.values_mut() {
            let at = c.issued + within;
            c.due = Some(c.due.map_or(at, |d| d.min(at)));
        }
        self.on_timers(now);
    }

    fn reissue_at(&self, c: &LocalClaim) -> Instant {
        // Three quarters: a refresh needs seconds to spread (and a lost one
        // is repaired at the next hello), so a quarter lease of margin is
        // plenty, and refreshes are most of the directory's idle cost.
        let refresh = c.issued + self.config.lease * 3 / 4;
        c.due.map_or(refresh, |d| d.min(refresh))
    }

    fn build(&self, name: &str, c: &LocalClaim, released: bool, version: u64) -> Record {
        Record {
            name: name.to_string(),
            holder: self.id,
            key: self.ident.public_key(),
            agency: self.profile.agency.clone(),
            unit: self.profile.unit.clone(),
            talkgroups: self.profile.talkgroups.clone(),
            presence: self.profile.presence,
            position: self.profile.position,
            exclusive: c.exclusive,
            released,
            lease_s: self.config.lease.as_secs().clamp(1, u32::MAX as u64) as u32,
            version,
            epoch_ms: c.epoch_ms,
            generation: c.generation,
            handover: c.handover.clone(),
        }
    }

    /// Sign, store and push a new version of our record for `name`.
    fn issue(
        &mut self,
        now: Instant,
        name: &str,
        c: &LocalClaim,
        released: bool,
    ) -> Result<(), NamesError> {
        let rec = self.build(name, c, released, self.next_version);
        self.trust_clock(now);
        self.trust.admit(&rec)?;
        let signed = rec.sign(&self.ident)?;
        self.next_version += 1;
        let watch = echo::substantive(self.store.get(name, &self.id).map(|e| &e.rec), &rec);
        let version = rec.version;
        self.store
            .insert(now, signed, rec, self.config.lease, false, true)?;
        if watch {
            self.watch_echo(name, self.id, version, None);
        }
        self.events.push_back(Event::Changed {
            name: name.to_string(),
            holder: self.id,
        });
        self.pending.insert((name.to_string(), self.id));
        self.push_at = Some(now);
        Ok(())
    }

    // ---- receiving ----

    /// A root revoked `holder`: forget its records (each reported as
    /// [`Event::Expired`]: the name no longer resolves to it) and the
    /// rumours of them still to relay. Returns how many were dropped.
    pub fn drop_holder(&mut self, now: Instant, holder: &NodeId) -> usize {
        let names = self.store.remove_holder(holder);
        self.pending.retain(|(_, h)| h != holder);
        self.stats.records_revoked += names.len() as u64;
        for name in &names {
            self.event(Event::Expired {
                name: name.clone(),
                holder: *holder,
            });
        }
        self.on_timers(now);
        names.len()
    }

    fn reject(&mut self, from: NodeId, error: NamesError) {
        self.stats.records_rejected += 1;
        self.event(Event::Rejected { from, error });
    }

    fn accept_remote(&mut self, now: Instant, from: NodeId, e: PushEntry) {
        // A rumour reaches a node from several neighbours: copies that are
        // not newer than the stored version are dropped before the
        // signature check, which is most of a directory's CPU.
        if let Some((name, holder, version)) = e.record.peek()
            && self
                .store
                .get(&name, &holder)
                .is_some_and(|have| have.rec.version >= version)
        {
            self.heard_echo(from, name, holder, version);
            return;
        }
        // A new name at a full table is refused before the signature
        // check unless it comes from its holder (see `Limits::total`): a
        // flood of forged names costs a lookup each.
        if let Some((name, holder, _)) = e.record.peek()
            && holder != from
            && holder != self.id
            && self.store.full_for(now, &name, &holder)
        {
            return self.reject(from, Refusal::TableFull.into());
        }
        let rec = match e.record.open() {
            Ok(r) => r,
            Err(err) => return self.reject(from, err),
        };
        // Counted, not logged: relays that have not heard of the
        // revocation yet pass the device's records on for a few seconds.
        if self.trust.revoked(&rec.holder) {
            self.stats.records_revoked += 1;
            return;
        }
        // Heard directly: its holder pushed it, as our neighbour.
        let direct = rec.holder == from || rec.holder == self.id;
        // A chain beside the record: learn it first (it verifies itself),
        // unless it is the one already cached for the holder.
        if let Some(chain) = &e.cert
            && self.trust.chain_of(&rec.holder) != Some(chain.as_slice())
        {
            self.trust_clock(now);
            if let Err(why) = self.trust.learn_cert(chain) {
                self.stats.certs_refused += 1;
                let error = Refusal::NotAuthorised(format!(
                    "certificate beside the record of {}: {why}",
                    rec.holder
                ));
                return self.reject(from, error.into());
            }
        }
        if let Err(r) = self.trust.admit(&rec) {
            return self.reject(from, r.into());
        }
        let name = rec.name.clone();
        let holder = rec.holder;
        let version = rec.version;
        let before = self.store.standing(now, &name);
        let watch = echo::substantive(self.store.get(&name, &holder).map(|e| &e.rec), &rec);
        let remaining = ms(e.remaining_ms as u64);
        match self
            .store
            .insert(now, e.record, rec, remaining, holder != self.id, direct)
        {
            Ok(_) => {}
            // Already had it: the rumour stops here.
            Err(Refusal::Stale { .. }) => {
                self.heard_echo(from, name, holder, version);
                return;
            }
            Err(r) => return self.reject(from, r.into()),
        }
        self.stats.records_accepted += 1;
        self.event(Event::Changed {
            name: name.clone(),
            holder,
        });
        self.pending.insert((name.clone(), holder));
        let relay = now + self.rng.jitter(self.config.relay_delay, 1.0) / 2;
        self.push_at = Some(self.push_at.map_or(relay, |t| t.min(relay)));
        if watch {
            self.watch_echo(&name, holder, version, Some(from));
        }

        if holder == self.id {
            self.own_record_returned(now, &name, version);
        }
        let after = self.store.standing(now, &name);
        if let Some(winner) = after.winner {
            for loser in after
                .losers
                .difference(&before.losers)
                .copied()
                .collect::<Vec<_>>()
            {
                self.event(Event::ExclusiveConflict {
                    name: name.clone(),
                    winner,
                    loser,
                });
                if loser == self.id {
                    self.withdraw(now, &name, Refusal::Conflict { winner });
                }
            }
        }
        self.told_by_release(&name, holder, &before);
        self.maybe_take_handover(now, &name, holder);
    }

    /// A rival that lost an exclusive role to us may have withdrawn before
    /// its live claim ever reached us: its release (no hand-over token, a
    /// tenure that began no earlier than ours) is then how we learn of the
    /// conflict, so the winner is told too.
    fn told_by_release(&mut self, name: &str, holder: NodeId, before: &super::store::Standing) {
        if holder == self.id || before.losers.contains(&holder) {
            return;
        }
        let Some(ours) = self.local.get(name).filter(|c| c.exclusive) else {
            return;
        };
        let rival = self.store.get(name, &holder).is_some_and(|e| {
            e.rec.released
                && e.rec.exclusive
                && e.rec.handover.is_none()
                && e.rec.epoch_ms >= ours.epoch_ms
        });
        if rival {
            self.event(Event::ExclusiveConflict {
                name: name.to_string(),
                winner: self.id,
                loser: holder,
            });
        }
    }

    /// A record of ours from an earlier life (we restarted): make sure our
    /// next versions supersede it, and retract names we no longer hold.
    fn own_record_returned(&mut self, now: Instant, name: &str, version: u64) {
        self.next_version = self.next_version.max(version.saturating_add(1));
        match self.local.get_mut(name) {
            Some(c) => c.due = Some(now),
            None => {
                let released = self
                    .store
                    .get(name, &self.id)
                    .is_some_and(|e| e.rec.released);
                if !released {
                    let stale = LocalClaim {
                        exclusive: false,
                        epoch_ms: 0,
                        generation: 0,
                        handover: None,
                        issued: now,
                        due: None,
                    };
                    let _ = self.issue(now, name, &stale, true);
                }
            }
        }
    }

    fn withdraw(&mut self, now: Instant, name: &str, reason: Refusal) {
        if let Some(c) = self.local.remove(name) {
            let release = LocalClaim {
                handover: None,
                ..c
            };
            let _ = self.issue(now, name, &release, true);
            self.event(Event::Withdrawn {
                name: name.to_string(),
                reason,
            });
        }
    }

    /// A release by `giver` that hands `name` to us: take the role.
    fn maybe_take_handover(&mut self, now: Instant, name: &str, giver: NodeId) {
        let Some(entry) = self.store.get(name, &giver) else {
            return;
        };
        if !entry.rec.released || self.local.contains_key(name) {
            return;
        }
        let Some(signed) = entry.rec.handover.clone() else {
            return;
        };
        let Ok(h) = signed.open() else { return };
        if h.to != self.id {
            return;
        }
        let claim = LocalClaim {
            exclusive: true,
            epoch_ms: h.epoch_ms,
            generation: h.generation,
            handover: Some(signed),
            issued: now,
            due: None,
        };
        match self.issue(now, name, &claim, false) {
            Ok(()) => {
                self.local.insert(name.to_string(), claim);
                self.event(Event::HandoverReceived {
                    name: name.to_string(),
                    from: giver,
                });
            }
            Err(e) => self.reject(giver, e),
        }
    }

    // ---- anti-entropy ----

    fn send_digest(&mut self, now: Instant, to: NodeId) {
        let (hash, count) = self.store.digest(now);
        self.stats.digests_sent += 1;
        self.send(Dest::Neighbour(to), NamesMsg::Digest { hash, count });
    }

    /// Our entries of bucket `b`, in key-range chunks that together cover
    /// the whole bucket (an empty bucket still says "I have nothing here").
    fn send_summary(&mut self, now: Instant, to: NodeId, b: usize) {
        let (blo, bhi) = bucket_range(b);
        let entries = self.store.summary(now, blo, bhi);
        let chunks: Vec<&[SummaryEntry]> = if entries.is_empty() {
            vec![&[]]
        } else {
            entries.chunks(MAX_SUMMARY).collect()
        };
        let mut lo = blo;
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let hi = match chunk.last() {
                Some(last) if i + 1 < n => last.key,
                _ => bhi,
            };
            self.send(
                Dest::Neighbour(to),
                NamesMsg::Summary {
                    lo,
                    hi,
                    entries: chunk.to_vec(),
                },
            );
            lo = hi.saturating_add(1);
        }
    }

    fn on_summary(
        &mut self,
        now: Instant,
        from: NodeId,
        lo: u64,
        hi: u64,
        entries: Vec<SummaryEntry>,
    ) {
        let mut theirs: BTreeMap<u64, u64> = BTreeMap::new();
        for e in entries {
            let v = theirs.entry(e.key).or_insert(0);
            *v = (*v).max(e.version);
        }
        let mut push = Vec::new();
        for s in self.store.summary(now, lo, hi) {
            if theirs.get(&s.key).is_none_or(|v| *v < s.version) {
                push.extend(
                    self.store
                        .by_key(s.key)
                        .filter(|e| e.live(now) && e.rec.version == s.version)
                        .map(|e| push_entry(&*self.trust, now, e)),
                );
            }
        }
        self.push_to(Dest::Neighbour(from), push);
        let want: Vec<u64> = theirs
            .into_iter()
            .filter(|(k, v)| self.store.version_of(*k).is_none_or(|have| have < *v))
            .map(|(k, _)| k)
            .collect();
        for keys in want.chunks(MAX_SUMMARY) {
            self.send(
                Dest::Neighbour(from),
                NamesMsg::Want {
                    keys: keys.to_vec(),
                },
            );
        }
    }

    // ---- output and timers ----

    /// The live records among `keys`, as pushed.
    fn live_entries(&self, now: Instant, keys: &BTreeSet<(String, NodeId)>) -> Vec<PushEntry> {
        keys.iter()
            .filter_map(|(n, h)| self.store.get(n, h))
            .filter(|e| e.live(now))
            .map(|e| push_entry(&*self.trust, now, e))
            .collect()
    }

    fn push_to(&mut self, dest: Dest, entries: Vec<PushEntry>) {
        for msg in pack_push(entries) {
            if let NamesMsg::Push { entries } = &msg {
                self.stats.records_pushed += entries.len() as u64;
            }
            self.send(dest, msg);
        }
    }

    fn send(&mut self, dest: Dest, msg: NamesMsg) {
        if self.out.len() >= MAX_OUT {
            self.stats.outputs_dropped += 1;
            return;
        }
        self.stats.msgs_out += 1;
        self.out.push_back((dest, msg));
    }

    fn event(&mut self, e: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn on_timers(&mut self, now: Instant) {
        // Lookups check leases exactly; only the Expired events wait for
        // this once-a-second sweep.
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + HOUSEKEEPING;
            self.trust_clock(now);
            for (name, holder) in self.store.expire(now) {
                self.event(Event::Expired { name, holder });
            }
        }
        let due: Vec<String> = self
            .local
            .iter()
            .filter(|(_, c)| self.reissue_at(c) <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            if let Some(mut c) = self.local.get(&name).cloned() {
                c.issued = now;
                c.due = None;
                if let Err(e) = self.issue(now, &name, &c, false) {
                    self.local.remove(&name);
                    let reason = match e {
                        NamesError::Refused(r) => r,
                        other => Refusal::NotAuthorised(other.to_string()),
                    };
                    self.event(Event::Withdrawn {
                        name: name.clone(),
                        reason,
                    });
                    continue;
                }
                self.local.insert(name, c);
            }
        }
        if now >= self.next_digest {
            self.next_digest = now + self.rng.jitter(self.config.digest_interval, 0.5);
            let n = self.neighbours.len() as u64;
            if let Some(to) = self
                .neighbours
                .iter()
                .nth(self.rng.below(n) as usize)
                .copied()
            {
                self.send_digest(now, to);
            }
        }
        if self.echo_at.is_some_and(|t| t <= now) {
            self.echo_due(now);
        }
        if self.push_at.is_some_and(|t| t <= now) {
            self.push_at = None;
            let pending = std::mem::take(&mut self.pending);
            self.echo_pushed(now, &pending);
            if self.neighbours.is_empty() {
                return;
            }
            let entries = self.live_entries(now, &pending);
            self.push_to(Dest::AllNeighbours, entries);
        }
    }
}

/// An entry of the store as pushed, with its holder's certificate chain
/// when the trust policy has one.
fn push_entry(trust: &dyn Trust, now: Instant, e: &super::Entry) -> PushEntry {
    PushEntry {
        remaining_ms: remaining_ms(e.remaining(now)),
        record: e.signed.clone(),
        cert: trust.chain_of(&e.rec.holder).map(<[u8]>::to_vec),
    }
}

fn remaining_ms(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}
