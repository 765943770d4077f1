//! A sans-IO world of several call agents exchanging SIP bytes with a
//! seeded loss and delay; the clock jumps to the next message or timeout.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::rng::Rng;

fn node(i: u8) -> NodeId {
    NodeId([i; 16])
}

fn offer(label: u32) -> MediaOffer {
    MediaOffer {
        label,
        key: [label as u8; 32],
        key_sig: [7; 64],
        device_key: [9; 32],
        opus_pt: 111,
        bitrate: 24000,
    }
}

struct World {
    now: Instant,
    agents: Vec<Calls>,
    events: Vec<Vec<CallEvent>>,
    /// (delivery time, sequence) -> (from, to, bytes).
    wire: BTreeMap<(Instant, u64), (usize, usize, Vec<u8>)>,
    seq: u64,
    rng: Rng,
    loss: f64,
    delay: Duration,
    /// Messages that never arrive, by destination.
    dead: Vec<usize>,
    /// Drop the next n messages whose text starts with this.
    drop_next: Option<(&'static str, usize)>,
    sent: Vec<(usize, usize, String)>,
}

impl World {
    fn new(names: &[&str], seed: u64) -> Self {
        let agents = names
            .iter()
            .enumerate()
            .map(|(i, n)| Calls::new(node(i as u8 + 1), n.to_string(), CallConfig::default()))
            .collect();
        World {
            now: Instant::from_millis(1000),
            agents,
            events: vec![Vec::new(); names.len()],
            wire: BTreeMap::new(),
            seq: 0,
            rng: Rng::new(seed),
            loss: 0.0,
            delay: ms(20),
            dead: Vec::new(),
            drop_next: None,
            sent: Vec::new(),
        }
    }

    fn idx(&self, n: NodeId) -> usize {
        (n.0[0] - 1) as usize
    }

