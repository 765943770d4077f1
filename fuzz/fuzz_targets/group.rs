#![no_main]
//! The talkgroup payload (`app::group_wire`), a redundant voice flood's
//! body (`wire::split_redundant`) and the flood NACK: total, and stable
//! under re-encoding.
use callsign::app::group_wire::{GroupPacket, GroupRepr};
use callsign::wire::control::{self, FloodNack};
use callsign::wire::{join_redundant, split_redundant};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = GroupRepr::parse(data) {
        let b = r.emit();
        assert_eq!(GroupRepr::parse(&b).ok(), Some(r));
    }
    if let Ok(p) = GroupPacket::new_checked(data) {
        // The view's accessors never go out of bounds.
        let _ = (p.kind(), p.burst(), p.seq(), p.capture_ms(), p.loss_pct(), p.body().len());
    }
    if let Some((prev, cur)) = split_redundant(data) {
        let b = join_redundant(&prev, cur);
        assert_eq!(split_redundant(&b), Some((prev, cur)));
    }
    if let Ok(n) = control::decode::<FloodNack>(data) {
        assert_eq!(control::decode::<FloodNack>(&control::encode(&n)).ok(), Some(n));
    }
});
