//! [`Secured`]: the incident's trust roots and the verified device
//! certificates, and the directory's trust policy built on them.

use std::collections::BTreeMap;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use super::revoke::Revocation;
use super::{TrustError, der, roles};
use crate::identity::NodeId;
use crate::names::{Record, Refusal, Trust};

/// Most trust roots (agencies under mutual aid, each with its CA).
pub const MAX_ROOTS: usize = 16;
/// Most cached device certificates. At the limit, expired entries go
/// first; if none has expired, the one that expires soonest (then the
/// lowest NodeId) is forgotten to make room. Evicting never admits anyone:
/// a forgotten device is refused until it presents its certificate again,
/// which devices do whenever they meet a neighbour. Only certificates the
/// roots signed get in, so an outsider cannot churn the cache.
pub const MAX_CACHED: usize = 1024;
/// Most certificates in one presented chain: the device's and up to three
/// sub-CAs above it.
pub const MAX_CHAIN: usize = 4;
/// Largest input to [`Secured::add_peer_cert`] and [`Secured::add_root`]
/// (PEM included; a device certificate is ~400 bytes of DER).
pub const MAX_CHAIN_BYTES: usize = 8192;
pub use crate::wire::MAX_WIRE_CHAIN;
/// Most revoked devices remembered. A revocation never expires (the
/// certificate it shuts out may be renewed by mistake), so at the limit a
/// new one is refused, counted and logged rather than any old one
/// forgotten: forgetting would let a stolen handset back in. Only roots
/// sign revocations, so only a root can fill the list. About 200 bytes
/// each.
pub const MAX_REVOKED: usize = 1024;

/// What a verified device certificate grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    /// The agency in the device certificate (subject O).
    pub agency: String,
    /// The agency of the trust root the chain ends at.
    pub root_agency: String,
    /// Permitted role patterns ([`roles`]); SANs that are not role names
    /// are ignored.
    pub roles: Vec<String>,
    /// Permitted talkgroup patterns (same syntax, under
    /// [`roles::TALKGROUP_DOMAIN`]): the talkgroups whose key the device
    /// may hold.
    pub talkgroups: Vec<String>,
    /// Unix seconds: start of the device certificate.
    pub not_before: u64,
    /// Unix seconds: the earliest end of any certificate in the chain.
    pub expiry: u64,
}

#[derive(Debug)]
struct Root {
    der: Vec<u8>,
    agency: String,
    not_after: u64,
    /// Its Ed25519 key: the signer of revocations.
    key: Option<[u8; 32]>,
}

/// The `secured` trust mode.
///
/// 1. [`Secured::add_root`] each agency CA of the incident.
/// 2. [`Secured::add_peer_cert`] every device certificate (chain) that
///    arrives, the device's own included (its records pass
///    [`Trust::admit`] too).
/// 3. [`Secured::set_now`] as wall-clock time passes: [`Trust::admit`] has
///    no time argument, so expiry is judged against the last `now` given
///    (to `set_now` or to `add_peer_cert`).
/// 4. Hand it to the directory as its [`Trust`]; ask
///    [`Secured::is_enrolled`] before taking a hello or route update.
/// 5. [`Secured::revoke`] every revocation that arrives (or was stored):
///    a revoked device is no longer enrolled and its certificates are
///    refused from then on.
#[derive(Debug, Default)]
pub struct Secured {
    roots: Vec<Root>,
    anchors: Vec<TrustAnchor<'static>>,
    cache: BTreeMap<NodeId, Cached>,
    /// This device, whose certificate is never evicted.
    own: Option<NodeId>,
    now: u64,
    /// With an unsure clock, how far past `now` a certificate's start may
    /// be ([`super::clock`]); 0 with a sure clock.
    not_before_grace: u64,
    /// Revoked devices and the revocation that says so (at most
    /// [`MAX_REVOKED`]).
    revoked: BTreeMap<NodeId, Revocation>,
}

/// A verified certificate and the chain it came in (DER, leaf first), so
/// that it can be passed on.
#[derive(Debug)]
struct Cached {
    cert: PeerCert,
    chain: Vec<u8>,
}

/// The certificates in `input`: PEM (any number of CERTIFICATE blocks,
/// other blocks skipped) or concatenated DER, leaf first.
fn certificates(input: &[u8]) -> Result<Vec<CertificateDer<'_>>, TrustError> {
    if input.len() > MAX_CHAIN_BYTES {
        return Err(TrustError::TooLarge(input.len()));
    }
    if input.trim_ascii_start().starts_with(b"-----BEGIN") {
        let mut out = Vec::new();
        for cert in CertificateDer::pem_slice_iter(input) {
            if out.len() == MAX_CHAIN {
                return Err(TrustError::ChainTooLong(MAX_CHAIN));
            }
            out.push(cert.map_err(|e| TrustError::BadPem(e.to_string()))?);
        }
        if out.is_empty() {
            return Err(TrustError::BadPem("no CERTIFICATE block".into()));
        }
        return Ok(out);
    }
    Ok(der::split_certs(input, MAX_CHAIN)?
        .into_iter()
        .map(CertificateDer::from)
        .collect())
}

