//! SIP over TCP: cutting a byte stream into messages (RFC 3261 §18.3).
//! A message ends at its blank line plus `Content-Length` bytes; a stream
//! that goes past [`super::msg::MAX_MSG`] without a whole message is
//! broken and the connection is closed.

use super::PhoneError;
use super::msg::MAX_MSG;

/// Bytes read from one connection, not yet a whole message.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// Add what was read; returns the whole messages now available.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, PhoneError> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            // Keep-alive CRLFs between messages (RFC 5626 §3.5.1).
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            let Some(head_end) = find(&self.buf, b"\r\n\r\n") else {
                if self.buf.len() > MAX_MSG {
                    return Err(PhoneError::BadSip("header too long on the stream"));
                }
                return Ok(out);
            };
            let len = content_length(&self.buf[..head_end])?;
            let total = head_end + 4 + len;
            if total > MAX_MSG {
                return Err(PhoneError::BadSip("message too long on the stream"));
            }
            if self.buf.len() < total {
                return Ok(out);
            }
            out.push(self.buf.drain(..total).collect());
        }
    }
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

/// Content-Length (or its compact form `l`) is mandatory on a stream.
fn content_length(head: &[u8]) -> Result<usize, PhoneError> {
    let text = std::str::from_utf8(head).map_err(|_| PhoneError::BadSip("header not UTF-8"))?;
    for line in text.split("\r\n").skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("l") {
                return v
                    .trim()
                    .parse()
                    .map_err(|_| PhoneError::BadSip("Content-Length"));
            }
        }
    }
    Err(PhoneError::BadSip("no Content-Length on a stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_joins() {
        let m1 = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        let m2 = b"OPTIONS sip:y SIP/2.0\r\nl: 0\r\n\r\n".to_vec();
        let mut all = b"\r\n".to_vec();
        all.extend_from_slice(&m1);
        all.extend_from_slice(&m2);
        let mut f = Framer::default();
        let mut got = Vec::new();
        for chunk in all.chunks(5) {
            got.extend(f.push(chunk).unwrap());
        }
        assert_eq!(got, vec![m1, m2]);
    }

    #[test]
    fn refuses_endless_headers_and_missing_length() {
        let mut f = Framer::default();
        assert!(f.push(&vec![b'a'; MAX_MSG + 1]).is_err());
        let mut f = Framer::default();
        assert!(f.push(b"INVITE sip:x SIP/2.0\r\n\r\n").is_err());
    }
}
