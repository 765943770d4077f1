#![no_main]
//! The secured mode's decoders of network input: certificate chains (PEM or
//! DER, as they arrive beside records and in cert packets) and the MAC
//! trailer. Never a panic; nothing that fails to verify is cached.
use callsign::trust::{MacKey, MacState, Secured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Secured::new();
    let _ = s.add_root(data);
    let mut s = Secured::new();
    assert!(s.add_peer_cert(data, 1_767_225_600).is_err());
    let mut mac = MacState::new(MacKey::from_bytes([7; 32]), 1);
    let _ = mac.open(data);
});
