//! 16-bit PCM WAV, 16 kHz mono only: a total reader (any bytes give
//! samples or an error that names what the file is) and a streaming writer
//! that fixes the RIFF sizes when finished.
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

/// Samples of a 16 kHz mono 16-bit PCM WAV held in memory.
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
                if f.code != FORMAT_PCM || f.bits != 16 || f.channels != 1 || f.rate != SAMPLE_RATE
                {
                    return Err(AudioError::WavFormat {
                        format_name: match f.code {
                            FORMAT_PCM => "PCM",
                            FORMAT_FLOAT => "float",
                            _ => "non-PCM",
                        },
                        bits: f.bits,
                        channels: f.channels,
                        rate: f.rate,
                    });
                }
                return Ok(body
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect());
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

    #[test]
    fn wrong_formats_are_named() {
        let mut b = to_bytes(&[0; 10]);
        b[22..24].copy_from_slice(&2u16.to_le_bytes());
        b[24..28].copy_from_slice(&22_050u32.to_le_bytes());
        let e = parse(&b).unwrap_err().to_string();
        assert!(e.contains("2 channel(s)") && e.contains("22050 Hz"), "{e}");
        let mut b = to_bytes(&[0; 10]);
        b[20..22].copy_from_slice(&FORMAT_FLOAT.to_le_bytes());
        b[34..36].copy_from_slice(&32u16.to_le_bytes());
        let e = parse(&b).unwrap_err().to_string();
        assert!(e.contains("float 32-bit"), "{e}");
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
