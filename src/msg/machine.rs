//! [`Messages`]: the store-and-forward state of one node and what it does
//! on its own (sends, routes and neighbours appearing, timers). What it
//! does with packets from others is in `receive.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::seal::{self, verify_envelope};
use super::wire::{Body, Envelope, MsgPacket, Plain, Receipt, ReceiptBody};
use super::{
    Change, InMsg, MAX_TEXT, MsgConfig, MsgError, MsgEvent, MsgId, OutMsg, OutRecipient,
    RecipientState, Snapshot,
};
use crate::identity::{Identity, NodeId};
use crate::rng::KeyRng;
use crate::time::Instant;
use crate::wire::control;

/// Packets waiting for the driver; at the limit the newest is dropped
/// (everything in them is retried from the tables).
const MAX_OUT: usize = 4096;
/// Events waiting; at the limit the oldest is dropped.
const MAX_EVENTS: usize = 1024;
/// Origins with a rate bucket; at the limit the fullest bucket (the
/// least recently active origin) is forgotten.
const MAX_BUCKETS: usize = 1024;
/// Messages held back for their predecessor; at the limit a new early one
/// is shown at once.
pub(super) const MAX_HELD: usize = 1024;
/// Recent encounters remembered; at the limit the oldest is forgotten.
const MAX_APPEARED: usize = 256;
/// Senders whose last sequence number is kept (ordering only); at the
/// limit the least established (lowest sequence) is forgotten: a sender
/// forgotten has its next message wait the reorder time, nothing more.
/// Open mode lets anyone text from made-up ids, each a new sender.
pub(super) const MAX_RX_SEQ: usize = 4096;
/// Ids of messages received and not yet expired, against replays; at the
/// limit a new message is refused unreceipted (its sender retries until
/// it expires), so no replay is ever shown twice.
pub(super) const MAX_SEEN: usize = 16_384;
/// How often held work is looked at (retries, expiry).
const TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// One envelope this node holds for a recipient.
#[derive(Debug, Clone)]
pub(super) struct Bundle {
    pub env: Envelope,
    pub body: Body,
    pub copies: u8,
    /// This node is the sender.
    pub own: bool,
    /// Last time it was sent along a route.
    pub sent_at: Option<Instant>,
    /// Neighbours already offered it (not persisted: a restart may offer
    /// again, which the neighbour answers as a duplicate).
    pub offered: BTreeSet<NodeId>,
}

#[derive(Debug, Clone)]
pub(super) struct HeldReceipt {
    pub receipt: Receipt,
    pub body: ReceiptBody,
    pub sent_at: Option<Instant>,
}

/// A message that came before its predecessor.
#[derive(Debug, Clone)]
pub(super) struct Early {
    pub msg: InMsg,
    pub until: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The message state of one node. A node owns one and drives it; see the
/// module documentation for the protocol and [`crate::node::Node`] for the
/// calls.
pub struct Messages {
    pub(super) ident: Identity,
    /// Ephemeral keys of sealed texts: a fresh one per message.
    keys: KeyRng,
    pub(super) me: NodeId,
    pub(super) cfg: MsgConfig,
    pub(super) bundles: BTreeMap<(MsgId, NodeId), Bundle>,
    pub(super) outbox: BTreeMap<MsgId, OutMsg>,
    pub(super) seen: BTreeMap<MsgId, u64>,
    pub(super) receipts: BTreeMap<(MsgId, NodeId), HeldReceipt>,
    pub(super) tx_seq: BTreeMap<NodeId, u64>,
    pub(super) rx_seq: BTreeMap<NodeId, u64>,
    pub(super) early: BTreeMap<(NodeId, u64), Early>,
    buckets: BTreeMap<NodeId, Bucket>,
    /// When a route to each node last appeared (recent encounters).
    appeared: BTreeMap<NodeId, Instant>,
    /// The same, ordered by time: the oldest is evicted when it is full.
    /// Finding it by a scan cost 8 % of a 1000-node simulation, where every
    /// node sees 1000 routes appear with the table full.
    appeared_by_time: BTreeSet<(Instant, NodeId)>,
    /// Wall clock anchor: `unix_ms` at `Instant`.
    wall: (Instant, u64),
    out: VecDeque<(NodeId, Vec<u8>)>,
    events: VecDeque<MsgEvent>,
    changes: Vec<Change>,
    next_tick: Option<Instant>,
}

impl Messages {
    /// `key_seed` seeds the generator of the ephemeral keys that seal
    /// texts: 32 secret bytes (OS entropy in the daemon, the run's seed in
    /// the simulator).
    pub fn new(ident: Identity, cfg: MsgConfig, key_seed: [u8; 32]) -> Self {
        Messages {
            keys: KeyRng::new(key_seed),
            me: ident.id(),
            ident,
            cfg,
            bundles: BTreeMap::new(),
            outbox: BTreeMap::new(),
            seen: BTreeMap::new(),
            receipts: BTreeMap::new(),
            tx_seq: BTreeMap::new(),
            rx_seq: BTreeMap::new(),
            early: BTreeMap::new(),
            buckets: BTreeMap::new(),
            appeared: BTreeMap::new(),
            appeared_by_time: BTreeSet::new(),
            wall: (Instant::ZERO, 0),
            out: VecDeque::new(),
            events: VecDeque::new(),
            changes: Vec::new(),
            next_tick: None,
        }
    }

