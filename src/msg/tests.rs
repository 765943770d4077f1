use std::time::Duration;

use super::wire::{Envelope, MsgPacket};
use super::*;
use crate::identity::Identity;
use crate::time::Instant;

fn ident(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}

fn machine(n: u8) -> Messages {
    Messages::new(ident(n), MsgConfig::default(), [n; 32])
}

fn t(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

fn yes(_: &NodeId) -> bool {
    true
}

fn no(_: &NodeId) -> bool {
    false
}

/// Carry every packet between the machines until none is left (a
/// perfect network where everyone reaches everyone).
fn settle(now: Instant, ms: &mut [&mut Messages]) {
    for _ in 0..20 {
        let mut moved = false;
        for i in 0..ms.len() {
            while let Some((to, bytes)) = ms[i].poll_output() {
                moved = true;
                let from = ms[i].me;
                if let Some(j) = ms.iter().position(|m| m.me == to) {
                    let _ = ms[j].handle(now, from, &bytes, &yes);
                }
            }
        }
        if !moved {
            return;
        }
    }
}

fn received(m: &mut Messages) -> Vec<InMsg> {
    let mut v = Vec::new();
    while let Some(e) = m.poll_event() {
        if let MsgEvent::Received(x) = e {
            v.push(x);
        }
    }
    v
}

fn first_envelope(m: &mut Messages) -> Envelope {
    let (_, bytes) = m.poll_output().expect("a packet");
    match MsgPacket::decode(&bytes).expect("decodes") {
        MsgPacket::Deliver { env } | MsgPacket::Offer { env, .. } => env,
        p => panic!("not an envelope: {p:?}"),
    }
}

#[test]
fn delivered_once_with_a_receipt() {
    let (mut a, mut b) = (machine(1), machine(2));
    let dst = (b.me, ident(2).public_key());
    let id = a
        .send(
            t(0),
            [7; 16],
            "medic-12",
            false,
            &[dst],
            "hydrant at Fifth is dry",
            &yes,
        )
        .expect("sent");
    settle(t(1), &mut [&mut a, &mut b]);
    let got = received(&mut b);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "hydrant at Fifth is dry");
    assert_eq!(got[0].to, "medic-12");
    assert!(
        a.outbox().next().is_none(),
        "finished messages leave the outbox"
    );
    assert!(
        a.held().next().is_none(),
        "the sender forgets a delivered copy"
    );
    let changes = a.take_changes();
    assert!(changes.iter().any(
        |c| matches!(c, Change::PutOut(m) if m.id == id && m.summary() == "delivered 1 of 1")
    ));
}

#[test]
fn a_relay_cannot_read_and_tampering_is_rejected() {
    let (mut a, relay, me) = (machine(1), ident(3), ident(2));
    a.send(
        t(0),
        [1; 16],
        "medic-12",
        false,
        &[(me.id(), me.public_key())],
        "patient count 7",
        &yes,
    )
    .expect("sent");
    let env = first_envelope(&mut a);
    let body = seal::verify_envelope(&env).expect("genuine");
    // The relay has the envelope and the sender's key, but not the recipient's.
    assert_eq!(seal::open(&relay, &body), Err(MsgError::NotForUs));
    assert!(seal::open(&me, &body).is_ok());
    // One bit flipped anywhere in the signed body: refused.
    for i in [0, env.body.len() / 2, env.body.len() - 1] {
        let mut bad = env.clone();
        bad.body[i] ^= 1;
        assert!(seal::verify_envelope(&bad).is_err(), "byte {i}");
    }
    // Re-signed by someone else under the sender's name: refused.
    let mut forged_body = body.clone();
    forged_body.sealed[0] ^= 1;
    let forged = seal::sign_envelope(&relay, &forged_body);
    assert_eq!(seal::verify_envelope(&forged), Err(MsgError::BadSignature));
    // And the recipient refuses it, showing nothing.
    let mut b = machine(2);
    let p = MsgPacket::Deliver { env: forged }.encode();
    assert_eq!(b.handle(t(1), a.me, &p, &yes), Err(MsgError::BadSignature));
    assert!(received(&mut b).is_empty());
}

