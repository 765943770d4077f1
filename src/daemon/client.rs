//! The CLI clients: a small blocking HTTP/1.1 client over std's TcpStream
//! (enough for a local API; no HTTP client stack to build) and the output
//! an operator reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use super::auth::{self, Token};
use super::cli::{BenchCommand, ClientArgs, PingArgs};
use super::dto::{self, PingLine};

type Error = Box<dyn std::error::Error>;

/// Where the daemon's API is and the token it wants (`auth`).
#[derive(Clone, Copy, Debug)]
pub struct Api {
    pub addr: SocketAddr,
    /// None when there was none to read: the daemon's 401 then says so.
    pub token: Option<Token>,
}

impl Api {
    /// The API at `addr`, with the token from CALLSIGN_TOKEN, else from
    /// `api.token` in `dir`. A token file that exists but cannot be read
    /// is an error that says why (typically: the daemon runs as another
    /// user).
    pub fn new(addr: SocketAddr, dir: &Path) -> Result<Api, Error> {
        if let Some(t) = std::env::var_os("CALLSIGN_TOKEN") {
            let t = t
                .to_str()
                .and_then(Token::parse)
                .ok_or("CALLSIGN_TOKEN is not an API token (64 hex digits)")?;
            return Ok(Api {
                addr,
                token: Some(t),
            });
        }
        let path = dir.join(auth::TOKEN_FILE);
        let token = match auth::read(dir) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(format!(
                    "cannot read the API token {}: permission denied; run the command as the                      daemon's user or root (e.g. `sudo callsign ...`), or give the token in                      CALLSIGN_TOKEN",
                    path.display()
                )
                .into());
            }
            Err(e) => return Err(format!("API token {}: {e}", path.display()).into()),
        };
        Ok(Api { addr, token })
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.addr.fmt(f)
    }
}

/// A response whose body is read as it arrives.
struct Response {
    status: u16,
    body: Box<dyn BufRead>,
}

/// How long a request waits for the daemon's answer. The engine answers
/// between two inputs, in milliseconds; ten seconds of silence means it
/// is wedged, and a command must say so rather than hang.
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(api: Api) -> Result<TcpStream, Error> {
    let s = TcpStream::connect_timeout(&api.addr, Duration::from_secs(2)).map_err(|_| {
        format!(
            "no callsign daemon at {api} — start one with `callsign up` (or `systemctl start \
             callsign`); another address: --api ADDR or CALLSIGN_API"
        )
    })?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    s.set_write_timeout(Some(READ_TIMEOUT))?;
    Ok(s)
}

/// An IO error, said plainly when it is the daemon not answering in time.
pub(super) fn io_error(api: Api, wait: Duration, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
            "the daemon at {api} took the request but did not answer within {} s: it is wedged \
             or overloaded (its log: `journalctl -u callsign`; restart: `systemctl restart \
             callsign`)",
            wait.as_secs_f64()
        )
        .into(),
        _ => format!("talking to the daemon at {api}: {e}").into(),
    }
}

fn request(
    api: Api,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(Response, TcpStream), Error> {
    let mut s = connect(api)?;
    let body = body.unwrap_or("");
    let io = |e| io_error(api, READ_TIMEOUT, e);
    let auth = api
        .token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.as_str()))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\n{auth}Connection: close\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let handle = s.try_clone()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(io)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer from {api}: {line:?}"))?;
    let (mut chunked, mut length) = (false, None);
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(io)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse::<u64>().ok();
            }
        }
    }
    let body: Box<dyn BufRead> = match (chunked, length) {
        (true, _) => Box::new(BufReader::new(Chunked {
            inner: r,
            left: 0,
            done: false,
        })),
        (false, Some(n)) => Box::new(BufReader::new(r.take(n))),
        (false, None) => Box::new(r),
    };
    Ok((Response { status, body }, handle))
}

/// Transfer-Encoding: chunked, decoded as it streams.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                // The CRLF that ends the previous chunk.
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

