//! Small networks of Directories in one test: every message is encoded,
//! delivered to linked neighbours after a fixed delay and decoded, with a
//! fake clock that jumps to the next delivery or timeout.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::identity::NodeId;
use crate::time::ms;

struct Net {
    now: Instant,
    dirs: Vec<Directory>,
    index: BTreeMap<NodeId, usize>,
    links: BTreeSet<(usize, usize)>,
    queue: BTreeMap<(Instant, u64), (usize, NodeId, Vec<u8>)>,
    seq: u64,
    delay: Duration,
    /// Bytes and messages put on the air (a message to all neighbours is
    /// one transmission, as on a shared radio channel).
    tx_bytes: u64,
    tx_msgs: u64,
    events: Vec<Vec<Event>>,
    /// The next this many messages from `.0` to `.1` are lost.
    drop_next: BTreeMap<(usize, usize), u32>,
}

impl Net {
    fn new(n: usize, cfg: NamesConfig, delay: Duration) -> Self {
        let dirs: Vec<Directory> = (0..n).map(|i| directory(i, cfg.clone())).collect();
        let index = dirs.iter().enumerate().map(|(i, d)| (d.id(), i)).collect();
        Net {
            now: Instant::ZERO,
            dirs,
            index,
            links: BTreeSet::new(),
            queue: BTreeMap::new(),
            seq: 0,
            delay,
            tx_bytes: 0,
            tx_msgs: 0,
            events: vec![Vec::new(); n],
            drop_next: BTreeMap::new(),
        }
    }

    fn id(&self, i: usize) -> NodeId {
        self.dirs[i].id()
    }

    fn line(n: usize, cfg: NamesConfig) -> Self {
        let mut net = Net::new(n, cfg, ms(10));
        for i in 1..n {
            net.connect(i - 1, i);
        }
        net
    }

    fn connect(&mut self, a: usize, b: usize) {
        self.links.insert((a, b));
        self.links.insert((b, a));
        let (ia, ib) = (self.id(a), self.id(b));
        self.dirs[a].on_neighbour_up(self.now, ib);
        self.dirs[b].on_neighbour_up(self.now, ia);
        self.flush(a);
        self.flush(b);
    }

    fn flush(&mut self, i: usize) {
        let from = self.id(i);
        while let Some((dest, msg)) = self.dirs[i].poll_output() {
            let bytes = msg.encode();
            self.tx_bytes += bytes.len() as u64;
            self.tx_msgs += 1;
            let targets: Vec<usize> = match dest {
                Dest::Neighbour(id) => self.index.get(&id).copied().into_iter().collect(),
                Dest::AllNeighbours => self
                    .links
                    .iter()
                    .filter(|l| l.0 == i)
                    .map(|l| l.1)
                    .collect(),
            };
            for j in targets {
                if let Some(k) = self.drop_next.get_mut(&(i, j))
                    && *k > 0
                {
                    *k -= 1;
                    continue;
                }
                self.seq += 1;
                self.queue
                    .insert((self.now + self.delay, self.seq), (j, from, bytes.clone()));
            }
        }
        self.events[i].extend(std::iter::from_fn(|| self.dirs[i].poll_event()));
    }

    /// Advance to the next delivery or timeout; false if that is after `end`.
    fn step(&mut self, end: Instant) -> bool {
        let next_q = self.queue.keys().next().map(|k| k.0);
        let next_t = self.dirs.iter().filter_map(|d| d.poll_timeout()).min();
        let Some(t) = next_q.into_iter().chain(next_t).min() else {
            return false;
        };
        if t > end {
            self.now = end;
            return false;
        }
        self.now = self.now.max(t);
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let (j, from, bytes) = entry.remove();
            let linked = self
                .index
                .get(&from)
                .is_some_and(|f| self.links.contains(&(*f, j)));
            if linked {
                self.dirs[j].handle_bytes(self.now, from, &bytes).unwrap();
                self.flush(j);
            }
        }
        for i in 0..self.dirs.len() {
            if self.dirs[i].poll_timeout().is_some_and(|t| t <= self.now) {
                self.dirs[i].handle_timeout(self.now);
                self.flush(i);
            }
        }
        true
    }

    /// Run until `done` holds (returns when) or `end` passes.
    fn run_until(&mut self, end: Instant, done: impl Fn(&Net) -> bool) -> Option<Instant> {
        loop {
            if done(self) {
                return Some(self.now);
            }
            if !self.step(end) {
                return done(self).then_some(self.now);
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end, |_| false);
    }

    fn converged(&self) -> bool {
        let d0 = self.dirs[0].store().digest(self.now);
        self.dirs.iter().all(|d| d.store().digest(self.now) == d0)
    }

    fn resolves(&self, i: usize, name: &str) -> Vec<NodeId> {
        holders(&self.dirs[i], self.now, name)
    }
}

