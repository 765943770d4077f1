use super::*;
use crate::rng::Rng;
use proptest::prelude::*;

const F: u64 = 20;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn p(i: u64) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn frame_of(out: &Playout) -> Option<u64> {
    match out {
        Playout::Frame(b) => Some(u64::from_be_bytes(b.as_slice().try_into().ok()?)),
        _ => None,
    }
}

/// Send `n` frames (one per 20 ms from t = 0) through a link with the
/// given per-frame delay (None = lost); pop every 20 ms at offset 5 ms.
/// Returns the indices played in order and the stats.
fn run(
    n: u64,
    delay_of: impl Fn(u64) -> Option<u64>,
    cfg: JitterConfig,
) -> (Vec<u64>, JitterStats) {
    let mut jb = JitterBuffer::new(cfg);
    let mut arrivals: Vec<(u64, u64)> = (0..n)
        .filter_map(|i| Some((i * F + delay_of(i)?, i)))
        .collect();
    arrivals.sort();
    let mut played = Vec::new();
    let mut next_arrival = 0;
    let end = n * F + 1000;
    let mut tick = 5;
    while tick < end {
        while let Some(&(t, i)) = arrivals.get(next_arrival) {
            if t > tick {
                break;
            }
            jb.push(at(t), i, p(i));
            next_arrival += 1;
        }
        if let Some(i) = frame_of(&jb.pop(at(tick))) {
            played.push(i);
        }
        tick += F;
    }
    (played, jb.stats())
}

#[test]
fn start_waits_the_target_delay() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    assert_eq!(jb.pop(at(0)), Playout::Silence);
    jb.push(at(100), 0, p(0));
    // Initial target 60 ms: silence until the slot at 160 ms.
    assert_eq!(jb.pop(at(120)), Playout::Silence);
    assert_eq!(jb.pop(at(140)), Playout::Silence);
    jb.push(at(121), 1, p(1));
    assert_eq!(frame_of(&jb.pop(at(160))), Some(0));
    assert_eq!(frame_of(&jb.pop(at(180))), Some(1));
}

#[test]
fn reordered_frames_play_in_order() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    for i in [1, 0, 3, 2, 4] {
        jb.push(at(10 + i), i, p(i));
    }
    let mut out = Vec::new();
    for k in 0..12 {
        if let Some(i) = frame_of(&jb.pop(at(20 * k))) {
            out.push(i);
        }
    }
    assert_eq!(out, vec![0, 1, 2, 3, 4]);
    assert_eq!(jb.stats().played, 5);
}

#[test]
fn late_frames_are_dropped_never_played() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    jb.push(at(0), 0, p(0));
    jb.push(at(20), 2, p(2));
    jb.push(at(40), 3, p(3));
    assert_eq!(jb.pop(at(40)), Playout::Silence);
    assert_eq!(frame_of(&jb.pop(at(60))), Some(0));
    // 1 is missing, 2 is here: recover 1 from 2's FEC, then play 2.
    assert_eq!(jb.pop(at(80)), Playout::Fec(p(2)));
    // 1 arrives after its slot: dropped.
    jb.push(at(85), 1, p(1));
    assert_eq!(frame_of(&jb.pop(at(100))), Some(2));
    assert_eq!(frame_of(&jb.pop(at(120))), Some(3));
    let s = jb.stats();
    assert_eq!((s.late_dropped, s.fec, s.played), (1, 1, 3));
    // A duplicate of a played frame is late too.
    jb.push(at(125), 3, p(3));
    assert_eq!(jb.stats().late_dropped, 2);
}

#[test]
fn silence_after_a_burst_and_a_new_spurt_waits_again() {
    let cfg = JitterConfig::default();
    let mut jb = JitterBuffer::new(cfg);
    for i in 0..5 {
        jb.push(at(i * F), i, p(i));
    }
    let mut outs = Vec::new();
    for k in 3..20 {
        outs.push(jb.pop(at(k * F)));
    }
    let frames = outs.iter().filter(|o| frame_of(o).is_some()).count();
    assert_eq!(frames, 5);
    assert!(outs.iter().filter(|o| **o == Playout::Conceal).count() <= cfg.silence_after as usize);
    assert_eq!(outs.last(), Some(&Playout::Silence));
    // Next spurt (DTX pause: index 50 at 1000 ms) plays after the target.
    let target = u64::from(jb.stats().target_ms);
    jb.push(at(1000), 50, p(50));
    let mut t = 1000;
    let first = loop {
        t += F;
        if let Some(i) = frame_of(&jb.pop(at(t))) {
            break (i, t);
        }
        assert!(t < 1400, "spurt never started");
    };
    assert_eq!(first.0, 50);
    assert!(
        first.1 + F / 2 >= 1000 + target,
        "played at {} before target {target}",
        first.1
    );
}

