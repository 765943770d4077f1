//! CLI subcommands that run or talk to the daemon (placeholder).
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum NetCommand {
    /// Join the mesh (not built yet).
    Up,
}

pub fn run(_cmd: NetCommand) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("the daemon is not built yet".into())
}
