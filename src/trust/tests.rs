//! Tests of the CA, the certificate cache and the directory policy.

use proptest::prelude::*;
use rcgen::{CertificateParams, DnType, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::ca::{self, CaFiles};
use super::*;
use crate::identity::{Identity, NodeId};
use crate::names::{Presence, Record, Refusal, Trust};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;
const DAY: u64 = 86_400;

fn agency_ca(agency: &str, seed: u8) -> CaFiles {
    ca::init_from_secret(agency, 3650, T0, &[seed; 32]).expect("ca")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn device(seed: u8) -> Identity {
    Identity::from_secret(&[seed; 32])
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("pem")
        .to_vec()
}

fn secured(roots: &[&CaFiles]) -> Secured {
    let mut s = Secured::new();
    for r in roots {
        s.add_root(r.cert_pem.as_bytes()).expect("root");
    }
    s
}

fn record(holder: &Identity, name: &str, agency: &str) -> Record {
    Record {
        name: name.into(),
        holder: holder.id(),
        key: holder.public_key(),
        agency: agency.into(),
        unit: String::new(),
        talkgroups: Vec::new(),
        presence: Presence::Available,
        position: None,
        exclusive: false,
        released: false,
        lease_s: 600,
        version: 1,
        epoch_ms: 0,
        generation: 0,
        handover: None,
    }
}

/// A certificate signed by `ca` with whatever subject and SANs, bypassing
/// the checks of `ca::issue` (for forging what a careless CA might sign).
fn raw_leaf(ca: &CaFiles, cn: &str, key: &Identity, sans: &[&str]) -> Vec<u8> {
    let ca_key = KeyPair::from_pem(&ca.key_pem).expect("key");
    let ca_o = super::der::fields(&der(&ca.cert_pem))
        .expect("fields")
        .organization
        .expect("o");
    let mut issuer_params = CertificateParams::default();
    issuer_params.distinguished_name = ca::ca_name(&ca_o);
    issuer_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let issuer = rcgen::Issuer::new(issuer_params, ca_key);
    let mut p = CertificateParams::default();
    p.not_before = time::OffsetDateTime::from_unix_timestamp(T0 as i64).expect("t");
    p.not_after = time::OffsetDateTime::from_unix_timestamp((T0 + 30 * DAY) as i64).expect("t");
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::OrganizationName, ca_o.as_str());
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    for s in sans {
        p.subject_alt_names
            .push(SanType::DnsName((*s).try_into().expect("ia5")));
    }
    let subject = ca::DeviceKey(key.public_key());
    p.signed_by(&subject, &issuer).expect("sign").der().to_vec()
}

#[test]
fn trust_device_certificate_is_small_and_verifies() {
    let fire = agency_ca("County Fire", 1);
    let dev = device(10);
    let pem = ca::issue(
        &fire,
        dev.public_key(),
        &strings(&["engine-*", "command"]),
        365,
        T0,
    )
    .expect("issue");
    let der = der(&pem);
    println!("device certificate: {} bytes of DER (2 roles)", der.len());
    assert!(der.len() < 600, "{} bytes", der.len());
    let many: Vec<String> = (0..roles::MAX_ROLES).map(|i| format!("role-{i}")).collect();
    let big = super::der::fields(&self::der(
        &ca::issue(&fire, dev.public_key(), &many, 365, T0).expect("issue"),
    ));
    assert!(big.is_ok());

    let mut s = secured(&[&fire]);
    assert_eq!(s.add_peer_cert(&der, T0 + DAY), Ok(dev.id()));
    assert!(s.is_enrolled(&dev.id()));
    assert!(!s.is_enrolled(&device(11).id()));
    let p = s.peer(&dev.id()).expect("cached");
    assert_eq!(p.agency, "County Fire");
    assert_eq!(p.root_agency, "County Fire");
    assert_eq!(p.roles, strings(&["engine-*", "command"]));
    assert_eq!(p.expiry, T0 + 365 * DAY);
    // PEM works as well as DER.
    assert_eq!(s.add_peer_cert(pem.as_bytes(), T0 + DAY), Ok(dev.id()));
    assert_eq!(s.len(), 1);
}

#[test]
fn trust_certificates_carry_talkgroup_patterns_apart_from_roles() {
    let fire = agency_ca("County Fire", 1);
    let (member, other) = (device(10), device(11));
    let pem = ca::issue_with_talkgroups(
        &fire,
        member.public_key(),
        &strings(&["engine-3"]),
        &strings(&["division-*", "command"]),
        365,
        T0,
    )
    .expect("issue");
    let plain =
        ca::issue(&fire, other.public_key(), &strings(&["command"]), 365, T0).expect("issue");
    let mut s = secured(&[&fire]);
    assert_eq!(s.add_peer_cert(pem.as_bytes(), T0 + DAY), Ok(member.id()));
    assert_eq!(s.add_peer_cert(plain.as_bytes(), T0 + DAY), Ok(other.id()));
    let p = s.peer(&member.id()).expect("cached");
    assert_eq!(p.roles, strings(&["engine-3"]));
    assert_eq!(p.talkgroups, strings(&["division-*", "command"]));
    for (tg, want) in [
        ("division-2", true),
        ("command", true),
        ("division", false),
        ("engine-3", false),
        ("command-1", false),
    ] {
        assert_eq!(s.permits_talkgroup(&member.id(), tg), want, "{tg}");
    }
    // A role is not a talkgroup, nor the other way round.
    assert!(!s.permits_talkgroup(&other.id(), "command"));
    assert!(
        !s.permits_talkgroup(&device(12).id(), "command"),
        "unknown device"
    );
    assert!(
        ca::issue_with_talkgroups(
            &fire,
            member.public_key(),
            &[],
            &strings(&["Bad TG"]),
            30,
            T0
        )
        .is_err()
    );
}

#[test]
fn trust_directory_admits_only_permitted_roles() {
    let fire = agency_ca("County Fire", 1);
    let dev = device(10);
    let stranger = device(12);
    let pem = ca::issue(
        &fire,
        dev.public_key(),
        &strings(&["engine-*", "*.engine-7"]),
        30,
        T0,
    )
    .expect("issue");
    let mut s = secured(&[&fire]);
    s.add_peer_cert(pem.as_bytes(), T0).expect("add");

    assert_eq!(s.admit(&record(&dev, "engine-3", "County Fire")), Ok(()));
    assert_eq!(s.admit(&record(&dev, "captain.engine-7", "")), Ok(()));
    let Err(Refusal::NotAuthorised(why)) = s.admit(&record(&dev, "command", "County Fire")) else {
        panic!("command admitted");
    };
    assert!(
        why.contains("role \"command\" not permitted by certificate"),
        "{why}"
    );
    assert!(why.contains("engine-*"), "{why}");
    let Err(Refusal::NotAuthorised(why)) = s.admit(&record(&stranger, "engine-3", "")) else {
        panic!("stranger admitted");
    };
    assert!(why.contains("no certificate for holder"), "{why}");
    let Err(Refusal::NotAuthorised(why)) = s.admit(&record(&dev, "engine-3", "City Police")) else {
        panic!("wrong agency admitted");
    };
    assert!(why.contains("agency"), "{why}");
    let mut release = record(&dev, "command", "");
    release.released = true;
    assert_eq!(s.admit(&release), Ok(()));

    // Past its end the certificate admits nothing.
    s.set_now(T0 + 30 * DAY);
    assert!(!s.is_enrolled(&dev.id()));
    assert!(s.admit(&record(&dev, "engine-3", "")).is_err());
    assert_eq!(s.len(), 0);
}

#[test]
fn trust_validity_and_unknown_roots_are_refused() {
    let fire = agency_ca("County Fire", 1);
    let police = agency_ca("City Police", 2);
    let dev = device(10);
    let pem = ca::issue(
        &fire,
        dev.public_key(),
        &strings(&["command"]),
        30,
        T0 + DAY,
    )
    .expect("issue");
    let mut s = secured(&[&police]);
    assert!(matches!(
        s.add_peer_cert(pem.as_bytes(), T0 + 2 * DAY),
        Err(TrustError::Verify(_))
    ));
    s.add_root(fire.cert_pem.as_bytes()).expect("mutual aid");
    assert_eq!(
        s.add_peer_cert(pem.as_bytes(), T0),
        Err(TrustError::NotYetValid {
            not_before: T0 + DAY,
            now: T0
        })
    );
    assert_eq!(
        s.add_peer_cert(pem.as_bytes(), T0 + 31 * DAY),
        Err(TrustError::Expired {
            not_after: T0 + 31 * DAY,
            now: T0 + 31 * DAY
        })
    );
    assert_eq!(s.add_peer_cert(pem.as_bytes(), T0 + 2 * DAY), Ok(dev.id()));
    // Both agencies' devices are enrolled side by side.
    let cop = device(20);
    let cop_pem =
        ca::issue(&police, cop.public_key(), &strings(&["unit-*"]), 30, T0).expect("issue");
    assert_eq!(
        s.add_peer_cert(cop_pem.as_bytes(), T0 + 2 * DAY),
        Ok(cop.id())
    );
    assert_eq!(
        s.peer(&cop.id()).map(|p| p.root_agency.as_str()),
        Some("City Police")
    );
    // A root added twice is one root.
    s.add_root(fire.cert_pem.as_bytes()).expect("again");
    assert_eq!(s.roots_der().count(), 2);
}

#[test]
fn trust_forged_and_tampered_certificates_are_refused() {
    let fire = agency_ca("County Fire", 1);
    let dev = device(10);
    let other = device(11);
    let mut s = secured(&[&fire]);
    // Signed by the CA, but the CN names another device than the key's.
    let wrong_cn = raw_leaf(
        &fire,
        &other.id().to_string(),
        &dev,
        &["command.roles.callsign.mesh"],
    );
    assert!(matches!(
        s.add_peer_cert(&wrong_cn, T0),
        Err(TrustError::KeyMismatch { .. })
    ));
    // Every single-byte change is refused (or, in an unsigned outer
    // byte, at least never grants anything the CA did not sign).
    let good =
        der(&ca::issue(&fire, dev.public_key(), &strings(&["command"]), 30, T0).expect("issue"));
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let mut s = secured(&[&fire]);
        if let Ok(id) = s.add_peer_cert(&bad, T0) {
            assert_eq!(id, dev.id(), "byte {i}");
            assert_eq!(
                s.peer(&id).map(|p| p.roles.clone()),
                Some(strings(&["command"]))
            );
        }
    }
    // A certificate with no role SANs enrols the device for nothing.
    let bare = raw_leaf(&fire, &dev.id().to_string(), &dev, &["example.org"]);
    assert_eq!(s.add_peer_cert(&bare, T0), Ok(dev.id()));
    assert!(s.admit(&record(&dev, "command", "")).is_err());
    assert!(ca::issue(&fire, dev.public_key(), &strings(&["Bad Role"]), 30, T0).is_err());
    let not_a_point = (0..=255u8)
        .map(|b| [b; 32])
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .expect("some byte pattern is off the curve");
    assert!(matches!(
        ca::issue(&fire, not_a_point, &strings(&["command"]), 30, T0),
        Err(TrustError::BadKey(_))
    ));
    assert!(ca::init("", 30, T0).is_err());
    assert!(ca::init("Fire", 0, T0).is_err());
}

