//! The tones the speaker plays by itself. The ring tone of an incoming
//! call: 440 + 480 Hz, two seconds on and four off (the ringing cadence of
//! ITU-T E.180 for North America, the one responders there know as "a
//! phone ringing"). The PAR alert of a roll call waiting for this member:
//! three short beeps of 1050 Hz (the weather-radio attention tone, nothing
//! like a phone) every four seconds. Generated frame by frame at 16 kHz
//! from a sample counter, so they are the same on every device and need no
//! clock: the caller asks for the next 20 ms.

use super::{FRAME_SAMPLES, SAMPLE_RATE};

/// The two tones, Hz.
pub const RING_FREQS: [f64; 2] = [440.0, 480.0];
/// Tone on, then silence, in seconds.
pub const RING_ON_S: f64 = 2.0;
pub const RING_OFF_S: f64 = 4.0;
/// Peak of each tone: together -9 dBFS, loud enough over a pump panel
/// without clipping when mixed with talkgroup voice.
const AMPLITUDE: f64 = 5_800.0;
/// Rise and fall of each burst (ms): a hard edge clicks.
const RAMP_MS: f64 = 10.0;

/// A ringing tone, from its first sample.
#[derive(Debug, Clone, Default)]
pub struct RingTone {
    /// Samples produced so far.
    pos: u64,
}

impl RingTone {
    pub fn new() -> RingTone {
        RingTone::default()
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> [i16; FRAME_SAMPLES] {
        let mut out = [0i16; FRAME_SAMPLES];
        let rate = f64::from(SAMPLE_RATE);
        let period = ((RING_ON_S + RING_OFF_S) * rate) as u64;
        let on = (RING_ON_S * rate) as u64;
        let ramp = RAMP_MS / 1000.0 * rate;
        for s in out.iter_mut() {
            let n = self.pos;
            self.pos += 1;
            let k = n % period;
            if k >= on {
                continue;
            }
            let t = n as f64 / rate;
            let edge = (k as f64).min((on - k) as f64);
            let gain = (edge / ramp).min(1.0);
            let v: f64 = RING_FREQS
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                .sum();
            *s = (AMPLITUDE * gain * v) as i16;
        }
        out
    }
}

/// The PAR alert's tone, Hz.
pub const PAR_FREQ: f64 = 1050.0;
/// Each beep, the gap between beeps, and the period of a group of three.
pub const PAR_BEEP_S: f64 = 0.15;
pub const PAR_GAP_S: f64 = 0.1;
pub const PAR_PERIOD_S: f64 = 4.0;
const PAR_BEEPS: u64 = 3;
/// One tone at -11 dBFS: as loud as the ring.
const PAR_AMPLITUDE: f64 = 9_000.0;

/// The PAR alert, from its first sample.
#[derive(Debug, Clone, Default)]
pub struct ParTone {
    pos: u64,
}

impl ParTone {
    pub fn new() -> ParTone {
        ParTone::default()
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> [i16; FRAME_SAMPLES] {
        let mut out = [0i16; FRAME_SAMPLES];
        let rate = f64::from(SAMPLE_RATE);
        let period = (PAR_PERIOD_S * rate) as u64;
        let beep = (PAR_BEEP_S * rate) as u64;
        let step = ((PAR_BEEP_S + PAR_GAP_S) * rate) as u64;
        let ramp = RAMP_MS / 1000.0 * rate;
        for s in out.iter_mut() {
            let n = self.pos;
            self.pos += 1;
            let k = n % period;
            if k >= step * PAR_BEEPS || k % step >= beep {
                continue;
            }
            let k = k % step;
            let edge = (k as f64).min((beep - k) as f64);
            let gain = (edge / ramp).min(1.0);
            let t = n as f64 / rate;
            *s = (PAR_AMPLITUDE * gain * (2.0 * std::f64::consts::PI * PAR_FREQ * t).sin()) as i16;
        }
        out
    }
}

/// Power of `freq` in 16 kHz samples `x` (Goertzel), normalised to the
/// signal length: how a test or a tool tells that a tone is there.
pub fn power_at(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(SAMPLE_RATE);
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len().max(1) as f64).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadence_is_two_seconds_on_four_off() {
        let mut t = RingTone::new();
        // 13 s: two whole periods and the start of a third.
        let frames: Vec<bool> = (0..650)
            .map(|_| t.next_frame().iter().any(|&s| s != 0))
            .collect();
        let on: Vec<usize> = (0..frames.len()).filter(|&i| frames[i]).collect();
        assert_eq!(on.len(), 100 + 100 + 50, "frames with tone");
        // Each burst is 100 frames (2 s) starting every 300 frames (6 s).
        for start in [0, 300, 600] {
            assert!(frames[start], "burst at frame {start}");
            assert!(start == 0 || !frames[start - 1], "gap before {start}");
        }
        assert!(frames[99] && !frames[100] && !frames[299]);
    }

    #[test]
    fn par_alert_is_three_beeps_every_four_seconds() {
        let mut t = ParTone::new();
        // 9 s: two whole periods and the start of a third, sample by sample.
        let pcm: Vec<i16> = (0..450).flat_map(|_| t.next_frame()).collect();
        // Beeps as runs of 10 ms blocks with sound.
        let blocks: Vec<bool> = pcm.chunks(160).map(|b| b.iter().any(|&s| s != 0)).collect();
        let starts: Vec<usize> = (0..blocks.len())
            .filter(|&i| blocks[i] && (i == 0 || !blocks[i - 1]))
            .collect();
        // 0, 250 and 500 ms into each 4 s period, each 150 ms long.
        assert_eq!(starts, [0, 25, 50, 400, 425, 450, 800, 825, 850]);
        for &s in &starts {
            assert!(blocks[s..s + 15].iter().all(|&b| b), "beep at {s}");
            assert!(!blocks[s + 15], "beep at {s} ends at 150 ms");
        }
        let on = blocks.iter().filter(|&&b| b).count();
        assert_eq!(on, 9 * 15);
    }

    #[test]
    fn par_alert_is_1050_hz_and_unlike_the_ring() {
        let mut t = ParTone::new();
        let pcm: Vec<i16> = (0..200).flat_map(|_| t.next_frame()).collect();
        let beep = &pcm[..2400];
        let p = power_at(beep, PAR_FREQ);
        for off in [440.0, 480.0, 700.0, 1_500.0, 2_100.0] {
            let o = power_at(beep, off);
            assert!(p > 1_000.0 * o, "{off} Hz: {o} vs {p}");
        }
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((8_500..=9_000).contains(&peak), "peak {peak}");
        // The ring has none of it.
        let mut r = RingTone::new();
        let ring: Vec<i16> = (0..50).flat_map(|_| r.next_frame()).collect();
        assert!(power_at(&ring, 440.0) > 1_000.0 * power_at(&ring, PAR_FREQ));
    }

    #[test]
    fn tone_is_440_plus_480_hz() {
        let mut t = RingTone::new();
        let pcm: Vec<i16> = (0..50).flat_map(|_| t.next_frame()).collect();
        let (a, b) = (power_at(&pcm, 440.0), power_at(&pcm, 480.0));
        for off in [350.0, 620.0, 1_000.0, 2_000.0] {
            let o = power_at(&pcm, off);
            assert!(
                a > 1_000.0 * o && b > 1_000.0 * o,
                "{off} Hz: {o} vs {a}, {b}"
            );
        }
        assert!((a / b - 1.0).abs() < 0.1, "equal tones: {a} {b}");
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((10_000..=11_700).contains(&peak), "peak {peak}");
    }
}
