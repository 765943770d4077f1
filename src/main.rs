//! The `callsign` command: parse the command line and hand over.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// device certificates, revoke a lost or stolen device.
    #[command(subcommand)]
    Ca(callsign::trust::cli::CaCmd),
    #[cfg(feature = "daemon")]
    #[command(flatten)]
    Net(callsign::daemon::cli::NetCommand),
    /// Offline voice pipeline over a WAV file: Opus, loss, jitter buffer,
    /// FEC/PLC; writes what the listener would hear.
    #[cfg(feature = "daemon")]
    VoiceLab(callsign::audio::lab::LabArgs),
    /// Write the man pages into DIR (package builds).
    #[cfg(feature = "daemon")]
    #[command(hide = true)]
    GenMan { dir: std::path::PathBuf },
    /// Write bash, zsh and fish completions into DIR (package builds).
    #[cfg(feature = "daemon")]
    #[command(hide = true)]
    GenCompletions { dir: std::path::PathBuf },
}

/// Print what a generator wrote.
#[cfg(feature = "daemon")]
fn wrote(
    r: Result<Vec<String>, Box<dyn std::error::Error>>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    for f in r? {
        println!("{f}");
    }
    Ok(ExitCode::SUCCESS)
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
        #[cfg(feature = "daemon")]
        Command::GenMan { dir } => wrote(callsign::daemon::docgen::man(Cli::command(), &dir)),
        #[cfg(feature = "daemon")]
        Command::GenCompletions { dir } => {
            wrote(callsign::daemon::docgen::completions(Cli::command(), &dir))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("callsign: {e:#}");
            ExitCode::from(1)
        }
    }
}
