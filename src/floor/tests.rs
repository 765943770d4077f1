//! Floor control rules in a seeded broadcast world (see `world.rs`).

use std::time::Duration;

use proptest::prelude::*;

use super::world::{World, id, name};
use super::*;
use crate::rng::Rng;

const T0: Instant = Instant::from_millis(1000);

fn uncontested() -> Duration {
    let c = FloorConfig::default();
    c.request_wait * (u32::from(c.retries) + 1)
}

/// Member 0 of a 5-member line holds the floor at normal priority.
fn talking_world(seed: u64) -> World {
    let mut w = World::line(5, seed);
    w.press(0, Priority::Normal);
    w.run_until(T0);
    assert_eq!(w.talkers(), vec![0]);
    w
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

#[test]
fn codec_round_trips_and_rejects_bad_bytes() {
    let msgs = [
        FloorMsg::Request {
            prio: Priority::Emergency,
            name: "engine-12".into(),
        },
        FloorMsg::Taken {
            burst: 0x8000_0001,
            prio: Priority::Command,
            name: "ic".into(),
        },
        FloorMsg::Deny {
            to: id(3),
            burst: 7,
            prio: Priority::Normal,
            name: String::new(),
        },
        FloorMsg::Grant { to: id(1) },
        FloorMsg::Release { burst: u32::MAX },
    ];
    for m in msgs {
        let b = m.encode();
        assert_eq!(FloorMsg::decode(&b), Ok(m.clone()));
        let mut long = b.clone();
        long.push(0);
        assert!(FloorMsg::decode(&long).is_err(), "trailing byte accepted");
        assert!(
            FloorMsg::decode(&b[..b.len() - 1]).is_err(),
            "truncation accepted"
        );
    }
    let long = FloorMsg::Request {
        prio: Priority::Normal,
        name: "x".repeat(msg::MAX_NAME + 1),
    };
    assert_eq!(
        FloorMsg::decode(&long.encode()),
        Err(FloorError::NameTooLong(msg::MAX_NAME + 1))
    );
    assert!(FloorMsg::decode(&[]).is_err());
    // A Request is tiny: it floods to the whole group.
    let req = FloorMsg::Request {
        prio: Priority::Normal,
        name: "engine-12-officer".into(),
    };
    assert!(req.encode().len() <= 24, "{}", req.encode().len());
}

proptest! {
    #[test]
    fn decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = FloorMsg::decode(&bytes);
    }

    #[test]
    fn taken_round_trips(burst in any::<u32>(), p in 0u8..3, name in "[a-z0-9-]{0,64}") {
        let prio = [Priority::Normal, Priority::Command, Priority::Emergency][p as usize];
        let m = FloorMsg::Taken { burst, prio, name };
        prop_assert_eq!(FloorMsg::decode(&m.encode()), Ok(m));
    }
}

#[test]
fn idle_press_is_granted_after_the_request_wait_and_everyone_learns_the_talker() {
    let mut w = World::line(5, 1);
    w.press(2, Priority::Normal);
    assert!(w.floors[2].pending() && !w.floors[2].may_transmit());
    w.run_for(ms(500));
    let granted = w.first_event(2, Instant::ZERO, |e| *e == FloorEvent::Granted);
    assert_eq!(granted, Some(Instant::ZERO + uncontested()));
    assert_eq!(w.talkers(), vec![2]);
    // The request was repeated `retries` times, then one Taken.
    let requests = w
        .sent
        .iter()
        .filter(|(_, i, m)| *i == 2 && matches!(m, FloorMsg::Request { .. }))
        .count();
    assert_eq!(requests, 1 + usize::from(FloorConfig::default().retries));
    for i in [0, 1, 3, 4] {
        assert_eq!(
            w.floors[i].talker(),
            Some((id(2), "unit-2", Priority::Normal))
        );
        assert!(w.log.iter().any(|(_, j, e)| *j == i
            && *e
                == FloorEvent::Taken {
                    talker: id(2),
                    name: name(2),
                    prio: Priority::Normal
                }));
        assert_eq!(w.floors[i].burst(), w.floors[2].burst());
    }
    assert_eq!(
        w.floors[2].talker(),
        Some((id(2), "unit-2", Priority::Normal))
    );
}

