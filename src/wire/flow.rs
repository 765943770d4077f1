//! Voice flow packets: a 1:1 call's frames with a compact, label-switched
//! header, and the hop-by-hop acknowledgements and label repair around it.
//!
//! ```text
//! FlowFull (7), routed: installs `label -> (src, dst)` in every relay
//! +--------+--------+--------+--------+
//! |version |   7    | flags  |hop lim.|  flags: VOICE, ACK_REQ
//! +--------+--------+--------+--------+
//! |  source NodeId (16 bytes)         |
//! |  sequence (u32: the frame seq)    |
//! |  destination NodeId (16 bytes)    |
//! +--------+--------+--------+--------+
//! |  label (u32)                      |
//! +--------+--------+-----------------+
//! | frame seq (u16) |  payload ...
//! +--------+--------+
//!
//! Flow (8), compressed: 9 bytes of header
//! +--------+--------+--------+--------+--------+--------+--------+--------+--------+
//! |version |   8    |A|hoplim|         label (u32)               |  frame seq (u16)|  payload ...
//! +--------+--------+--------+--------+--------+--------+--------+--------+--------+
//!   A (top bit of the hop-limit byte): the sender wants a FlowAck.
//!
//! FlowMiss (9), link-local: "I got label L and do not know it"
//! | version | 9 | label (u32) |
//!
//! FlowAck (10), link-local: frames of one label received
//! | version | 10 | label (u32) | seq (u16) | seq (u16) ... (1..=MAX_ACK_SEQS)
//! ```
//!
//! None of these types carries a MAC in secured mode: they are only taken
//! from neighbours (made by authenticated hellos), and the voice layer
//! authenticates its payload end to end. The flow types are not
//! [`super::PacketType`]s: three of them are shorter than the common
//! header, so they are recognised by their type byte before
//! [`super::Header::parse`] and decoded here, totally.

use super::{MAX_PACKET, ROUTED_HEADER_LEN, VERSION, WireError, flags};
use crate::identity::NodeId;

/// Wire type numbers of the flow packets.
pub mod ty {
    pub const FULL: u8 = 7;
    pub const FRAME: u8 = 8;
    pub const MISS: u8 = 9;
    pub const ACK: u8 = 10;
}

/// Header bytes of a compressed frame: version, type, hop limit, label, seq.
pub const FRAME_HEADER_LEN: usize = 9;
/// Header bytes of a full frame: the routed header, label, seq.
pub const FULL_HEADER_LEN: usize = ROUTED_HEADER_LEN + 6;
/// Largest voice payload: what fits a full frame in [`MAX_PACKET`].
pub const MAX_VOICE_PAYLOAD: usize = MAX_PACKET - FULL_HEADER_LEN;
/// Sequence numbers one FlowAck may carry; a longer list is malformed.
pub const MAX_ACK_SEQS: usize = 32;
/// Top bit of a compressed frame's hop-limit byte: acknowledgement wanted.
const ACK_BIT: u8 = 0x80;

/// Whether a datagram's type byte is a flow packet's.
pub fn is_flow(data: &[u8]) -> bool {
    matches!(
        data.get(1),
        Some(&(ty::FULL | ty::FRAME | ty::MISS | ty::ACK))
    )
}

/// One decoded flow packet, borrowing its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowPacket<'a> {
    Full {
        src: NodeId,
        dst: NodeId,
        hop_limit: u8,
        ack_req: bool,
        label: u32,
        seq: u16,
        payload: &'a [u8],
    },
    Frame {
        hop_limit: u8,
        ack_req: bool,
        label: u32,
        seq: u16,
        payload: &'a [u8],
    },
    Miss {
        label: u32,
    },
    Ack {
        label: u32,
        seqs: Vec<u16>,
    },
}

fn need(buf: &[u8], n: usize) -> Result<(), WireError> {
    if buf.len() < n {
        Err(WireError::Truncated {
            len: buf.len(),
            need: n,
        })
    } else {
        Ok(())
    }
}

