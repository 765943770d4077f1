#![no_main]
//! The console map's neighbour-list request and answer (`wire::map`):
//! the checked view and the parsed form. Total, and canonical: what the
//! view accepts re-encodes to the same bytes.
use callsign::wire::map::{MapMsg, MapPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = MapPacket::new_checked(data) {
        let m = MapMsg::parse(&p);
        let _ = (p.is_request(), p.ask(), p.entries().count());
        assert_eq!(m.emit(), data);
        assert_eq!(MapMsg::decode(data).ok(), Some(m));
    } else {
        assert!(MapMsg::decode(data).is_err());
    }
});
