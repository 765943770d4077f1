//! A phone's RTP to and from a call's mesh frames.
//!
//! Opus from an Opus phone is carried as it is: the frame's flow index is
//! the phone's extended RTP sequence number and its 16-bit `rtp_ts` the
//! low bits of the phone's timestamp, so the far daemon rebuilds both (a
//! gap in the sequence stays a gap, a silence keeps its length). G.711 is
//! transcoded here: 20 ms of 8 kHz samples become one Opus frame, and the
//! reverse. Telephone-events (RFC 4733) ride as event frames.

use std::net::SocketAddr;

use crate::audio::codec::{Decoder, Encoder, EncoderConfig};
use crate::phone::rtp::{Rtp, SeqExtender};
use crate::phone::{Codec, g711};
use crate::voice::call_payload::{CallPayload, extend_ts};

/// Samples of 20 ms at 8 kHz.
const G711_FRAME: usize = 160;
/// Opus bit rate of a transcoded G.711 stream: narrowband speech.
const G711_OPUS_BITRATE: u32 = 20_000;
/// RTP ticks per ms of the mesh's 48 kHz timeline.
const TICKS_PER_MS: i64 = 48;

/// Figures of one bridged phone call.
#[derive(Debug, Default, Clone, Copy)]
pub struct BridgeStats {
    pub from_phone: u64,
    pub to_phone: u64,
    pub dtmf_from_phone: u64,
    pub dtmf_to_phone: u64,
    /// RTP dropped: wrong payload type, out of order past what was sent,
    /// malformed, or from another source than the phone's first.
    pub dropped: u64,
}

pub struct Bridge {
    pub codec: Codec,
    /// The phone's telephone-event payload type.
    te_pt: Option<u8>,
    /// Where the phone wants its RTP.
    pub dest: SocketAddr,
    // phone -> mesh
    source: Option<SocketAddr>,
    in_ssrc: Option<u32>,
    in_seq: SeqExtender,
    in_ts0: u32,
    /// Index and 48 kHz time the current SSRC's first packet maps to.
    index_base: u64,
    ts_base: u64,
    /// Frames must carry increasing indices: an index is a nonce.
    next_index: u64,
    last_ts48: u64,
    enc8: Option<Encoder>,
    pcm8: Vec<i16>,
    // mesh -> phone
    out_ssrc: u32,
    out_seq0: u16,
    out_ts0: u32,
    /// The last frame's rebuilt 48 kHz time and capture stamp.
    out_prev: Option<(u64, u16)>,
    last_event_ts: Option<u64>,
    dec8: Option<Decoder>,
    pub stats: BridgeStats,
}

