//! The agency CA: a self-signed Ed25519 certificate and key, and the
//! device certificates it issues.
//!
//! - CA: subject `O=<agency>, CN=<agency> callsign CA`, basic constraints
//!   `CA:TRUE, pathlen:1` (one level of sub-CA, see [`issue_sub_ca`]), key
//!   usage certificate and CRL signing. Files: `ca.pem` (certificate) and
//!   `ca.key` (PKCS#8 PEM, keep it 0600 and off the devices).
//! - Device: subject `O=<agency>, CN=<NodeId hex>`, the device's own
//!   Ed25519 key, one DNS SAN per role pattern ([`super::roles`]), key
//!   usage digital signature, no extended key usage. The serial number is
//!   a hash of key, roles and start time; signing is Ed25519, so issuing
//!   is deterministic given its inputs.
//!
//! Times are Unix seconds passed in. A device certificate never outlives
//! its CA: its end is clamped to the CA's.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose,
    NameConstraints, PKCS_ED25519, PublicKeyData, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use super::{TrustError, der, roles};
use crate::identity::NodeId;
use crate::wire::name::MAX_TEXT;

/// The two files of a CA, as PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct CaFiles {
    /// `ca.pem`: the CA certificate, given to every device as a trust root.
    pub cert_pem: String,
    /// `ca.key`: the CA's PKCS#8 private key. Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for CaFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaFiles").finish_non_exhaustive()
    }
}

/// Longest validity accepted, in days (about 30 years).
pub const MAX_DAYS: u32 = 11_000;
/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410): the 32-byte
/// seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Create a CA for `agency`, valid `days` from `not_before_unix_s`, with
/// a fresh key. The key comes from the OS random source (through ring):
/// the one place the trust layer draws randomness, because a CA key must
/// be unpredictable; [`init_from_secret`] is the deterministic form.
pub fn init(agency: &str, days: u32, not_before_unix_s: u64) -> Result<CaFiles, TrustError> {
    let key = KeyPair::generate_for(&PKCS_ED25519)?;
    init_with_key(agency, days, not_before_unix_s, key)
}

/// [`init`] with the CA's Ed25519 secret key given.
pub fn init_from_secret(
    agency: &str,
    days: u32,
    not_before_unix_s: u64,
    secret: &[u8; 32],
) -> Result<CaFiles, TrustError> {
    init_with_key(agency, days, not_before_unix_s, key_from_secret(secret)?)
}

fn key_from_secret(secret: &[u8; 32]) -> Result<KeyPair, TrustError> {
    let mut pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
    pkcs8.extend_from_slice(secret);
    Ok(KeyPair::try_from(pkcs8.as_slice())?)
}

fn init_with_key(
    agency: &str,
    days: u32,
    not_before_unix_s: u64,
    key: KeyPair,
) -> Result<CaFiles, TrustError> {
    let params = ca_params(agency, not_before_unix_s, days, None)?;
    let cert = params.self_signed(&key)?;
    Ok(CaFiles {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn valid_agency(agency: &str) -> Result<(), TrustError> {
    let ok = !agency.trim().is_empty()
        && agency.len() <= MAX_TEXT
        && !agency.chars().any(char::is_control);
    ok.then_some(())
        .ok_or_else(|| TrustError::BadAgency(agency.to_string()))
}

fn validity(params: &mut CertificateParams, from: u64, days: u32) -> Result<(), TrustError> {
    if days == 0 || days > MAX_DAYS {
        return Err(TrustError::BadValidity("days must be 1..=11000"));
    }
    let to = from
        .checked_add(u64::from(days) * 86_400)
        .ok_or(TrustError::BadValidity("end overflows"))?;
    params.not_before = datetime(from)?;
    params.not_after = datetime(to)?;
    Ok(())
}

fn datetime(unix_s: u64) -> Result<time::OffsetDateTime, TrustError> {
    i64::try_from(unix_s)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or(TrustError::BadValidity("date out of range"))
}

/// Parameters of a CA certificate; `permitted` constrains a sub-CA to role
/// subtrees.
fn ca_params(
    agency: &str,
    from: u64,
    days: u32,
    permitted: Option<&[String]>,
) -> Result<CertificateParams, TrustError> {
    valid_agency(agency)?;
    let mut params = CertificateParams::default();
    validity(&mut params, from, days)?;
    params.distinguished_name = ca_name(agency);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.is_ca = match permitted {
        None => IsCa::Ca(BasicConstraints::Constrained(1)),
        Some(_) => IsCa::Ca(BasicConstraints::Constrained(0)),
    };
    if let Some(subtrees) = permitted {
        let mut dns = Vec::with_capacity(subtrees.len());
        for role in subtrees {
            let name = roles::to_dns(role).filter(|_| !role.contains('*'));
            dns.push(GeneralSubtree::DnsName(
                name.ok_or_else(|| TrustError::BadRole(role.clone()))?,
            ));
        }
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: dns,
            excluded_subtrees: Vec::new(),
        });
    }
    params.serial_number = Some(serial(&[agency.as_bytes(), &from.to_be_bytes()]));
    Ok(params)
}

pub(super) fn ca_name(agency: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::OrganizationName, agency);
    dn.push(DnType::CommonName, format!("{agency} callsign CA"));
    dn
}

