//! Talkgroups private to their members, in the simulator: real nodes in a
//! line, the members holding the talkgroup's key, one device in the same
//! talkgroup without it (or with another key). Members hear each other;
//! the outsider hears nothing, and its burst and its emergency request
//! are refused and counted by the members, whose talker goes on.

mod sim_common;

use callsign::app::AppStats;
use callsign::app::group_key::{EpochKey, REKEY_OVERLAP};
use callsign::app::group_wire::group_of;
use callsign::floor::Priority;
use callsign::node::Timers;
use callsign::sim::world::World;
use callsign::time::Instant;

const TG: &str = "fireground-1";
const N: usize = 5;
/// The outsider: the far end of the line, so every member's packets and
/// its own cross relays.
const OUT: usize = N - 1;

fn key(epoch: u32, secret: u8) -> EpochKey {
    EpochKey::new(group_of(TG), epoch, [secret; 32])
}

/// A line of `N`, every node in `TG`; the members (all but [`OUT`]) hold
/// epoch 0 of the key, the outsider `outsider_key` if any.
fn world(seed: u64, outsider_key: Option<EpochKey>) -> World<()> {
    let spec = sim_common::world("line", N, seed, 10.0, true);
    let mut w: World<()> = World::new(spec, &Timers::callsign(), 0.0, seed).expect("world");
    for i in 0..N {
        w.schedule_boot(i, Instant::ZERO);
    }
    let _ = w.next_hook(Instant::from_millis(3000));
    for i in 0..N {
        let k = if i == OUT {
            outsider_key.clone()
        } else {
            Some(key(0, 1))
        };
        w.on_app(i, |a, now| {
            if let Some(k) = k {
                assert!(a.set_talkgroup_key(now, k));
            }
            a.join(now, TG)
        })
        .expect("up")
        .expect("joined");
    }
    let _ = w.next_hook(Instant::from_millis(4000));
    w
}

fn run_to(w: &mut World<()>, ms: u64) {
    let _ = w.next_hook(Instant::from_millis(ms));
}

fn played_by(w: &World<()>, listener: usize, talker: usize) -> usize {
    w.voice
        .played
        .iter()
        .filter(|p| {
            p.node as usize == listener && w.voice.sent[p.frame as usize].node as usize == talker
        })
        .count()
}

fn stats(w: &World<()>, i: usize) -> AppStats {
    *w.app(i).expect("up").stats()
}

fn talker_at(w: &World<()>, i: usize) -> Option<usize> {
    let (id, _) = w.app(i)?.talkgroup(TG)?.talker?;
    w.index(&id)
}

#[test]
fn an_outsider_neither_hears_nor_talks_nor_takes_the_floor() {
    for (seed, outsider_key) in [(1, None), (2, Some(key(0, 2))), (3, None)] {
        let wrong_key = outsider_key.is_some();
        let mut w = world(seed, outsider_key);
        w.on_app(0, |a, now| a.press(now, TG, Priority::Normal))
            .expect("up")
            .expect("pressed");
        run_to(&mut w, 6000);
        let sent0 = w.voice.sent.iter().filter(|s| s.node == 0).count();
        assert!(sent0 > 50, "seed {seed}: member 0 sent {sent0} frames");
        for i in 1..OUT {
            assert!(
                played_by(&w, i, 0) * 10 >= sent0 * 9,
                "seed {seed}: member {i} played {} of {sent0}",
                played_by(&w, i, 0)
            );
            assert_eq!(talker_at(&w, i), Some(0));
        }
        // The outsider plays nothing and does not even learn who talks.
        assert_eq!(played_by(&w, OUT, 0), 0, "seed {seed}");
        assert_eq!(talker_at(&w, OUT), None, "seed {seed}");
        let s = stats(&w, OUT);
        if wrong_key {
            assert!(
                s.tg_refused_voice >= sent0 as u64 * 9 / 10,
                "seed {seed}: {s:?}"
            );
            assert!(s.tg_refused_floor > 0, "seed {seed}: {s:?}");
        } else {
            assert!(s.tg_no_key >= sent0 as u64 * 9 / 10, "seed {seed}: {s:?}");
        }
        // Nothing refused among the members so far.
        for i in 0..OUT {
            assert_eq!(stats(&w, i), AppStats::default(), "seed {seed}: member {i}");
        }

        // The outsider presses, with emergency priority (a forged mayday):
        // its own floor grants it (it reads nobody), it sends frames, and
        // no member lets them near the floor or the speaker.
        w.on_app(OUT, |a, now| a.press(now, TG, Priority::Emergency))
            .expect("up")
            .expect("pressed");
        run_to(&mut w, 9000);
        let sent_out = w
            .voice
            .sent
            .iter()
            .filter(|s| s.node as usize == OUT)
            .count();
        assert!(sent_out > 50, "seed {seed}: the outsider sent {sent_out}");
        for i in 0..OUT {
            assert_eq!(played_by(&w, i, OUT), 0, "seed {seed}: member {i}");
            let s = stats(&w, i);
            if i > 0 {
                assert!(
                    s.tg_refused_voice >= sent_out as u64 * 9 / 10,
                    "seed {seed}: member {i} {s:?}"
                );
            }
            assert!(s.tg_refused_floor > 0, "seed {seed}: member {i} {s:?}");
        }
        // Member 0 still talks, and is still heard.
        let t0 = w.app(0).and_then(|a| a.talkgroup(TG)).expect("member");
        assert!(t0.transmitting, "seed {seed}: {:?}", t0.last_outcome);
        for i in 1..OUT {
            assert_eq!(talker_at(&w, i), Some(0), "seed {seed}: member {i}");
        }
        let sent0 = w.voice.sent.iter().filter(|s| s.node == 0).count();
        assert!(played_by(&w, 1, 0) * 10 >= sent0 * 9, "seed {seed}");
    }
}

