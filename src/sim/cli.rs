//! `callsign sim` (placeholder until the simulator lands).
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SimArgs {}

pub fn run(_args: SimArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("the simulator is not built yet".into())
}
