//! Repair of lost group voice, within the frame's deadline.
//!
//! Voice-class floods (talkgroup frames and floor messages) are numbered
//! per origin in a sequence of their own, so a gap is a loss. A node that
//! receives frame `k + 2` of an origin without `k + 1` asks the neighbour
//! that brought it the newest frames first (its upstream, which most
//! likely holds `k + 1`) for the missing ones with a link-local NACK; a
//! neighbour that holds a frame answers with a unicast copy, which the
//! asker handles like any flooded packet (it relays it on if it is a relay
//! for the neighbour that sent it). A NACK unanswered after
//! [`NACK_RETRY`] is repeated, to the other recent upstream if there is
//! one, until [`REPAIR_DEADLINE`] after the gap was seen: later than that a
//! frame would miss its playout slot anyway.
//!
//! Nothing is asked for while nothing is lost. One addition: a voice
//! flood goes out a second time a few ms later ([`Repair::repeat_at`]) if
//! a relay of the sender's was not heard passing the first on (the node
//! decides, by [`RepeatWhy`]: always for the talker's own frames, which
//! all cross its first hop; for a relayed flood that brought earlier frames
//! we had missed, toward a relay that nothing heard so far reaches well
//! (without it each lossy hop thins the packets out further down a long
//! chain, and the frames they carry arrive in late batches); otherwise
//! only toward a relay that hears us badly and that nothing else reaches).
//! On a clean mesh the relays' copies are heard and nothing is repeated.
//! The same queue holds relayings back ([`RepeatWhy::Held`]): a node that
//! a neighbour chose as its relay, sent a flood it already had from
//! another, relays it a few ms later only if the transmitters it heard by
//! then do not reach all its neighbours (on dense meshes this saves about
//! a tenth of all voice transmissions).
//!
//! Every table is bounded: [`MAX_ORIGINS`] origins
//! (the one heard least recently is forgotten), [`MAX_MISSING`] missing
//! frames per origin, [`CACHE`] cached packets (oldest first out),
//! [`MAX_REPEATS`] second sendings, and a NACK gets at most
//! [`MAX_ANSWER`] packets back.
//!
//! The state machine is generic over the neighbour key `K`, so it knows
//! nothing of links; time is an argument.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::identity::NodeId;
use crate::time::{Instant, ms};

/// Voice floods kept for repairs (only those we sent or relayed: nobody
/// else asks us): over a second of 10 talkers at 50 frames/s.
pub const CACHE: usize = 512;
/// Cached packets older than this are never sent as repairs.
pub const CACHE_AGE: Duration = ms(1000);
/// Origins whose sequence we follow.
pub const MAX_ORIGINS: usize = 256;
/// Missing frames remembered per origin; a longer gap is a restart (or a
/// partition that healed), not something to repair.
pub const MAX_MISSING: u32 = 16;
/// A gap is asked for this long after it was seen: copies of the same
/// frame by other relays arrive within a few ms of each other.
pub const NACK_DELAY: Duration = ms(2);
/// An unanswered NACK is repeated after this.
pub const NACK_RETRY: Duration = ms(15);
/// A frame is given up this long after its gap was seen.
pub const REPAIR_DEADLINE: Duration = ms(150);
/// Most frames one NACK names, and most packets sent back for one.
pub const MAX_ANSWER: usize = 16;
/// Voice floods waiting to go out a second time (over a second
/// of frames at 50/s; the oldest is dropped first).
pub const MAX_REPEATS: usize = 64;
/// An origin silent this long had paused (between bursts): what it sent
/// before the pause is past any deadline. A talker's floods are 20 ms
/// apart while it talks.
const PAUSE: Duration = ms(400);
/// An origin silent this long is forgotten.
const ORIGIN_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Miss {
    noticed: Instant,
    next: Instant,
    tries: u8,
}

#[derive(Debug)]
struct Origin<K> {
    highest: u32,
    heard: Instant,
    /// The neighbours that brought the newest frames first, newest first.
    upstream: [Option<K>; 2],
    missing: BTreeMap<u32, Miss>,
}

/// What the repair layer counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RepairStats {
    /// Frames found missing (gaps).
    pub gaps: u64,
    /// NACKs sent (one per neighbour per round).
    pub nacks_sent: u64,
    /// Repair copies sent in answer to NACKs.
    pub repairs_sent: u64,
    /// Missing frames that came after all.
    pub repaired: u64,
    /// Missing frames given up at their deadline.
    pub given_up: u64,
    /// Voice floods sent a second time (a relay not heard passing it on).
    pub repeats_sent: u64,
    /// Second sendings saved: every relay was heard passing the first on.
    pub repeats_saved: u64,
}

