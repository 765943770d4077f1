#![no_main]
//! The message layer: its CBOR decoders (`msg::wire`) are total and stable
//! under re-encoding, and a `Messages` machine never panics on what
//! arrives. The input is split at `0xFF` into packets; each is handed to
//! the machine as it is (from one of two neighbours), and its bytes are
//! also sealed and signed by a real sender as a delivery, an offer or a
//! receipt's plaintext, so mutations reach the paths behind the
//! signature check.
mod common;

use callsign::msg::seal::{SEAL_HPKE, seal, sign_envelope};
use callsign::msg::wire::{Body, Envelope, MsgPacket, Plain, Receipt, ReceiptBody};
use callsign::msg::{Messages, MsgConfig};
use callsign::rng::KeyRng;
use callsign::time::Instant;
use callsign::wire::control;
use common::ident;
use libfuzzer_sys::fuzz_target;

fn decoders(data: &[u8]) {
    if let Ok(p) = MsgPacket::decode(data) {
        assert_eq!(MsgPacket::decode(&p.encode()).ok(), Some(p));
    }
    if let Ok(e) = Envelope::from_bytes(data) {
        assert_eq!(Envelope::from_bytes(&e.to_bytes()).ok(), Some(e));
    }
    if let Ok(r) = Receipt::from_bytes(data) {
        assert_eq!(Receipt::from_bytes(&r.to_bytes()).ok(), Some(r));
    }
    if let Ok(b) = control::decode::<Body>(data) {
        assert_eq!(control::decode::<Body>(&control::encode(&b)).ok(), Some(b));
    }
    if let Ok(p) = control::decode::<Plain>(data) {
        assert_eq!(control::decode::<Plain>(&control::encode(&p)).ok(), Some(p));
    }
    if let Ok(r) = control::decode::<ReceiptBody>(data) {
        assert_eq!(
            control::decode::<ReceiptBody>(&control::encode(&r)).ok(),
            Some(r)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    decoders(data);
    let me = ident(9);
    let sender = ident(1);
    let relay = ident(2).id();
    let mut m = Messages::new(me.clone(), MsgConfig::default(), [3; 32]);
    let mut keys = KeyRng::new([4; 32]);
    let mut now = Instant::from_millis(1000);
    m.set_wall_clock(now, 1_700_000_000_000);
    for (i, chunk) in data.split(|b| *b == 0xFF).enumerate() {
        now = Instant::from_micros(now.as_micros() + 250_000);
        let route = i % 3 != 0;
        let has_route = move |_: &callsign::identity::NodeId| route;
        let from = if i % 2 == 0 { sender.id() } else { relay };
        let _ = m.handle(now, from, chunk, &has_route);
        // The same bytes as a genuine sender's sealed plaintext.
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let mut body = Body {
            id,
            src: sender.id(),
            src_key: sender.public_key(),
            dst: me.id(),
            seq: i as u64 + 1,
            created_ms: 1_700_000_000_000,
            expires_ms: 1_700_000_000_000 + u64::from(chunk.first().copied().unwrap_or(1)) * 60_000,
            sealed: Vec::new(),
            seal: SEAL_HPKE,
        };
        if seal(&sender, &me.public_key(), &mut body, chunk, &mut keys).is_ok() {
            let env = sign_envelope(&sender, &body);
            let p = if i % 2 == 0 {
                MsgPacket::Deliver { env }
            } else {
                MsgPacket::Offer {
                    env,
                    copies: chunk.len() as u8,
                }
            };
            let _ = m.handle(now, from, &p.encode(), &has_route);
        }
        while m.poll_output().is_some() {}
        while m.poll_event().is_some() {}
        let _ = m.take_changes();
        if m.poll_timeout().is_some_and(|t| t <= now) {
            m.handle_timeout(now, &has_route);
        }
    }
});
