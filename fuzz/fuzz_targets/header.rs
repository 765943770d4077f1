#![no_main]
//! The packet header view and parser: any bytes give a value or an error.
use callsign::wire::flow::FlowPacket;
use callsign::wire::{Header, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let _ = (p.src(), p.dst(), p.seq(), p.body());
    }
    if let Ok((h, body)) = Header::parse(data) {
        // What parses re-emits to the same bytes.
        assert_eq!(h.to_packet(body), data);
    }
    if let Ok(f) = FlowPacket::decode(data) {
        // A decoded flow packet re-encodes to a packet that decodes the same.
        let again = f.encode();
        assert_eq!(FlowPacket::decode(&again).ok(), Some(f));
    }
});