/// Why a voice flood is kept for a second sending: the node decides at
/// the time whether it is still needed, by a rule that depends on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatWhy {
    /// Our own frame: it crosses our first hop or nothing.
    Own,
    /// A relayed flood that carried earlier frames we had missed: our
    /// upstream lost some, so the packets downstream of us thin out too.
    Recovered,
    /// A relayed flood, and some relay of ours hears us badly.
    LossyRelay,
    /// Not a repeat but a first relaying, held back: a neighbour that
    /// chose us as its relay sent a flood we already had from another, and
    /// the transmitters heard by then may already reach all our neighbours.
    Held,
}

/// One NACK to send: to neighbour `to`, for `src`'s frames `seqs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack<K> {
    pub to: K,
    pub src: NodeId,
    pub seqs: Vec<u32>,
}

#[derive(Debug)]
pub struct Repair<K> {
    /// How long a gap waits before its first NACK, and between NACKs.
    pub delay: Duration,
    pub retry: Duration,
    cache: BTreeMap<(NodeId, u32), (Vec<u8>, Instant)>,
    order: VecDeque<(NodeId, u32)>,
    origins: BTreeMap<NodeId, Origin<K>>,
    /// Neighbours that asked for a frame we are missing too: they get it
    /// when it comes (unless we relay it to everyone anyway).
    owed: BTreeMap<(NodeId, u32), Vec<K>>,
    /// Voice floods to send once more, when, and why.
    repeats: VecDeque<(Instant, Vec<u8>, RepeatWhy)>,
    pub stats: RepairStats,
}

/// Frames owed to neighbours at once, and neighbours per frame.
const MAX_OWED: usize = 256;
const MAX_OWED_TO: usize = 8;

impl<K> Default for Repair<K> {
    fn default() -> Self {
        Repair::new(NACK_DELAY, NACK_RETRY)
    }
}

impl<K> Repair<K> {
    pub fn new(delay: Duration, retry: Duration) -> Self {
        Repair {
            delay,
            retry,
            cache: BTreeMap::new(),
            order: VecDeque::new(),
            origins: BTreeMap::new(),
            owed: BTreeMap::new(),
            repeats: VecDeque::new(),
            stats: RepairStats::default(),
        }
    }
}

/// `a` comes after `b` in a wrapping u32 sequence.
fn after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < u32::MAX / 2
}

impl<K: Copy + PartialEq + Ord> Repair<K> {
    /// Keep a packet we sent or relayed (or received) for repairs.
    pub fn keep(&mut self, now: Instant, src: NodeId, seq: u32, pkt: &[u8]) {
        if self.cache.insert((src, seq), (pkt.to_vec(), now)).is_none() {
            self.order.push_back((src, seq));
        }
        while self.order.len() > CACHE {
            if let Some(old) = self.order.pop_front() {
                self.cache.remove(&old);
            }
        }
    }