    fn pump(&mut self) {
        for i in 0..self.agents.len() {
            while let Some((to, bytes)) = self.agents[i].poll_send() {
                let j = self.idx(to);
                let text = String::from_utf8_lossy(&bytes).to_string();
                self.sent.push((i, j, text.clone()));
                if let Some((prefix, n)) = self.drop_next
                    && n > 0
                    && text.starts_with(prefix)
                {
                    self.drop_next = Some((prefix, n - 1));
                    continue;
                }
                if self.dead.contains(&j) {
                    let now = self.now;
                    self.agents[i].undeliverable(now, to);
                    continue;
                }
                if self.rng.chance(self.loss) {
                    continue;
                }
                let d = self.rng.jitter(self.delay, 0.5);
                self.seq += 1;
                self.wire.insert((self.now + d, self.seq), (i, j, bytes));
            }
            while let Some(e) = self.agents[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Run until `until`, delivering messages and firing timeouts.
    fn run(&mut self, dur: Duration) {
        let until = self.now + dur;
        for _ in 0..100_000 {
            self.pump();
            let next_msg = self.wire.keys().next().map(|k| k.0);
            let next_to = self.agents.iter().filter_map(|a| a.poll_timeout()).min();
            let next = [next_msg, next_to].into_iter().flatten().min();
            let Some(t) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            self.now = self.now.max(t);
            let now = self.now;
            if next_msg == Some(t) {
                let (k, (from, to, bytes)) = self.wire.pop_first().expect("message");
                let _ = k;
                let from_id = node(from as u8 + 1);
                let _ = self.agents[to].handle(now, from_id, &bytes);
            } else {
                for a in self.agents.iter_mut() {
                    if a.poll_timeout().is_some_and(|x| x <= now) {
                        a.handle_timeout(now);
                    }
                }
            }
        }
        panic!("livelock");
    }

    fn incoming(&self, i: usize) -> Option<CallId> {
        self.events[i].iter().find_map(|e| match e {
            CallEvent::Incoming { call, .. } => Some(*call),
            _ => None,
        })
    }

    fn has(&self, i: usize, f: impl Fn(&CallEvent) -> bool) -> bool {
        self.events[i].iter().any(f)
    }

    fn count_sent(&self, from: usize, prefix: &str) -> usize {
        self.sent
            .iter()
            .filter(|(f, _, t)| *f == from && t.starts_with(prefix))
            .count()
    }
}

#[test]
fn basic_call_and_bye() {
    let mut w = World::new(&["alice", "bob"], 1);
    let now = w.now;
    let cid = w.agents[0].next_sip_call_id();
    let call = w.agents[0].dial(now, "bob", &[node(2)], offer(11)).unwrap();
    assert_eq!(w.agents[0].call(call).unwrap().sip_call_id, cid);
    w.run(ms(200));
    let inc = w.incoming(1).expect("bob rings");
    match &w.events[1][0] {
        CallEvent::Incoming {
            from_name,
            from_node,
            offer: o,
            ..
        } => {
            assert_eq!(from_name, "alice");
            assert_eq!(*from_node, node(1));
            assert_eq!(*o, offer(11));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(w.agents[1].call(inc).unwrap().sip_call_id, cid);
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Ringing { by, .. } if *by == node(2))
    ));
    let now = w.now;
    w.agents[1].answer(now, inc, offer(22)).unwrap();
    w.run(ms(200));
    assert!(
        w.has(0, |e| matches!(e, CallEvent::Answered { by, answer, .. }
        if *by == node(2) && *answer == offer(22)))
    );
    assert_eq!(w.agents[0].call(call).unwrap().state, CallState::Active);
    assert_eq!(w.agents[1].call(inc).unwrap().state, CallState::Active);
    let now = w.now;
    w.agents[0].hangup(now, call).unwrap();
    w.run(ms(200));
    assert!(w.has(
        1,
        |e| matches!(e, CallEvent::Ended { reason, .. } if reason == "remote hangup")
    ));
    assert_eq!(w.agents[1].call(inc).unwrap().state, CallState::Ended);
    // The BYE got its 200: nothing is repeated after.
    let byes = w.count_sent(0, "BYE");
    w.run(ms(10_000));
    assert_eq!(w.count_sent(0, "BYE"), byes);
    // Ended calls are forgotten after the linger time.
    w.run(ms(40_000));
    assert!(w.agents[0].calls().is_empty());
    assert!(w.agents[1].calls().is_empty());
    assert_eq!(w.agents[0].poll_timeout(), None);
}

#[test]
fn forked_call_first_answer_wins_other_stops_ringing() {
    let mut w = World::new(&["alice", "engine-3", "engine-3"], 2);
    let now = w.now;
    let call = w.agents[0]
        .dial(now, "engine-3", &[node(2), node(3)], offer(1))
        .unwrap();
    w.run(ms(200));
    let a = w.incoming(1).expect("holder 1 rings");
    let b = w.incoming(2).expect("holder 2 rings");
    let ringing = w.events[0]
        .iter()
        .filter(|e| matches!(e, CallEvent::Ringing { .. }))
        .count();
    assert_eq!(ringing, 2);
    let now = w.now;
    w.agents[2].answer(now, b, offer(3)).unwrap();
    w.run(ms(500));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Answered { by, .. } if *by == node(3))
    ));
    assert!(w.has(
        1,
        |e| matches!(e, CallEvent::Ended { reason, .. } if reason == "answered elsewhere")
    ));
    assert_eq!(w.agents[1].call(a).unwrap().state, CallState::Ended);
    assert_eq!(w.agents[2].call(b).unwrap().state, CallState::Active);
    assert_eq!(w.agents[0].call(call).unwrap().peer_node, Some(node(3)));
    // The loser answered the CANCEL with 200 and the INVITE with 487.
    assert!(w.count_sent(1, "SIP/2.0 487") >= 1);
    assert!(w.count_sent(1, "SIP/2.0 200") >= 1);
    // Answering the stopped call is refused.
    let now = w.now;
    assert_eq!(
        w.agents[1].answer(now, a, offer(2)),
        Err(SessionError::WrongState)
    );
}

#[test]
fn second_answer_after_winner_gets_ack_and_bye() {
    let mut w = World::new(&["alice", "medic", "medic"], 3);
    w.delay = ms(100);
    let now = w.now;
    let call = w.agents[0]
        .dial(now, "medic", &[node(2), node(3)], offer(1))
        .unwrap();
    w.run(ms(400));
    let a = w.incoming(1).unwrap();
    let b = w.incoming(2).unwrap();
    // Both answer before either 200 reaches the caller.
    let now = w.now;
    w.agents[1].answer(now, a, offer(2)).unwrap();
    w.agents[2].answer(now + ms(1), b, offer(3)).unwrap();
    w.run(ms(1000));
    let answered: Vec<_> = w.events[0]
        .iter()
        .filter(|e| matches!(e, CallEvent::Answered { .. }))
        .collect();
    assert_eq!(answered.len(), 1);
    let winner = w.agents[0].call(call).unwrap().peer_node.unwrap();
    let (won, lost, lost_call) = if winner == node(2) {
        (1, 2, b)
    } else {
        (2, 1, a)
    };
    let _ = won;
    assert!(w.count_sent(0, "BYE") >= 1);
    assert_eq!(
        w.agents[lost].call(lost_call).unwrap().state,
        CallState::Ended
    );
    assert!(w.has(lost, |e| matches!(e, CallEvent::Ended { .. })));
}