pub(super) fn get_json<T: serde::de::DeserializeOwned>(
    api: Api,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(T, String), Error> {
    let (mut resp, _) = request(api, method, path, body)?;
    let mut text = String::new();
    resp.body
        .read_to_string(&mut text)
        .map_err(|e| io_error(api, READ_TIMEOUT, e))?;
    if resp.status != 200 {
        return Err(api_error(resp.status, &text).into());
    }
    let v = serde_json::from_str(&text)
        .map_err(|e| format!("unexpected answer from the daemon: {e}"))?;
    Ok((v, text))
}

/// A streamed answer (server-sent events), read line by line; a read
/// waits at most `silence` before it fails.
pub(super) fn stream(api: Api, path: &str, silence: Duration) -> Result<Box<dyn BufRead>, Error> {
    let (mut resp, handle) = request(api, "GET", path, None)?;
    if resp.status != 200 {
        let mut text = String::new();
        resp.body.read_to_string(&mut text)?;
        return Err(api_error(resp.status, &text).into());
    }
    handle.set_read_timeout(Some(silence))?;
    Ok(resp.body)
}

/// A plain-text answer (e.g. CSV).
pub(super) fn get_text(api: Api, path: &str) -> Result<String, Error> {
    let (mut resp, _) = request(api, "GET", path, None)?;
    let mut text = String::new();
    resp.body
        .read_to_string(&mut text)
        .map_err(|e| io_error(api, READ_TIMEOUT, e))?;
    if resp.status != 200 {
        return Err(api_error(resp.status, &text).into());
    }
    Ok(text)
}

fn api_error(status: u16, text: &str) -> String {
    let msg = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    let hint = if status == 401 {
        format!(
            " (the CLI reads the token from {} in the daemon's data dir: --data-dir or \
             CALLSIGN_DATA_DIR name it, else the config file's data_dir, else {}; \
             CALLSIGN_TOKEN gives the token itself)",
            auth::TOKEN_FILE,
            super::config::default_data_dir().display()
        )
    } else {
        String::new()
    };
    format!("daemon answered {status}: {msg}{hint}")
}

/// Left-aligned columns, two spaces apart.
pub(super) fn table(head: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<0$}", w[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(head.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

pub(super) fn names(n: &[String]) -> String {
    if n.is_empty() {
        "-".into()
    } else {
        n.join(",")
    }
}

pub fn status(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (s, raw): (dto::Status, _) = get_json(a.api()?, "GET", "/v1/status", None)?;
    if a.json {
        println!("{}", raw.trim());
        return Ok(ExitCode::SUCCESS);
    }
    let ifaces: Vec<String> = s
        .interfaces
        .iter()
        .map(|i| format!("{} ({} {})", i.name, i.family, i.address))
        .collect();
    println!("id            {}", s.id);
    println!("names         {}", names(&s.names));
    println!(
        "base station  {}",
        if s.base_station { "yes" } else { "no" }
    );
    println!("trust         {}", s.trust);
    println!(
        "interfaces    {}",
        if ifaces.is_empty() {
            "-".into()
        } else {
            ifaces.join(", ")
        }
    );
    println!("neighbours    {}", s.neighbours);
    println!("routes        {}", s.routes);
    println!(
        "nearest base  {}",
        s.nearest_base.map_or("-".into(), |b| b.short())
    );
    println!("uptime        {:.0} s", s.uptime_s);
    println!("overlay port  {}", s.port);
    println!("malformed rx  {}", s.stats.rx_malformed);
    // Only when something was refused: a quiet line in the usual case.
    if s.app.forged_total() > 0 {
        println!(
            "forged SIP    {} refused (BYE {}, CANCEL {}, re-INVITE {})",
            s.app.forged_total(),
            s.app.forged_bye,
            s.app.forged_cancel,
            s.app.forged_reinvite
        );
    }
    if s.app.tg_refused_total() + s.app.tg_no_key + s.app.tg_replayed > 0 {
        println!(
            "talkgroups    {} packet(s) refused without the key (voice {}, floor {}, reports {}); {} replayed; {} sealed with a key we lack",
            s.app.tg_refused_total(),
            s.app.tg_refused_voice,
            s.app.tg_refused_floor,
            s.app.tg_refused_report,
            s.app.tg_replayed,
            s.app.tg_no_key
        );
    }
    match &s.sip {
        None => println!("SIP           off"),
        Some(sip) => {
            println!(
                "SIP           {} ({} phone call(s), {} malformed)",
                sip.address, sip.calls, sip.malformed
            );
            for p in &sip.phones {
                println!(
                    "  phone       {} at {} (from {}, {} s left)",
                    p.role, p.contact, p.from, p.expires_s
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn neighbours(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (ns, raw): (Vec<dto::Neighbour>, _) = get_json(a.api()?, "GET", "/v1/neighbors", None)?;
    if a.json {
        println!("{}", raw.trim());
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = ns
        .iter()
        .map(|n| {
            vec![
                n.id.short(),
                names(&n.names),
                n.iface.clone(),
                n.addr.clone(),
                n.etx.map_or("-".into(), |e| format!("{e:.2}")),
                format!("{:.1} s", n.last_heard_ms as f64 / 1000.0),
                if n.usable { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    table(
        &["ID", "NAMES", "IFACE", "ADDRESS", "ETX", "HEARD", "USABLE"],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

pub fn routes(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (rs, raw): (Vec<dto::Route>, _) = get_json(a.api()?, "GET", "/v1/routes", None)?;
    if a.json {
        println!("{}", raw.trim());
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = rs
        .iter()
        .map(|r| {
            vec![
                r.dest.short(),
                names(&r.names),
                r.next_hop.short(),
                r.metric.to_string(),
                r.hops.to_string(),
                if r.base_station { "base" } else { "" }.into(),
            ]
        })
        .collect();
    table(&["DEST", "NAMES", "NEXT HOP", "METRIC", "HOPS", ""], &rows);
    Ok(ExitCode::SUCCESS)
}

pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PING_FD: AtomicI32 = AtomicI32::new(-1);

pub(super) extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let fd = PING_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: shutdown is async-signal-safe; it ends the blocked read.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
}

/// The shortest ping interval, as ping(8) allows an unprivileged user:
/// every echo crosses each radio hop twice, on the incident's channel.
pub const MIN_PING_INTERVAL_S: f64 = 0.2;
/// Root may go lower, as with ping(8) (test rigs measuring repair time).
pub const MIN_ROOT_PING_INTERVAL_S: f64 = 0.002;

/// The interval and reply timeout of `ping -i S -W S`, in milliseconds,
/// and a warning to print when the interval is short.
pub fn ping_timing(
    interval_s: f64,
    timeout_s: f64,
    root: bool,
) -> Result<(u64, u64, Option<String>), String> {
    let floor = if root {
        MIN_ROOT_PING_INTERVAL_S
    } else {
        MIN_PING_INTERVAL_S
    };
    if !(interval_s.is_finite() && interval_s >= floor) {
        return Err(format!(
            "-i {interval_s}: the interval is in seconds, like ping(8), and at least \
             {MIN_PING_INTERVAL_S} (five echoes a second; only root may go lower)"
        ));
    }
    if !(timeout_s.is_finite() && timeout_s > 0.0 && timeout_s <= 3600.0) {
        return Err(format!(
            "--timeout {timeout_s}: seconds, above 0 and at most 3600"
        ));
    }
    let warn = (interval_s < 1.0).then(|| {
        format!(
            "warning: an echo every {interval_s} s crosses every radio hop to the target and \
             back, on the channel the incident talks on; keep such runs short"
        )
    });
    Ok((
        (interval_s * 1000.0).round() as u64,
        (timeout_s * 1000.0).round() as u64,
        warn,
    ))
}

pub fn ping(a: &PingArgs) -> Result<ExitCode, Error> {
    use std::os::fd::AsRawFd;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let (interval_ms, timeout_ms, warn) = ping_timing(a.interval, a.timeout, root)?;
    if let Some(w) = warn {
        eprintln!("{w}");
    }
    let api = a.client.api()?;
    let req = dto::PingRequest {
        target: a.target.clone(),
        interval_ms,
        count: a.count.unwrap_or(0),
        timeout_ms,
    };
    let (resp, stream) = request(api, "POST", "/v1/ping", Some(&serde_json::to_string(&req)?))?;
    let Response { status, mut body } = resp;
    if status != 200 {
        let mut text = String::new();
        body.read_to_string(&mut text)?;
        return Err(api_error(status, &text).into());
    }
    // A line comes at least every interval (a reply, or a timeout after
    // the reply timeout): silence well past both is a wedged daemon.
    let stream_wait = Duration::from_millis(interval_ms.max(timeout_ms)) + READ_TIMEOUT;
    stream.set_read_timeout(Some(stream_wait))?;
    PING_FD.store(stream.as_raw_fd(), Ordering::SeqCst);
    // SAFETY: the handler only touches atomics and calls shutdown(2).
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    let (mut replies, mut lost, mut rtts) = (0u64, 0u64, Vec::new());
    let mut summary = None;
    let mut line = String::new();
    let mut target = String::new();
    loop {
        line.clear();
        match body.read_line(&mut line) {
            Ok(0) => break,
            Err(e) if INTERRUPTED.load(Ordering::SeqCst) => {
                let _ = e;
                break;
            }
            Err(e) => {
                PING_FD.store(-1, Ordering::SeqCst);
                return Err(io_error(api, stream_wait, e));
            }
            Ok(_) => {}
        }
        let Ok(l) = serde_json::from_str::<PingLine>(&line) else {
            continue;
        };
        match &l {
            PingLine::Reply { rtt_ms, .. } => {
                replies += 1;
                rtts.push(*rtt_ms);
            }
            PingLine::Timeout { .. } | PingLine::Error { .. } => lost += 1,
            PingLine::Summary { .. } => summary = Some(l.clone()),
            PingLine::Start { .. } => {}
        }
        if a.client.json {
            if !matches!(l, PingLine::Summary { .. }) {
                println!("{}", line.trim());
            }
        } else {
            match l {
                PingLine::Start {
                    target: id,
                    names: n,
                } => {
                    target = if n.is_empty() {
                        id.short()
                    } else {
                        format!("{} ({})", n.join(","), id.short())
                    };
                    println!("PING {target} = {id}, every {} s", a.interval);
                }
                PingLine::Reply {
                    seq, hops, rtt_ms, ..
                } => println!("reply from {target}: seq={seq} hops={hops} time={rtt_ms:.2} ms"),
                PingLine::Timeout { seq } => println!("no reply: seq={seq}"),
                PingLine::Error { seq, error } => println!("not sent: seq={seq}: {error}"),
                PingLine::Summary { .. } => {}
            }
        }
        let _ = std::io::stdout().flush();
    }
    PING_FD.store(-1, Ordering::SeqCst);
    // Interrupted: the daemon's summary never came, so count what we saw.
    let summary = summary.unwrap_or_else(|| {
        let sent = replies + lost;
        let n = rtts.len() as f64;
        PingLine::Summary {
            sent,
            received: replies,
            loss_pct: if sent > 0 {
                100.0 * lost as f64 / sent as f64
            } else {
                0.0
            },
            rtt_min_ms: rtts.iter().copied().reduce(f64::min),
            rtt_avg_ms: (n > 0.0).then(|| rtts.iter().sum::<f64>() / n),
            rtt_max_ms: rtts.iter().copied().reduce(f64::max),
        }
    });
    let ok = match &summary {
        PingLine::Summary { received, .. } => *received > 0,
        _ => false,
    };
    if a.client.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else if let PingLine::Summary {
        sent,
        received,
        loss_pct,
        rtt_min_ms,
        rtt_avg_ms,
        rtt_max_ms,
    } = summary
    {
        println!("--- {target}: {sent} sent, {received} received, {loss_pct:.1}% loss");
        if let (Some(mn), Some(av), Some(mx)) = (rtt_min_ms, rtt_avg_ms, rtt_max_ms) {
            println!("rtt min/avg/max = {mn:.2}/{av:.2}/{mx:.2} ms");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The bench commands' data dir (for the token): CALLSIGN_DATA_DIR, else
/// the default.
fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("CALLSIGN_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(super::config::default_data_dir)
}

pub fn bench(b: &BenchCommand) -> Result<ExitCode, Error> {
    let raw = match b {
        BenchCommand::Send {
            target,
            count,
            pps,
            size,
            api,
        } => {
            let req = dto::BenchSend {
                target: target.clone(),
                count: *count,
                pps: *pps,
                size: *size,
            };
            get_json::<dto::BenchSent>(
                Api::new(*api, &bench_dir())?,
                "POST",
                "/v1/bench/send",
                Some(&serde_json::to_string(&req)?),
            )?
            .1
        }
        BenchCommand::Recv { reset, api } => {
            get_json::<dto::BenchRecv>(
                Api::new(*api, &bench_dir())?,
                "GET",
                &format!("/v1/bench/recv?reset={reset}"),
                None,
            )?
            .1
        }
    };
    println!("{}", raw.trim());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_interval_is_seconds_with_a_floor() {
        assert_eq!(ping_timing(1.0, 2.0, false), Ok((1000, 2000, None)));
        let (i, t, w) = ping_timing(0.2, 0.5, false).expect("0.2 s");
        assert_eq!((i, t), (200, 500));
        assert!(w.expect("warning").contains("every 0.2 s"));
        assert_eq!(ping_timing(2.5, 1.0, false).map(|x| x.0), Ok(2500));
        let e = ping_timing(0.1, 2.0, false).expect_err("below the floor");
        assert!(
            e.contains("in seconds") && e.contains("at least 0.2"),
            "{e}"
        );
        // Root may go lower, as with ping(8), still warned.
        let (i, _, w) = ping_timing(0.02, 0.5, true).expect("root");
        assert_eq!(i, 20);
        assert!(w.is_some());
        assert!(ping_timing(0.001, 0.5, true).is_err());
        assert!(ping_timing(f64::NAN, 2.0, false).is_err());
        assert!(ping_timing(1.0, 0.0, false).is_err());
    }

    /// A daemon that takes the connection and never answers: the client
    /// gives up with a message that says so (not a hang, not "Resource
    /// temporarily unavailable").
    #[test]
    fn a_silent_daemon_is_named_not_waited_for_forever() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let api = Api {
            addr: l.local_addr().expect("addr"),
            token: None,
        };
        let hold = std::thread::spawn(move || l.accept().map(|(s, _)| s));
        let t0 = std::time::Instant::now();
        let e = match get_json::<serde_json::Value>(api, "GET", "/v1/status", None) {
            Err(e) => e.to_string(),
            Ok(_) => String::from("answered"),
        };
        let took = t0.elapsed();
        assert!(e.contains("did not answer within 10 s"), "{e}");
        assert!(
            took >= READ_TIMEOUT && took < READ_TIMEOUT + Duration::from_secs(3),
            "{took:?}"
        );
        drop(hold.join());
    }
}