impl Secured {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust the CA certificate in `der_or_pem` (the first one, if several
    /// are given). Returns its agency. Adding a root twice is harmless.
    pub fn add_root(&mut self, der_or_pem: &[u8]) -> Result<String, TrustError> {
        let cert = certificates(der_or_pem)?
            .into_iter()
            .next()
            .ok_or(TrustError::Malformed("empty"))?;
        let fields = der::fields(&cert)?;
        let agency = fields.organization.ok_or(TrustError::NoAgency)?;
        if self.roots.iter().any(|r| r.der == cert.as_ref()) {
            return Ok(agency);
        }
        if self.roots.len() == MAX_ROOTS {
            return Err(TrustError::TooManyRoots(MAX_ROOTS));
        }
        let anchor = webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| TrustError::Verify(format!("{e:?}")))?
            .to_owned();
        self.anchors.push(anchor);
        self.roots.push(Root {
            der: cert.to_vec(),
            agency: agency.clone(),
            not_after: fields.not_after,
            key: fields.ed25519_key,
        });
        Ok(agency)
    }

    /// The DER of every trust root, in the order added (for deriving the
    /// incident's packet key, [`super::MacKey::derive`]).
    pub fn roots_der(&self) -> impl Iterator<Item = &[u8]> {
        self.roots.iter().map(|r| r.der.as_slice())
    }

    /// Verify a device certificate (DER, concatenated DER chain or PEM,
    /// leaf first) at `now_unix_s` and cache what it grants. Checks: one
    /// chain to a root (signatures, validity of every certificate, basic
    /// and name constraints), an Ed25519 key, a subject CN equal to the
    /// NodeId of that key. Returns the NodeId. A certificate that starts
    /// earlier than the one cached for the device does not replace it, so
    /// an old certificate cannot undo a renewal.
    pub fn add_peer_cert(
        &mut self,
        der_or_pem: &[u8],
        now_unix_s: u64,
    ) -> Result<NodeId, TrustError> {
        self.add_cert(der_or_pem, now_unix_s, self.not_before_grace)
    }

    /// The clock is unsure ([`super::clock::WallTime::Unsure`]): from now
    /// on a certificate that starts at most `grace_s` after the time given
    /// is judged at its start instead (the real time is later than the
    /// assumed one by an unknown amount). 0 restores the strict check.
    pub fn set_not_before_grace(&mut self, grace_s: u64) {
        self.not_before_grace = grace_s;
    }