#[test]
fn talker_denies_a_request_of_equal_or_lower_priority() {
    for (held, asked) in [
        (Priority::Normal, Priority::Normal),
        (Priority::Command, Priority::Normal),
        (Priority::Emergency, Priority::Command),
    ] {
        let mut w = World::line(5, 2);
        w.press(0, held);
        w.run_until(T0);
        w.press(4, asked);
        w.run_for(ms(500));
        let denied = w
            .first_event(4, T0, |e| {
                *e == FloorEvent::Denied {
                    holder: id(0),
                    name: name(0),
                }
            })
            .expect("denied");
        // Request out and Deny back over 4 hops of at most 15 ms, or the
        // talker's repeated Taken: before the request could have won.
        assert!(denied.saturating_since(T0) < uncontested(), "{denied:?}");
        assert_eq!(w.talkers(), vec![0], "{held:?} over {asked:?}");
        assert!(
            !w.log
                .iter()
                .any(|(_, i, e)| *i == 0 && *e != FloorEvent::Granted)
        );
    }
}

#[test]
fn emergency_press_preempts_a_lower_talker_within_one_path_delay() {
    let mut preempt = Vec::new();
    for seed in 0..100 {
        let mut w = talking_world(seed);
        w.press(4, Priority::Emergency);
        // Fast path: the presser heard a lower talker, so it talks at once.
        assert!(w.floors[4].may_transmit());
        w.run_for(ms(300));
        let revoked = w
            .first_event(0, T0, |e| {
                *e == FloorEvent::Revoked {
                    by: id(4),
                    name: name(4),
                }
            })
            .expect("revoked");
        let t = revoked.saturating_since(T0);
        // One flooded message over 4 hops of 10..15 ms.
        assert!(t >= ms(40) && t <= ms(60), "{t:?}");
        preempt.push(t.as_secs_f64() * 1e3);
        assert_eq!(w.talkers(), vec![4]);
        for i in 0..4 {
            assert_eq!(
                w.floors[i].talker(),
                Some((id(4), "unit-4", Priority::Emergency))
            );
        }
    }
    println!(
        "mayday pre-emption over 4 hops (press to talker revoked): p50 {:.1} ms, p95 {:.1} ms",
        pct(&mut preempt, 0.5),
        pct(&mut preempt, 0.95)
    );
}

#[test]
fn higher_request_from_a_member_that_missed_the_talker_revokes_and_is_granted() {
    let mut w = World::line(5, 3);
    w.deaf.insert(4);
    w.press(0, Priority::Normal);
    w.run_until(T0 - ms(100));
    w.deaf.clear();
    // Member 4 does not know member 0 talks (it missed every Taken), so
    // it sends a Request; member 0 revokes itself and hands on with Grant.
    assert_eq!(w.floors[4].talker(), None);
    w.press(4, Priority::Command);
    assert!(w.floors[4].pending());
    w.run_for(ms(500));
    let revoked = w
        .first_event(0, T0 - ms(100), |e| matches!(e, FloorEvent::Revoked { .. }))
        .expect("revoked");
    assert!(revoked.saturating_since(T0 - ms(100)) <= ms(60));
    let granted = w
        .first_event(4, T0 - ms(100), |e| *e == FloorEvent::Granted)
        .expect("granted");
    let access = granted.saturating_since(T0 - ms(100));
    assert!(
        access <= ms(120) && access < uncontested() + ms(1),
        "{access:?}"
    );
    assert!(
        w.sent
            .iter()
            .any(|(_, i, m)| *i == 0 && *m == FloorMsg::Grant { to: id(4) })
    );
    assert_eq!(w.talkers(), vec![4]);
}

