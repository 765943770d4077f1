//! `callsign events`: follow the daemon's server-sent event stream
//! (`GET /v1/events`) in a terminal. An incoming call rings the terminal
//! bell, a mayday is printed in red (with the bell), PAR roll-call
//! requests and messages stand out; every other kind is printed on one
//! line, unknown kinds included, so a newer daemon's events still show.
//! `--json` prints each event's JSON object on its own line for scripts.
//!
//! The stream is followed across daemon restarts (reconnecting every two
//! seconds, said on stderr); a daemon that neither sends an event nor its
//! keep-alive (every 15 s) for [`SILENCE`] is reported as wedged.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::cli::ClientArgs;
use super::client;

type Error = Box<dyn std::error::Error>;

/// Longest wait for an event or keep-alive before the daemon is called wedged.
const SILENCE: Duration = Duration::from_secs(45);
const RECONNECT: Duration = Duration::from_secs(2);

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Also print route changes (many per second while the mesh moves).
    #[arg(long)]
    pub all: bool,
    /// Stop after this many events (scripts and tests).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// No terminal bell.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// One event as the stream gives it: the SSE event name and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub kind: String,
    pub data: String,
}

/// Reads SSE records: `event:` and `data:` lines, a blank line ends one;
/// `:` comment lines (keep-alives) are skipped.
#[derive(Default)]
pub struct SseParser {
    kind: String,
    data: Vec<String>,
}

impl SseParser {
    pub fn line(&mut self, line: &str) -> Option<Sse> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if self.data.is_empty() && self.kind.is_empty() {
                return None;
            }
            let kind = std::mem::take(&mut self.kind);
            let data = std::mem::take(&mut self.data).join("\n");
            return Some(Sse {
                kind: if kind.is_empty() {
                    "message".into()
                } else {
                    kind
                },
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.kind = value.to_string(),
            "data" => self.data.push(value.to_string()),
            _ => {}
        }
        None
    }
}

const RED: &str = "\x1b[1;31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";
const BELL: &str = "\x07";

/// How an operator reads one event: the line, and whether it rings.
pub fn describe(ev: &Sse, color: bool) -> (String, bool) {
    let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
    let s = |k: &str| -> String {
        match &v[k] {
            serde_json::Value::String(x) => x.clone(),
            serde_json::Value::Null => "-".into(),
            other => other.to_string(),
        }
    };
    let short = |k: &str| -> String { s(k).chars().take(8).collect() };
    let paint = |style: &str, text: String| {
        if color {
            format!("{style}{text}{RESET}")
        } else {
            text
        }
    };
    let names = |k: &str| -> String {
        match v[k].as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        }
    };
    match ev.kind.as_str() {
        "call_incoming" => (
            paint(
                BOLD,
                format!(
                    "INCOMING CALL from {} ({}), call {} — `callsign answer` or `callsign hangup`",
                    s("from"),
                    short("node"),
                    s("call")
                ),
            ),
            true,
        ),
        "mayday" => (
            paint(RED, format!("MAYDAY declared by {}", short("node"))),
            true,
        ),
        "mayday_raised" => (
            paint(
                RED,
                format!("MAYDAY from {} ({})", names("names"), short("node")),
            ),
            true,
        ),
        "floor" if s("event") == "taken" || s("event") == "revoked" => (
            format!(
                "talkgroup {}: floor {} by {}",
                s("talkgroup"),
                s("event"),
                s("who")
            ),
            false,
        ),
        "message_received" => {
            let from = match names("from_names") {
                n if n.is_empty() => short("from"),
                n => n,
            };
            (
                paint(
                    BOLD,
                    format!("message from {from} to {}: {}", s("to"), s("text")),
                ),
                true,
            )
        }
        "text" => (
            paint(
                BOLD,
                format!("text from {} to {}: {}", s("from"), s("to"), s("body")),
            ),
            true,
        ),
        // In words, the roll call by its short code (`PAR 3KX9 · ...`).
        k if k.starts_with("par_") => {
            let words = super::log_text::summary(&v, &std::collections::BTreeMap::new());
            (paint(BOLD, format!("PAR {}: {words}", &k[4..])), true)
        }
        "call_answered" => (
            format!("call {} answered by {}", s("call"), short("by")),
            false,
        ),
        "call_ended" => (
            format!("call {} {}: {}", s("call"), s("state"), s("reason")),
            false,
        ),
        "neighbour_up" => (
            format!(
                "neighbour up: {} {} on {}",
                short("id"),
                names("names"),
                s("iface")
            ),
            false,
        ),
        "neighbour_down" => (
            format!("neighbour down: {} on {}", short("id"), s("iface")),
            false,
        ),
        "lagged" => (format!("(missed {} events: too slow)", ev.data), false),
        _ => (format!("{}: {}", ev.kind, ev.data), false),
    }
}

