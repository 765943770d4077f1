//! `callsign ptt --hold TG`: talk while Space is held in a terminal.
//!
//! A terminal reports key presses, not releases. While a key is held it
//! sends the character again at the keyboard's repeat rate, after an
//! initial delay (typically 250–660 ms, then every 25–40 ms), so a held
//! Space is a run of spaces and its release is the end of the run.
//! [`Judge`] makes that call from the arrival times alone (a pure
//! function, tested without a terminal): the first space presses; no
//! space for longer than the initial delay allows (before any repeat) or
//! than a few repeat intervals (once they come) releases. A quick tap
//! therefore talks for about [`FIRST_REPEAT_WAIT`].
//!
//! Where the terminal cannot tell (stdin not a TTY: a pipe, a serial
//! console script), or with `--toggle`, each Space or Enter toggles.
//!
//! The terminal is put in raw mode (no echo, no line buffering, Ctrl-C as
//! a byte) and restored on every way out: return, Ctrl-C, `q`, end of
//! input, SIGINT from elsewhere, and a panic (a hook restores it first).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cli::PttArgs;
use super::dto;
use super::voice_client::{Error, catch_sigint, interrupted, post};

/// Before the first repeat: the longest initial delay a keyboard is set
/// to (660 ms under X) and a margin for a loaded machine.
pub const FIRST_REPEAT_WAIT: Duration = Duration::from_millis(800);
/// Once repeats come: this many repeat intervals without one is a release.
const MISSED_REPEATS: u32 = 4;
/// Bounds of that wait, whatever the measured rate.
const MIN_REPEAT_WAIT: Duration = Duration::from_millis(100);
const MAX_REPEAT_WAIT: Duration = Duration::from_millis(300);
/// How often the loop looks at SIGINT while nothing happens.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The key went down or came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Down,
    Up,
}

/// Whether Space is held, from the times spaces arrive (any clock, as
/// durations since a common start).
#[derive(Debug, Clone, Default)]
pub struct Judge {
    held: Option<Held>,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    /// The last space.
    last: Duration,
    /// Spaces after the first: 0 until the initial delay has passed.
    repeats: u32,
    /// The shortest gap between two repeats (the repeat interval).
    interval: Option<Duration>,
}

impl Judge {
    pub fn new() -> Judge {
        Judge::default()
    }

    pub fn held(&self) -> bool {
        self.held.is_some()
    }

    /// A space arrived at `t`.
    pub fn space(&mut self, t: Duration) -> Option<Edge> {
        let Some(h) = &mut self.held else {
            self.held = Some(Held {
                last: t,
                repeats: 0,
                interval: None,
            });
            return Some(Edge::Down);
        };
        // The first gap is the initial delay, not the repeat interval.
        if h.repeats > 0 {
            let gap = t.saturating_sub(h.last);
            h.interval = Some(h.interval.map_or(gap, |i| i.min(gap)));
        }
        h.repeats += 1;
        h.last = t;
        None
    }

    /// When a release is due if no space comes first.
    pub fn deadline(&self) -> Option<Duration> {
        let h = self.held?;
        let wait = match (h.repeats, h.interval) {
            (0, _) => FIRST_REPEAT_WAIT,
            (_, None) => MAX_REPEAT_WAIT,
            (_, Some(i)) => (i * MISSED_REPEATS).clamp(MIN_REPEAT_WAIT, MAX_REPEAT_WAIT),
        };
        Some(h.last + wait)
    }

    /// The time is `t`: a release if the repeats stopped.
    pub fn tick(&mut self, t: Duration) -> Option<Edge> {
        if self.deadline().is_some_and(|d| t > d) {
            self.held = None;
            return Some(Edge::Up);
        }
        None
    }
}

/// The terminal settings to restore, for the panic hook.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

fn restore_saved() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(t) = saved {
        // SAFETY: fd 0 and a termios tcgetattr filled.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
    }
}

/// Raw mode on stdin while it lives.
struct RawMode;

impl RawMode {
    fn enter() -> Result<RawMode, Error> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return Err(format!(
                "cannot read the terminal: {}",
                std::io::Error::last_os_error()
            )
            .into());
        }
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_saved();
            prev(info);
        }));
        let mut raw = t;
        // No line editing, no echo, Ctrl-C and Ctrl-Z as bytes.
        raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
        raw.c_iflag &= !(libc::IXON | libc::ICRNL);
        raw.c_cc[libc::VMIN] = 0;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: as above.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &raw) } != 0 {
            restore_saved();
            return Err(format!(
                "cannot set the terminal: {}",
                std::io::Error::last_os_error()
            )
            .into());
        }
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_saved();
    }
}

/// Wait up to `d` for stdin; the bytes read (empty: timeout; `None`: end
/// of input).
fn read_stdin(d: Duration) -> Option<Vec<u8>> {
    let mut p = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = d.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n <= 0 {
        return Some(Vec::new());
    }
    let mut buf = [0u8; 64];
    // SAFETY: reads into a buffer of its size.
    let got = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
    match got {
        0 => None,
        n if n < 0 => {
            let e = std::io::Error::last_os_error();
            (e.kind() == std::io::ErrorKind::Interrupted).then(Vec::new)
        }
        n => Some(buf[..n as usize].to_vec()),
    }
}

/// `callsign ptt --hold` / `--toggle`.
pub fn run(a: &PttArgs) -> Result<ExitCode, Error> {
    let tty = std::io::stdin().is_terminal();
    let toggle = a.toggle || !tty;
    let raw = if tty { Some(RawMode::enter()?) } else { None };
    catch_sigint();
    let how = if toggle {
        "Space or Enter: talk / stop"
    } else {
        "hold Space to talk"
    };
    eprint!("{}: {how}; q or Ctrl-C ends\r\n", a.talkgroup);
    let mut judge = Judge::new();
    let mut on = false;
    let r = talk(a, toggle, &mut judge, &mut on);
    // Never leave the floor held, whatever ended the loop.
    let released = if on || judge.held() {
        edge(a, Edge::Up)
    } else {
        Ok(())
    };
    drop(raw);
    r.and(released)?;
    Ok(ExitCode::SUCCESS)
}

