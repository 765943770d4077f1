#![no_main]
//! Floor control message decoder: total, and stable under re-encoding (what
//! decodes re-encodes to bytes that decode to the same message).
use callsign::floor::FloorMsg;
use callsign::floor::msg::MAX_NAME;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = FloorMsg::decode(data) {
        assert_eq!(FloorMsg::decode(&m.encode()).ok(), Some(m.clone()));
        match &m {
            FloorMsg::Request { name, .. }
            | FloorMsg::Taken { name, .. }
            | FloorMsg::Deny { name, .. } => assert!(name.len() <= MAX_NAME),
            FloorMsg::Grant { .. } | FloorMsg::Release { .. } => {}
        }
    }
});
