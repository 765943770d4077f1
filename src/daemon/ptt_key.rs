//! A push-to-talk button on a Linux input device (a handheld's side key,
//! a foot switch, a USB button): `up --ptt-key /dev/input/event3:KEY_F13`.
//!
//! The device file yields `struct input_event` records (`linux/input.h`):
//! on 64-bit Linux a `timeval` of two 64-bit words, then `type: u16`,
//! `code: u16`, `value: i32`, native byte order, 24 bytes. [`decode`]
//! reads one; [`Button`] turns the key's events into press and release
//! (the kernel's autorepeat, value 2, is ignored; a `SYN_DROPPED` means
//! events were lost, possibly the release, so it releases: a stuck
//! transmitter blocks the whole talkgroup). A thread reads the device and
//! sends the engine the same commands `callsign ptt` does.
//!
//! The device must be readable by the daemon's user (group `input` on
//! Debian). Other programs see the key too: the button is not grabbed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::dto;
use super::engine::{Command, TalkgroupCommand};

/// `struct input_event` on this target: two `long`s of time, then 8 bytes.
pub const EVENT_SIZE: usize = 2 * std::mem::size_of::<libc::c_long>() + 8;
const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const SYN_DROPPED: u16 = 3;
/// Wait before opening a device again that went away (unplugged, or a
/// FIFO whose writer closed).
const REOPEN: Duration = Duration::from_secs(1);

/// Key names accepted in `--ptt-key` (those a PTT button is likely to
/// send); any other key by its number.
const KEYS: &[(&str, u16)] = &[
    ("KEY_SPACE", 57),
    ("KEY_F1", 59),
    ("KEY_F2", 60),
    ("KEY_F3", 61),
    ("KEY_F4", 62),
    ("KEY_F5", 63),
    ("KEY_F6", 64),
    ("KEY_F7", 65),
    ("KEY_F8", 66),
    ("KEY_F9", 67),
    ("KEY_F10", 68),
    ("KEY_F11", 87),
    ("KEY_F12", 88),
    ("KEY_VOLUMEDOWN", 114),
    ("KEY_VOLUMEUP", 115),
    ("KEY_PROG1", 148),
    ("KEY_PROG2", 149),
    ("KEY_F13", 183),
    ("KEY_F14", 184),
    ("KEY_F15", 185),
    ("KEY_F16", 186),
    ("KEY_F17", 187),
    ("KEY_F18", 188),
    ("KEY_F19", 189),
    ("KEY_F20", 190),
    ("KEY_F21", 191),
    ("KEY_F22", 192),
    ("KEY_F23", 193),
    ("KEY_F24", 194),
    ("KEY_CAMERA", 212),
    ("BTN_0", 0x100),
    ("BTN_1", 0x101),
    ("BTN_2", 0x102),
    ("BTN_3", 0x103),
    ("BTN_LEFT", 0x110),
    ("BTN_RIGHT", 0x111),
    ("BTN_MIDDLE", 0x112),
    ("BTN_TRIGGER", 0x120),
    ("KEY_VOICECOMMAND", 0x246),
];

/// Errors of a `--ptt-key` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("expected DEVICE:KEY, e.g. /dev/input/event3:KEY_F13")]
    Syntax,
    #[error(
        "unknown key {0:?}: give its number (evtest shows it) or one of KEY_F1..KEY_F24, BTN_0..BTN_3, ..."
    )]
    UnknownKey(String),
}

/// The device and key of `--ptt-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub device: PathBuf,
    pub code: u16,
}

impl KeySpec {
    /// `DEVICE:KEY`: the key by name (`KEY_F13`) or number (`183`, `0xb7`).
    pub fn parse(s: &str) -> Result<KeySpec, KeyError> {
        let (dev, key) = s.rsplit_once(':').ok_or(KeyError::Syntax)?;
        if dev.is_empty() || key.is_empty() {
            return Err(KeyError::Syntax);
        }
        let code = match KEYS.iter().find(|(n, _)| n.eq_ignore_ascii_case(key)) {
            Some((_, c)) => *c,
            None => match key.strip_prefix("0x") {
                Some(hex) => u16::from_str_radix(hex, 16).ok(),
                None => key.parse().ok(),
            }
            .ok_or_else(|| KeyError::UnknownKey(key.to_string()))?,
        };
        Ok(KeySpec {
            device: PathBuf::from(dev),
            code,
        })
    }
}

/// One `struct input_event`, time left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

/// Decode one record of [`EVENT_SIZE`] bytes; `None` if it is short.
pub fn decode(b: &[u8]) -> Option<InputEvent> {
    let at = EVENT_SIZE - 8;
    let u16_at =
        |i: usize| -> Option<u16> { Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?)) };
    Some(InputEvent {
        kind: u16_at(at)?,
        code: u16_at(at + 2)?,
        value: i32::from_ne_bytes(b.get(at + 4..at + 8)?.try_into().ok()?),
    })
}

