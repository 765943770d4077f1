//! The codec ends of a voice stream in the daemon: a source (WAV file,
//! sound card or silence) through the Opus encoder, and the decoder into a
//! sink (WAV file, sound card or nothing). What to encode and when, and
//! what to play, is the application layer's (`app`): it asks for a frame
//! with `AppEvent::FrameDue` and says what to play with `AppEvent::Play`;
//! the jitter buffer and the figures live there.

use std::path::{Path, PathBuf};

use crate::audio::codec::{Decoder, Encoder, EncoderConfig};
use crate::audio::wav;
use crate::daemon::sound;
use crate::voice::jitter::Playout;

/// Samples in one 20 ms frame at 16 kHz.
pub const FRAME: usize = 320;
pub const FRAME_MS: u64 = 20;
/// Longest WAV a source takes (memory: 2 bytes a sample): 30 minutes.
const MAX_SOURCE_SAMPLES: usize = 16_000 * 60 * 30;
/// Under DTX one silent frame in `DTX_KEEP` is sent (every 400 ms).
const DTX_KEEP: u64 = 20;

/// Where transmitted audio comes from.
pub enum Source {
    Wav {
        path: PathBuf,
        samples: Vec<i16>,
        pos: usize,
    },
    /// A capture device, 16 kHz mono (resampled if the card cannot).
    Device(sound::Capture),
    /// 16 kHz PCM a browser posts (`POST /v1/talkgroups/{name}/audio`).
    Pushed(Pushed),
    Silence,
}

/// A browser's microphone as it arrives in posts of 20-80 ms: a short
/// queue that starts playing out once [`PUSH_PRIME`] is there (the posts
/// arrive with the page's timer jitter) and starts over after running dry.
#[derive(Default)]
pub struct Pushed {
    q: std::collections::VecDeque<i16>,
    primed: bool,
    /// The next post's sequence number: an older one came too late.
    next_seq: u64,
    pub late: u64,
    pub underruns: u64,
}

/// Queued before the first frame goes: 120 ms (a page's posts arrive
/// with its main thread's stalls on top of the network's jitter).
const PUSH_PRIME: usize = 6 * FRAME;
/// At most this much is kept (the oldest goes): 240 ms. Before the talk
/// permit it is the onset kept; after it, the most delay the queue adds.
const PUSH_MAX: usize = 12 * FRAME;

impl Pushed {
    /// One post: `seq` counts the page's posts of this press from 0.
    pub fn push(&mut self, seq: u64, pcm: &[i16]) -> bool {
        if seq < self.next_seq {
            self.late += 1;
            return false;
        }
        self.next_seq = seq + 1;
        self.q.extend(pcm.iter().copied());
        let over = self.q.len().saturating_sub(PUSH_MAX);
        self.q.drain(..over);
        true
    }

    fn next(&mut self, f: &mut [i16; FRAME]) {
        if !self.primed {
            if self.q.len() < PUSH_PRIME {
                return;
            }
            self.primed = true;
        }
        let n = self.q.len().min(FRAME);
        for (o, s) in f.iter_mut().zip(self.q.drain(..n)) {
            *o = s;
        }
        if n < FRAME {
            self.underruns += 1;
            self.primed = false;
        }
    }
}

/// Check what a source or sink asks for without opening it: the WAV to
/// read is there, the named device exists (the error lists those that do).
pub fn check(wav: Option<&Path>, device: Option<&str>, dir: sound::Dir) -> Result<(), String> {
    match (wav, device) {
        (Some(p), _) if dir == sound::Dir::Input && !p.is_file() => {
            Err(format!("{}: no such file", p.display()))
        }
        (None, Some(d)) => sound::check(d, dir),
        _ => Ok(()),
    }
}

impl Source {
    /// A WAV given wins over a device; neither is silence.
    pub fn open(path: Option<&Path>, device: Option<&str>) -> Result<Source, String> {
        let Some(p) = path else {
            return match device {
                Some(d) => Ok(Source::Device(sound::Capture::open(d)?)),
                None => Ok(Source::Silence),
            };
        };
        let samples = wav::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if samples.len() > MAX_SOURCE_SAMPLES {
            return Err(format!(
                "{}: longer than {} minutes",
                p.display(),
                MAX_SOURCE_SAMPLES / 16_000 / 60
            ));
        }
        Ok(Source::Wav {
            path: p.to_path_buf(),
            samples,
            pos: 0,
        })
    }

