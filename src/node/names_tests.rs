//! The directory as the node carries it: claims cross the mesh, hello
//! digests repair a lost rumour, exclusive roles are refused.

use super::tests::World;
use crate::names::{NamesError, Refusal};
use crate::time::ms;
use crate::wire::PacketType;

/// Apply `f` to node `i` now, then put what it sent on the air.
fn at(w: &mut World, i: usize, f: impl FnOnce(&mut super::Node, crate::time::Instant)) {
    let now = w.now();
    f(&mut w.nodes[i], now);
    w.drain(i);
}

fn holders(w: &World, at: usize, name: &str) -> Vec<usize> {
    let now = w.now();
    w.nodes[at]
        .whois(now, name)
        .iter()
        .filter_map(|h| w.nodes.iter().position(|n| n.id() == h.entry.rec.holder))
        .collect()
}

#[test]
fn a_claim_crosses_a_line_with_its_route() {
    let mut w = World::line(5, 11);
    w.run_for(ms(2000));
    at(&mut w, 4, |n, now| n.claim(now, "medic-12", false).unwrap());
    w.run_for(ms(300));
    assert_eq!(holders(&w, 0, "medic-12"), vec![4]);
    let h = &w.nodes[0].whois(w.now(), "medic-12")[0];
    assert_eq!(h.route.as_ref().map(|r| r.hops), Some(4));
    assert!(!h.local);
    assert_eq!(
        w.nodes[0].names_of(w.now(), &w.nodes[4].id()),
        vec!["medic-12"]
    );
    // The holder lists itself as local, with no route.
    let own = &w.nodes[4].whois(w.now(), "medic-12")[0];
    assert!(own.local && own.route.is_none());
}

#[test]
fn hello_digests_repair_a_lost_rumour() {
    let mut w = World::line(3, 12);
    w.run_for(ms(3000));
    // Node 2 hears none of the rumour.
    w.drop_type_to = Some((PacketType::Names as u8, 2));
    at(&mut w, 0, |n, now| n.claim(now, "engine-3", false).unwrap());
    w.run_for(ms(200));
    assert_eq!(holders(&w, 1, "engine-3"), vec![0]);
    assert!(holders(&w, 2, "engine-3").is_empty());
    w.drop_type_to = None;
    // Node 1's hellos carry its new digest; node 2 sees the mismatch and
    // opens an exchange well before the first periodic digest (>= 5 s).
    let start = w.now();
    let mut took = None;
    for _ in 0..30 {
        w.run_for(ms(50));
        if holders(&w, 2, "engine-3") == vec![0] {
            took = Some(w.now().saturating_since(start));
            break;
        }
    }
    let took = took.expect("node 2 never learnt engine-3");
    assert!(took <= ms(1500), "repair took {took:?}");
}

#[test]
fn a_failed_exchange_is_retried_after_the_digest_settles() {
    let mut w = World::line(3, 14);
    w.run_for(ms(3000));
    // Node 2 hears no directory message for longer than a digest stays
    // recent: the rumour and every exchange it opens on hello digests
    // are lost, and node 1's digest has been stable for seconds.
    w.drop_type_to = Some((PacketType::Names as u8, 2));
    at(&mut w, 0, |n, now| n.claim(now, "engine-4", false).unwrap());
    w.run_for(ms(14_000));
    assert!(holders(&w, 2, "engine-4").is_empty());
    w.drop_type_to = None;
    // The two still disagree, so their hellos still carry digests and the
    // next one opens an exchange (the periodic digest is a minute away).
    let start = w.now();
    let mut took = None;
    for _ in 0..100 {
        w.run_for(ms(50));
        if holders(&w, 2, "engine-4") == vec![0] {
            took = Some(w.now().saturating_since(start));
            break;
        }
    }
    let took = took.expect("node 2 never learnt engine-4");
    assert!(took <= ms(5000), "repair took {took:?}");
}

#[test]
fn an_exclusive_role_held_elsewhere_is_refused() {
    let mut w = World::line(4, 13);
    w.run_for(ms(2000));
    at(&mut w, 0, |n, now| n.claim(now, "command", true).unwrap());
    w.run_for(ms(500));
    let now = w.now();
    let holder = w.nodes[0].id();
    assert_eq!(
        w.nodes[3].claim(now, "command", true),
        Err(NamesError::Refused(Refusal::HeldBy { holder }))
    );
    // The hand-over moves it: node 3 takes it when it sees the token.
    let to = w.nodes[3].id();
    at(&mut w, 0, |n, now| n.handover(now, "command", to).unwrap());
    w.run_for(ms(500));
    for i in 0..4 {
        assert_eq!(holders(&w, i, "command"), vec![3], "node {i}");
    }
}