#[test]
fn a_claim_crosses_a_line_of_20() {
    let mut net = Net::line(20, NamesConfig::default());
    net.run_for(ms(2_000));
    let (bytes0, start) = (net.tx_bytes, net.now);
    net.dirs[0].local_claim(start, "medic-12", false).unwrap();
    net.flush(0);
    let far = net
        .run_until(start + ms(5_000), |n| {
            n.resolves(19, "medic-12") == vec![n.id(0)]
        })
        .expect("claim reaches the far end");
    let took = far.saturating_since(start).as_millis();
    let bytes = net.tx_bytes - bytes0;
    println!(
        "line of 20, 10 ms per hop: claim resolved 19 hops away after {took} ms, {bytes} bytes on the air"
    );
    assert!(took <= 19 * 20, "{took} ms");
    // One transmission per node: the rumour stops where it was known.
    net.run_for(ms(1_000));
    assert!(net.converged());
    let per_record = (net.tx_bytes - bytes0) / 20;
    assert!(per_record < 400, "{per_record} bytes per node");
}

#[test]
fn a_clean_line_echoes_every_rumour_and_repeats_none() {
    // Each node hears its neighbours relay the claim (the far end relays
    // it back), so nobody pushes it a second time.
    let mut net = Net::line(20, NamesConfig::default());
    net.run_for(ms(2_000));
    net.dirs[0].local_claim(net.now, "medic-12", false).unwrap();
    net.flush(0);
    net.run_for(ms(2_000));
    assert!(net.converged());
    let repeated: u64 = net.dirs.iter().map(|d| d.stats().records_repeated).sum();
    assert_eq!(repeated, 0);
}

#[test]
fn a_rumour_lost_three_times_on_the_last_link_still_arrives() {
    // The edge of a mesh: node 2 hears only node 1, and loses its first
    // three pushes. Node 1 has not heard node 2 echo the claim, so it
    // pushes again until it does, well before any digest (10 s).
    let mut net = Net::line(3, NamesConfig::default());
    net.run_for(ms(2_000));
    net.drop_next.insert((1, 2), 3);
    let start = net.now;
    net.dirs[0].local_claim(start, "medic-12", false).unwrap();
    net.flush(0);
    let got = net
        .run_until(start + ms(5_000), |n| {
            n.resolves(2, "medic-12") == vec![n.id(0)]
        })
        .expect("the claim reaches node 2");
    let took = got.saturating_since(start).as_millis();
    println!("claim lost 3 times on the last hop arrived after {took} ms");
    assert!(took < 1_000, "{took} ms");
    assert_eq!(net.dirs[1].stats().records_repeated, 3);
    // Echoed at last: no further repeats.
    net.run_for(ms(2_000));
    assert_eq!(net.dirs[1].stats().records_repeated, 3);
    assert_eq!(net.dirs[0].stats().records_repeated, 0);
}

#[test]
fn a_refresh_is_not_repeated_when_lost() {
    // Refreshes are most of the idle cost: a lost one waits for the
    // digests instead of being repeated.
    let mut net = Net::line(3, NamesConfig::default());
    net.dirs[0].local_claim(net.now, "medic-12", false).unwrap();
    net.flush(0);
    net.run_for(ms(2_000));
    assert!(net.converged());
    net.drop_next.insert((1, 2), 1);
    assert!(net.dirs[0].refresh(net.now, "medic-12"));
    net.flush(0);
    net.run_for(ms(1_000));
    assert!(!net.converged());
    assert_eq!(net.dirs[1].stats().records_repeated, 0);
    let end = net.now + ms(30_000);
    assert!(net.run_until(end, Net::converged).is_some());
}

#[test]
fn idle_traffic_is_small() {
    let mut net = Net::line(20, NamesConfig::default());
    for i in 0..20 {
        net.dirs[i]
            .local_claim(net.now, &format!("unit-{i}"), false)
            .unwrap();
        net.flush(i);
    }
    net.run_for(ms(10_000));
    assert!(net.converged());
    // A full refresh cycle (1200 s lease, refreshed at 600 s), all idle.
    let (b0, m0, t0) = (net.tx_bytes, net.tx_msgs, net.now);
    net.run_for(Duration::from_secs(600));
    let secs = net.now.saturating_since(t0).as_secs_f64();
    let bits_per_node = (net.tx_bytes - b0) as f64 * 8.0 / secs / 20.0;
    println!(
        "20 nodes idle, one name each: {:.1} bit/s per node ({} messages in {secs:.0} s)",
        bits_per_node,
        net.tx_msgs - m0
    );
    assert!(net.converged());
    assert!(bits_per_node < 200.0, "{bits_per_node}");
}

#[test]
fn healed_partition_converges_by_anti_entropy() {
    let cfg = NamesConfig::default();
    let mut net = Net::new(20, cfg, ms(10));
    for i in 1..20 {
        if i != 10 {
            net.connect(i - 1, i);
        }
    }
    for i in 0..20 {
        net.dirs[i]
            .local_claim(net.now, &format!("unit-{i}"), false)
            .unwrap();
        net.dirs[i]
            .local_claim(net.now, "fireground-crew", false)
            .unwrap();
        net.flush(i);
    }
    net.run_for(ms(5_000));
    assert!(!net.converged());
    let (b0, start) = (net.tx_bytes, net.now);
    net.connect(9, 10);
    let when = net
        .run_until(start + ms(10_000), Net::converged)
        .expect("halves converge");
    let took = when.saturating_since(start).as_millis();
    println!(
        "two halves of a line of 20 (40 records) healed: directories equal after {took} ms, {} bytes",
        net.tx_bytes - b0
    );
    assert!(took <= 2_000, "{took} ms");
    assert_eq!(net.resolves(0, "fireground-crew").len(), 20);
}

