//! A small deterministic world (quinn-proto's `Pair`, generalised to N
//! nodes): fixed per-hop latency, seeded random loss, a clock that jumps to
//! the next event. The full simulator lives in `crate::sim`; this harness
//! keeps the node's own tests free of it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use super::*;
use crate::identity::Identity;
use crate::rng::Rng;
use crate::time::ms;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i as u16 + 1),
        7470,
        0,
        0,
    ))
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Timer(usize, u64),
    Deliver(usize, usize, Vec<u8>),
}

/// Datagrams waiting for a stopped node: (from, bytes).
type SocketBuffer = Vec<(usize, Vec<u8>)>;

pub(crate) struct World {
    pub nodes: Vec<Node>,
    pub alive: Vec<bool>,
    pub adj: Vec<Vec<usize>>,
    now: Instant,
    queue: BinaryHeap<Reverse<(Instant, u64, Ev)>>,
    counter: u64,
    timer_gen: Vec<u64>,
    rng: Rng,
    pub loss: f64,
    latency: Duration,
    pub events: Vec<(usize, Event)>,
    pub event_times: Vec<Instant>,
    /// On-air bytes (with 48 bytes of UDP/IPv6) by packet type number.
    pub bytes_by_type: BTreeMap<u8, u64>,
    /// Drop every packet of this type (wire number) sent to this node.
    pub drop_type_to: Option<(u8, usize)>,
    /// Keep a copy of every packet put on the air: (from, to, bytes).
    pub capture: Option<Vec<(usize, usize, Vec<u8>)>>,
    /// A stopped node's socket buffer: what reached it while stopped
    /// (see [`World::stall`]).
    stalled: Vec<Option<SocketBuffer>>,
}

impl World {
    pub fn new(n: usize, links: &[(usize, usize)], timers: Timers, seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let now = Instant::ZERO;
        let nodes = (0..n)
            .map(|i| {
                let mut secret = [0u8; 32];
                rng.fill(&mut secret);
                let config = Config {
                    timers: timers.clone(),
                    ..Config::default()
                };
                let _ = i;
                Node::new(Identity::from_secret(&secret), config, now, rng.next_u64())
            })
            .collect();
        let mut w = World {
            nodes,
            alive: vec![true; n],
            adj: (0..n)
                .map(|i| {
                    links
                        .iter()
                        .filter_map(|&(a, b)| {
                            if a == i {
                                Some(b)
                            } else if b == i {
                                Some(a)
                            } else {
                                None
                            }
                        })
                        .collect()
                })
                .collect(),
            now,
            queue: BinaryHeap::new(),
            counter: 0,
            timer_gen: vec![0; n],
            rng,
            loss: 0.0,
            latency: ms(2),
            events: Vec::new(),
            event_times: Vec::new(),
            bytes_by_type: BTreeMap::new(),
            drop_type_to: None,
            capture: None,
            stalled: vec![None; n],
        };
        for i in 0..n {
            w.nodes[i].handle(
                now,
                Input::IfaceUp {
                    iface: IfaceId(0),
                    cost_weight: 256,
                },
            );
            w.drain(i);
        }
        w
    }

    pub fn line(n: usize, seed: u64) -> World {
        let links: Vec<_> = (0..n - 1).map(|i| (i, i + 1)).collect();
        World::new(n, &links, Timers::callsign(), seed)
    }

    pub fn ring(n: usize, seed: u64) -> World {
        let links: Vec<_> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        World::new(n, &links, Timers::callsign(), seed)
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.counter += 1;
        self.queue.push(Reverse((at, self.counter, ev)));
    }

    pub fn drain(&mut self, i: usize) {
        if !self.alive[i] {
            return;
        }
        let now = self.now;
        while let Some(t) = self.nodes[i].poll_transmit(now) {
            *self.bytes_by_type.entry(t.data[1]).or_default() += t.data.len() as u64 + 48;
            let targets: Vec<usize> = match t.dst {
                LinkDst::Multicast => self.adj[i].clone(),
                LinkDst::Unicast(a) => self.adj[i]
                    .iter()
                    .copied()
                    .filter(|&j| addr(j) == a)
                    .collect(),
            };
            for j in targets {
                if self.rng.chance(self.loss) || self.drop_type_to == Some((t.data[1], j)) {
                    continue;
                }
                let at = now + self.latency;
                if let Some(c) = &mut self.capture {
                    c.push((i, j, t.data.clone()));
                }
                self.push(at, Ev::Deliver(i, j, t.data.clone()));
            }
        }
        while let Some(e) = self.nodes[i].poll_event() {
            self.events.push((i, e));
            self.event_times.push(now);
        }
        if let Some(t) = self.nodes[i].poll_timeout() {
            self.timer_gen[i] += 1;
            let g = self.timer_gen[i];
            self.push(t.max(now), Ev::Timer(i, g));
        }
    }

