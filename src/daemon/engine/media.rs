//! One direction of audio in the daemon: a source (WAV file, sound card or
//! silence) through the Opus encoder, or the jitter buffer through the
//! decoder into a sink (WAV file, sound card or nothing), with the figures
//! the field tests read.
//! The engine calls `tick` on both every 20 ms; the frames themselves
//! travel through the node (calls) or the flood (talkgroups).

use std::path::{Path, PathBuf};

use crate::audio::codec::{Decoder, Encoder, EncoderConfig};
use crate::audio::wav;
use crate::daemon::dto;
use crate::daemon::sound;
use crate::time::Instant;
use crate::voice::jitter::{JitterBuffer, JitterConfig, Playout};

/// Samples in one 20 ms frame at 16 kHz.
pub const FRAME: usize = 320;
pub const FRAME_MS: u64 = 20;
/// Longest WAV a source takes (memory: 2 bytes a sample): 30 minutes.
const MAX_SOURCE_SAMPLES: usize = 16_000 * 60 * 30;
/// Mouth-to-ear samples kept per stream (oldest kept; 10 minutes of frames).
const MAX_M2E_SAMPLES: usize = 30_000;
/// Under DTX one silent frame in `DTX_KEEP` is sent (every 400 ms).
const DTX_KEEP: u64 = 20;

pub use crate::stats::percentile_ms;

/// Where transmitted audio comes from.
pub enum Source {
    Wav {
        path: PathBuf,
        samples: Vec<i16>,
        pos: usize,
    },
    /// A capture device, 16 kHz mono (resampled if the card cannot).
    Device(sound::Capture),
    Silence,
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
            Source::Silence => {}
        }
        f
    }

    /// A file source has been played to its end.
    pub fn ended(&self) -> bool {
        match self {
            Source::Wav { samples, pos, .. } => *pos >= samples.len(),
            Source::Device(_) | Source::Silence => false,
        }
    }

    pub fn describe(&self) -> Option<String> {
        match self {
            Source::Wav { path, .. } => Some(path.display().to_string()),
            Source::Device(c) => Some(format!("audio-in {}", c.name())),
            Source::Silence => None,
        }
    }
}

/// The sending half: source, encoder, frame counter.
pub struct Tx {
    pub src: Source,
    enc: Encoder,
    /// Frame slots since the stream began (DTX-skipped ones included).
    pub index: u64,
    pub sent: u64,
    /// The loss the encoder plans its FEC for now.
    pub expected_loss_pct: u8,
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
            index: 0,
            sent: 0,
            expected_loss_pct,
        })
    }

    /// Encode the next 20 ms: `Some((index, opus))` to send, `None` when
    /// DTX lets this slot go unsent.
    pub fn tick(&mut self) -> Option<(u64, Vec<u8>)> {
        let pcm = self.src.next();
        let index = self.index;
        self.index += 1;
        let pkt = match self.enc.encode(&pcm) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("opus encode failed: {e}");
                return None;
            }
        };
        if pkt.len() <= crate::audio::codec::DTX_MAX_LEN && !index.is_multiple_of(DTX_KEEP) {
            return None;
        }
        self.sent += 1;
        Some((index, pkt))
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

