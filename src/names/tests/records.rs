//! Records and messages: round trips, totality, signature checks.

use proptest::prelude::*;

use super::*;
use crate::identity::NodeId;
use crate::names::record::{MAX_BODY, record_key, sign_raw, valid_name};
use crate::names::wire::{BUCKETS, decode_record, pack_push};
use crate::wire::control;

fn sig() -> impl Strategy<Value = [u8; 64]> {
    proptest::collection::vec(any::<u8>(), 64).prop_map(|v| v.try_into().unwrap_or([0; 64]))
}

fn signed_bytes() -> impl Strategy<Value = SignedRecord> {
    (proptest::collection::vec(any::<u8>(), 0..200), sig())
        .prop_map(|(body, signature)| SignedRecord { body, signature })
}

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,2}"
}

fn presence() -> impl Strategy<Value = Presence> {
    prop_oneof![
        Just(Presence::Available),
        Just(Presence::Busy),
        Just(Presence::Emergency),
        Just(Presence::OffDuty),
    ]
}

fn position() -> impl Strategy<Value = Option<Position>> {
    proptest::option::of(
        (any::<i32>(), any::<i32>(), any::<u16>(), any::<u64>()).prop_map(
            |(lat_e7, lon_e7, accuracy_m, time_s)| Position {
                lat_e7,
                lon_e7,
                accuracy_m,
                time_s,
            },
        ),
    )
}

fn a_record() -> impl Strategy<Value = Record> {
    (
        name(),
        "[ -~]{0,20}",
        proptest::collection::vec(name(), 0..4),
        presence(),
        position(),
        any::<bool>(),
        1..u32::MAX,
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(
            |(
                n,
                agency,
                talkgroups,
                presence,
                position,
                exclusive,
                lease_s,
                version,
                epoch_ms,
                generation,
            )| {
                let mut r = record(&ident(0), &n, version);
                r.agency = agency;
                r.talkgroups = talkgroups;
                r.presence = presence;
                r.position = position;
                r.exclusive = exclusive;
                r.lease_s = lease_s;
                r.epoch_ms = epoch_ms;
                r.generation = generation;
                r
            },
        )
}

fn a_msg() -> impl Strategy<Value = NamesMsg> {
    let cert = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64));
    let entry =
        (any::<u32>(), signed_bytes(), cert).prop_map(|(remaining_ms, record, cert)| PushEntry {
            remaining_ms,
            record,
            cert,
        });
    let summ =
        (any::<u64>(), any::<u64>()).prop_map(|(key, version)| SummaryEntry { key, version });
    prop_oneof![
        proptest::collection::vec(entry, 0..4).prop_map(|entries| NamesMsg::Push { entries }),
        (any::<[u8; 16]>(), any::<u32>())
            .prop_map(|(hash, count)| NamesMsg::Digest { hash, count }),
        proptest::collection::vec(any::<u32>(), BUCKETS)
            .prop_map(|hashes| NamesMsg::Buckets { hashes }),
        (any::<u64>(), proptest::collection::vec(summ, 0..20)).prop_map(|(lo, entries)| {
            NamesMsg::Summary {
                lo,
                hi: lo.saturating_add(7),
                entries,
            }
        }),
        proptest::collection::vec(any::<u64>(), 0..20).prop_map(|keys| NamesMsg::Want { keys }),
    ]
}

proptest! {
    #[test]
    fn records_round_trip(r in a_record()) {
        let signed = r.sign(&ident(0)).expect("sign");
        prop_assert!(signed.body.len() <= MAX_BODY);
        prop_assert_eq!(signed.open(), Ok(r));
        let bytes = control::encode(&signed);
        prop_assert_eq!(decode_record(&bytes), Ok(signed));
    }

    #[test]
    fn messages_round_trip(m in a_msg()) {
        prop_assert_eq!(NamesMsg::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = NamesMsg::decode(&bytes);
        let _ = decode_record(&bytes);
        let _ = control::decode::<Record>(&bytes);
        let _ = control::decode::<Handover>(&bytes);
        let s = SignedRecord { body: bytes.clone(), signature: [0; 64] };
        let _ = s.open();
        let h = SignedHandover { body: bytes, signature: [0; 64] };
        let _ = h.open();
    }

    #[test]
    fn validly_signed_garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let signature = sign_raw(&ident(0), &bytes);
        let _ = SignedRecord { body: bytes, signature }.open();
    }

    #[test]
    fn directory_survives_arbitrary_messages(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut d = directory(0, config(60));
        let now = Instant::from_millis(1);
        d.on_neighbour_up(now, ident(1).id());
        let _ = d.handle_bytes(now, ident(1).id(), &bytes);
        while d.poll_output().is_some() {}
    }
}

#[test]
fn names_are_dns_like() {
    for ok in [
        "engine-3",
        "medic-12",
        "command",
        "captain.engine-7",
        "j.smith",
        "a",
    ] {
        assert!(valid_name(ok), "{ok}");
    }
    for bad in [
        "",
        "Engine-3",
        "-a",
        "a-",
        "a..b",
        ".a",
        "a.",
        "a b",
        "é",
        &"a".repeat(64),
    ] {
        assert!(!valid_name(bad), "{bad}");
    }
}

#[test]
fn tampered_body_is_rejected() {
    let signed = record(&ident(0), "engine-3", 1).sign(&ident(0)).unwrap();
    // Flip each byte in turn: every change must be caught.
    for i in 0..signed.body.len() {
        let mut t = signed.clone();
        t.body[i] ^= 0x01;
        assert!(t.open().is_err(), "byte {i}");
    }
    let mut t = signed.clone();
    t.signature[10] ^= 0x80;
    assert_eq!(t.open(), Err(NamesError::BadSignature));
}

