#![no_main]
//! Directory message and record decoders: total, stable under re-encoding,
//! and record verification never panics on what decodes.
use callsign::names::wire::decode_record;
use callsign::names::NamesMsg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = NamesMsg::decode(data) {
        assert_eq!(NamesMsg::decode(&m.encode()).ok(), Some(m.clone()));
        if let NamesMsg::Push { entries } = m {
            for e in entries {
                let _ = e.record.open();
            }
        }
    }
    if let Ok(r) = decode_record(data) {
        let _ = r.open();
    }
});