    /// The next 20 ms (silence after the end of a file).
    fn next(&mut self) -> [i16; FRAME] {
        let mut f = [0i16; FRAME];
        match self {
            Source::Wav { samples, pos, .. } => {
                let end = (*pos + FRAME).min(samples.len());
                if let Some(s) = samples.get(*pos..end) {
                    f[..s.len()].copy_from_slice(s);
                }
                *pos = end;
            }
            Source::Device(c) => c.read(&mut f),
            Source::Pushed(p) => p.next(&mut f),
            Source::Silence => {}
        }
        f
    }

    /// A file source has been played to its end.
    pub fn ended(&self) -> bool {
        match self {
            Source::Wav { samples, pos, .. } => *pos >= samples.len(),
            Source::Device(_) | Source::Pushed(_) | Source::Silence => false,
        }
    }

    pub fn describe(&self) -> Option<String> {
        match self {
            Source::Wav { path, .. } => Some(path.display().to_string()),
            Source::Device(c) => Some(format!("audio-in {}", c.name())),
            Source::Pushed(_) => Some("browser".to_string()),
            Source::Silence => None,
        }
    }
}

/// The sending half: source and encoder.
pub struct Tx {
    pub src: Source,
    enc: Encoder,
    pub sent: u64,
    /// The last frame encoded was a "send nothing" frame.
    in_dtx: bool,
    /// The loss the encoder plans its FEC for now.
    pub expected_loss_pct: u8,
    /// The last frame captured, sent or not (DTX), for the audio log.
    pub last_pcm: [i16; FRAME],
}

impl Tx {
    pub fn new(src: Source, bitrate: u32, expected_loss_pct: u8) -> Result<Tx, String> {
        let enc = Encoder::new(EncoderConfig {
            bitrate,
            expected_loss_pct,
            ..EncoderConfig::default()
        })
        .map_err(|e| e.to_string())?;
        Ok(Tx {
            src,
            enc,
            sent: 0,
            in_dtx: false,
            last_pcm: [0; FRAME],
            expected_loss_pct,
        })
    }

    /// Encode the next 20 ms for slot `index`: `Some(opus)` to send,
    /// `None` when DTX lets the slot go unsent (the first silent frame
    /// and one in [`DTX_KEEP`] after it still go, so the far end knows
    /// silence from loss and that the stream lives).
    pub fn encode(&mut self, index: u64) -> Option<Vec<u8>> {
        let pcm = self.src.next();
        self.last_pcm = pcm;
        let pkt = match self.enc.encode(&pcm) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("opus encode failed: {e}");
                return None;
            }
        };
        // The first "send nothing" frame of a silence goes: without it a
        // single unsent slot between two frames of speech looks like a lost
        // frame to the far end, whose loss report then turns on FEC that
        // costs a clean path 0.45 PESQ-WB.
        let dtx = pkt.len() <= crate::audio::codec::DTX_MAX_LEN;
        let was_dtx = std::mem::replace(&mut self.in_dtx, dtx);
        if dtx && was_dtx && !index.is_multiple_of(DTX_KEEP) {
            return None;
        }
        self.sent += 1;
        Some(pkt)
    }

    pub fn set_expected_loss(&mut self, pct: u8) {
        if pct == self.expected_loss_pct {
            return;
        }
        tracing::debug!(from = self.expected_loss_pct, to = pct, "expected loss");
        self.expected_loss_pct = pct;
        if let Err(e) = self.enc.set_expected_loss(pct) {
            tracing::debug!("cannot set the expected loss: {e}");
        }
    }
}

/// The receiving half: decoder and sink.
pub struct Rx {
    dec: Decoder,
    sink: Option<(PathBuf, wav::WavWriter<std::io::BufWriter<std::fs::File>>)>,
    /// A sound card to play to (when there is no recording).
    playback: Option<sound::Playback>,
}