#[test]
fn busy_486() {
    let mut w = World::new(&["alice", "bob", "carol"], 4);
    let now = w.now;
    let c1 = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(200));
    let inc = w.incoming(1).unwrap();
    let now = w.now;
    w.agents[1].answer(now, inc, offer(2)).unwrap();
    w.run(ms(200));
    let now = w.now;
    let c3 = w.agents[2].dial(now, "bob", &[node(2)], offer(3)).unwrap();
    w.run(ms(200));
    assert!(w.has(
        2,
        |e| matches!(e, CallEvent::Failed { call, code: 486, .. } if *call == c3)
    ));
    assert_eq!(w.agents[0].call(c1).unwrap().state, CallState::Active);
    assert_eq!(w.agents[2].call(c3).unwrap().state, CallState::Ended);
}

#[test]
fn unknown_name_404_remote_and_local() {
    let mut w = World::new(&["alice", "bob"], 5);
    let now = w.now;
    let c = w.agents[0]
        .dial(now, "chief", &[node(2)], offer(1))
        .unwrap();
    w.run(ms(200));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Failed { call, code: 404, .. } if *call == c)
    ));
    assert!(w.incoming(1).is_none());
    let now = w.now;
    let c = w.agents[0].dial(now, "nobody", &[], offer(1)).unwrap();
    w.pump();
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Failed { call, code: 404, .. } if *call == c)
    ));
    assert!(
        w.agents[0]
            .dial(now, "Bad Name", &[node(2)], offer(1))
            .is_err()
    );
}

#[test]
fn unreachable_480() {
    let mut w = World::new(&["alice", "bob", "bob"], 6);
    w.dead = vec![1, 2];
    let now = w.now;
    let c = w.agents[0]
        .dial(now, "bob", &[node(2), node(3)], offer(1))
        .unwrap();
    w.run(ms(100));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Failed { call, code: 480, .. } if *call == c)
    ));
}

#[test]
fn silent_holder_times_out_480() {
    let mut w = World::new(&["alice", "bob"], 7);
    w.loss = 1.0;
    let now = w.now;
    let c = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(7000));
    assert!(!w.has(0, |e| matches!(e, CallEvent::Failed { .. })));
    // Timer A: 0, 0.5, 1.5, 3.5, 7.5 s: bounded repetition.
    assert_eq!(w.count_sent(0, "INVITE"), 4);
    w.run(ms(2000));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Failed { call, code: 480, .. } if *call == c)
    ));
    assert!(w.count_sent(0, "INVITE") <= 5);
}

#[test]
fn lost_invite_is_retransmitted() {
    let mut w = World::new(&["alice", "bob"], 8);
    w.drop_next = Some(("INVITE", 2));
    let now = w.now;
    w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(1000));
    assert!(w.incoming(1).is_none());
    w.run(ms(1000));
    assert!(w.incoming(1).is_some(), "third INVITE (1.5 s) arrives");
    assert_eq!(w.count_sent(0, "INVITE"), 3);
    // After the 180, no more INVITEs.
    w.run(ms(10_000));
    assert_eq!(w.count_sent(0, "INVITE"), 3);
}

#[test]
fn cancel_before_answer() {
    let mut w = World::new(&["alice", "bob"], 9);
    let now = w.now;
    let c = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(200));
    let inc = w.incoming(1).unwrap();
    let now = w.now;
    w.agents[0].hangup(now, c).unwrap();
    w.run(ms(500));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Ended { reason, .. } if reason == "cancelled")
    ));
    assert!(w.has(
        1,
        |e| matches!(e, CallEvent::Ended { reason, .. } if reason == "cancelled")
    ));
    assert_eq!(w.agents[1].call(inc).unwrap().state, CallState::Ended);
    assert_eq!(w.count_sent(0, "CANCEL"), 1);
    // The 487 was ACKed: the callee stops repeating it.
    let n487 = w.count_sent(1, "SIP/2.0 487");
    w.run(ms(10_000));
    assert_eq!(w.count_sent(1, "SIP/2.0 487"), n487);
}