/// Encode a record (time zero): for tests and recorded stand-ins.
pub fn encode(e: InputEvent) -> [u8; EVENT_SIZE] {
    let mut b = [0u8; EVENT_SIZE];
    let at = EVENT_SIZE - 8;
    b[at..at + 2].copy_from_slice(&e.kind.to_ne_bytes());
    b[at + 2..at + 4].copy_from_slice(&e.code.to_ne_bytes());
    b[at + 4..].copy_from_slice(&e.value.to_ne_bytes());
    b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Press,
    Release,
}

/// The button's state from its events.
#[derive(Debug, Clone)]
pub struct Button {
    code: u16,
    down: bool,
}

impl Button {
    pub fn new(code: u16) -> Button {
        Button { code, down: false }
    }

    pub fn on_event(&mut self, e: InputEvent) -> Option<Action> {
        match (e.kind, e.code, e.value) {
            (EV_KEY, c, 1) if c == self.code && !self.down => {
                self.down = true;
                Some(Action::Press)
            }
            (EV_KEY, c, 0) if c == self.code && self.down => self.up(),
            (EV_SYN, SYN_DROPPED, _) => self.up(),
            _ => None,
        }
    }

    /// The device went away: a held button counts as released.
    pub fn up(&mut self) -> Option<Action> {
        std::mem::replace(&mut self.down, false).then_some(Action::Release)
    }
}

/// Read records from `r` until it ends, calling `f` with each action.
/// Returns the button's state for the next reader.
pub fn read_actions(mut r: impl Read, mut b: Button, mut f: impl FnMut(Action)) -> Button {
    let mut rec = [0u8; EVENT_SIZE];
    // The kernel hands whole records; a FIFO or file may split them.
    while r.read_exact(&mut rec).is_ok() {
        if let Some(a) = decode(&rec).and_then(|e| b.on_event(e)) {
            f(a);
        }
    }
    if let Some(a) = b.up() {
        f(a);
    }
    b
}

/// Start the thread that reads the button and presses and releases
/// `talkgroup` through the engine.
pub fn spawn(key: KeySpec, talkgroup: String, cmds: mpsc::Sender<Command>) {
    let name = format!("ptt-key {}", key.device.display());
    let r = std::thread::Builder::new()
        .name("ptt-key".into())
        .spawn(move || run(&key.device, key.code, &talkgroup, &cmds));
    if let Err(e) = r {
        tracing::warn!("{name}: cannot start its thread: {e}");
    }
}

fn run(dev: &Path, code: u16, tg: &str, cmds: &mpsc::Sender<Command>) {
    let mut said = false;
    let mut b = Button::new(code);
    // One command at a time: each waits for the engine's answer, so the
    // button never has more than one in flight.
    loop {
        match std::fs::File::open(dev) {
            Ok(f) => {
                tracing::info!(device = %dev.display(), code, talkgroup = %tg, "push-to-talk key ready");
                said = false;
                b = read_actions(f, b, |a| act(a, tg, cmds));
                tracing::info!(device = %dev.display(), "push-to-talk key: device closed; opening it again");
            }
            Err(e) => {
                if !said {
                    tracing::warn!(device = %dev.display(), "push-to-talk key: cannot open: {e} (retrying every second)");
                    said = true;
                }
            }
        }
        if cmds.is_closed() {
            return;
        }
        std::thread::sleep(REOPEN);
    }
}

