//! SIP from and to the phones, parsed with rsip and written as text.
//!
//! Phones are strangers' code, so this view keeps what a registrar and a
//! back-to-back user agent read and copies the rest verbatim: a response
//! echoes the request's Via, From, To, Call-ID and CSeq headers as they
//! came (RFC 3261 §8.2.6.2), which is what every phone checks.
//! [`Incoming::parse`] is total: anything rsip rejects, or a message
//! without the headers a transaction needs, is a [`PhoneError`].

use std::fmt::Write as _;
use std::net::SocketAddr;

use rsip::prelude::*;

use super::PhoneError;

/// Largest SIP message taken from a phone (UDP datagrams are smaller; a
/// TCP stream that claims more is cut off).
pub const MAX_MSG: usize = 8192;

/// The headers of a request or response that the front reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Common {
    /// Every Via header value, top first, as received.
    pub vias: Vec<String>,
    /// The top Via's branch: the transaction.
    pub branch: String,
    pub from: String,
    pub from_user: String,
    pub from_tag: Option<String>,
    pub to: String,
    pub to_user: String,
    pub to_tag: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    pub cseq_method: String,
    /// The Contact URI (without angle brackets) and its `expires` param.
    pub contact: Option<String>,
    pub contact_expires: Option<u32>,
    /// `Contact: *` (remove every binding).
    pub contact_star: bool,
    pub expires: Option<u32>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Request {
        method: String,
        /// The user part of the Request-URI (the name dialled), if any.
        uri_user: Option<String>,
        uri: String,
        c: Common,
    },
    Response {
        code: u16,
        c: Common,
    },
}

