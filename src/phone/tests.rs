//! The front against a scripted phone: text in, text out, time stepped.

use std::net::SocketAddr;

use super::*;
use crate::time::{Instant, ms};

const PHONE: &str = "127.0.0.1:5070";
const LOCAL: &str = "127.0.0.1:5060";

fn peer() -> Peer {
    Peer::udp(PHONE.parse().unwrap())
}
fn local() -> SocketAddr {
    LOCAL.parse().unwrap()
}

struct T {
    f: Front,
    now: Instant,
}

impl T {
    fn new() -> T {
        T::with(FrontConfig::default())
    }
    fn with(cfg: FrontConfig) -> T {
        T {
            f: Front::new(cfg, 7),
            now: Instant::ZERO + ms(1000),
        }
    }
    fn send(&mut self, text: &str) {
        let now = self.now;
        self.f.handle(now, peer(), local(), text.as_bytes());
    }
    fn out(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.f.poll_transmit())
            .map(|t| String::from_utf8(t.bytes).unwrap())
            .collect()
    }
    fn events(&mut self) -> Vec<FrontEvent> {
        std::iter::from_fn(|| self.f.poll_event()).collect()
    }
    fn advance(&mut self, d: u64) {
        self.now = self.now + ms(d);
        let now = self.now;
        self.f.handle_timeout(now);
    }
    /// Register `role` and let the driver agree.
    fn register(&mut self, role: &str) {
        self.send(&register(role, "b1", 60, None));
        let ev = self.events();
        let FrontEvent::Claim { txn, .. } = ev[0] else {
            panic!("{ev:?}")
        };
        let now = self.now;
        self.f.complete(now, txn, Ok(()));
        let out = self.out();
        assert!(out[0].starts_with("SIP/2.0 200"), "{out:?}");
    }
}