/// Two or three members press within 20 ms of each other on an idle floor:
/// exactly one ends talking, the best ranked, and every other presser is
/// told Denied; every member agrees on the talker.
#[test]
fn simultaneous_requests_resolve_deterministically_by_rank() {
    let prios = [Priority::Normal, Priority::Command, Priority::Emergency];
    for seed in 0..300 {
        let mut rng = Rng::new(seed);
        let mut w = World::line(5, seed);
        let n = 2 + rng.below(2) as usize;
        let mut pressers: Vec<(usize, Priority, u64)> = Vec::new();
        while pressers.len() < n {
            let i = rng.below(5) as usize;
            if pressers.iter().all(|p| p.0 != i) {
                let prio = prios[rng.below(if seed % 2 == 0 { 1 } else { 3 }) as usize];
                pressers.push((i, prio, rng.below(20_000)));
            }
        }
        let mut order = pressers.clone();
        order.sort_by_key(|p| p.2);
        for &(i, prio, at) in &order {
            w.run_until(Instant::from_micros(at));
            w.press(i, prio);
        }
        w.run_until(T0);
        let best = pressers
            .iter()
            .copied()
            .reduce(|a, b| {
                if outranks((b.1, id(b.0)), (a.1, id(a.0))) {
                    b
                } else {
                    a
                }
            })
            .map(|p| p.0);
        assert_eq!(
            w.talkers(),
            best.into_iter().collect::<Vec<_>>(),
            "seed {seed}: {pressers:?}"
        );
        let best = best.unwrap_or(0);
        for &(i, _, _) in &pressers {
            let denied = w
                .log
                .iter()
                .any(|(_, j, e)| *j == i && matches!(e, FloorEvent::Denied { .. }));
            assert_eq!(denied, i != best, "seed {seed}: member {i} of {pressers:?}");
        }
        for i in 0..5 {
            assert_eq!(
                w.floors[i].talker().map(|t| t.0),
                Some(id(best)),
                "seed {seed}"
            );
        }
    }
}

/// With 10 % loss on every hop requests and Taken messages get lost, so two
/// members can both start; their crossing Taken messages (repeated every
/// second) leave exactly one talker.
#[test]
fn simultaneous_requests_under_loss_end_with_one_talker() {
    let mut both = 0;
    let runs = 200;
    for seed in 0..runs {
        let mut w = World::line(5, seed);
        w.hop_loss = 0.10;
        let a = (seed % 5) as usize;
        let b = (a + 1 + (seed / 5 % 4) as usize) % 5;
        w.press(a, Priority::Normal);
        w.run_until(Instant::from_millis(seed % 15));
        w.press(b, Priority::Normal);
        w.run_until(Instant::from_millis(200));
        if w.talkers().len() > 1 {
            both += 1;
        }
        w.run_until(Instant::from_millis(8000));
        assert_eq!(w.talkers().len(), 1, "seed {seed}: {:?}", w.talkers());
    }
    println!(
        "10 % hop loss, two presses within 15 ms: both talking at 200 ms in {both} of {runs} runs, one talker in all after 8 s"
    );
    assert!(both * 10 < runs, "{both} of {runs} runs collided");
}

/// Press-to-permit on an idle floor over 4 hops, and what a second member
/// 4 hops away (with the lower node id, so the rank by id favours it) gets
/// when it presses while the floor is taken.
#[test]
fn access_time_over_four_hops() {
    for loss in [0.0, 0.10] {
        let mut access = Vec::new();
        let mut denied = Vec::new();
        let (mut yielded, mut won) = (0, 0);
        let mut overlap = Vec::new();
        for seed in 0..200 {
            let mut w = World::line(5, seed);
            w.hop_loss = loss;
            w.press(4, Priority::Normal);
            w.run_until(T0);
            let g = w.first_event(4, Instant::ZERO, |e| *e == FloorEvent::Granted);
            access.push(g.map_or(f64::INFINITY, |t| t.as_millis_f64()));
            w.press(0, Priority::Normal);
            w.run_for(Duration::from_secs(5));
            if let Some(t) = w.first_event(0, T0, |e| matches!(e, FloorEvent::Denied { .. })) {
                denied.push(t.saturating_since(T0).as_secs_f64() * 1e3);
            } else if w.talkers() == vec![4] {
                yielded += 1;
                let g = w.first_event(0, T0, |e| *e == FloorEvent::Granted);
                let r = w.first_event(0, T0, |e| matches!(e, FloorEvent::Revoked { .. }));
                if let (Some(g), Some(r)) = (g, r) {
                    overlap.push(r.saturating_since(g).as_secs_f64() * 1e3);
                }
            } else {
                won += 1;
            }
            assert_eq!(w.talkers().len(), 1, "seed {seed}");
        }
        let p95 = pct(&mut access, 0.95);
        println!(
            "{:.0} % hop loss, 4 hops: PTT access p50 {:.1} ms, p95 {:.1} ms; press on a busy floor: \
             denied {} of 200 (p50 {:.1} ms, p95 {:.1} ms), granted then yielded to the talker {yielded}, \
             took the floor {won}; talked over the talker for p50 {:.1} ms, p95 {:.1} ms \
             (no voice frames in this world: a member hearing the talker is denied at once)",
            loss * 100.0,
            pct(&mut access, 0.5),
            p95,
            denied.len(),
            pct(&mut denied, 0.5),
            pct(&mut denied, 0.95),
            pct(&mut overlap, 0.5),
            pct(&mut overlap, 0.95),
        );
        assert!(p95 <= 150.0, "{p95}");
        if loss == 0.0 {
            assert_eq!(denied.len(), 200);
        } else {
            // Only when every request of the newcomer was lost.
            assert!(won <= 16, "{won}");
        }
    }
}

