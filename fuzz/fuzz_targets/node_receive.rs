#![no_main]
//! A whole node fed arbitrary datagrams from two link addresses, with the
//! clock moving: it must never panic, and must keep answering its timers.
mod common;

use callsign::node::{Config, IfaceId, Input, Node};
use callsign::time::Instant;
use common::ident;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::ZERO;
    let mut node = Node::new(ident(9), Config::default(), now, 1);
    node.handle(
        now,
        Input::IfaceUp {
            iface: IfaceId(0),
            cost_weight: 256,
        },
    );
    let addrs: [SocketAddr; 2] = [
        "[fe80::1]:7470".parse().unwrap(),
        "[fe80::2]:7470".parse().unwrap(),
    ];
    // Split the input into datagrams at 0xFF 0xFF markers.
    for (i, chunk) in data.split(|b| *b == 0xFF).enumerate() {
        now = Instant::from_micros(now.as_micros() + 7_000);
        node.handle(
            now,
            Input::Receive {
                iface: IfaceId(0),
                from: addrs[i % 2],
                data: chunk.to_vec(),
            },
        );
        while node.poll_transmit(now).is_some() {}
        while node.poll_event().is_some() {}
        if let Some(t) = node.poll_timeout() {
            if t <= now {
                node.handle(now, Input::Timeout);
            }
        }
    }
});
