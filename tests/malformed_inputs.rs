//! Hostile input never panics a node (str0m's malformed-packet-injection
//! habit): arbitrary datagrams, truncated and bit-flipped real packets, and
//! every input that once made a decoder fail badly, kept here for good.
//!
//! The voice layers get the same treatment as the mesh: floor control
//! messages, SIP and SDP (through a pair of call agents in a real dialog),
//! voice frames and their media keys, and WAV files. These are the stable
//! twins of the cargo-fuzz targets in `fuzz/`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use callsign::floor::{FloorMsg, Priority};
use callsign::identity::{Identity, NodeId};
use callsign::node::{Config, IfaceId, Input, Node};
use callsign::session::sdp;
use callsign::session::sip::Msg;
use callsign::time::Instant;
use callsign::voice::{KeyShare, MediaKeys, VoiceFrame};
use callsign::wire::control::{self, Hello, Ihu, Request, RouteEntry, Update};
use callsign::wire::flow::FlowPacket;
use callsign::wire::{Header, PacketType, VERSION};
use proptest::prelude::*;

fn node() -> (Node, Instant) {
    let now = Instant::ZERO;
    let mut n = Node::new(Identity::from_secret(&[5; 32]), Config::default(), now, 3);
    n.handle(
        now,
        Input::IfaceUp {
            iface: IfaceId(0),
            cost_weight: 256,
        },
    );
    (n, now)
}

fn feed(n: &mut Node, now: Instant, from: SocketAddr, data: Vec<u8>) {
    n.handle(
        now,
        Input::Receive {
            iface: IfaceId(0),
            from,
            data,
        },
    );
    while n.poll_transmit(now).is_some() {}
    while n.poll_event().is_some() {}
}

fn from() -> SocketAddr {
    "[fe80::2]:7470".parse().expect("literal address")
}

/// Real packets of every type, to mutate.
fn samples() -> Vec<Vec<u8>> {
    let src = NodeId([2; 16]);
    let hello = Hello {
        interval_ms: 1000,
        ihu: Some(vec![Ihu {
            id: NodeId([7; 16]),
            rxcost: 256,
            mpr: true,
        }]),
        names: vec!["engine-3".into()],
        ..Hello::default()
    };
    let update = Update {
        entries: vec![RouteEntry {
            dest: NodeId([9; 16]),
            seqno: 4,
            metric: 256,
            hops: 1,
            base: true,
        }],
    };
    vec![
        Header::link(PacketType::Hello, 0, src, 1).to_packet(&control::encode(&hello)),
        Header::link(PacketType::Update, 0, src, 0).to_packet(&control::encode(&update)),
        Header::link(PacketType::Request, 0, src, 0).to_packet(&control::encode(&Request::Table)),
        Header::routed(PacketType::Data, 1, src, NodeId([1; 16]), 3).to_packet(&[0, 1, 2]),
        Header::routed(PacketType::Flood, 0, src, NodeId([1; 16]), 3).to_packet(b"x"),
        FlowPacket::Full {
            src,
            dst: NodeId([1; 16]),
            hop_limit: 32,
            ack_req: true,
            label: 9,
            seq: 1,
            payload: b"voice",
        }
        .encode(),
        FlowPacket::Frame {
            hop_limit: 32,
            ack_req: true,
            label: 9,
            seq: 2,
            payload: b"voice",
        }
        .encode(),
        FlowPacket::Miss { label: 9 }.encode(),
        FlowPacket::Ack {
            label: 9,
            seqs: vec![1, 2],
        }
        .encode(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_datagrams_never_panic(data in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20)) {
        let (mut n, mut now) = node();
        for d in data {
            now = Instant::from_micros(now.as_micros() + 10_000);
            feed(&mut n, now, from(), d);
        }
    }

    #[test]
    fn mutated_real_packets_never_panic(which in 0usize..9, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let (mut n, now) = node();
        // A real hello first, so later packets come from a known neighbour.
        feed(&mut n, now, from(), samples()[0].clone());
        let mut p = samples()[which].clone();
        for (i, v) in flips {
            let len = p.len();
            p[i % len] ^= v;
        }
        p.truncate(cut % (p.len() + 1));
        if let Some(b) = p.get_mut(0) {
            *b = VERSION;
        }
        feed(&mut n, now, from(), p);
    }

    #[test]
    fn arbitrary_flow_packets_from_a_neighbour_never_panic(ty in 7u8..11, body in proptest::collection::vec(any::<u8>(), 0..80)) {
        let (mut n, now) = node();
        feed(&mut n, now, from(), samples()[0].clone());
        // A real full frame first, so compressed frames find their label.
        feed(&mut n, now, from(), samples()[5].clone());
        let mut p = vec![VERSION, ty];
        p.extend_from_slice(&body);
        feed(&mut n, now, from(), p);
    }
}

#[test]
fn malformed_input_is_counted() {
    let (mut n, now) = node();
    feed(&mut n, now, from(), vec![VERSION, 1, 0]);
    feed(&mut n, now, from(), vec![0xFF; 64]);
    let mut bad_body = Header::link(PacketType::Hello, 0, NodeId([2; 16]), 1).to_packet(&[]);
    bad_body.extend_from_slice(&[0x9f, 0xff]);
    feed(&mut n, now, from(), bad_body);
    assert_eq!(n.stats().rx_malformed, 3);
    assert!(n.neighbours(now).is_empty());
}

// ---------------------------------------------------------------------------
// Mutating real messages: byte flips, interesting bytes, insertions,
// deletions and a final cut, so text formats (SIP, SDP) see more than
// broken UTF-8.

/// One edit: (kind, position, value).
type Edit = (u8, usize, u8);

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec((0u8..5, any::<usize>(), any::<u8>()), 1..8)
}

