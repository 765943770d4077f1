//! A gpsd client: this node's position from the GPS receiver, at a rate
//! the control budget can carry.
//!
//! gpsd speaks newline-delimited JSON over TCP (port 2947): it greets with
//! a `VERSION` object; the client asks for reports with
//! `?WATCH={"enable":true,"json":true}`; then `TPV` (time-position-
//! velocity) objects arrive, about one a second per receiver, among
//! `DEVICES`, `WATCH` and `SKY` ones that are skipped. A TPV with `mode`
//! 2 (2D) or 3 (3D) carries `lat`, `lon`, an error estimate (`eph`, or
//! `epx`/`epy`) and a `time`.
//!
//! Every position change re-signs this node's directory record and
//! gossips it mesh-wide, so [`Throttle`] lets a fix through only when the
//! node moved more than `min_move_m` (default 25 m) since the last one
//! published and at least `interval` (default 30 s) after it. A lost
//! connection is retried every few seconds; gpsd restarting is normal.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::GpsdSettings;

/// What the client sends after the greeting.
pub const WATCH: &str = "?WATCH={\"enable\":true,\"json\":true}\n";
/// A line longer than this is not gpsd talking: the connection is dropped.
const MAX_LINE: u64 = 64 * 1024;
/// Accuracy assumed when a fix carries no error estimate (metres).
const DEFAULT_ACCURACY_M: f64 = 50.0;

/// One usable fix.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    /// Fix time, Unix seconds (the receiver's, else this machine's clock).
    pub time_s: u64,
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(a: &Fix, b: &Fix) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

/// Unix seconds of an ISO 8601 UTC time as gpsd writes it
/// (`2026-03-01T12:34:56.000Z`).
pub fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3_600 + mi * 60 + se).ok()
}

/// A fix from one line of gpsd output, if it is a TPV with a 2D/3D fix.
pub fn parse_tpv(line: &str, now_s: u64) -> Option<Fix> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("class")?.as_str()? != "TPV" || v.get("mode")?.as_u64()? < 2 {
        return None;
    }
    let lat = v.get("lat")?.as_f64()?;
    let lon = v.get("lon")?.as_f64()?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).filter(|x| x.is_finite());
    let accuracy_m = f("eph")
        .or_else(|| Some(f("epx")?.max(f("epy")?)))
        .unwrap_or(DEFAULT_ACCURACY_M);
    let time_s = v
        .get("time")
        .and_then(|t| t.as_str())
        .and_then(parse_time)
        .unwrap_or(now_s);
    Some(Fix {
        lat,
        lon,
        accuracy_m,
        time_s,
    })
}

/// Lets a fix through when it moved far enough, not too soon after the last.
#[derive(Debug)]
pub struct Throttle {
    min_move_m: f64,
    interval: Duration,
    last: Option<(Fix, Instant)>,
}

impl Throttle {
    pub fn new(min_move_m: f64, interval: Duration) -> Throttle {
        Throttle {
            min_move_m,
            interval,
            last: None,
        }
    }

    /// Whether `fix` (seen at `now`) should be published; remembers it if so.
    pub fn offer(&mut self, now: Instant, fix: Fix) -> bool {
        let go = match &self.last {
            None => true,
            Some((prev, at)) => {
                now.saturating_duration_since(*at) >= self.interval
                    && distance_m(prev, &fix) > self.min_move_m
            }
        };
        if go {
            self.last = Some((fix, now));
        }
        go
    }
}

fn unix_now() -> u64 {
    super::clock::unix_ms() / 1000
}