/// A message the driver could not store is withdrawn whole: nothing of it
/// is sent, held or left to store, and the next message to the same
/// recipient takes the same sequence number.
#[test]
fn a_withdrawn_message_leaves_nothing() {
    let (mut a, me) = (machine(1), ident(2));
    let to = [(me.id(), me.public_key())];
    let _ = a.take_changes();
    a.send(t(0), [1; 16], "medic-12", false, &to, "refused", &yes)
        .expect("sent");
    assert!(a.withdraw([1; 16]));
    assert!(!a.withdraw([1; 16]), "withdrawn twice");
    assert!(a.poll_output().is_none(), "a packet of it left");
    assert_eq!(a.outbox().count(), 0);
    assert_eq!(a.held().count(), 0);
    let changes = a.take_changes();
    assert!(changes.iter().all(|c| !c.concerns(&[1; 16])), "{changes:?}");
    assert!(changes.contains(&Change::TxSeq {
        dst: me.id(),
        seq: 0
    }));
    a.send(t(1), [2; 16], "medic-12", false, &to, "stored", &yes)
        .expect("sent");
    let env = first_envelope(&mut a);
    assert_eq!(seal::verify_envelope(&env).expect("genuine").seq, 1);
    // Withdrawing one message keeps the others.
    assert!(!a.withdraw([1; 16]));
    assert_eq!(a.outbox().count(), 1);
}

#[test]
fn a_replayed_message_is_shown_once() {
    let (mut a, mut b) = (machine(1), machine(2));
    a.send(
        t(0),
        [2; 16],
        "x",
        false,
        &[(b.me, ident(2).public_key())],
        "once",
        &yes,
    )
    .expect("sent");
    let env = first_envelope(&mut a);
    let p = MsgPacket::Deliver { env }.encode();
    for k in 0..5 {
        b.handle(t(k), a.me, &p, &yes).expect("handled");
    }
    assert_eq!(received(&mut b).len(), 1);
    // Every copy gets a receipt (the first may have been lost).
    let receipts = std::iter::from_fn(|| b.poll_output()).count();
    assert_eq!(receipts, 5);
}

#[test]
fn one_senders_messages_are_shown_in_order() {
    let (mut a, mut b) = (machine(1), machine(2));
    let dst = [(b.me, ident(2).public_key())];
    let mut envs = Vec::new();
    for k in 0..5u8 {
        a.send(t(0), [10 + k; 16], "x", false, &dst, &format!("m{k}"), &yes)
            .expect("sent");
        envs.push(first_envelope(&mut a));
    }
    // 0, 3, 1, 4, 2 arrive.
    for k in [0, 3, 1, 4, 2] {
        let p = MsgPacket::Deliver {
            env: envs[k].clone(),
        }
        .encode();
        b.handle(t(1), a.me, &p, &yes).expect("handled");
    }
    let texts: Vec<String> = received(&mut b).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);
}

#[test]
fn a_gap_is_skipped_after_the_reorder_wait() {
    let (mut a, mut b) = (machine(1), machine(2));
    let dst = [(b.me, ident(2).public_key())];
    let mut envs = Vec::new();
    for k in 0..2u8 {
        a.send(t(0), [20 + k; 16], "x", false, &dst, &format!("m{k}"), &yes)
            .expect("sent");
        envs.push(first_envelope(&mut a));
    }
    let p = MsgPacket::Deliver {
        env: envs[1].clone(),
    }
    .encode();
    b.handle(t(0), a.me, &p, &yes).expect("handled");
    assert!(received(&mut b).is_empty(), "waits for m0");
    b.handle_timeout(t(2500), &yes);
    let texts: Vec<String> = received(&mut b).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["m1"]);
    // m0 comes late: shown then, once.
    let p = MsgPacket::Deliver {
        env: envs[0].clone(),
    }
    .encode();
    b.handle(t(2600), a.me, &p, &yes).expect("handled");
    b.handle(t(2700), a.me, &p, &yes).expect("handled");
    let texts: Vec<String> = received(&mut b).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["m0"]);
}