#[test]
fn wrong_key_and_id_mismatch_are_rejected() {
    let (a, b) = (ident(0), ident(1));
    // B's key and id, signed by A.
    let body = control::encode(&record(&b, "engine-3", 1));
    let forged = SignedRecord {
        signature: sign_raw(&a, &body),
        body,
    };
    assert_eq!(forged.open(), Err(NamesError::BadSignature));
    // A's key, signed by A, but claiming B's NodeId.
    let mut r = record(&a, "engine-3", 1);
    r.holder = b.id();
    let body = control::encode(&r);
    let mismatch = SignedRecord {
        signature: sign_raw(&a, &body),
        body,
    };
    assert_eq!(mismatch.open(), Err(NamesError::KeyMismatch));
    assert_eq!(r.sign(&a), Err(NamesError::KeyMismatch));
}

#[test]
fn bad_fields_are_rejected_after_the_signature() {
    let a = ident(0);
    let mut r = record(&a, "engine-3", 1);
    r.name = "Engine 3".into();
    let body = control::encode(&r);
    let s = SignedRecord {
        signature: sign_raw(&a, &body),
        body,
    };
    assert!(matches!(s.open(), Err(NamesError::BadName(_))));
}

#[test]
fn oversized_records_are_refused() {
    let a = ident(0);
    let mut r = record(&a, "engine-3", 1);
    r.talkgroups = (0..16).map(|i| format!("{i}{}", "t".repeat(40))).collect();
    assert!(matches!(r.sign(&a), Err(NamesError::TooLarge(_))));
    let s = SignedRecord {
        body: vec![0; MAX_BODY + 1],
        signature: [0; 64],
    };
    assert!(matches!(s.open(), Err(NamesError::TooLarge(_))));
}

#[test]
fn hand_over_token_must_fit_its_record() {
    let (a, b, c) = (ident(0), ident(1), ident(2));
    let token = Handover {
        role: "command".into(),
        from: a.id(),
        from_key: a.public_key(),
        to: b.id(),
        epoch_ms: 5,
        generation: 1,
        from_version: 9,
    }
    .sign(&a)
    .unwrap();
    let mut r = record(&b, "command", 1);
    r.exclusive = true;
    r.epoch_ms = 5;
    r.generation = 1;
    r.handover = Some(token.clone());
    assert!(r.sign(&b).unwrap().open().is_ok());
    // C cannot use a token made out to B.
    let mut stolen = r.clone();
    stolen.holder = c.id();
    stolen.key = c.public_key();
    assert!(matches!(
        stolen.sign(&c).unwrap().open(),
        Err(NamesError::BadHandover(_))
    ));
    // Nor can B move the tenure's epoch.
    let mut moved = r.clone();
    moved.epoch_ms = 1;
    assert!(matches!(
        moved.sign(&b).unwrap().open(),
        Err(NamesError::BadHandover(_))
    ));
    // A tampered token fails its own signature.
    let mut bad = token;
    bad.body[3] ^= 1;
    r.handover = Some(bad);
    assert!(r.sign(&b).unwrap().open().is_err());
}

#[test]
fn pushes_are_packed_under_the_packet_size() {
    let a = ident(0);
    let entries: Vec<PushEntry> = (0..20)
        .map(|i| PushEntry {
            remaining_ms: u32::MAX,
            record: record(&a, &format!("name-{i}"), i).sign(&a).unwrap(),
            cert: None,
        })
        .collect();
    let msgs = pack_push(entries);
    assert!(msgs.len() > 1);
    let mut n = 0;
    for m in &msgs {
        let bytes = m.encode();
        assert!(
            bytes.len() <= crate::names::wire::MAX_MSG,
            "{}",
            bytes.len()
        );
        assert_eq!(NamesMsg::decode(&bytes).as_ref(), Ok(m));
        if let NamesMsg::Push { entries } = m {
            n += entries.len();
        }
    }
    assert_eq!(n, 20);
}

#[test]
fn keys_differ_by_name_and_holder() {
    let (a, b) = (ident(0).id(), ident(1).id());
    assert_ne!(record_key("engine-3", &a), record_key("engine-3", &b));
    assert_ne!(record_key("engine-3", &a), record_key("engine-4", &a));
    assert_eq!(record_key("engine-3", &a), record_key("engine-3", &a));
    let _ = NodeId::default();
}

/// Open mode's pushes are byte for byte what they were before the
/// certificate field: a two-element array per entry.
#[test]
fn push_without_cert_encodes_as_before() {
    let a = ident(0);
    let signed = record(&a, "engine-3", 1).sign(&a).unwrap();
    let e = PushEntry {
        remaining_ms: 7,
        record: signed.clone(),
        cert: None,
    };
    let bytes = minicbor::to_vec(&e).unwrap();
    let mut old = Vec::new();
    let mut enc = minicbor::Encoder::new(&mut old);
    enc.array(2)
        .unwrap()
        .u32(7)
        .unwrap()
        .encode(&signed)
        .unwrap();
    assert_eq!(bytes, old);
    let back: PushEntry = minicbor::decode(&bytes).unwrap();
    assert_eq!(back, e);
    // A chain too large for one message is left out when packing.
    let big = PushEntry {
        cert: Some(vec![0; crate::wire::MAX_WIRE_CHAIN]),
        ..e
    };
    let msgs = pack_push(vec![big]);
    let NamesMsg::Push { entries } = &msgs[0] else {
        panic!("push")
    };
    assert_eq!(entries[0].cert, None);
}