fn clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
        return "--:--:--".into();
    }
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// Print one event; false when the count is reached.
fn print(a: &EventsArgs, ev: &Sse, seen: &mut u64, tty: bool) -> Result<bool, Error> {
    if ev.kind == "route_changed" && !a.all {
        return Ok(true);
    }
    let mut out = std::io::stdout().lock();
    if a.client.json {
        let line = if ev.kind == "lagged" {
            serde_json::json!({ "type": "lagged", "missed": ev.data.trim().parse::<u64>().ok() })
                .to_string()
        } else {
            ev.data.clone()
        };
        writeln!(out, "{line}")?;
    } else {
        let color = tty && std::env::var_os("NO_COLOR").is_none();
        let (line, ring) = describe(ev, color);
        let bell = if ring && !a.quiet && tty { BELL } else { "" };
        writeln!(out, "{bell}{}  {line}", clock())?;
    }
    out.flush()?;
    *seen += 1;
    Ok(a.count.is_none_or(|n| *seen < n))
}

/// Follow one connection until it ends; Ok(false) when done for good.
fn follow(a: &EventsArgs, seen: &mut u64, tty: bool) -> Result<bool, Error> {
    let api = a.client.api()?;
    let mut body = client::stream(api, "/v1/events", SILENCE)?;
    eprintln!("following events from {api} (Ctrl-C to stop)");
    let mut parser = SseParser::default();
    let mut line = String::new();
    loop {
        line.clear();
        let n = body
            .read_line(&mut line)
            .map_err(|e| client::io_error(api, SILENCE, e))?;
        if n == 0 {
            return Ok(true);
        }
        if let Some(ev) = parser.line(&line)
            && !print(a, &ev, seen, tty)?
        {
            return Ok(false);
        }
    }
}

pub fn run(a: &EventsArgs) -> Result<ExitCode, Error> {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut seen = 0;
    let mut connected_once = false;
    loop {
        match follow(a, &mut seen, tty) {
            Ok(false) => return Ok(ExitCode::SUCCESS),
            Ok(true) => eprintln!("the daemon closed the stream; reconnecting"),
            // The first connection must work: a wrong address is an error.
            Err(e) if !connected_once => return Err(e),
            Err(e) => eprintln!("{e}; reconnecting"),
        }
        connected_once = true;
        std::thread::sleep(RECONNECT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Sse> {
        let mut p = SseParser::default();
        text.lines().filter_map(|l| p.line(l)).collect()
    }

    #[test]
    fn sse_records_are_read_and_keepalives_skipped() {
        let evs = parse(
            ":\n\nevent: mayday\ndata: {\"type\":\"mayday\",\"node\":\"ab\"}\n\n: keep-alive\n\nevent: lagged\ndata: 3\n\ndata: a\ndata: b\n\n",
        );
        assert_eq!(
            evs,
            [
                Sse {
                    kind: "mayday".into(),
                    data: "{\"type\":\"mayday\",\"node\":\"ab\"}".into()
                },
                Sse {
                    kind: "lagged".into(),
                    data: "3".into()
                },
                Sse {
                    kind: "message".into(),
                    data: "a\nb".into()
                },
            ]
        );
    }

    #[test]
    fn operators_see_calls_maydays_messages_and_unknown_kinds() {
        let ev = |kind: &str, data: &str| Sse {
            kind: kind.into(),
            data: data.into(),
        };
        let (l, ring) = describe(
            &ev(
                "call_incoming",
                r#"{"type":"call_incoming","call":7,"from":"command","node":"0123456789abcdef0123456789abcdef"}"#,
            ),
            false,
        );
        assert!(ring);
        assert_eq!(
            l,
            "INCOMING CALL from command (01234567), call 7 — `callsign answer` or `callsign hangup`"
        );
        let (l, ring) = describe(
            &ev("mayday", r#"{"type":"mayday","node":"fedcba9876543210"}"#),
            true,
        );
        assert!(ring);
        assert_eq!(l, "\x1b[1;31mMAYDAY declared by fedcba98\x1b[0m");
        let (l, ring) = describe(
            &ev(
                "message_received",
                r#"{"type":"message_received","from":"aa","from_names":["medic-12"],"to":"engine-3","text":"hydrant dry"}"#,
            ),
            false,
        );
        assert!(ring);
        assert_eq!(l, "message from medic-12 to engine-3: hydrant dry");
        let (l, ring) = describe(
            &ev(
                "par_request",
                r#"{"type":"par_request","par":"12345678901234567890","from":"command","talkgroup":null}"#,
            ),
            false,
        );
        let code = crate::app::par::short_code(12_345_678_901_234_567_890);
        assert!(ring, "{l}");
        assert_eq!(l, format!("PAR request: PAR {code} · from: command"));
        let (l, ring) = describe(&ev("rain_alert", r#"{"type":"rain_alert","mm":3}"#), false);
        assert!(!ring);
        assert_eq!(l, r#"rain_alert: {"type":"rain_alert","mm":3}"#);
    }
}
