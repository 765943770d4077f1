//! The voice CLI clients: `call`, `answer`, `hangup`, `calls`, `ptt`,
//! `listen`, `talkgroups`, `mayday`. They ask the daemon's API and, for
//! calls and bursts, follow the state until it is over, printing progress
//! on stderr and the outcome (a table or `--json`) on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::cli::{AnswerArgs, CallArgs, ClientArgs, HangupArgs, ListenArgs, MaydayArgs, PttArgs};
use super::client::{INTERRUPTED, get_json, on_sigint, table};
use super::dto;

pub(super) type Error = Box<dyn std::error::Error>;

const POLL: Duration = Duration::from_millis(50);

/// The daemon opens the files, maybe from another directory: make them absolute.
fn abs(p: &Option<PathBuf>) -> Result<Option<PathBuf>, Error> {
    match p {
        None => Ok(None),
        Some(p) if p.is_absolute() => Ok(Some(p.clone())),
        Some(p) => Ok(Some(std::env::current_dir()?.join(p))),
    }
}

fn check_wav(p: &Option<PathBuf>) -> Result<(), Error> {
    if let Some(p) = p
        && !Path::new(p).is_file()
    {
        return Err(format!("{}: no such file", p.display()).into());
    }
    Ok(())
}

/// POST `body` as JSON to the daemon; its answer, parsed.
pub(super) fn post<T: serde::de::DeserializeOwned>(
    a: &ClientArgs,
    path: &str,
    body: &impl serde::Serialize,
) -> Result<T, Error> {
    Ok(get_json(a.api()?, "POST", path, Some(&serde_json::to_string(body)?))?.0)
}

fn hangup_call(a: &ClientArgs, call: Option<u64>) -> Result<dto::Call, Error> {
    post(a, "/v1/hangup", &dto::HangupRequest { call })
}

pub(super) fn catch_sigint() {
    // SAFETY: the handler only touches atomics and calls shutdown(2).
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
}

pub(super) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn find_call(a: &ClientArgs, id: u64) -> Result<dto::Call, Error> {
    let (calls, _): (Vec<dto::Call>, _) = get_json(a.api()?, "GET", "/v1/calls", None)?;
    calls
        .into_iter()
        .rev()
        .find(|c| c.id == id)
        .ok_or_else(|| format!("the daemon forgot call {id}").into())
}

fn print_call(c: &dto::Call, json: bool) -> Result<(), Error> {
    if json {
        println!("{}", serde_json::to_string(c)?);
        return Ok(());
    }
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{v} ms"));
    let rx = c.media.as_ref().map(|m| &m.rx);
    table(
        &[
            "CALL", "NAME", "DIR", "STATE", "CODE", "RINGING", "ANSWERED", "M2E P50", "M2E P95",
            "LOSS", "MAX GAP",
        ],
        &[vec![
            c.id.to_string(),
            c.name.clone(),
            c.direction.clone(),
            c.state.clone(),
            c.code.map_or("-".into(), |v| v.to_string()),
            ms(c.ringing_ms),
            ms(c.answered_ms),
            ms(rx.and_then(|r| r.m2e_p50_ms)),
            ms(rx.and_then(|r| r.m2e_p95_ms)),
            rx.map_or("-".into(), |r| format!("{:.1} %", r.loss_pct)),
            rx.map_or("-".into(), |r| format!("{} ms", r.max_gap_ms)),
        ]],
    );
    if let Some(r) = &c.reason {
        println!("{r}");
    }
    Ok(())
}

