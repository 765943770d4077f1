#![no_main]
//! A Directory fed arbitrary messages from two neighbours, with the clock
//! moving: it must never panic and must keep answering its timers.
use std::sync::OnceLock;

use callsign::identity::Identity;
use callsign::names::{Directory, NamesConfig, Open};
use callsign::time::Instant;
use libfuzzer_sys::fuzz_target;

/// Derived once: a key pair per input (an instrumented scalar
/// multiplication under ASan) cost more than the decoding it fuzzes.
fn ident(secret: u8) -> Identity {
    static IDS: OnceLock<[Identity; 3]> = OnceLock::new();
    let ids = IDS.get_or_init(|| [9, 1, 2].map(|s| Identity::from_secret(&[s; 32])));
    let i = [9, 1, 2]
        .iter()
        .position(|s| *s == secret)
        .expect("a known secret");
    ids[i].clone()
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::ZERO;
    let mut d = Directory::new(ident(9), NamesConfig::default(), Box::new(Open), now, 1);
    let peers = [ident(1).id(), ident(2).id()];
    for p in peers {
        d.on_neighbour_up(now, p);
    }
    let _ = d.local_claim(now, "command", true);
    // Split the input into messages at 0xFF 0xFF markers.
    for (i, chunk) in data.split(|b| *b == 0xFF).enumerate() {
        now = Instant::from_micros(now.as_micros() + 700_000);
        let _ = d.handle_bytes(now, peers[i % 2], chunk);
        while d.poll_output().is_some() {}
        while d.poll_event().is_some() {}
        if let Some(t) = d.poll_timeout() {
            if t <= now {
                d.handle_timeout(now);
            }
        }
    }
});
