//! The SDP a phone offers or answers, and ours to it.
//!
//! The daemon sits in the media path (its own RTP port in every SDP it
//! writes), so of the phone's SDP it needs the RTP address, which of our
//! codecs it takes and its telephone-event payload type. Opus is carried
//! across the mesh as it is; a phone with only G.711 is transcoded.
//! The parser is total and ignores what it does not know (RFC 4566).

use std::net::{IpAddr, SocketAddr};

use super::PhoneError;

/// Longest SDP body read.
pub const MAX_SDP: usize = 4096;

/// The audio codec a phone leg uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Opus at 48 kHz RTP clock: passed through.
    Opus { pt: u8 },
    /// G.711 mu-law (PT 0), 8 kHz: transcoded.
    Pcmu,
    /// G.711 A-law (PT 8), 8 kHz: transcoded.
    Pcma,
}

impl Codec {
    pub fn pt(self) -> u8 {
        match self {
            Codec::Opus { pt } => pt,
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }
    /// RTP clock rate.
    pub fn clock(self) -> u32 {
        match self {
            Codec::Opus { .. } => 48_000,
            Codec::Pcmu | Codec::Pcma => 8_000,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus { .. } => "opus",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// What the daemon takes of a phone's SDP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneMedia {
    /// Where the phone wants its RTP.
    pub rtp: SocketAddr,
    /// Codecs offered that we speak, the phone's order.
    pub codecs: Vec<Codec>,
    /// The telephone-event (RFC 4733) payload type, if offered.
    pub te_pt: Option<u8>,
}

impl PhoneMedia {
    /// The codec to use: the phone's first that we speak.
    pub fn codec(&self) -> Option<Codec> {
        self.codecs.first().copied()
    }
}

pub fn parse(body: &[u8]) -> Result<PhoneMedia, PhoneError> {
    if body.len() > MAX_SDP {
        return Err(PhoneError::BadSdp("body too long"));
    }
    let text = std::str::from_utf8(body).map_err(|_| PhoneError::BadSdp("not UTF-8"))?;
    let mut session_c: Option<IpAddr> = None;
    let mut media_c: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    let mut fmts: Vec<u8> = Vec::new();
    let mut maps: Vec<(u8, String)> = Vec::new();
    let mut in_audio = false;
    let mut seen_audio = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = false;
            let mut p = m.split(' ');
            if p.next() != Some("audio") || seen_audio {
                continue;
            }
            seen_audio = true;
            in_audio = true;
            port = p.next().and_then(|x| x.parse().ok());
            let proto = p.next().unwrap_or("");
            if proto != "RTP/AVP" && proto != "RTP/AVPF" {
                return Err(PhoneError::BadSdp("audio profile is not RTP/AVP"));
            }
            fmts = p.filter_map(|f| f.parse().ok()).take(32).collect();
        } else if let Some(c) = line.strip_prefix("c=") {
            let ip = c
                .split(' ')
                .nth(2)
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse::<IpAddr>().ok())
                .ok_or(PhoneError::BadSdp("c= address"))?;
            if in_audio {
                media_c = Some(ip);
            } else if !seen_audio {
                session_c = Some(ip);
            }
        } else if let Some(a) = line.strip_prefix("a=rtpmap:") {
            if !in_audio || maps.len() >= 32 {
                continue;
            }
            if let Some((pt, enc)) = a.split_once(' ')
                && let Ok(pt) = pt.parse::<u8>()
            {
                maps.push((pt, enc.trim().to_ascii_lowercase()));
            }
        }
    }
    let port = port.ok_or(PhoneError::BadSdp("no audio stream"))?;
    let ip = media_c
        .or(session_c)
        .ok_or(PhoneError::BadSdp("no c= address"))?;
    let enc_of = |pt: u8| maps.iter().find(|(p, _)| *p == pt).map(|(_, e)| e.as_str());
    let mut codecs = Vec::new();
    let mut te_pt = None;
    for &pt in &fmts {
        match (pt, enc_of(pt)) {
            (0, None) => codecs.push(Codec::Pcmu),
            (8, None) => codecs.push(Codec::Pcma),
            (_, Some(e)) if e.starts_with("opus/48000") => codecs.push(Codec::Opus { pt }),
            (_, Some(e)) if e.starts_with("pcmu/8000") => codecs.push(Codec::Pcmu),
            (_, Some(e)) if e.starts_with("pcma/8000") => codecs.push(Codec::Pcma),
            (_, Some(e)) if e.starts_with("telephone-event/") => te_pt = te_pt.or(Some(pt)),
            _ => {}
        }
    }
    Ok(PhoneMedia {
        rtp: SocketAddr::new(ip, port),
        codecs,
        te_pt,
    })
}

