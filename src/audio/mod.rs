//! Audio in the shell: the Opus codec (C libopus, hence behind the
//! `daemon` feature), 16-bit PCM WAV files, and the offline loss lab that
//! runs WAV -> encoder -> loss -> jitter buffer -> decoder -> WAV to
//! measure what a lossy mesh does to speech.
//!
//! Everything here handles exactly one format: 16 kHz mono, 20 ms frames
//! of [`FRAME_SAMPLES`] samples (Opus wideband, what the voice flows carry).

pub mod codec;
pub mod lab;
pub mod wav;

pub use codec::{Decoder, Encoder, EncoderConfig};

/// Sample rate of everything in this module.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples in one 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 320;

/// Errors of the audio layer.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("opus: {0}")]
    Opus(String),
    #[error("a frame must be {expected} samples, got {got}")]
    FrameSize { expected: usize, got: usize },
    #[error("not a WAV file: {0}")]
    NotWav(&'static str),
    #[error(
        "WAV must be 16-bit PCM mono at 16000 Hz; this one is {format_name} {bits}-bit, {channels} channel(s) at {rate} Hz"
    )]
    WavFormat {
        format_name: &'static str,
        bits: u16,
        channels: u16,
        rate: u32,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("io: {0}")]
    Stream(#[from] std::io::Error),
}

impl From<opus::Error> for AudioError {
    fn from(e: opus::Error) -> Self {
        AudioError::Opus(e.to_string())
    }
}
