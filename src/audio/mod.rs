//! Audio in the shell: the Opus codec (C libopus, hence behind the
//! `daemon` feature), 16-bit PCM WAV files, and the offline loss lab that
//! runs WAV -> encoder -> loss -> jitter buffer -> decoder -> WAV to
//! measure what a lossy mesh does to speech; the speaker's mixing rule
//! ([`mix`]) and the ring tone ([`tone`]).
//!
//! Everything here works in one format: 16 kHz mono, 20 ms frames of
//! [`FRAME_SAMPLES`] samples (Opus wideband, what the voice flows carry);
//! WAV files of other rates and channel counts are converted as they are
//! read ([`resample`] is the anti-aliased rate converter, also used for
//! sound cards).

pub mod codec;
pub mod lab;
pub mod mix;
pub mod resample;
pub mod tone;
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
        "WAV must be PCM (8, 16, 24 or 32-bit) or float (32 or 64-bit), 1 or more channels, 1000 to 768000 Hz; this one is {format_name} {bits}-bit, {channels} channel(s) at {rate} Hz"
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