#[test]
fn target_adapts_to_jitter_and_back() {
    let cfg = JitterConfig::default();
    // Steady link: no jitter, target at the minimum, nothing late.
    let (played, s) = run(500, |_| Some(30), cfg);
    assert_eq!(played.len(), 500);
    assert_eq!(s.target_ms, 20);
    assert_eq!(s.late_dropped, 0);

    // Jittery link (uniform 0..100 ms): the target grows to cover it and
    // few frames are late.
    let jitter = |seed: u64| {
        move |i: u64| {
            let mut r = Rng::new(seed ^ i.wrapping_mul(0x9e37_79b9));
            Some(30 + r.below(100))
        }
    };
    let (played, s) = run(1500, jitter(1), cfg);
    assert!(s.target_ms >= 80, "target {} ms", s.target_ms);
    assert!(s.target_ms <= 200);
    let late = s.late_dropped as f64 / 1500.0;
    assert!(late < 0.06, "late {late:.3}");
    assert!(played.len() >= 1400, "played {}", played.len());
    assert!(played.windows(2).all(|w| w[0] < w[1]), "out of order");

    // Jitter then calm: the target comes back down.
    let (_, s) = run(
        1500,
        |i| {
            if i < 500 { jitter(2)(i) } else { Some(30) }
        },
        cfg,
    );
    assert_eq!(s.target_ms, 20);
}

#[test]
fn delay_steps_and_late_frames_move_the_playout_delay() {
    let cfg = JitterConfig::default();
    // One long spurt: the path gets 100 ms slower for 8 s (a re-route),
    // then fast again. The gap re-anchors playout on the slower path
    // instead of dropping every later frame as late, and frames are
    // skipped once the extra delay is no longer needed.
    let (played, s) = run(
        1000,
        |i| Some(if (200..600).contains(&i) { 130 } else { 30 }),
        cfg,
    );
    assert!(s.skipped >= 4, "{s:?}");
    assert!(s.late_dropped <= 10, "{s:?}");
    assert!(played.len() >= 980, "{s:?}");
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    // Every 10th frame 60 ms late inside one spurt: the buffer holds
    // ticks (stretches) until those frames fit.
    let (played, s) = run(1000, |i| Some(30 + if i % 10 == 0 { 60 } else { 0 }), cfg);
    assert!(s.stretched >= 1, "{s:?}");
    assert!(s.late_dropped <= 20, "{s:?}");
    assert!(played.len() >= 975, "{s:?}");
}

#[test]
fn target_is_clamped_to_max() {
    let cfg = JitterConfig::default();
    let (_, s) = run(600, |i| Some(30 + (i % 2) * 400), cfg);
    assert_eq!(s.target_ms, 200);
}

#[test]
fn loss_is_concealed_or_recovered() {
    // Every 10th frame lost; FEC of the next frame recovers each one.
    let (played, s) = run(
        500,
        |i| (i % 10 != 5).then_some(30),
        JitterConfig::default(),
    );
    assert_eq!(played.len(), 450);
    assert_eq!(s.fec, 50);
    assert_eq!(s.late_dropped, 0);
    // Two in a row: one FEC, one concealment (and the end of the stream
    // is concealed `silence_after` times before silence).
    let cfg = JitterConfig::default();
    let (_, s) = run(500, |i| (i % 10 != 5 && i % 10 != 6).then_some(30), cfg);
    assert_eq!(
        (s.fec, s.concealed),
        (50, 50 + u64::from(cfg.silence_after))
    );
}

#[test]
fn far_ahead_frames_overflow() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    jb.push(at(0), 0, p(0));
    jb.push(at(1), CAPACITY + 5, p(0));
    assert_eq!(jb.stats().overflow, 1);
    assert_eq!(jb.len(), 1);
}

proptest! {
    #[test]
    fn any_sequence_is_bounded_and_in_order(ops in proptest::collection::vec((any::<bool>(), 0u64..300, 0u64..30), 0..400)) {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut t = 0;
        let mut last = None;
        for (is_push, index, dt) in ops {
            t += dt;
            if is_push {
                jb.push(at(t), index, p(index));
            } else if let Some(i) = frame_of(&jb.pop(at(t))) {
                prop_assert!(last.is_none_or(|l| i > l));
                last = Some(i);
            }
            prop_assert!(jb.len() as u64 <= CAPACITY);
        }
    }
}

#[test]
fn an_outage_backlog_released_at_once_is_not_played_late() {
    // Frames 100..115 (300 ms) are held by a stalled relay and all arrive
    // at once when it resumes; every other frame takes 30 ms.
    let held = |i: u64| (100..115).contains(&i);
    let (played, s) = run(
        400,
        |i| Some(if held(i) { 115 * F + 30 - i * F } else { 30 }),
        JitterConfig::default(),
    );
    // Playout goes on from fresh frames at the old delay: no run of skips
    // to win the backlog's delay back, no stretch, and the target is the
    // path's, not the outage's.
    assert_eq!(s.skipped, 0, "{s:?}");
    assert_eq!(s.stretched, 0, "{s:?}");
    assert!(s.target_ms <= 40, "{s:?}");
    assert!(played.contains(&115) && played.contains(&399), "{s:?}");
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    // What plays after the outage plays at the delay it had before.
    assert!(
        played.len() >= 400 - 15 - 1,
        "{} played, {s:?}",
        played.len()
    );
}