    /// A new (not duplicate) voice flood `(src, seq)` arrived from `from`.
    pub fn received(&mut self, now: Instant, from: K, src: NodeId, seq: u32) {
        if !self.origins.contains_key(&src) && self.origins.len() >= MAX_ORIGINS {
            let oldest = self
                .origins
                .iter()
                .min_by_key(|(_, o)| o.heard)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.origins.remove(&id);
            }
        }
        let o = self.origins.entry(src).or_insert(Origin {
            highest: seq,
            heard: now,
            upstream: [Some(from), None],
            missing: BTreeMap::new(),
        });
        // Floods missed before a pause are older than their deadline:
        // not worth asking for.
        let recent = now.saturating_since(o.heard) < PAUSE;
        o.heard = now;
        if after(seq, o.highest) {
            let gap = seq.wrapping_sub(o.highest) - 1;
            if recent && (1..=MAX_MISSING).contains(&gap) {
                for k in 1..=gap {
                    let s = o.highest.wrapping_add(k);
                    o.missing.insert(
                        s,
                        Miss {
                            noticed: now,
                            next: now + self.delay,
                            tries: 0,
                        },
                    );
                    self.stats.gaps += 1;
                }
                // Bounded: the oldest gaps go first.
                while o.missing.len() > MAX_MISSING as usize {
                    if let Some((&s, _)) = o.missing.iter().next() {
                        o.missing.remove(&s);
                    }
                }
            }
            o.highest = seq;
            if o.upstream[0] != Some(from) {
                o.upstream = [Some(from), o.upstream[0]];
            }
        } else if o.missing.remove(&seq).is_some() {
            self.stats.repaired += 1;
        }
    }

    /// NACKs due now, grouped by neighbour and origin; gives up frames past
    /// their deadline.
    pub fn poll_nacks(&mut self, now: Instant) -> Vec<Nack<K>> {
        let mut out: Vec<Nack<K>> = Vec::new();
        let mut idle = Vec::new();
        for (src, o) in self.origins.iter_mut() {
            if now.saturating_since(o.heard) > ORIGIN_IDLE {
                idle.push(*src);
                continue;
            }
            let before = o.missing.len();
            o.missing.retain(|_, m| now < m.noticed + REPAIR_DEADLINE);
            self.stats.given_up += (before - o.missing.len()) as u64;
            for (seq, m) in o.missing.iter_mut() {
                if m.next > now {
                    continue;
                }
                // Alternate between the two most recent upstreams.
                let to = match (m.tries % 2, o.upstream) {
                    (1, [_, Some(b)]) => b,
                    (_, [Some(a), _]) => a,
                    (_, [None, Some(b)]) => b,
                    _ => continue,
                };
                m.tries = m.tries.saturating_add(1);
                m.next = now + self.retry;
                match out.iter_mut().find(|n| n.to == to && n.src == *src) {
                    Some(n) if n.seqs.len() < MAX_ANSWER => n.seqs.push(*seq),
                    Some(_) => {}
                    None => out.push(Nack {
                        to,
                        src: *src,
                        seqs: vec![*seq],
                    }),
                }
            }
        }
        for id in idle {
            self.origins.remove(&id);
        }
        // Frames past their deadline are owed to nobody.
        let origins = &self.origins;
        self.owed.retain(|(src, seq), _| {
            origins
                .get(src)
                .is_some_and(|o| o.missing.contains_key(seq))
        });
        self.stats.nacks_sent += out.len() as u64;
        out
    }

    /// The earliest time a NACK or a repeat is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.origins
            .values()
            .flat_map(|o| o.missing.values().map(|m| m.next))
            .chain(self.repeats.front().map(|(at, _, _)| *at))
            .min()
    }

    /// Send the voice flood `pkt` once more at `at`, for `why` (times only
    /// grow: every repeat waits the same delay).
    pub fn repeat_at(&mut self, at: Instant, pkt: Vec<u8>, why: RepeatWhy) {
        if self.repeats.len() >= MAX_REPEATS {
            self.repeats.pop_front();
        }
        self.repeats.push_back((at, pkt, why));
    }

    /// Floods whose second sending is due; the node decides whether each
    /// is still needed, and counts it.
    pub fn poll_repeats(&mut self, now: Instant) -> Vec<(Vec<u8>, RepeatWhy)> {
        let mut out = Vec::new();
        while self.repeats.front().is_some_and(|(at, _, _)| *at <= now) {
            if let Some((_, p, why)) = self.repeats.pop_front() {
                out.push((p, why));
            }
        }
        out
    }

    /// Neighbour `from` asks for `src`'s frames `seqs`: the copies we hold.
    /// Those we are missing too are owed to it when they come.
    pub fn answer(&mut self, now: Instant, from: K, src: NodeId, seqs: &[u32]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for s in seqs.iter().take(MAX_ANSWER) {
            match self.cache.get(&(src, *s)) {
                Some((p, at)) if now.saturating_since(*at) <= CACHE_AGE => out.push(p.clone()),
                Some(_) => {}
                None => {
                    let expected = self
                        .origins
                        .get(&src)
                        .is_some_and(|o| o.missing.contains_key(s));
                    if expected
                        && (self.owed.len() < MAX_OWED || self.owed.contains_key(&(src, *s)))
                    {
                        let v = self.owed.entry((src, *s)).or_default();
                        if v.len() < MAX_OWED_TO && !v.contains(&from) {
                            v.push(from);
                        }
                    }
                }
            }
        }
        self.stats.repairs_sent += out.len() as u64;
        out
    }

    /// A frame we were missing came: the neighbours that asked for it
    /// (none if `relayed`, since our relay reached them all).
    pub fn take_owed(&mut self, src: NodeId, seq: u32, relayed: bool) -> Vec<K> {
        let v = self.owed.remove(&(src, seq)).unwrap_or_default();
        if relayed {
            return Vec::new();
        }
        self.stats.repairs_sent += v.len() as u64;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId([1; 16]);

    #[test]
    fn repeats_go_out_once_when_due_and_are_bounded() {
        let mut r: Repair<u8> = Repair::default();
        let t = Instant::from_millis(1000);
        r.repeat_at(t + ms(7), vec![1], RepeatWhy::Own);
        r.repeat_at(t + ms(27), vec![2], RepeatWhy::Recovered);
        assert_eq!(r.next_deadline(), Some(t + ms(7)));
        assert!(r.poll_repeats(t + ms(6)).is_empty());
        assert_eq!(r.poll_repeats(t + ms(7)), vec![(vec![1], RepeatWhy::Own)]);
        assert!(r.poll_repeats(t + ms(8)).is_empty(), "sent once");
        assert_eq!(r.next_deadline(), Some(t + ms(27)));
        assert_eq!(
            r.poll_repeats(t + ms(27)),
            vec![(vec![2], RepeatWhy::Recovered)]
        );
        for k in 0..2 * MAX_REPEATS as u8 {
            r.repeat_at(t + ms(30), vec![k], RepeatWhy::LossyRelay);
        }
        assert_eq!(r.poll_repeats(t + ms(30)).len(), MAX_REPEATS);
        assert_eq!(r.next_deadline(), None);
        // The node counts them: it may still decide one is not needed.
        assert_eq!(r.stats.repeats_sent, 0);
    }

    #[test]
    fn a_gap_is_asked_of_the_upstream_then_of_the_other() {
        let mut r: Repair<u8> = Repair::default();
        let t = Instant::from_millis(1000);
        r.received(t, 7, A, 10);
        r.received(t + ms(20), 8, A, 11);
        assert!(r.poll_nacks(t + ms(20)).is_empty(), "nothing missing");
        r.received(t + ms(60), 8, A, 13);
        assert!(r.poll_nacks(t + ms(61)).is_empty(), "waits NACK_DELAY");
        let n = r.poll_nacks(t + ms(62));
        assert_eq!(
            n,
            vec![Nack {
                to: 8,
                src: A,
                seqs: vec![12]
            }]
        );
        // Unanswered: the other upstream next.
        let n = r.poll_nacks(t + ms(62) + NACK_RETRY);
        assert_eq!(n[0].to, 7);
        // Repaired: nothing more.
        r.received(t + ms(90), 7, A, 12);
        assert!(r.poll_nacks(t + ms(200)).is_empty());
        assert_eq!(r.stats.repaired, 1);
        assert_eq!(r.stats.gaps, 1);
    }

    #[test]
    fn frames_are_given_up_at_the_deadline_and_long_gaps_ignored() {
        let mut r: Repair<u8> = Repair::default();
        let t = Instant::from_millis(0);
        r.received(t, 1, A, 1);
        r.received(t, 1, A, 3);
        assert!(!r.poll_nacks(t + NACK_DELAY).is_empty());
        assert!(r.poll_nacks(t + REPAIR_DEADLINE).is_empty());
        assert_eq!(r.stats.given_up, 1);
        r.received(t + ms(200), 1, A, 3 + MAX_MISSING + 5);
        assert_eq!(r.next_deadline(), None, "a restart, not a loss");
        r.received(t + ms(900) + PAUSE, 1, A, 3 + MAX_MISSING + 7);
        assert_eq!(r.next_deadline(), None, "missed before a pause: too old");
    }

    #[test]
    fn the_cache_answers_fresh_copies_only_and_is_bounded() {
        let mut r: Repair<u8> = Repair::default();
        let t = Instant::from_millis(0);
        for s in 0..(CACHE as u32 + 10) {
            r.keep(t, A, s, &[s as u8]);
        }
        assert!(r.answer(t, 9, A, &[0]).is_empty(), "evicted");
        assert_eq!(r.answer(t, 9, A, &[20]), vec![vec![20u8]]);
        assert!(
            r.answer(t + CACHE_AGE + ms(1), 9, A, &[20]).is_empty(),
            "too old"
        );
    }

    #[test]
    fn a_frame_we_miss_too_is_owed_to_the_asker() {
        let mut r: Repair<u8> = Repair::default();
        let t = Instant::from_millis(0);
        r.received(t, 1, A, 1);
        r.received(t, 1, A, 3);
        assert!(r.answer(t, 5, A, &[2]).is_empty());
        r.received(t + ms(10), 1, A, 2);
        r.keep(t + ms(10), A, 2, &[2]);
        assert_eq!(r.take_owed(A, 2, false), vec![5]);
        assert!(r.take_owed(A, 2, false).is_empty(), "owed once");
    }

    #[test]
    fn sequences_wrap() {
        let mut r: Repair<u8> = Repair::default();
        let t = Instant::from_millis(0);
        r.received(t, 1, A, u32::MAX);
        r.received(t, 1, A, 1);
        let n = r.poll_nacks(t + NACK_DELAY);
        assert_eq!(n[0].seqs, vec![0]);
    }
}
