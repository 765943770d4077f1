//! Revocation in the node test world: a root's revocation put in at one
//! node reaches every node in a few link latencies; from then on the
//! device is no neighbour, no route, no holder, and its floods
//! (talkgroup voice and floor messages) are neither delivered nor
//! relayed, each refusal counted, while the other members carry on. A
//! revocation a root did not sign is refused and goes nowhere.

use super::tests::World;
use super::{Class, Event, Node};
use crate::identity::NodeId;
use crate::time::{Instant, ms};
use crate::trust::ca::{self, CaFiles};
use crate::trust::{MacKey, MacState, Secured};

const T0: u64 = 1_767_225_600;
const NOW_S: u64 = T0 + 3600;

fn secure(n: &mut Node, ca: &CaFiles, key: &MacKey) {
    let mut s = Secured::new();
    s.add_root(ca.cert_pem.as_bytes()).expect("root");
    let pem = ca::issue(
        ca,
        n.identity().public_key(),
        &["engine-*".to_string()],
        30,
        T0,
    )
    .expect("issue");
    s.set_own(pem.as_bytes(), NOW_S).expect("own cert");
    n.enable_secured(s, MacState::new(key.clone(), 1))
        .expect("secured");
    n.set_wall_clock(Instant::ZERO, NOW_S * 1000);
}

/// Five enrolled nodes: the line 0-1-2-3, and node 4 beside 1 and 3 (a
/// shortcut: routes between 1 and 3 go through it).
fn mesh(seed: u64) -> (World, CaFiles) {
    let ca = ca::init_from_secret("Metro Fire", 3650, T0, &[7; 32]).expect("ca");
    let mut s = Secured::new();
    s.add_root(ca.cert_pem.as_bytes()).expect("root");
    let key = MacKey::derive(b"incident 7", s.roots_der());
    let links = [(0, 1), (1, 2), (2, 3), (1, 4), (4, 3)];
    let mut w = World::new(5, &links, crate::node::Timers::callsign(), seed);
    for n in &mut w.nodes {
        secure(n, &ca, &key);
    }
    w.run_for(ms(3000));
    (w, ca)
}

fn holds(w: &World, at: usize, name: &str, who: NodeId) -> bool {
    w.nodes[at]
        .whois(w.now(), name)
        .iter()
        .any(|h| h.entry.rec.holder == who)
}

fn floods_from(w: &World, at: usize, src: NodeId, after: usize) -> usize {
    w.events[after..]
        .iter()
        .filter(|(i, e)| *i == at && matches!(e, Event::FloodDelivered { src: s, .. } if *s == src))
        .count()
}

#[test]
fn a_revocation_spreads_and_shuts_the_device_out() {
    let (mut w, ca) = mesh(41);
    let stolen = w.nodes[4].id();
    let now = w.now();
    w.nodes[4].claim(now, "engine-4", false).expect("claim");
    w.drain(4);
    w.run_for(ms(2000));
    for i in 0..4 {
        assert!(holds(&w, i, "engine-4", stolen), "node {i} before");
        assert!(
            w.nodes[i].route_to(&stolen).is_some(),
            "node {i} route before"
        );
    }

    let rev = ca::revoke(&ca, stolen, "stolen from engine 4", NOW_S).expect("revoke");
    let t = w.now();
    let before = w.events.len();
    assert_eq!(w.nodes[0].add_revocation(t, &rev), Ok(Some(stolen)));
    w.drain(0);
    w.run_for(ms(1000));
    // Every other node took it, each once, within a few link latencies.
    for i in 0..4 {
        let at: Vec<Instant> = w.events[before..]
            .iter()
            .zip(&w.event_times[before..])
            .filter(|((n, e), _)| {
                *n == i && matches!(e, Event::Revoked { id, .. } if *id == stolen)
            })
            .map(|(_, t)| *t)
            .collect();
        assert_eq!(at.len(), 1, "node {i} took it {} times", at.len());
        let took = at[0].saturating_since(t);
        assert!(took <= ms(100), "node {i} took it after {took:?}");
        assert!(w.nodes[i].is_revoked(&stolen));
        assert_eq!(w.nodes[i].stats().revocations_learned, 1);
    }
    // It holds a second time: nothing new.
    let t = w.now();
    assert_eq!(w.nodes[2].add_revocation(t, &rev), Ok(None));

    // The device keeps talking: hellos, a flood on a talkgroup, a claim.
    let group = NodeId([0x42; 16]);
    let after = w.events.len();
    for _ in 0..5 {
        let t = w.now();
        w.nodes[4]
            .flood(t, group, Class::Control, b"floor")
            .expect("flood");
        w.drain(4);
        w.run_for(ms(200));
    }
    w.run_for(ms(3000));
    for i in 0..4 {
        let n = &w.nodes[i];
        assert!(
            n.neighbours(w.now()).iter().all(|x| x.id != stolen),
            "node {i} neighbour"
        );
        assert!(n.route_to(&stolen).is_none(), "node {i} routes to it");
        assert!(
            !holds(&w, i, "engine-4", stolen),
            "node {i} still resolves it"
        );
        assert_eq!(
            floods_from(&w, i, stolen, after),
            0,
            "node {i} took its flood"
        );
    }
    for i in [1, 3] {
        let s = w.nodes[i].stats();
        assert!(s.rx_revoked > 0, "node {i} counted no link packet");
        assert!(
            s.rx_revoked_flood >= 5,
            "node {i}: {} floods",
            s.rx_revoked_flood
        );
    }
    let dropped: u64 = (0..4)
        .map(|i| w.nodes[i].directory().stats().records_revoked)
        .sum();
    assert!(dropped >= 4, "records dropped {dropped}");
    // The others carry on: routes around it, floods between them.
    assert_eq!(w.path(1, 3), Some(vec![1, 2, 3]));
    let after = w.events.len();
    let t = w.now();
    let from = w.nodes[0].id();
    w.nodes[0]
        .flood(t, group, Class::Control, b"all units")
        .expect("flood");
    w.drain(0);
    w.run_for(ms(500));
    for i in 1..4 {
        assert_eq!(
            floods_from(&w, i, from, after),
            1,
            "node {i} missed a member's flood"
        );
    }
}

