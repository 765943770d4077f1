//! The SDP body of an INVITE or its 200 OK: a minimal offer of Opus, plus
//! the two things the mesh needs that SDP has no words for, the flow label
//! the sender will put on its voice frames and its signed ephemeral key.
//!
//! ```text
//! v=0
//! o=- 0 0 IN IP6 ::
//! s=callsign
//! c=IN IP6 ::
//! t=0 0
//! m=audio 9 RTP/AVP 111
//! a=rtpmap:111 opus/48000/2
//! a=fmtp:111 useinbandfec=1;maxaveragebitrate=24000;stereo=0
//! a=callsign-flow:<label, decimal>
//! a=callsign-key:<X25519 public key, 64 hex> <Ed25519 signature, 128 hex>
//! a=callsign-device:<Ed25519 device key, 64 hex>
//! ```
//!
//! The device key lets the far end check the signature without a
//! directory record of the sender: its hash must be the sender's NodeId.
//!
//! The port is 9 (discard), as WebRTC writes it when the transport is
//! negotiated elsewhere: port 0 would mean "stream rejected" (RFC 3264 §6)
//! to any standard parser. The media rides the overlay's flows, not RTP.
//!
//! The parser is total: every missing or malformed line the offer needs is
//! a [`SessionError::BadSdp`], and unknown lines are ignored (RFC 4566).

use super::{MediaOffer, SessionError};

/// Longest SDP body accepted; ours is about 300 bytes.
pub const MAX_SDP: usize = 2048;

/// Opus bit rates the encoder accepts (libopus `OPUS_SET_BITRATE`).
const BITRATE_RANGE: std::ops::RangeInclusive<u32> = 6000..=510_000;

/// The SDP text for `offer`.
pub fn encode(offer: &MediaOffer) -> String {
    let pt = offer.opus_pt;
    format!(
        "v=0\r\n\
         o=- 0 0 IN IP6 ::\r\n\
         s=callsign\r\n\
         c=IN IP6 ::\r\n\
         t=0 0\r\n\
         m=audio 9 RTP/AVP {pt}\r\n\
         a=rtpmap:{pt} opus/48000/2\r\n\
         a=fmtp:{pt} useinbandfec=1;maxaveragebitrate={};stereo=0\r\n\
         a=callsign-flow:{}\r\n\
         a=callsign-key:{} {}\r\n\
         a=callsign-device:{}\r\n",
        offer.bitrate,
        offer.label,
        hex(&offer.key),
        hex(&offer.key_sig),
        hex(&offer.device_key),
    )
}

/// The offer carried by an SDP body.
pub fn parse(body: &[u8]) -> Result<MediaOffer, SessionError> {
    if body.len() > MAX_SDP {
        return Err(SessionError::BadSdp("body too long"));
    }
    let text = std::str::from_utf8(body).map_err(|_| SessionError::BadSdp("not UTF-8"))?;
    let mut pt: Option<u8> = None;
    let mut rtpmap: Option<(u8, &str)> = None;
    let mut fmtp: Option<(u8, &str)> = None;
    let mut label: Option<u32> = None;
    let mut key: Option<([u8; 32], [u8; 64])> = None;
    let mut device: Option<[u8; 32]> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            // m=audio <port> RTP/AVP <fmt> ...: the first format is ours.
            let mut parts = m.split(' ');
            if parts.next() != Some("audio") {
                continue;
            }
            let _port = parts.next().ok_or(SessionError::BadSdp("m= line"))?;
            if parts.next() != Some("RTP/AVP") {
                return Err(SessionError::BadSdp("m= profile"));
            }
            let fmt = parts.next().ok_or(SessionError::BadSdp("m= format"))?;
            pt = Some(parse_pt(fmt)?);
        } else if let Some(a) = line.strip_prefix("a=rtpmap:") {
            let (p, rest) = a.split_once(' ').ok_or(SessionError::BadSdp("rtpmap"))?;
            rtpmap = Some((parse_pt(p)?, rest));
        } else if let Some(a) = line.strip_prefix("a=fmtp:") {
            let (p, rest) = a.split_once(' ').ok_or(SessionError::BadSdp("fmtp"))?;
            fmtp = Some((parse_pt(p)?, rest));
        } else if let Some(a) = line.strip_prefix("a=callsign-flow:") {
            label = Some(a.parse().map_err(|_| SessionError::BadSdp("flow label"))?);
        } else if let Some(a) = line.strip_prefix("a=callsign-key:") {
            let (k, s) = a.split_once(' ').ok_or(SessionError::BadSdp("key"))?;
            let k: [u8; 32] = unhex(k).ok_or(SessionError::BadSdp("key hex"))?;
            let s: [u8; 64] = unhex(s).ok_or(SessionError::BadSdp("key signature hex"))?;
            key = Some((k, s));
        } else if let Some(a) = line.strip_prefix("a=callsign-device:") {
            device = Some(unhex(a.trim()).ok_or(SessionError::BadSdp("device key hex"))?);
        }
    }
    let pt = pt.ok_or(SessionError::BadSdp("no audio m= line"))?;
    match rtpmap {
        Some((p, enc)) if p == pt => {
            let enc = enc.to_ascii_lowercase();
            if enc != "opus/48000/2" && enc != "opus/48000" {
                return Err(SessionError::BadSdp("payload type is not Opus"));
            }
        }
        _ => return Err(SessionError::BadSdp("no rtpmap for the payload type")),
    }
    let bitrate = match fmtp {
        Some((p, params)) if p == pt => params
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "maxaveragebitrate")
            .ok_or(SessionError::BadSdp("no maxaveragebitrate"))?
            .1
            .parse::<u32>()
            .ok()
            .filter(|b| BITRATE_RANGE.contains(b))
            .ok_or(SessionError::BadSdp("maxaveragebitrate"))?,
        _ => return Err(SessionError::BadSdp("no fmtp for the payload type")),
    };
    let label = label.ok_or(SessionError::BadSdp("no callsign-flow"))?;
    let (key, key_sig) = key.ok_or(SessionError::BadSdp("no callsign-key"))?;
    let device_key = device.ok_or(SessionError::BadSdp("no callsign-device"))?;
    Ok(MediaOffer {
        label,
        key,
        key_sig,
        device_key,
        opus_pt: pt,
        bitrate,
    })
}

/// A dynamic RTP payload type (96..=127): Opus has no static one.
fn parse_pt(s: &str) -> Result<u8, SessionError> {
    s.parse::<u8>()
        .ok()
        .filter(|p| (96..=127).contains(p))
        .ok_or(SessionError::BadSdp("payload type"))
}

pub(crate) fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let hi = (*pair.first()? as char).to_digit(16)?;
        let lo = (*pair.get(1)? as char).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}
