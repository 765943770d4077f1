//! Tests of the talkgroup keys: round trips, tampering, wrong keys, the
//! rekey overlap, and that opening is total.

use super::*;
use crate::app::group_wire::VOICE_HEADER;
use crate::floor::{FloorMsg, Priority};
use proptest::prelude::*;

const TALKER: NodeId = NodeId([7; 16]);

fn key(epoch: u32, secret: u8) -> EpochKey {
    EpochKey::new(group_of("fireground-1"), epoch, [secret; 32])
}

fn t(s: u64) -> Instant {
    Instant::from_micros(s * 1_000_000)
}

fn floor_packet() -> Vec<u8> {
    GroupRepr::Floor(FloorMsg::Request {
        prio: Priority::Emergency,
        name: "engine-3".into(),
    })
    .emit()
}

#[test]
fn voice_costs_four_bytes_and_round_trips() {
    let keys = GroupKeys::new(key(0, 1));
    let opus = b"twenty ms of opus";
    let s = keys.current().seal_voice(TALKER, 0x4000_0001, 3, 999, opus);
    let plain = GroupRepr::Voice {
        burst: 0x4000_0001,
        seq: 3,
        capture_ms: 999,
        body: opus,
    }
    .emit();
    assert_eq!(s.len(), plain.len() + VOICE_TAG);
    assert_eq!(VOICE_TAG, 4);
    // The header stays readable; the Opus bytes do not.
    assert_eq!(&s[1..VOICE_HEADER], &plain[1..VOICE_HEADER]);
    assert_ne!(&s[VOICE_HEADER..VOICE_HEADER + opus.len()], opus);
    assert_eq!(keys.open(t(1), TALKER, &s).unwrap(), plain);
}

#[test]
fn control_round_trips() {
    let keys = GroupKeys::new(key(0, 1));
    let f = floor_packet();
    let s = keys.current().seal_control(TALKER, [9; 12], &f);
    assert_eq!(s.len(), 1 + SEALED_NONCE + f.len() + 16);
    assert!(!s.windows(8).any(|w| w == b"engine-3"));
    assert_eq!(keys.open(t(1), TALKER, &s).unwrap(), f);
    let r = GroupRepr::Report {
        burst: 5,
        loss_pct: 12,
    }
    .emit();
    let s = keys.current().seal_control(TALKER, [1; 12], &r);
    assert_eq!(keys.open(t(1), TALKER, &s).unwrap(), r);
}

#[test]
fn tampering_and_other_senders_are_refused() {
    let keys = GroupKeys::new(key(0, 1));
    let v = keys.current().seal_voice(TALKER, 1, 2, 3, b"opus bytes");
    let c = keys
        .current()
        .seal_control(TALKER, [4; 12], &floor_packet());
    for s in [&v, &c] {
        for i in 1..s.len() {
            let mut x = s.clone();
            x[i] ^= 0x01;
            assert_eq!(
                keys.open(t(1), TALKER, &x),
                Err(GroupWireError::Unauthentic),
                "byte {i}"
            );
        }
        // The sender is bound: the same bytes from another origin fail.
        assert_eq!(
            keys.open(t(1), NodeId([8; 16]), s),
            Err(GroupWireError::Unauthentic)
        );
    }
}

#[test]
fn outsiders_fail_wrong_keys_and_plain_packets() {
    let ours = GroupKeys::new(key(0, 1));
    let theirs = GroupKeys::new(key(0, 2));
    let other_group = GroupKeys::new(EpochKey::new(group_of("command"), 0, [1; 32]));
    let v = theirs.current().seal_voice(TALKER, 1, 2, 3, b"x");
    let c = theirs
        .current()
        .seal_control(TALKER, [4; 12], &floor_packet());
    assert_eq!(
        ours.open(t(1), TALKER, &v),
        Err(GroupWireError::Unauthentic)
    );
    assert_eq!(
        ours.open(t(1), TALKER, &c),
        Err(GroupWireError::Unauthentic)
    );
    // One secret, two talkgroups: two keys.
    let v = other_group.current().seal_voice(TALKER, 1, 2, 3, b"x");
    assert_eq!(
        ours.open(t(1), TALKER, &v),
        Err(GroupWireError::Unauthentic)
    );
    // A plain frame or floor request on a keyed group comes from outside.
    let plain = GroupRepr::Voice {
        burst: 1,
        seq: 2,
        capture_ms: 3,
        body: b"x",
    }
    .emit();
    assert_eq!(
        ours.open(t(1), TALKER, &plain),
        Err(GroupWireError::Unauthentic)
    );
    assert_eq!(
        ours.open(t(1), TALKER, &floor_packet()),
        Err(GroupWireError::Unauthentic)
    );
    // A member cannot smuggle a voice frame inside a sealed box.
    let boxed = ours.current().seal_control(TALKER, [5; 12], &plain);
    assert_eq!(
        ours.open(t(1), TALKER, &boxed),
        Err(GroupWireError::BadSealedKind(KIND_VOICE))
    );
}