#[test]
fn spray_never_exceeds_the_copy_budget() {
    let mut a = machine(1);
    let dst = ident(99);
    a.send(
        t(0),
        [3; 16],
        "x",
        false,
        &[(dst.id(), dst.public_key())],
        "far",
        &no,
    )
    .expect("sent");
    assert!(a.poll_output().is_none(), "no route: nothing sent");
    // Eight neighbours come up one after the other; each that got copies
    // meets the next ones too.
    let mut nodes: Vec<Messages> = (10..18).map(machine).collect();
    let mut all: Vec<&mut Messages> = std::iter::once(&mut a).chain(nodes.iter_mut()).collect();
    for k in 1..all.len() {
        let newcomer = all[k].me;
        for m in all.iter_mut().take(k) {
            m.on_route(t(k as u64), newcomer, &no);
        }
        let now = t(k as u64);
        // Carry offers and answers (everyone is in range here).
        for _ in 0..4 {
            for i in 0..all.len() {
                while let Some((to, bytes)) = all[i].poll_output() {
                    let from = all[i].me;
                    if let Some(j) = all.iter().position(|m| m.me == to) {
                        let _ = all[j].handle(now, from, &bytes, &no);
                    }
                }
            }
        }
    }
    let copies: u32 = all
        .iter()
        .flat_map(|m| m.held().map(|h| h.3 as u32).collect::<Vec<_>>())
        .sum();
    let holders = all.iter().filter(|m| m.held().next().is_some()).count();
    assert!(
        copies <= MsgConfig::default().copies as u32,
        "{copies} copies"
    );
    assert!(holders > 1, "custodians took copies: {holders}");
    assert!(holders <= MsgConfig::default().copies as usize);
}

#[test]
fn limits_are_refused_with_a_reason() {
    let mut a = Messages::new(
        ident(1),
        MsgConfig {
            per_origin: 2,
            burst: 3.0,
            rate_per_s: 1.0,
            ..MsgConfig::default()
        },
        [1; 32],
    );
    let d = ident(2);
    let dst = [(d.id(), d.public_key())];
    let long = "x".repeat(MAX_TEXT + 1);
    assert_eq!(
        a.send(t(0), [1; 16], "x", false, &dst, &long, &no),
        Err(MsgError::TooLong(MAX_TEXT + 1, MAX_TEXT))
    );
    a.send(t(0), [2; 16], "x", false, &dst, "a", &no)
        .expect("1");
    a.send(t(0), [3; 16], "x", false, &dst, "b", &no)
        .expect("2");
    let e = a.send(t(0), [4; 16], "x", false, &dst, "c", &no);
    assert!(
        matches!(e, Err(MsgError::QuotaFull(ref r)) if r.contains("per sender")),
        "{e:?}"
    );
    let mut r = Messages::new(
        ident(1),
        MsgConfig {
            burst: 2.0,
            rate_per_s: 1.0,
            ..MsgConfig::default()
        },
        [1; 32],
    );
    r.send(t(0), [5; 16], "x", false, &dst, "a", &no)
        .expect("1");
    r.send(t(0), [6; 16], "x", false, &dst, "b", &no)
        .expect("2");
    assert_eq!(
        r.send(t(0), [7; 16], "x", false, &dst, "c", &no),
        Err(MsgError::RateLimited(1.0))
    );
    r.send(t(1000), [8; 16], "x", false, &dst, "d", &no)
        .expect("a token back after 1 s");
}

#[test]
fn the_sender_is_told_of_expiry() {
    let mut a = Messages::new(
        ident(1),
        MsgConfig {
            ttl: Duration::from_secs(10),
            ..MsgConfig::default()
        },
        [1; 32],
    );
    let d = ident(2);
    let id = a
        .send(
            t(0),
            [9; 16],
            "x",
            false,
            &[(d.id(), d.public_key())],
            "late",
            &no,
        )
        .expect("sent");
    a.handle_timeout(t(9_000), &no);
    assert!(a.held().next().is_some());
    a.handle_timeout(t(10_500), &no);
    assert!(a.held().next().is_none());
    let ev: Vec<MsgEvent> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(ev.contains(&MsgEvent::Expired { id, dst: d.id() }));
}

#[test]
fn a_full_size_offer_fits_one_packet() {
    let mut a = machine(1);
    let d = ident(2);
    let to = "r".repeat(wire::MAX_TO);
    a.send(
        t(0),
        [1; 16],
        &to,
        true,
        &[(d.id(), d.public_key())],
        &"é".repeat(MAX_TEXT / 2),
        &no,
    )
    .expect("sent");
    a.on_route(t(1), ident(3).id(), &no);
    let (_, bytes) = a.poll_output().expect("an offer");
    assert!(
        bytes.len() <= crate::node::MAX_PAYLOAD,
        "{} bytes",
        bytes.len()
    );
}