/// A positive 16-byte serial number hashed from `parts`.
fn serial(parts: &[&[u8]]) -> SerialNumber {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let mut s = h.finalize()[..16].to_vec();
    s[0] &= 0x7f;
    s[0] |= 0x01; // never a leading zero byte
    SerialNumber::from(s)
}

/// A device's Ed25519 public key, as rcgen wants a subject key.
pub(super) struct DeviceKey(pub(super) [u8; 32]);

impl PublicKeyData for DeviceKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ED25519
    }
}

/// A loaded CA: its key, its certificate's fields and DER.
struct Loaded {
    key: KeyPair,
    agency: String,
    fields: der::Fields,
    der: CertificateDer<'static>,
}

fn load(ca: &CaFiles) -> Result<Loaded, TrustError> {
    let der = CertificateDer::from_pem_slice(ca.cert_pem.as_bytes())
        .map_err(|e| TrustError::BadPem(format!("CA certificate: {e}")))?;
    let key = KeyPair::from_pem(&ca.key_pem).map_err(|e| TrustError::BadKey(e.to_string()))?;
    if key.algorithm() != &PKCS_ED25519 {
        return Err(TrustError::BadKey("CA key is not Ed25519".into()));
    }
    let fields = der::fields(&der)?;
    if fields.ed25519_key.as_ref().map(|k| &k[..]) != Some(key.public_key_raw()) {
        return Err(TrustError::BadKey(
            "CA key does not belong to the CA certificate".into(),
        ));
    }
    let agency = fields.organization.clone().ok_or(TrustError::NoAgency)?;
    Ok(Loaded {
        key,
        agency,
        fields,
        der,
    })
}

/// Issue a device certificate (PEM) for the Ed25519 public key
/// `device_public_key`, permitting `roles` (patterns, see
/// [`super::roles`]), valid `days` from `now_unix_s` but never past the
/// CA's own end. The result is checked against the CA before it is
/// returned.
pub fn issue(
    ca: &CaFiles,
    device_public_key: [u8; 32],
    roles: &[String],
    days: u32,
    now_unix_s: u64,
) -> Result<String, TrustError> {
    issue_with_talkgroups(ca, device_public_key, roles, &[], days, now_unix_s)
}

