//! PAR roll calls in the simulator: the same application layer the
//! daemon runs (`app::par`), over the modelled radio. A commander's roll
//! call reaches every member of a line, closes as "all accounted" once
//! the last one answers (one of them by pressing to talk), and as
//! "incomplete" with the missing member's name when one never answers;
//! on lossy links the repeated requests still get everyone counted.

mod sim_common;

use std::time::Duration;

use callsign::app::{AppEvent, ParOutcome};
use callsign::floor::Priority;
use callsign::node::Timers;
use callsign::sim::world::World;
use callsign::time::Instant;

const TG: &str = "fireground-1";

/// `n` in a line (node 0 the commander), booted, converged, all in `TG`.
fn line_world(n: usize, seed: u64, lossless: bool) -> World<()> {
    let spec = sim_common::world("line", n, seed, 10.0, lossless);
    let mut w: World<()> = World::new(spec, &Timers::callsign(), 0.0, seed).expect("world");
    for i in 0..n {
        w.schedule_boot(i, Instant::ZERO);
    }
    let _ = w.next_hook(Instant::from_millis(3000));
    for i in 0..n {
        w.on_app(i, |a, now| a.join(now, TG))
            .expect("up")
            .expect("joined");
    }
    let _ = w.next_hook(Instant::from_millis(6000));
    w
}

fn requested(w: &World<()>, i: usize) -> bool {
    w.app_outbox
        .iter()
        .any(|(_, n, e)| *n == i && matches!(e, AppEvent::ParRequest { .. }))
}

fn closed(w: &World<()>) -> Option<(Instant, ParOutcome)> {
    w.app_outbox.iter().find_map(|(t, n, e)| match e {
        AppEvent::ParClosed { outcome, .. } if *n == 0 => Some((*t, outcome.clone())),
        _ => None,
    })
}

#[test]
fn everyone_answers_and_the_roll_call_closes_all_accounted() {
    let n = 5;
    let mut w = line_world(n, 3, true);
    w.app_outbox.clear();
    let v = w
        .on_app(0, |a, now| {
            a.par_start(now, None, Some(Duration::from_secs(30)))
        })
        .expect("up")
        .expect("started");
    assert_eq!(v.members.len(), n - 1, "{v:?}");
    let _ = w.next_hook(Instant::from_millis(7000));
    for i in 1..n {
        assert!(requested(&w, i), "node {i} was not asked to report");
    }
    for i in 1..n - 1 {
        let acked = w.on_app(i, |a, now| a.par_ack(now)).expect("up");
        assert_eq!(acked.len(), 1, "node {i}");
    }
    // The last one answers by pressing to talk.
    let last = w.now();
    w.on_app(n - 1, |a, now| a.press(now, TG, Priority::Normal))
        .expect("up")
        .expect("pressed");
    let _ = w.next_hook(Instant::from_millis(9000));
    let (at, outcome) = closed(&w).expect("the roll call closed");
    assert_eq!(outcome, ParOutcome::AllAccounted);
    let ms = at.saturating_since(last).as_millis();
    println!("FIGURE sim_par_all_accounted_after_last_ack_ms={ms}");
    assert!(ms < 200, "closed {ms} ms after the last answer");
    let v = w.app(0).expect("up").pars();
    assert!(v[0].members.iter().all(|m| m.acked_after_ms.is_some()));
}

#[test]
fn a_member_who_never_answers_leaves_it_incomplete_with_its_name() {
    let n = 4;
    let mut w = line_world(n, 5, true);
    w.app_outbox.clear();
    w.on_app(0, |a, now| {
        a.par_start(now, Some(TG), Some(Duration::from_secs(5)))
    })
    .expect("up")
    .expect("started");
    let _ = w.next_hook(Instant::from_millis(7000));
    for i in 1..n - 1 {
        w.on_app(i, |a, now| a.par_ack(now)).expect("up");
    }
    let _ = w.next_hook(Instant::from_millis(12_000));
    let silent = w.app(n - 1).expect("up").my_name();
    let (_, outcome) = closed(&w).expect("closed at the end of the window");
    assert_eq!(outcome, ParOutcome::Incomplete(vec![silent]));
}

#[test]
fn repeated_requests_count_everyone_on_lossy_links() {
    // Radio loss near the edge of range: requests and answers get lost
    // and are repeated every 2 s until the window ends.
    for seed in 1..=3 {
        let n = 5;
        let mut w = line_world(n, seed, false);
        w.app_outbox.clear();
        w.on_app(0, |a, now| {
            a.par_start(now, None, Some(Duration::from_secs(20)))
        })
        .expect("up")
        .expect("started");
        let _ = w.next_hook(Instant::from_millis(10_000));
        for i in 1..n {
            assert!(requested(&w, i), "seed {seed}: node {i} never alerted");
            w.on_app(i, |a, now| a.par_ack(now)).expect("up");
        }
        let _ = w.next_hook(Instant::from_millis(20_000));
        let (_, outcome) = closed(&w).expect("closed");
        assert_eq!(outcome, ParOutcome::AllAccounted, "seed {seed}");
    }
}
