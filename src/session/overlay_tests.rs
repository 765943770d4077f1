//! Calls over real `Node`s: SIP rides control-class data packets with
//! protocol `SIP` across a line of nodes, driven as the daemon drives them.

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use super::*;
use crate::identity::Identity;
use crate::node::{Class, Config, Event, IfaceId, Input, LinkDst, Node};
use crate::wire::proto;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i as u16 + 1),
        7470,
        0,
        0,
    ))
}

struct Net {
    now: Instant,
    nodes: Vec<Node>,
    calls: Vec<Calls>,
    adj: Vec<Vec<usize>>,
    air: BTreeMap<(Instant, u64), (usize, usize, Vec<u8>)>,
    n: u64,
    events: Vec<Vec<(Instant, CallEvent)>>,
    sip_hops: Vec<u8>,
    alive: Vec<bool>,
    loss: f64,
    rng: crate::rng::Rng,
}

impl Net {
    fn line(n: usize, names: &[&str]) -> Net {
        let links: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        Net::new(n, &links, names, 1)
    }

    fn new(n: usize, links: &[(usize, usize)], names: &[&str], seed: u64) -> Net {
        let now = Instant::ZERO;
        let mut nodes: Vec<Node> = (0..n)
            .map(|i| {
                let id = Identity::from_secret(&[i as u8 + 1; 32]);
                Node::new(id, Config::default(), now, seed * 100 + i as u64)
            })
            .collect();
        for node in nodes.iter_mut() {
            node.handle(
                now,
                Input::IfaceUp {
                    iface: IfaceId(0),
                    cost_weight: 256,
                },
            );
        }
        let calls = (0..n)
            .map(|i| Calls::new(nodes[i].id(), names[i].to_string(), CallConfig::default()))
            .collect();
        let adj = (0..n)
            .map(|i| {
                links
                    .iter()
                    .filter_map(|&(a, b)| (a == i).then_some(b).or((b == i).then_some(a)))
                    .collect()
            })
            .collect();
        Net {
            now,
            nodes,
            calls,
            adj,
            air: BTreeMap::new(),
            n: 0,
            events: vec![Vec::new(); n],
            sip_hops: Vec::new(),
            alive: vec![true; n],
            loss: 0.0,
            rng: crate::rng::Rng::new(seed),
        }
    }

    fn id(&self, i: usize) -> NodeId {
        self.nodes[i].id()
    }

    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some((to, bytes)) = self.calls[i].poll_send() {
            if self.nodes[i]
                .send(now, to, Class::Control, proto::SIP, &bytes)
                .is_err()
            {
                self.calls[i].undeliverable(now, to);
            }
        }
        while let Some(e) = self.nodes[i].poll_event() {
            match e {
                Event::Delivered {
                    src,
                    proto: proto::SIP,
                    hops,
                    payload,
                    ..
                } => {
                    self.sip_hops.push(hops);
                    let _ = self.calls[i].handle(now, src, &payload);
                }
                Event::Undeliverable { dst, .. } => self.calls[i].undeliverable(now, dst),
                _ => {}
            }
        }
        while let Some((to, bytes)) = self.calls[i].poll_send() {
            let _ = self.nodes[i].send(now, to, Class::Control, proto::SIP, &bytes);
        }
        while let Some(t) = self.nodes[i].poll_transmit(now) {
            let targets: Vec<usize> = match t.dst {
                LinkDst::Multicast => self.adj[i].clone(),
                LinkDst::Unicast(a) => self.adj[i]
                    .iter()
                    .copied()
                    .filter(|&j| addr(j) == a)
                    .collect(),
            };
            for j in targets {
                if !self.alive[i] || !self.alive[j] || self.rng.chance(self.loss) {
                    continue;
                }
                self.n += 1;
                self.air
                    .insert((now + ms(2), self.n), (i, j, t.data.clone()));
            }
        }
        while let Some(e) = self.calls[i].poll_event() {
            self.events[i].push((now, e));
        }
    }

    fn run(&mut self, d: Duration, mut on_event: impl FnMut(&mut Net, usize, &CallEvent)) {
        let until = self.now + d;
        loop {
            for i in 0..self.nodes.len() {
                let seen = self.events[i].len();
                self.drain(i);
                for k in seen..self.events[i].len() {
                    let e = self.events[i][k].1.clone();
                    on_event(self, i, &e);
                    self.drain(i);
                }
            }
            let timers = (0..self.nodes.len())
                .flat_map(|i| [self.nodes[i].poll_timeout(), self.calls[i].poll_timeout()])
                .flatten()
                .min();
            let next = [self.air.keys().next().map(|k| k.0), timers]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = self.now.max(t);
            let now = self.now;
            if let Some(((at, _), _)) = self.air.first_key_value()
                && *at <= now
            {
                let (_, (from, to, data)) = self.air.pop_first().expect("packet");
                self.nodes[to].handle(
                    now,
                    Input::Receive {
                        iface: IfaceId(0),
                        from: addr(from),
                        data,
                    },
                );
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout().is_some_and(|x| x <= now) {
                    self.nodes[i].handle(now, Input::Timeout);
                }
                if self.calls[i].poll_timeout().is_some_and(|x| x <= now) {
                    self.calls[i].handle_timeout(now);
                }
            }
        }
    }
}

