//! The daemon's speaker: where talkgroups joined without a sink of their
//! own, calls answered without one, the ring tone of an incoming call and
//! the alert of a PAR roll call waiting for this member play, on the sound card named by `up --audio-out` (the system default
//! unless `none`) and/or into a WAV file (`--audio-out-wav`).
//!
//! Streams hand it decoded 20 ms frames when the application plays them;
//! the speaker keeps a short queue per stream and, on its own 20 ms clock
//! (the caller's `now`), takes one frame from each, mixes them by
//! [`crate::audio::mix`] and writes the result. It runs only while
//! something is queued or a tone sounds, so an idle daemon does not wake
//! for it. A WAV sink gets exactly the frames played, idle time left out.
//!
//! No sound card is not an error: the daemon says so once and carries on.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::Stream;
use crate::audio::FRAME_SAMPLES as FRAME;
use crate::audio::mix::{Input, mix};
use crate::audio::tone::{ParTone, RingTone};
use crate::audio::wav::WavWriter;
use crate::daemon::sound;
use crate::time::Instant;

const TICK: Duration = Duration::from_millis(20);
/// Frames queued per stream: 200 ms. Beyond it the oldest go (a stream
/// that runs ahead of the speaker's clock must not build up delay).
const MAX_QUEUED: usize = 10;
/// A slot due this close is played now: the media tick that fed it and
/// the speaker's own tick land microseconds apart, and one wake serves both.
const SLACK: Duration = Duration::from_millis(3);
/// Slots played back to back after a stall before the clock restarts.
const MAX_CATCH_UP: u32 = 5;

type Wav = WavWriter<std::io::BufWriter<std::fs::File>>;

/// One stream's queued frames, each with its emergency flag.
type Queue = VecDeque<([i16; FRAME], bool)>;

pub struct Speaker {
    device: Option<sound::Playback>,
    wav: Option<(PathBuf, Wav)>,
    queues: BTreeMap<Stream, Queue>,
    ring: Option<RingTone>,
    par: Option<ParTone>,
    /// When the next slot is due; `None` while idle.
    next: Option<Instant>,
    /// Frames written (for the status and tests).
    pub played: u64,
}

impl Speaker {
    /// Open the sound card `device` (`None`: no card) and the WAV `wav`.
    /// A card that cannot be opened is logged once and left out; a WAV
    /// that cannot be created is an error (it was asked for by path).
    pub fn open(device: Option<&str>, wav: Option<&Path>) -> Result<Speaker, String> {
        let device = device.and_then(|d| match sound::Playback::open(d) {
            Ok(p) => {
                tracing::info!(device = %p.name(), "speaker: talkgroups, calls without their own sink and the ring tone play here");
                Some(p)
            }
            Err(e) => {
                tracing::warn!("no speaker ({e}): ring tones and talkgroup audio play nowhere (set --audio-out to a device from `callsign audio devices`, or none)");
                None
            }
        });
        let wav = match wav {
            Some(p) => {
                let f = std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let w = WavWriter::new(std::io::BufWriter::new(f))
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                tracing::info!(file = %p.display(), "speaker: also written to a WAV");
                Some((p.to_path_buf(), w))
            }
            None => None,
        };
        Ok(Speaker {
            device,
            wav,
            queues: BTreeMap::new(),
            ring: None,
            par: None,
            next: None,
            played: 0,
        })
    }

    /// Whether anything listens: a card or a WAV.
    pub fn present(&self) -> bool {
        self.device.is_some() || self.wav.is_some()
    }

    /// A decoded frame of `stream`, to be mixed into the next free slot.
    pub fn push(&mut self, now: Instant, stream: Stream, pcm: &[i16], emergency: bool) {
        if !self.present() {
            return;
        }
        let mut f = [0i16; FRAME];
        let n = pcm.len().min(FRAME);
        f[..n].copy_from_slice(&pcm[..n]);
        let q = self.queues.entry(stream).or_default();
        if q.len() >= MAX_QUEUED {
            q.pop_front();
        }
        q.push_back((f, emergency));
        self.next.get_or_insert(now);
    }

    /// A stream is over: what it queued still plays, nothing more comes.
    pub fn forget(&mut self, stream: Stream) {
        if self.queues.get(&stream).is_some_and(VecDeque::is_empty) {
            self.queues.remove(&stream);
        }
    }

    /// Ring (a call rings here) or stop ringing.
    pub fn ring(&mut self, now: Instant, on: bool) {
        match (on, self.ring.is_some()) {
            (true, false) if self.present() => {
                self.ring = Some(RingTone::new());
                self.next.get_or_insert(now);
            }
            (false, true) => self.ring = None,
            _ => {}
        }
    }

    pub fn ringing(&self) -> bool {
        self.ring.is_some()
    }

    /// Sound the PAR alert (a roll call waits for this member) or stop it.
    pub fn par_alert(&mut self, now: Instant, on: bool) {
        match (on, self.par.is_some()) {
            (true, false) if self.present() => {
                self.par = Some(ParTone::new());
                self.next.get_or_insert(now);
            }
            (false, true) => self.par = None,
            _ => {}
        }
    }

    pub fn par_alerting(&self) -> bool {
        self.par.is_some()
    }

    /// When the speaker needs the next [`Speaker::pump`].
    pub fn next_due(&self) -> Option<Instant> {
        self.next
    }