#[test]
fn restored_state_resumes() {
    let (mut a, mut b) = (machine(1), machine(2));
    let dst = [(b.me, ident(2).public_key())];
    a.send(t(0), [4; 16], "x", false, &dst, "survives", &no)
        .expect("sent");
    // The driver stores the changes; a new machine loads them.
    let mut snap = Snapshot::default();
    for c in a.take_changes() {
        match c {
            Change::PutBundle {
                env, copies, own, ..
            } => snap.bundles.push((env, copies, own)),
            Change::PutOut(m) => snap.outbox.push(m),
            Change::TxSeq { dst, seq } => snap.tx_seq.push((dst, seq)),
            _ => {}
        }
    }
    let mut a2 = machine(1);
    a2.restore(t(0), snap);
    a2.on_route(t(1), b.me, &yes);
    settle(t(1), &mut [&mut a2, &mut b]);
    assert_eq!(received(&mut b).len(), 1);
    assert!(a2.outbox().next().is_none());
}

mod decoders {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any bytes: an error or a value, never a panic, never a message shown.
        #[test]
        fn arbitrary_bytes_are_refused_quietly(bytes in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let _ = MsgPacket::decode(&bytes);
            let mut b = machine(2);
            let _ = b.handle(t(0), ident(1).id(), &bytes, &yes);
            prop_assert!(received(&mut b).is_empty());
        }

        /// A genuine delivery with one byte changed: refused, or (where the
        /// byte was CBOR framing that still decodes to the same envelope)
        /// shown as sent; never shown altered.
        #[test]
        fn a_mangled_delivery_never_shows_altered_text(pos in any::<usize>(), bit in 0u8..8) {
            let mut a = machine(1);
            a.send(t(0), [5; 16], "x", false, &[(ident(2).id(), ident(2).public_key())], "genuine", &yes)
                .expect("sent");
            let (_, mut bytes) = a.poll_output().expect("packet");
            let i = pos % bytes.len();
            bytes[i] ^= 1 << bit;
            let mut b = machine(2);
            let _ = b.handle(t(1), a.me, &bytes, &yes);
            for m in received(&mut b) {
                prop_assert_eq!(m.text, "genuine");
            }
        }
    }
}

#[test]
fn texts_from_thousands_of_made_up_senders_stay_within_the_bounds() {
    use super::machine::{MAX_RX_SEQ, MAX_SEEN};
    let mut b = machine(2);
    let dst = [(b.me, ident(2).public_key())];
    // A member that texted first, three times.
    let mut a = machine(1);
    for k in 0..3u8 {
        a.send(t(0), [k; 16], "x", false, &dst, "first", &yes)
            .expect("sent");
        let p = MsgPacket::Deliver {
            env: first_envelope(&mut a),
        }
        .encode();
        b.handle(t(0), a.me, &p, &yes).expect("handled");
    }
    // Then one text each from more made-up senders than the bound.
    for i in 0..MAX_RX_SEQ as u32 + 10 {
        let mut secret = [0x77; 32];
        secret[..4].copy_from_slice(&i.to_be_bytes());
        let mut f = Messages::new(Identity::from_secret(&secret), MsgConfig::default(), secret);
        let mut id = [0x33; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        f.send(t(1), id, "x", false, &dst, "forged", &yes)
            .expect("sent");
        let p = MsgPacket::Deliver {
            env: first_envelope(&mut f),
        }
        .encode();
        b.handle(t(1), f.me, &p, &yes).expect("handled");
    }
    assert_eq!(b.rx_seq.len(), MAX_RX_SEQ);
    assert_eq!(b.rx_seq.get(&a.me), Some(&3));
    let forgotten = b
        .take_changes()
        .iter()
        .filter(|c| matches!(c, Change::ForgetRxSeq(_)))
        .count();
    assert_eq!(forgotten, 11);
    // The replay guard is full: a new text is refused unreceipted, and
    // taken once the remembered ids expire.
    let far = b.unix_ms(t(2)) + 60_000;
    while b.seen.len() < MAX_SEEN {
        let mut id = [0x44; 16];
        id[..8].copy_from_slice(&(b.seen.len() as u64).to_be_bytes());
        b.seen.insert(id, far);
    }
    a.send(t(2), [9; 16], "x", false, &dst, "after", &yes)
        .expect("sent");
    let p = MsgPacket::Deliver {
        env: first_envelope(&mut a),
    }
    .encode();
    let _ = received(&mut b);
    assert!(matches!(
        b.handle(t(2), a.me, &p, &yes),
        Err(MsgError::QuotaFull(_))
    ));
    assert!(received(&mut b).is_empty());
    b.handle_timeout(t(70_000), &yes);
    b.handle(t(70_001), a.me, &p, &yes).expect("handled");
    assert_eq!(received(&mut b).len(), 1);
    assert!(b.seen.len() <= MAX_SEEN);
}