#[test]
fn trust_sub_ca_is_bound_by_name_constraints() {
    let fire = agency_ca("County Fire", 1);
    let sub = ca::issue_sub_ca(
        &fire,
        "Engine Co 7",
        &strings(&["engine-7"]),
        365,
        T0,
        &[3; 32],
    )
    .expect("sub-ca");
    let dev = device(10);
    let leaf = ca::issue(
        &sub,
        dev.public_key(),
        &strings(&["captain.engine-7", "*.engine-7"]),
        30,
        T0,
    )
    .expect("issue");
    let mut s = secured(&[&fire]);
    // The leaf alone does not reach the root; with the sub-CA behind it, it does.
    assert!(s.add_peer_cert(leaf.as_bytes(), T0).is_err());
    let chain = format!("{leaf}{}", sub.cert_pem);
    assert_eq!(s.add_peer_cert(chain.as_bytes(), T0), Ok(dev.id()));
    let p = s.peer(&dev.id()).expect("cached");
    assert_eq!(
        (p.agency.as_str(), p.root_agency.as_str()),
        ("Engine Co 7", "County Fire")
    );
    // Concatenated DER works too.
    let mut der_chain = der(&leaf);
    der_chain.extend(der(&sub.cert_pem));
    assert_eq!(s.add_peer_cert(&der_chain, T0), Ok(dev.id()));
    // The sub-CA's own issue refuses a role outside its subtree...
    assert!(ca::issue(&sub, dev.public_key(), &strings(&["command"]), 30, T0).is_err());
    // ...and a leaf it signs anyway is refused by the verifier.
    let forged = raw_leaf(
        &sub,
        &dev.id().to_string(),
        &dev,
        &["command.roles.callsign.mesh"],
    );
    let mut forged_chain = forged;
    forged_chain.extend(der(&sub.cert_pem));
    assert!(matches!(
        s.add_peer_cert(&forged_chain, T0),
        Err(TrustError::Verify(_))
    ));
    let wide = raw_leaf(
        &sub,
        &dev.id().to_string(),
        &dev,
        &["*.roles.callsign.mesh"],
    );
    let mut wide_chain = wide;
    wide_chain.extend(der(&sub.cert_pem));
    assert!(matches!(
        s.add_peer_cert(&wide_chain, T0),
        Err(TrustError::Verify(_))
    ));
}