impl Incoming {
    pub fn common(&self) -> &Common {
        match self {
            Incoming::Request { c, .. } | Incoming::Response { c, .. } => c,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Incoming, PhoneError> {
        if bytes.len() > MAX_MSG {
            return Err(PhoneError::BadSip("message too long"));
        }
        let bad = |what: &'static str| move |_| PhoneError::BadSip(what);
        let msg = rsip::SipMessage::try_from(bytes).map_err(bad("unparsable message"))?;
        let mut vias = Vec::new();
        let mut authorization = None;
        let mut expires = None;
        let mut content_type = None;
        let mut contact_raw = None;
        for h in msg.headers().iter() {
            match h {
                rsip::Header::Via(v) => vias.push(v.value().trim().to_string()),
                rsip::Header::Authorization(a) => authorization = Some(a.value().to_string()),
                rsip::Header::Expires(e) => {
                    expires = Some(
                        e.value()
                            .trim()
                            .parse()
                            .map_err(|_| PhoneError::BadSip("Expires"))?,
                    )
                }
                rsip::Header::ContentType(t) => content_type = Some(t.value().trim().to_string()),
                rsip::Header::Contact(c) if contact_raw.is_none() => {
                    contact_raw = Some(c.value().trim().to_string())
                }
                _ => {}
            }
        }
        if vias.is_empty() || vias.len() > 16 {
            return Err(PhoneError::BadSip("Via"));
        }
        let via = msg
            .via_header()
            .map_err(bad("no Via"))?
            .typed()
            .map_err(bad("Via"))?;
        let branch = via
            .branch()
            .ok_or(PhoneError::BadSip("no Via branch"))?
            .to_string();
        let from_h = msg.from_header().map_err(bad("no From"))?;
        let from = from_h.typed().map_err(bad("From"))?;
        let to_h = msg.to_header().map_err(bad("no To"))?;
        let to = to_h.typed().map_err(bad("To"))?;
        let call_id = msg
            .call_id_header()
            .map_err(bad("no Call-ID"))?
            .value()
            .trim()
            .to_string();
        if call_id.is_empty() || call_id.len() > 256 {
            return Err(PhoneError::BadSip("Call-ID"));
        }
        let cseq = msg
            .cseq_header()
            .map_err(bad("no CSeq"))?
            .typed()
            .map_err(bad("CSeq"))?;
        let (contact, contact_expires, contact_star) = match contact_raw {
            Some(raw) if raw == "*" => (None, None, true),
            Some(raw) => {
                let (uri, params) = split_contact(&raw);
                let exp = param(params, "expires").and_then(|v| v.parse().ok());
                (Some(uri.to_string()), exp, false)
            }
            None => (None, None, false),
        };
        let c = Common {
            vias,
            branch,
            from: from_h.value().trim().to_string(),
            from_user: user_of(from_h.value())?,
            from_tag: from.tag().map(|t| t.to_string()),
            to: to_h.value().trim().to_string(),
            to_user: user_of(to_h.value())?,
            to_tag: to.tag().map(|t| t.to_string()),
            call_id,
            cseq: cseq.seq,
            cseq_method: cseq.method.to_string(),
            contact,
            contact_expires,
            contact_star,
            expires,
            authorization,
            content_type,
            body: msg.body().clone(),
        };
        Ok(match msg {
            rsip::SipMessage::Request(r) => Incoming::Request {
                method: r.method.to_string(),
                uri_user: user_of(crate::session::sip::request_uri(bytes))
                    .ok()
                    .filter(|u| !u.is_empty()),
                uri: crate::session::sip::request_uri(bytes).to_string(),
                c,
            },
            rsip::SipMessage::Response(r) => {
                let code = r.status_code.code();
                if !(100..=699).contains(&code) {
                    return Err(PhoneError::BadSip("status code"));
                }
                Incoming::Response { code, c }
            }
        })
    }
}

/// The user part of a From/To header's URI: a role name
/// (`"Cap" <sip:captain.engine-3@mesh>;tag=x`), read from the text.
fn user_of(header: &str) -> Result<String, PhoneError> {
    let u = crate::session::sip::user_in(header).unwrap_or_default();
    if u.len() > 64 {
        return Err(PhoneError::BadSip("URI user too long"));
    }
    Ok(u.to_string())
}

/// `<sip:a@b;transport=udp>;expires=60` -> (`sip:a@b;transport=udp`, `;expires=60`).
fn split_contact(raw: &str) -> (&str, &str) {
    match (raw.find('<'), raw.find('>')) {
        (Some(a), Some(b)) if a < b => (&raw[a + 1..b], &raw[b + 1..]),
        _ => match raw.find(';') {
            Some(i) => (&raw[..i], &raw[i..]),
            None => (raw, ""),
        },
    }
}

/// A `;key=value` parameter of a header's tail.
pub fn param<'a>(params: &'a str, key: &str) -> Option<&'a str> {
    params.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// A response to `c` (a request), echoing its Via (the top one with
/// `received` and `rport` filled in for the source, RFC 3581), From, To
/// (with `to_tag` added when it has none), Call-ID and CSeq.
pub fn response(
    c: &Common,
    from: SocketAddr,
    code: u16,
    to_tag: Option<&str>,
    extra: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut s = format!("SIP/2.0 {code} {}\r\n", reason_phrase(code));
    for (i, v) in c.vias.iter().enumerate() {
        if i == 0 {
            let _ = write!(s, "Via: {}\r\n", received(v, from));
        } else {
            let _ = write!(s, "Via: {v}\r\n");
        }
    }
    let _ = write!(s, "From: {}\r\n", c.from);
    match (&c.to_tag, to_tag) {
        (None, Some(t)) if code > 100 => {
            let _ = write!(s, "To: {};tag={t}\r\n", c.to);
        }
        _ => {
            let _ = write!(s, "To: {}\r\n", c.to);
        }
    }
    let _ = write!(s, "Call-ID: {}\r\n", c.call_id);
    let _ = write!(s, "CSeq: {} {}\r\n", c.cseq, c.cseq_method);
    finish(s, extra, body)
}

/// Add `received` and fill `rport` on a Via value for the packet's source.
fn received(via: &str, from: SocketAddr) -> String {
    let mut parts: Vec<String> = via.split(';').map(str::to_string).collect();
    let mut has_received = false;
    for p in parts.iter_mut().skip(1) {
        let key = p
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if key == "rport" {
            *p = format!("rport={}", from.port());
        } else if key == "received" {
            has_received = true;
        }
    }
    if !has_received {
        parts.push(format!("received={}", from.ip()));
    }
    parts.join(";")
}

/// A request line and the headers the front writes itself.
pub struct Request<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub via: String,
    pub from: &'a str,
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    pub contact: Option<&'a str>,
}

pub fn request(r: &Request<'_>, extra: &[(&str, String)], body: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut s = format!("{} {} SIP/2.0\r\n", r.method, r.uri);
    let _ = write!(s, "Via: {}\r\n", r.via);
    s.push_str("Max-Forwards: 70\r\n");
    let _ = write!(s, "From: {}\r\n", r.from);
    let _ = write!(s, "To: {}\r\n", r.to);
    let _ = write!(s, "Call-ID: {}\r\n", r.call_id);
    let method = if r.method == "ACK" { "ACK" } else { r.method };
    let _ = write!(s, "CSeq: {} {method}\r\n", r.cseq);
    if let Some(c) = r.contact {
        let _ = write!(s, "Contact: <{c}>\r\n");
    }
    finish(s, extra, body)
}

fn finish(mut s: String, extra: &[(&str, String)], body: Option<(&str, &[u8])>) -> Vec<u8> {
    s.push_str("Server: callsign\r\n");
    for (k, v) in extra {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    let mut out = match body {
        Some((ctype, b)) => {
            let _ = write!(
                s,
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                b.len()
            );
            let mut out = s.into_bytes();
            out.extend_from_slice(b);
            out
        }
        None => {
            s.push_str("Content-Length: 0\r\n\r\n");
            s.into_bytes()
        }
    };
    out.shrink_to_fit();
    out
}

/// The host (and port) of a SIP URI (`sip:user@host:port;params`).
pub fn uri_host(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = rest.find([';', '?', '>']).unwrap_or(rest.len());
    Some(&rest[..end])
}
