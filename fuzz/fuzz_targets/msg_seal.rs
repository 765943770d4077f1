#![no_main]
//! Message packets and sealed envelopes (target `msg_seal`): every decoder is total, decoded
//! values are stable under re-encoding, and verifying or opening whatever
//! decodes returns an error, never a panic (the sealed layout is parsed by
//! `msg::seal::open`).
use callsign::identity::Identity;
use callsign::msg::seal;
use callsign::msg::wire::{Body, Envelope, MsgPacket};
use callsign::wire::control;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = MsgPacket::decode(data) {
        assert_eq!(MsgPacket::decode(&p.encode()).ok(), Some(p.clone()));
        if let MsgPacket::Deliver { env } | MsgPacket::Offer { env, .. } = p {
            let _ = seal::verify_envelope(&env);
        }
    }
    if let Ok(env) = Envelope::from_bytes(data) {
        let _ = seal::verify_envelope(&env);
    }
    if let Ok(body) = control::decode::<Body>(data) {
        let me = Identity::from_secret(&[7; 32]);
        let _ = seal::open(&me, &body);
    }
});