    pub fn run_until(&mut self, until: Instant) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until {
                break;
            }
            let Some(Reverse((at, _, ev))) = self.queue.pop() else {
                break;
            };
            self.now = at;
            match ev {
                Ev::Timer(i, g) => {
                    if g != self.timer_gen[i] || !self.alive[i] || self.stalled[i].is_some() {
                        continue;
                    }
                    self.nodes[i].handle(at, Input::Timeout);
                    self.drain(i);
                }
                Ev::Deliver(from, to, data) => {
                    if !self.alive[to] {
                        continue;
                    }
                    if let Some(q) = &mut self.stalled[to] {
                        q.push((from, data));
                        continue;
                    }
                    self.nodes[to].handle(
                        at,
                        Input::Receive {
                            iface: IfaceId(0),
                            from: addr(from),
                            data,
                        },
                    );
                    self.drain(to);
                }
            }
        }
        self.now = until;
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Hand node `to` a datagram now, as if `from` had sent it.
    pub fn inject(&mut self, from: usize, to: usize, data: Vec<u8>) {
        let now = self.now;
        self.nodes[to].handle(
            now,
            Input::Receive {
                iface: IfaceId(0),
                from: addr(from),
                data,
            },
        );
        self.drain(to);
    }

    pub fn kill(&mut self, i: usize) {
        self.alive[i] = false;
    }

    /// Stop node `i` (a SIGSTOP): it runs no timers and reads nothing;
    /// what reaches it waits until [`World::resume`].
    pub fn stall(&mut self, i: usize) {
        self.stalled[i].get_or_insert_with(Vec::new);
    }

    /// The stopped node continues (a SIGCONT): it reads what waited in
    /// its socket buffer, in order, then runs its overdue timers.
    pub fn resume(&mut self, i: usize) {
        let now = self.now;
        for (from, data) in self.stalled[i].take().unwrap_or_default() {
            self.nodes[i].handle(
                now,
                Input::Receive {
                    iface: IfaceId(0),
                    from: addr(from),
                    data,
                },
            );
            self.drain(i);
        }
        self.nodes[i].handle(now, Input::Timeout);
        self.drain(i);
    }

    pub fn send(
        &mut self,
        from: usize,
        to: usize,
        class: Class,
        payload: &[u8],
    ) -> Result<u32, NodeError> {
        let dst = self.nodes[to].id();
        let now = self.now;
        let r = self.nodes[from].send(now, dst, class, 0, payload);
        self.drain(from);
        r
    }

    /// Follow next hops from `from` to `to`; the path of node indices.
    pub fn path(&self, from: usize, to: usize) -> Option<Vec<usize>> {
        let dst = self.nodes[to].id();
        let mut path = vec![from];
        let mut cur = from;
        while cur != to {
            let nh = self.nodes[cur].next_hop(&dst)?;
            cur = self.nodes.iter().position(|n| n.id() == nh)?;
            if path.contains(&cur) || !self.alive[cur] {
                return None;
            }
            path.push(cur);
        }
        Some(path)
    }

    pub fn delivered(&self, at: usize) -> usize {
        self.events
            .iter()
            .filter(|(i, e)| *i == at && matches!(e, Event::Delivered { .. }))
            .count()
    }
}

#[test]
fn two_nodes_become_neighbours_and_route() {
    let mut w = World::line(2, 1);
    w.run_for(ms(1000));
    assert_eq!(w.path(0, 1), Some(vec![0, 1]));
    assert_eq!(w.nodes[0].neighbours(w.now()).len(), 1);
    assert!(w.nodes[0].neighbours(w.now())[0].usable);
}

