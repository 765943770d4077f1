#![no_main]
//! What the daemon reads from local devices: evdev records from a
//! push-to-talk key (`ptt_key::decode` and the button's state machine, fed
//! a stream that may split records) and gpsd's JSON lines
//! (`gpsd::parse_tpv`). Needs the daemon feature.
use callsign::daemon::gpsd;
use callsign::daemon::ptt_key::{self, Action, Button, EVENT_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&code, rest)) = data.split_first() else {
        return;
    };
    for rec in rest.chunks(EVENT_SIZE) {
        if let Some(e) = ptt_key::decode(rec) {
            assert_eq!(ptt_key::decode(&ptt_key::encode(e)), Some(e));
        }
    }
    // Presses and releases alternate, and a held button is released at
    // the end of the stream.
    let mut down = false;
    let b = ptt_key::read_actions(rest, Button::new(u16::from(code)), |a| {
        assert_eq!(a == Action::Press, !down);
        down = a == Action::Press;
    });
    assert!(!down);
    drop(b);
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            if let Some(f) = gpsd::parse_tpv(line, 1_700_000_000) {
                assert!((-90.0..=90.0).contains(&f.lat) && (-180.0..=180.0).contains(&f.lon));
            }
            let _ = gpsd::parse_time(line);
        }
    }
});