/// Press or release through the engine, and log what came of it.
fn act(a: Action, tg: &str, cmds: &mpsc::Sender<Command>) {
    let (tx, rx) = oneshot::channel();
    let c = match a {
        Action::Press => TalkgroupCommand::Press(
            tg.to_string(),
            dto::PttRequest {
                wav: None,
                audio_in: None,
                priority: Some("normal".into()),
                browser: false,
            },
            tx,
        ),
        Action::Release => TalkgroupCommand::Release(tg.to_string(), tx),
    };
    if cmds.blocking_send(Command::Talkgroups(c)).is_err() {
        return;
    }
    match rx.blocking_recv() {
        Ok(Ok(_)) => tracing::info!(talkgroup = %tg, action = ?a, "push-to-talk key"),
        Ok(Err((_, e))) => tracing::warn!(talkgroup = %tg, action = ?a, "push-to-talk key: {e}"),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: u16, value: i32) -> InputEvent {
        InputEvent {
            kind: EV_KEY,
            code,
            value,
        }
    }

    const SYN: InputEvent = InputEvent {
        kind: EV_SYN,
        code: 0,
        value: 0,
    };

    #[test]
    fn specs_parse() {
        let k = KeySpec::parse("/dev/input/event3:KEY_F13").expect("spec");
        assert_eq!(k.device, PathBuf::from("/dev/input/event3"));
        assert_eq!(k.code, 183);
        assert_eq!(
            KeySpec::parse("/dev/input/by-id/usb-x:btn_0").map(|k| k.code),
            Ok(0x100)
        );
        assert_eq!(
            KeySpec::parse("/dev/input/event3:0xb7").map(|k| k.code),
            Ok(183)
        );
        assert_eq!(
            KeySpec::parse("/dev/input/event3:212").map(|k| k.code),
            Ok(212)
        );
        assert_eq!(KeySpec::parse("/dev/input/event3"), Err(KeyError::Syntax));
        assert_eq!(KeySpec::parse(":KEY_F13"), Err(KeyError::Syntax));
        assert!(matches!(
            KeySpec::parse("/dev/x:KEY_NOPE"),
            Err(KeyError::UnknownKey(_))
        ));
    }

    #[test]
    fn decodes_a_kernel_record() {
        // KEY_F13 down as evtest captured it on x86-64: time, then
        // type 1, code 0xb7, value 1, little endian.
        let mut rec = Vec::new();
        rec.extend_from_slice(&1_716_000_000i64.to_le_bytes());
        rec.extend_from_slice(&250_000i64.to_le_bytes());
        rec.extend_from_slice(&[0x01, 0x00, 0xb7, 0x00, 0x01, 0x00, 0x00, 0x00]);
        if cfg!(all(target_pointer_width = "64", target_endian = "little")) {
            assert_eq!(decode(&rec), Some(key(183, 1)));
        }
        assert_eq!(decode(&rec[..EVENT_SIZE - 1]), None);
        assert_eq!(decode(&encode(key(0x100, 0))), Some(key(0x100, 0)));
    }

    #[test]
    fn press_repeat_release_and_other_keys() {
        let mut b = Button::new(183);
        assert_eq!(b.on_event(key(183, 1)), Some(Action::Press));
        assert_eq!(b.on_event(key(183, 2)), None, "autorepeat");
        assert_eq!(b.on_event(key(183, 1)), None, "already down");
        assert_eq!(b.on_event(key(30, 0)), None, "another key");
        assert_eq!(b.on_event(SYN), None);
        assert_eq!(b.on_event(key(183, 0)), Some(Action::Release));
        assert_eq!(b.on_event(key(183, 0)), None, "already up");
    }

    #[test]
    fn lost_events_release() {
        let mut b = Button::new(183);
        b.on_event(key(183, 1));
        let dropped = InputEvent {
            kind: EV_SYN,
            code: SYN_DROPPED,
            value: 0,
        };
        assert_eq!(b.on_event(dropped), Some(Action::Release));
    }

    /// A recorded session of a device, as a file: two presses of KEY_F13
    /// with autorepeat and other keys between, then one left held when
    /// the device goes away (read to its end).
    #[test]
    fn a_recorded_device_file_gives_presses_and_releases() {
        let events = [
            key(30, 1),
            SYN,
            key(30, 0),
            key(183, 1),
            SYN,
            key(183, 2),
            key(183, 2),
            key(183, 0),
            SYN,
            key(183, 1),
            key(183, 0),
            key(183, 1),
            SYN,
        ];
        let bytes: Vec<u8> = events.iter().flat_map(|&e| encode(e)).collect();
        let p = std::env::temp_dir().join(format!("callsign-ptt-key-{}.bin", std::process::id()));
        std::fs::write(&p, &bytes).expect("write");
        let mut got = Vec::new();
        let f = std::fs::File::open(&p).expect("open");
        let b = read_actions(f, Button::new(183), |a| got.push(a));
        use Action::*;
        assert_eq!(got, [Press, Release, Press, Release, Press, Release]);
        assert!(!b.down);
        let _ = std::fs::remove_file(&p);
    }

    /// The same through a pipe written a few bytes at a time, as a FIFO
    /// stand-in for the device delivers them.
    #[test]
    fn records_split_across_reads_are_joined() {
        let (r, mut w) = std::io::pipe().expect("pipe");
        let t = std::thread::spawn(move || {
            use std::io::Write;
            let bytes: Vec<u8> = [key(183, 1), key(183, 0)]
                .iter()
                .flat_map(|&e| encode(e))
                .collect();
            for c in bytes.chunks(5) {
                w.write_all(c).expect("write");
            }
        });
        let mut got = Vec::new();
        read_actions(r, Button::new(183), |a| got.push(a));
        t.join().expect("writer");
        assert_eq!(got, [Action::Press, Action::Release]);
    }
}