impl Bridge {
    /// `random`: 8 bytes for the SSRC and the initial sequence/timestamp.
    pub fn new(
        codec: Codec,
        te_pt: Option<u8>,
        dest: SocketAddr,
        random: [u8; 8],
    ) -> Result<Bridge, String> {
        let g711 = !matches!(codec, Codec::Opus { .. });
        let enc8 = if g711 {
            Some(
                Encoder::with_rate(
                    8000,
                    EncoderConfig {
                        bitrate: G711_OPUS_BITRATE,
                        dtx: false,
                        expected_loss_pct: 0,
                        ..EncoderConfig::default()
                    },
                )
                .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        let dec8 = if g711 {
            Some(Decoder::with_rate(8000).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let [a, b, c, d, e, f, g, h] = random;
        Ok(Bridge {
            codec,
            te_pt,
            dest,
            source: None,
            in_ssrc: None,
            in_seq: SeqExtender::default(),
            in_ts0: 0,
            index_base: 0,
            ts_base: 0,
            next_index: 0,
            last_ts48: 0,
            enc8,
            pcm8: Vec::with_capacity(2 * G711_FRAME),
            dec8,
            out_ssrc: u32::from_be_bytes([a, b, c, d]),
            out_seq0: u16::from_be_bytes([e, f]),
            out_ts0: u32::from_be_bytes([g, h, a, e]),
            out_prev: None,
            last_event_ts: None,
            stats: BridgeStats::default(),
        })
    }

    /// One RTP packet from the phone: the (index, plaintext) frames to
    /// seal and send (none, one, or for G.711 as many 20 ms as are whole).
    pub fn rtp_in(&mut self, from: SocketAddr, bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let Ok(p) = Rtp::parse(bytes) else {
            self.stats.dropped += 1;
            return Vec::new();
        };
        let event = Some(p.pt) == self.te_pt;
        if !event && p.pt != self.codec.pt() {
            self.stats.dropped += 1;
            return Vec::new();
        }
        // Only the phone's own stream: the first source heard with our
        // payload types is latched (a phone may send from another address
        // or port than its SDP gives), others are dropped.
        if *self.source.get_or_insert(from) != from {
            self.stats.dropped += 1;
            return Vec::new();
        }
        if self.in_ssrc != Some(p.ssrc) {
            // A new stream (or the first): continue the index and timeline.
            self.in_ssrc = Some(p.ssrc);
            self.in_seq = SeqExtender::default();
            self.in_ts0 = p.ts;
            self.index_base = self.next_index;
            self.ts_base = if self.next_index == 0 {
                0
            } else {
                self.last_ts48 + 960
            };
        }
        let Some(rel) = self.in_seq.extend(p.seq) else {
            self.stats.dropped += 1;
            return Vec::new();
        };
        let ticks =
            u64::from(p.ts.wrapping_sub(self.in_ts0)) * u64::from(48_000 / self.codec.clock());
        let ts48 = self.ts_base + ticks;
        if event {
            self.stats.dtmf_from_phone += 1;
            let index = self.claim_index(rel);
            let Some(index) = index else {
                return Vec::new();
            };
            let body = p.payload.get(..4).unwrap_or_default();
            return vec![(index, payload(true, ts48, body))];
        }
        self.stats.from_phone += 1;
        match (self.codec, self.enc8.as_mut()) {
            (Codec::Opus { .. }, _) => {
                let Some(index) = self.claim_index(rel) else {
                    return Vec::new();
                };
                self.last_ts48 = self.last_ts48.max(ts48);
                vec![(index, payload(false, ts48, p.payload))]
            }
            (codec, Some(_)) => {
                let dec: fn(u8) -> i16 = if codec == Codec::Pcma {
                    g711::alaw_decode
                } else {
                    g711::ulaw_decode
                };
                self.pcm8.extend(p.payload.iter().map(|&b| dec(b)));
                let mut out = Vec::new();
                while self.pcm8.len() >= G711_FRAME {
                    let chunk: Vec<i16> = self.pcm8.drain(..G711_FRAME).collect();
                    let Some(enc) = self.enc8.as_mut() else {
                        break;
                    };
                    match enc.encode(&chunk) {
                        Ok(opus) => {
                            let index = self.next_index;
                            self.next_index += 1;
                            let t = index * 960;
                            self.last_ts48 = t;
                            out.push((index, payload(false, t, &opus)));
                        }
                        Err(e) => tracing::debug!("G.711 transcode: {e}"),
                    }
                }
                // A phone sending odd-sized packets cannot grow this.
                self.pcm8.truncate(4 * G711_FRAME);
                out
            }
            (_, None) => Vec::new(),
        }
    }

    /// The index for a packet `rel` into the current stream, if it is
    /// newer than everything sent (Opus) or the next free one (events and
    /// transcoded audio share the counter).
    fn claim_index(&mut self, rel: u64) -> Option<u64> {
        let index = if self.enc8.is_some() {
            self.next_index
        } else {
            self.index_base + rel
        };
        if index < self.next_index {
            self.stats.dropped += 1;
            return None;
        }
        self.next_index = index + 1;
        Some(index)
    }

    /// One frame from the mesh: the RTP packet for the phone, if any.
    pub fn rtp_out(&mut self, index: u64, capture_ms: u16, p: &CallPayload<'_>) -> Option<Vec<u8>> {
        // Rebuild the 48 kHz time from its low bits and the capture clock.
        let ts48 = match self.out_prev {
            None => u64::from(p.rtp_ts),
            Some((prev, prev_cap)) => {
                let elapsed = i64::from(capture_ms.wrapping_sub(prev_cap) as i16) * TICKS_PER_MS;
                let guess = prev.saturating_add_signed(elapsed);
                extend_ts(guess, 0, p.rtp_ts)
            }
        };
        if self.out_prev.is_none_or(|(prev, _)| ts48 >= prev) {
            self.out_prev = Some((ts48, capture_ms));
        }
        let clock_div = u64::from(48_000 / self.codec.clock());
        let ts = self.out_ts0.wrapping_add((ts48 / clock_div) as u32);
        let seq = self.out_seq0.wrapping_add(index as u16);
        let first = index == 0;
        if p.event {
            let pt = self.te_pt?;
            let marker = self.last_event_ts != Some(ts48);
            self.last_event_ts = Some(ts48);
            self.stats.dtmf_to_phone += 1;
            return Some(self.rtp(marker, pt, seq, ts, p.body));
        }
        self.stats.to_phone += 1;
        match self.codec {
            Codec::Opus { pt } => Some(self.rtp(first, pt, seq, ts, p.body)),
            codec => {
                let dec = self.dec8.as_mut()?;
                let pcm = dec.decode(Some(p.body), false).ok()?;
                let enc: fn(i16) -> u8 = if codec == Codec::Pcma {
                    g711::alaw_encode
                } else {
                    g711::ulaw_encode
                };
                let body: Vec<u8> = pcm.iter().map(|&s| enc(s)).collect();
                Some(self.rtp(first, codec.pt(), seq, ts, &body))
            }
        }
    }

    fn rtp(&self, marker: bool, pt: u8, seq: u16, ts: u32, body: &[u8]) -> Vec<u8> {
        Rtp {
            marker,
            pt,
            seq,
            ts,
            ssrc: self.out_ssrc,
            payload: body,
        }
        .encode()
    }
}

fn payload(event: bool, ts48: u64, body: &[u8]) -> Vec<u8> {
    CallPayload {
        event,
        report: None,
        rtp_ts: ts48 as u16,
        body,
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, seq: u16, ts: u32, body: &[u8]) -> Vec<u8> {
        Rtp {
            marker: false,
            pt,
            seq,
            ts,
            ssrc: 99,
            payload: body,
        }
        .encode()
    }

    /// Opus across two bridges: sequence gaps, timestamps across a
    /// silence, and a DTMF event come out as they went in.
    #[test]
    fn opus_sequence_timing_and_dtmf_survive() {
        let phone: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut a = Bridge::new(Codec::Opus { pt: 96 }, Some(101), phone, [1; 8]).unwrap();
        let mut b = Bridge::new(Codec::Opus { pt: 111 }, Some(101), phone, [2; 8]).unwrap();
        // seq 1000, 1001, (1002 lost), 1003; then 3 s of silence; then DTMF.
        let sent = [
            (1000u16, 5000u32, 0u16),
            (1001, 5960, 20),
            (1003, 7880, 60),
            (1004, 7880 + 960 + 144_000, 3080),
        ];
        let mut out = Vec::new();
        for (seq, ts, cap) in sent {
            for (i, pl) in a.rtp_in(phone, &rtp(96, seq, ts, b"op")) {
                let p = CallPayload::decode(&pl).unwrap();
                out.push(
                    Rtp::parse(&b.rtp_out(i, cap, &p).unwrap())
                        .unwrap()
                        .encode(),
                );
            }
        }
        let dtmf = crate::phone::rtp::Dtmf {
            event: 5,
            end: false,
            volume: 10,
            duration: 160,
        }
        .encode();
        for (i, pl) in a.rtp_in(phone, &rtp(101, 1005, 7880 + 960 + 144_000 + 960, &dtmf)) {
            let p = CallPayload::decode(&pl).unwrap();
            out.push(b.rtp_out(i, 3100, &p).unwrap());
        }
        let got: Vec<Rtp> = out.iter().map(|x| Rtp::parse(x).unwrap()).collect();
        let s0 = got[0].seq;
        let t0 = got[0].ts;
        let rel: Vec<(u16, u32, u8)> = got
            .iter()
            .map(|r| (r.seq.wrapping_sub(s0), r.ts.wrapping_sub(t0), r.pt))
            .collect();
        assert_eq!(
            rel,
            vec![
                (0, 0, 111),
                (1, 960, 111),
                (3, 2880, 111),
                (4, 2880 + 960 + 144_000, 111),
                (5, 2880 + 960 + 144_000 + 960, 101),
            ]
        );
        assert!(got[4].marker, "an event's first packet is marked");
        assert_eq!(got[4].payload, dtmf);
        // A packet from before what was sent is not sent again.
        assert!(a.rtp_in(phone, &rtp(96, 1002, 6920, b"late")).is_empty());
        // Nor one of another payload type, or from another source.
        assert!(a.rtp_in(phone, &rtp(0, 1010, 9000, b"x")).is_empty());
        let other: SocketAddr = "127.0.0.1:4002".parse().unwrap();
        assert!(a.rtp_in(other, &rtp(96, 1011, 9960, b"x")).is_empty());
    }

    #[test]
    fn g711_is_transcoded_both_ways() {
        let phone: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut a = Bridge::new(Codec::Pcmu, None, phone, [3; 8]).unwrap();
        let mut b = Bridge::new(Codec::Pcma, None, phone, [4; 8]).unwrap();
        let mut heard = 0usize;
        for k in 0..50u16 {
            let pcm: Vec<u8> = (0..160)
                .map(|n| {
                    let t = f64::from(u32::from(k) * 160 + n) / 8000.0;
                    g711::ulaw_encode(
                        (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16,
                    )
                })
                .collect();
            for (i, pl) in a.rtp_in(phone, &rtp(0, k, u32::from(k) * 160, &pcm)) {
                let p = CallPayload::decode(&pl).unwrap();
                let out = b.rtp_out(i, k * 20, &p).unwrap();
                let r = Rtp::parse(&out).unwrap();
                assert_eq!(r.pt, 8);
                assert_eq!(r.payload.len(), 160);
                if k > 10 {
                    let e: f64 = r
                        .payload
                        .iter()
                        .map(|&x| f64::from(g711::alaw_decode(x)).powi(2))
                        .sum::<f64>()
                        / 160.0;
                    assert!(e.sqrt() > 2000.0, "the tone came through: rms {}", e.sqrt());
                }
                heard += 1;
            }
        }
        assert_eq!(heard, 50);
    }
}