#[test]
fn line_of_six_relays_through_every_node() {
    let mut w = World::line(6, 2);
    w.run_for(ms(3000));
    assert_eq!(w.path(0, 5), Some(vec![0, 1, 2, 3, 4, 5]));
    let r = w.nodes[0].route_to(&w.nodes[5].id()).unwrap();
    assert_eq!(r.hops, 5);
    for _ in 0..10 {
        w.send(0, 5, Class::Control, b"hello").unwrap();
        w.run_for(ms(20));
    }
    w.run_for(ms(200));
    assert_eq!(w.delivered(5), 10);
    for relay in 1..5 {
        assert!(w.nodes[relay].stats().forwarded >= 10, "relay {relay}");
    }
}

#[test]
fn ring_reroutes_around_a_dead_relay() {
    let mut w = World::ring(6, 3);
    w.run_for(ms(3000));
    let before = w.path(1, 3).unwrap();
    assert_eq!(before, vec![1, 2, 3]);
    w.kill(2);
    let kill_at = w.now();
    let mut resumed = None;
    for k in 0..100 {
        w.send(1, 3, Class::Control, &[k]).unwrap();
        w.run_for(ms(20));
        if resumed.is_none() && w.delivered(3) > 0 {
            resumed = Some(w.now().saturating_since(kill_at));
        }
    }
    let path = w.path(1, 3).unwrap();
    assert_eq!(path, vec![1, 0, 5, 4, 3]);
    let gap = resumed.expect("traffic never resumed");
    assert!(gap < ms(1000), "gap {gap:?}");
}

#[test]
fn lossy_line_still_delivers_control_data() {
    let mut w = World::line(5, 4);
    w.loss = 0.05;
    w.run_for(ms(3000));
    assert!(w.path(0, 4).is_some());
    for k in 0..200u32 {
        w.send(0, 4, Class::Control, &k.to_be_bytes()).unwrap();
        w.run_for(ms(20));
    }
    w.run_for(ms(1000));
    assert!(w.delivered(4) >= 199, "delivered {}", w.delivered(4));
}

/// Random geometric graph for quick experiments: `n` nodes in a
/// `w`×`h` rectangle, linked within `range`; `None` if disconnected.
pub(crate) fn geometric(
    n: usize,
    w: f64,
    h: f64,
    range: f64,
    rng: &mut Rng,
) -> Option<Vec<(usize, usize)>> {
    let pts: Vec<(f64, f64)> = (0..n).map(|_| (rng.f64() * w, rng.f64() * h)).collect();
    let mut links = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let d = ((pts[a].0 - pts[b].0).powi(2) + (pts[a].1 - pts[b].1).powi(2)).sqrt();
            if d <= range {
                links.push((a, b));
            }
        }
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(x) = stack.pop() {
        for &(a, b) in &links {
            let y = if a == x {
                b
            } else if b == x {
                a
            } else {
                continue;
            };
            if !seen[y] {
                seen[y] = true;
                stack.push(y);
            }
        }
    }
    seen.iter().all(|s| *s).then_some(links)
}

