//! In-dialog SIP requests authenticated end to end.
//!
//! SIP between daemons rides the overlay, and the overlay's source NodeId
//! is only a header field: a third node could write either end's id there
//! and hang up, cancel or re-INVITE a call it is not part of. So every
//! BYE, CANCEL and re-INVITE (an INVITE with a To tag) carries an
//! `X-Callsign-Auth` header: the sender's Ed25519 device key and its
//! signature over a context string, the method, the Call-ID, the CSeq and
//! both tags (empty To tag for a CANCEL). The receiver takes the request
//! only if the key's hash is the call's other end, as its verified media
//! offer said ([`super::offer`]), and the signature verifies; anything
//! else is refused and counted ([`super::AppStats`]). A signature names
//! one request of one call: moved to another call or another CSeq it no
//! longer verifies. Replaying the very same request in the same call
//! repeats what the end asked for, which SIP's transactions absorb.
//!
//! Requests outside a dialog (the first INVITE, ACK) and responses are not
//! covered here: the INVITE's offer is signed already and a forged ACK
//! changes nothing; a forged failure response can still fail a branch
//! that rings (documented in ARCHITECTURE, "Calls authenticated end to
//! end").
//!
//! Signing happens on the way out of `App::pump_calls`, for every SIP
//! message the session sends, so a SIP phone behind this daemon
//! (`app/phones.rs`) is covered too: its BYE or CANCEL becomes the
//! session's, signed with this device's key. Refusals are logged at warn,
//! the first few and then at every power of two, so a forger cannot fill
//! the log; the counters (`status.app`) have every one.

use super::App;
use crate::identity::{self, Identity, NodeId};
use crate::session::sip::{Method, Msg, Start};

/// The header that carries the end's key and signature, in hex.
pub const HEADER: &str = "X-Callsign-Auth";
const CONTEXT: &[u8] = b"callsign sip in-dialog v1\0";

/// Which in-dialog request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InDialog {
    Bye,
    Cancel,
    ReInvite,
}

/// The in-dialog request `m` is, if it is one this module covers.
pub fn in_dialog(m: &Msg) -> Option<InDialog> {
    match m.start {
        Start::Request {
            method: Method::Bye,
            ..
        } => Some(InDialog::Bye),
        Start::Request {
            method: Method::Cancel,
            ..
        } => Some(InDialog::Cancel),
        Start::Request {
            method: Method::Invite,
            ..
        } if m.to_tag.is_some() => Some(InDialog::ReInvite),
        _ => None,
    }
}

fn signing_bytes(m: &Msg, what: InDialog) -> Vec<u8> {
    let mut v = CONTEXT.to_vec();
    let part = |v: &mut Vec<u8>, b: &[u8]| {
        v.extend_from_slice(&(b.len() as u32).to_be_bytes());
        v.extend_from_slice(b);
    };
    v.push(what as u8);
    part(&mut v, m.call_id.as_bytes());
    v.extend_from_slice(&m.cseq.to_be_bytes());
    part(&mut v, m.from_tag.as_bytes());
    part(&mut v, m.to_tag.as_deref().unwrap_or("").as_bytes());
    v
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `bytes` (a SIP message we send) with the header added when it is an
/// in-dialog request; anything else unchanged.
pub fn sign(ident: &Identity, bytes: Vec<u8>) -> Vec<u8> {
    let Ok(m) = Msg::decode(&bytes) else {
        return bytes;
    };
    let Some(what) = in_dialog(&m) else {
        return bytes;
    };
    // Headers end at the first empty line; the body (and so its
    // Content-Length) is untouched.
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return bytes;
    };
    let sig = ident.sign(&signing_bytes(&m, what));
    let line = format!("\r\n{HEADER}: {}{}", hex(&ident.public_key()), hex(&sig));
    let mut out = Vec::with_capacity(bytes.len() + line.len());
    out.extend_from_slice(&bytes[..end]);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    out
}

/// The header's value in `bytes`, if present once among the headers.
fn header(bytes: &[u8]) -> Option<&str> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut found = head.split("\r\n").filter_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(HEADER).then(|| v.trim())
    });
    let v = found.next()?;
    found.next().is_none().then_some(v)
}

/// Check a received in-dialog request `m` (raw `bytes`) against `peer`,
/// the call's other end (`None`: no end known yet, nothing to accept).
pub fn check(bytes: &[u8], m: &Msg, what: InDialog, peer: Option<NodeId>) -> Result<(), String> {
    let peer = peer.ok_or("no other end known for this call")?;
    let v = header(bytes).ok_or("no (or more than one) end-to-end signature")?;
    let (key, sig) = (v.get(..64).unwrap_or(""), v.get(64..).unwrap_or(""));
    let key: [u8; 32] = unhex(key).ok_or("malformed key")?;
    let sig: [u8; 64] = unhex(sig).ok_or("malformed signature")?;
    if NodeId::from_public_key(&key) != peer {
        return Err(format!(
            "signed by a device other than the call's end {}",
            peer.short()
        ));
    }
    identity::verify(&key, &signing_bytes(m, what), &sig).map_err(|e| format!("bad signature: {e}"))
}

impl App {
    /// Whether SIP `payload` from `from` may reach the session: anything
    /// but an in-dialog request does; so does one for a call unknown or
    /// already over here (the session answers it, 481 or a repeat of its
    /// 200, and nothing changes). A BYE, CANCEL or re-INVITE of a live
    /// call must be signed by its other end; a refusal is counted and
    /// logged.
    pub(super) fn in_dialog_signed(&mut self, from: NodeId, payload: &[u8]) -> bool {
        let Ok(m) = Msg::decode(payload) else {
            return true;
        };
        let Some(what) = in_dialog(&m) else {
            return true;
        };
        // Call-IDs are chosen by callers, so two calls here may share one
        // (a caller may even reuse another's): the call whose other end
        // the packet claims to come from first, else any by that Call-ID,
        // so a request from a third node is judged against a real end.
        let mut same_id = self
            .calls
            .session
            .calls()
            .into_iter()
            .filter(|c| c.sip_call_id == m.call_id)
            .filter_map(|c| {
                self.calls
                    .calls
                    .get(&c.id)
                    .map(|mine| (c.peer_node, mine.peer))
            })
            .collect::<Vec<_>>();
        same_id.sort_by_key(|(claimed, _)| *claimed != Some(from));
        // Over at this end (the session lingers for retransmissions):
        // nothing left to end or change.
        let Some(&(_, peer)) = same_id.first() else {
            return true;
        };
        let Err(why) = check(payload, &m, what, peer) else {
            return true;
        };
        let s = &mut self.stats;
        match what {
            InDialog::Bye => s.forged_bye += 1,
            InDialog::Cancel => s.forged_cancel += 1,
            InDialog::ReInvite => s.forged_reinvite += 1,
        }
        // A forger may send thousands: the first few and then every
        // power of two are logged, the counters have the rest.
        let n = s.forged_total();
        if n <= 8 || n.is_power_of_two() {
            tracing::warn!(from = %from.short(), call_id = %m.call_id, refused = n, "forged SIP {what:?} refused: {why}");
        }
        false
    }
}

#[cfg(test)]
#[path = "call_auth_tests.rs"]
mod tests;
