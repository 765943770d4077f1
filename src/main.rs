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
    Sim(Box<callsign::sim::cli::SimArgs>),
    /// Agency certificate authority for secured mode: make one, issue
    /// device certificates.
    #[command(subcommand)]
    Ca(callsign::trust::cli::CaCmd),
    #[cfg(feature = "daemon")]
    #[command(flatten)]
    Net(callsign::daemon::cli::NetCommand),
    /// Offline voice pipeline over a WAV file: Opus, loss, jitter buffer,
    /// FEC/PLC; writes what the listener would hear.
    #[cfg(feature = "daemon")]
    VoiceLab(callsign::audio::lab::LabArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sim(args) => callsign::sim::cli::run(*args),
        Command::Ca(cmd) => callsign::trust::cli::run(cmd)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        #[cfg(feature = "daemon")]
        Command::Net(cmd) => callsign::daemon::cli::run(cmd),
        #[cfg(feature = "daemon")]
        Command::VoiceLab(args) => callsign::audio::lab::cli_run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("callsign: {e:#}");
            ExitCode::from(1)
        }
    }
}