/// Bytes that separate or delimit fields in the formats under test.
const INTERESTING: &[u8] = b"\r\n:;=<>@ ,/\"0129\x00\xff\x80\xf6\x1b\x18\x19\x9f\x7f";

fn mutate(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for &(kind, at, v) in edits {
        let len = b.len();
        match kind {
            0 if len > 0 => b[at % len] ^= v.max(1),
            1 if len > 0 => b[at % len] = INTERESTING[usize::from(v) % INTERESTING.len()],
            2 => b.insert(
                at % (len + 1),
                INTERESTING[usize::from(v) % INTERESTING.len()],
            ),
            3 if len > 0 => {
                b.remove(at % len);
            }
            4 => b.truncate(at % (len + 1)),
            _ => {}
        }
    }
    b
}

// ---------------------------------------------------------------------------
// Floor control.

fn floor_samples() -> Vec<FloorMsg> {
    vec![
        FloorMsg::Request {
            prio: Priority::Emergency,
            name: "engine-12-officer".into(),
        },
        FloorMsg::Taken {
            burst: 0x4000_0007,
            prio: Priority::Command,
            name: "chief".into(),
        },
        FloorMsg::Deny {
            to: NodeId([3; 16]),
            burst: 9,
            prio: Priority::Normal,
            name: "x".repeat(callsign::floor::msg::MAX_NAME),
        },
        FloorMsg::Grant {
            to: NodeId([4; 16]),
        },
        FloorMsg::Release { burst: u32::MAX },
    ]
}

