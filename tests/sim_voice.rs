//! The application layer in the simulator: calls by name and talkgroup
//! push-to-talk between real nodes over the modelled radio, driven exactly
//! as the daemon drives them (the same `App`), with frame-sized payloads.

mod sim_common;

use callsign::app::{AppEvent, Stream};
use callsign::floor::{FloorEvent, Priority};
use callsign::node::{FloodProtection, Timers};
use callsign::sim::run::voice::VoiceOptions;
use callsign::sim::world::World;
use callsign::sim::{RunOptions, Sim};
use callsign::time::Instant;

fn voice(ptt: bool, calls: usize, window_s: f64) -> Option<VoiceOptions> {
    Some(VoiceOptions {
        ptt,
        talkgroups: 1,
        window_s,
        calls,
        ..VoiceOptions::default()
    })
}

#[test]
fn a_call_by_name_carries_both_directions_over_three_hops() {
    let spec = sim_common::world("line", 4, 1, 10.0, true);
    let opts = RunOptions {
        voice: voice(false, 1, 6.0),
        ..sim_common::quick(1)
    };
    let r = Sim::new(spec, opts).expect("sim").run();
    let v = r.voice.expect("voice figures");
    assert_eq!(v.calls, 1, "{v:?}");
    assert_eq!(v.call_failures, 0, "{v:?}");
    // Both ends send for the whole window: 50 frames a second each way.
    assert!(v.call_frames_sent > 400, "{v:?}");
    assert!(
        v.call_frame_delivery_ratio.is_some_and(|d| d >= 0.99),
        "{v:?}"
    );
    assert!(v.call_m2e_ms_p95.is_some_and(|m| m <= 150.0), "{v:?}");
}

#[test]
fn talkgroup_voice_reaches_every_member_of_a_lossy_line() {
    // Six in a line, 10 % extra loss on every link: one copy of a frame
    // crosses five lossy hops only 59 % of the time.
    let run = |p: FloodProtection| {
        let spec = sim_common::world("line", 6, 2, 10.0, true);
        let opts = RunOptions {
            loss: 0.1,
            voice: voice(true, 0, 10.0),
            flood_protection: Some(p),
            ..sim_common::quick(2)
        };
        Sim::new(spec, opts)
            .expect("sim")
            .run()
            .voice
            .expect("voice")
    };
    let plain = run(FloodProtection::None);
    let ours = run(Timers::callsign().flood_protection);
    assert!(ours.ptt_bursts >= 2, "{ours:?}");
    let (p, o) = (
        plain.ptt_frame_delivery_ratio.unwrap_or(0.0),
        ours.ptt_frame_delivery_ratio.unwrap_or(0.0),
    );
    assert!(
        p < 0.9,
        "plain flooding delivered {p}: the test is too easy"
    );
    assert!(o >= 0.99, "protected flooding delivered {o}: {ours:?}");
    assert!(
        ours.ptt_frame_delivery_min.is_some_and(|m| m >= 0.98),
        "{ours:?}"
    );
    assert!(ours.ptt_m2e_ms_p95.is_some_and(|m| m <= 150.0), "{ours:?}");
}

#[test]
fn same_seed_same_voice_figures() {
    let run = || {
        let spec = sim_common::world("random", 20, 3, 6.0, false);
        let opts = RunOptions {
            loss: 0.05,
            voice: voice(true, 1, 5.0),
            ..sim_common::quick(3)
        };
        let r = Sim::new(spec, opts).expect("sim").run();
        serde_json::to_string(&r).expect("json")
    };
    assert_eq!(run(), run());
}

