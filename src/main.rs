//! The `callsign` command: parse the command line and hand over.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Zero-configuration mesh communicator for first responders.
#[derive(Parser)]
#[command(name = "callsign", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a deterministic simulated incident and print its figures.
    Sim(callsign::sim::cli::SimArgs),
    #[cfg(feature = "daemon")]
    #[command(flatten)]
    Net(callsign::daemon::cli::NetCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sim(args) => callsign::sim::cli::run(args),
        #[cfg(feature = "daemon")]
        Command::Net(cmd) => callsign::daemon::cli::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("callsign: {e:#}");
            ExitCode::from(1)
        }
    }
}