/// [`issue`], also permitting the talkgroup patterns `talkgroups` (the
/// role pattern syntax, as DNS names under [`roles::TALKGROUP_DOMAIN`]).
/// A sub-CA whose name constraints permit only role subtrees cannot issue
/// these.
pub fn issue_with_talkgroups(
    ca: &CaFiles,
    device_public_key: [u8; 32],
    roles: &[String],
    talkgroups: &[String],
    days: u32,
    now_unix_s: u64,
) -> Result<String, TrustError> {
    let ca = load(ca)?;
    if now_unix_s < ca.fields.not_before || now_unix_s >= ca.fields.not_after {
        return Err(TrustError::BadValidity("the CA is not valid now"));
    }
    ed25519_dalek::VerifyingKey::from_bytes(&device_public_key)
        .map_err(|_| TrustError::BadKey("device key is not an Ed25519 point".into()))?;
    if roles.len() > roles::MAX_ROLES {
        return Err(TrustError::TooManyRoles(roles.len()));
    }
    let mut params = CertificateParams::default();
    validity(&mut params, now_unix_s, days)?;
    if params.not_after > datetime(ca.fields.not_after)? {
        params.not_after = datetime(ca.fields.not_after)?;
    }
    let id = NodeId::from_public_key(&device_public_key);
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::OrganizationName, ca.agency.as_str());
    dn.push(DnType::CommonName, id.to_string());
    params.distinguished_name = dn;
    for role in roles {
        let dns = roles::to_dns(role).ok_or_else(|| TrustError::BadRole(role.clone()))?;
        params.subject_alt_names.push(SanType::DnsName(
            dns.try_into()
                .map_err(|_| TrustError::BadRole(role.clone()))?,
        ));
    }
    if talkgroups.len() > roles::MAX_ROLES {
        return Err(TrustError::TooManyRoles(talkgroups.len()));
    }
    for tg in talkgroups {
        let dns = roles::to_dns_in(tg, roles::TALKGROUP_DOMAIN)
            .ok_or_else(|| TrustError::BadRole(tg.clone()))?;
        params.subject_alt_names.push(SanType::DnsName(
            dns.try_into()
                .map_err(|_| TrustError::BadRole(tg.clone()))?,
        ));
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(serial(&[
        &device_public_key,
        &now_unix_s.to_be_bytes(),
        roles.join(",").as_bytes(),
        talkgroups.join(",").as_bytes(),
    ]));
    let issuer = rcgen::Issuer::new(ca_params(&ca.agency, 0, 1, None)?, &ca.key);
    let cert = params.signed_by(&DeviceKey(device_public_key), &issuer)?;
    let mut check = super::Secured::new();
    check.add_root(&ca.der)?;
    check.add_peer_cert(cert.der(), now_unix_s)?;
    Ok(cert.pem())
}

/// Issue a sub-CA certificate (PEM) and its key (PEM) for `agency`,
/// signed by `ca` and constrained by X.509 name constraints to the role
/// subtrees `permitted` (exact role names: `engine-7` lets it grant
/// `engine-7`, `captain.engine-7`, `*.engine-7`). A device certificate
/// from the sub-CA travels with the sub-CA certificate behind it.
pub fn issue_sub_ca(
    ca: &CaFiles,
    agency: &str,
    permitted: &[String],
    days: u32,
    now_unix_s: u64,
    secret: &[u8; 32],
) -> Result<CaFiles, TrustError> {
    let parent = load(ca)?;
    let key = key_from_secret(secret)?;
    let mut params = ca_params(agency, now_unix_s, days, Some(permitted))?;
    if params.not_after > datetime(parent.fields.not_after)? {
        params.not_after = datetime(parent.fields.not_after)?;
    }
    let issuer = rcgen::Issuer::new(ca_params(&parent.agency, 0, 1, None)?, &parent.key);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(CaFiles {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Revoke device `node` ([`super::revoke`]): a revocation signed by the
/// CA key, dated `now_unix_s`, checked against the CA before it is
/// returned (encoded, ready for a file). A sub-CA's revocation is
/// refused by the devices: only roots revoke.
pub fn revoke(
    ca: &CaFiles,
    node: NodeId,
    reason: &str,
    now_unix_s: u64,
) -> Result<Vec<u8>, TrustError> {
    use rcgen::SigningKey;
    let ca = load(ca)?;
    let signer: [u8; 32] = ca
        .key
        .public_key_raw()
        .try_into()
        .map_err(|_| TrustError::BadKey("CA key is not Ed25519".into()))?;
    let r = super::Revocation::sign(node, now_unix_s, reason, signer, |m| Ok(ca.key.sign(m)?))?;
    let bytes = r.encode();
    let mut check = super::Secured::new();
    check.add_root(&ca.der)?;
    check.revoke(&bytes)?;
    Ok(bytes)
}