#[test]
fn a_rekey_moves_the_members_and_leaves_the_old_key_out_after_the_overlap() {
    let mut w = world(4, None);
    // The listeners move first, the talker after: during the overlap the
    // listeners still read the talker's old-epoch frames.
    for i in 1..OUT {
        w.on_app(i, |a, now| assert!(a.set_talkgroup_key(now, key(1, 7))));
    }
    w.on_app(0, |a, now| a.press(now, TG, Priority::Normal))
        .expect("up")
        .expect("pressed");
    run_to(&mut w, 5000);
    w.on_app(0, |a, now| assert!(a.set_talkgroup_key(now, key(1, 7))));
    run_to(&mut w, 7000);
    let sent0 = w.voice.sent.iter().filter(|s| s.node == 0).count();
    for i in 1..OUT {
        assert!(
            played_by(&w, i, 0) * 10 >= sent0 * 9,
            "member {i} played {} of {sent0}",
            played_by(&w, i, 0)
        );
        assert_eq!(stats(&w, i).tg_refused_total(), 0, "member {i}");
        let v = w.app(i).and_then(|a| a.talkgroup(TG)).expect("member");
        assert_eq!(v.key_epoch, Some(1));
    }
    w.on_app(0, |a, now| a.release(now, TG, None))
        .expect("up")
        .expect("released");
    run_to(&mut w, 8000);
    // Past the overlap a device left on the old key (one that left the
    // group and was not given the new one) is refused.
    let past = 8000 + REKEY_OVERLAP.as_millis() as u64 + 1000;
    run_to(&mut w, past);
    w.on_app(1, |a, now| assert!(a.set_talkgroup_key(now, key(2, 9))));
    w.on_app(2, |a, now| assert!(a.set_talkgroup_key(now, key(2, 9))));
    // Node 3 keeps epoch 1: it "left" and did not get epoch 2.
    let before = w.voice.played.len();
    w.on_app(1, |a, now| a.press(now, TG, Priority::Normal))
        .expect("up")
        .expect("pressed");
    run_to(&mut w, past + 2000);
    let heard_by = |i: usize| {
        w.voice.played[before..]
            .iter()
            .filter(|p| p.node as usize == i && w.voice.sent[p.frame as usize].node == 1)
            .count()
    };
    assert!(heard_by(2) > 50, "member 2 heard {}", heard_by(2));
    assert_eq!(heard_by(3), 0, "the device on the old key heard the burst");
    assert!(stats(&w, 3).tg_refused_voice > 50, "{:?}", stats(&w, 3));
}

/// Loss does not cost a private talkgroup more than an open one: the
/// replay checks refuse nothing genuine when floods are lost, repaired
/// and overtaken (10 % extra loss on every link of a line of six).
#[test]
fn a_private_talkgroup_delivers_as_an_open_one_on_a_lossy_line() {
    let n = 6;
    for seed in [5, 6, 7] {
        let run = |keyed: bool| {
            let spec = sim_common::world("line", n, seed, 10.0, true);
            let mut w: World<()> = World::new(spec, &Timers::callsign(), 0.1, seed).expect("world");
            for i in 0..n {
                w.schedule_boot(i, Instant::ZERO);
            }
            run_to(&mut w, 3000);
            for i in 0..n {
                w.on_app(i, |a, now| {
                    if keyed {
                        assert!(a.set_talkgroup_key(now, key(0, 1)));
                    }
                    a.join(now, TG)
                })
                .expect("up")
                .expect("joined");
            }
            run_to(&mut w, 4000);
            for round in 0..3u64 {
                let at = 4000 + round * 4000;
                w.on_app(0, |a, now| a.press(now, TG, Priority::Normal))
                    .expect("up")
                    .expect("pressed");
                run_to(&mut w, at + 3000);
                w.on_app(0, |a, now| a.release(now, TG, None))
                    .expect("up")
                    .expect("released");
                run_to(&mut w, at + 4000);
            }
            let sent = w.voice.sent.iter().filter(|s| s.node == 0).count();
            let worst = (1..n).map(|i| played_by(&w, i, 0)).min().unwrap_or(0);
            let replayed: u64 = (0..n).map(|i| stats(&w, i).tg_replayed).sum();
            let refused: u64 = (0..n).map(|i| stats(&w, i).tg_refused_total()).sum();
            (sent, worst, replayed, refused)
        };
        let (sent_o, worst_o, _, _) = run(false);
        let (sent_k, worst_k, replayed, refused) = run(true);
        println!(
            "seed {seed}: open {worst_o} of {sent_o} at the worst member, private {worst_k} of {sent_k}, \
             {replayed} taken for replays, {refused} refused"
        );
        assert!(sent_k > 300, "seed {seed}: {sent_k} sent");
        assert_eq!(refused, 0, "seed {seed}");
        let ratio = |w: usize, s: usize| w as f64 / s as f64;
        assert!(
            ratio(worst_k, sent_k) >= ratio(worst_o, sent_o) - 0.01,
            "seed {seed}: private {worst_k}/{sent_k} vs open {worst_o}/{sent_o}"
        );
    }
}
