//! Stalls are not deaths (the stall grace, [`Timers::stall_grace`]): a
//! neighbour whose daemon stops for up to 500 ms on a quiet link is not
//! declared dead, while a dead relay under traffic, or one a failed
//! delivery points at, is found as fast as without the grace.

use std::time::Duration;

use super::tests::World;
use super::*;
use crate::link::{Liveness, Suspicion};
use crate::time::ms;
use crate::wire::PacketType;

/// The preset with the stall grace on (it is off by default).
fn graced() -> Timers {
    Timers {
        stall_grace: crate::link::STALL_GRACE,
        ..Timers::callsign()
    }
}

fn key_of(w: &World, i: usize) -> LinkKey {
    LinkKey {
        iface: IfaceId(0),
        id: w.nodes[i].id(),
    }
}

fn downs(w: &World) -> Vec<(usize, NodeId)> {
    w.events
        .iter()
        .filter_map(|(i, e)| match e {
            Event::NeighbourDown { id, .. } => Some((*i, *id)),
            _ => None,
        })
        .collect()
}

fn suspect(w: &World, at: usize, of: usize) -> bool {
    w.nodes[at]
        .nbrs
        .get(&key_of(w, of))
        .is_some_and(|n| matches!(n.liveness, Liveness::Suspect { .. }))
}

/// Two idle neighbours. Node 0 hears no hello of node 1 until its hold
/// time is `lead` from running out (its hellos lost); then node 1 stops
/// for `stall` and continues. Whether node 0 suspected node 1 meanwhile,
/// and the neighbour deaths anywhere.
fn stall_on_a_quiet_link(
    timers: Timers,
    seed: u64,
    lead: Duration,
    stall: Duration,
) -> (bool, Vec<(usize, NodeId)>) {
    let mut w = World::new(2, &[(0, 1)], timers.clone(), seed);
    w.run_for(Duration::from_secs(10));
    assert!(w.path(0, 1).is_some(), "no route before the stall");
    let key = key_of(&w, 1);
    w.drop_type_to = Some((PacketType::Hello as u8, 0));
    for _ in 0..10_000 {
        let n = w.nodes[0]
            .nbrs
            .get(&key)
            .expect("neighbour before the stall");
        if n.hold_deadline(&timers) <= w.now() + lead {
            break;
        }
        w.run_for(ms(1));
    }
    w.drop_type_to = None;
    w.stall(1);
    let mut suspected = false;
    let end = w.now() + stall;
    while w.now() < end {
        w.run_for(ms(1));
        suspected |= suspect(&w, 0, 1);
    }
    w.resume(1);
    for _ in 0..3000 {
        w.run_for(ms(1));
        suspected |= suspect(&w, 0, 1);
    }
    (suspected, downs(&w))
}

#[test]
fn a_neighbour_stalled_500_ms_on_a_quiet_link_is_not_declared_dead() {
    // The suspicion begins anywhere in the stall, at its start the worst.
    for (k, lead) in [0, 1, 100, 300, 480].into_iter().enumerate() {
        let (suspected, downs) = stall_on_a_quiet_link(graced(), 40 + k as u64, ms(lead), ms(500));
        assert!(suspected, "lead {lead} ms: node 0 never suspected node 1");
        assert!(downs.is_empty(), "lead {lead} ms: declared dead: {downs:?}");
    }
}

/// The same stall without the grace buries the neighbour: the test above
/// is a test of the grace.
#[test]
fn without_the_grace_the_same_stall_is_a_death() {
    let timers = Timers {
        stall_grace: Duration::ZERO,
        ..Timers::callsign()
    };
    let (suspected, downs) = stall_on_a_quiet_link(timers, 40, ms(100), ms(500));
    assert!(suspected);
    assert!(!downs.is_empty(), "a 500 ms stall went unnoticed");
}

/// A node that really died on a quiet link is buried once the grace is
/// over, not much later.
#[test]
fn a_dead_quiet_neighbour_is_buried_after_the_grace() {
    let timers = graced();
    let mut w = World::new(2, &[(0, 1)], timers.clone(), 5);
    w.run_for(Duration::from_secs(10));
    w.kill(1);
    let mut since = None;
    for _ in 0..10_000 {
        w.run_for(ms(1));
        if since.is_none() && suspect(&w, 0, 1) {
            since = Some(w.now());
        }
        if !downs(&w).is_empty() {
            break;
        }
    }
    let since = since.expect("never suspected");
    let took = w.now().saturating_since(since);
    assert!(
        took >= timers.stall_grace && took <= timers.stall_grace + ms(100),
        "buried {took:?} after the suspicion"
    );
}

/// Node 1 sends to node 3 of a ring of six every 20 ms through relay 2,
/// which dies: how long until node 1 declares it dead.
fn detect_dead_relay_under_traffic(timers: Timers) -> Duration {
    let links: Vec<_> = (0..6).map(|i| (i, (i + 1) % 6)).collect();
    let mut w = World::new(6, &links, timers, 3);
    w.run_for(ms(3000));
    assert_eq!(w.path(1, 3), Some(vec![1, 2, 3]));
    for k in 0..25u8 {
        w.send(1, 3, Class::Control, &[k]).expect("route");
        w.run_for(ms(20));
    }
    w.kill(2);
    let killed = w.now();
    let dead = w.nodes[2].id();
    for k in 0..100u8 {
        w.send(1, 3, Class::Control, &[k]).expect("route");
        w.run_for(ms(20));
        let found = w.events.iter().zip(&w.event_times).find(|((i, e), _)| {
            *i == 1 && matches!(e, Event::NeighbourDown { id, .. } if *id == dead)
        });
        if let Some((_, t)) = found {
            return t.saturating_since(killed);
        }
    }
    panic!("the dead relay was never detected");
}

#[test]
fn a_dead_relay_under_traffic_is_found_as_fast_as_without_the_grace() {
    let with = detect_dead_relay_under_traffic(graced());
    let without = detect_dead_relay_under_traffic(Timers {
        stall_grace: Duration::ZERO,
        ..Timers::callsign()
    });
    assert_eq!(with, without, "the grace slowed a detection under traffic");
    assert!(with < graced().stall_grace, "took {with:?}");
}

/// A quiet link suspected for silence, its probes spread over the grace:
/// a failed delivery through it puts the probes back to back, and its
/// death is found long before the grace is over.
#[test]
fn a_failed_delivery_ends_the_grace() {
    let timers = graced();
    let mut w = World::new(2, &[(0, 1)], timers.clone(), 9);
    w.run_for(Duration::from_secs(10));
    w.kill(1);
    let key = key_of(&w, 1);
    while !suspect(&w, 0, 1) {
        w.run_for(ms(1));
    }
    let since = w.now();
    let Some(Liveness::Suspect { gap, .. }) = w.nodes[0].nbrs.get(&key).map(|n| n.liveness) else {
        panic!("not suspect");
    };
    assert!(
        gap > timers.probe_interval,
        "quiet probes not spread: {gap:?}"
    );
    let now = w.now();
    w.nodes[0].suspect(now, key, Suspicion::AckFailure);
    w.drain(0);
    let Some(Liveness::Suspect { gap, .. }) = w.nodes[0].nbrs.get(&key).map(|n| n.liveness) else {
        panic!("not suspect");
    };
    assert_eq!(gap, timers.probe_interval);
    while downs(&w).is_empty() {
        w.run_for(ms(1));
        assert!(
            w.now() < since + timers.stall_grace,
            "grace kept after a failed delivery"
        );
    }
}