#[test]
fn callee_declines_603() {
    let mut w = World::new(&["alice", "bob"], 10);
    let now = w.now;
    let c = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(200));
    let inc = w.incoming(1).unwrap();
    let now = w.now;
    w.agents[1].hangup(now, inc).unwrap();
    w.run(ms(500));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Failed { call, code: 603, .. } if *call == c)
    ));
}

#[test]
fn calls_survive_lossy_signalling() {
    // 30 % loss each way: retransmission still sets up and tears down.
    for seed in 0..20 {
        let mut w = World::new(&["alice", "bob"], 100 + seed);
        w.loss = 0.3;
        let now = w.now;
        let c = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
        w.run(ms(6000));
        let Some(inc) = w.incoming(1) else {
            // All INVITEs lost is possible (0.3^4): then it must fail cleanly.
            w.run(ms(5000));
            assert!(w.has(0, |e| matches!(e, CallEvent::Failed { code: 480, .. })));
            continue;
        };
        let now = w.now;
        w.agents[1].answer(now, inc, offer(2)).unwrap();
        w.run(ms(20_000));
        assert!(
            w.has(0, |e| matches!(e, CallEvent::Answered { .. })),
            "seed {seed}"
        );
        assert_eq!(
            w.agents[1].call(inc).unwrap().state,
            CallState::Active,
            "seed {seed}"
        );
        let now = w.now;
        w.agents[1].hangup(now, inc).unwrap();
        w.run(ms(20_000));
        assert_eq!(
            w.agents[0].call(c).unwrap().state,
            CallState::Ended,
            "seed {seed}"
        );
    }
}

#[test]
fn unanswered_call_gives_up_after_ring_timeout() {
    let mut w = World::new(&["alice", "bob"], 11);
    let now = w.now;
    let c = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(29_000));
    assert!(!w.has(0, |e| matches!(e, CallEvent::Failed { .. })));
    w.run(ms(2_000));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Failed { call, code: 480, .. } if *call == c)
    ));
    assert_eq!(w.count_sent(0, "CANCEL"), 1);
    assert!(w.has(
        1,
        |e| matches!(e, CallEvent::Ended { reason, .. } if reason == "cancelled")
    ));
}

#[test]
fn callee_stops_ringing_when_the_caller_vanished() {
    let mut w = World::new(&["alice", "bob"], 12);
    let now = w.now;
    w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(200));
    let inc = w.incoming(1).unwrap();
    // From now on nothing reaches the caller, nor comes from it.
    w.loss = 1.0;
    w.run(ms(40_000));
    assert!(w.has(
        1,
        |e| matches!(e, CallEvent::Ended { call, .. } if *call == inc)
    ));
    assert_eq!(w.agents[1].call(inc).unwrap().state, CallState::Ended);
}

#[test]
fn long_call_outlives_the_ring_timeout_and_callee_hangs_up() {
    let mut w = World::new(&["alice", "bob"], 13);
    let now = w.now;
    let c = w.agents[0].dial(now, "bob", &[node(2)], offer(1)).unwrap();
    w.run(ms(200));
    let inc = w.incoming(1).unwrap();
    let now = w.now;
    w.agents[1].answer(now, inc, offer(2)).unwrap();
    w.run(ms(120_000));
    assert_eq!(w.agents[0].call(c).unwrap().state, CallState::Active);
    assert_eq!(w.agents[1].call(inc).unwrap().state, CallState::Active);
    assert_eq!(w.events[0].len(), 2, "{:?}", w.events[0]);
    // Nothing is repeated while the call is up.
    assert_eq!(w.agents[0].poll_timeout(), None);
    assert_eq!(w.agents[1].poll_timeout(), None);
    let now = w.now;
    w.agents[1].hangup(now, inc).unwrap();
    w.run(ms(500));
    assert!(w.has(
        0,
        |e| matches!(e, CallEvent::Ended { reason, .. } if reason == "remote hangup")
    ));
    assert_eq!(
        w.agents[0].call(c).unwrap().end_reason.as_deref(),
        Some("remote hangup")
    );
    assert_eq!(w.agents[0].hangup(w.now, c), Err(SessionError::WrongState));
}

