//! Secured mode in the node test world: enrolled devices route and share
//! names; an outsider with the incident key but no valid certificate is
//! never a neighbour, a next hop or a holder; tampered and replayed
//! packets are dropped and counted; a role the certificate does not
//! permit cannot be claimed.

use super::Node;
use super::tests::World;
use crate::names::{Event as DirEvent, NamesError, Presence, Refusal};
use crate::names::{NamesMsg, Record};
use crate::time::ms;
use crate::trust::ca::{self, CaFiles};
use crate::trust::mac::TRAILER_LEN;
use crate::trust::{MacKey, MacState, Secured};
use crate::wire::control;
use crate::wire::{Header, PacketType};

/// 2026-01-01T00:00:00Z, and a little later as the test's wall clock.
const T0: u64 = 1_767_225_600;
const NOW_S: u64 = T0 + 3600;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn key(roots: &[&CaFiles]) -> MacKey {
    let ders: Vec<Vec<u8>> = roots.iter().map(|c| root_der(c)).collect();
    MacKey::derive(b"incident 42", ders.iter().map(Vec::as_slice))
}

fn root_der(c: &CaFiles) -> Vec<u8> {
    let mut s = Secured::new();
    s.add_root(c.cert_pem.as_bytes()).expect("root");
    s.roots_der().next().expect("der").to_vec()
}

/// Put node `n` in secured mode: trust `root`, hold a certificate from
/// `issuer` with `roles` (or none), seal with `key`.
fn secure(n: &mut Node, root: &CaFiles, issuer: Option<(&CaFiles, &[&str])>, key: &MacKey) {
    let mut s = Secured::new();
    s.add_root(root.cert_pem.as_bytes()).expect("root");
    if let Some((ca, roles)) = issuer {
        if !std::ptr::eq(ca, root) {
            s.add_root(ca.cert_pem.as_bytes()).expect("issuer root");
        }
        let pem = ca::issue(ca, n.identity().public_key(), &strings(roles), 30, T0).expect("issue");
        s.set_own(pem.as_bytes(), NOW_S).expect("own cert");
    }
    n.enable_secured(s, MacState::new(key.clone(), 1))
        .expect("secured");
    n.set_wall_clock(crate::time::Instant::ZERO, NOW_S * 1000);
}

fn fire() -> CaFiles {
    ca::init_from_secret("Metro Fire", 3650, T0, &[7; 32]).expect("ca")
}

fn holders(w: &World, at: usize, name: &str) -> Vec<usize> {
    w.nodes[at]
        .whois(w.now(), name)
        .iter()
        .filter_map(|h| w.nodes.iter().position(|n| n.id() == h.entry.rec.holder))
        .collect()
}

#[test]
fn enrolled_line_routes_and_shares_names() {
    let ca = fire();
    let k = key(&[&ca]);
    let mut w = World::line(3, 31);
    for n in &mut w.nodes {
        secure(n, &ca, Some((&ca, &["engine-*", "command"])), &k);
    }
    w.run_for(ms(3000));
    assert_eq!(w.path(0, 2), Some(vec![0, 1, 2]));
    let now = w.now();
    w.nodes[2].claim(now, "engine-3", false).expect("claim");
    w.drain(2);
    w.run_for(ms(500));
    // Node 0 learnt node 2's certificate from the push (never met it).
    assert_eq!(holders(&w, 0, "engine-3"), vec![2]);
    for n in &w.nodes {
        assert_eq!(n.stats().rx_auth_failed, 0);
        assert!(n.stats().certs_learned >= 1);
        assert!(n.is_secured());
    }
}

#[test]
fn an_outsider_with_the_key_is_never_a_neighbour_or_holder() {
    let ca = fire();
    let rogue = ca::init_from_secret("Rogue", 3650, T0, &[9; 32]).expect("ca");
    let k = key(&[&ca]);
    let mut w = World::line(3, 32);
    secure(
        &mut w.nodes[0],
        &ca,
        Some((&ca, &["engine-*", "command"])),
        &k,
    );
    // Node 1 may hold engines but not command.
    secure(&mut w.nodes[1], &ca, Some((&ca, &["engine-*"])), &k);
    // Node 2 has the incident key (a leaked secret) and a certificate its
    // own rogue CA signed: its own records pass at home, nowhere else.
    secure(
        &mut w.nodes[2],
        &rogue,
        Some((&rogue, &["engine-*", "command"])),
        &k,
    );
    w.run_for(ms(3000));
    let now = w.now();
    w.nodes[2]
        .claim(now, "engine-9", false)
        .expect("rogue claims at home");
    w.drain(2);
    w.run_for(ms(3000));
    let outsider = w.nodes[2].id();
    for i in 0..2 {
        let n = &w.nodes[i];
        assert!(n.neighbours(w.now()).iter().all(|x| x.id != outsider));
        assert!(n.route_to(&outsider).is_none(), "node {i} routes to it");
        assert!(holders(&w, i, "engine-9").is_empty());
    }
    assert_eq!(w.path(0, 1), Some(vec![0, 1]));
    assert!(w.nodes[1].stats().rx_unenrolled > 0);
    assert!(w.nodes[1].stats().certs_refused > 0);
    assert!(w.events.iter().any(|(i, e)| *i == 1
        && matches!(e, super::Event::CertRefused { from, .. } if *from == outsider)));
    // The certificate of node 1 does not permit command.
    let now = w.now();
    let r = w.nodes[1].claim(now, "command", true);
    assert!(
        matches!(r, Err(NamesError::Refused(Refusal::NotAuthorised(ref why))) if why.contains("command")),
        "{r:?}"
    );
    w.drain(1);
    w.nodes[0].claim(now, "command", true).expect("node 0 may");
    w.drain(0);
    w.run_for(ms(500));
    assert_eq!(holders(&w, 1, "command"), vec![0]);
}