/// Two sides, each with a `command`, meet: one deterministic winner on
/// both sides, both holders told, the loser withdraws.
#[test]
fn partition_merge_of_two_commands() {
    for (wall_a, wall_b) in [(1_000_000, 1_005_000), (1_005_000, 1_000_000), (7, 7)] {
        let mut net = Net::new(6, NamesConfig::default(), ms(10));
        for (a, b) in [(0, 1), (1, 2), (3, 4), (4, 5)] {
            net.connect(a, b);
        }
        net.dirs[0].set_wall_clock(net.now, wall_a);
        net.dirs[3].set_wall_clock(net.now, wall_b);
        net.dirs[0].local_claim(net.now, "command", true).unwrap();
        net.dirs[3].local_claim(net.now, "command", true).unwrap();
        net.flush(0);
        net.flush(3);
        net.run_for(ms(2_000));
        assert_eq!(net.resolves(2, "command"), vec![net.id(0)]);
        assert_eq!(net.resolves(5, "command"), vec![net.id(3)]);
        net.connect(2, 3);
        net.run_for(ms(2_000));
        let (winner, loser) = if wall_a < wall_b || (wall_a == wall_b && net.id(0) < net.id(3)) {
            (0, 3)
        } else {
            (3, 0)
        };
        for i in 0..6 {
            assert_eq!(net.resolves(i, "command"), vec![net.id(winner)], "node {i}");
        }
        let told = Event::ExclusiveConflict {
            name: "command".into(),
            winner: net.id(winner),
            loser: net.id(loser),
        };
        assert!(net.events[winner].contains(&told));
        assert!(net.events[loser].contains(&told));
        assert!(
            net.events[loser]
                .iter()
                .any(|e| matches!(e, Event::Withdrawn { .. }))
        );
        assert!(net.dirs[loser].held().is_empty());
        assert_eq!(net.dirs[winner].held(), vec![("command".to_string(), true)]);
        assert!(net.converged());
    }
}

/// `command` moves from node 0 to node 3 by hand-over; a claim by node 1
/// is refused; a node that claimed it unaware, later, loses on meeting.
#[test]
fn hand_over_then_concurrent_claims_lose() {
    let mut net = Net::new(5, NamesConfig::default(), ms(10));
    for i in 1..4 {
        net.connect(i - 1, i);
    }
    for i in 0..5 {
        net.dirs[i].set_wall_clock(net.now, 1_000_000 + i as u64);
    }
    net.dirs[0].local_claim(net.now, "command", true).unwrap();
    net.flush(0);
    net.run_for(ms(1_000));
    let new = net.id(3);
    net.dirs[0].local_handover(net.now, "command", new).unwrap();
    net.flush(0);
    // Node 4, off on its own, claims the role it has never heard of.
    net.dirs[4].local_claim(net.now, "command", true).unwrap();
    net.flush(4);
    net.run_for(ms(1_000));
    assert!(net.events[3].contains(&Event::HandoverReceived {
        name: "command".into(),
        from: net.id(0)
    }));
    for i in 0..4 {
        assert_eq!(net.resolves(i, "command"), vec![new], "node {i}");
    }
    assert!(net.dirs[0].held().is_empty());
    assert_eq!(
        net.dirs[1].local_claim(net.now, "command", true),
        Err(NamesError::Refused(Refusal::HeldBy { holder: new }))
    );
    net.connect(3, 4);
    net.run_for(ms(2_000));
    for i in 0..5 {
        assert_eq!(net.resolves(i, "command"), vec![new], "node {i}");
    }
    let told = Event::ExclusiveConflict {
        name: "command".into(),
        winner: new,
        loser: net.id(4),
    };
    assert!(net.events[3].contains(&told) && net.events[4].contains(&told));
    assert!(net.dirs[4].held().is_empty());
    assert!(net.converged());
}

#[test]
fn a_stopped_holder_stops_resolving_within_its_lease() {
    let mut net = Net::line(5, config(60));
    net.dirs[4].local_claim(net.now, "medic-12", false).unwrap();
    net.flush(4);
    net.run_for(ms(3_000));
    assert_eq!(net.resolves(0, "medic-12"), vec![net.id(4)]);
    // Node 4 stops: its link goes and it never refreshes again.
    net.links.retain(|l| l.0 != 4 && l.1 != 4);
    let (now, id4) = (net.now, net.id(4));
    net.dirs[3].on_neighbour_down(now, id4);
    let stop = net.now;
    let gone = net
        .run_until(stop + ms(61_000), |n| n.resolves(0, "medic-12").is_empty())
        .expect("lease ends");
    assert!(gone.saturating_since(stop) <= Duration::from_secs(60));
}
