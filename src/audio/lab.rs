//! The offline voice lab: a whole 1:1 voice path without a network.
//!
//! ```text
//! WAV -> Opus encoder -> seal + frame -> loss (Bernoulli, seeded) + delay/jitter
//!     -> open -> jitter buffer -> Opus decoder (FEC / PLC) -> WAV
//! ```
//!
//! It is the baseline for field tests and how the codec defaults were
//! chosen: run it over a speech file at several loss rates, score the
//! output against the input with `field-tests/tools/pesq_wb.py`.
//! Deterministic for a given seed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::codec::{DTX_MAX_LEN, Decoder, Encoder, EncoderConfig};
use super::{AudioError, FRAME_SAMPLES, wav};
use crate::rng::Rng;
use crate::time::Instant;
use crate::voice::{
    FrameIndex, JitterBuffer, JitterConfig, JitterStats, KeyShare, MediaKeys, Playout, VoiceFrame,
};

/// Frame period, ms.
const FRAME_MS: u64 = 20;
/// Flow label of the lab's one call.
const LABEL: u32 = 0x00c0_ffee;

/// One lab run.
#[derive(Debug, Clone, PartialEq)]
pub struct LabConfig {
    pub encoder: EncoderConfig,
    /// Probability of losing each frame, percent.
    pub loss_pct: f64,
    pub seed: u64,
    /// One-way delay of every frame, ms.
    pub delay_ms: u64,
    /// Extra delay drawn uniformly from `0..=jitter_ms` per frame.
    pub jitter_ms: u64,
    pub jitter: JitterConfig,
    /// A path outage, if any.
    pub outage: Option<Outage>,
}

/// The path stops for a while: frames sent meanwhile are lost (a relay
/// died) or held and released together at its end (a relay stalled, and
/// its socket kept what came in).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// When it starts, ms of media time.
    pub at_ms: u64,
    pub len_ms: u64,
    /// Held and released in a burst, rather than lost.
    pub held: bool,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            encoder: EncoderConfig::default(),
            loss_pct: 0.0,
            seed: 1,
            delay_ms: 30,
            jitter_ms: 20,
            jitter: JitterConfig::default(),
            outage: None,
        }
    }
}

/// What happened to the frames of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabReport {
    pub frames: u64,
    /// Frames transmitted (the rest were DTX silence).
    pub sent: u64,
    pub lost: u64,
    /// Mean voice payload (capture time + sealed Opus + tag), bytes.
    pub mean_payload_bytes: f64,
    /// Payload bit rate while talking, kbit/s.
    pub payload_kbps: f64,
    pub decode_errors: u64,
    pub jitter: JitterStats,
}