#[test]
#[ignore = "tuning aid: cargo test --release --lib tuning_100 -- --ignored --nocapture"]
fn tuning_100() {
    for seed in 1..4u64 {
        let mut rng = Rng::new(seed);
        let links = loop {
            if let Some(l) = geometric(100, 1400.0, 500.0, 160.0, &mut rng) {
                break l;
            }
        };
        let mut w = World::new(100, &links, Timers::callsign(), seed);
        w.loss = 0.05;
        let mut conv = None;
        for step in 0..100 {
            w.run_for(ms(50));
            let all = (0..100).all(|a| (0..100).all(|b| a == b || w.path(a, b).is_some()));
            if all {
                conv = Some(step * 50 + 50);
                break;
            }
        }
        w.run_for(ms(5000));
        let b0 = w.bytes_by_type.clone();
        let before: u64 = w
            .nodes
            .iter()
            .map(|n| n.stats().tx_protocol_bytes + 48 * n.stats().tx_packets)
            .sum();
        w.run_for(ms(20000));
        let after: u64 = w
            .nodes
            .iter()
            .map(|n| n.stats().tx_protocol_bytes + 48 * n.stats().tx_packets)
            .sum();
        let bps = (after - before) as f64 * 8.0 / 20.0 / 100.0;
        for (t, b) in &w.bytes_by_type {
            eprintln!(
                "  type {t}: {:.0} bit/s/node",
                (b - b0.get(t).copied().unwrap_or(0)) as f64 * 8.0 / 20.0 / 100.0
            );
        }
        let probes: u64 = w.nodes.iter().map(|n| n.stats().neighbour_losses).sum();
        eprintln!("  neighbour losses {probes}");
        // Flows with relay kills.
        let mut gaps = Vec::new();
        let mut sent = 0u64;
        for k in 0..8 {
            let (a, b) = loop {
                let a = rng.below(100) as usize;
                let b = rng.below(100) as usize;
                if w.alive[a] && w.alive[b] && w.path(a, b).is_some_and(|p| p.len() >= 5) {
                    break (a, b);
                }
            };
            let path = w.path(a, b).unwrap();
            let victim = path[path.len() / 2];
            for _ in 0..10 {
                w.send(a, b, Class::Control, &[k]).unwrap();
                sent += 1;
                w.run_for(ms(20));
            }
            w.kill(victim);
            let t0 = w.now();
            let base = w.delivered(b);
            let mut gap = None;
            for _ in 0..100 {
                let before = w.delivered(b);
                w.send(a, b, Class::Control, &[k]).unwrap();
                sent += 1;
                w.run_for(ms(20));
                let _ = before;
                if gap.is_none() && w.delivered(b) > base + 1 {
                    gap = Some(w.now().saturating_since(t0).as_millis());
                }
            }
            gaps.push(gap);
        }
        w.run_for(ms(2000));
        let delivered: usize = w
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Delivered { .. }))
            .count();
        eprintln!("  repair gaps {gaps:?} delivered {delivered}/{sent}");
        let maxhops = (0..100)
            .filter_map(|b| w.path(0, b))
            .map(|p| p.len() - 1)
            .max();
        eprintln!(
            "seed {seed} links {} converged {conv:?} ms, idle {bps:.0} bit/s/node, ecc(0) {maxhops:?}",
            links.len()
        );
    }
}

#[test]
#[ignore = "tuning aid: cargo test --release --lib tuning_1000 -- --ignored --nocapture"]
#[allow(clippy::disallowed_methods)] // wall time of the run is the point
fn tuning_1000() {
    let mut rng = Rng::new(7);
    let links = loop {
        if let Some(l) = geometric(1000, 4400.0, 1600.0, 160.0, &mut rng) {
            break l;
        }
    };
    let mut w = World::new(1000, &links, Timers::callsign(), 7);
    w.loss = 0.05;
    let t0 = std::time::Instant::now();
    let secs: u64 = std::env::var("T1000")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    for s in 0..secs / 5 {
        w.run_for(ms(5000));
        eprintln!(
            "{}s sim, {:?} wall, bytes by type {:?}",
            (s + 1) * 5,
            t0.elapsed(),
            w.bytes_by_type
        );
    }
    let routes: usize = w.nodes.iter().map(|n| n.routes().len()).sum();
    eprintln!("links {} avg routes {}", links.len(), routes / 1000);
    for (t, b) in &w.bytes_by_type {
        eprintln!("  type {t}: {} kB total", b / 1000);
    }
    let req: u64 = w.nodes.iter().map(|n| n.stats().seqno_requests_sent).sum();
    eprintln!("  seqno requests {req}");
}

/// A flooded packet reaches every node of a line: each relay was chosen
/// as a multipoint relay by the node it heard the packet from.
#[test]
fn flood_crosses_a_line_of_five() {
    let mut w = World::line(5, 9);
    w.run_for(ms(3000));
    let group = crate::identity::NodeId::from_public_key(&[7; 32]);
    for k in 0..10u8 {
        let now = w.now();
        w.nodes[0]
            .flood(now, group, Class::Voice, &[k; 40])
            .expect("flood");
        w.drain(0);
        w.run_for(ms(20));
    }
    w.run_for(ms(200));
    for at in 1..5 {
        let got = w
            .events
            .iter()
            .filter(|(i, e)| *i == at && matches!(e, Event::FloodDelivered { .. }))
            .count();
        assert_eq!(got, 10, "node {at} got {got} of 10 floods");
    }
}

