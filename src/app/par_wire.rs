//! The PAR (personnel accountability report) roll call on the wire: the
//! commander's request to each member, the member's acknowledgement, and
//! the close that tells members the roll call is over. Carried as
//! control-class unicast (`proto::PAR`), so every hop acknowledges it.
//!
//! ```text
//! request: 01 | par u64 | window_s u16 | from_len u8 | from | tg_len u8 | tg
//! ack:     02 | par u64 | name_len u8 | name
//! close:   03 | par u64
//! ```
//!
//! `tg` is empty for a roll call of everyone. [`ParMsg::decode`] is total:
//! short, overlong or malformed input is an error, never a panic.

use super::AppError;
use crate::wire::reader::Reader;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParMsg {
    Request {
        par: u64,
        /// Seconds the commander waits for answers.
        window_s: u16,
        /// The commander's role.
        from: String,
        talkgroup: Option<String>,
    },
    Ack {
        par: u64,
        /// The member's role.
        name: String,
    },
    Close {
        par: u64,
    },
}

fn put_str(v: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    v.push(b.len() as u8);
    v.extend_from_slice(b);
}

impl ParMsg {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        match self {
            ParMsg::Request {
                par,
                window_s,
                from,
                talkgroup,
            } => {
                v.push(1);
                v.extend_from_slice(&par.to_be_bytes());
                v.extend_from_slice(&window_s.to_be_bytes());
                put_str(&mut v, from);
                put_str(&mut v, talkgroup.as_deref().unwrap_or(""));
            }
            ParMsg::Ack { par, name } => {
                v.push(2);
                v.extend_from_slice(&par.to_be_bytes());
                put_str(&mut v, name);
            }
            ParMsg::Close { par } => {
                v.push(3);
                v.extend_from_slice(&par.to_be_bytes());
            }
        }
        v
    }

    pub fn decode(b: &[u8]) -> Result<ParMsg, AppError> {
        let bad = |why: &str| AppError::Malformed(format!("PAR message: {why}"));
        let mut r = Reader::new(b);
        let kind = r.take(1).ok_or_else(|| bad("empty"))?[0];
        let par = u64::from_be_bytes(r.array().ok_or_else(|| bad("short id"))?);
        let msg = match kind {
            1 => {
                let window_s = u16::from_be_bytes(r.array().ok_or_else(|| bad("short window"))?);
                let from = name(&mut r, false).ok_or_else(|| bad("bad sender name"))?;
                let tg = name(&mut r, true).ok_or_else(|| bad("bad talkgroup"))?;
                ParMsg::Request {
                    par,
                    window_s,
                    from,
                    talkgroup: (!tg.is_empty()).then_some(tg),
                }
            }
            2 => ParMsg::Ack {
                par,
                name: name(&mut r, false).ok_or_else(|| bad("bad member name"))?,
            },
            3 => ParMsg::Close { par },
            _ => return Err(bad("unknown kind")),
        };
        if !r.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(msg)
    }
}

/// A length-prefixed name; `empty_ok` allows the empty string.
fn name(r: &mut Reader<'_>, empty_ok: bool) -> Option<String> {
    let n = usize::from(r.take(1)?[0]);
    let s = std::str::from_utf8(r.take(n)?).ok()?;
    if s.is_empty() {
        return empty_ok.then(String::new);
    }
    crate::wire::name::valid_name(s).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_every_truncation_is_an_error() {
        let msgs = [
            ParMsg::Request {
                par: 7,
                window_s: 60,
                from: "command".into(),
                talkgroup: Some("fireground-1".into()),
            },
            ParMsg::Request {
                par: u64::MAX,
                window_s: 0,
                from: "command".into(),
                talkgroup: None,
            },
            ParMsg::Ack {
                par: 7,
                name: "engine-3".into(),
            },
            ParMsg::Close { par: 9 },
        ];
        for m in msgs {
            let b = m.encode();
            assert_eq!(ParMsg::decode(&b), Ok(m.clone()));
            for n in 0..b.len() {
                assert!(ParMsg::decode(&b[..n]).is_err(), "{m:?} cut at {n}");
            }
            let mut long = b.clone();
            long.push(0);
            assert!(ParMsg::decode(&long).is_err());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 1;
        for len in 0..64 {
            for _ in 0..200 {
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x % 7) as u8
                    })
                    .collect();
                let _ = ParMsg::decode(&b);
            }
        }
    }
}
