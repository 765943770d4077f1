#![no_main]
//! A private talkgroup's packets (`app::group_key`): opening any bytes
//! from any sender is total, what opens is a plain packet that parses, and
//! whatever is sealed from the input opens back to it.
use callsign::app::group_key::{EpochKey, GroupKeys};
use callsign::app::group_wire::{GroupRepr, group_of};
use callsign::identity::NodeId;
use callsign::time::Instant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = GroupKeys::new(EpochKey::new(group_of("fireground-1"), 3, [5; 32]));
    let now = Instant::from_millis(1000);
    let sender = NodeId([9; 16]);
    if let Ok(plain) = keys.open(now, sender, data) {
        assert!(GroupRepr::parse(&plain).is_ok());
    }
    let k = keys.current();
    match GroupRepr::parse(data) {
        Ok(GroupRepr::Voice {
            burst,
            seq,
            capture_ms,
            body,
        }) => {
            let s = k.seal_voice(sender, burst, seq, capture_ms, body);
            assert_eq!(keys.open(now, sender, &s).ok().as_deref(), Some(data));
        }
        Ok(GroupRepr::Floor(_) | GroupRepr::Report { .. }) => {
            let s = k.seal_control(sender, [1; 12], data);
            assert_eq!(keys.open(now, sender, &s).ok().as_deref(), Some(data));
        }
        _ => {}
    }
});
