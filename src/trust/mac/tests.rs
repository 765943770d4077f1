use proptest::prelude::*;

use super::*;
use crate::identity::Identity;

fn key() -> MacKey {
    MacKey::derive(
        b"incident secret",
        [b"root-a".as_slice(), b"root-b".as_slice()],
    )
}

/// A link-local packet shape: 24-byte header with `sender` as source.
fn packet(sender: NodeId, body: &[u8]) -> Vec<u8> {
    let mut p = vec![1, 2, 0, 1];
    p.extend_from_slice(sender.as_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn alice() -> NodeId {
    Identity::from_secret(&[1; 32]).id()
}

#[test]
fn trust_mac_round_trip_and_key_derivation() {
    let (mut tx, mut rx) = (MacState::new(key(), 1), MacState::new(key(), 9));
    let p = packet(alice(), b"hello");
    let sealed = tx.seal(alice(), &p);
    assert_eq!(sealed.len(), p.len() + TRAILER_LEN);
    assert_eq!(&sealed[p.len()..p.len() + 8], &(1u64 << 32).to_be_bytes());
    assert_eq!(rx.open(&sealed), Ok(p.as_slice()));
    // Root order does not matter; the secret and the roots do.
    let swapped = MacKey::derive(
        b"incident secret",
        [b"root-b".as_slice(), b"root-a".as_slice()],
    );
    assert_eq!(swapped, key());
    assert_ne!(
        MacKey::derive(b"other secret", [b"root-a".as_slice()]),
        key()
    );
    assert_ne!(
        MacKey::derive(b"incident secret", [b"root-a".as_slice()]),
        key()
    );
    let mut stranger = MacState::new(MacKey::derive(b"other", []), 1);
    assert_eq!(stranger.open(&sealed), Err(TrustError::BadTag));
    assert_eq!(
        sign(&key(), &p, alice(), 1 << 32),
        sealed[sealed.len() - TAG_LEN..]
    );
}

#[test]
fn trust_mac_tampering_any_byte_fails() {
    let mut tx = MacState::new(key(), 1);
    let sealed = tx.seal(alice(), &packet(alice(), b"route update"));
    for i in 0..sealed.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = sealed.clone();
            bad[i] ^= bit;
            let mut rx = MacState::new(key(), 2);
            assert!(rx.open(&bad).is_err(), "byte {i} bit {bit:#x}");
            assert_eq!(rx.senders(), 0, "a bad packet left state");
        }
    }
    let mut rx = MacState::new(key(), 2);
    for n in 0..sealed.len() {
        assert!(rx.open(&sealed[..n]).is_err(), "truncated to {n}");
    }
    assert!(matches!(rx.open(&[]), Err(TrustError::Truncated(0))));
}

#[test]
fn trust_mac_replays_fail_and_reordering_within_window_passes() {
    let mut tx = MacState::new(key(), 1);
    let mut rx = MacState::new(key(), 2);
    let sealed: Vec<Vec<u8>> = (0..100u8)
        .map(|i| tx.seal(alice(), &packet(alice(), &[i])))
        .collect();
    assert!(rx.open(&sealed[0]).is_ok());
    assert!(matches!(
        rx.open(&sealed[0]),
        Err(TrustError::Replay { .. })
    ));
    // Out of order inside the window: each taken once.
    for i in [10, 5, 7, 6, 1, 9, 8, 2, 3, 4] {
        assert!(rx.open(&sealed[i]).is_ok(), "packet {i}");
    }
    for (i, p) in sealed.iter().enumerate().take(11).skip(1) {
        assert!(rx.open(p).is_err(), "replay {i}");
    }
    // 99 slides the window: 99 - 64 = 35 is the oldest still taken.
    assert!(rx.open(&sealed[99]).is_ok());
    assert!(rx.open(&sealed[36]).is_ok());
    assert!(rx.open(&sealed[35]).is_err());
    assert!(rx.open(&sealed[20]).is_err());
}

#[test]
fn trust_mac_rebooted_sender_with_a_new_epoch_is_taken() {
    let mut rx = MacState::new(key(), 2);
    let mut before = MacState::new(key(), 5);
    for i in 0..3u8 {
        assert!(
            rx.open(&before.seal(alice(), &packet(alice(), &[i])))
                .is_ok()
        );
    }
    let stale = before.seal(alice(), &packet(alice(), b"old"));
    // Reboot: the counter restarts under a larger epoch.
    let mut after = MacState::new(key(), 6);
    assert!(
        rx.open(&after.seal(alice(), &packet(alice(), b"new")))
            .is_ok()
    );
    assert!(matches!(rx.open(&stale), Err(TrustError::Replay { .. })));
    // A sender whose epoch went backwards is refused.
    let mut backwards = MacState::new(key(), 4);
    assert!(
        rx.open(&backwards.seal(alice(), &packet(alice(), b"x")))
            .is_err()
    );
}

