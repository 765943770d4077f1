//! The SIP messages of a 1:1 call, built and parsed with rsip.
//!
//! Daemons talk SIP to each other over the overlay, so a message carries
//! only what the call state machine reads: the request line or status, the
//! dialog's identifiers (Call-ID, From and To tags, Via branch, CSeq), the
//! role names and an SDP body. The overlay already says which node sent a
//! message, so no address in a header is trusted or needed; hosts are
//! `mesh` (names) and `<node id>.mesh` (Via, Contact), for readable traces.
//!
//! [`Msg::decode`] is total: anything rsip rejects, or a message without
//! the headers a call needs, is a [`SessionError::BadSip`].

use rsip::prelude::*;

use super::SessionError;
use crate::identity::NodeId;

/// Largest SIP message accepted; ours are well under 1 kB.
pub const MAX_SIP: usize = 4096;

/// The methods of a 1:1 call; anything else is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
}

impl Method {
    fn to_rsip(self) -> rsip::Method {
        match self {
            Method::Invite => rsip::Method::Invite,
            Method::Ack => rsip::Method::Ack,
            Method::Bye => rsip::Method::Bye,
            Method::Cancel => rsip::Method::Cancel,
        }
    }
    fn from_rsip(m: &rsip::Method) -> Result<Self, SessionError> {
        Ok(match m {
            rsip::Method::Invite => Method::Invite,
            rsip::Method::Ack => Method::Ack,
            rsip::Method::Bye => Method::Bye,
            rsip::Method::Cancel => Method::Cancel,
            _ => return Err(SessionError::BadSip("unsupported method")),
        })
    }
}

/// Request line or status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A request to `sip:<user>@mesh`.
    Request {
        method: Method,
        user: String,
    },
    Response {
        code: u16,
    },
}

/// What the call state machine reads of a SIP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub start: Start,
    pub call_id: String,
    pub cseq: u32,
    pub cseq_method: Method,
    /// Via branch: the transaction.
    pub branch: String,
    /// Host of the Via: the node that sent the request, `<hex>.mesh`.
    pub via_host: String,
    pub from_name: String,
    pub from_tag: String,
    pub to_name: String,
    pub to_tag: Option<String>,
    /// The `Reason` header (RFC 3326), e.g. on a CANCEL after another
    /// branch answered: `SIP;cause=200;text="Call completed elsewhere"`.
    pub reason: Option<String>,
    /// An SDP body, or empty.
    pub body: Vec<u8>,
}

/// The Reason a forking caller puts on the CANCELs of the losing branches.
pub const REASON_ELSEWHERE: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";

impl Msg {
    /// The host a node writes in its Via and Contact.
    pub fn node_host(node: NodeId) -> String {
        format!("{node}.mesh")
    }

    /// The message as SIP text.
    pub fn encode(&self, contact: Option<(&str, NodeId)>) -> Vec<u8> {
        let mut h = rsip::Headers::default();
        h.push(
            rsip::typed::Via {
                version: rsip::Version::V2,
                transport: rsip::Transport::Udp,
                uri: rsip::Uri {
                    host_with_port: rsip::Domain::from(self.via_host.clone()).into(),
                    ..Default::default()
                },
                params: vec![rsip::Param::Branch(rsip::param::Branch::new(
                    self.branch.clone(),
                ))],
            }
            .into(),
        );
        if matches!(self.start, Start::Request { .. }) {
            h.push(rsip::headers::MaxForwards::new("70").into());
        }
        h.push(
            rsip::typed::From {
                display_name: None,
                uri: name_uri(&self.from_name),
                params: vec![rsip::Param::Tag(rsip::param::Tag::new(
                    self.from_tag.clone(),
                ))],
            }
            .into(),
        );
        h.push(
            rsip::typed::To {
                display_name: None,
                uri: name_uri(&self.to_name),
                params: self
                    .to_tag
                    .iter()
                    .map(|t| rsip::Param::Tag(rsip::param::Tag::new(t.clone())))
                    .collect(),
            }
            .into(),
        );
        h.push(rsip::headers::CallId::new(self.call_id.clone()).into());
        h.push(
            rsip::typed::CSeq {
                seq: self.cseq,
                method: self.cseq_method.to_rsip(),
            }
            .into(),
        );
        if let Some((name, node)) = contact {
            h.push(
                rsip::typed::Contact {
                    display_name: None,
                    uri: rsip::Uri {
                        scheme: Some(rsip::Scheme::Sip),
                        auth: Some((name.to_string(), Option::<String>::None).into()),
                        host_with_port: rsip::Domain::from(Self::node_host(node)).into(),
                        ..Default::default()
                    },
                    params: vec![],
                }
                .into(),
            );
        }
        if let Some(r) = &self.reason {
            h.push(rsip::Header::Other("Reason".into(), r.clone()));
        }
        if !self.body.is_empty() {
            h.push(rsip::headers::ContentType::new("application/sdp").into());
        }
        h.push(rsip::headers::ContentLength::new(self.body.len().to_string()).into());
        let msg: rsip::SipMessage = match &self.start {
            Start::Request { method, user } => rsip::Request {
                method: method.to_rsip(),
                uri: name_uri(user),
                version: rsip::Version::V2,
                headers: h,
                body: self.body.clone(),
            }
            .into(),
            Start::Response { code } => rsip::Response {
                status_code: (*code).into(),
                version: rsip::Version::V2,
                headers: h,
                body: self.body.clone(),
            }
            .into(),
        };
        msg.to_string().into_bytes()
    }

