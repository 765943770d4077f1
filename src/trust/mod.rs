//! The `secured` trust mode: agency certificates that say which devices
//! take part and which roles each may claim, and hop-by-hop
//! authentication of routing packets. Sans-IO: time is an argument (Unix
//! seconds, as judged by [`clock`]), nothing here reads a clock, a socket
//! or a file (the CLI face in [`cli`] excepted).
//!
//! # Pieces
//!
//! - [`ca`]: an agency CA ([`ca::init`]) issuing device certificates
//!   ([`ca::issue`]) with rcgen. A device certificate binds the device's
//!   *existing* Ed25519 key (the one its NodeId is the hash of) to an
//!   agency (subject O), its NodeId (subject CN, 32 hex digits) and the
//!   role patterns it may claim ([`roles`]: one DNS subject alternative
//!   name each, under `roles.callsign.mesh`, so X.509 name constraints on
//!   a sub-CA bound what it can grant). About 400 bytes of DER: small
//!   enough to ride the mesh.
//! - [`Secured`]: the trust roots of an incident (several agencies under
//!   mutual aid) and a bounded cache of verified device certificates by
//!   NodeId. It is the [`crate::names::Trust`] of the directory in secured
//!   mode and tells the node whether a device is enrolled at all.
//! - [`mac`]: an HMAC trailer with replay protection for link-local
//!   routing packets, in the spirit of Babel's RFC 8967.
//! - [`clock`]: secured mode without a trusted clock: the MAC epoch from a
//!   boot counter, certificates judged at the last known good time with a
//!   grace when the clock is obviously wrong.
//! - [`enrol`]: enrolment requests, signed by the device key, so a
//!   station issues certificates from public keys it knows are held.
//! - [`revoke`]: a root's signed revocation of a device (a lost or stolen
//!   handset); [`Secured::revoke`] keeps a bounded list of them, and a
//!   revoked device is no longer enrolled.
//! - [`cli`]: `ca init`, `ca issue`, `ca issue-batch` and `ca revoke` for
//!   the binary.
//!
//! Chains are verified by rustls-webpki (Ed25519 only, validity periods,
//! basic and name constraints); the few fields it does not expose are read
//! by a small total DER walker. ring is the one crypto backend, shared by
//! rcgen and webpki.
//!
//! Revocation is by the CA's own signed statement ([`revoke`]), not X.509
//! CRLs or OCSP: there is no server to ask in an outage, and a
//! revocation must fit one packet to spread in seconds. Certificates travel on the mesh by the node
//! (`node/secure.rs`): with directory records and in a link-local
//! certificate packet to a new neighbour; the cache takes whatever
//! arrives and verifies.

pub mod ca;
// The operator's face: it reads and writes the CA's files and reads the
// wall clock to date what it issues; the rest of the layer is sans-IO.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod cli;
pub mod clock;
mod der;
pub mod enrol;
pub mod mac;
pub mod revoke;
pub mod roles;
mod secured;
#[cfg(test)]
mod tests;

pub use mac::{MacKey, MacState};
pub use revoke::Revocation;
pub use secured::{
    MAX_CACHED, MAX_CHAIN, MAX_CHAIN_BYTES, MAX_REVOKED, MAX_ROOTS, MAX_WIRE_CHAIN, PeerCert,
    Secured,
};

/// Errors of the trust layer.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum TrustError {
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
    #[error("certificate input too large: {0} bytes")]
    TooLarge(usize),
    #[error("chain longer than {0} certificates")]
    ChainTooLong(usize),
    #[error("not PEM or DER: {0}")]
    BadPem(String),
    #[error("certificate does not verify: {0}")]
    Verify(String),
    #[error("certificate expired at {not_after} (now {now}, Unix s)")]
    Expired { not_after: u64, now: u64 },
    #[error("certificate not valid before {not_before} (now {now}, Unix s)")]
    NotYetValid { not_before: u64, now: u64 },
    #[error("certificate key is not Ed25519")]
    NotEd25519,
    #[error("certificate common name {cn:?} is not the NodeId {id} of its key")]
    KeyMismatch { cn: String, id: String },
    #[error("certificate has no agency (subject O)")]
    NoAgency,
    #[error("invalid agency name {0:?}")]
    BadAgency(String),
    #[error("invalid role pattern {0:?}")]
    BadRole(String),
    #[error("too many roles: {0} (at most {max})", max = roles::MAX_ROLES)]
    TooManyRoles(usize),
    #[error("invalid validity: {0}")]
    BadValidity(&'static str),
    #[error("invalid key: {0}")]
    BadKey(String),
    #[error("too many trust roots (at most {0})")]
    TooManyRoots(usize),
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("packet too short for its authentication trailer: {0} bytes")]
    Truncated(usize),
    #[error("packet authentication tag does not verify")]
    BadTag,
    #[error("replayed or too old packet counter {counter:#x} from {sender}")]
    Replay {
        sender: crate::identity::NodeId,
        counter: u64,
    },
    #[error("not an enrolment request: {0}")]
    RequestFormat(String),
    #[error("enrolment request version {0} (this callsign reads {v})", v = enrol::VERSION)]
    RequestVersion(u32),
    #[error("bad {0} in the enrolment request (hex of the wrong length)")]
    RequestHex(&'static str),
    #[error("node id {claimed} is not the hash of the public key ({actual})")]
    RequestNodeId { claimed: String, actual: String },
    #[error("no roles asked for")]
    NoRoles,
    #[error("the signature does not verify: the request was altered, or not made with this key")]
    RequestSignature,
    #[error("device {0} is revoked")]
    Revoked(crate::identity::NodeId),
    #[error("not a revocation: {0}")]
    RevocationFormat(String),
    #[error("the revocation's signature does not verify")]
    RevocationSignature,
    #[error("the revocation is not signed by a trust root of this incident")]
    RevocationSigner,
    #[error("the revocation list is full ({0} devices)")]
    RevocationListFull(usize),
}

impl From<rcgen::Error> for TrustError {
    fn from(e: rcgen::Error) -> Self {
        TrustError::Generate(e.to_string())
    }
}