#[test]
fn time_limit_tells_the_talker_and_frees_the_floor() {
    let cfg = FloorConfig {
        max_talk: Duration::from_secs(2),
        ..FloorConfig::default()
    };
    let mut w = World::line_with(5, 4, cfg);
    w.press(1, Priority::Normal);
    w.run_until(Instant::from_millis(5000));
    let start = Instant::ZERO + uncontested();
    assert_eq!(
        w.first_event(1, start, |e| *e == FloorEvent::TimeLimit),
        Some(start + Duration::from_secs(2))
    );
    assert!(w.talkers().is_empty());
    for i in 0..5 {
        assert_eq!(w.floors[i].talker(), None);
        let idle = w
            .first_event(i, start, |e| *e == FloorEvent::Idle)
            .expect("idle");
        assert!(idle.saturating_since(start) <= Duration::from_secs(2) + ms(60));
    }
}

#[test]
fn release_makes_the_floor_idle_everywhere() {
    let mut w = talking_world(5);
    w.release(0);
    w.run_for(ms(200));
    for i in 0..5 {
        assert!(
            w.first_event(i, T0, |e| *e == FloorEvent::Idle).is_some(),
            "{i}"
        );
        assert_eq!(w.floors[i].talker(), None);
        assert_eq!(w.floors[i].burst(), None);
    }
    // The next press gets the floor without contest.
    w.press(3, Priority::Normal);
    w.run_for(ms(200));
    assert_eq!(w.talkers(), vec![3]);
}

#[test]
fn late_joiner_learns_the_talker_from_the_next_voice_frame() {
    let mut w = World::line(5, 6);
    w.deaf.insert(4);
    w.press(0, Priority::Normal);
    w.run_until(Instant::from_millis(300));
    w.deaf.clear();
    let burst = w.floors[0].burst().expect("talking");
    assert_eq!(w.floors[4].talker(), None);
    let now = w.now;
    assert!(w.floors[4].handle_voice(now, id(0), burst));
    assert_eq!(w.floors[4].talker(), Some((id(0), "", Priority::Normal)));
    assert_eq!(w.floors[4].burst(), Some(burst));
    // A second source of the same priority is not mixed in.
    assert!(!w.floors[4].handle_voice(now, id(2), burst ^ 1));
    // The next repeated Taken brings the name.
    w.run_until(Instant::from_millis(1500));
    assert_eq!(
        w.floors[4].talker(),
        Some((id(0), "unit-0", Priority::Normal))
    );
    assert!(w.log.iter().any(|(_, i, e)| *i == 4
        && *e
            == FloorEvent::Taken {
                talker: id(0),
                name: name(0),
                prio: Priority::Normal
            }));
}

#[test]
fn lost_taken_and_lost_release_are_repaired() {
    // Taken lost to member 3 for the first 0.5 s (the grant at 120 ms and
    // both early repeats): the next repeat, 1 s later, repairs it.
    let mut w = World::line(5, 7);
    w.deaf.insert(3);
    w.press(0, Priority::Normal);
    w.run_until(Instant::from_millis(500));
    assert_eq!(w.floors[3].talker(), None);
    w.deaf.clear();
    w.run_until(Instant::from_millis(1400));
    assert_eq!(w.floors[3].talker(), None);
    w.run_until(Instant::from_millis(1500));
    assert_eq!(w.floors[3].talker().map(|t| t.0), Some(id(0)));
    let takens = w
        .sent
        .iter()
        .filter(|(_, i, m)| *i == 0 && matches!(m, FloorMsg::Taken { .. }))
        .map(|(t, _, _)| t.as_micros() / 1000)
        .collect::<Vec<_>>();
    assert_eq!(takens, vec![120, 280, 440, 1440]);

    // Every Release lost: listeners fall back to idle after `listen_hold`.
    w.drop_kind = Some(|m| matches!(m, FloorMsg::Release { .. }));
    let at = w.now;
    w.release(0);
    w.run_for(Duration::from_secs(5));
    let hold = FloorConfig::default().listen_hold;
    for i in 1..5 {
        let idle = w
            .first_event(i, at, |e| *e == FloorEvent::Idle)
            .expect("idle");
        assert!(idle.saturating_since(at) <= hold, "{i}: {idle:?}");
        assert_eq!(w.floors[i].talker(), None);
    }
}

