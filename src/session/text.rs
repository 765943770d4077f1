//! Instant texts between daemons: what a SIP phone's MESSAGE becomes on
//! the mesh, and the receipt that comes back. Delivered now or refused
//! now (the far daemon answers with a SIP-style code); store-and-forward
//! of texts that must survive partitions is a layer of its own.
//!
//! ```text
//! text:    01 | id u64 | from_len u8 | from | to_len u8 | to | len u16 | UTF-8 body
//! receipt: 02 | id u64 | code u16
//! ```
//!
//! [`TextMsg::decode`] is total: short, overlong or non-UTF-8 input is an
//! error.

use super::SessionError;
use crate::wire::reader::Reader;

/// Longest text body carried.
pub const MAX_BODY: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextMsg {
    Text {
        id: u64,
        from: String,
        to: String,
        body: String,
    },
    Receipt {
        id: u64,
        code: u16,
    },
}

impl TextMsg {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            TextMsg::Text { id, from, to, body } => {
                v.push(1);
                v.extend_from_slice(&id.to_be_bytes());
                for s in [from, to] {
                    let b = &s.as_bytes()[..s.len().min(255)];
                    v.push(b.len() as u8);
                    v.extend_from_slice(b);
                }
                let b = &body.as_bytes()[..body.len().min(MAX_BODY)];
                v.extend_from_slice(&(b.len() as u16).to_be_bytes());
                v.extend_from_slice(b);
            }
            TextMsg::Receipt { id, code } => {
                v.push(2);
                v.extend_from_slice(&id.to_be_bytes());
                v.extend_from_slice(&code.to_be_bytes());
            }
        }
        v
    }

    pub fn decode(b: &[u8]) -> Result<TextMsg, SessionError> {
        let bad = SessionError::BadText;
        let mut r = Reader::new(b);
        let kind = r.take(1).ok_or(bad("empty"))?[0];
        let id = u64::from_be_bytes(r.array().ok_or(bad("short id"))?);
        match kind {
            1 => {
                let mut name = || -> Result<String, SessionError> {
                    let n = usize::from(r.take(1).ok_or(bad("short name"))?[0]);
                    let s = r.take(n).ok_or(bad("short name"))?;
                    let s = std::str::from_utf8(s).map_err(|_| bad("name not UTF-8"))?;
                    if !crate::wire::name::valid_name(s) {
                        return Err(bad("not a name"));
                    }
                    Ok(s.to_string())
                };
                let from = name()?;
                let to = name()?;
                let n = usize::from(u16::from_be_bytes(r.array().ok_or(bad("short body"))?));
                if n > MAX_BODY {
                    return Err(bad("body too long"));
                }
                let body = r.take(n).ok_or(bad("short body"))?;
                let body = std::str::from_utf8(body).map_err(|_| bad("body not UTF-8"))?;
                if !r.is_empty() {
                    return Err(bad("trailing bytes"));
                }
                Ok(TextMsg::Text {
                    id,
                    from,
                    to,
                    body: body.to_string(),
                })
            }
            2 => {
                let code = u16::from_be_bytes(r.array().ok_or(bad("short code"))?);
                if !(200..=699).contains(&code) || !r.is_empty() {
                    return Err(bad("receipt"));
                }
                Ok(TextMsg::Receipt { id, code })
            }
            _ => Err(bad("unknown kind")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncations() {
        let t = TextMsg::Text {
            id: 9,
            from: "engine-3".into(),
            to: "medic-12".into(),
            body: "patient count 7, 2 critical".into(),
        };
        let b = t.encode();
        assert_eq!(TextMsg::decode(&b).unwrap(), t);
        for n in 0..b.len() {
            assert!(TextMsg::decode(&b[..n]).is_err(), "{n}");
        }
        let r = TextMsg::Receipt { id: 9, code: 200 };
        assert_eq!(TextMsg::decode(&r.encode()).unwrap(), r);
        assert!(TextMsg::decode(&[3, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }
}
