//! The map's lists on demand: fetched while a map is open, nothing sent
//! before or after, answers limited per asker, unasked answers ignored.

use super::tests::World;
use crate::time::ms;
use crate::wire::map::MapMsg;
use crate::wire::{PacketType, ROUTED_HEADER_LEN, proto};

/// Map packets put on the air so far (every hop counted).
fn map_packets(w: &World) -> usize {
    w.capture
        .as_ref()
        .map(|c| {
            c.iter()
                .filter(|(_, _, b)| {
                    b.get(1) == Some(&(PacketType::Data as u8))
                        && b.get(ROUTED_HEADER_LEN) == Some(&proto::MAP)
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn lists_come_while_a_map_is_open_and_nothing_goes_otherwise() {
    let mut w = World::line(5, 21);
    w.capture = Some(Vec::new());
    w.run_for(ms(5000));
    assert_eq!(map_packets(&w), 0, "nothing before a map opens");
    let now = w.now();
    w.nodes[0].map_open(now);
    w.drain(0);
    w.run_for(ms(3000));
    let lists = w.nodes[0].map_lists();
    let ids: Vec<_> = w.nodes.iter().map(|n| n.id()).collect();
    assert_eq!(lists.len(), 4, "{lists:?}");
    // Node 2 of the line hears 1 and 3, nothing else.
    let two = lists.iter().find(|l| l.node == ids[2]).expect("node 2");
    assert_eq!(two.neighbours.len(), 2);
    assert!(two.neighbours.iter().any(|n| n.names(&ids[1])));
    assert!(two.neighbours.iter().any(|n| n.names(&ids[3])));
    assert!(w.nodes[0].map_is_open(w.now()));
    // Once no one looks, the map closes and the lists stay with their age.
    w.run_for(super::MAP_OPEN);
    let sent = map_packets(&w);
    assert!(sent > 0);
    w.run_for(ms(60_000));
    assert!(!w.nodes[0].map_is_open(w.now()));
    assert_eq!(map_packets(&w), sent, "nothing once the map closed");
    assert_eq!(w.nodes[0].map_lists().len(), 4);
}

#[test]
fn answers_are_limited_per_asker_and_unasked_answers_ignored() {
    let mut w = World::line(2, 22);
    w.run_for(ms(3000));
    let (a, b) = (w.nodes[0].id(), w.nodes[1].id());
    let now = w.now();
    let req = MapMsg::Request { ask: 1 }.emit();
    w.nodes[1].on_map(now, a, &req).expect("request");
    w.nodes[1].on_map(now + ms(500), a, &req).expect("request");
    w.nodes[1].on_map(now + ms(1100), a, &req).expect("request");
    let s = w.nodes[1].map_stats();
    assert_eq!((s.answers_sent, s.requests_refused), (2, 1));
    let answer = MapMsg::Answer {
        ask: 1,
        list: w.nodes[1].map_own_list(),
    }
    .emit();
    w.nodes[0].on_map(now, b, &answer).expect("answer");
    assert!(w.nodes[0].map_lists().is_empty(), "not asked");
    assert!(w.nodes[0].on_map(now, b, &[2, 0, 0]).is_err());
}