/// A device boots with a sane clock, then twice with its clock reset to
/// 1970 (no battery, no NTP). Its epochs come from the boot counter
/// ([`crate::trust::clock::next_epoch`]), so a neighbour that remembers
/// every earlier life takes the packets of each new one, and still
/// refuses replays of the old ones. An epoch from the clock, as before
/// the counter, would be refused.
#[test]
fn trust_mac_reboots_with_the_clock_at_1970_are_not_replays() {
    use crate::trust::clock::{BUILD_FLOOR_S, WallTime, next_epoch};
    let mut neighbour = MacState::new(key(), 2);
    let t0 = BUILD_FLOOR_S + 40 * 86_400;
    let boot = |stored: Option<u32>, new_key: bool, clock_s: u64, last_good: Option<u64>| {
        next_epoch(
            stored,
            new_key,
            WallTime::judge(clock_s, last_good),
            last_good,
        )
        .0
    };
    // First life: a sane clock; the neighbour learns this sender.
    let e1 = boot(None, true, t0, None);
    let mut life = MacState::new(key(), e1);
    let mut old = Vec::new();
    for i in 0..3u8 {
        let p = life.seal(alice(), &packet(alice(), &[i]));
        assert!(neighbour.open(&p).is_ok(), "first life, packet {i}");
        old.push(p);
    }
    // Two restarts with the clock at 1970 (the last good time is t0).
    let mut stored = e1;
    for restart in 1..=2u8 {
        let e = boot(Some(stored), false, 5, Some(t0));
        assert!(e > stored, "restart {restart}: epoch grows");
        stored = e;
        let mut life = MacState::new(key(), e);
        for i in 0..3u8 {
            let p = life.seal(alice(), &packet(alice(), &[restart, i]));
            assert!(neighbour.open(&p).is_ok(), "restart {restart}, packet {i}");
        }
        for p in &old {
            assert!(
                matches!(neighbour.open(p), Err(TrustError::Replay { .. })),
                "restart {restart}: an old packet replayed is refused"
            );
        }
    }
    // The epoch the clock alone would have given is refused.
    let mut by_clock = MacState::new(key(), 5);
    assert!(matches!(
        neighbour.open(&by_clock.seal(alice(), &packet(alice(), b"x"))),
        Err(TrustError::Replay { .. })
    ));
}

#[test]
fn trust_mac_senders_are_bounded_least_recent_forgotten() {
    let mut rx = MacState::new(key(), 2);
    let ids: Vec<NodeId> = (0..=MAX_SENDERS as u32)
        .map(|i| {
            let mut s = [0u8; 32];
            s[..4].copy_from_slice(&i.to_be_bytes());
            Identity::from_secret(&s).id()
        })
        .collect();
    let mut tx = MacState::new(key(), 1);
    for id in &ids[..MAX_SENDERS] {
        assert!(rx.open(&tx.seal(*id, &packet(*id, b"hi"))).is_ok());
    }
    // Hear the first again so the second is the least recent.
    assert!(rx.open(&tx.seal(ids[0], &packet(ids[0], b"hi"))).is_ok());
    assert_eq!(rx.senders(), MAX_SENDERS);
    let last = ids[MAX_SENDERS];
    assert!(rx.open(&tx.seal(last, &packet(last, b"hi"))).is_ok());
    assert_eq!(rx.senders(), MAX_SENDERS);
    assert!(rx.windows.contains_key(&ids[0]));
    assert!(!rx.windows.contains_key(&ids[1]));
}

#[test]
fn trust_mac_open_from_uses_the_given_sender() {
    let mut tx = MacState::new(key(), 1);
    let mut rx = MacState::new(key(), 2);
    let bob = Identity::from_secret(&[2; 32]).id();
    let sealed = tx.seal(bob, b"no header at all");
    assert_eq!(
        rx.open_from(bob, &sealed),
        Ok(b"no header at all".as_slice())
    );
    assert_eq!(rx.open_from(alice(), &sealed), Err(TrustError::BadTag));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn trust_mac_open_never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut rx = MacState::new(key(), 2);
        prop_assert!(rx.open(&data).is_err());
        prop_assert!(rx.open_from(alice(), &data).is_err());
        prop_assert_eq!(rx.senders(), 0);
    }

    #[test]
    fn trust_mac_window_accepts_each_counter_once(order in proptest::collection::vec(0usize..80, 1..200)) {
        let mut tx = MacState::new(key(), 1);
        let sealed: Vec<Vec<u8>> = (0..80u8).map(|i| tx.seal(alice(), &packet(alice(), &[i]))).collect();
        let mut rx = MacState::new(key(), 2);
        let mut taken = std::collections::BTreeSet::new();
        let mut top = None;
        for i in order {
            let ok = rx.open(&sealed[i]).is_ok();
            let expect = !taken.contains(&i) && top.is_none_or(|t: usize| i + 64 > t);
            prop_assert_eq!(ok, expect, "packet {}", i);
            if ok {
                taken.insert(i);
                top = Some(top.map_or(i, |t: usize| t.max(i)));
            }
        }
    }
}