/// The receiving half: jitter buffer, decoder, sink and figures.
pub struct Rx {
    jb: JitterBuffer,
    dec: Decoder,
    sink: Option<(PathBuf, wav::WavWriter<std::io::BufWriter<std::fs::File>>)>,
    /// A sound card to play to (when there is no recording).
    playback: Option<sound::Playback>,
    pub received: u64,
    /// Capture-to-playout times of played frames, in ms.
    m2e: Vec<u32>,
    last_arrival: Option<Instant>,
    /// Longest time between two arriving frames since the first one.
    pub max_gap_ms: u64,
    /// Loss window: frames heard, slots they span, highest index.
    window: (u64, u64, Option<u64>),
    /// The last frame heard was a DTX frame.
    last_dtx: bool,
    /// A full loss window has been measured.
    measured: bool,
    pub loss_pct: f64,
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
            jb: JitterBuffer::new(JitterConfig::default()),
            dec: Decoder::new().map_err(|e| e.to_string())?,
            sink,
            playback,
            received: 0,
            m2e: Vec::new(),
            last_arrival: None,
            max_gap_ms: 0,
            window: (0, 0, None),
            last_dtx: false,
            measured: false,
            loss_pct: 0.0,
        })
    }

    /// A new talker or burst: its frame counter starts afresh, so does the
    /// buffer and the decoder's state; the recording goes on.
    pub fn new_stream(&mut self) {
        self.jb = JitterBuffer::new(JitterConfig::default());
        if let Ok(d) = Decoder::new() {
            self.dec = d;
        }
        self.last_arrival = None;
        self.window = (0, 0, None);
    }

    /// A frame arrived: `index` from the sender's counter.
    pub fn push(&mut self, now: Instant, index: u64, capture_ms: u16, opus: Vec<u8>) {
        self.received += 1;
        if let Some(last) = self.last_arrival {
            let gap = now.saturating_since(last).as_millis() as u64;
            self.max_gap_ms = self.max_gap_ms.max(gap);
        }
        self.last_arrival = Some(now);
        self.count_loss(index, opus.len());
        // The capture time rides with the frame through the buffer.
        let mut b = Vec::with_capacity(2 + opus.len());
        b.extend_from_slice(&capture_ms.to_be_bytes());
        b.extend_from_slice(&opus);
        self.jb.push(now, index, b);
    }

    /// The loss of the last full window, in whole percent (None before one).
    pub fn loss_report(&self) -> Option<u8> {
        self.measured
            .then(|| self.loss_pct.round().clamp(0.0, 100.0) as u8)
    }

    /// Loss over windows of 50 frames. Slots missing between two frames
    /// of speech are loss; a gap next to a DTX frame (the encoder's "send
    /// nothing" packet, which the sender keeps one of every 20 slots) is
    /// silence and counts for nothing, and so does a gap over 10 slots.
    fn count_loss(&mut self, index: u64, len: usize) {
        const LONG_GAP: u64 = 10;
        let dtx = len <= crate::audio::codec::DTX_MAX_LEN;
        let (heard, span, last) = &mut self.window;
        match *last {
            Some(l) if index <= l => return,
            Some(l) if index - l < LONG_GAP && !dtx && !self.last_dtx => *span += index - l,
            _ => *span += 1,
        }
        self.last_dtx = dtx;
        *heard += 1;
        *last = Some(index);
        if *heard >= 50 {
            self.loss_pct = 100.0 * (1.0 - *heard as f64 / (*span).max(1) as f64).max(0.0);
            self.measured = true;
            let keep = *last;
            self.window = (0, 0, keep);
        }
    }

    /// One playout slot: decode what the jitter buffer gives and write it.
    pub fn tick(&mut self, now: Instant) {
        let split = |b: &[u8]| -> Option<(u16, Vec<u8>)> {
            let c = u16::from_be_bytes(b.get(..2)?.try_into().ok()?);
            Some((c, b.get(2..)?.to_vec()))
        };
        let pcm = match self.jb.pop(now) {
            Playout::Frame(b) => match split(&b) {
                Some((c, opus)) => {
                    let now_ms = (now.as_micros() / 1000) as u16;
                    if self.m2e.len() < MAX_M2E_SAMPLES {
                        self.m2e.push(u32::from(now_ms.wrapping_sub(c)));
                    }
                    self.dec.decode(Some(&opus), false)
                }
                None => self.dec.decode(None, false),
            },
            // The next frame's in-band FEC stands in for the lost one.
            Playout::Fec(b) => match split(&b) {
                Some((_, opus)) => self.dec.decode(Some(&opus), true),
                None => self.dec.decode(None, false),
            },
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
    }

    pub fn finish(&mut self) {
        self.playback = None;
        if let Some((path, w)) = self.sink.take()
            && let Err(e) = w.finish()
        {
            tracing::warn!(file = %path.display(), "cannot finish recording: {e}");
        }
    }

    pub fn stats(&self) -> dto::RxStats {
        let j = self.jb.stats();
        dto::RxStats {
            received: self.received,
            played: j.played,
            concealed: j.concealed,
            fec: j.fec,
            late_dropped: j.late_dropped,
            stretched: j.stretched,
            skipped: j.skipped,
            jitter_target_ms: u64::from(j.target_ms),
            m2e_p50_ms: percentile_ms(&self.m2e, 50.0),
            m2e_p95_ms: percentile_ms(&self.m2e, 95.0),
            max_gap_ms: self.max_gap_ms,
            loss_pct: self.loss_pct,
            recording: self.sink.as_ref().map(|(p, _)| p.display().to_string()),
            playback: self.playback.as_ref().map(|p| p.name().to_string()),
        }
    }
}