#[test]
fn a_record_without_a_valid_certificate_is_refused_by_the_directory() {
    // Node 1 relays a record of a holder whose certificate it never
    // learnt: node 0's directory refuses it with a reason.
    let ca = fire();
    let k = key(&[&ca]);
    let mut w = World::line(2, 33);
    for n in &mut w.nodes {
        secure(n, &ca, Some((&ca, &["engine-*"])), &k);
    }
    w.run_for(ms(2000));
    let stranger = crate::identity::Identity::from_secret(&[5; 32]);
    let rec = crate::names::Record {
        name: "engine-5".into(),
        holder: stranger.id(),
        key: stranger.public_key(),
        agency: String::new(),
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
    };
    let msg = crate::names::NamesMsg::Push {
        entries: vec![crate::names::PushEntry {
            remaining_ms: 600_000,
            record: rec.sign(&stranger).expect("sign"),
            cert: None,
        }],
    };
    let sender = w.nodes[1].id();
    let pkt = crate::wire::Header::link(PacketType::Names, 0, sender, 0).to_packet(&msg.encode());
    let mut mac = MacState::new(k.clone(), 77);
    w.inject(1, 0, mac.seal(sender, &pkt));
    assert!(holders(&w, 0, "engine-5").is_empty());
    assert!(w.events.iter().any(|(i, e)| *i == 0
        && matches!(
            e,
            super::Event::Directory(DirEvent::Rejected {
                error: NamesError::Refused(Refusal::NotAuthorised(_)),
                ..
            })
        )));
}

#[test]
fn tampered_replayed_and_unsealed_packets_are_dropped() {
    let ca = fire();
    let k = key(&[&ca]);
    let mut w = World::line(2, 34);
    for n in &mut w.nodes {
        secure(n, &ca, Some((&ca, &["engine-*"])), &k);
    }
    w.run_for(ms(2000));
    w.capture = Some(Vec::new());
    let now = w.now();
    w.nodes[0].claim(now, "engine-1", false).expect("claim");
    w.drain(0);
    w.run_for(ms(300));
    let now = w.now();
    w.nodes[0].set_presence(now, Presence::Busy);
    w.drain(0);
    w.run_for(ms(6000));
    let version = |w: &World| w.nodes[1].whois(w.now(), "engine-1")[0].entry.rec.version;
    let newest = version(&w);
    let captured = w.capture.take().expect("capture");
    let names: Vec<Vec<u8>> = captured
        .iter()
        .filter(|(f, t, d)| *f == 0 && *t == 1 && d[1] == PacketType::Names as u8)
        .map(|(_, _, d)| d.clone())
        .collect();
    assert!(!names.is_empty());
    let base = w.nodes[1].stats().rx_auth_failed;
    // 1. Replayed exactly: the counter was seen.
    w.inject(0, 1, names[0].clone());
    assert_eq!(w.nodes[1].stats().rx_auth_failed, base + 1);
    // 2. One byte changed in the body: the tag fails.
    let mut t = names[0].clone();
    let mid = 24 + (t.len() - 24 - TRAILER_LEN) / 2;
    t[mid] ^= 0x40;
    w.inject(0, 1, t);
    assert_eq!(w.nodes[1].stats().rx_auth_failed, base + 2);
    // 3. Without any trailer (an open-mode device).
    let open = names[0][..names[0].len() - TRAILER_LEN].to_vec();
    w.inject(0, 1, open.clone());
    assert_eq!(w.nodes[1].stats().rx_auth_failed, base + 3);
    // 4. An insider re-seals the old record with a fresh counter: the MAC
    // passes, the directory keeps the newer version.
    let sender = w.nodes[0].id();
    let mut mac = MacState::new(k.clone(), 99);
    w.inject(0, 1, mac.seal(sender, &open));
    assert_eq!(w.nodes[1].stats().rx_auth_failed, base + 3);
    assert_eq!(version(&w), newest);
    // 5. ...or re-seals it with a byte of the record changed: a copy that
    // does not claim to be newer is dropped unread (the stored version
    // stands); one whose version was raised fails the record's signature.
    let mut bad = open.clone();
    let mid = 24 + (bad.len() - 24) / 2;
    bad[mid] ^= 0x01;
    w.inject(0, 1, mac.seal(sender, &bad));
    assert_eq!(version(&w), newest);
    let rejected = w.nodes[1].directory().stats().records_rejected;
    let NamesMsg::Push { mut entries } = NamesMsg::decode(&open[24..]).expect("a push") else {
        panic!("not a push");
    };
    let mut rec: Record = control::decode(&entries[0].record.body).expect("record");
    rec.version = newest + 1;
    entries[0].record.body = control::encode(&rec);
    let forged = Header::link(PacketType::Names, 0, sender, 0)
        .to_packet(&NamesMsg::Push { entries }.encode());
    w.inject(0, 1, mac.seal(sender, &forged));
    assert_eq!(
        w.nodes[1].directory().stats().records_rejected,
        rejected + 1
    );
    assert_eq!(version(&w), newest);
    assert_eq!(holders(&w, 1, "engine-1"), vec![0]);
}