fn offer(label: u32) -> MediaOffer {
    MediaOffer {
        label,
        key: [1; 32],
        key_sig: [2; 64],
        device_key: [3; 32],
        opus_pt: 111,
        bitrate: 24000,
    }
}

#[test]
fn call_over_three_hops_of_overlay() {
    let mut net = Net::line(4, &["alice", "x", "y", "medic-12"]);
    net.run(ms(5000), |_, _, _| {});
    let t0 = net.now;
    let medic = net.id(3);
    let call = net.calls[0]
        .dial(t0, "medic-12", &[medic], offer(9))
        .unwrap();
    // The callee answers the moment it rings.
    net.run(ms(3000), |net, i, e| {
        if let (3, CallEvent::Incoming { call, .. }) = (i, e) {
            let now = net.now;
            net.calls[3].answer(now, *call, offer(10)).unwrap();
        }
    });
    let answered = net.events[0]
        .iter()
        .find_map(|(t, e)| {
            matches!(e, CallEvent::Answered { by, .. } if *by == medic).then_some(*t)
        })
        .expect("answered");
    let setup = answered.saturating_since(t0);
    println!(
        "call setup over 3 hops (INVITE, 180, 200): {} ms",
        setup.as_millis()
    );
    assert!(setup < ms(100), "{setup:?}");
    assert!(net.sip_hops.iter().all(|h| *h == 3), "{:?}", net.sip_hops);
    assert_eq!(net.calls[3].calls()[0].state, CallState::Active);
    let now = net.now;
    net.calls[0].hangup(now, call).unwrap();
    net.run(ms(1000), |_, _, _| {});
    assert!(
        net.events[3].iter().any(
            |(_, e)| matches!(e, CallEvent::Ended { reason, .. } if reason == "remote hangup")
        )
    );
}

#[test]
fn call_to_a_node_not_in_the_mesh_fails_480() {
    let mut net = Net::line(3, &["alice", "x", "y"]);
    net.run(ms(5000), |_, _, _| {});
    let t0 = net.now;
    let ghost = NodeId([0xee; 16]);
    let call = net.calls[0]
        .dial(t0, "medic-12", &[ghost], offer(9))
        .unwrap();
    net.run(ms(9000), |_, _, _| {});
    let failed = net.events[0]
        .iter()
        .find_map(|(t, e)| {
            matches!(e, CallEvent::Failed { call: c, code: 480, .. } if *c == call).then_some(*t)
        })
        .expect("failed 480");
    println!(
        "unreachable reported after {} ms",
        failed.saturating_since(t0).as_millis()
    );
}