    pub fn config(&self) -> &MsgConfig {
        &self.cfg
    }

    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: u64) {
        self.wall = (now, unix_ms);
    }

    pub fn unix_ms(&self, now: Instant) -> u64 {
        let (at, ms) = self.wall;
        ms + now.saturating_since(at).as_millis() as u64
    }

    /// Outgoing messages not yet delivered to everyone or expired.
    pub fn outbox(&self) -> impl Iterator<Item = &OutMsg> {
        self.outbox.values()
    }

    /// Envelopes held: (id, recipient, sender, copies, own).
    pub fn held(&self) -> impl Iterator<Item = (MsgId, NodeId, NodeId, u8, bool)> + '_ {
        self.bundles
            .iter()
            .map(|((id, dst), b)| (*id, *dst, b.body.src, b.copies, b.own))
    }

    pub fn held_receipts(&self) -> usize {
        self.receipts.len()
    }

    /// Load what [`Change`]s stored. Call once, before anything else.
    /// Seed the ephemeral-key generator again (a driver with better
    /// entropy than the one that built the node: see [`crate::node::Node::seed_keys`]).
    pub fn reseed_keys(&mut self, key_seed: [u8; 32]) {
        self.keys = KeyRng::new(key_seed);
    }

    pub fn restore(&mut self, now: Instant, s: Snapshot) {
        for (bytes, copies, own) in s.bundles {
            let Ok(env) = Envelope::from_bytes(&bytes) else {
                continue;
            };
            let body = match verify_envelope(&env) {
                Ok(b) => b,
                Err(e) => {
                    // Say why a stored message is gone (an older seal after
                    // an upgrade), rather than drop it without a word.
                    self.event(MsgEvent::Refused {
                        from: self.me,
                        reason: format!("stored message dropped: {e}"),
                    });
                    continue;
                }
            };
            self.bundles.insert(
                (body.id, body.dst),
                Bundle {
                    env,
                    body,
                    copies,
                    own,
                    sent_at: None,
                    offered: BTreeSet::new(),
                },
            );
        }
        for m in s.outbox {
            self.outbox.insert(m.id, m);
        }
        self.seen.extend(s.seen);
        for bytes in s.receipts {
            let Ok(receipt) = Receipt::from_bytes(&bytes) else {
                continue;
            };
            if let Ok(body) = seal::verify_receipt(&receipt) {
                self.receipts.insert(
                    (body.id, body.dst),
                    HeldReceipt {
                        receipt,
                        body,
                        sent_at: None,
                    },
                );
            }
        }
        self.tx_seq.extend(s.tx_seq);
        // Within the bound even if an older version kept more: the most
        // established senders stay.
        let mut rx: Vec<(NodeId, u64)> = s.rx_seq.into_iter().collect();
        rx.sort_by_key(|(id, seq)| (std::cmp::Reverse(*seq), *id));
        rx.truncate(MAX_RX_SEQ);
        self.rx_seq.extend(rx);
        self.arm(now);
    }

    /// Send `text` to `recipients` (node, Ed25519 key), addressed as `to`.
    /// `id` must be fresh random bytes. The message is stored (see
    /// [`Change`]) before this returns; `has_route` says which recipients
    /// can be reached now.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        now: Instant,
        id: MsgId,
        to: &str,
        talkgroup: bool,
        recipients: &[(NodeId, [u8; 32])],
        text: &str,
        has_route: &dyn Fn(&NodeId) -> bool,
    ) -> Result<MsgId, MsgError> {
        if text.is_empty() {
            return Err(MsgError::Empty);
        }
        if text.len() > MAX_TEXT {
            return Err(MsgError::TooLong(text.len(), MAX_TEXT));
        }
        if to.len() > super::wire::MAX_TO {
            return Err(MsgError::TooLong(to.len(), super::wire::MAX_TO));
        }
        let recipients: Vec<_> = recipients
            .iter()
            .filter(|(n, _)| *n != self.me)
            .copied()
            .collect();
        if recipients.is_empty() {
            return Err(MsgError::NoRecipients(to.into()));
        }
        if recipients.len() > self.cfg.max_recipients {
            return Err(MsgError::TooManyRecipients(
                to.into(),
                recipients.len(),
                self.cfg.max_recipients,
            ));
        }
        self.room_for(&self.me.clone(), recipients.len())?;
        if !self.take_token(now, self.me) {
            return Err(MsgError::RateLimited(self.cfg.rate_per_s));
        }
        let created_ms = self.unix_ms(now);
        let expires_ms = created_ms + self.cfg.ttl.as_millis() as u64;
        let plain = control::encode(&Plain {
            to: to.into(),
            talkgroup,
            text: text.into(),
        });
        let mut out = OutMsg {
            id,
            to: to.into(),
            talkgroup,
            text: text.into(),
            created_ms,
            expires_ms,
            recipients: Vec::new(),
        };
        let mut made = Vec::new();
        for (dst, key) in &recipients {
            let seq = self.tx_seq.get(dst).copied().unwrap_or(0) + 1;
            let mut body = Body {
                id,
                src: self.me,
                src_key: self.ident.public_key(),
                dst: *dst,
                seq,
                created_ms,
                expires_ms,
                sealed: Vec::new(),
                seal: seal::SEAL_HPKE,
            };
            seal::seal(&self.ident, key, &mut body, &plain, &mut self.keys)?;
            let env = seal::sign_envelope(&self.ident, &body);
            made.push((seq, env, body));
        }
        // All sealed: only now change state, so a failure leaves nothing half done.
        for (seq, env, body) in made {
            let dst = body.dst;
            self.tx_seq.insert(dst, seq);
            self.changes.push(Change::TxSeq { dst, seq });
            out.recipients.push(OutRecipient {
                node: dst,
                seq,
                state: RecipientState::Queued,
                at_ms: None,
            });
            self.put_bundle(
                Bundle {
                    env,
                    body,
                    copies: self.cfg.copies.max(1),
                    own: true,
                    sent_at: None,
                    offered: BTreeSet::new(),
                },
                true,
            );
        }
        self.changes.push(Change::PutOut(out.clone()));
        self.outbox.insert(id, out);
        for r in recipients.iter().map(|(n, _)| *n) {
            if has_route(&r) {
                self.try_deliver(now, id, r);
            }
        }
        self.offer_to_recent(now, has_route);
        self.arm(now);
        Ok(id)
    }

    /// Take back a message [`Messages::send`] just accepted, before its
    /// packets left this machine: the driver could not store it, so it is
    /// refused as if never sent (its bundles, queued packets and pending
    /// changes go; each recipient's sequence number steps back, with a
    /// [`Change::TxSeq`] that says so). `false` if `id` is not in the outbox.
    pub fn withdraw(&mut self, id: MsgId) -> bool {
        let Some(out) = self.outbox.remove(&id) else {
            return false;
        };
        self.changes.retain(|c| !c.concerns(&id));
        for r in &out.recipients {
            self.bundles.remove(&(id, r.node));
            let seq = r.seq.saturating_sub(1);
            if self.tx_seq.get(&r.node) == Some(&r.seq) {
                self.tx_seq.insert(r.node, seq);
                self.changes.push(Change::TxSeq { dst: r.node, seq });
            }
        }
        self.out.retain(|(_, bytes)| !carries(bytes, &id));
        true
    }

    /// Refuse when `origin` or the store as a whole is at its limit.
    pub(super) fn room_for(&self, origin: &NodeId, n: usize) -> Result<(), MsgError> {
        let held = self.bundles.len() + self.receipts.len();
        if held + n > self.cfg.total {
            return Err(MsgError::QuotaFull(format!(
                "{held} messages held, the limit is {}",
                self.cfg.total
            )));
        }
        let mine = self
            .bundles
            .values()
            .filter(|b| b.body.src == *origin)
            .count();
        if mine + n > self.cfg.per_origin {
            return Err(MsgError::QuotaFull(format!(
                "{mine} messages from {} held, the limit per sender is {}",
                origin.short(),
                self.cfg.per_origin
            )));
        }
        Ok(())
    }

    /// Token bucket per origin.
    pub(super) fn take_token(&mut self, now: Instant, origin: NodeId) -> bool {
        if !self.buckets.contains_key(&origin) && self.buckets.len() >= MAX_BUCKETS {
            let fullest = self
                .buckets
                .iter()
                .max_by(|a, b| a.1.tokens.total_cmp(&b.1.tokens))
                .map(|(k, _)| *k);
            if let Some(k) = fullest {
                self.buckets.remove(&k);
            }
        }
        let (rate, burst) = (self.cfg.rate_per_s, self.cfg.burst);
        let b = self.buckets.entry(origin).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.saturating_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(super) fn put_bundle(&mut self, b: Bundle, log: bool) {
        if log {
            self.changes.push(Change::PutBundle {
                id: b.body.id,
                dst: b.body.dst,
                env: b.env.to_bytes(),
                copies: b.copies,
                own: b.own,
            });
        }
        self.bundles.insert((b.body.id, b.body.dst), b);
    }

    pub(super) fn del_bundle(&mut self, id: MsgId, dst: NodeId) {
        if self.bundles.remove(&(id, dst)).is_some() {
            self.changes.push(Change::DelBundle { id, dst });
        }
    }

    /// Set one recipient's state in our outbox.
    pub(super) fn set_state(&mut self, id: MsgId, dst: NodeId, s: RecipientState, at: Option<u64>) {
        let Some(m) = self.outbox.get_mut(&id) else {
            return;
        };
        let Some(r) = m.recipients.iter_mut().find(|r| r.node == dst) else {
            return;
        };
        // Delivered and expired are final; forwarded does not go back.
        if matches!(r.state, RecipientState::Delivered | RecipientState::Expired) || r.state >= s {
            return;
        }
        r.state = s;
        r.at_ms = at.or(r.at_ms);
        let m = m.clone();
        self.changes.push(Change::PutOut(m.clone()));
        if m.finished() {
            self.outbox.remove(&id);
        }
    }

    pub(super) fn emit(&mut self, to: NodeId, p: MsgPacket) {
        if self.out.len() < MAX_OUT {
            self.out.push_back((to, p.encode()));
        }
    }

    pub(super) fn event(&mut self, e: MsgEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// Send a held envelope to its recipient along the route.
    pub(super) fn try_deliver(&mut self, now: Instant, id: MsgId, dst: NodeId) {
        let Some(b) = self.bundles.get_mut(&(id, dst)) else {
            return;
        };
        b.sent_at = Some(now);
        let (env, own) = (b.env.clone(), b.own);
        self.emit(dst, MsgPacket::Deliver { env });
        if own {
            self.set_state(id, dst, RecipientState::Forwarded, None);
        }
    }

    /// A route to `dst` appeared: send what waits for it at once, and
    /// offer `dst` custody of what we cannot deliver.
    pub fn on_route(&mut self, now: Instant, dst: NodeId, has_route: &dyn Fn(&NodeId) -> bool) {
        if !self.appeared.contains_key(&dst)
            && self.appeared.len() >= MAX_APPEARED
            && let Some((_, k)) = self.appeared_by_time.pop_first()
        {
            self.appeared.remove(&k);
        }
        if let Some(t) = self.appeared.insert(dst, now) {
            self.appeared_by_time.remove(&(t, dst));
        }
        self.appeared_by_time.insert((now, dst));
        tracing::debug!(node = %dst.short(), "route appeared");
        self.offer_custody(now, dst, has_route);
        let keys: Vec<MsgId> = self
            .bundles
            .keys()
            .filter(|(_, d)| *d == dst)
            .map(|(id, _)| *id)
            .collect();
        for id in keys {
            self.try_deliver(now, id, dst);
        }
        self.send_receipts(now, |src| *src == dst, true);
        self.arm(now);
    }

    /// Held receipts whose sender `reachable` says we can reach: send them
    /// (all of them when `force`, else those not tried within `retry`).
    fn send_receipts(&mut self, now: Instant, reachable: impl Fn(&NodeId) -> bool, force: bool) {
        let retry = self.cfg.retry;
        let mut out = Vec::new();
        for r in self.receipts.values_mut() {
            let due = force || r.sent_at.is_none_or(|t| now.saturating_since(t) >= retry);
            if due && reachable(&r.body.src) {
                r.sent_at = Some(now);
                out.push((r.body.src, r.receipt.clone()));
            }
        }
        for (src, receipt) in out {
            self.emit(src, MsgPacket::Receipt { receipt });
        }
    }

    /// A new envelope we cannot deliver: offer it to the nodes met within
    /// [`MsgConfig::fresh`] that are still reachable (one that arrived a
    /// moment ago is as likely to leave again as one that arrives later).
    pub(super) fn offer_to_recent(&mut self, now: Instant, has_route: &dyn Fn(&NodeId) -> bool) {
        let fresh = self.cfg.fresh;
        let recent: Vec<NodeId> = self
            .appeared
            .iter()
            .filter(|(n, t)| now.saturating_since(**t) <= fresh && has_route(n))
            .map(|(n, _)| *n)
            .collect();
        for n in recent {
            self.offer_custody(now, n, has_route);
        }
    }

    /// Offer `nbr` half the copies of every envelope we cannot deliver
    /// (see the module documentation).
    fn offer_custody(&mut self, now: Instant, nbr: NodeId, has_route: &dyn Fn(&NodeId) -> bool) {
        let now_ms = self.unix_ms(now);
        let mut offers = Vec::new();
        for ((id, dst), b) in self.bundles.iter_mut() {
            if *dst == nbr || b.body.src == nbr || b.copies < 2 || b.body.expires_ms <= now_ms {
                continue;
            }
            if has_route(dst) || !b.offered.insert(nbr) {
                continue;
            }
            let give = b.copies / 2;
            b.copies -= give;
            offers.push((*id, *dst, give, b.env.clone(), b.copies, b.own));
        }
        for (id, dst, give, env, left, own) in offers {
            self.changes.push(Change::PutBundle {
                id,
                dst,
                env: env.to_bytes(),
                copies: left,
                own,
            });
            tracing::debug!(to = %nbr.short(), dst = %dst.short(), give, left, "custody offered");
            self.emit(nbr, MsgPacket::Offer { env, copies: give });
        }
    }

    /// Retries, expiry, and early messages whose wait is over.
    pub fn handle_timeout(&mut self, now: Instant, has_route: &dyn Fn(&NodeId) -> bool) {
        if self.next_tick.is_some_and(|t| t > now) {
            return;
        }
        let now_ms = self.unix_ms(now);
        self.expire(now_ms);
        let retry = self.cfg.retry;
        let due: Vec<(MsgId, NodeId)> = self
            .bundles
            .iter()
            .filter(|((_, dst), b)| {
                b.sent_at.is_none_or(|t| now.saturating_since(t) >= retry) && has_route(dst)
            })
            .map(|(k, _)| *k)
            .collect();
        for (id, dst) in due {
            self.try_deliver(now, id, dst);
        }
        self.send_receipts(now, has_route, false);
        self.release_early(now, None);
        self.arm(now);
    }

    fn expire(&mut self, now_ms: u64) {
        let gone: Vec<(MsgId, NodeId)> = self
            .bundles
            .iter()
            .filter(|(_, b)| b.body.expires_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        for (id, dst) in gone {
            let own = self.bundles.get(&(id, dst)).is_some_and(|b| b.own);
            self.del_bundle(id, dst);
            if own {
                self.set_state(id, dst, RecipientState::Expired, Some(now_ms));
                self.event(MsgEvent::Expired { id, dst });
            }
        }
        // Our messages whose copies are all with custodians expire too.
        let lapsed: Vec<(MsgId, NodeId)> = self
            .outbox
            .values()
            .filter(|m| m.expires_ms <= now_ms)
            .flat_map(|m| {
                m.recipients
                    .iter()
                    .filter(|r| r.state < RecipientState::Delivered)
                    .map(|r| (m.id, r.node))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (id, dst) in lapsed {
            self.set_state(id, dst, RecipientState::Expired, Some(now_ms));
            self.event(MsgEvent::Expired { id, dst });
        }
        let old: Vec<(MsgId, NodeId)> = self
            .receipts
            .iter()
            .filter(|(_, r)| r.body.expires_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        for (id, dst) in old {
            self.receipts.remove(&(id, dst));
            self.changes.push(Change::DelReceipt { id, dst });
        }
        let forget: Vec<MsgId> = self
            .seen
            .iter()
            .filter(|(_, e)| **e <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        for id in forget {
            self.seen.remove(&id);
            self.changes.push(Change::ForgetSeen(id));
        }
    }

    fn arm(&mut self, now: Instant) {
        let busy = !(self.bundles.is_empty()
            && self.receipts.is_empty()
            && self.early.is_empty()
            && self.outbox.is_empty()
            && self.seen.is_empty());
        self.next_tick = busy.then(|| {
            let early = self.early.values().map(|e| e.until).min();
            let tick = match self.next_tick {
                Some(t) if t > now => t,
                _ => now + TICK,
            };
            early.map_or(tick, |e| e.min(tick))
        });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// The next packet: (destination node, bytes for [`crate::wire::proto::MSG`]).
    pub fn poll_output(&mut self) -> Option<(NodeId, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<MsgEvent> {
        self.events.pop_front()
    }

    /// What must be made durable before the next transmit (in order).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    pub(super) fn push_change(&mut self, c: Change) {
        self.changes.push(c);
    }
}

/// Whether a queued packet is a delivery or an offer of message `id`.
fn carries(bytes: &[u8], id: &MsgId) -> bool {
    let env = match MsgPacket::decode(bytes) {
        Ok(MsgPacket::Deliver { env } | MsgPacket::Offer { env, .. }) => env,
        _ => return false,
    };
    control::decode::<Body>(&env.body).is_ok_and(|b| b.id == *id)
}

#[cfg(test)]
mod appeared_tests {
    use super::*;
    use crate::identity::Identity;
    use std::time::Duration;

    fn id(n: u16) -> NodeId {
        let mut s = [0u8; 32];
        s[..2].copy_from_slice(&n.to_be_bytes());
        Identity::from_secret(&s).id()
    }

    #[test]
    fn a_full_table_of_recent_routes_forgets_the_oldest() {
        let mut m = Messages::new(
            Identity::from_secret(&[9; 32]),
            MsgConfig::default(),
            [9; 32],
        );
        let at = |ms: u64| Instant::ZERO + Duration::from_millis(ms);
        let none = |_: &NodeId| false;
        for n in 0..MAX_APPEARED as u16 {
            m.on_route(at(u64::from(n)), id(n), &none);
        }
        // Node 0 appears again: it is now the newest, node 1 the oldest.
        m.on_route(at(1000), id(0), &none);
        m.on_route(at(1001), id(5000), &none);
        assert_eq!(m.appeared.len(), MAX_APPEARED);
        assert_eq!(m.appeared_by_time.len(), MAX_APPEARED);
        assert!(m.appeared.contains_key(&id(0)));
        assert!(!m.appeared.contains_key(&id(1)), "the oldest goes");
        assert!(m.appeared.contains_key(&id(5000)));
        assert_eq!(m.appeared_by_time.first().map(|(_, k)| *k), Some(id(2)));
    }
}