/// One connection: greet, watch, pass on throttled fixes until it ends.
async fn session(
    s: &GpsdSettings,
    throttle: &mut Throttle,
    out: &mpsc::Sender<Fix>,
) -> Result<(), String> {
    let stream = TcpStream::connect(&s.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (rd, mut wr) = stream.into_split();
    wr.write_all(WATCH.as_bytes())
        .await
        .map_err(|e| format!("cannot send WATCH: {e}"))?;
    tracing::info!(gpsd = %s.addr, "gpsd: watching for fixes");
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut rd)
            .take(MAX_LINE)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("gpsd closed the connection".into());
        }
        if !line.ends_with('\n') && n as u64 >= MAX_LINE {
            return Err("a line over 64 KiB: not gpsd".into());
        }
        let Some(fix) = parse_tpv(line.trim(), unix_now()) else {
            continue;
        };
        if throttle.offer(Instant::now(), fix) {
            tracing::info!(
                lat = fix.lat,
                lon = fix.lon,
                accuracy_m = fix.accuracy_m,
                "gpsd: position"
            );
            if out.send(fix).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Follow gpsd forever (reconnecting after `retry`), sending each fix
/// worth publishing to `out`. Ends when `out` is closed.
pub async fn run(s: GpsdSettings, retry: Duration, out: mpsc::Sender<Fix>) {
    let mut throttle = Throttle::new(s.min_move_m, s.interval);
    let mut failing = false;
    while !out.is_closed() {
        match session(&s, &mut throttle, &out).await {
            Ok(()) => return,
            Err(e) => {
                // Said once per outage, not every few seconds.
                if !failing {
                    tracing::warn!(gpsd = %s.addr, "gpsd: {e}; retrying every {} s", retry.as_secs());
                }
                failing = true;
            }
        }
        tokio::time::sleep(retry).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn tpv(lat: f64, lon: f64) -> String {
        format!(
            "{{\"class\":\"TPV\",\"device\":\"/dev/ttyACM0\",\"mode\":3,\"time\":\"2026-03-01T12:00:00.000Z\",\"lat\":{lat},\"lon\":{lon},\"alt\":31.2,\"eph\":4.5}}\n"
        )
    }

    #[test]
    fn tpv_reports_are_read() {
        let f = parse_tpv(tpv(45.5, -73.6).trim(), 7).expect("fix");
        assert_eq!((f.lat, f.lon, f.accuracy_m), (45.5, -73.6, 4.5));
        assert_eq!(f.time_s, 1_772_366_400);
        let no_fix = r#"{"class":"TPV","mode":1,"lat":1.0,"lon":2.0}"#;
        assert_eq!(parse_tpv(no_fix, 7), None);
        let sky = r#"{"class":"SKY","satellites":[]}"#;
        assert_eq!(parse_tpv(sky, 7), None);
        let epxy = r#"{"class":"TPV","mode":2,"lat":1.0,"lon":2.0,"epx":3.0,"epy":8.0}"#;
        assert_eq!(
            parse_tpv(epxy, 7),
            Some(Fix {
                lat: 1.0,
                lon: 2.0,
                accuracy_m: 8.0,
                time_s: 7
            })
        );
        assert_eq!(parse_tpv("not json", 7), None);
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2000-03-01T00:00:01.5Z"), Some(951_868_801));
        assert_eq!(parse_time("2000-13-01T00:00:00Z"), None);
    }

    #[test]
    fn throttle_needs_both_distance_and_time() {
        let t0 = Instant::now();
        let mut t = Throttle::new(25.0, Duration::from_secs(30));
        let at = |lat: f64| Fix {
            lat,
            lon: 10.0,
            accuracy_m: 5.0,
            time_s: 0,
        };
        // 0.0001 degree of latitude is 11 m; 0.001 is 111 m.
        assert!(t.offer(t0, at(50.0)));
        assert!(
            !t.offer(t0 + Duration::from_secs(60), at(50.0001)),
            "11 m is not a move"
        );
        assert!(
            !t.offer(t0 + Duration::from_secs(5), at(50.001)),
            "too soon"
        );
        assert!(t.offer(t0 + Duration::from_secs(31), at(50.001)));
        assert!(
            !t.offer(t0 + Duration::from_secs(40), at(50.002)),
            "30 s since the last one"
        );
        assert!((distance_m(&at(50.0), &at(50.001)) - 111.2).abs() < 0.5);
    }

    /// A scripted gpsd: greets, checks the WATCH command, sends fixes,
    /// closes; then a second connection proves the client reconnects.
    #[tokio::test]
    async fn follows_a_scripted_gpsd_and_reconnects() {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let server = tokio::spawn(async move {
            let mut watches = Vec::new();
            for round in 0..2 {
                let (s, _) = l.accept().await.expect("accept");
                let (rd, mut wr) = s.into_split();
                wr.write_all(b"{\"class\":\"VERSION\",\"release\":\"3.25\",\"proto_major\":3,\"proto_minor\":15}\n")
                    .await
                    .expect("greet");
                let mut rd = BufReader::new(rd);
                let mut w = String::new();
                rd.read_line(&mut w).await.expect("watch");
                watches.push(w);
                wr.write_all(
                    b"{\"class\":\"DEVICES\",\"devices\":[]}\n{\"class\":\"TPV\",\"mode\":1}\n",
                )
                .await
                .expect("preamble");
                let lines = if round == 0 {
                    // Published, 11 m (no), 111 m too soon (no), 111 m later (yes).
                    vec![
                        (tpv(50.0, 10.0), 0),
                        (tpv(50.0001, 10.0), 0),
                        (tpv(50.001, 10.0), 400),
                        (tpv(50.001, 10.0), 0),
                    ]
                } else {
                    vec![(tpv(50.01, 10.0), 0)]
                };
                for (l, pause_ms) in lines {
                    wr.write_all(l.as_bytes()).await.expect("tpv");
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                }
                // Let the client read before the close.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            watches
        });
        let (tx, mut rx) = mpsc::channel(16);
        let s = GpsdSettings {
            addr,
            min_move_m: 25.0,
            interval: Duration::from_millis(200),
        };
        let client = tokio::spawn(run(s, Duration::from_millis(100), tx));
        let mut got = Vec::new();
        while got.len() < 3 {
            let f = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("a fix within 5 s")
                .expect("channel open");
            got.push(f.lat);
        }
        assert_eq!(got, [50.0, 50.001, 50.01]);
        let watches = server.await.expect("server");
        assert_eq!(watches, [WATCH, WATCH]);
        drop(rx);
        client.abort();
    }
}