/// Run `input` (16 kHz mono samples) through the pipeline; returns the
/// decoded output (delayed by the playout delay) and the counts.
pub fn run(input: &[i16], cfg: &LabConfig) -> Result<(Vec<i16>, LabReport), AudioError> {
    let mut rng = Rng::new(cfg.seed);
    let mut enc = Encoder::new(cfg.encoder)?;
    let mut dec = Decoder::new()?;
    let caller = KeyShare::new([0x11; 32]);
    let callee = KeyShare::new([0x22; 32]);
    let voice_err = |e: crate::voice::VoiceError| AudioError::Opus(e.to_string());
    let tx = MediaKeys::derive(&caller, &callee.public(), b"lab", true).map_err(voice_err)?;
    let rx = MediaKeys::derive(&callee, &caller.public(), b"lab", false).map_err(voice_err)?;

    let mut report = LabReport::default();
    // (arrival ms, seq, payload)
    let mut arrivals: Vec<(u64, u16, Vec<u8>)> = Vec::new();
    let mut payload_bytes = 0u64;
    for (i, frame) in input.chunks(FRAME_SAMPLES).enumerate() {
        let i = i as u64;
        let mut pcm = frame.to_vec();
        pcm.resize(FRAME_SAMPLES, 0);
        let opus = enc.encode(&pcm)?;
        report.frames += 1;
        // The index advances through DTX silence too (the jitter buffer's
        // media clock).
        if opus.len() <= DTX_MAX_LEN {
            continue;
        }
        report.sent += 1;
        let seq = (i & 0xffff) as u16;
        let captured = Instant::from_millis(i * FRAME_MS);
        let payload = VoiceFrame {
            capture_ms: VoiceFrame::capture_ms_of(captured),
            body: tx.seal(LABEL, i, &opus),
        }
        .encode();
        payload_bytes += payload.len() as u64;
        if rng.chance(cfg.loss_pct / 100.0) {
            report.lost += 1;
            continue;
        }
        let jitter = if cfg.jitter_ms == 0 {
            0
        } else {
            rng.below(cfg.jitter_ms + 1)
        };
        // Sent when the frame is complete, one frame after capture starts.
        let sent_ms = (i + 1) * FRAME_MS;
        let mut arrival = sent_ms + cfg.delay_ms + jitter;
        if let Some(o) = cfg.outage
            && (o.at_ms..o.at_ms + o.len_ms).contains(&sent_ms)
        {
            if !o.held {
                report.lost += 1;
                continue;
            }
            arrival = arrival.max(o.at_ms + o.len_ms + cfg.delay_ms);
        }
        arrivals.push((arrival, seq, payload));
    }
    arrivals.sort_by_key(|a| a.0);
    if report.sent > 0 {
        report.mean_payload_bytes = payload_bytes as f64 / report.sent as f64;
        report.payload_kbps = report.mean_payload_bytes * 8.0 / FRAME_MS as f64;
    }

    let mut jb = JitterBuffer::new(cfg.jitter);
    let mut index = FrameIndex::new();
    let mut out = Vec::with_capacity(input.len() + 16_000);
    let tail =
        (cfg.delay_ms + cfg.jitter_ms + cfg.jitter.max_delay.as_millis() as u64) / FRAME_MS + 2;
    let mut next = arrivals.iter().peekable();
    for k in 0..(report.frames + tail) {
        let now_ms = k * FRAME_MS + FRAME_MS / 2;
        while let Some((t, seq, payload)) = next.next_if(|a| a.0 <= now_ms) {
            let Ok(frame) = VoiceFrame::decode(payload) else {
                continue;
            };
            let ix = index.guess(*seq);
            let Ok(opus) = rx.open(LABEL, ix, &frame.body) else {
                continue;
            };
            index.accept(ix);
            jb.push(Instant::from_millis(*t), ix, opus);
        }
        let pcm = match jb.pop(Instant::from_millis(now_ms)) {
            Playout::Frame(p) => dec.decode(Some(&p), false),
            Playout::Fec(p) => dec.decode(Some(&p), true),
            Playout::Conceal => dec.decode(None, false),
            Playout::Silence => Ok(vec![0; FRAME_SAMPLES]),
        };
        match pcm {
            Ok(pcm) => out.extend(pcm),
            Err(_) => {
                report.decode_errors += 1;
                out.extend(
                    dec.decode(None, false)
                        .unwrap_or_else(|_| vec![0; FRAME_SAMPLES]),
                );
            }
        }
    }
    report.jitter = jb.stats();
    Ok((out, report))
}

