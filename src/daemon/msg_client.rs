//! The CLI of messages and the incident log: `msg`, `inbox`, `outbox`, `log`.

use std::process::ExitCode;
use std::time::Duration;

use super::cli::{ClientArgs, InboxArgs, LogArgs, MsgArgs};
use super::client::{get_json, get_text, names, table};
use super::msg_api::{iso_utc, summary};
use super::msg_dto::{InboxMessage, OutboxMessage, SendRequest};
use super::msgstore::LogRow;

type Error = Box<dyn std::error::Error>;

fn time(ms: u64) -> String {
    let t = iso_utc(ms as i64);
    // Date and seconds are enough on a screen: 2026-12-01 13:04:05
    t.get(..19).unwrap_or(&t).replace('T', " ")
}

/// `callsign msg NAME TEXT...` or `callsign msg --talkgroup TG TEXT...`.
pub fn send(a: &MsgArgs) -> Result<ExitCode, Error> {
    let (to, words) = match &a.talkgroup {
        Some(tg) => (tg.clone(), &a.words[..]),
        None => match a.words.split_first() {
            Some((to, rest)) if !rest.is_empty() => (to.clone(), rest),
            _ => return Err("usage: callsign msg NAME TEXT (or --talkgroup TG TEXT)".into()),
        },
    };
    let mut req = SendRequest {
        to,
        talkgroup: a.talkgroup.is_some(),
        text: words.join(" "),
    };
    if a.repeat > 1 {
        let text = std::mem::take(&mut req.text);
        let t0 = std::time::Instant::now();
        for k in 1..=a.repeat {
            req.text = format!("{text} #{k}");
            let body = serde_json::to_string(&req)?;
            let _: (OutboxMessage, _) =
                get_json(a.client.api()?, "POST", "/v1/messages", Some(&body))?;
        }
        println!(
            "accepted={} elapsed_ms={}",
            a.repeat,
            t0.elapsed().as_millis()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let body = serde_json::to_string(&req)?;
    let (m, raw): (OutboxMessage, _) =
        get_json(a.client.api()?, "POST", "/v1/messages", Some(&body))?;
    if a.client.json {
        println!("{}", raw.trim());
    } else {
        println!(
            "accepted {} for {}{}: {} recipient(s), {}",
            m.id,
            if m.talkgroup { "talkgroup " } else { "" },
            m.to,
            m.total,
            m.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn inbox_row(m: &InboxMessage) -> Vec<String> {
    vec![
        time(m.received_ms),
        format!("{} ({})", names(&m.from_names), m.from.short()),
        if m.talkgroup {
            format!("#{}", m.to)
        } else {
            m.to.clone()
        },
        m.seq.to_string(),
        m.text.clone(),
    ]
}

const INBOX_HEAD: [&str; 5] = ["RECEIVED", "FROM", "TO", "SEQ", "TEXT"];

/// `callsign inbox [--json] [--follow]`.
pub fn inbox(a: &InboxArgs) -> Result<ExitCode, Error> {
    let c = &a.client;
    let (ms, raw): (Vec<InboxMessage>, _) = get_json(c.api()?, "GET", "/v1/inbox", None)?;
    if !a.follow {
        if c.json {
            println!("{}", raw.trim());
        } else if ms.is_empty() {
            println!("no messages");
        } else {
            table(&INBOX_HEAD, &ms.iter().map(inbox_row).collect::<Vec<_>>());
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Follow: one line per message, as they come (JSON lines with --json).
    let print = |m: &InboxMessage| -> Result<(), Error> {
        if c.json {
            println!("{}", serde_json::to_string(m)?);
        } else {
            println!("{}", inbox_row(m).join("  "));
        }
        Ok(())
    };
    let mut after = 0;
    for m in &ms {
        print(m)?;
        after = after.max(m.n);
    }
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let (ms, _): (Vec<InboxMessage>, _) =
            get_json(c.api()?, "GET", &format!("/v1/inbox?after={after}"), None)?;
        for m in &ms {
            print(m)?;
            after = after.max(m.n);
        }
    }
}

/// `callsign outbox [--json]`.
pub fn outbox(c: &ClientArgs) -> Result<ExitCode, Error> {
    let (ms, raw): (Vec<OutboxMessage>, _) = get_json(c.api()?, "GET", "/v1/outbox", None)?;
    if c.json {
        println!("{}", raw.trim());
    } else if ms.is_empty() {
        println!("no messages sent");
    } else {
        let rows: Vec<Vec<String>> = ms
            .iter()
            .map(|m| {
                vec![
                    time(m.created_ms),
                    if m.talkgroup {
                        format!("#{}", m.to)
                    } else {
                        m.to.clone()
                    },
                    m.state.clone(),
                    m.id.get(..8).unwrap_or(&m.id).to_string(),
                    m.text.clone(),
                ]
            })
            .collect();
        table(&["SENT", "TO", "STATE", "ID", "TEXT"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: `90s`, `15m`, `2h`, `1d` ago, or Unix seconds.
fn since_query(s: &str) -> Result<String, Error> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("--since {s:?}: e.g. 90s, 15m, 2h, 1d, or Unix seconds"))?;
    let mult = match unit {
        "" => return Ok(format!("since_ms={}", n.saturating_mul(1000))),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("--since {s:?}: unit s, m, h or d").into()),
    };
    Ok(format!("ago_s={}", n.saturating_mul(mult)))
}

/// `callsign log [--since T] [--json | --csv]`.
pub fn log(a: &LogArgs) -> Result<ExitCode, Error> {
    let c = &a.client;
    let q = match &a.since {
        Some(s) => since_query(s)?,
        None => "since_ms=0".into(),
    };
    if a.csv {
        print!(
            "{}",
            get_text(c.api()?, &format!("/v1/log?{q}&format=csv"))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (rows, raw): (Vec<LogRow>, _) = get_json(c.api()?, "GET", &format!("/v1/log?{q}"), None)?;
    if c.json {
        println!("{}", raw.trim());
    } else if rows.is_empty() {
        println!("the incident log is empty");
    } else {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let text = if r.summary.is_empty() {
                    summary(&r.detail)
                } else {
                    r.summary.clone()
                };
                vec![time(r.at_ms as u64), r.kind.clone(), text]
            })
            .collect();
        table(&["TIME (UTC)", "EVENT", "DETAIL"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}
