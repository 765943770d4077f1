#![no_main]
//! Every CBOR control body decoder (hello, update, request, ack, cert):
//! total, and stable under re-encoding.
use callsign::wire::control::{self, Ack, CertMsg, Hello, Request, Update};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = control::decode::<Hello>(data) {
        assert_eq!(control::decode::<Hello>(&control::encode(&v)).ok(), Some(v));
    }
    if let Ok(v) = control::decode::<Update>(data) {
        assert_eq!(control::decode::<Update>(&control::encode(&v)).ok(), Some(v));
    }
    if let Ok(v) = control::decode::<Request>(data) {
        assert_eq!(control::decode::<Request>(&control::encode(&v)).ok(), Some(v));
    }
    if let Ok(v) = control::decode::<Ack>(data) {
        assert_eq!(control::decode::<Ack>(&control::encode(&v)).ok(), Some(v));
    }
    if let Ok(v) = control::decode::<CertMsg>(data) {
        assert_eq!(control::decode::<CertMsg>(&control::encode(&v)).ok(), Some(v));
    }
});