/// What decodes re-encodes to bytes that decode to the same message.
fn check_floor(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = FloorMsg::decode(bytes) {
        prop_assert_eq!(FloorMsg::decode(&m.encode()), Ok(m));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// SIP and SDP: two call agents, alice (caller) and bob (callee).

mod sip_pair {
    use super::*;
    use callsign::session::sip::Msg;
    use callsign::session::{CallConfig, CallEvent, Calls, MediaOffer, sdp};

    pub const A: NodeId = NodeId([1; 16]);
    pub const B: NodeId = NodeId([2; 16]);

    pub fn offer(label: u32) -> MediaOffer {
        MediaOffer {
            label,
            key: [label as u8; 32],
            key_sig: [7; 64],
            device_key: [9; 32],
            opus_pt: 111,
            bitrate: 24000,
        }
    }

    /// Called with the index of each message about to be delivered.
    pub type Mutator<'a> = &'a mut dyn FnMut(usize, &mut Vec<u8>);

    pub struct Pair {
        pub a: Calls,
        pub b: Calls,
        pub now: Instant,
        queue: VecDeque<(bool, Vec<u8>)>,
        delivered: usize,
        /// Every message delivered: (to bob, bytes).
        pub log: Vec<(bool, Vec<u8>)>,
    }

    impl Pair {
        pub fn new() -> Self {
            Pair {
                a: Calls::new(A, "alice".into(), CallConfig::default()),
                b: Calls::new(B, "bob".into(), CallConfig::default()),
                now: Instant::from_millis(1000),
                queue: VecDeque::new(),
                delivered: 0,
                log: Vec::new(),
            }
        }

        pub fn deliver(&mut self, to_b: bool, bytes: &[u8]) {
            let now = self.now;
            let _ = if to_b {
                self.b.handle(now, A, bytes)
            } else {
                self.a.handle(now, B, bytes)
            };
            // The decoders on their own, on exactly what the agents saw.
            if let Ok(m) = Msg::decode(bytes) {
                let _ = sdp::parse(&m.body);
            }
        }

        /// Deliver everything queued, answering incoming calls if `answer`.
        pub fn pump(&mut self, answer: bool, mutate: Mutator) {
            for _ in 0..200 {
                while let Some((_, m)) = self.a.poll_send() {
                    self.queue.push_back((true, m));
                }
                while let Some((_, m)) = self.b.poll_send() {
                    self.queue.push_back((false, m));
                }
                while self.a.poll_event().is_some() {}
                while let Some(e) = self.b.poll_event() {
                    if let CallEvent::Incoming { call, .. } = e
                        && answer
                    {
                        let _ = self.b.answer(self.now, call, offer(2));
                    }
                }
                let Some((to_b, mut m)) = self.queue.pop_front() else {
                    return;
                };
                mutate(self.delivered, &mut m);
                self.delivered += 1;
                self.now = Instant::from_micros(self.now.as_micros() + 5_000);
                self.deliver(to_b, &m);
                self.log.push((to_b, m));
            }
        }

        /// Run the clock for `dur` in 100 ms steps, firing timeouts.
        pub fn tick(&mut self, dur: Duration, mutate: Mutator) {
            let end = self.now + dur;
            while self.now < end {
                self.now = self.now + Duration::from_millis(100);
                let now = self.now;
                if self.a.poll_timeout().is_some_and(|t| t <= now) {
                    self.a.handle_timeout(now);
                }
                if self.b.poll_timeout().is_some_and(|t| t <= now) {
                    self.b.handle_timeout(now);
                }
                self.pump(false, mutate);
            }
        }
    }

    /// A call answered and hung up, then one cancelled while it rings, then
    /// 40 s of timers (retransmissions, linger). Returns the agents and the
    /// messages delivered.
    pub fn script(mutate: Mutator) -> Pair {
        let mut p = Pair::new();
        let now = p.now;
        if let Ok(c) = p.a.dial(now, "bob", &[B], offer(1)) {
            p.pump(true, mutate);
            let _ = p.a.hangup(p.now, c);
            p.pump(false, mutate);
        }
        if let Ok(c) = p.a.dial(p.now, "bob", &[B], offer(3)) {
            p.pump(false, mutate);
            let _ = p.a.hangup(p.now, c);
            p.pump(false, mutate);
        }
        p.tick(Duration::from_secs(40), mutate);
        p
    }
}

// ---------------------------------------------------------------------------
// Voice frames and media keys.

fn media_keys() -> (MediaKeys, MediaKeys) {
    let a = KeyShare::new([1; 32]);
    let b = KeyShare::new([2; 32]);
    let tx = MediaKeys::derive(&a, &b.public(), b"call-1", true).expect("contributory");
    let rx = MediaKeys::derive(&b, &a.public(), b"call-1", false).expect("contributory");
    (tx, rx)
}

// ---------------------------------------------------------------------------
// WAV (daemon feature).

#[cfg(feature = "daemon")]
fn wav_sample() -> Vec<u8> {
    use callsign::audio::wav::WavWriter;
    let mut w = WavWriter::new(std::io::Cursor::new(Vec::new())).expect("in memory");
    let s: Vec<i16> = (0..40).map(|i| (i * 811 - 16_000) as i16).collect();
    w.write(&s).expect("in memory");
    w.finish().expect("in memory").into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn floor_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_floor(&bytes)?;
    }

    #[test]
    fn floor_mutated_real_messages(which in 0usize..5, e in edits()) {
        let real = floor_samples()[which].encode();
        prop_assert_eq!(FloorMsg::decode(&real), Ok(floor_samples()[which].clone()));
        check_floor(&mutate(real, &e))?;
    }

    #[test]
    fn sdp_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = sdp::parse(&bytes);
    }

    #[test]
    fn sdp_arbitrary_lines(text in "([amvoc]=[a-z0-9:/ ;=-]{0,80}\r?\n){0,16}") {
        let _ = sdp::parse(text.as_bytes());
    }

    #[test]
    fn sdp_mutated_real_bodies(e in edits()) {
        let real = sdp::encode(&sip_pair::offer(5)).into_bytes();
        prop_assert_eq!(sdp::parse(&real), Ok(sip_pair::offer(5)));
        // What parses is an offer the encoder writes back the same.
        if let Ok(o) = sdp::parse(&mutate(real, &e)) {
            prop_assert_eq!(sdp::parse(sdp::encode(&o).as_bytes()), Ok(o));
        }
    }

    #[test]
    fn sip_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Msg::decode(&bytes);
    }

    #[test]
    fn sip_arbitrary_messages_to_agents_in_a_call(
        msgs in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                "(INVITE|ACK|BYE|CANCEL|SIP/2.0) [ -~]{0,40}\r\n([A-Za-z-]{1,12}: [ -~]{0,60}\r\n){0,10}\r\n[ -~]{0,40}"
                    .prop_map(String::into_bytes),
            ],
            1..12,
        )
    ) {
        let mut p = sip_pair::Pair::new();
        let now = p.now;
        let _ = p.a.dial(now, "bob", &[sip_pair::B], sip_pair::offer(1));
        p.pump(false, &mut |_, _| {});
        for (i, m) in msgs.iter().enumerate() {
            p.now = p.now + Duration::from_millis(7);
            p.deliver(i % 2 == 0, m);
            p.pump(false, &mut |_, _| {});
        }
        p.tick(Duration::from_secs(35), &mut |_, _| {});
    }

    #[test]
    fn sip_mutated_real_dialog(which in 0usize..SIP_SCRIPT_LEN, e in edits()) {
        let mut original = None;
        let mut mutated = None;
        let p = sip_pair::script(&mut |i, m| {
            if i == which {
                original = Some(m.clone());
                *m = mutate(std::mem::take(m), &e);
                mutated = Some(m.clone());
            }
        });
        prop_assert!(original.is_some(), "message {} of the script was delivered", which);
        // The mutated message decodes or is refused: it never panics, and
        // with the bytes unchanged it still decodes.
        let (Some(original), Some(mutated)) = (original, mutated) else { unreachable!() };
        let decoded = Msg::decode(&mutated);
        if mutated == original {
            prop_assert!(decoded.is_ok());
        }
        prop_assert!(p.log.len() <= 200 * 8);
    }

    #[test]
    fn voice_frame_arbitrary_bytes(label in any::<u32>(), index in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (_, rx) = media_keys();
        match VoiceFrame::decode(&bytes) {
            Ok(f) => {
                prop_assert_eq!(f.encode(), bytes.clone());
                prop_assert!(rx.open(label, index, &f.body).is_err());
            }
            Err(_) => prop_assert!(bytes.len() < 2),
        }
        prop_assert!(rx.open(label, index, &bytes).is_err());
    }

    #[test]
    fn voice_frame_mutated_real_frames(label in any::<u32>(), index in any::<u64>(), plain in proptest::collection::vec(any::<u8>(), 0..120), e in edits()) {
        let (tx, rx) = media_keys();
        let real = VoiceFrame { capture_ms: 0x1234, body: tx.seal(label, index, &plain) }.encode();
        let bad = mutate(real.clone(), &e);
        match VoiceFrame::decode(&bad) {
            Ok(f) => match rx.open(label, index, &f.body) {
                // Only the capture time is unauthenticated.
                Ok(p) => {
                    prop_assert_eq!(&bad[2..], &real[2..]);
                    prop_assert_eq!(p, plain);
                }
                Err(_) => prop_assert!(bad.get(2..) != real.get(2..)),
            },
            Err(_) => prop_assert!(bad.len() < 2),
        }
    }
}