    /// Play every slot due by `now`.
    pub fn pump(&mut self, now: Instant) {
        let mut n = 0;
        while let Some(at) = self.next {
            if at > now + SLACK {
                return;
            }
            if n == MAX_CATCH_UP {
                // A stall (the engine was busy): start the clock again
                // rather than play a burst of stale slots.
                self.next = Some(now);
                return;
            }
            n += 1;
            self.play_slot();
            let busy = self.ring.is_some()
                || self.par.is_some()
                || self.queues.values().any(|q| !q.is_empty());
            self.next = busy.then(|| at + TICK);
            self.queues.retain(|_, q| !q.is_empty());
        }
    }

    fn play_slot(&mut self) {
        let ring = self.ring.as_mut().map(RingTone::next_frame);
        let par = self.par.as_mut().map(ParTone::next_frame);
        let fronts: Vec<([i16; FRAME], bool)> = self
            .queues
            .values_mut()
            .filter_map(VecDeque::pop_front)
            .collect();
        let mut inputs: Vec<Input<'_>> = fronts
            .iter()
            .map(|(pcm, emergency)| Input {
                pcm,
                emergency: *emergency,
            })
            .collect();
        for t in ring.iter().chain(par.iter()) {
            inputs.push(Input {
                pcm: t,
                emergency: false,
            });
        }
        let out = mix(&inputs);
        if let Some(d) = &mut self.device {
            d.write(&out);
        }
        if let Some((path, w)) = &mut self.wav
            && let Err(e) = w.write(&out)
        {
            tracing::warn!(file = %path.display(), "speaker WAV stopped: {e}");
            self.wav = None;
        }
        self.played += 1;
    }

    /// Close the WAV (its header then says how long it is).
    pub fn finish(&mut self) {
        if let Some((path, w)) = self.wav.take()
            && let Err(e) = w.finish()
        {
            tracing::warn!(file = %path.display(), "cannot finish the speaker WAV: {e}");
        }
        self.device = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeId;

    fn wav_speaker(name: &str) -> (Speaker, PathBuf) {
        let p = std::env::temp_dir().join(format!(
            "callsign-speaker-{}-{name}.wav",
            std::process::id()
        ));
        (Speaker::open(None, Some(&p)).expect("speaker"), p)
    }

    fn ms(v: u64) -> Instant {
        Instant::from_micros(v * 1000)
    }

    #[test]
    fn two_groups_mix_one_slot_per_tick_and_go_idle() {
        let (mut s, p) = wav_speaker("mix");
        let (a, b) = (
            Stream::Group(NodeId([1; 16])),
            Stream::Group(NodeId([2; 16])),
        );
        for k in 0..3u64 {
            let t = ms(1000 + 20 * k);
            s.push(t, a, &[100; FRAME], false);
            s.push(t, b, &[20; FRAME], false);
            s.pump(t);
        }
        assert_eq!(s.played, 3);
        assert_eq!(s.next_due(), None, "idle once the queues are empty");
        s.pump(ms(5000));
        assert_eq!(s.played, 3, "nothing plays while idle");
        s.finish();
        let pcm = crate::audio::wav::read(&p).expect("wav");
        assert_eq!(pcm.len(), 3 * FRAME);
        assert!(pcm.iter().all(|&v| v == 120), "mixed");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn ring_tone_runs_on_its_own_clock_until_stopped() {
        let (mut s, p) = wav_speaker("ring");
        s.ring(ms(0), true);
        assert_eq!(s.next_due(), Some(ms(0)));
        for k in 0..50u64 {
            s.pump(ms(20 * k));
        }
        assert_eq!(s.played, 50);
        s.ring(ms(1000), false);
        s.pump(ms(1000));
        assert_eq!(s.next_due(), None);
        s.finish();
        let pcm = crate::audio::wav::read(&p).expect("wav");
        assert!(pcm.iter().any(|&v| v.unsigned_abs() > 5_000), "tone");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn par_alert_sounds_until_stopped() {
        let (mut s, p) = wav_speaker("par");
        s.par_alert(ms(0), true);
        assert!(s.par_alerting());
        for k in 0..50u64 {
            s.pump(ms(20 * k));
        }
        assert_eq!(s.played, 50);
        s.par_alert(ms(1000), false);
        s.pump(ms(1000));
        assert_eq!(s.next_due(), None, "idle once the alert stops");
        s.pump(ms(5000));
        // The slot already due when it stopped plays (silent), no more.
        assert_eq!(s.played, 51);
        s.finish();
        let pcm = crate::audio::wav::read(&p).expect("wav");
        assert_eq!(pcm.len(), 51 * FRAME);
        assert!(pcm[50 * FRAME..].iter().all(|&v| v == 0));
        let tone = crate::audio::tone::power_at(&pcm[..2400], crate::audio::tone::PAR_FREQ);
        let ring = crate::audio::tone::power_at(&pcm[..2400], 440.0);
        assert!(tone > 1_000.0 * ring, "1050 Hz: {tone}, 440 Hz: {ring}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn queues_stay_bounded_and_a_stall_restarts_the_clock() {
        let (mut s, p) = wav_speaker("bound");
        let a = Stream::Group(NodeId([1; 16]));
        for _ in 0..100 {
            s.push(ms(0), a, &[1; FRAME], false);
        }
        assert_eq!(s.queues.get(&a).map(VecDeque::len), Some(MAX_QUEUED));
        s.pump(ms(1000));
        assert_eq!(s.played, u64::from(MAX_CATCH_UP));
        assert_eq!(s.next_due(), Some(ms(1000)));
        s.finish();
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn without_a_card_or_file_nothing_queues() {
        let mut s = Speaker::open(None, None).expect("speaker");
        s.push(ms(0), Stream::Group(NodeId([1; 16])), &[1; FRAME], false);
        s.ring(ms(0), true);
        assert_eq!(s.next_due(), None);
        assert!(!s.ringing());
    }
}