#[test]
fn longest_names_fit_one_control_packet() {
    let long = "a".repeat(crate::wire::name::MAX_NAME_LEN);
    let mut w = World::new(&[&long, &long], 14);
    let now = w.now;
    w.agents[0].dial(now, &long, &[node(2)], offer(1)).unwrap();
    w.run(ms(200));
    let inc = w.incoming(1).unwrap();
    let now = w.now;
    w.agents[1].answer(now, inc, offer(2)).unwrap();
    w.run(ms(200));
    assert!(w.has(0, |e| matches!(e, CallEvent::Answered { .. })));
    let longest = w.sent.iter().map(|(_, _, t)| t.len()).max().unwrap();
    assert!(longest <= crate::node::MAX_PAYLOAD, "{longest}");
}

#[test]
fn sdp_round_trip_and_errors() {
    let o = offer(0xdead_beef);
    let text = sdp::encode(&o);
    assert!(text.contains("m=audio 9 RTP/AVP 111"));
    assert!(text.contains("a=fmtp:111 useinbandfec=1;maxaveragebitrate=24000;stereo=0"));
    assert_eq!(sdp::parse(text.as_bytes()), Ok(o.clone()));
    for (from, to) in [
        ("a=callsign-flow:3735928559\r\n", ""),
        ("a=callsign-flow:3735928559", "a=callsign-flow:x"),
        ("rtpmap:111 opus", "rtpmap:111 pcmu"),
        ("maxaveragebitrate=24000", "maxaveragebitrate=1"),
        ("RTP/AVP 111", "RTP/AVP 0"),
    ] {
        let bad = text.replace(from, to);
        assert!(sdp::parse(bad.as_bytes()).is_err(), "{from} -> {to}");
    }
    let cut = &text.as_bytes()[..text.len() - 10];
    assert!(sdp::parse(cut).is_err());
}

#[test]
fn sip_message_round_trip() {
    let m = sip::Msg {
        start: sip::Start::Request {
            method: sip::Method::Invite,
            user: "engine-3".into(),
        },
        call_id: "0.1@abc".into(),
        cseq: 1,
        cseq_method: sip::Method::Invite,
        branch: "z9hG4bK0t1.1".into(),
        via_host: sip::Msg::node_host(node(1)),
        from_name: "alice".into(),
        from_tag: "0t1".into(),
        to_name: "engine-3".into(),
        to_tag: None,
        reason: Some(sip::REASON_ELSEWHERE.into()),
        body: sdp::encode(&offer(5)).into_bytes(),
    };
    let bytes = m.encode(Some(("alice", node(1))));
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with("INVITE sip:engine-3@mesh SIP/2.0\r\n"),
        "{text}"
    );
    assert!(text.contains("Content-Type: application/sdp"));
    assert_eq!(sip::Msg::decode(&bytes), Ok(m.clone()));
    let r = m.response(180, "rt", Vec::new());
    assert_eq!(sip::Msg::decode(&r.encode(None)), Ok(r));
    // Messages fit a control packet.
    assert!(bytes.len() < crate::node::MAX_PAYLOAD, "{}", bytes.len());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut c = Calls::new(node(1), "alice".into(), CallConfig::default());
        let _ = c.handle(Instant::from_millis(1), node(2), &bytes);
        let _ = sdp::parse(&bytes);
    }

    #[test]
    fn mangled_messages_never_panic(cut in 0usize..900, flip in 0usize..900, b in any::<u8>()) {
        let m = sip::Msg {
            start: sip::Start::Request { method: sip::Method::Invite, user: "alice".into() },
            call_id: "0.1@x".into(), cseq: 1, cseq_method: sip::Method::Invite,
            branch: "z9hG4bKx".into(), via_host: "x.mesh".into(),
            from_name: "bob".into(), from_tag: "t".into(), to_name: "alice".into(),
            to_tag: None, reason: None, body: sdp::encode(&offer(1)).into_bytes(),
        };
        let mut bytes = m.encode(None);
        if let Some(x) = bytes.get_mut(flip) { *x = b; }
        bytes.truncate(cut.max(1));
        let mut c = Calls::new(node(1), "alice".into(), CallConfig::default());
        let _ = c.handle(Instant::from_millis(1), node(2), &bytes);
        c.handle_timeout(Instant::from_millis(600));
    }
}

