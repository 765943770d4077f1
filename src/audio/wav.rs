//! WAV files: a total reader (any bytes give samples or an error that
//! names what the file is) that takes any rate and channel count and
//! converts on the way in, and a streaming writer of 16 kHz mono 16-bit
//! PCM that fixes the RIFF sizes when finished.
//!
//! Reading: integer PCM of 8, 16, 24 or 32 bits and IEEE float of 32 or
//! 64 bits; channels are mixed down to mono (their mean), then the rate is
//! converted to 16 kHz with the anti-aliased resampler of
//! [`super::resample`] — a 44.1 kHz stereo recording from a phone is
//! usable as is.
//!
//! Hand-written because the format is a 44-byte header and a crate would
//! be the larger dependency. Accepted: `WAVE_FORMAT_PCM` and
//! `WAVE_FORMAT_EXTENSIBLE` with a PCM sub-format; unknown chunks are
//! skipped; a data size past the end of the file (as written by tools
//! streaming to a pipe) is cut to what is there.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::{AudioError, SAMPLE_RATE};

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// Bytes of the canonical header the writer emits.
pub const HEADER_LEN: usize = 44;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

struct Format {
    code: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

fn parse_fmt(body: &[u8]) -> Result<Format, AudioError> {
    let short = AudioError::NotWav("fmt chunk too short");
    let mut code = u16_at(body, 0).ok_or(short)?;
    let channels = u16_at(body, 2).ok_or(AudioError::NotWav("fmt chunk too short"))?;
    let rate = u32_at(body, 4).ok_or(AudioError::NotWav("fmt chunk too short"))?;
    let bits = u16_at(body, 14).ok_or(AudioError::NotWav("fmt chunk too short"))?;
    if code == FORMAT_EXTENSIBLE {
        // The sub-format GUID starts with the real format code.
        code = u16_at(body, 24).ok_or(AudioError::NotWav("extensible fmt chunk too short"))?;
    }
    Ok(Format {
        code,
        channels,
        rate,
        bits,
    })
}

/// The lowest and highest sample rates accepted (anything outside is a
/// corrupt header, not a recording).
const MIN_RATE: u32 = 1_000;
const MAX_RATE: u32 = 768_000;

fn format_name(code: u16) -> &'static str {
    match code {
        FORMAT_PCM => "PCM",
        FORMAT_FLOAT => "float",
        _ => "non-PCM",
    }
}

/// One sample as a float in [-1, 1], or None for a format we do not read.
fn sample_reader(f: &Format) -> Option<fn(&[u8]) -> f32> {
    Some(match (f.code, f.bits) {
        (FORMAT_PCM, 8) => |b| (f32::from(b[0]) - 128.0) / 128.0,
        (FORMAT_PCM, 16) => |b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
        (FORMAT_PCM, 24) => {
            |b| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
        }
        (FORMAT_PCM, 32) => {
            |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0
        }
        (FORMAT_FLOAT, 32) => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        (FORMAT_FLOAT, 64) => {
            |b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }
        _ => return None,
    })
}

/// The data chunk as 16 kHz mono: channels mixed, rate converted.
fn convert(f: &Format, body: &[u8]) -> Result<Vec<i16>, AudioError> {
    let bad = || AudioError::WavFormat {
        format_name: format_name(f.code),
        bits: f.bits,
        channels: f.channels,
        rate: f.rate,
    };
    let read = sample_reader(f).ok_or_else(bad)?;
    if f.channels == 0 || !(MIN_RATE..=MAX_RATE).contains(&f.rate) {
        return Err(bad());
    }
    let width = usize::from(f.bits / 8);
    let ch = usize::from(f.channels);
    let frame = width * ch;
    let scale = 1.0 / ch as f32;
    let mono: Vec<i16> = body
        .chunks_exact(frame)
        .map(|fr| {
            let sum: f32 = fr.chunks_exact(width).map(read).sum();
            // NaN (a broken float file) becomes silence, not noise.
            let v = (sum * scale * 32_768.0).round();
            if v.is_nan() {
                0
            } else {
                v.clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
            }
        })
        .collect();
    Ok(super::resample::resample(&mono, f.rate, SAMPLE_RATE))
}