/// `callsign voice-lab`: run the offline voice pipeline over a WAV file.
#[derive(Args, Debug)]
pub struct LabArgs {
    /// Input WAV (any rate and channel count; converted to 16 kHz mono).
    #[arg(long)]
    pub wav: PathBuf,
    /// Output WAV (what the listener hears, delayed by the playout delay).
    #[arg(long)]
    pub out: PathBuf,
    /// Frame loss, percent (Bernoulli).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Turn Opus in-band FEC off (the baseline).
    #[arg(long)]
    pub no_fec: bool,
    /// Opus bit rate, bit/s.
    #[arg(long, default_value_t = 24_000)]
    pub bitrate: u32,
    /// Turn discontinuous transmission off (every frame sent in silence).
    #[arg(long)]
    pub no_dtx: bool,
    /// Loss the encoder plans FEC for, percent.
    #[arg(long, default_value_t = EncoderConfig::default().expected_loss_pct)]
    pub expected_loss: u8,
    /// Seed of the loss and jitter draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Network jitter: extra delay uniform in 0..=MS per frame.
    #[arg(long, default_value_t = 20)]
    pub jitter_ms: u64,
    /// A path outage starting this far into the file, ms (with
    /// `--outage-ms`): how a dead or stalled relay sounds.
    #[arg(long, requires = "outage_ms")]
    pub outage_at_ms: Option<u64>,
    /// How long the outage lasts, ms.
    #[arg(long, requires = "outage_at_ms")]
    pub outage_ms: Option<u64>,
    /// Frames sent during the outage are held and arrive together at its
    /// end (a stalled relay) instead of being lost (a dead one).
    #[arg(long, requires = "outage_ms")]
    pub outage_held: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn cli_run(args: LabArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let input = wav::read(&args.wav)?;
    let cfg = LabConfig {
        encoder: EncoderConfig {
            bitrate: args.bitrate,
            fec: !args.no_fec,
            expected_loss_pct: args.expected_loss,
            dtx: !args.no_dtx,
        },
        loss_pct: args.loss.clamp(0.0, 100.0),
        seed: args.seed,
        jitter_ms: args.jitter_ms,
        outage: args
            .outage_at_ms
            .zip(args.outage_ms)
            .map(|(at_ms, len_ms)| Outage {
                at_ms,
                len_ms,
                held: args.outage_held,
            }),
        ..LabConfig::default()
    };
    let (out, report) = run(&input, &cfg)?;
    wav::write(&args.out, &out)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let j = &report.jitter;
        println!(
            "frames {} sent {} lost {} | played {} fec {} concealed {} late {} skipped {} stretched {} | target {} ms | payload {:.1} B ({:.1} kbit/s)",
            report.frames,
            report.sent,
            report.lost,
            j.played,
            j.fec,
            j.concealed,
            j.late_dropped,
            j.skipped,
            j.stretched,
            j.target_ms,
            report.mean_payload_bytes,
            report.payload_kbps
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced, speech-like test signal: bursts of a harmonic tone with
    /// pauses (so DTX and talk spurts happen).
    fn speechlike(seconds: usize) -> Vec<i16> {
        (0..seconds * 16_000)
            .map(|n| {
                let t = n as f64 / 16_000.0;
                // 0.8 s of voice, 0.7 s of silence.
                let on = (t / 1.5).fract() < 0.53;
                if !on {
                    return 0;
                }
                let f0 = 140.0 + 20.0 * (t * 3.0).sin();
                let v: f64 = (1..6)
                    .map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64)
                    .sum();
                (5000.0 * v) as i16
            })
            .collect()
    }

    #[test]
    fn clean_run_plays_every_sent_frame() {
        let input = speechlike(4);
        let (out, r) = run(&input, &LabConfig::default()).unwrap();
        assert_eq!(r.frames, 200);
        assert!(r.sent < r.frames, "DTX never kicked in");
        assert_eq!(r.lost, 0);
        assert_eq!(r.jitter.late_dropped, 0);
        assert_eq!(r.jitter.played, r.sent, "{r:?}");
        assert!(out.len() >= input.len());
        // Payload = 2 (capture) + Opus + 4 (tag), about 60 B at 24 kbit/s.
        assert!(
            r.mean_payload_bytes > 30.0 && r.mean_payload_bytes < 90.0,
            "{}",
            r.mean_payload_bytes
        );
    }

    #[test]
    fn loss_uses_fec_and_is_deterministic() {
        let input = speechlike(4);
        let cfg = LabConfig {
            loss_pct: 20.0,
            seed: 7,
            ..LabConfig::default()
        };
        let (a, ra) = run(&input, &cfg).unwrap();
        let (b, rb) = run(&input, &cfg).unwrap();
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        assert!(ra.lost > 10);
        assert!(ra.jitter.fec > 0);
        assert_eq!(ra.decode_errors, 0);
    }

    /// Mean squared difference between two outputs.
    fn mse(a: &[i16], b: &[i16]) -> f64 {
        let n = a.len().min(b.len());
        let sum: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
            .sum();
        sum / n.max(1) as f64
    }

    #[test]
    fn fec_brings_a_lossy_run_closer_to_the_clean_one() {
        // Without network jitter the playout delay is the same in every
        // run, so outputs compare sample by sample.
        let input = speechlike(6);
        let error = |fec: bool| {
            let cfg = |loss_pct| LabConfig {
                encoder: EncoderConfig {
                    fec,
                    ..EncoderConfig::default()
                },
                loss_pct,
                jitter_ms: 0,
                seed: 3,
                ..LabConfig::default()
            };
            let (clean, _) = run(&input, &cfg(0.0)).unwrap();
            let (lossy, r) = run(&input, &cfg(10.0)).unwrap();
            assert!(r.lost > 10);
            mse(&clean, &lossy)
        };
        let (with_fec, without) = (error(true), error(false));
        eprintln!("mse with FEC {with_fec:.0}, without {without:.0}");
        assert!(
            with_fec < 0.8 * without,
            "mse with FEC {with_fec:.0}, without {without:.0}"
        );
    }
}