#[test]
fn a_revocation_no_root_signed_is_refused_and_not_passed_on() {
    let (mut w, _ca) = mesh(42);
    let rogue = ca::init_from_secret("Rogue", 3650, T0, &[9; 32]).expect("ca");
    let victim = w.nodes[2].id();
    let forged = ca::revoke(&rogue, victim, "forged", NOW_S).expect("rogue revokes");
    let t = w.now();
    assert!(w.nodes[0].add_revocation(t, &forged).is_err());
    let mut tampered = ca::revoke(&_ca, victim, "lost", NOW_S).expect("revoke");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(w.nodes[0].add_revocation(t, &tampered).is_err());
    w.drain(0);
    w.run_for(ms(2000));
    for i in 0..5 {
        assert!(!w.nodes[i].is_revoked(&victim), "node {i}");
    }
    assert_eq!(w.nodes[0].stats().revocations_refused, 2);
    assert_eq!(w.path(0, 2), Some(vec![0, 1, 2]));
}

#[test]
fn a_node_that_holds_the_revocation_refuses_what_a_relay_still_passes() {
    // Line 0-1-2, node 0 revoked; the revocation reaches node 2 only
    // (every revoke packet to node 1 is lost), so node 1 still relays
    // node 0's floods and data: node 2 refuses them as their origin's.
    let ca = ca::init_from_secret("Metro Fire", 3650, T0, &[7; 32]).expect("ca");
    let mut s = Secured::new();
    s.add_root(ca.cert_pem.as_bytes()).expect("root");
    let key = MacKey::derive(b"incident 7", s.roots_der());
    let mut w = World::line(3, 43);
    for n in &mut w.nodes {
        secure(n, &ca, &key);
    }
    w.run_for(ms(3000));
    assert_eq!(w.path(0, 2), Some(vec![0, 1, 2]));
    w.drop_type_to = Some((crate::wire::PacketType::Revoke as u8, 1));
    let stolen = w.nodes[0].id();
    let rev = ca::revoke(&ca, stolen, "lost", NOW_S).expect("revoke");
    let t = w.now();
    assert_eq!(w.nodes[2].add_revocation(t, &rev), Ok(Some(stolen)));
    w.drain(2);
    w.run_for(ms(500));
    assert!(!w.nodes[1].is_revoked(&stolen));
    let after = w.events.len();
    let group = NodeId([0x42; 16]);
    let t = w.now();
    w.nodes[0]
        .flood(t, group, Class::Control, b"floor")
        .expect("flood");
    w.drain(0);
    w.run_for(ms(500));
    assert_eq!(
        floods_from(&w, 1, stolen, after),
        1,
        "node 1 does not know yet"
    );
    assert_eq!(floods_from(&w, 2, stolen, after), 0);
    assert_eq!(w.nodes[2].stats().rx_revoked_flood, 1);
    // Node 1 still has a route to node 2 through which data can come.
    w.send(0, 2, Class::Control, b"invite").expect("send");
    w.run_for(ms(500));
    assert_eq!(w.delivered(2), 0);
    assert!(w.nodes[2].stats().rx_revoked_data >= 1);
}

#[test]
fn a_late_neighbour_is_given_the_list_and_loss_is_covered_by_repeats() {
    let ca = ca::init_from_secret("Metro Fire", 3650, T0, &[7; 32]).expect("ca");
    let mut s = Secured::new();
    s.add_root(ca.cert_pem.as_bytes()).expect("root");
    let key = MacKey::derive(b"incident 7", s.roots_der());
    // A 3 x 3 grid with 20 % loss on every link, and node 9 out of range.
    let links = [
        (0, 1),
        (1, 2),
        (3, 4),
        (4, 5),
        (6, 7),
        (7, 8),
        (0, 3),
        (3, 6),
        (1, 4),
        (4, 7),
        (2, 5),
        (5, 8),
    ];
    let mut w = World::new(10, &links, crate::node::Timers::callsign(), 44);
    for n in &mut w.nodes {
        secure(n, &ca, &key);
    }
    w.loss = 0.2;
    w.run_for(ms(5000));
    let stolen = w.nodes[8].id();
    let rev = ca::revoke(&ca, stolen, "lost", NOW_S).expect("revoke");
    let t = w.now();
    assert_eq!(w.nodes[0].add_revocation(t, &rev), Ok(Some(stolen)));
    w.drain(0);
    w.run_for(ms(5000));
    for i in 0..8 {
        assert!(
            w.nodes[i].is_revoked(&stolen),
            "node {i} missed it under loss"
        );
    }
    assert!(!w.nodes[9].is_revoked(&stolen));
    // Node 9 comes into range of node 0 only: it learns the list from its
    // new neighbour, not from a repeat (those are long over).
    w.loss = 0.0;
    w.adj[0].push(9);
    w.adj[9].push(0);
    w.run_for(ms(3000));
    assert!(
        w.nodes[9].is_revoked(&stolen),
        "the late neighbour was not told"
    );
    assert_eq!(w.nodes[9].stats().revocations_learned, 1);
}
