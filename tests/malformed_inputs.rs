//! Hostile input never panics a node (str0m's malformed-packet-injection
//! habit): arbitrary datagrams, truncated and bit-flipped real packets, and
//! every input that once made a decoder fail badly, kept here for good.

use std::net::SocketAddr;

use callsign::identity::{Identity, NodeId};
use callsign::node::{Config, IfaceId, Input, Node};
use callsign::time::Instant;
use callsign::wire::control::{self, Hello, Ihu, Request, RouteEntry, Update};
use callsign::wire::flow::FlowPacket;
use callsign::wire::{Header, PacketType, VERSION};
use proptest::prelude::*;

fn node() -> (Node, Instant) {
    let now = Instant::ZERO;
    let mut n = Node::new(Identity::from_secret(&[5; 32]), Config::default(), now, 3);
    n.handle(
        now,
        Input::IfaceUp {
            iface: IfaceId(0),
            cost_weight: 256,
        },
    );
    (n, now)
}

fn feed(n: &mut Node, now: Instant, from: SocketAddr, data: Vec<u8>) {
    n.handle(
        now,
        Input::Receive {
            iface: IfaceId(0),
            from,
            data,
        },
    );
    while n.poll_transmit(now).is_some() {}
    while n.poll_event().is_some() {}
}

fn from() -> SocketAddr {
    "[fe80::2]:7470".parse().expect("literal address")
}

/// Real packets of every type, to mutate.
fn samples() -> Vec<Vec<u8>> {
    let src = NodeId([2; 16]);
    let hello = Hello {
        interval_ms: 1000,
        ihu: Some(vec![Ihu {
            id: NodeId([7; 16]),
            rxcost: 256,
            mpr: true,
        }]),
        names: vec!["engine-3".into()],
        ..Hello::default()
    };
    let update = Update {
        entries: vec![RouteEntry {
            dest: NodeId([9; 16]),
            seqno: 4,
            metric: 256,
            hops: 1,
            base: true,
        }],
    };
    vec![
        Header::link(PacketType::Hello, 0, src, 1).to_packet(&control::encode(&hello)),
        Header::link(PacketType::Update, 0, src, 0).to_packet(&control::encode(&update)),
        Header::link(PacketType::Request, 0, src, 0).to_packet(&control::encode(&Request::Table)),
        Header::routed(PacketType::Data, 1, src, NodeId([1; 16]), 3).to_packet(&[0, 1, 2]),
        Header::routed(PacketType::Flood, 0, src, NodeId([1; 16]), 3).to_packet(b"x"),
        FlowPacket::Full {
            src,
            dst: NodeId([1; 16]),
            hop_limit: 32,
            ack_req: true,
            label: 9,
            seq: 1,
            payload: b"voice",
        }
        .encode(),
        FlowPacket::Frame {
            hop_limit: 32,
            ack_req: true,
            label: 9,
            seq: 2,
            payload: b"voice",
        }
        .encode(),
        FlowPacket::Miss { label: 9 }.encode(),
        FlowPacket::Ack {
            label: 9,
            seqs: vec![1, 2],
        }
        .encode(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20)) {
        let (mut n, mut now) = node();
        for d in data {
            now = Instant::from_micros(now.as_micros() + 10_000);
            feed(&mut n, now, from(), d);
        }
    }

    #[test]
    fn mutated_real_packets_never_panic(which in 0usize..9, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let (mut n, now) = node();
        // A real hello first, so later packets come from a known neighbour.
        feed(&mut n, now, from(), samples()[0].clone());
        let mut p = samples()[which].clone();
        for (i, v) in flips {
            let len = p.len();
            p[i % len] ^= v;
        }
        p.truncate(cut % (p.len() + 1));
        if let Some(b) = p.get_mut(0) {
            *b = VERSION;
        }
        feed(&mut n, now, from(), p);
    }

    #[test]
    fn arbitrary_flow_packets_from_a_neighbour_never_panic(ty in 7u8..11, body in proptest::collection::vec(any::<u8>(), 0..80)) {
        let (mut n, now) = node();
        feed(&mut n, now, from(), samples()[0].clone());
        // A real full frame first, so compressed frames find their label.
        feed(&mut n, now, from(), samples()[5].clone());
        let mut p = vec![VERSION, ty];
        p.extend_from_slice(&body);
        feed(&mut n, now, from(), p);
    }
}

#[test]
fn malformed_input_is_counted() {
    let (mut n, now) = node();
    feed(&mut n, now, from(), vec![VERSION, 1, 0]);
    feed(&mut n, now, from(), vec![0xFF; 64]);
    let mut bad_body = Header::link(PacketType::Hello, 0, NodeId([2; 16]), 1).to_packet(&[]);
    bad_body.extend_from_slice(&[0x9f, 0xff]);
    feed(&mut n, now, from(), bad_body);
    assert_eq!(n.stats().rx_malformed, 3);
    assert!(n.neighbours(now).is_empty());
}
