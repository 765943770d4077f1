//! What a talkgroup puts in a flood (and the one unicast it sends back):
//! a raw view over the bytes ([`GroupPacket`], smoltcp style: lengths
//! checked once, accessors that cannot go out of bounds) and the parsed
//! form ([`GroupRepr`]) with `parse` and `emit`.
//!
//! ```text
//! kind 0x01  floor message   | CBOR (floor::FloorMsg) ...
//! kind 0x02  voice frame     | burst u32 | seq u16 | capture_ms u16 | Opus ...
//! kind 0x03  loss report     | burst u32 | loss % u8        (unicast to the talker)
//! kind 0x04  sealed voice    | burst u32 | seq u16 | capture_ms u16 | sealed Opus | tag (4)
//! kind 0x05  sealed control  | nonce (12) | sealed kind 0x01 or 0x03 packet | tag (16)
//! ```
//!
//! Kinds 0x04 and 0x05 are the same packets on a talkgroup with a key
//! ([`super::group_key`] seals and opens them): a sealed voice frame keeps
//! its header in clear (authenticated) and costs [`VOICE_TAG`] bytes more
//! than a plain one; floor messages and loss reports travel whole inside a
//! ChaCha20-Poly1305 box. A member without the key sees kinds it cannot
//! read, and a plain packet on a keyed talkgroup is refused.
//!
//! All integers are big endian. `seq` is the frame's slot in its burst: it
//! advances once per 20 ms, DTX pauses included, so `seq × 20 ms` is the
//! talker's media clock. `capture_ms` is the talker's clock (ms mod 2^16)
//! when the frame's first sample was captured, for mouth-to-ear figures.
//! A voice frame costs 9 bytes beyond the Opus bytes (13 sealed).
//!
//! [`GroupRepr::parse`] is total: any byte string gives a value or a
//! [`GroupWireError`], never a panic (fuzzed by `fuzz/fuzz_targets/group.rs`).

use sha2::{Digest, Sha256};

use crate::floor::FloorMsg;
use crate::identity::NodeId;

pub const KIND_FLOOR: u8 = 1;
pub const KIND_VOICE: u8 = 2;
pub const KIND_REPORT: u8 = 3;
pub const KIND_SEALED_VOICE: u8 = 4;
pub const KIND_SEALED: u8 = 5;
/// Tag of a sealed voice frame: its whole cost over a plain one.
pub const VOICE_TAG: usize = 4;
/// Nonce and tag of a sealed floor message or loss report.
pub const SEALED_NONCE: usize = 12;
pub const SEALED_TAG: usize = 16;
/// Bytes of a voice frame in front of the Opus bytes.
pub const VOICE_HEADER: usize = 9;
/// Length of a loss report.
pub const REPORT_LEN: usize = 6;

/// Why a group packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupWireError {
    #[error("empty group packet")]
    Empty,
    #[error("unknown group packet kind {0}")]
    UnknownKind(u8),
    #[error("group packet of kind {kind} too short: {len} bytes")]
    Truncated { kind: u8, len: usize },
    #[error("loss report of {0} bytes (expected {REPORT_LEN})")]
    BadReport(usize),
    #[error("loss report of {0} % (at most 100)")]
    BadLoss(u8),
    #[error("floor message: {0}")]
    Floor(String),
    /// A sealed packet that opens with none of our keys, or a plain one
    /// on a talkgroup that has a key.
    #[error("talkgroup packet not sealed with our key")]
    Unauthentic,
    /// A sealed packet on a talkgroup we hold no key for.
    #[error("sealed talkgroup packet and no key")]
    NoKey,
    /// A sealed box holding something other than a floor message or report.
    #[error("sealed talkgroup packet holds kind {0}")]
    BadSealedKind(u8),
}

/// The flood group of a talkgroup name: a hash, so any member computes it
/// from the name alone and a directory record can list names, not ids.
pub fn group_of(name: &str) -> NodeId {
    let h = Sha256::digest([b"callsign talkgroup\0".as_slice(), name.as_bytes()].concat());
    let mut id = [0u8; 16];
    id.copy_from_slice(&h[..16]);
    NodeId(id)
}

/// A checked view over a group packet's bytes.
#[derive(Debug, Clone, Copy)]
pub struct GroupPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> GroupPacket<T> {
    /// Check the kind and the lengths once; the accessors below then never
    /// go out of bounds.
    pub fn new_checked(buf: T) -> Result<Self, GroupWireError> {
        let b = buf.as_ref();
        let (&kind, _) = b.split_first().ok_or(GroupWireError::Empty)?;
        let min = match kind {
            KIND_FLOOR => 1,
            KIND_VOICE => VOICE_HEADER,
            KIND_SEALED_VOICE => VOICE_HEADER + VOICE_TAG,
            KIND_SEALED => 1 + SEALED_NONCE + SEALED_TAG,
            KIND_REPORT => {
                if b.len() != REPORT_LEN {
                    return Err(GroupWireError::BadReport(b.len()));
                }
                REPORT_LEN
            }
            k => return Err(GroupWireError::UnknownKind(k)),
        };
        if b.len() < min {
            return Err(GroupWireError::Truncated { kind, len: b.len() });
        }
        Ok(GroupPacket { buf })
    }