/// `callsign call NAME`: dial, follow, hang up after `--duration` (or
/// when the WAV has been sent, or on Ctrl-C), print the figures.
pub fn call(a: &CallArgs) -> Result<ExitCode, Error> {
    check_wav(&a.wav)?;
    let req = dto::DialRequest {
        name: a.name.clone(),
        wav: abs(&a.wav)?,
        record: abs(&a.record)?,
        audio_in: a.audio_in.audio_in.clone(),
        audio_out: a.audio_out.audio_out.clone(),
    };
    let c: dto::Call = post(&a.client, "/v1/calls", &req)?;
    catch_sigint();
    let id = c.id;
    eprintln!("calling {} (call {id})", a.name);
    let t0 = Instant::now();
    let mut state = c.state.clone();
    let mut answered_at = None;
    let c = loop {
        let c = find_call(&a.client, id)?;
        if c.state != state {
            eprintln!(
                "{}: {}",
                c.state,
                c.peer.map_or(String::new(), |p| p.short())
            );
            state = c.state.clone();
        }
        if c.state == "ended" || c.state == "failed" {
            break c;
        }
        if c.state == "active" {
            let at = *answered_at.get_or_insert_with(Instant::now);
            let sent = c.media.as_ref().is_some_and(|m| m.source_ended);
            let over = match a.duration {
                Some(d) => at.elapsed() >= Duration::from_secs_f64(d),
                // A WAV call ends after the file and a second of tail.
                None => a.wav.is_some() && sent && at.elapsed() > Duration::from_secs(1),
            };
            if over || interrupted() {
                break hangup_call(&a.client, Some(id))?;
            }
        } else if interrupted() || t0.elapsed() > Duration::from_secs(a.ring_timeout) {
            break hangup_call(&a.client, Some(id))?;
        }
        std::thread::sleep(POLL);
    };
    print_call(&c, a.client.json)?;
    Ok(if c.state == "failed" || c.answered_ms.is_none() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `callsign answer`: answer the ringing call (or `--call ID`), then
/// follow it like `call` does when `--duration` is given.
pub fn answer(a: &AnswerArgs) -> Result<ExitCode, Error> {
    check_wav(&a.wav)?;
    let req = dto::AnswerRequest {
        call: a.call,
        wav: abs(&a.wav)?,
        record: abs(&a.record)?,
        audio_in: a.audio_in.audio_in.clone(),
        audio_out: a.audio_out.audio_out.clone(),
    };
    let c: dto::Call = post(&a.client, "/v1/answer", &req)?;
    let Some(d) = a.duration else {
        print_call(&c, a.client.json)?;
        return Ok(ExitCode::SUCCESS);
    };
    catch_sigint();
    let t0 = Instant::now();
    let c = loop {
        let c = find_call(&a.client, c.id)?;
        if c.state == "ended" || c.state == "failed" {
            break c;
        }
        if t0.elapsed() >= Duration::from_secs_f64(d) || interrupted() {
            break hangup_call(&a.client, Some(c.id))?;
        }
        std::thread::sleep(POLL);
    };
    print_call(&c, a.client.json)?;
    Ok(ExitCode::SUCCESS)
}

pub fn hangup(a: &HangupArgs) -> Result<ExitCode, Error> {
    let c = hangup_call(&a.client, a.call)?;
    print_call(&c, a.client.json)?;
    Ok(ExitCode::SUCCESS)
}

pub fn calls(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (cs, raw): (Vec<dto::Call>, _) = get_json(a.api()?, "GET", "/v1/calls", None)?;
    if a.json {
        println!("{}", raw.trim());
    } else if cs.is_empty() {
        println!("no calls");
    } else {
        for c in &cs {
            print_call(c, false)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn tg_table(ts: &[dto::Talkgroup]) {
    let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{v} ms"));
    table(
        &[
            "TALKGROUP",
            "TALKER",
            "STATE",
            "LAST",
            "ACCESS P50",
            "ACCESS P95",
            "BURSTS HEARD",
            "M2E P95",
        ],
        &ts.iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.talker.as_ref().map_or("-".into(), |x| x.name.clone()),
                    if t.transmitting {
                        "transmitting"
                    } else if t.requesting {
                        "requesting"
                    } else {
                        "listening"
                    }
                    .into(),
                    t.last_outcome.clone().unwrap_or_else(|| "-".into()),
                    ms(t.access_p50_ms),
                    ms(t.access_p95_ms),
                    t.bursts_heard.to_string(),
                    ms(t.rx.m2e_p95_ms),
                ]
            })
            .collect::<Vec<_>>(),
    );
}

fn talkgroup(a: &ClientArgs, name: &str) -> Result<dto::Talkgroup, Error> {
    let (ts, _): (Vec<dto::Talkgroup>, _) = get_json(a.api()?, "GET", "/v1/talkgroups", None)?;
    ts.into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("not a member of {name}").into())
}

/// `callsign ptt TG`: press, wait for the permit, talk until the WAV
/// ends (or `--duration`, or Ctrl-C), release; print the outcome.
pub fn ptt(a: &PttArgs) -> Result<ExitCode, Error> {
    if a.hold || a.toggle {
        return super::hold::run(a);
    }
    check_wav(&a.wav)?;
    let req = dto::PttRequest {
        wav: abs(&a.wav)?,
        audio_in: a.audio_in.audio_in.clone(),
        priority: Some(a.priority.clone()),
        browser: false,
    };
    let path = format!("/v1/talkgroups/{}/ptt", a.talkgroup);
    let _: dto::Talkgroup = post(&a.client, &path, &req)?;
    catch_sigint();
    let t0 = Instant::now();
    let mut said_permit = false;
    let t = loop {
        let t = talkgroup(&a.client, &a.talkgroup)?;
        if t.transmitting && !said_permit {
            eprintln!(
                "talk permit: {}",
                t.last_outcome.clone().unwrap_or_default()
            );
            said_permit = true;
        }
        let over = a
            .duration
            .is_some_and(|d| t0.elapsed() >= Duration::from_secs_f64(d));
        if (!t.transmitting && !t.requesting) || over || interrupted() {
            if t.transmitting || t.requesting {
                let rel = format!("/v1/talkgroups/{}/release", a.talkgroup);
                let t: dto::Talkgroup = post(&a.client, &rel, &serde_json::json!({}))?;
                break t;
            }
            break t;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ok = t
        .last_outcome
        .as_deref()
        .is_some_and(|o| o.starts_with("granted") || o == "done");
    if a.client.json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        tg_table(std::slice::from_ref(&t));
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `callsign listen TG`: join (recording with `--record`) and show who
/// talks until `--duration` or Ctrl-C; then leave unless `--stay`.
pub fn listen(a: &ListenArgs) -> Result<ExitCode, Error> {
    let req = dto::ListenRequest {
        record: abs(&a.record)?,
        audio_out: a.audio_out.audio_out.clone(),
    };
    let path = format!("/v1/talkgroups/{}/listen", a.talkgroup);
    let _: dto::Talkgroup = post(&a.client, &path, &req)?;
    catch_sigint();
    let t0 = Instant::now();
    let mut talker = None;
    loop {
        let t = talkgroup(&a.client, &a.talkgroup)?;
        let now = t.talker.as_ref().map(|x| x.name.clone());
        if now != talker {
            match &now {
                Some(n) => eprintln!("{n} is talking"),
                None => eprintln!("floor idle"),
            }
            talker = now;
        }
        if a.duration
            .is_some_and(|d| t0.elapsed() >= Duration::from_secs_f64(d))
            || interrupted()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let t = if a.stay {
        talkgroup(&a.client, &a.talkgroup)?
    } else {
        let leave = format!("/v1/talkgroups/{}/leave", a.talkgroup);
        post::<dto::Talkgroup>(&a.client, &leave, &serde_json::json!({}))?
    };
    if a.client.json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        tg_table(std::slice::from_ref(&t));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn talkgroups(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (ts, raw): (Vec<dto::Talkgroup>, _) = get_json(a.api()?, "GET", "/v1/talkgroups", None)?;
    if a.json {
        println!("{}", raw.trim());
    } else if ts.is_empty() {
        println!("in no talkgroup (join one with `callsign listen TG` or `up --talkgroup TG`)");
    } else {
        tg_table(&ts);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn mayday(a: &MaydayArgs) -> Result<ExitCode, Error> {
    check_wav(&a.wav)?;
    let req = dto::MaydayRequest {
        talkgroup: a.talkgroup.clone(),
        wav: abs(&a.wav)?,
        lat: a.lat,
        lon: a.lon,
        accuracy_m: None,
    };
    let ts: Vec<dto::Talkgroup> = post(&a.client, "/v1/mayday", &req)?;
    eprintln!(
        "MAYDAY declared: presence emergency in the directory, emergency press on {}",
        ts.iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    catch_sigint();
    let t0 = Instant::now();
    // Hold the floors until the time is up, every WAV has been sent, or Ctrl-C.
    let mut held = ts;
    while t0.elapsed() < Duration::from_secs_f64(a.duration.max(0.0)) && !interrupted() {
        std::thread::sleep(Duration::from_millis(50));
        let (all, _): (Vec<dto::Talkgroup>, _) =
            get_json(a.client.api()?, "GET", "/v1/talkgroups", None)?;
        held = all
            .into_iter()
            .filter(|t| held.iter().any(|m| m.name == t.name))
            .collect();
        if held.iter().all(|t| !t.transmitting && !t.requesting) {
            break;
        }
    }
    let mut out = Vec::new();
    for t in &held {
        let rel = format!("/v1/talkgroups/{}/release", t.name);
        out.push(post::<dto::Talkgroup>(
            &a.client,
            &rel,
            &serde_json::json!({}),
        )?);
    }
    if a.client.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        tg_table(&out);
    }
    Ok(ExitCode::SUCCESS)
}

/// `callsign audio devices`: the sound cards here (the daemon runs on this
/// machine and opens them by name or id).
pub fn audio_devices(json: bool) -> Result<ExitCode, Error> {
    let d = super::sound::list()?;
    if json {
        println!("{}", serde_json::to_string(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    if d.inputs.is_empty() && d.outputs.is_empty() {
        println!("no sound devices found (audio stays WAV files or silence)");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = [("in", &d.inputs), ("out", &d.outputs)]
        .into_iter()
        .flat_map(|(dir, list)| {
            list.iter().map(move |x| {
                vec![
                    dir.to_string(),
                    x.name.clone(),
                    x.id.clone().unwrap_or_else(|| "-".into()),
                    if x.default { "*" } else { "" }.to_string(),
                    x.config.clone().unwrap_or_else(|| "-".into()),
                ]
            })
        })
        .collect();
    table(&["DIR", "NAME", "ID", "DEFAULT", "FORMAT"], &rows);
    for (what, list) in [("input", &d.inputs), ("output", &d.outputs)] {
        if list.is_empty() {
            println!("no {what} devices found");
        }
    }
    Ok(ExitCode::SUCCESS)
}
