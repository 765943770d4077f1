//! `callsign par start|status|ack`: PAR roll calls from the terminal.
//! `start` begins one (and with `--wait` follows it until it closes),
//! `status` prints the roll calls started here and those waiting for this
//! node's answer, `ack` answers every one open here.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::cli::ClientArgs;
use super::client::{get_json, table};
use super::console_dto::{ParAcked, ParRoll, ParStartRequest, ParStatus};

type Error = Box<dyn std::error::Error>;

#[derive(Subcommand, Debug)]
pub enum ParCommand {
    /// Start a roll call: every member's device alerts and they report.
    Start(ParStartArgs),
    /// The roll calls started here (accounted, unaccounted, outcome), those
    /// waiting for this node's answer, and when the next one is due.
    Status(ClientArgs),
    /// Report: acknowledge every roll call open on this node.
    Ack(ClientArgs),
}

#[derive(Args, Debug)]
pub struct ParStartArgs {
    /// Only the members of this talkgroup (default: everyone in the directory).
    #[arg(long, value_name = "NAME")]
    pub talkgroup: Option<String>,
    /// Seconds members have to answer [default: 60].
    #[arg(long, value_name = "S")]
    pub window: Option<u64>,
    /// Follow the roll call until it closes; exit status 1 if incomplete.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn print_roll(r: &ParRoll) {
    println!(
        "PAR {}{}: {}",
        if r.code.is_empty() { &r.par } else { &r.code },
        r.talkgroup
            .as_ref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default(),
        r.summary
    );
    let rows: Vec<Vec<String>> = r
        .members
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                if m.accounted {
                    "accounted"
                } else {
                    "unaccounted"
                }
                .into(),
                m.acked_after_ms
                    .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["MEMBER", "STATE", "ANSWERED AFTER"], &rows);
}

pub fn run(c: &ParCommand) -> Result<ExitCode, Error> {
    match c {
        ParCommand::Start(a) => start(a),
        ParCommand::Status(a) => status(a),
        ParCommand::Ack(a) => {
            let body = serde_json::to_string(&serde_json::json!({}))?;
            let (r, _): (ParAcked, _) = get_json(a.api()?, "POST", "/v1/par/ack", Some(&body))?;
            if a.json {
                println!("{}", serde_json::to_string(&r)?);
            } else if r.acked.is_empty() {
                println!("no roll call is waiting for this node");
            } else {
                println!("reported to {} roll call(s)", r.acked.len());
            }
            Ok(if r.acked.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `callsign console`: where the console and the handset page are, once
/// the daemon answers there. The addresses carry the API token
/// (`?token=`): the page trades it for a cookie at the first load, so
/// treat them like the token itself.
pub fn console(a: &ClientArgs) -> Result<ExitCode, Error> {
    let api = a.api()?;
    let (s, _): (super::dto::Status, _) = get_json(api, "GET", "/v1/status", None)?;
    let base = format!("http://{api}");
    // get_json succeeded, so the daemon took this token.
    let q = api
        .token
        .map(|t| format!("?token={}", t.as_str()))
        .unwrap_or_default();
    let (console, handset) = (format!("{base}/{q}"), format!("{base}/handset{q}"));
    if a.json {
        let v = serde_json::json!({
            "console": console,
            "handset": handset,
            "node": s.id,
        });
        println!("{v}");
    } else {
        println!("console: {console}");
        println!("handset: {handset}");
        eprintln!(
            "(the addresses carry the API token: share them only with whom may drive this daemon)"
        );
        if !api.addr.ip().is_loopback() {
            eprintln!(
                "the API listens on {api}, not loopback: anyone who reaches it and has the token can use it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn start(a: &ParStartArgs) -> Result<ExitCode, Error> {
    let req = ParStartRequest {
        talkgroup: a.talkgroup.clone(),
        window_s: a.window,
    };
    let body = serde_json::to_string(&req)?;
    let api = a.client.api()?;
    let (mut roll, _): (ParRoll, _) = get_json(api, "POST", "/v1/par", Some(&body))?;
    if a.wait {
        let t0 = Instant::now();
        let limit = Duration::from_secs(a.window.unwrap_or(60) + 10);
        while roll.state == "open" && t0.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(200));
            let (s, _): (ParStatus, _) = get_json(api, "GET", "/v1/par", None)?;
            if let Some(r) = s.rolls.into_iter().find(|r| r.par == roll.par) {
                roll = r;
            }
        }
    }
    if a.client.json {
        println!("{}", serde_json::to_string(&roll)?);
    } else {
        print_roll(&roll);
    }
    Ok(if a.wait && roll.state != "all accounted" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn status(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (s, _): (ParStatus, _) = get_json(a.api()?, "GET", "/v1/par", None)?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    for p in &s.pending {
        println!(
            "PAR {} from {} is waiting for this node: `callsign par ack`",
            if p.code.is_empty() { &p.par } else { &p.code },
            p.from
        );
    }
    match s.next_due_ms {
        Some(due) => {
            let now = super::engine::unix_ms();
            if due > now {
                println!("next PAR due in {} min", (due - now).div_ceil(60_000));
            } else {
                println!("PAR OVERDUE by {} min", (now - due) / 60_000);
            }
        }
        None => println!(
            "no PAR yet (the timer runs every {} min after the first)",
            s.interval_s / 60
        ),
    }
    for r in &s.rolls {
        print_roll(r);
    }
    Ok(ExitCode::SUCCESS)
}