/// Samples of a WAV held in memory, as 16 kHz mono 16-bit.
pub fn parse(bytes: &[u8]) -> Result<Vec<i16>, AudioError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(AudioError::NotWav("no RIFF/WAVE header"));
    }
    let mut at = 12usize;
    let mut format = None;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let start = at + 8;
        let end = start.saturating_add(size as usize).min(bytes.len());
        let body = bytes.get(start..end).unwrap_or(&[]);
        match id {
            b"fmt " => format = Some(parse_fmt(body)?),
            b"data" => {
                let f = format.ok_or(AudioError::NotWav("data chunk before fmt chunk"))?;
                return convert(&f, body);
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = end.saturating_add(end & 1);
    }
    Err(AudioError::NotWav("no data chunk"))
}

/// Read a WAV file (see [`parse`]).
pub fn read(path: &Path) -> Result<Vec<i16>, AudioError> {
    let bytes = std::fs::read(path).map_err(|source| AudioError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&bytes)
}

/// Writes 16 kHz mono 16-bit PCM; sizes in the header are patched by
/// [`WavWriter::finish`] (until then they say 0 bytes of data).
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: W,
    data_bytes: u32,
}

fn header(data_bytes: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36u32.saturating_add(data_bytes)).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

impl<W: Write + Seek> WavWriter<W> {
    pub fn new(mut inner: W) -> Result<Self, AudioError> {
        inner.write_all(&header(0))?;
        Ok(WavWriter {
            inner,
            data_bytes: 0,
        })
    }

    pub fn write(&mut self, samples: &[i16]) -> Result<(), AudioError> {
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let new_len = u32::try_from(bytes.len())
            .ok()
            .and_then(|n| self.data_bytes.checked_add(n))
            .filter(|n| *n <= u32::MAX - 36)
            .ok_or(AudioError::NotWav("more than 4 GiB of samples"))?;
        self.inner.write_all(&bytes)?;
        self.data_bytes = new_len;
        Ok(())
    }