    /// [`Self::add_peer_cert`] with a grace of its own for the start.
    fn add_cert(
        &mut self,
        der_or_pem: &[u8],
        now_unix_s: u64,
        grace_s: u64,
    ) -> Result<NodeId, TrustError> {
        let chain = certificates(der_or_pem)?;
        let (leaf_der, intermediates) =
            chain.split_first().ok_or(TrustError::Malformed("empty"))?;
        let fields = der::fields(leaf_der)?;
        let key = fields.ed25519_key.ok_or(TrustError::NotEd25519)?;
        let id = NodeId::from_public_key(&key);
        let cn = fields.common_name.unwrap_or_default();
        if cn != id.to_string() {
            return Err(TrustError::KeyMismatch {
                cn,
                id: id.to_string(),
            });
        }
        if self.revoked.contains_key(&id) && self.own != Some(id) {
            return Err(TrustError::Revoked(id));
        }
        let agency = fields.organization.ok_or(TrustError::NoAgency)?;
        // Judged at its start when that is within the grace of now (an
        // unsure clock), else at now.
        let now = if now_unix_s < fields.not_before && fields.not_before - now_unix_s <= grace_s {
            fields.not_before
        } else {
            now_unix_s
        };
        if now < fields.not_before {
            let not_before = fields.not_before;
            return Err(TrustError::NotYetValid { not_before, now });
        }
        if now >= fields.not_after {
            let not_after = fields.not_after;
            return Err(TrustError::Expired { not_after, now });
        }
        let leaf = webpki::EndEntityCert::try_from(leaf_der)
            .map_err(|e| TrustError::Verify(format!("{e:?}")))?;
        let path = leaf
            .verify_for_usage(
                &[webpki::ring::ED25519],
                &self.anchors,
                intermediates,
                UnixTime::since_unix_epoch(Duration::from_secs(now)),
                webpki::KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(|e| TrustError::Verify(format!("{e:?}")))?;
        let mut expiry = fields.not_after;
        for cert in path.intermediate_certificates() {
            expiry = expiry.min(der::fields(&cert.der())?.not_after);
        }
        let anchor = path.anchor();
        let root = self
            .anchors
            .iter()
            .position(|a| a.subject_public_key_info == anchor.subject_public_key_info)
            .and_then(|i| self.roots.get(i))
            .ok_or(TrustError::Verify("chain ends at an unknown root".into()))?;
        expiry = expiry.min(root.not_after);
        if now >= expiry {
            return Err(TrustError::Expired {
                not_after: expiry,
                now,
            });
        }
        let granted: Vec<String> = leaf.valid_dns_names().filter_map(roles::from_dns).collect();
        if granted.len() > roles::MAX_ROLES {
            return Err(TrustError::TooManyRoles(granted.len()));
        }
        let talkgroups: Vec<String> = leaf
            .valid_dns_names()
            .filter_map(|d| roles::from_dns_in(d, roles::TALKGROUP_DOMAIN))
            .collect();
        if talkgroups.len() > roles::MAX_ROLES {
            return Err(TrustError::TooManyRoles(talkgroups.len()));
        }
        let entry = PeerCert {
            agency,
            root_agency: root.agency.clone(),
            roles: granted,
            talkgroups,
            not_before: fields.not_before,
            expiry,
        };
        self.now = now_unix_s;
        let chain = chain.iter().flat_map(|c| c.iter().copied()).collect();
        self.insert(id, entry, chain);
        Ok(id)
    }

    /// [`Self::add_peer_cert`] for this device's own certificate, which is
    /// then never evicted from the cache (its records must keep passing
    /// [`Trust::admit`]) and is what [`Trust::chain_of`] gives for it.
    pub fn set_own(&mut self, der_or_pem: &[u8], now_unix_s: u64) -> Result<NodeId, TrustError> {
        let id = self.add_peer_cert(der_or_pem, now_unix_s)?;
        self.own = Some(id);
        Ok(id)
    }

    /// [`Self::set_own`] when the clock is unsure: a certificate that is
    /// not yet valid at `assumed_unix_s` is taken anyway, judged at its
    /// start (the clock, not the certificate, is what is wrong; peers with
    /// sure clocks judge it themselves). Returns the NodeId and, when the
    /// start was in the future, that start, for the driver to log loudly.
    /// An expired certificate is refused as always: the real time is at
    /// least the assumed one.
    pub fn set_own_clock_unsure(
        &mut self,
        der_or_pem: &[u8],
        assumed_unix_s: u64,
    ) -> Result<(NodeId, Option<u64>), TrustError> {
        match self.add_cert(der_or_pem, assumed_unix_s, self.not_before_grace) {
            Ok(id) => {
                self.own = Some(id);
                Ok((id, None))
            }
            Err(TrustError::NotYetValid { not_before, .. }) => {
                let id = self.add_cert(der_or_pem, assumed_unix_s, u64::MAX)?;
                self.own = Some(id);
                Ok((id, Some(not_before)))
            }
            Err(e) => Err(e),
        }
    }

    /// This device's NodeId, if [`Self::set_own`] was given its certificate.
    pub fn own(&self) -> Option<NodeId> {
        self.own
    }

    fn insert(&mut self, id: NodeId, entry: PeerCert, chain: Vec<u8>) {
        if let Some(old) = self.cache.get(&id) {
            if old.cert.not_before > entry.not_before {
                return;
            }
        } else if self.cache.len() >= MAX_CACHED {
            let now = self.now;
            let own = self.own;
            self.cache
                .retain(|id, c| c.cert.expiry > now || Some(*id) == own);
            if self.cache.len() >= MAX_CACHED {
                let victim = self
                    .cache
                    .iter()
                    .filter(|(id, _)| Some(**id) != own)
                    .min_by_key(|(id, c)| (c.cert.expiry, **id))
                    .map(|(id, _)| *id);
                if let Some(v) = victim {
                    self.cache.remove(&v);
                }
            }
        }
        self.cache.insert(id, Cached { cert: entry, chain });
    }

    /// Tell the trust layer the wall-clock time (Unix seconds); forgets
    /// certificates that have expired by then.
    pub fn set_now(&mut self, now_unix_s: u64) {
        self.now = now_unix_s;
        self.cache.retain(|_, c| c.cert.expiry > now_unix_s);
    }

    /// Whether `id` holds a valid certificate and is not revoked: the
    /// node takes hellos and route updates only from enrolled devices.
    pub fn is_enrolled(&self, id: &NodeId) -> bool {
        self.peer(id).is_some() && !self.is_revoked(id)
    }

    /// Whether a root revoked `id`. This device's own revocation is
    /// remembered (and passed on) but does not stop it: the mesh refuses
    /// it, which is what matters, and the device can still say so.
    pub fn is_revoked(&self, id: &NodeId) -> bool {
        self.own != Some(*id) && self.revoked.contains_key(id)
    }

    /// Take a revocation ([`super::revoke`] format): it must be signed by
    /// a trust root. Returns the revoked NodeId when it is new here (the
    /// device's cached certificate is forgotten at once), `None` when the
    /// device was revoked already (the first revocation is kept).
    pub fn revoke(&mut self, bytes: &[u8]) -> Result<Option<NodeId>, TrustError> {
        let r = Revocation::decode(bytes)?;
        if !self.roots.iter().any(|root| root.key == Some(r.signer)) {
            return Err(TrustError::RevocationSigner);
        }
        r.verify()?;
        if self.revoked.contains_key(&r.node) {
            return Ok(None);
        }
        if self.revoked.len() >= MAX_REVOKED {
            return Err(TrustError::RevocationListFull(MAX_REVOKED));
        }
        let id = r.node;
        self.revoked.insert(id, r);
        if self.own != Some(id) {
            self.cache.remove(&id);
        }
        Ok(Some(id))
    }

    /// The revocations held, by revoked NodeId.
    pub fn revocations(&self) -> impl Iterator<Item = &Revocation> {
        self.revoked.values()
    }

    /// What `id`'s certificate grants, while it is valid.
    /// Whether the verified certificate of `id` permits talkgroup `name`
    /// (false for a device whose certificate is not cached).
    pub fn permits_talkgroup(&self, id: &NodeId, name: &str) -> bool {
        self.peer(id)
            .is_some_and(|c| c.talkgroups.iter().any(|p| roles::permits(p, name)))
    }

    pub fn peer(&self, id: &NodeId) -> Option<&PeerCert> {
        self.cache
            .get(id)
            .map(|c| &c.cert)
            .filter(|c| c.expiry > self.now)
    }

    /// The chain `id` presented (DER, leaf first), while it is valid.
    pub fn chain(&self, id: &NodeId) -> Option<&[u8]> {
        self.cache
            .get(id)
            .filter(|c| c.cert.expiry > self.now)
            .map(|c| c.chain.as_slice())
    }

    /// Cached certificates (expired ones included until [`Self::set_now`]).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

impl Trust for Secured {
    fn secured(&self) -> bool {
        true
    }

    fn enrolled(&self, id: &NodeId) -> bool {
        self.is_enrolled(id)
    }

    /// Verified at the last `now` given ([`Trust::set_now`]).
    fn learn_cert(&mut self, chain: &[u8]) -> Result<NodeId, String> {
        self.add_peer_cert(chain, self.now)
            .map_err(|e| e.to_string())
    }

    fn chain_of(&self, id: &NodeId) -> Option<&[u8]> {
        self.chain(id).filter(|c| c.len() <= MAX_WIRE_CHAIN)
    }

    fn set_now(&mut self, unix_s: u64) {
        Secured::set_now(self, unix_s);
    }

    fn revoked(&self, id: &NodeId) -> bool {
        self.is_revoked(id)
    }

    fn revoke(&mut self, bytes: &[u8]) -> Result<Option<NodeId>, String> {
        Secured::revoke(self, bytes).map_err(|e| e.to_string())
    }

    fn revocations(&self) -> Vec<Vec<u8>> {
        self.revoked.values().map(Revocation::encode).collect()
    }

    /// Refuses holders without a valid certificate, a record whose agency
    /// is not the certificate's (an empty agency is allowed), and names no
    /// permitted pattern matches. A release is admitted from any enrolled
    /// holder: it only withdraws that holder's own claim, and a device
    /// whose renewed certificate dropped a role must still be able to let
    /// go of it.
    fn admit(&self, rec: &Record) -> Result<(), Refusal> {
        if self.is_revoked(&rec.holder) {
            return Err(Refusal::NotAuthorised(format!(
                "holder {} is revoked",
                rec.holder
            )));
        }
        let cert = self.peer(&rec.holder).ok_or_else(|| {
            Refusal::NotAuthorised(format!(
                "no certificate for holder {} (or it expired)",
                rec.holder
            ))
        })?;
        if !rec.agency.is_empty() && rec.agency != cert.agency {
            return Err(Refusal::NotAuthorised(format!(
                "agency {:?} is not the certificate's {:?} for holder {}",
                rec.agency, cert.agency, rec.holder
            )));
        }
        if rec.released || cert.roles.iter().any(|p| roles::permits(p, &rec.name)) {
            return Ok(());
        }
        Err(Refusal::NotAuthorised(format!(
            "role {:?} not permitted by certificate of holder {} (permits: {})",
            rec.name,
            rec.holder,
            if cert.roles.is_empty() {
                "nothing".to_string()
            } else {
                cert.roles.join(", ")
            }
        )))
    }
}