#[test]
fn nonces_differ_per_talker_burst_and_seq() {
    let k = key(0, 1);
    let opus = [0u8; 40];
    let a = k.seal_voice(TALKER, 1, 2, 3, &opus);
    let b = k.seal_voice(NodeId([8; 16]), 1, 2, 3, &opus);
    let c = k.seal_voice(TALKER, 2, 2, 3, &opus);
    let d = k.seal_voice(TALKER, 1, 3, 3, &opus);
    let e = key(1, 1).seal_voice(TALKER, 1, 2, 3, &opus);
    let streams: Vec<&[u8]> = [&a, &b, &c, &d, &e]
        .iter()
        .map(|s| &s[VOICE_HEADER..VOICE_HEADER + 40])
        .collect();
    for i in 0..streams.len() {
        for j in i + 1..streams.len() {
            assert_ne!(streams[i], streams[j], "{i} and {j} share a keystream");
        }
    }
}

#[test]
fn rekey_keeps_the_old_key_for_the_overlap() {
    let mut keys = GroupKeys::new(key(0, 1));
    let old_v = keys.current().seal_voice(TALKER, 1, 2, 3, b"old");
    assert!(keys.install(t(10), key(1, 2)));
    assert_eq!(keys.current().epoch(), 1);
    // Under way during the overlap: still heard.
    assert!(
        keys.open(
            t(10) + REKEY_OVERLAP - Duration::from_millis(1),
            TALKER,
            &old_v
        )
        .is_ok()
    );
    assert_eq!(
        keys.open(t(10) + REKEY_OVERLAP, TALKER, &old_v),
        Err(GroupWireError::Unauthentic)
    );
    let new_v = keys.current().seal_voice(TALKER, 1, 2, 3, b"new");
    assert!(keys.open(t(100), TALKER, &new_v).is_ok());
    // An older epoch, the same key, another group's key: refused.
    assert!(!keys.install(t(11), key(0, 3)));
    assert!(!keys.install(t(11), key(1, 2)));
    assert!(!keys.install(t(11), EpochKey::new(group_of("command"), 5, [1; 32])));
    assert_eq!(keys.current().epoch(), 1);
}

#[test]
fn passphrases_are_salted_with_the_name() {
    let a = passphrase_secret("fireground-1", b"correct horse", 2);
    assert_eq!(a, passphrase_secret("fireground-1", b"correct horse", 2));
    assert_ne!(a, passphrase_secret("fireground-2", b"correct horse", 2));
    assert_ne!(a, passphrase_secret("fireground-1", b"correct horsf", 2));
    assert_ne!(a, passphrase_secret("fireground-1", b"correct horse", 3));
}

#[test]
fn pbkdf2_is_the_standard_one() {
    // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64),
    // first 32 bytes; the salt is ours plus the name, so check the PRF
    // through the crate directly.
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(b"passwd", b"salt", 1, &mut out);
    assert_eq!(out[..8], [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
}

#[test]
fn debug_hides_the_secret() {
    let s = format!("{:?}", GroupKeys::new(key(3, 0xab)));
    assert!(s.contains("epoch: 3"));
    assert!(!s.contains("171"), "{s}");
}

proptest! {
    #[test]
    fn open_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..120), sender: [u8; 16]) {
        let keys = GroupKeys::new(key(0, 1));
        prop_assert!(keys.open(t(1), NodeId(sender), &bytes).is_err());
    }

    #[test]
    fn voice_round_trips(burst: u32, seq: u16, cap: u16,
                         body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let keys = GroupKeys::new(key(0, 1));
        let s = keys.current().seal_voice(TALKER, burst, seq, cap, &body);
        let plain = GroupRepr::Voice { burst, seq, capture_ms: cap, body: &body }.emit();
        prop_assert_eq!(s.len(), plain.len() + VOICE_TAG);
        prop_assert_eq!(keys.open(t(1), TALKER, &s), Ok(plain));
    }

    #[test]
    fn reports_round_trip(burst: u32, loss in 0u8..=100, nonce: [u8; 12]) {
        let keys = GroupKeys::new(key(4, 9));
        let r = GroupRepr::Report { burst, loss_pct: loss }.emit();
        let s = keys.current().seal_control(TALKER, nonce, &r);
        prop_assert_eq!(keys.open(t(1), TALKER, &s), Ok(r));
    }
}