/// Read keys and press or release until q, Ctrl-C, SIGINT or the end of
/// input. `on`: toggled on (toggle mode).
fn talk(a: &PttArgs, toggle: bool, judge: &mut Judge, on: &mut bool) -> Result<(), Error> {
    let t0 = Instant::now();
    loop {
        if interrupted() {
            return Ok(());
        }
        let wait = judge
            .deadline()
            .map_or(IDLE_POLL, |d| d.saturating_sub(t0.elapsed()))
            .min(IDLE_POLL);
        let Some(bytes) = read_stdin(wait) else {
            return Ok(());
        };
        for b in bytes {
            let e = match b {
                b'q' | b'Q' | 0x03 | 0x04 => return Ok(()),
                b' ' | b'\n' | b'\r' if toggle => {
                    *on = !*on;
                    Some(if *on { Edge::Down } else { Edge::Up })
                }
                b' ' => judge.space(t0.elapsed()),
                _ => None,
            };
            if let Some(e) = e {
                edge(a, e)?;
            }
        }
        if !toggle && let Some(e) = judge.tick(t0.elapsed()) {
            edge(a, e)?;
        }
    }
}

/// Press or release on the daemon, and say so.
fn edge(a: &PttArgs, e: Edge) -> Result<(), Error> {
    match e {
        Edge::Down => {
            let req = dto::PttRequest {
                wav: None,
                audio_in: a.audio_in.audio_in.clone(),
                priority: Some(a.priority.clone()),
                browser: false,
            };
            let t: dto::Talkgroup = post(
                &a.client,
                &format!("/v1/talkgroups/{}/ptt", a.talkgroup),
                &req,
            )?;
            let state = if t.transmitting {
                "talking"
            } else {
                "waiting for the floor"
            };
            eprint!("PTT down: {state}\r\n");
        }
        Edge::Up => {
            let t: dto::Talkgroup = post(
                &a.client,
                &format!("/v1/talkgroups/{}/release", a.talkgroup),
                &serde_json::json!({}),
            )?;
            eprint!(
                "PTT up: {}\r\n",
                t.last_outcome.unwrap_or_else(|| "released".into())
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Feed spaces at `times` (ms) and look every 5 ms up to `until`:
    /// each edge with the time it was judged.
    fn run(times: &[u64], until: u64) -> Vec<(Edge, u64)> {
        let mut j = Judge::new();
        let mut out = Vec::new();
        let mut next = times.iter().peekable();
        for t in (0..=until).step_by(5) {
            while let Some(&&s) = next.peek() {
                if s > t {
                    break;
                }
                next.next();
                out.extend(j.space(ms(s)).map(|e| (e, t)));
            }
            out.extend(j.tick(ms(t)).map(|e| (e, t)));
        }
        out
    }

    /// A held key: the first space, the initial delay, then repeats.
    fn held(from: u64, delay: u64, every: u64, until: u64) -> Vec<u64> {
        let mut v = vec![from];
        let mut t = from + delay;
        while t <= until {
            v.push(t);
            t += every;
        }
        v
    }

    #[test]
    fn held_space_talks_until_the_repeats_stop() {
        // 500 ms delay, 30 ms repeats, held for 3 s.
        let edges = run(&held(100, 500, 30, 3_100), 4_000);
        assert_eq!(edges.len(), 2, "{edges:?}");
        assert_eq!(edges[0], (Edge::Down, 100));
        let (e, t) = edges[1];
        assert_eq!(e, Edge::Up);
        // Last repeat at 3 100 ms: released 4 intervals (120 ms) later.
        assert!((3_200..=3_240).contains(&t), "released at {t}");
    }

    #[test]
    fn the_initial_delay_is_not_a_release() {
        // X's default: 660 ms before the first repeat, then 40 ms (25 Hz).
        let edges = run(&held(0, 660, 40, 2_000), 3_000);
        assert_eq!(
            edges.iter().filter(|e| e.0 == Edge::Up).count(),
            1,
            "{edges:?}"
        );
        assert!(edges[1].1 >= 2_000, "{edges:?}");
    }

    #[test]
    fn a_tap_talks_briefly_and_two_holds_are_two_bursts() {
        let edges = run(&[0], 2_000);
        assert_eq!(edges, [(Edge::Down, 0), (Edge::Up, 805)]);
        let mut times = held(0, 500, 30, 1_000);
        times.extend(held(2_000, 500, 30, 3_000));
        let edges = run(&times, 4_000);
        let downs: Vec<u64> = edges
            .iter()
            .filter(|e| e.0 == Edge::Down)
            .map(|e| e.1)
            .collect();
        assert_eq!(downs, [0, 2_000], "{edges:?}");
        assert_eq!(edges.len(), 4);
    }

    #[test]
    fn a_slow_repeat_rate_keeps_the_key_down() {
        // 10 Hz repeats (100 ms): never a gap of 4 intervals.
        let edges = run(&held(0, 250, 100, 2_000), 2_000);
        assert_eq!(edges, [(Edge::Down, 0)]);
        let mut j = Judge::new();
        j.space(ms(0));
        assert_eq!(j.deadline(), Some(FIRST_REPEAT_WAIT));
        j.space(ms(250));
        j.space(ms(350));
        assert_eq!(j.deadline(), Some(ms(350 + 300)), "capped at 300 ms");
    }
}