impl Rx {
    /// A recording given wins over a device; neither plays to nowhere.
    pub fn new(record: Option<&Path>, device: Option<&str>) -> Result<Rx, String> {
        let playback = match (record, device) {
            (None, Some(d)) => Some(sound::Playback::open(d)?),
            _ => None,
        };
        let sink = match record {
            Some(p) => {
                let f = std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let w = wav::WavWriter::new(std::io::BufWriter::new(f))
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                Some((p.to_path_buf(), w))
            }
            None => None,
        };
        Ok(Rx {
            dec: Decoder::new().map_err(|e| e.to_string())?,
            sink,
            playback,
        })
    }

    /// A new talker or burst: the decoder's state starts afresh; the
    /// recording goes on.
    pub fn reset(&mut self) {
        if let Ok(d) = Decoder::new() {
            self.dec = d;
        }
    }

    /// Neither a recording nor a sound card of its own: the daemon's
    /// speaker plays it.
    pub fn to_speaker(&self) -> bool {
        self.sink.is_none() && self.playback.is_none()
    }

    /// One playout slot: decode what the application says, write it to
    /// this end's sinks, and return it (for the speaker).
    pub fn play(&mut self, p: &Playout) -> Vec<i16> {
        let pcm = match p {
            Playout::Frame(opus) => self.dec.decode(Some(opus), false),
            // The next frame's in-band FEC stands in for the lost one.
            Playout::Fec(opus) => self.dec.decode(Some(opus), true),
            Playout::Conceal => self.dec.decode(None, false),
            Playout::Silence => Ok(vec![0; FRAME]),
        };
        let pcm = pcm.unwrap_or_else(|e| {
            tracing::debug!("opus decode failed: {e}");
            vec![0; FRAME]
        });
        if let Some((path, w)) = &mut self.sink
            && let Err(e) = w.write(&pcm)
        {
            tracing::warn!(file = %path.display(), "recording stopped: {e}");
            self.sink = None;
        }
        if let Some(p) = &mut self.playback {
            p.write(&pcm);
        }
        pcm
    }

    pub fn finish(&mut self) {
        self.playback = None;
        if let Some((path, w)) = self.sink.take()
            && let Err(e) = w.finish()
        {
            tracing::warn!(file = %path.display(), "cannot finish recording: {e}");
        }
    }

    pub fn recording(&self) -> Option<String> {
        self.sink.as_ref().map(|(p, _)| p.display().to_string())
    }

    pub fn playback(&self) -> Option<String> {
        self.playback.as_ref().map(|p| p.name().to_string())
    }
}

/// The API's receiver figures: the application's playout figures, with
/// where the audio goes.
pub fn rx_dto(
    p: &crate::app::playout::PlayoutStats,
    rx: Option<&Rx>,
) -> crate::daemon::dto::RxStats {
    crate::daemon::dto::RxStats {
        received: p.received,
        played: p.played,
        concealed: p.concealed,
        fec: p.fec,
        late_dropped: p.late_dropped,
        stretched: p.stretched,
        skipped: p.skipped,
        jitter_target_ms: p.jitter_target_ms,
        m2e_p50_ms: p.m2e_p50_ms,
        m2e_p95_ms: p.m2e_p95_ms,
        max_gap_ms: p.max_gap_ms,
        loss_pct: p.loss_pct,
        recording: rx.and_then(Rx::recording),
        playback: rx.and_then(Rx::playback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_audio_primes_keeps_order_and_bounds_its_queue() {
        let mut p = Pushed::default();
        let take = |p: &mut Pushed| {
            let mut f = [0i16; FRAME];
            p.next(&mut f);
            f
        };
        let prime = PUSH_PRIME / FRAME;
        assert!(p.push(0, &vec![1; FRAME * (prime - 1)]));
        assert_eq!(take(&mut p), [0; FRAME], "not primed one frame short");
        assert!(p.push(1, &[2; FRAME]));
        assert_eq!(take(&mut p), [1; FRAME], "primed");
        assert!(!p.push(1, &[9; FRAME]), "a repeated post is late");
        assert_eq!(p.late, 1);
        // The rest plays in order, then it runs dry and primes again.
        for _ in 0..prime - 2 {
            assert_eq!(take(&mut p), [1; FRAME]);
        }
        assert_eq!(take(&mut p), [2; FRAME]);
        assert_eq!(take(&mut p), [0; FRAME]);
        assert_eq!(p.underruns, 1);
        assert!(p.push(2, &vec![3; FRAME * 40]));
        assert_eq!(p.q.len(), PUSH_MAX, "the oldest go");
    }
}