#[test]
fn a_stale_talker_does_not_block_the_floor() {
    let mut w = talking_world(8);
    w.drop_kind = Some(|m| matches!(m, FloorMsg::Release { .. }));
    w.release(0);
    w.run_for(ms(100));
    // Member 4 still believes member 0 talks; nobody denies, so it wins.
    assert_eq!(w.floors[4].talker().map(|t| t.0), Some(id(0)));
    w.press(4, Priority::Normal);
    w.run_for(ms(300));
    assert_eq!(w.talkers(), vec![4]);
    assert_eq!(w.floors[1].talker().map(|t| t.0), Some(id(4)));
}

#[test]
fn queues_are_bounded() {
    let mut f = Floor::new(id(0), "x".repeat(200), FloorConfig::default());
    assert_eq!(f.talker(), None);
    for k in 0..100 {
        let now = Instant::from_millis(k);
        f.press(now, Priority::Normal);
        f.handle(now, id(1), FloorMsg::Grant { to: id(0) });
        f.release(now);
    }
    let mut n = 0;
    while let Some(m) = f.poll_msg() {
        if let FloorMsg::Taken { name, .. } = &m {
            assert_eq!(name.len(), msg::MAX_NAME);
        }
        n += 1;
    }
    assert_eq!(n, MAX_MSGS);
    let mut e = 0;
    while f.poll_event().is_some() {
        e += 1;
    }
    assert_eq!(e, MAX_EVENTS);
}

#[test]
fn a_member_hearing_the_talker_is_denied_even_when_every_deny_is_lost() {
    let mut w = World::line(5, 9);
    w.press(4, Priority::Normal);
    w.run_until(T0);
    w.drop_kind = Some(|m| matches!(m, FloorMsg::Deny { .. }));
    let burst = w.floors[4].burst().expect("talking");
    // Member 0 heard the talker's last voice frame just before pressing;
    // none arrives while it waits (a pause): at the end of its request
    // time the talker is still fresh, so it is refused.
    let now = w.now;
    assert!(w.floors[0].handle_voice(now, id(4), burst));
    w.press(0, Priority::Normal);
    w.run_for(ms(500));
    assert_eq!(w.talkers(), vec![4]);
    assert_eq!(
        w.first_event(0, T0, |e| matches!(e, FloorEvent::Denied { .. })),
        Some(T0 + uncontested())
    );
    // A voice frame of the talker while a request waits refuses it at once.
    let at = w.now;
    w.press(0, Priority::Normal);
    assert!(w.floors[0].pending());
    assert!(w.floors[0].handle_voice(at, id(4), burst));
    assert!(!w.floors[0].pending() && !w.floors[0].may_transmit());
    w.run_for(ms(1));
    assert_eq!(
        w.first_event(0, at, |e| matches!(e, FloorEvent::Denied { .. })),
        Some(at)
    );
    assert_eq!(w.first_event(0, T0, |e| *e == FloorEvent::Granted), None);
}

#[test]
fn a_release_is_repeated_so_a_lost_one_does_not_hold_the_floor() {
    let mut f = Floor::new(id(0), name(0), FloorConfig::default());
    let t = Instant::from_millis(0);
    f.press(t, Priority::Normal);
    let mut now = t;
    while !f.may_transmit() {
        now = f.poll_timeout().expect("a deadline while pending");
        f.handle_timeout(now);
    }
    while f.poll_msg().is_some() {}
    f.release(now);
    let release = |m: Option<FloorMsg>| matches!(m, Some(FloorMsg::Release { .. }));
    assert!(release(f.poll_msg()));
    let mut repeats = 0;
    for _ in 0..10 {
        let Some(at) = f.poll_timeout() else { break };
        f.handle_timeout(at);
        while let Some(m) = f.poll_msg() {
            assert!(release(Some(m)));
            repeats += 1;
        }
    }
    assert_eq!(repeats, RELEASE_REPEATS as usize);
}
