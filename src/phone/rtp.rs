//! RTP (RFC 3550) packets between a phone and the daemon, and the
//! telephone-event payload (RFC 4733).
//!
//! [`Rtp::parse`] never panics: a short or malformed packet is an error.
//! The daemon keeps each stream's sequence and timestamp across the mesh:
//! the flow index of a frame is the phone's extended sequence number, so
//! the far daemon rebuilds the sequence (gaps included) and the timestamp.

use super::PhoneError;

pub const HEADER: usize = 12;

/// A parsed RTP packet, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtp<'a> {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

impl<'a> Rtp<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Rtp<'a>, PhoneError> {
        let bad = PhoneError::BadRtp;
        let h = b.get(..HEADER).ok_or(bad("short header"))?;
        if h[0] >> 6 != 2 {
            return Err(bad("not version 2"));
        }
        let padding = h[0] & 0x20 != 0;
        let ext = h[0] & 0x10 != 0;
        let cc = usize::from(h[0] & 0x0f);
        let mut off = HEADER + 4 * cc;
        if ext {
            let e = b.get(off..off + 4).ok_or(bad("short extension"))?;
            off += 4 + 4 * usize::from(u16::from_be_bytes([e[2], e[3]]));
        }
        let mut end = b.len();
        if padding {
            let pad = usize::from(*b.last().ok_or(bad("empty"))?);
            end = end.checked_sub(pad).ok_or(bad("padding"))?;
        }
        let payload = b.get(off..end).ok_or(bad("short payload"))?;
        Ok(Rtp {
            marker: h[1] & 0x80 != 0,
            pt: h[1] & 0x7f,
            seq: u16::from_be_bytes([h[2], h[3]]),
            ts: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ssrc: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            payload,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER + self.payload.len());
        v.push(0x80);
        v.push(self.pt & 0x7f | if self.marker { 0x80 } else { 0 });
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.ts.to_be_bytes());
        v.extend_from_slice(&self.ssrc.to_be_bytes());
        v.extend_from_slice(self.payload);
        v
    }
}

/// Extends 16-bit sequence numbers to a count from the stream's first
/// packet (RFC 3550 A.1 in spirit): each packet is placed within half the
/// space of the highest seen, and one from before the first is refused.
#[derive(Clone, Debug, Default)]
pub struct SeqExtender {
    /// (highest index, its sequence number), once a packet came.
    highest: Option<(u64, u16)>,
}

impl SeqExtender {
    /// The packet's index from the first one, or `None` if it is from
    /// before it.
    pub fn extend(&mut self, seq: u16) -> Option<u64> {
        let Some((hi, hi_seq)) = self.highest else {
            self.highest = Some((0, seq));
            return Some(0);
        };
        let d = i64::from(seq.wrapping_sub(hi_seq) as i16);
        let ext = u64::try_from(hi as i64 + d).ok()?;
        if d > 0 {
            self.highest = Some((ext, seq));
        }
        Some(ext)
    }
}

/// The 4-byte telephone-event payload (RFC 4733 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dtmf {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

impl Dtmf {
    pub fn parse(p: &[u8]) -> Result<Dtmf, PhoneError> {
        let b: &[u8; 4] = p
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .ok_or(PhoneError::BadRtp("short telephone-event"))?;
        Ok(Dtmf {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }
    pub fn encode(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            self.volume & 0x3f | if self.end { 0x80 } else { 0 },
            d[0],
            d[1],
        ]
    }
    /// The key it stands for: 0-9, *, #, A-D.
    pub fn key(&self) -> Option<char> {
        b"0123456789*#ABCD"
            .get(usize::from(self.event))
            .map(|&c| c as char)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = Rtp {
            marker: true,
            pt: 96,
            seq: 65535,
            ts: 0xdead_beef,
            ssrc: 7,
            payload: b"opus",
        };
        let b = p.encode();
        assert_eq!(Rtp::parse(&b).unwrap(), p);
    }

    #[test]
    fn csrc_extension_and_padding() {
        let mut b = vec![0x80 | 0x20 | 0x10 | 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        b.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension, 1 word
        b.extend_from_slice(b"hi");
        b.extend_from_slice(&[0, 2]); // 2 bytes of padding
        let p = Rtp::parse(&b).unwrap();
        assert_eq!(p.payload, b"hi");
        assert_eq!(p.seq, 1);
    }

    #[test]
    fn never_panics_on_short_input() {
        for n in 0..40 {
            let b = vec![0xbf; n];
            let _ = Rtp::parse(&b);
        }
        assert!(Rtp::parse(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]).is_ok());
    }

    #[test]
    fn sequence_extension_wraps_and_refuses_the_past() {
        let mut e = SeqExtender::default();
        assert_eq!(e.extend(65534), Some(0));
        assert_eq!(e.extend(65535), Some(1));
        assert_eq!(e.extend(0), Some(2));
        assert_eq!(e.extend(65535), Some(1)); // late, still in the window
        assert_eq!(e.extend(65533), None); // before the first
        assert_eq!(e.extend(5), Some(7));
    }

    #[test]
    fn dtmf_round_trip() {
        let d = Dtmf {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(Dtmf::parse(&d.encode()).unwrap(), d);
        assert_eq!(d.key(), Some('#'));
    }
}