#[test]
fn trust_renewal_wins_and_cache_is_bounded() {
    let fire = agency_ca("County Fire", 1);
    let dev = device(10);
    let mut s = secured(&[&fire]);
    let old = ca::issue(&fire, dev.public_key(), &strings(&["command"]), 30, T0).expect("old");
    let new = ca::issue(
        &fire,
        dev.public_key(),
        &strings(&["engine-3"]),
        30,
        T0 + DAY,
    )
    .expect("new");
    s.add_peer_cert(new.as_bytes(), T0 + DAY).expect("new");
    s.add_peer_cert(old.as_bytes(), T0 + DAY)
        .expect("old verifies");
    assert_eq!(
        s.peer(&dev.id()).map(|p| p.roles.clone()),
        Some(strings(&["engine-3"]))
    );

    // Fill the cache; the next newcomer evicts the soonest to expire.
    let mut s = secured(&[&fire]);
    let short = ca::issue(&fire, device(0).public_key(), &[], 2, T0).expect("short");
    let short_id = s.add_peer_cert(short.as_bytes(), T0).expect("short");
    for i in 1..MAX_CACHED as u32 {
        let mut secret = [0u8; 32];
        secret[..4].copy_from_slice(&i.to_be_bytes());
        let d = Identity::from_secret(&secret);
        let pem = ca::issue(&fire, d.public_key(), &[], 30, T0).expect("issue");
        s.add_peer_cert(pem.as_bytes(), T0).expect("add");
    }
    assert_eq!(s.len(), MAX_CACHED);
    let late = device(200);
    let pem = ca::issue(&fire, late.public_key(), &[], 30, T0).expect("issue");
    assert_eq!(s.add_peer_cert(pem.as_bytes(), T0), Ok(late.id()));
    assert_eq!(s.len(), MAX_CACHED);
    assert!(!s.is_enrolled(&short_id));
    assert!(s.is_enrolled(&late.id()));
}

