//! Shared helpers of the tests that run the binary by hand (daemons on
//! loopback, the CLI, the package); the field tests in namespaces have
//! `field-tests/harness.rs`.
// Each test crate uses a part of it.
#![allow(dead_code)]

/// The `callsign` binary cargo built for this test run.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_callsign")
}

/// A loopback TCP port free a moment ago, for a daemon's API.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
