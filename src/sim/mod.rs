//! Deterministic discrete-event network simulator (see `cli` for `callsign sim`).
pub mod cli;
