#![no_main]
//! WAV reader (`audio::wav::parse`, daemon feature): total on any bytes.
//! Run with `cargo fuzz run --features daemon wav`.
use callsign::audio::wav;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(samples) = wav::parse(data) {
        // The samples come from inside the input.
        assert!(samples.len() * 2 <= data.len());
    }
});
