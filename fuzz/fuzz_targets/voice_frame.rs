#![no_main]
//! Voice payload layout and media-key opening: `VoiceFrame::decode` is
//! total and round-trips, and `MediaKeys::open` with a fixed key never
//! panics on arbitrary bytes, label or index (and a forgery of random bytes
//! does not authenticate; a real frame with bytes changed never does).
use std::sync::OnceLock;

use callsign::voice::{KeyShare, MediaKeys, TAG_LEN, VoiceFrame};
use libfuzzer_sys::fuzz_target;

/// Derived once: two X25519 agreements per input (instrumented, under
/// ASan) held the target to about 600 executions a second. The keys are
/// immutable, so sharing them changes nothing the target checks.
fn keys() -> &'static (MediaKeys, MediaKeys) {
    static KEYS: OnceLock<(MediaKeys, MediaKeys)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let a = KeyShare::new([1; 32]);
        let b = KeyShare::new([2; 32]);
        let ka = MediaKeys::derive(&a, &b.public(), b"fuzz-call", true).expect("contributory");
        let kb = MediaKeys::derive(&b, &a.public(), b"fuzz-call", false).expect("contributory");
        (ka, kb)
    })
}

fuzz_target!(|data: &[u8]| {
    let (tx, rx) = keys();
    // The first 12 bytes pick label and index; the rest is the payload.
    let label = data
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap_or([0; 4])));
    let index = data
        .get(4..12)
        .map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
    let payload = data.get(12..).unwrap_or(&[]);

    match VoiceFrame::decode(payload) {
        Ok(f) => {
            assert_eq!(f.encode(), payload);
            let _ = rx.open(label, index, &f.body);
        }
        Err(_) => assert!(payload.len() < 2),
    }
    let _ = rx.open(label, index, payload);

    // A real sealed frame with the payload XORed in: opens only unchanged.
    let plain = b"twenty ms of opus";
    let sealed = tx.seal(label, index, plain);
    let mut t = sealed.clone();
    for (i, x) in payload.iter().enumerate() {
        t[i % sealed.len()] ^= x;
    }
    match rx.open(label, index, &t) {
        Ok(p) => {
            assert_eq!(t, sealed);
            assert_eq!(p, plain);
        }
        Err(_) => assert!(t != sealed && t.len() >= TAG_LEN),
    }
});
