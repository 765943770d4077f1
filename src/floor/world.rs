//! A small broadcast world for floor tests: N members on a line, every
//! message flooded to every other member with a per-hop delay, per-hop
//! jitter and per-hop loss, all from one seed. Time jumps to the next
//! delivery or timeout (quinn-proto's `Pair`, for a group).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Floor, FloorConfig, FloorEvent, FloorMsg, Priority};
use crate::identity::NodeId;
use crate::rng::Rng;
use crate::time::{Instant, ms};

pub struct World {
    pub now: Instant,
    pub floors: Vec<Floor>,
    /// Delay of one hop, plus up to `hop_jitter` more.
    pub hop_delay: Duration,
    pub hop_jitter: Duration,
    /// Loss on each hop a flooded message crosses.
    pub hop_loss: f64,
    /// Messages to these members are lost (a member out of range).
    pub deaf: BTreeSet<usize>,
    /// Messages of this kind are lost (`Taken`, `Release`, ...).
    pub drop_kind: Option<fn(&FloorMsg) -> bool>,
    rng: Rng,
    queue: BTreeMap<(Instant, u64), (usize, usize, FloorMsg)>,
    seq: u64,
    /// Every event, with its time and member.
    pub log: Vec<(Instant, usize, FloorEvent)>,
    /// Every message sent, with its time and sender.
    pub sent: Vec<(Instant, usize, FloorMsg)>,
}

/// Member `i`'s id: ids grow with the index, so a lower index outranks.
pub fn id(i: usize) -> NodeId {
    NodeId([i as u8 + 1; 16])
}

pub fn name(i: usize) -> String {
    format!("unit-{i}")
}

impl World {
    /// `n` members on a line (member `i` is `|i - j|` hops from `j`), 10 ms
    /// per hop plus up to 5 ms jitter, no loss.
    pub fn line(n: usize, seed: u64) -> World {
        World::line_with(n, seed, FloorConfig::default())
    }

    pub fn line_with(n: usize, seed: u64, cfg: FloorConfig) -> World {
        let floors = (0..n)
            .map(|i| Floor::new(id(i), name(i), cfg.clone()))
            .collect();
        World {
            now: Instant::ZERO,
            floors,
            hop_delay: ms(10),
            hop_jitter: ms(5),
            hop_loss: 0.0,
            deaf: BTreeSet::new(),
            drop_kind: None,
            rng: Rng::new(seed),
            queue: BTreeMap::new(),
            seq: 0,
            log: Vec::new(),
            sent: Vec::new(),
        }
    }

    pub fn press(&mut self, i: usize, prio: Priority) {
        let now = self.now;
        self.floors[i].press(now, prio);
        self.drain();
    }

    pub fn release(&mut self, i: usize) {
        let now = self.now;
        self.floors[i].release(now);
        self.drain();
    }

    fn drain(&mut self) {
        for i in 0..self.floors.len() {
            while let Some(e) = self.floors[i].poll_event() {
                self.log.push((self.now, i, e));
            }
            while let Some(m) = self.floors[i].poll_msg() {
                self.sent.push((self.now, i, m.clone()));
                self.flood(i, m);
            }
        }
    }

    fn flood(&mut self, from: usize, m: FloorMsg) {
        // Every member decodes what was encoded: the codec is exercised too.
        let bytes = m.encode();
        for to in 0..self.floors.len() {
            if to == from {
                continue;
            }
            let hops = from.abs_diff(to);
            let mut delay = Duration::ZERO;
            let mut lost = false;
            for _ in 0..hops {
                let jitter = self.rng.below(self.hop_jitter.as_micros() as u64 + 1);
                delay += self.hop_delay + Duration::from_micros(jitter);
                lost |= self.rng.chance(self.hop_loss);
            }
            if lost || self.deaf.contains(&to) || self.drop_kind.is_some_and(|f| f(&m)) {
                continue;
            }
            let Ok(copy) = FloorMsg::decode(&bytes) else {
                panic!("a message failed to decode: {m:?}");
            };
            self.seq += 1;
            self.queue
                .insert((self.now + delay, self.seq), (from, to, copy));
        }
    }

    /// Run deliveries and timeouts up to and including `until`.
    pub fn run_until(&mut self, until: Instant) {
        self.drain();
        for _ in 0..1_000_000 {
            let next_msg = self.queue.keys().next().map(|k| k.0);
            let next_timer = self.floors.iter().filter_map(|f| f.poll_timeout()).min();
            let next = match (next_msg, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_msg == Some(next) {
                if let Some((_, (from, to, m))) = self.queue.pop_first() {
                    let now = self.now;
                    self.floors[to].handle(now, id(from), m);
                }
            } else {
                let now = self.now;
                for f in &mut self.floors {
                    if f.poll_timeout().is_some_and(|t| t <= now) {
                        f.handle_timeout(now);
                    }
                }
            }
            self.drain();
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Members that may transmit now.
    pub fn talkers(&self) -> Vec<usize> {
        (0..self.floors.len())
            .filter(|&i| self.floors[i].may_transmit())
            .collect()
    }

    /// The first event of member `i` matching `f` at or after `since`.
    pub fn first_event(
        &self,
        i: usize,
        since: Instant,
        f: impl Fn(&FloorEvent) -> bool,
    ) -> Option<Instant> {
        self.log
            .iter()
            .find(|(t, j, e)| *j == i && *t >= since && f(e))
            .map(|(t, _, _)| *t)
    }
}