fn register(role: &str, branch: &str, expires: u32, auth: Option<&str>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:mesh SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nTo: <sip:{role}@mesh>\r\nFrom: <sip:{role}@mesh>;tag=ft\r\n\
         Call-ID: reg-{role}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{role}@{PHONE}>\r\n\
         Expires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 17792 RTP/AVP 96 0 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n";

fn invite(from: &str, to: &str, branch: &str) -> String {
    format!(
        "INVITE sip:{to}@mesh SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nTo: <sip:{to}@mesh>\r\nFrom: <sip:{from}@mesh>;tag=pt\r\n\
         Call-ID: call-1\r\nCSeq: 5 INVITE\r\nContact: <sip:{from}@{PHONE}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

fn in_dialog(method: &str, branch: &str, cseq: u32) -> String {
    format!(
        "{method} sip:callsign@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nTo: <sip:medic-12@mesh>;tag=x\r\nFrom: <sip:engine-3@mesh>;tag=pt\r\n\
         Call-ID: call-1\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn register_claims_the_role_and_expiry_releases_it() {
    let mut t = T::new();
    t.register("engine-3");
    assert!(t.f.has_phone("engine-3"));
    // A refresh is answered at once, without a second claim.
    t.send(&register("engine-3", "b2", 60, None));
    assert!(t.events().is_empty());
    assert!(t.out()[0].contains("expires=60"));
    // The retransmission of that REGISTER gets the same answer again.
    t.send(&register("engine-3", "b2", 60, None));
    assert_eq!(t.out().len(), 1);
    t.advance(61_000);
    assert_eq!(
        t.events(),
        vec![FrontEvent::Released {
            role: "engine-3".into()
        }]
    );
    assert!(!t.f.has_phone("engine-3"));
}

#[test]
fn the_directory_can_refuse_a_role() {
    let mut t = T::new();
    t.send(&register("command", "b1", 60, None));
    let FrontEvent::Claim { txn, .. } = t.events()[0] else {
        panic!()
    };
    let now = t.now;
    t.f.complete(now, txn, Err((403, "held by n3".into())));
    let out = t.out();
    assert!(out[0].starts_with("SIP/2.0 403"), "{out:?}");
    assert!(out[0].contains("held by n3"));
    assert!(!t.f.has_phone("command"));
}

#[test]
fn digest_auth_challenges_then_accepts() {
    let mut cfg = FrontConfig::default();
    cfg.passwords.insert("medic-12".into(), "pw".into());
    let mut t = T::with(cfg);
    t.send(&register("medic-12", "a1", 60, None));
    let out = t.out();
    assert!(out[0].starts_with("SIP/2.0 401"), "{out:?}");
    let nonce = out[0]
        .split("nonce=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let ha1 = registrar::md5_hex("medic-12:callsign:pw");
    let ha2 = registrar::md5_hex("REGISTER:sip:mesh");
    let resp = registrar::md5_hex(&format!("{ha1}:{nonce}:00000001:c0:auth:{ha2}"));
    let auth = format!(
        "Digest username=\"medic-12\",realm=\"callsign\",nonce=\"{nonce}\",uri=\"sip:mesh\",response=\"{resp}\",qop=auth,nc=00000001,cnonce=\"c0\""
    );
    t.send(&register("medic-12", "a2", 60, Some(&auth)));
    assert!(matches!(t.events()[0], FrontEvent::Claim { .. }));
    // A wrong password is challenged again; a role without one is refused.
    let bad = auth.replace(&resp, "00000000000000000000000000000000");
    t.send(&register("medic-12", "a3", 60, Some(&bad)));
    assert!(t.out()[0].starts_with("SIP/2.0 401"));
    t.send(&register("engine-3", "a4", 60, None));
    assert!(t.out()[0].starts_with("SIP/2.0 403"));
}

#[test]
fn a_phone_call_rings_answers_and_hangs_up() {
    let mut t = T::new();
    t.register("engine-3");
    t.send(&invite("engine-3", "medic-12", "i1"));
    let out = t.out();
    assert!(out[0].starts_with("SIP/2.0 100"), "{out:?}");
    let ev = t.events();
    let FrontEvent::Dial {
        leg,
        ref from,
        ref to,
        ref media,
    } = ev[0]
    else {
        panic!("{ev:?}")
    };
    assert_eq!((from.as_str(), to.as_str()), ("engine-3", "medic-12"));
    assert_eq!(media.codec(), Some(Codec::Opus { pt: 96 }));
    let now = t.now;
    t.f.ringing(now, leg).unwrap();
    assert!(t.out()[0].starts_with("SIP/2.0 180"));
    t.f.accept(now, leg, 40000, Codec::Opus { pt: 96 }, Some(101))
        .unwrap();
    let ok = t.out().remove(0);
    assert!(ok.starts_with("SIP/2.0 200"));
    assert!(ok.contains("m=audio 40000 RTP/AVP 96 101"), "{ok}");
    assert!(ok.contains("c=IN IP4 127.0.0.1"));
    // Without an ACK the 200 is sent again after T1, then 2·T1...
    t.advance(500);
    assert!(t.out()[0].starts_with("SIP/2.0 200"));
    t.advance(600);
    assert!(t.out().is_empty());
    t.advance(500);
    assert!(t.out()[0].starts_with("SIP/2.0 200"));
    t.send(&in_dialog("ACK", "ack1", 5));
    t.advance(10_000);
    assert!(t.out().is_empty(), "the ACK stops the retransmission");
    t.send(&in_dialog("BYE", "bye1", 6));
    assert!(t.out()[0].starts_with("SIP/2.0 200"));
    assert_eq!(t.events(), vec![FrontEvent::Hangup { leg }]);
}

#[test]
fn an_unregistered_phone_cannot_call_and_failures_reach_the_phone() {
    let mut t = T::new();
    t.send(&invite("engine-3", "medic-12", "i1"));
    assert!(t.out()[0].starts_with("SIP/2.0 403"));
    t.register("engine-3");
    t.send(&invite("engine-3", "nobody", "i2"));
    let FrontEvent::Dial { leg, .. } = t.events()[0] else {
        panic!()
    };
    t.out();
    let now = t.now;
    t.f.refuse(now, leg, 404).unwrap();
    assert!(t.out()[0].starts_with("SIP/2.0 404"));
    // Retransmitted (Timer G) until the ACK.
    t.advance(500);
    assert!(t.out()[0].starts_with("SIP/2.0 404"));
    t.send(&in_dialog("ACK", "i2", 5));
    t.advance(5000);
    assert!(t.out().is_empty());
}

#[test]
fn a_cancelled_phone_call_gets_487() {
    let mut t = T::new();
    t.register("engine-3");
    t.send(&invite("engine-3", "medic-12", "i1"));
    let FrontEvent::Dial { leg, .. } = t.events()[0] else {
        panic!()
    };
    t.out();
    let cancel = invite("engine-3", "medic-12", "i1")
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 5 INVITE", "CSeq: 5 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_string() + "Content-Length: 0\r\n\r\n";
    t.send(&cancel);
    let out = t.out();
    assert!(out[0].starts_with("SIP/2.0 200"), "{out:?}");
    assert!(out[1].starts_with("SIP/2.0 487"), "{out:?}");
    assert_eq!(t.events(), vec![FrontEvent::Hangup { leg }]);
}

fn reply_to(req: &str, code: u16, tag: &str, body: &str) -> String {
    let get = |h: &str| req.lines().find(|l| l.starts_with(h)).unwrap().to_string();
    let ctype = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    format!(
        "SIP/2.0 {code} X\r\n{}\r\n{}\r\n{};tag={tag}\r\n{}\r\n{}\r\nContact: <sip:medic-12@{PHONE}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        get("Via:"),
        get("From:"),
        get("To:"),
        get("Call-ID:"),
        get("CSeq:"),
        body.len()
    )
}

#[test]
fn ringing_a_role_reaches_its_phone_and_the_answer_is_acked() {
    let mut t = T::new();
    t.register("medic-12");
    let now = t.now;
    assert!(
        t.f.invite(
            now,
            "engine-9",
            "captain",
            4000,
            &[Codec::Opus { pt: 96 }],
            Some(101)
        )
        .is_none()
    );
    let leg =
        t.f.invite(
            now,
            "medic-12",
            "engine-3",
            4000,
            &[Codec::Opus { pt: 96 }, Codec::Pcmu],
            Some(101),
        )
        .unwrap();
    let inv = t.out().remove(0);
    assert!(
        inv.starts_with("INVITE sip:medic-12@127.0.0.1:5070 SIP/2.0"),
        "{inv}"
    );
    // Timer A: again after T1 while nothing answers.
    t.advance(500);
    assert!(t.out()[0].starts_with("INVITE"));
    t.send(&reply_to(&inv, 180, "ph", ""));
    assert_eq!(t.events(), vec![FrontEvent::Ringing { leg }]);
    t.advance(2000);
    assert!(t.out().is_empty(), "a provisional stops Timer A");
    t.send(&reply_to(&inv, 200, "ph", OFFER));
    let out = t.out();
    assert!(
        out[0].starts_with("ACK sip:medic-12@127.0.0.1:5070"),
        "{out:?}"
    );
    let ev = t.events();
    assert!(
        matches!(ev[0], FrontEvent::Answered { leg: l, .. } if l == leg),
        "{ev:?}"
    );
    // The far end hangs up: BYE to the phone, retransmitted until its 200.
    let now = t.now;
    t.f.hangup(now, leg).unwrap();
    let bye = t.out().remove(0);
    assert!(bye.starts_with("BYE sip:medic-12@"), "{bye}");
    assert!(bye.contains(";tag=ph"));
    t.advance(500);
    assert!(t.out()[0].starts_with("BYE"));
    t.send(&reply_to(&bye, 200, "ph", ""));
    t.advance(4000);
    assert!(t.out().is_empty());
}

#[test]
fn a_busy_phone_is_486_and_a_silent_one_480() {
    let mut t = T::new();
    t.register("medic-12");
    let now = t.now;
    let leg =
        t.f.invite(now, "medic-12", "engine-3", 4000, &[Codec::Pcmu], None)
            .unwrap();
    let inv = t.out().remove(0);
    t.send(&reply_to(&inv, 486, "ph", ""));
    assert!(t.out()[0].starts_with("ACK"));
    assert_eq!(t.events(), vec![FrontEvent::Rejected { leg, code: 486 }]);
    let leg2 =
        t.f.invite(t.now, "medic-12", "engine-3", 4000, &[Codec::Pcmu], None)
            .unwrap();
    t.out();
    for _ in 0..70 {
        t.advance(500);
    }
    assert_eq!(
        t.events(),
        vec![FrontEvent::Rejected {
            leg: leg2,
            code: 480
        }]
    );
}

#[test]
fn malformed_input_never_panics_and_usable_requests_get_400() {
    let mut t = T::new();
    let good = invite("engine-3", "medic-12", "m1");
    let mut rng = crate::rng::Rng::new(3);
    for i in 0..3000 {
        let mut b = good.clone().into_bytes();
        let n = 1 + (rng.next_u64() % 8) as usize;
        for _ in 0..n {
            let at = (rng.next_u64() as usize) % b.len();
            match rng.next_u64() % 3 {
                0 => b[at] = rng.next_u64() as u8,
                1 => b.truncate(at),
                _ => b.insert(at, b":;<>\r\n\0"[(rng.next_u64() % 7) as usize]),
            }
            if b.is_empty() {
                break;
            }
        }
        let now = t.now + ms(i);
        t.f.handle(now, peer(), local(), &b);
    }
    t.f.handle(t.now, peer(), local(), b"\xff\xfe garbage");
    assert!(t.f.malformed > 0);
    // A request with a bad CSeq method but usable headers gets a 400.
    let bad = invite("engine-3", "medic-12", "m2").replace("CSeq: 5 INVITE", "CSeq: 5 BYE");
    t.out();
    t.send(&bad);
    let out = t.out();
    assert!(out[0].starts_with("SIP/2.0 400"), "{out:?}");
    assert!(t.f.legs().count() <= MAX_LEGS);
}

#[test]
fn a_text_from_a_phone_waits_for_delivery() {
    let mut t = T::new();
    t.register("engine-3");
    let body = "hydrant at Fifth is dry";
    let m = format!(
        "MESSAGE sip:medic-12@mesh SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKmsg1\r\n\
         Max-Forwards: 70\r\nTo: <sip:medic-12@mesh>\r\nFrom: <sip:engine-3@mesh>;tag=q\r\n\
         Call-ID: m-1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    t.send(&m);
    let ev = t.events();
    let FrontEvent::Message {
        txn,
        ref to,
        ref text,
        ..
    } = ev[0]
    else {
        panic!("{ev:?}")
    };
    assert_eq!((to.as_str(), text.as_str()), ("medic-12", body));
    let now = t.now;
    t.f.complete(now, txn, Err((480, "medic-12 is unreachable".into())));
    assert!(t.out()[0].starts_with("SIP/2.0 480"));
    // And one to a phone: retransmitted until answered.
    let txns = t.f.message(now, "engine-3", "medic-12", "copy");
    let req = t.out().remove(0);
    assert!(req.starts_with("MESSAGE sip:engine-3@"), "{req}");
    t.send(&reply_to(&req, 200, "z", ""));
    assert_eq!(
        t.events(),
        vec![FrontEvent::MessageResult {
            txn: txns[0],
            code: 200
        }]
    );
}

#[test]
fn users_with_dots_are_read_from_the_text() {
    let mut t = T::new();
    t.register("captain.engine-3");
    assert!(t.f.has_phone("captain.engine-3"));
    t.send(&invite("captain.engine-3", "medic-12.ems", "d1"));
    let ev = t.events();
    assert!(
        matches!(&ev[0], FrontEvent::Dial { from, to, .. } if from == "captain.engine-3" && to == "medic-12.ems"),
        "{ev:?}"
    );
}
