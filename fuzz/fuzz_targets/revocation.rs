#![no_main]
//! Revocations as they arrive in revoke packets and from the operator:
//! never a panic; what decodes encodes back to the same bytes (one
//! encoding per revocation); nothing is taken without a root's signature.
use callsign::trust::{Revocation, Secured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Revocation::decode(data) {
        assert_eq!(r.encode(), data);
        let _ = r.verify();
    }
    let mut s = Secured::new();
    assert!(s.revoke(data).is_err());
    assert_eq!(s.revocations().count(), 0);
});