#[cfg(feature = "daemon")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn wav_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        // At most one sample per input byte (8-bit mono), raised at most
        // 16-fold by the rate conversion (1 kHz is the lowest rate read).
        if let Ok(s) = callsign::audio::wav::parse(&bytes) {
            prop_assert!(s.len() <= 16 * bytes.len() + 16);
        }
    }

    #[test]
    fn wav_mutated_real_files(e in edits()) {
        let real = wav_sample();
        prop_assert_eq!(callsign::audio::wav::parse(&real).map(|s| s.len()).ok(), Some(40));
        let bad = mutate(real, &e);
        if let Ok(s) = callsign::audio::wav::parse(&bad) {
            prop_assert!(s.len() <= 16 * bad.len() + 16);
        }
    }
}

/// Messages the scripted dialog delivers: INVITE, 180, 200, ACK, BYE, 200
/// of the answered call; INVITE, 180, CANCEL, 200, 487, ACK of the
/// cancelled one.
const SIP_SCRIPT_LEN: usize = 12;

#[test]
fn sip_script_is_the_dialog_it_claims() {
    let p = sip_pair::script(&mut |_, _| {});
    let starts: Vec<String> = p
        .log
        .iter()
        .map(|(_, m)| {
            String::from_utf8_lossy(m)
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(p.log.len(), SIP_SCRIPT_LEN, "{starts:?}");
    assert!(starts[0].starts_with("INVITE"), "{starts:?}");
    assert!(starts.iter().any(|s| s.starts_with("BYE")), "{starts:?}");
    assert!(starts.iter().any(|s| s.starts_with("CANCEL")), "{starts:?}");
    for (_, m) in &p.log {
        assert!(Msg::decode(m).is_ok());
    }
}