    /// Parse a message; every failure is [`SessionError::BadSip`].
    pub fn decode(bytes: &[u8]) -> Result<Msg, SessionError> {
        if bytes.len() > MAX_SIP {
            return Err(SessionError::BadSip("message too long"));
        }
        let bad = |what: &'static str| move |_| SessionError::BadSip(what);
        let msg = rsip::SipMessage::try_from(bytes).map_err(bad("unparsable message"))?;
        let start = match &msg {
            rsip::SipMessage::Request(r) => Start::Request {
                method: Method::from_rsip(&r.method)?,
                user: uri_user(request_uri(bytes))?,
            },
            rsip::SipMessage::Response(r) => {
                let code = r.status_code.code();
                if !(100..=699).contains(&code) {
                    return Err(SessionError::BadSip("status code"));
                }
                Start::Response { code }
            }
        };
        let via = msg
            .via_header()
            .map_err(bad("no Via"))?
            .typed()
            .map_err(bad("Via"))?;
        let branch = via
            .branch()
            .ok_or(SessionError::BadSip("no Via branch"))?
            .to_string();
        let via_host = via.uri.host_with_port.host.to_string();
        let from_h = msg.from_header().map_err(bad("no From"))?;
        let from = from_h.typed().map_err(bad("From"))?;
        let from_tag = from
            .tag()
            .ok_or(SessionError::BadSip("no From tag"))?
            .to_string();
        let to_h = msg.to_header().map_err(bad("no To"))?;
        let to = to_h.typed().map_err(bad("To"))?;
        let to_tag = to.tag().map(|t| t.to_string());
        let call_id = msg
            .call_id_header()
            .map_err(bad("no Call-ID"))?
            .value()
            .trim()
            .to_string();
        if call_id.is_empty() || call_id.len() > 128 {
            return Err(SessionError::BadSip("Call-ID"));
        }
        let cseq = msg
            .cseq_header()
            .map_err(bad("no CSeq"))?
            .typed()
            .map_err(bad("CSeq"))?;
        let reason = msg.headers().iter().find_map(|h| match h {
            rsip::Header::Other(k, v) if k.eq_ignore_ascii_case("reason") => Some(v.clone()),
            _ => None,
        });
        Ok(Msg {
            start,
            call_id,
            cseq: cseq.seq,
            cseq_method: Method::from_rsip(&cseq.method)?,
            branch,
            via_host,
            from_name: uri_user(from_h.value())?,
            from_tag,
            to_name: uri_user(to_h.value())?,
            to_tag,
            reason,
            body: msg.body().clone(),
        })
    }

    /// A response to this request with `code`, echoing its Via, From,
    /// Call-ID and CSeq (RFC 3261 §8.2.6.2) and carrying our To tag.
    pub fn response(&self, code: u16, to_tag: &str, body: Vec<u8>) -> Msg {
        Msg {
            start: Start::Response { code },
            to_tag: Some(to_tag.to_string()),
            reason: None,
            body,
            ..self.clone()
        }
    }
}

fn name_uri(name: &str) -> rsip::Uri {
    rsip::Uri {
        scheme: Some(rsip::Scheme::Sip),
        auth: Some((name.to_string(), Option::<String>::None).into()),
        host_with_port: rsip::Domain::from("mesh").into(),
        ..Default::default()
    }
}

fn uri_user(text: &str) -> Result<String, SessionError> {
    let user = user_in(text).ok_or(SessionError::BadSip("URI without user"))?;
    if user.is_empty() || user.len() > 64 {
        return Err(SessionError::BadSip("URI user"));
    }
    Ok(user.to_string())
}

/// The user part of a SIP URI as written in a header or request line
/// (`"X" <sip:captain.engine-3@mesh>;tag=1`, `sip:medic-12@mesh`). Read
/// from the text: rsip's URI parser loses users that contain a dot.
pub fn user_in(text: &str) -> Option<&str> {
    let inner = match (text.find('<'), text.find('>')) {
        (Some(a), Some(b)) if a < b => &text[a + 1..b],
        _ => text.split(';').next().unwrap_or(""),
    };
    let inner = inner.trim();
    let rest = inner
        .strip_prefix("sip:")
        .or_else(|| inner.strip_prefix("sips:"))?;
    let (user, _) = rest.split_once('@')?;
    Some(user.split(':').next().unwrap_or(""))
}

/// The Request-URI as written (`INVITE <uri> SIP/2.0`).
pub fn request_uri(bytes: &[u8]) -> &str {
    let line = bytes.split(|&b| b == b'\r').next().unwrap_or_default();
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
}
