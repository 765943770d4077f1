//! Messages carried by real nodes over the node tests' world: a custodian
//! carries a message across a partition, and the receipt comes back.

use std::time::Duration;

use super::tests::World;
use super::{Event, MsgTo};
use crate::msg::MsgEvent;
use crate::time::Instant;

fn at(s: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(s)
}

fn cut(w: &mut World, a: usize, b: usize) {
    w.adj[a].retain(|&x| x != b);
    w.adj[b].retain(|&x| x != a);
}

fn join(w: &mut World, a: usize, b: usize) {
    w.adj[a].push(b);
    w.adj[b].push(a);
}

fn received(w: &World, i: usize) -> usize {
    w.events
        .iter()
        .filter(|(n, e)| *n == i && matches!(e, Event::Message(MsgEvent::Received(_))))
        .count()
}

/// A line of three where node 2 holds `medic-12`, then both links cut
/// (at 10 s): at 20 s no node reaches another.
fn partitioned_line(seed: u64) -> World {
    let mut w = World::line(3, seed);
    w.run_until(at(5));
    w.nodes[2].claim(at(5), "medic-12", false).expect("claim");
    w.drain(2);
    w.run_until(at(10));
    cut(&mut w, 0, 1);
    cut(&mut w, 1, 2);
    w.run_until(at(20));
    w
}

#[test]
fn a_custodian_carries_a_message_across_a_partition() {
    let mut w = partitioned_line(7);
    assert!(w.nodes[0].route_to(&w.nodes[2].id()).is_none());
    w.nodes[0]
        .message(at(20), MsgTo::Name("medic-12"), "hydrant at Fifth is dry")
        .expect("accepted");
    w.drain(0);
    // Node 1 walks up to node 0: it takes custody.
    join(&mut w, 0, 1);
    w.run_until(at(30));
    assert_eq!(w.nodes[1].messages().held().count(), 1, "custody");
    // ... walks away, and up to node 2: delivered.
    cut(&mut w, 0, 1);
    w.run_until(at(40));
    join(&mut w, 1, 2);
    w.run_until(at(50));
    assert_eq!(received(&w, 2), 1);
    assert_eq!(
        w.nodes[1].messages().held().count(),
        0,
        "custodian forgot it"
    );
    assert_eq!(
        w.nodes[1].messages().held_receipts(),
        1,
        "carries the receipt"
    );
    // Back to node 0 with the receipt.
    cut(&mut w, 1, 2);
    join(&mut w, 0, 1);
    w.run_until(at(60));
    assert!(w.nodes[0].messages().outbox().next().is_none(), "delivered");
    assert_eq!(w.nodes[1].messages().held_receipts(), 0);
    assert_eq!(received(&w, 2), 1, "exactly once");
}

#[test]
fn the_recipient_also_carries_its_receipt_home() {
    let mut w = partitioned_line(9);
    w.nodes[0]
        .message(at(20), MsgTo::Name("command"), "x")
        .expect_err("no one holds command");
    w.nodes[0]
        .message(at(20), MsgTo::Name("medic-12"), "via a custodian")
        .expect("accepted");
    w.drain(0);
    join(&mut w, 0, 1);
    w.run_until(at(30));
    cut(&mut w, 0, 1);
    w.run_until(at(40));
    join(&mut w, 1, 2);
    w.run_until(at(50));
    assert_eq!(received(&w, 2), 1);
    assert_eq!(w.nodes[2].messages().held_receipts(), 1);
    // The custodian never meets the sender again; the recipient does.
    cut(&mut w, 1, 2);
    w.run_until(at(60));
    join(&mut w, 0, 2);
    w.run_until(at(70));
    assert!(w.nodes[0].messages().outbox().next().is_none(), "delivered");
    assert_eq!(
        w.nodes[2].messages().held_receipts(),
        0,
        "the sender took it"
    );
}
