//! Enrolment requests: what a device hands the agency's station so a
//! certificate can be issued without its secret key ever leaving it.
//!
//! A request is a small JSON file (`callsign enrol request --out
//! engine-3.req`): the device's Ed25519 public key, its NodeId, the role
//! patterns it asks for, an optional name (a label for the operator), its
//! creation time, and an Ed25519 signature by the device key over all of
//! it. The signature proves possession of the key (nobody can get a
//! certificate for a key they do not hold, e.g. by copying another
//! device's public key out of a log) and that the roles asked for were
//! not edited on the way. `callsign ca issue-batch` verifies every
//! request before it issues anything.
//!
//! Sans-IO: bytes in, bytes out; the files are `trust::cli`'s and the
//! daemon's.

use serde::{Deserialize, Serialize};

use super::{TrustError, roles};
use crate::identity::{self, Identity, NodeId};

/// Format version in the file.
pub const VERSION: u32 = 1;
/// Domain separation of the signed bytes.
const CONTEXT: &[u8] = b"callsign enrolment request v1\0";
/// A request file larger than this is not one.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// The request file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub callsign_enrolment_request: u32,
    /// 64 hex digits.
    pub public_key: String,
    /// 32 hex digits: the hash of the public key (checked).
    pub node_id: String,
    /// Role patterns asked for, e.g. `engine-*`.
    pub roles: Vec<String>,
    /// A label for the station's operator (the unit, the person).
    #[serde(default)]
    pub name: String,
    /// Unix seconds, the device's clock.
    pub created: u64,
    /// 128 hex digits: Ed25519 over [`signed_bytes`].
    pub signature: String,
}

/// What a checked request grants the station to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub public_key: [u8; 32],
    pub node_id: NodeId,
    pub roles: Vec<String>,
    pub name: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], TrustError> {
    if s.len() != 2 * N || !s.is_ascii() {
        return Err(TrustError::RequestHex(what));
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
            .map_err(|_| TrustError::RequestHex(what))?;
    }
    Ok(out)
}

/// The bytes the device signs: every field but the signature, each
/// length-prefixed so no two requests share an encoding.
pub fn signed_bytes(public_key: &[u8; 32], roles: &[String], name: &str, created: u64) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(public_key);
    m.extend_from_slice(&(roles.len() as u32).to_be_bytes());
    for r in roles.iter().map(String::as_bytes).chain([name.as_bytes()]) {
        m.extend_from_slice(&(r.len() as u32).to_be_bytes());
        m.extend_from_slice(r);
    }
    m.extend_from_slice(&created.to_be_bytes());
    m
}

/// A request for `ident`, signed by it.
pub fn make(
    ident: &Identity,
    roles: &[String],
    name: &str,
    created: u64,
) -> Result<Request, TrustError> {
    check_roles(roles)?;
    let pk = ident.public_key();
    let sig = ident.sign(&signed_bytes(&pk, roles, name, created));
    Ok(Request {
        callsign_enrolment_request: VERSION,
        public_key: hex(&pk),
        node_id: ident.id().to_string(),
        roles: roles.to_vec(),
        name: name.to_string(),
        created,
        signature: hex(&sig),
    })
}

fn check_roles(roles: &[String]) -> Result<(), TrustError> {
    if roles.is_empty() {
        return Err(TrustError::NoRoles);
    }
    match roles.iter().find(|r| !roles::valid_pattern(r)) {
        Some(bad) => Err(TrustError::BadRole(bad.clone())),
        None => Ok(()),
    }
}

/// Parse and verify a request file's bytes.
pub fn check(bytes: &[u8]) -> Result<Checked, TrustError> {
    if bytes.len() > MAX_REQUEST_BYTES {
        return Err(TrustError::RequestFormat(format!("{} bytes", bytes.len())));
    }
    let r: Request =
        serde_json::from_slice(bytes).map_err(|e| TrustError::RequestFormat(e.to_string()))?;
    if r.callsign_enrolment_request != VERSION {
        return Err(TrustError::RequestVersion(r.callsign_enrolment_request));
    }
    let pk: [u8; 32] = unhex(&r.public_key, "public_key")?;
    let sig: [u8; 64] = unhex(&r.signature, "signature")?;
    let id = NodeId::from_public_key(&pk);
    if id.to_string() != r.node_id.to_ascii_lowercase() {
        return Err(TrustError::RequestNodeId {
            claimed: r.node_id,
            actual: id.to_string(),
        });
    }
    check_roles(&r.roles)?;
    identity::verify(&pk, &signed_bytes(&pk, &r.roles, &r.name, r.created), &sig)
        .map_err(|_| TrustError::RequestSignature)?;
    Ok(Checked {
        public_key: pk,
        node_id: id,
        roles: r.roles,
        name: r.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_request_verifies_and_any_edit_is_refused() {
        let ident = Identity::from_secret(&[9u8; 32]);
        let req = make(
            &ident,
            &roles(&["engine-*", "command"]),
            "Engine 3",
            1_800_000_000,
        )
        .expect("make");
        let bytes = serde_json::to_vec(&req).expect("json");
        let c = check(&bytes).expect("check");
        assert_eq!(c.node_id, ident.id());
        assert_eq!(c.public_key, ident.public_key());
        assert_eq!(c.roles, roles(&["engine-*", "command"]));

        // Roles widened on the way: refused.
        let mut wider = req.clone();
        wider.roles.push("chief".into());
        assert_eq!(
            check(&serde_json::to_vec(&wider).expect("json")),
            Err(TrustError::RequestSignature)
        );
        // Someone else's public key with this signature: refused.
        let other = Identity::from_secret(&[10u8; 32]);
        let mut stolen = req.clone();
        stolen.public_key = hex(&other.public_key());
        stolen.node_id = other.id().to_string();
        assert_eq!(
            check(&serde_json::to_vec(&stolen).expect("json")),
            Err(TrustError::RequestSignature)
        );
        // A node id that is not the key's.
        let mut lying = req.clone();
        lying.node_id = other.id().to_string();
        assert!(matches!(
            check(&serde_json::to_vec(&lying).expect("json")),
            Err(TrustError::RequestNodeId { .. })
        ));
        let mut v2 = req;
        v2.callsign_enrolment_request = 2;
        assert_eq!(
            check(&serde_json::to_vec(&v2).expect("json")),
            Err(TrustError::RequestVersion(2))
        );
        assert!(matches!(check(b"{}"), Err(TrustError::RequestFormat(_))));
        assert_eq!(
            make(&ident, &roles(&["Engine 3"]), "", 0),
            Err(TrustError::BadRole("Engine 3".into()))
        );
        assert_eq!(make(&ident, &[], "", 0), Err(TrustError::NoRoles));
    }
}