/// A world of `n` in a line, booted and converged, every node in
/// `fireground-1`.
fn line_world(n: usize, seed: u64) -> World<()> {
    let spec = sim_common::world("line", n, seed, 10.0, true);
    let mut w: World<()> = World::new(spec, &Timers::callsign(), 0.0, seed).expect("world");
    for i in 0..n {
        w.schedule_boot(i, Instant::ZERO);
    }
    let _ = w.next_hook(Instant::from_millis(3000));
    for i in 0..n {
        w.on_app(i, |a, now| a.join(now, "fireground-1"))
            .expect("up")
            .expect("joined");
    }
    let _ = w.next_hook(Instant::from_millis(4000));
    w
}

#[test]
fn simultaneous_presses_at_both_ends_give_one_talker_everyone_hears() {
    for seed in 1..=5 {
        let mut w = line_world(5, seed);
        w.app_outbox.clear();
        for i in [0, 4] {
            w.on_app(i, |a, now| a.press(now, "fireground-1", Priority::Normal))
                .expect("up")
                .expect("pressed");
        }
        let _ = w.next_hook(Instant::from_millis(5000));
        let talking: Vec<usize> = (0..5)
            .filter(|&i| {
                w.app(i)
                    .and_then(|a| a.talkgroup("fireground-1"))
                    .is_some_and(|t| t.transmitting)
            })
            .collect();
        assert_eq!(talking.len(), 1, "seed {seed}: talkers {talking:?}");
        let talker = w.ids[talking[0]];
        for i in (0..5).filter(|i| *i != talking[0]) {
            let heard = w
                .app(i)
                .and_then(|a| a.talkgroup("fireground-1"))
                .and_then(|t| t.talker);
            assert_eq!(
                heard.map(|(id, _)| id),
                Some(talker),
                "seed {seed}: node {i} follows another talker"
            );
        }
        // The other presser was told no.
        let denied = w.app_outbox.iter().any(|(_, i, e)| {
            *i != talking[0]
                && matches!(
                    e,
                    AppEvent::Floor {
                        event: FloorEvent::Denied { .. },
                        ..
                    }
                )
        });
        assert!(denied, "seed {seed}: the loser was never denied");
        // And the talker's frames are played at the far end.
        let played = w
            .voice
            .played
            .iter()
            .filter(|p| p.node as usize != talking[0])
            .count();
        assert!(played > 0, "seed {seed}: nobody played the talker");
        assert!(
            w.voice
                .sent
                .iter()
                .all(|s| matches!(s.stream, Stream::Group(_)) && s.node as usize == talking[0]),
            "seed {seed}: frames from the loser"
        );
    }
}

#[test]
fn an_emergency_press_preempts_a_talker_within_a_path_delay() {
    let mut w = line_world(5, 7);
    w.on_app(0, |a, now| a.press(now, "fireground-1", Priority::Normal))
        .expect("up")
        .expect("pressed");
    let _ = w.next_hook(Instant::from_millis(4500));
    assert!(
        w.app(0)
            .and_then(|a| a.talkgroup("fireground-1"))
            .is_some_and(|t| t.transmitting)
    );
    w.app_outbox.clear();
    let pressed = w.now();
    w.on_app(4, |a, now| {
        a.press(now, "fireground-1", Priority::Emergency)
    })
    .expect("up")
    .expect("pressed");
    let _ = w.next_hook(Instant::from_millis(5000));
    let at = |node: usize, want: fn(&FloorEvent) -> bool| {
        w.app_outbox
            .iter()
            .find(|(_, i, e)| {
                *i == node && matches!(e, AppEvent::Floor { event, .. } if want(event))
            })
            .map(|(t, _, _)| *t)
    };
    let granted = at(4, |e| matches!(e, FloorEvent::Granted)).expect("the emergency got the floor");
    let revoked =
        at(0, |e| matches!(e, FloorEvent::Revoked { .. })).expect("the talker was pre-empted");
    // Four hops of a few milliseconds each: the Taken's path delay.
    assert!(granted.saturating_since(pressed).as_millis() <= 5);
    assert!(
        revoked.saturating_since(pressed).as_millis() <= 40,
        "revoked {} ms after the press",
        revoked.saturating_since(pressed).as_millis()
    );
}