#[test]
fn trust_inputs_are_bounded() {
    let mut s = Secured::new();
    assert_eq!(
        s.add_peer_cert(&vec![0x30; MAX_CHAIN_BYTES + 1], T0),
        Err(TrustError::TooLarge(MAX_CHAIN_BYTES + 1))
    );
    assert!(matches!(
        s.add_peer_cert(b"-----BEGIN NOTHING-----", T0),
        Err(TrustError::BadPem(_))
    ));
    let fire = agency_ca("County Fire", 1);
    let five = fire.cert_pem.repeat(MAX_CHAIN + 1);
    assert_eq!(
        s.add_peer_cert(five.as_bytes(), T0),
        Err(TrustError::ChainTooLong(MAX_CHAIN))
    );
    for i in 0..MAX_ROOTS {
        s.add_root(
            agency_ca(&format!("Agency {i}"), i as u8)
                .cert_pem
                .as_bytes(),
        )
        .expect("root");
    }
    assert_eq!(
        s.add_root(agency_ca("One Too Many", 99).cert_pem.as_bytes()),
        Err(TrustError::TooManyRoots(MAX_ROOTS))
    );
    let id: NodeId = NodeId::from_public_key(&[0; 32]);
    assert!(!s.is_enrolled(&id));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn trust_certificate_parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let fire = agency_ca("County Fire", 1);
        let mut s = secured(&[&fire]);
        let _ = s.add_peer_cert(&data, T0);
        let _ = s.add_root(&data);
        let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        pem.extend_from_slice(&data);
        let _ = s.add_peer_cert(&pem, T0);
    }

    #[test]
    fn trust_mutated_certificates_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let fire = agency_ca("County Fire", 1);
        let good = der(&ca::issue(&fire, device(10).public_key(), &strings(&["command"]), 30, T0)
            .expect("issue"));
        let mut bad = good.clone();
        for (i, b) in flips {
            let n = bad.len();
            bad[i % n] = b;
        }
        bad.truncate(cut % (good.len() + 1));
        let mut s = secured(&[&fire]);
        let _ = s.add_peer_cert(&bad, T0);
        let _ = super::der::fields(&bad);
    }
}