proptest! {
    // rsip parses headers on demand: feed each header a hostile value.
    #[test]
    fn hostile_header_values_never_panic(
        which in 0usize..9,
        value in "[ -~\u{80}-\u{10ff}]{0,80}",
    ) {
        let lines = [
            "INVITE sip:alice@mesh SIP/2.0",
            "Via: SIP/2.0/UDP x.mesh;branch=z9hG4bKx",
            "Max-Forwards: 70",
            "From: <sip:bob@mesh>;tag=t",
            "To: <sip:alice@mesh>",
            "Call-ID: 0.1@x",
            "CSeq: 1 INVITE",
            "Content-Type: application/sdp",
            "Reason: SIP;cause=200",
        ];
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            if i == which {
                let (name, _) = l.split_once(' ').unwrap_or((l, ""));
                if i == 0 {
                    text.push_str(&value);
                } else {
                    text.push_str(name);
                    text.push(' ');
                    text.push_str(&value);
                }
            } else {
                text.push_str(l);
            }
            text.push_str("\r\n");
        }
        let body = sdp::encode(&offer(1));
        text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let mut c = Calls::new(node(1), "alice".into(), CallConfig::default());
        let _ = c.handle(Instant::from_millis(1), node(2), text.as_bytes());
        c.handle_timeout(Instant::from_millis(600));
    }
}

proptest! {
    #[test]
    fn sdp_round_trips(
        label in any::<u32>(),
        key in any::<[u8; 32]>(),
        sig in proptest::collection::vec(any::<u8>(), 64),
        pt in 96u8..=127,
        bitrate in 6000u32..=510_000,
    ) {
        let mut key_sig = [0u8; 64];
        key_sig.copy_from_slice(&sig);
        let o = MediaOffer { label, key, key_sig, device_key: key, opus_pt: pt, bitrate };
        prop_assert_eq!(sdp::parse(sdp::encode(&o).as_bytes()), Ok(o));
    }

    #[test]
    fn sip_messages_round_trip(
        request in any::<bool>(),
        method in 0usize..4,
        code in 100u16..700,
        from_name in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        to_name in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        call_id in "[0-9a-f]{1,16}\\.[0-9a-f]{1,16}@[0-9a-f]{32}",
        tag in "[0-9a-z]{1,20}",
        to_tag in proptest::option::of("[0-9a-z]{1,20}"),
        cseq in 1u32..1_000_000,
        elsewhere in any::<bool>(),
        with_body in any::<bool>(),
    ) {
        let m = [sip::Method::Invite, sip::Method::Ack, sip::Method::Bye, sip::Method::Cancel][method];
        let msg = sip::Msg {
            start: if request {
                sip::Start::Request { method: m, user: to_name.clone() }
            } else {
                sip::Start::Response { code }
            },
            call_id,
            cseq,
            cseq_method: m,
            branch: format!("z9hG4bK{tag}.1"),
            via_host: sip::Msg::node_host(node(3)),
            from_name,
            from_tag: tag,
            to_name,
            to_tag,
            reason: elsewhere.then(|| sip::REASON_ELSEWHERE.to_string()),
            body: if with_body { sdp::encode(&offer(4)).into_bytes() } else { Vec::new() },
        };
        prop_assert_eq!(sip::Msg::decode(&msg.encode(Some(("x", node(3))))), Ok(msg));
    }
}

#[test]
fn dotted_role_names_survive_the_sip_between_daemons() {
    use super::sip::{Method, Msg, Start};
    let m = Msg {
        start: Start::Request {
            method: Method::Invite,
            user: "medic-12.ems".into(),
        },
        call_id: "x@y".into(),
        cseq: 1,
        cseq_method: Method::Invite,
        branch: "z9hG4bKa".into(),
        via_host: "n1.mesh".into(),
        from_name: "captain.engine-3".into(),
        from_tag: "t".into(),
        to_name: "medic-12.ems".into(),
        to_tag: None,
        reason: None,
        body: Vec::new(),
    };
    let back = Msg::decode(&m.encode(None)).unwrap();
    assert_eq!(back.from_name, "captain.engine-3");
    assert_eq!(back.to_name, "medic-12.ems");
    assert_eq!(
        back.start,
        Start::Request {
            method: Method::Invite,
            user: "medic-12.ems".into()
        }
    );
}