/// A talker sends its voice flood a second time only when its relay was
/// not heard passing the first on: on a clean line every repeat is saved
/// by the relay's copy; when the relay loses the talker's floods, every
/// one goes out twice.
#[test]
fn a_talker_repeats_only_what_its_relay_was_not_heard_relaying() {
    use crate::wire::PacketType;
    let talk = |w: &mut World| {
        let group = crate::identity::NodeId::from_public_key(&[7; 32]);
        for k in 0..10u8 {
            let now = w.now();
            w.nodes[0]
                .flood(now, group, Class::Voice, &[k; 40])
                .expect("flood");
            w.drain(0);
            w.run_for(ms(20));
        }
        w.run_for(ms(200));
        let s = w.nodes[0].stats();
        (s.flood_repeats_sent, s.flood_repeats_saved)
    };
    let mut w = World::line(3, 11);
    w.run_for(ms(3000));
    assert_eq!(talk(&mut w), (0, 10), "clean line: every repeat saved");
    let mut w = World::line(3, 11);
    w.run_for(ms(3000));
    w.drop_type_to = Some((PacketType::Flood as u8, 1));
    let (sent, saved) = talk(&mut w);
    assert_eq!((sent, saved), (10, 0), "relay deaf to floods: all repeated");
}

/// A relay that missed two of a talker's floods gets their frames with the
/// next one (it carries the earlier frames) and passes that on; its own
/// relay was not heard passing it on, so it goes out once more: below a
/// lossy stretch the packets would otherwise thin out hop by hop and the
/// frames they carry arrive late in batches. Heard, the repeat is saved.
#[test]
fn a_relay_that_recovered_frames_repeats_them_unless_its_relay_was_heard() {
    use crate::wire::PacketType;
    let run = |deaf: bool| {
        let mut w = World::line(4, 5);
        w.run_for(ms(3000));
        // The talker's floods, made in advance and silenced: the test
        // decides which reach node 1.
        let group = crate::identity::NodeId::from_public_key(&[7; 32]);
        let t0 = w.now();
        let mut floods = Vec::new();
        for k in 0..5u8 {
            let at = t0 + ms(20 * u64::from(k));
            w.nodes[0]
                .flood(at, group, Class::Voice, &[k; 40])
                .expect("flood");
            while let Some(t) = w.nodes[0].poll_transmit(at) {
                if t.data[1] == PacketType::Flood as u8 && floods.len() == usize::from(k) {
                    floods.push(t.data);
                }
            }
        }
        w.kill(0);
        if deaf {
            // Node 1 hears nothing of node 2's copies.
            w.drop_type_to = Some((PacketType::Flood as u8, 1));
        }
        for (k, f) in floods.into_iter().enumerate() {
            // Floods 2 and 3 are lost on the way to node 1.
            if k != 2 && k != 3 {
                w.inject(0, 1, f);
            }
            w.run_for(ms(20));
        }
        w.run_for(ms(100));
        let s = w.nodes[1].stats();
        (s.flood_repeats_sent, s.flood_repeats_saved)
    };
    assert_eq!(run(true), (1, 0), "recovered, relay not heard: repeated");
    assert_eq!(run(false), (0, 1), "recovered, relay heard: saved");
}

/// A node that stalls while probing a suspect neighbour (a busy handset,
/// a daemon descheduled) gives each remaining probe its interval after it
/// wakes; it does not fire them back to back and declare a live
/// neighbour dead before an answer could come.
#[test]
fn a_stalled_node_does_not_rush_its_probes() {
    let mut w = World::line(2, 7);
    w.run_for(Duration::from_secs(3));
    assert!(w.nodes[0].next_hop(&w.nodes[1].id()).is_some());
    // Nothing from node 1 for longer than the idle hold: node 0 suspects
    // it and sends its first probe, which is lost.
    let t = w.now() + Duration::from_secs(3);
    w.nodes[0].handle(t, Input::Timeout);
    while w.nodes[0].poll_transmit(t).is_some() {}
    // Node 0 stalls 300 ms, then runs its timers as a daemon does: again
    // and again while the next deadline is already past.
    let late = t + ms(300);
    for _ in 0..50 {
        w.nodes[0].handle(late, Input::Timeout);
        while w.nodes[0].poll_transmit(late).is_some() {}
    }
    let mut died = false;
    while let Some(e) = w.nodes[0].poll_event() {
        died |= matches!(e, Event::NeighbourDown { .. });
    }
    assert!(!died, "declared dead with no time for an answer");
}