/// Dial 3 hops away; the callee answers as it rings. Returns the setup
/// time (dial to Answered) and the call handles.
fn answered_call(net: &mut Net, from: usize, to: usize, name: &str) -> (Option<Duration>, CallId) {
    let t0 = net.now;
    let callee = net.id(to);
    let call = net.calls[from].dial(t0, name, &[callee], offer(9)).unwrap();
    net.run(ms(20_000), |net, i, e| {
        if let CallEvent::Incoming { call, .. } = e
            && i == to
        {
            let now = net.now;
            net.calls[to].answer(now, *call, offer(10)).unwrap();
        }
    });
    let t = net.events[from].iter().find_map(|(t, e)| {
        matches!(e, CallEvent::Answered { call: c, .. } if *c == call).then_some(*t)
    });
    (t.map(|t| t.saturating_since(t0)), call)
}

#[test]
fn call_setup_over_three_lossy_hops() {
    // 10 % loss on every link, each way: hop-by-hop retransmission of
    // control data plus SIP's own retransmission. A call is either set
    // up or fails cleanly with 480; it never hangs.
    let mut setups = Vec::new();
    let mut no_route = Vec::new();
    for seed in 1..=20 {
        let links = [(0, 1), (1, 2), (2, 3)];
        let mut net = Net::new(4, &links, &["alice", "x", "y", "medic"], seed);
        net.loss = 0.1;
        net.run(ms(5000), |_, _, _| {});
        let (setup, call) = answered_call(&mut net, 0, 3, "medic");
        let Some(setup) = setup else {
            assert!(
                net.events[0]
                    .iter()
                    .any(|(_, e)| matches!(e, CallEvent::Failed { code: 480, .. })),
                "seed {seed}: {:?}",
                net.events[0]
            );
            // Only when the callee has no route back to the caller.
            let caller = net.id(0);
            assert!(net.nodes[3].route_to(&caller).is_none(), "seed {seed}");
            no_route.push(seed);
            continue;
        };
        setups.push(setup.as_millis() as u64);
        let now = net.now;
        net.calls[0].hangup(now, call).unwrap();
        net.run(ms(20_000), |_, _, _| {});
        assert_eq!(
            net.calls[3].calls()[0].state,
            CallState::Ended,
            "seed {seed}"
        );
    }
    setups.sort();
    let p = |q: usize| setups[(setups.len() - 1) * q / 100];
    println!(
        "call setup, 3 hops at 10 % loss per link, {} of 20 seeds: p50 {} ms, p95 {} ms, max {} ms; \
         failed 480 for lack of a route back: seeds {no_route:?}",
        setups.len(),
        p(50),
        p(95),
        setups[setups.len() - 1]
    );
    assert!(setups.len() >= 18, "{no_route:?}");
    assert!(p(50) < 200, "{setups:?}");
}

#[test]
fn established_call_survives_the_loss_of_its_relay() {
    // ring6: 0 - 1 - 2 - 3 - 4 - 5 - 0; the call 0 -> 2 goes through 1.
    let links: Vec<(usize, usize)> = (0..6).map(|i| (i, (i + 1) % 6)).collect();
    let mut net = Net::new(6, &links, &["alice", "a", "engine-3", "b", "c", "d"], 7);
    net.run(ms(5000), |_, _, _| {});
    let (setup, call) = answered_call(&mut net, 0, 2, "engine-3");
    assert!(setup.is_some());
    net.alive[1] = false;
    net.run(ms(30_000), |_, _, _| {});
    assert_eq!(net.calls[0].call(call).unwrap().state, CallState::Active);
    assert_eq!(net.calls[2].calls()[0].state, CallState::Active);
    // The BYE finds the other way round.
    let now = net.now;
    net.calls[0].hangup(now, call).unwrap();
    net.run(ms(5000), |_, _, _| {});
    assert!(
        net.events[2].iter().any(
            |(_, e)| matches!(e, CallEvent::Ended { reason, .. } if reason == "remote hangup")
        )
    );
}