/// The clock reads 1970 (no battery, no NTP): certificates are judged at
/// the last known good time, a start up to the grace past it is taken, one
/// further ahead or an expiry before it is not, and this device's own
/// certificate is taken whatever its start (to be logged loudly).
#[test]
fn certificates_with_an_unknown_clock_are_judged_at_the_last_good_time() {
    use super::clock::{BUILD_FLOOR_S, NOT_BEFORE_GRACE_S, WallTime};
    let fire = agency_ca("Metro Fire", 1);
    let last_good = BUILD_FLOOR_S + 10 * DAY;
    let wall = WallTime::judge(5, Some(last_good));
    assert_eq!(wall.sure(), None, "1970 is not a time to trust");
    let at = wall.assumed_s();
    assert_eq!(at, last_good);
    let issue = |who: &Identity, from: u64, days: u32| {
        ca::issue(&fire, who.public_key(), &strings(&["engine-*"]), days, from).expect("issue")
    };
    let mut s = secured(&[&fire]);
    s.set_not_before_grace(NOT_BEFORE_GRACE_S);
    s.set_now(at);
    // Valid at the last good time.
    let (a, b, c, d) = (device(2), device(3), device(4), device(5));
    assert_eq!(
        s.add_peer_cert(issue(&a, last_good - DAY, 365).as_bytes(), at),
        Ok(a.id())
    );
    // Enrolled three days after the last good time: within the grace.
    assert_eq!(
        s.add_peer_cert(issue(&b, last_good + 3 * DAY, 365).as_bytes(), at),
        Ok(b.id())
    );
    assert!(s.is_enrolled(&b.id()));
    // A month ahead: not yet valid.
    assert!(matches!(
        s.add_peer_cert(issue(&c, last_good + 30 * DAY, 365).as_bytes(), at),
        Err(TrustError::NotYetValid { .. })
    ));
    // Expired before the last good time: expired (real time is later).
    assert!(matches!(
        s.add_peer_cert(issue(&d, last_good - 40 * DAY, 30).as_bytes(), at),
        Err(TrustError::Expired { .. })
    ));
    // The strict check at the raw clock refuses even the first.
    let mut strict = secured(&[&fire]);
    assert!(matches!(
        strict.add_peer_cert(issue(&a, last_good - DAY, 365).as_bytes(), 5),
        Err(TrustError::NotYetValid { .. })
    ));
    // Our own certificate a month ahead: taken, and the start reported.
    let mut own = secured(&[&fire]);
    own.set_not_before_grace(NOT_BEFORE_GRACE_S);
    own.set_now(at);
    let pem = issue(&c, last_good + 30 * DAY, 365);
    assert_eq!(
        own.set_own_clock_unsure(pem.as_bytes(), at),
        Ok((c.id(), Some(last_good + 30 * DAY)))
    );
    assert!(own.is_enrolled(&c.id()));
    // But not an expired one.
    let mut own = secured(&[&fire]);
    assert!(matches!(
        own.set_own_clock_unsure(issue(&d, last_good - 40 * DAY, 30).as_bytes(), at),
        Err(TrustError::Expired { .. })
    ));
}