    /// Patch the header and hand back the sink.
    pub fn finish(mut self) -> Result<W, AudioError> {
        self.inner.seek(SeekFrom::Start(0))?;
        self.inner.write_all(&header(self.data_bytes))?;
        self.inner.seek(SeekFrom::End(0))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Write `samples` to a new file at `path`.
pub fn write(path: &Path, samples: &[i16]) -> Result<(), AudioError> {
    let io = |source| AudioError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = WavWriter::new(std::io::BufWriter::new(file))?;
    w.write(samples)?;
    w.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn to_bytes(samples: &[i16]) -> Vec<u8> {
        let mut w = WavWriter::new(Cursor::new(Vec::new())).unwrap();
        w.write(&samples[..samples.len() / 2]).unwrap();
        w.write(&samples[samples.len() / 2..]).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn round_trip() {
        let s: Vec<i16> = (0..1000).map(|i| (i * 37 - 16000) as i16).collect();
        let b = to_bytes(&s);
        assert_eq!(b.len(), HEADER_LEN + 2000);
        assert_eq!(u32_at(&b, 4), Some(36 + 2000));
        assert_eq!(u32_at(&b, 40), Some(2000));
        assert_eq!(parse(&b).unwrap(), s);
        assert_eq!(parse(&to_bytes(&[])).unwrap(), Vec::<i16>::new());
    }

    #[test]
    fn skips_unknown_chunks_and_cuts_long_data() {
        let s = [1i16, -2, 3];
        let b = to_bytes(&s);
        // Insert an odd-sized LIST chunk (padded) between fmt and data.
        let mut with_list = b[..36].to_vec();
        with_list.extend_from_slice(b"LIST");
        with_list.extend_from_slice(&3u32.to_le_bytes());
        with_list.extend_from_slice(&[1, 2, 3, 0]);
        with_list.extend_from_slice(&b[36..]);
        assert_eq!(parse(&with_list).unwrap(), s);
        // A streaming writer's "unknown" size.
        let mut streamed = b.clone();
        streamed[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&streamed).unwrap(), s);
    }

    /// A WAV with any format fields and a raw data chunk.
    fn wav_with(code: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut b = to_bytes(&[]);
        b[20..22].copy_from_slice(&code.to_le_bytes());
        b[22..24].copy_from_slice(&channels.to_le_bytes());
        b[24..28].copy_from_slice(&rate.to_le_bytes());
        b[34..36].copy_from_slice(&bits.to_le_bytes());
        b[40..44].copy_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn any_rate_and_channel_count_is_converted() {
        // 48 kHz stereo, 16-bit: left 8000, right 4000 -> mono 6000 at
        // a third of the samples.
        let data: Vec<u8> = (0..4_800)
            .flat_map(|_| [8_000i16.to_le_bytes(), 4_000i16.to_le_bytes()].concat())
            .collect();
        let s = parse(&wav_with(FORMAT_PCM, 2, 48_000, 16, &data)).unwrap();
        assert_eq!(s.len(), 1_600);
        assert!(s[100..1_500].iter().all(|&v| v == 6_000), "{:?}", &s[..8]);
        // 8-bit unsigned mono at 8 kHz: 192 is +64/128 of full scale.
        let s = parse(&wav_with(FORMAT_PCM, 1, 8_000, 8, &[192; 800])).unwrap();
        assert_eq!(s.len(), 1_600);
        assert!(s[200..1_400].iter().all(|&v| v == 16_384), "{:?}", &s[..8]);
        // 24-bit, 32-bit int and 32/64-bit float at 16 kHz mono are exact.
        let v24: Vec<u8> = [0x00, 0x00, 0xc0].repeat(4);
        assert_eq!(
            parse(&wav_with(FORMAT_PCM, 1, 16_000, 24, &v24)).unwrap(),
            [-16_384; 4]
        );
        let v32: Vec<u8> = (1i32 << 29).to_le_bytes().repeat(3);
        assert_eq!(
            parse(&wav_with(FORMAT_PCM, 1, 16_000, 32, &v32)).unwrap(),
            [8_192; 3]
        );
        let f32s: Vec<u8> = 0.5f32.to_le_bytes().repeat(3);
        assert_eq!(
            parse(&wav_with(FORMAT_FLOAT, 1, 16_000, 32, &f32s)).unwrap(),
            [16_384; 3]
        );
        let f64s: Vec<u8> = (-1.0f64).to_le_bytes().repeat(2);
        assert_eq!(
            parse(&wav_with(FORMAT_FLOAT, 1, 16_000, 64, &f64s)).unwrap(),
            [-32_768; 2]
        );
        // Float beyond full scale is clipped, NaN is silence.
        let mut loud = 2.0f32.to_le_bytes().to_vec();
        loud.extend_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(
            parse(&wav_with(FORMAT_FLOAT, 1, 16_000, 32, &loud)).unwrap(),
            [32_767, 0]
        );
    }

    #[test]
    fn unreadable_formats_are_named() {
        let e = parse(&wav_with(0x11, 1, 8_000, 4, &[0; 10]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-PCM 4-bit"), "{e}");
        let e = parse(&wav_with(FORMAT_PCM, 1, 16_000, 12, &[0; 10]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("PCM 12-bit"), "{e}");
        let e = parse(&wav_with(FORMAT_PCM, 0, 16_000, 16, &[0; 10]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("0 channel(s)"), "{e}");
        let e = parse(&wav_with(FORMAT_PCM, 1, 0, 16, &[0; 10]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at 0 Hz"), "{e}");
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(matches!(parse(b""), Err(AudioError::NotWav(_))));
        assert!(matches!(
            parse(b"RIFF\0\0\0\0WAVX"),
            Err(AudioError::NotWav(_))
        ));
        let b = to_bytes(&[5; 4]);
        // Truncated inside fmt, no data chunk.
        assert!(matches!(parse(&b[..30]), Err(AudioError::NotWav(_))));
        assert!(matches!(
            parse(&b[..36]),
            Err(AudioError::NotWav("no data chunk"))
        ));
        // data before fmt.
        let mut odd = b[..12].to_vec();
        odd.extend_from_slice(&b[36..]);
        assert!(matches!(parse(&odd), Err(AudioError::NotWav(_))));
    }

    proptest! {
        #[test]
        fn parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_is_total_for_any_format_fields(code in 0u16..4, channels in 0u16..9, rate in 0u32..200_000, bits in 0u16..70, tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&wav_with(code, channels, rate, bits, &tail));
        }

        #[test]
        fn parse_is_total_after_a_valid_start(tail in proptest::collection::vec(any::<u8>(), 0..100), cut in 0usize..44) {
            let mut b = to_bytes(&[7; 8])[..cut].to_vec();
            b.extend_from_slice(&tail);
            let _ = parse(&b);
        }

        #[test]
        fn samples_round_trip(s in proptest::collection::vec(any::<i16>(), 0..300)) {
            prop_assert_eq!(parse(&to_bytes(&s)).unwrap(), s);
        }
    }
}
