#![no_main]
//! A Directory fed arbitrary messages from two neighbours, with the clock
//! moving: it must never panic and must keep answering its timers.
mod common;

use callsign::names::{Directory, NamesConfig, Open};
use callsign::time::Instant;
use common::ident;
use libfuzzer_sys::fuzz_target;

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