/// The one hello announcing the slow-down from start-up to idle hellos is
/// lost: the neighbour must not count a miss every start-up interval of
/// the idle gap. It did, and its cost of the link tripled for seconds;
/// in a 1000-node cold start, the swings ran across the mesh as metric
/// changes and seqno requests, and convergence took 16 s instead of 2.
#[test]
fn a_lost_slow_down_hello_costs_the_link_nothing() {
    use crate::wire::PacketType;
    let t = Timers::callsign();
    let mut w = World::line(2, 3);
    let sent = |w: &World| w.nodes[0].ifaces[&IfaceId(0)].hellos_sent;
    while sent(&w) < t.startup_hellos {
        w.run_for(ms(1));
    }
    let key = LinkKey {
        iface: IfaceId(0),
        id: w.nodes[0].id(),
    };
    let before = w.nodes[1].nbrs.get(&key).expect("neighbour").routing_cost;
    assert_ne!(before, crate::link::INFINITY);
    // Node 0's next multicast hello, its first idle one, is lost.
    w.drop_type_to = Some((PacketType::Hello as u8, 1));
    while sent(&w) == t.startup_hellos {
        w.run_for(ms(1));
    }
    w.drop_type_to = None;
    // Just before its next hello, about an idle interval later.
    w.run_for(t.hello_idle.mul_f64(0.9));
    let n = w.nodes[1].nbrs.get(&key).expect("neighbour");
    assert!(n.rx.ratio() > 0.8, "reception ratio {}", n.rx.ratio());
    assert_eq!(n.routing_cost, before);
}

/// Node `from` hands node `to` a request, and what every node sent for
/// `run` after it: the packets of the request tests below.
fn capture_request(
    w: &mut World,
    from: usize,
    to: usize,
    req: &crate::wire::control::Request,
    run: Duration,
) -> Vec<(usize, usize, Vec<u8>)> {
    use crate::wire::{Header, PacketType, control};
    let body = control::encode(req);
    let pkt = Header::link(PacketType::Request, 0, w.nodes[from].id(), 0).to_packet(&body);
    w.capture = Some(Vec::new());
    let at = w.now();
    w.push(at, Ev::Deliver(from, to, pkt));
    w.run_for(run);
    w.capture.take().unwrap_or_default()
}

/// A seqno request crosses several hops and its answer comes back the
/// same way, each packet unacknowledged: a node on the request path that
/// gets the new seqno must hand it to the neighbour that asked through it
/// by unicast, and once more shortly after, not only in one multicast
/// update. After an idle relay died, one lost answer left a starving
/// region waiting for a retry seconds later.
#[test]
fn a_requested_seqno_goes_back_to_the_asker_twice_by_unicast() {
    use crate::wire::control::{self, Request, Update};
    use crate::wire::{Header, PacketType, flags};
    let mut w = World::line(4, 5);
    w.run_for(ms(3000));
    let dest = w.nodes[3].id();
    let held = w.nodes[1].route_to(&dest).expect("route").seqno;
    // Node 0 asks node 1 for the next seqno of node 3, which node 1 has
    // to fetch through node 2.
    let want = held.wrapping_add(1);
    let req = Request::Seqno {
        dest,
        seqno: want,
        hop_count: 8,
        origin: w.nodes[0].id(),
    };
    let mut answers = 0;
    for (from, to, data) in capture_request(&mut w, 0, 1, &req, ms(400)) {
        let Ok((h, body)) = Header::parse(&data) else {
            continue;
        };
        if from == 1 && to == 0 && h.ty == PacketType::Update && h.flags & flags::ANSWER != 0 {
            let upd: Update = control::decode(body).expect("update");
            answers += upd
                .entries
                .iter()
                .filter(|e| e.dest == dest && e.seqno == want)
                .count();
        }
    }
    assert_eq!(answers, 2, "unicast answers from the request path");
    assert_eq!(w.nodes[0].route_to(&dest).map(|r| r.seqno), Some(want));
}

