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
}

impl Net {
    fn line(n: usize, names: &[&str]) -> Net {
        let now = Instant::ZERO;
        let mut nodes: Vec<Node> = (0..n)
            .map(|i| {
                let id = Identity::from_secret(&[i as u8 + 1; 32]);
                Node::new(id, Config::default(), now, i as u64)
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
                let mut v = Vec::new();
                if i > 0 {
                    v.push(i - 1);
                }
                if i + 1 < n {
                    v.push(i + 1);
                }
                v
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