/// Our SDP to a phone: RTP to `rtp`, the given codecs in that order and
/// telephone-event. An offer lists every codec we speak; an answer the
/// one chosen.
pub fn encode(rtp: SocketAddr, codecs: &[Codec], te_pt: Option<u8>, session: u64) -> String {
    let fam = if rtp.is_ipv4() { "IP4" } else { "IP6" };
    let ip = rtp.ip();
    let mut fmts: Vec<String> = codecs.iter().map(|c| c.pt().to_string()).collect();
    if let Some(te) = te_pt {
        fmts.push(te.to_string());
    }
    let mut s = format!(
        "v=0\r\no=callsign {session} {session} IN {fam} {ip}\r\ns=callsign\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
        rtp.port(),
        fmts.join(" ")
    );
    for c in codecs {
        match c {
            Codec::Opus { pt } => {
                s.push_str(&format!("a=rtpmap:{pt} opus/48000/2\r\n"));
                s.push_str(&format!(
                    "a=fmtp:{pt} useinbandfec=1;stereo=0;sprop-stereo=0\r\n"
                ));
            }
            Codec::Pcmu => s.push_str("a=rtpmap:0 PCMU/8000\r\n"),
            Codec::Pcma => s.push_str("a=rtpmap:8 PCMA/8000\r\n"),
        }
    }
    if let Some(te) = te_pt {
        s.push_str(&format!(
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
        ));
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARESIP: &str = "v=0\r\no=- 1 2 IN IP4 10.99.0.1\r\ns=-\r\nc=IN IP4 10.99.0.1\r\nt=0 0\r\n\
        m=audio 17792 RTP/AVP 96 0 8 101\r\na=rtpmap:96 opus/48000/2\r\n\
        a=fmtp:96 stereo=0;sprop-stereo=0;maxaveragebitrate=24000\r\na=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n";

    #[test]
    fn reads_a_baresip_offer() {
        let m = parse(BARESIP.as_bytes()).unwrap();
        assert_eq!(m.rtp, "10.99.0.1:17792".parse().unwrap());
        assert_eq!(
            m.codecs,
            vec![Codec::Opus { pt: 96 }, Codec::Pcmu, Codec::Pcma]
        );
        assert_eq!(m.te_pt, Some(101));
    }

    #[test]
    fn g711_only_without_rtpmap() {
        let s = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 8 0\r\n";
        let m = parse(s.as_bytes()).unwrap();
        assert_eq!(m.codec(), Some(Codec::Pcma));
        assert_eq!(m.te_pt, None);
    }

    #[test]
    fn our_sdp_reads_back() {
        let rtp: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let s = encode(rtp, &[Codec::Opus { pt: 96 }, Codec::Pcmu], Some(101), 7);
        let m = parse(s.as_bytes()).unwrap();
        assert_eq!(m.rtp, rtp);
        assert_eq!(m.codecs, vec![Codec::Opus { pt: 96 }, Codec::Pcmu]);
        assert_eq!(m.te_pt, Some(101));
    }

    #[test]
    fn garbage_is_an_error() {
        for s in [
            "",
            "m=audio x RTP/AVP 0",
            "c=IN IP4 nowhere\r\nm=audio 1 RTP/AVP 0",
            "m=audio 5 UDP/TLS 0",
        ] {
            assert!(parse(s.as_bytes()).is_err(), "{s:?}");
        }
    }
}