/// A forwarded seqno request goes twice even over a clean link: a link
/// losing a few percent often looks clean in a 16-hello window, and one
/// lost copy stalled a repair for a retry.
#[test]
fn a_forwarded_request_goes_twice_over_a_clean_link() {
    use crate::wire::control::Request;
    use crate::wire::{Header, PacketType};
    let mut w = World::line(3, 6);
    w.run_for(ms(3000));
    let dest = w.nodes[2].id();
    let held = w.nodes[1].route_to(&dest).expect("route").seqno;
    let req = Request::Seqno {
        dest,
        seqno: held.wrapping_add(1),
        hop_count: 8,
        origin: w.nodes[0].id(),
    };
    let copies = capture_request(&mut w, 0, 1, &req, ms(100))
        .iter()
        .filter(|(from, to, data)| {
            *from == 1
                && *to == 2
                && Header::parse(data).is_ok_and(|(h, _)| h.ty == PacketType::Request)
        })
        .count();
    assert_eq!(copies, 2);
}

#[test]
fn a_request_for_table_parts_gets_those_parts_only() {
    use crate::wire::control::{self, Request, Update};
    use crate::wire::{Header, PacketType, flags};
    let mut w = World::line(3, 4);
    w.run_for(ms(3000));
    // Node 0 asks node 1 for parts 1 and 3 of a 3-part table. Node 1's
    // table (3 routes) is one part now: part 1 carries all of it, part 3
    // (the last) comes empty, and part 2 does not come.
    let req = Request::TableParts {
        parts: 3,
        missing: 0b101,
    };
    let mut got: Vec<(u32, usize)> = Vec::new();
    for (from, to, data) in capture_request(&mut w, 0, 1, &req, ms(200)) {
        let Ok((h, body)) = Header::parse(&data) else {
            continue;
        };
        if from == 1 && to == 0 && h.ty == PacketType::Update && h.flags & flags::TABLE != 0 {
            let upd: Update = control::decode(body).expect("update");
            got.push((h.seq, upd.entries.len()));
        }
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (crate::link::table_tag(0, 3), 3),
            (crate::link::table_tag(2, 3), 0)
        ]
    );
}

/// A node chosen as relay by a neighbour whose copy of a voice flood came
/// second holds its relaying back one repeat delay: it sends if a
/// neighbour of its own is still out of reach of every transmitter heard,
/// and saves the transmission if one of them covered it meanwhile.
#[test]
fn a_relay_holds_back_a_second_copy_until_it_knows_who_is_left() {
    use crate::wire::PacketType;
    // 0 - 1 - 2 - 4, and 3 hangs off 1 alone.
    let run = |three_heard: bool| {
        let mut w = World::new(5, &[(0, 1), (1, 2), (1, 3), (2, 4)], Timers::callsign(), 9);
        w.run_for(ms(3000));
        let group = crate::identity::NodeId::from_public_key(&[7; 32]);
        let at = w.now();
        w.nodes[0]
            .flood(at, group, Class::Voice, &[1; 40])
            .expect("flood");
        let mut flood = None;
        while let Some(t) = w.nodes[0].poll_transmit(at) {
            if t.data[1] == PacketType::Flood as u8 && flood.is_none() {
                flood = Some(t.data);
            }
        }
        let flood = flood.expect("the talker's flood");
        w.kill(0);
        // Node 0 no longer counts on node 1 to relay (its first copy
        // obliges nothing); node 2 still does.
        let key = |w: &World, i: usize| LinkKey {
            iface: IfaceId(0),
            id: w.nodes[i].id(),
        };
        let (k0, k2) = (key(&w, 0), key(&w, 2));
        w.nodes[1].nbrs.get_mut(&k0).expect("node 0").mpr_selector = false;
        assert!(w.nodes[1].nbrs.get(&k2).expect("node 2").mpr_selector);
        // Node 2's copy, as it would relay it on.
        let mut relayed = flood.clone();
        crate::wire::decrement_hop_limit(&mut relayed).expect("hop limit");
        w.inject(0, 1, flood);
        w.inject(2, 1, relayed.clone());
        if three_heard {
            w.inject(3, 1, relayed);
        }
        let before = w.nodes[1].stats();
        assert_eq!(before.flood_relayed, 0, "nothing relayed at once");
        w.run_for(ms(50));
        let s = w.nodes[1].stats();
        (s.flood_relayed, s.flood_relays_held)
    };
    assert_eq!(run(false), (1, 0), "node 3 out of reach: relayed");
    assert_eq!(run(true), (0, 1), "node 3 heard transmitting: held");
}