    pub fn kind(&self) -> u8 {
        self.buf.as_ref().first().copied().unwrap_or(0)
    }

    // The fields a kind carries are there (checked once); a field read on
    // a kind that has none gives zero rather than a panic.
    fn u32_at(&self, i: usize) -> u32 {
        let b = self.buf.as_ref();
        b.get(i..i + 4)
            .and_then(|x| x.try_into().ok())
            .map_or(0, u32::from_be_bytes)
    }

    fn u16_at(&self, i: usize) -> u16 {
        let b = self.buf.as_ref();
        b.get(i..i + 2)
            .and_then(|x| x.try_into().ok())
            .map_or(0, u16::from_be_bytes)
    }

    /// Voice (plain or sealed) and report: the burst.
    pub fn burst(&self) -> u32 {
        self.u32_at(1)
    }

    /// Voice: the frame's slot in its burst.
    pub fn seq(&self) -> u16 {
        self.u16_at(5)
    }

    /// Voice: the talker's capture clock.
    pub fn capture_ms(&self) -> u16 {
        self.u16_at(7)
    }

    /// Floor: the CBOR body; voice: the Opus bytes; sealed voice: the
    /// sealed Opus and its tag; sealed control: the box after the nonce.
    pub fn body(&self) -> &[u8] {
        let b = self.buf.as_ref();
        match self.kind() {
            KIND_VOICE | KIND_SEALED_VOICE => b.get(VOICE_HEADER..).unwrap_or(&[]),
            KIND_FLOOR => b.get(1..).unwrap_or(&[]),
            KIND_SEALED => b.get(1 + SEALED_NONCE..).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Sealed control: the nonce (zeros on other kinds).
    pub fn nonce(&self) -> [u8; SEALED_NONCE] {
        let b = self.buf.as_ref();
        match self.kind() {
            KIND_SEALED => b
                .get(1..1 + SEALED_NONCE)
                .and_then(|x| x.try_into().ok())
                .unwrap_or_default(),
            _ => [0; SEALED_NONCE],
        }
    }

    /// Report: the listener's loss in percent.
    pub fn loss_pct(&self) -> u8 {
        self.buf.as_ref().get(5).copied().unwrap_or(0)
    }
}

/// A parsed group packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRepr<'a> {
    Floor(FloorMsg),
    Voice {
        burst: u32,
        seq: u16,
        capture_ms: u16,
        body: &'a [u8],
    },
    /// A listener's loss on a burst, so the talker plans its FEC.
    Report {
        burst: u32,
        loss_pct: u8,
    },
    /// A voice frame of a keyed talkgroup: `sealed` is the encrypted Opus
    /// and its [`VOICE_TAG`]-byte tag.
    SealedVoice {
        burst: u32,
        seq: u16,
        capture_ms: u16,
        sealed: &'a [u8],
    },
    /// A floor message or loss report of a keyed talkgroup: `sealed` is
    /// the box, its [`SEALED_TAG`]-byte tag included.
    Sealed {
        nonce: [u8; SEALED_NONCE],
        sealed: &'a [u8],
    },
}

impl<'a> GroupRepr<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<GroupRepr<'a>, GroupWireError> {
        let p = GroupPacket::new_checked(bytes)?;
        Ok(match p.kind() {
            KIND_FLOOR => GroupRepr::Floor(
                FloorMsg::decode(&bytes[1..]).map_err(|e| GroupWireError::Floor(e.to_string()))?,
            ),
            KIND_VOICE => GroupRepr::Voice {
                burst: p.burst(),
                seq: p.seq(),
                capture_ms: p.capture_ms(),
                body: &bytes[VOICE_HEADER..],
            },
            KIND_SEALED_VOICE => GroupRepr::SealedVoice {
                burst: p.burst(),
                seq: p.seq(),
                capture_ms: p.capture_ms(),
                sealed: &bytes[VOICE_HEADER..],
            },
            KIND_SEALED => GroupRepr::Sealed {
                nonce: p.nonce(),
                sealed: &bytes[1 + SEALED_NONCE..],
            },
            _ => {
                let loss_pct = p.loss_pct();
                if loss_pct > 100 {
                    return Err(GroupWireError::BadLoss(loss_pct));
                }
                GroupRepr::Report {
                    burst: p.burst(),
                    loss_pct,
                }
            }
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        match self {
            GroupRepr::Floor(m) => {
                let mut v = vec![KIND_FLOOR];
                v.extend_from_slice(&m.encode());
                v
            }
            GroupRepr::Voice {
                burst,
                seq,
                capture_ms,
                body,
            } => {
                let mut v = voice_header(KIND_VOICE, *burst, *seq, *capture_ms).to_vec();
                v.extend_from_slice(body);
                v
            }
            GroupRepr::SealedVoice {
                burst,
                seq,
                capture_ms,
                sealed,
            } => {
                let mut v = voice_header(KIND_SEALED_VOICE, *burst, *seq, *capture_ms).to_vec();
                v.extend_from_slice(sealed);
                v
            }
            GroupRepr::Sealed { nonce, sealed } => {
                let mut v = Vec::with_capacity(1 + SEALED_NONCE + sealed.len());
                v.push(KIND_SEALED);
                v.extend_from_slice(nonce);
                v.extend_from_slice(sealed);
                v
            }
            GroupRepr::Report { burst, loss_pct } => {
                let mut v = vec![KIND_REPORT];
                v.extend_from_slice(&burst.to_be_bytes());
                v.push((*loss_pct).min(100));
                v
            }
        }
    }
}

/// The header of a voice frame, plain or sealed (the sealed frame's
/// authenticated data).
pub fn voice_header(kind: u8, burst: u32, seq: u16, capture_ms: u16) -> [u8; VOICE_HEADER] {
    let mut h = [0u8; VOICE_HEADER];
    h[0] = kind;
    h[1..5].copy_from_slice(&burst.to_be_bytes());
    h[5..7].copy_from_slice(&seq.to_be_bytes());
    h[7..9].copy_from_slice(&capture_ms.to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::floor::Priority;
    use proptest::prelude::*;

    fn floor_msg() -> impl Strategy<Value = FloorMsg> {
        (any::<u32>(), 0u8..3, "[a-z0-9.-]{0,64}").prop_map(|(burst, p, name)| {
            let prio = [Priority::Normal, Priority::Command, Priority::Emergency][p as usize];
            if burst % 2 == 0 {
                FloorMsg::Taken { burst, prio, name }
            } else {
                FloorMsg::Request { prio, name }
            }
        })
    }

    proptest! {
        #[test]
        fn voice_round_trips(burst: u32, seq: u16, cap: u16, body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let r = GroupRepr::Voice { burst, seq, capture_ms: cap, body: &body };
            let b = r.emit();
            prop_assert_eq!(b.len(), VOICE_HEADER + body.len());
            prop_assert_eq!(GroupRepr::parse(&b).unwrap(), r);
        }

        #[test]
        fn floor_and_reports_round_trip(m in floor_msg(), burst: u32, loss in 0u8..=100) {
            let f = GroupRepr::Floor(m);
            let fb = f.emit();
            prop_assert_eq!(GroupRepr::parse(&fb).unwrap(), f);
            let r = GroupRepr::Report { burst, loss_pct: loss };
            let rb = r.emit();
            prop_assert_eq!(GroupRepr::parse(&rb).unwrap(), r);
        }

        #[test]
        fn sealed_forms_round_trip(burst: u32, seq: u16, cap: u16, nonce: [u8; 12],
                                   body in proptest::collection::vec(any::<u8>(), 16..200)) {
            let v = GroupRepr::SealedVoice { burst, seq, capture_ms: cap, sealed: &body };
            let b = v.emit();
            prop_assert_eq!(b.len(), VOICE_HEADER + body.len());
            prop_assert_eq!(GroupRepr::parse(&b).unwrap(), v);
            let c = GroupRepr::Sealed { nonce, sealed: &body };
            let b = c.emit();
            prop_assert_eq!(GroupRepr::parse(&b).unwrap(), c);
        }

        #[test]
        fn any_bytes_parse_or_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = GroupRepr::parse(&b);
        }
    }

    #[test]
    fn short_and_unknown_packets_are_refused() {
        assert_eq!(GroupRepr::parse(&[]), Err(GroupWireError::Empty));
        assert_eq!(GroupRepr::parse(&[9]), Err(GroupWireError::UnknownKind(9)));
        assert!(matches!(
            GroupRepr::parse(&[KIND_VOICE, 0, 0, 0, 1, 0, 2, 0]),
            Err(GroupWireError::Truncated { .. })
        ));
        assert!(GroupRepr::parse(&[KIND_REPORT, 0, 0, 0, 1, 101]).is_err());
        assert!(GroupRepr::parse(&[KIND_REPORT, 0, 0, 0, 1, 5, 0]).is_err());
        assert!(GroupRepr::parse(&[KIND_FLOOR, 0xff]).is_err());
        // A sealed voice frame has room for its tag; a sealed box for its
        // nonce and tag.
        let mut v = vec![KIND_SEALED_VOICE];
        v.extend_from_slice(&[0; VOICE_HEADER - 1 + VOICE_TAG - 1]);
        assert!(matches!(
            GroupRepr::parse(&v),
            Err(GroupWireError::Truncated { .. })
        ));
        let c = [KIND_SEALED; SEALED_NONCE + SEALED_TAG];
        assert!(matches!(
            GroupRepr::parse(&c),
            Err(GroupWireError::Truncated { .. })
        ));
    }

    #[test]
    fn groups_are_hashes_of_names() {
        assert_eq!(group_of("fireground-1"), group_of("fireground-1"));
        assert_ne!(group_of("fireground-1"), group_of("fireground-2"));
    }
}