/// `N` bytes at `at`, or how short the packet is.
fn bytes_at<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], WireError> {
    buf.get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .ok_or(WireError::Truncated {
            len: buf.len(),
            need: at + N,
        })
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, WireError> {
    bytes_at(buf, at).map(u32::from_be_bytes)
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, WireError> {
    bytes_at(buf, at).map(u16::from_be_bytes)
}

fn id_at(buf: &[u8], at: usize) -> Result<NodeId, WireError> {
    bytes_at(buf, at).map(NodeId)
}

impl<'a> FlowPacket<'a> {
    /// Decode any flow packet; every malformed input is an error.
    pub fn decode(buf: &'a [u8]) -> Result<Self, WireError> {
        need(buf, 2)?;
        if buf.len() > MAX_PACKET {
            return Err(WireError::TooLong(buf.len()));
        }
        if buf[0] != VERSION {
            return Err(WireError::Version(buf[0]));
        }
        match buf[1] {
            ty::FULL => {
                need(buf, FULL_HEADER_LEN)?;
                Ok(FlowPacket::Full {
                    ack_req: buf[2] & flags::ACK_REQ != 0,
                    hop_limit: buf[3],
                    src: id_at(buf, 4)?,
                    dst: id_at(buf, 24)?,
                    label: u32_at(buf, 40)?,
                    seq: u16_at(buf, 44)?,
                    payload: &buf[FULL_HEADER_LEN..],
                })
            }
            ty::FRAME => {
                need(buf, FRAME_HEADER_LEN)?;
                Ok(FlowPacket::Frame {
                    ack_req: buf[2] & ACK_BIT != 0,
                    hop_limit: buf[2] & !ACK_BIT,
                    label: u32_at(buf, 3)?,
                    seq: u16_at(buf, 7)?,
                    payload: &buf[FRAME_HEADER_LEN..],
                })
            }
            ty::MISS => {
                if buf.len() != 6 {
                    return Err(WireError::Body(format!("flow miss of {} bytes", buf.len())));
                }
                Ok(FlowPacket::Miss {
                    label: u32_at(buf, 2)?,
                })
            }
            ty::ACK => {
                let n = buf.len().saturating_sub(6);
                if buf.len() < 8 || !n.is_multiple_of(2) || n / 2 > MAX_ACK_SEQS {
                    return Err(WireError::Body(format!("flow ack of {} bytes", buf.len())));
                }
                let seqs = buf[6..]
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                Ok(FlowPacket::Ack {
                    label: u32_at(buf, 2)?,
                    seqs,
                })
            }
            other => Err(WireError::UnknownType(other)),
        }
    }

    /// The packet's bytes. A compressed frame's hop limit is kept to its
    /// low seven bits; an ack's list is cut at [`MAX_ACK_SEQS`].
    pub fn encode(&self) -> Vec<u8> {
        match self {
            FlowPacket::Full {
                src,
                dst,
                hop_limit,
                ack_req,
                label,
                seq,
                payload,
            } => {
                let mut out = Vec::with_capacity(FULL_HEADER_LEN + payload.len());
                let fl = flags::VOICE | if *ack_req { flags::ACK_REQ } else { 0 };
                out.extend_from_slice(&[VERSION, ty::FULL, fl, *hop_limit]);
                out.extend_from_slice(&src.0);
                // The routed header's sequence is the frame seq: relays
                // suppress duplicates by (label, seq), not by this field.
                out.extend_from_slice(&u32::from(*seq).to_be_bytes());
                out.extend_from_slice(&dst.0);
                out.extend_from_slice(&label.to_be_bytes());
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(payload);
                out
            }
            FlowPacket::Frame {
                hop_limit,
                ack_req,
                label,
                seq,
                payload,
            } => {
                let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
                let hl = (hop_limit & !ACK_BIT) | if *ack_req { ACK_BIT } else { 0 };
                out.extend_from_slice(&[VERSION, ty::FRAME, hl]);
                out.extend_from_slice(&label.to_be_bytes());
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(payload);
                out
            }
            FlowPacket::Miss { label } => {
                let mut out = vec![VERSION, ty::MISS];
                out.extend_from_slice(&label.to_be_bytes());
                out
            }
            FlowPacket::Ack { label, seqs } => {
                let mut out = vec![VERSION, ty::ACK];
                out.extend_from_slice(&label.to_be_bytes());
                for s in seqs.iter().take(MAX_ACK_SEQS) {
                    out.extend_from_slice(&s.to_be_bytes());
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Kind, src, dst, hop limit, ack wanted, label, seq, payload.
    type Fields = (u8, [u8; 16], [u8; 16], u8, bool, u32, u16, Vec<u8>);

    fn packet() -> impl Strategy<Value = Fields> {
        (
            0u8..4,
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            0u8..128,
            any::<bool>(),
            any::<u32>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
    }

    #[test]
    fn compressed_frame_header_is_nine_bytes() {
        let p = FlowPacket::Frame {
            hop_limit: 32,
            ack_req: true,
            label: 7,
            seq: 1,
            payload: b"abc",
        };
        assert_eq!(p.encode().len(), FRAME_HEADER_LEN + 3);
        assert_eq!(FRAME_HEADER_LEN, 9);
    }

    #[test]
    fn ack_bounds() {
        let mut a = vec![VERSION, ty::ACK, 0, 0, 0, 1];
        assert!(FlowPacket::decode(&a).is_err(), "an ack needs a seq");
        a.extend_from_slice(&[0, 5]);
        assert_eq!(
            FlowPacket::decode(&a),
            Ok(FlowPacket::Ack {
                label: 1,
                seqs: vec![5]
            })
        );
        a.push(0);
        assert!(FlowPacket::decode(&a).is_err(), "odd length");
        let long = [vec![VERSION, ty::ACK, 0, 0, 0, 1], vec![0; 2 * 33]].concat();
        assert!(FlowPacket::decode(&long).is_err(), "too many seqs");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80), t in 7u8..11) {
            let _ = FlowPacket::decode(&data);
            let mut d = data;
            if d.len() >= 2 {
                d[0] = VERSION;
                d[1] = t;
            }
            if let Ok(p) = FlowPacket::decode(&d) {
                // What decodes re-encodes to a packet that decodes the same.
                let again = p.encode();
                prop_assert_eq!(FlowPacket::decode(&again), Ok(p));
            }
        }

        #[test]
        fn round_trip((kind, src, dst, hop_limit, ack_req, label, seq, payload) in packet()) {
            let seqs: Vec<u16> = payload.chunks(2).map(|c| u16::from(c[0])).take(MAX_ACK_SEQS).collect();
            let p = match kind {
                0 => FlowPacket::Full { src: NodeId(src), dst: NodeId(dst), hop_limit, ack_req, label, seq, payload: &payload },
                1 => FlowPacket::Frame { hop_limit, ack_req, label, seq, payload: &payload },
                2 => FlowPacket::Miss { label },
                _ => FlowPacket::Ack { label, seqs: if seqs.is_empty() { vec![seq] } else { seqs } },
            };
            let bytes = p.encode();
            prop_assert_eq!(FlowPacket::decode(&bytes), Ok(p));
        }
    }
}
