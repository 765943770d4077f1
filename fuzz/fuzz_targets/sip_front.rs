#![no_main]
//! The SIP front's parsing path: every message from a phone goes through
//! `phone::msg`, `phone::sdp` and a `phone::Front` (registrar and B2BUA);
//! RTP through `phone::rtp`; TCP bytes through `phone::stream::Framer`.
//! None of them may panic, and the front's tables stay bounded.
//!
//! The input is split at `0xFF` into messages from one phone. A
//! registration is played first so INVITEs and MESSAGEs reach the leg and
//! text paths, and the driver answers every event the way the daemon
//! does (claims granted, calls rung then accepted or refused).
use std::net::SocketAddr;
use std::time::Duration;

use callsign::phone::rtp::{Dtmf, Rtp};
use callsign::phone::stream::Framer;
use callsign::phone::{Codec, Front, FrontConfig, FrontEvent, MAX_LEGS, Peer, msg, sdp};
use callsign::time::Instant;
use libfuzzer_sys::fuzz_target;

const REGISTER: &[u8] = b"REGISTER sip:mesh SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr1\r\n\
From: <sip:engine-3@mesh>;tag=a\r\nTo: <sip:engine-3@mesh>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n\
Contact: <sip:engine-3@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let _ = msg::Incoming::parse(data);
    let _ = sdp::parse(data);
    let _ = Rtp::parse(data);
    let _ = Dtmf::parse(data);
    let _ = Framer::default().push(data);
    let peer = Peer::udp(SocketAddr::from(([127, 0, 0, 1], 5070)));
    let local = SocketAddr::from(([127, 0, 0, 1], 5060));
    let mut f = Front::new(FrontConfig::default(), 1);
    let mut now = Instant::from_millis(1000);
    f.handle(now, peer, local, REGISTER);
    drive(&mut f, now);
    for chunk in data.split(|b| *b == 0xFF) {
        now = now + Duration::from_millis(30);
        f.handle(now, peer, local, chunk);
        drive(&mut f, now);
        if f.poll_timeout().is_some_and(|t| t <= now) {
            f.handle_timeout(now);
        }
    }
    // Every timer runs out.
    for _ in 0..80 {
        now = now + Duration::from_millis(500);
        f.handle_timeout(now);
        drive(&mut f, now);
    }
    assert!(f.legs().count() <= MAX_LEGS);
});

fn drive(f: &mut Front, now: Instant) {
    while f.poll_transmit().is_some() {}
    while let Some(e) = f.poll_event() {
        match e {
            FrontEvent::Claim { txn, .. } => f.complete(now, txn, Ok(())),
            FrontEvent::Message { txn, .. } => f.complete(now, txn, Err((480, "x".into()))),
            FrontEvent::Dial { leg, media, .. } => {
                let _ = f.ringing(now, leg);
                match media.codec() {
                    Some(c) if leg.0 % 2 == 0 => {
                        let _ = f.accept(now, leg, 40000, c, media.te_pt);
                    }
                    _ => {
                        let _ = f.refuse(now, leg, 486);
                    }
                }
            }
            _ => {}
        }
    }
    let _ = f.invite(now, "engine-3", "medic-12", 40002, &[Codec::Pcmu], None);
    while f.poll_transmit().is_some() {}
}
