//! One Directory fed records directly: versions, leases, bounds.

use super::*;
use crate::time::ms;

fn t(msv: u64) -> Instant {
    Instant::from_millis(msv)
}

#[test]
fn older_versions_and_replays_are_rejected() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    let v2 = record(&a, "engine-3", 2).sign(&a).unwrap();
    let v1 = record(&a, "engine-3", 1).sign(&a).unwrap();
    d.handle(t(0), a.id(), push_of(v2.clone(), 60_000));
    d.handle(t(10), a.id(), push_of(v1, 60_000));
    assert_eq!(d.resolve(t(20), "engine-3")[0].rec.version, 2);
    // After the lease the same version replayed does not come back.
    d.handle_timeout(t(61_000));
    assert!(holders(&d, t(61_000), "engine-3").is_empty());
    d.handle(t(62_000), a.id(), push_of(v2, 60_000));
    assert!(holders(&d, t(62_000), "engine-3").is_empty());
    // A genuinely newer version does.
    let v3 = record(&a, "engine-3", 3).sign(&a).unwrap();
    d.handle(t(63_000), a.id(), push_of(v3, 60_000));
    assert_eq!(holders(&d, t(63_000), "engine-3"), vec![a.id()]);
}

#[test]
fn lease_expiry_stops_resolution_and_is_reported() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    d.handle(
        t(0),
        a.id(),
        push_of(record(&a, "medic-12", 1).sign(&a).unwrap(), 60_000),
    );
    assert_eq!(holders(&d, t(59_000), "medic-12"), vec![a.id()]);
    drain_events(&mut d);
    let deadline = d.poll_timeout().unwrap();
    assert!(deadline <= t(60_000));
    d.handle_timeout(t(60_000));
    assert!(holders(&d, t(60_000), "medic-12").is_empty());
    assert!(drain_events(&mut d).contains(&Event::Expired {
        name: "medic-12".into(),
        holder: a.id()
    }));
}

#[test]
fn relaying_never_lengthens_a_lease() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    // The relay had 5 s left: that is all we get, not the signed 60 s.
    d.handle(
        t(0),
        a.id(),
        push_of(record(&a, "medic-12", 1).sign(&a).unwrap(), 5_000),
    );
    assert!(holders(&d, t(4_999), "medic-12").len() == 1);
    assert!(holders(&d, t(5_000), "medic-12").is_empty());
}

#[test]
fn a_role_can_have_several_holders_and_talkgroups_have_members() {
    let mut d = directory(0, config(60));
    for i in 1..=3 {
        let h = ident(i);
        d.handle(
            t(0),
            h.id(),
            push_of(record(&h, "engine-3", 1).sign(&h).unwrap(), 60_000),
        );
    }
    let mut got = holders(&d, t(1), "engine-3");
    got.sort();
    let mut want: Vec<_> = (1..=3).map(|i| ident(i).id()).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(d.members(t(1), "fireground"), want);
    assert!(d.members(t(1), "ems").is_empty());
}

#[test]
fn local_claims_refresh_and_release() {
    let mut d = directory(0, config(60));
    d.local_claim(t(0), "engine-3", false).unwrap();
    assert_eq!(holders(&d, t(1), "engine-3"), vec![d.id()]);
    // Refreshed at three quarters of the lease, so it never lapses.
    let mut now = t(0);
    while now < t(200_000) {
        now = d.poll_timeout().unwrap().max(now + ms(1));
        d.handle_timeout(now);
    }
    assert_eq!(holders(&d, now, "engine-3"), vec![d.id()]);
    assert!(d.resolve(now, "engine-3")[0].rec.version >= 4);
    d.local_release(now, "engine-3").unwrap();
    assert!(holders(&d, now, "engine-3").is_empty());
    assert_eq!(
        d.local_release(now, "engine-3"),
        Err(NamesError::NotHeld("engine-3".into()))
    );
}

#[test]
fn exclusive_claim_of_a_live_role_is_refused_locally() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    let mut r = record(&a, "command", 1);
    r.exclusive = true;
    r.epoch_ms = 1000;
    d.handle(t(0), a.id(), push_of(r.sign(&a).unwrap(), 60_000));
    assert_eq!(
        d.local_claim(t(1), "command", true),
        Err(NamesError::Refused(Refusal::HeldBy { holder: a.id() }))
    );
    assert_eq!(
        d.local_claim(t(1), "command", false),
        Err(NamesError::Refused(Refusal::HeldBy { holder: a.id() }))
    );
    // Once the lease is over, the role is free.
    d.handle_timeout(t(61_000));
    d.local_claim(t(61_000), "command", true).unwrap();
    assert_eq!(holders(&d, t(61_000), "command"), vec![d.id()]);
}

#[test]
fn exclusive_claim_of_a_shared_name_is_refused_locally() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    d.handle(
        t(0),
        a.id(),
        push_of(record(&a, "engine-3", 1).sign(&a).unwrap(), 60_000),
    );
    assert_eq!(
        d.local_claim(t(1), "engine-3", true),
        Err(NamesError::Refused(Refusal::Shared { holders: 1 }))
    );
    d.local_claim(t(1), "engine-3", false).unwrap();
    assert_eq!(holders(&d, t(2), "engine-3").len(), 2);
}

#[test]
fn per_holder_limit_is_enforced() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    for i in 0..17u64 {
        let r = record(&a, &format!("name-{i}"), i + 1).sign(&a).unwrap();
        d.handle(t(i), a.id(), push_of(r, 60_000));
    }
    assert_eq!(d.store().len(), 16);
    let ev = drain_events(&mut d);
    assert!(ev.contains(&Event::Rejected {
        from: a.id(),
        error: NamesError::Refused(Refusal::HolderLimit)
    }));
    // Updates of names it already has are still taken.
    let r = record(&a, "name-0", 100).sign(&a).unwrap();
    d.handle(t(200_000), a.id(), push_of(r, 60_000));
    assert_eq!(d.store().get("name-0", &a.id()).unwrap().rec.version, 100);
}

#[test]
fn total_limit_evicts_expired_entries_first() {
    let mut cfg = config(60);
    cfg.limits.total = 4;
    let mut d = directory(0, cfg);
    for i in 1..=4 {
        let h = ident(i);
        d.handle(
            t(i as u64),
            h.id(),
            push_of(
                record(&h, "engine-3", 1).sign(&h).unwrap(),
                1_000 * i as u32,
            ),
        );
    }
    let h5 = ident(5);
    let r5 = record(&h5, "engine-3", 1).sign(&h5).unwrap();
    d.handle(t(10), h5.id(), push_of(r5.clone(), 60_000));
    assert!(drain_events(&mut d).contains(&Event::Rejected {
        from: h5.id(),
        error: NamesError::Refused(Refusal::TableFull)
    }));
    // Holder 1's lease is over at 1 s: its entry makes room.
    d.handle(t(1_500), h5.id(), push_of(r5, 60_000));
    assert_eq!(d.store().len(), 4);
    assert!(d.store().get("engine-3", &h5.id()).is_some());
    assert!(d.store().get("engine-3", &ident(1).id()).is_none());
}

#[test]
fn a_full_table_refuses_relayed_newcomers_and_makes_room_only_for_a_holder_itself() {
    let mut cfg = config(600);
    cfg.limits.total = 4;
    let mut d = directory(0, cfg);
    let relay = ident(90);
    // Two members first (one pushed by itself, one relayed), then two
    // forged names relayed by a neighbour.
    let m1 = ident(1);
    d.handle(
        t(1),
        m1.id(),
        push_of(record(&m1, "engine-3", 1).sign(&m1).unwrap(), 600_000),
    );
    let m2 = ident(2);
    d.handle(
        t(2),
        relay.id(),
        push_of(record(&m2, "medic-12", 1).sign(&m2).unwrap(), 600_000),
    );
    for i in 3..=4 {
        let f = ident(i);
        let r = record(&f, &format!("forged-{i}"), 1).sign(&f).unwrap();
        d.handle(t(i as u64), relay.id(), push_of(r, 600_000));
    }
    assert_eq!(d.store().len(), 4);
    // A relayed newcomer is refused before its signature is checked.
    let f5 = ident(5);
    let mut r5 = record(&f5, "forged-5", 1).sign(&f5).unwrap();
    r5.signature = [0; 64];
    d.handle(t(10), relay.id(), push_of(r5, 600_000));
    assert!(drain_events(&mut d).contains(&Event::Rejected {
        from: relay.id(),
        error: NamesError::Refused(Refusal::TableFull)
    }));
    assert_eq!(d.store().refused(), 1);
    // A holder pushing its own record takes the place of the youngest
    // relayed entry (forged-4), never a member's.
    let m6 = ident(6);
    d.handle(
        t(20),
        m6.id(),
        push_of(record(&m6, "command", 1).sign(&m6).unwrap(), 600_000),
    );
    assert_eq!(d.store().len(), 4);
    assert_eq!(d.store().evicted(), 1);
    assert!(d.store().get("forged-4", &ident(4).id()).is_none());
    assert_eq!(holders(&d, t(20), "command"), vec![m6.id()]);
    assert_eq!(holders(&d, t(20), "engine-3"), vec![m1.id()]);
    assert_eq!(holders(&d, t(20), "medic-12"), vec![m2.id()]);
    assert_eq!(holders(&d, t(20), "forged-3"), vec![ident(3).id()]);
    // Our own claim is heard directly too: forged-3 goes.
    d.local_claim(t(30), "engine-7", false).unwrap();
    assert_eq!(d.store().len(), 4);
    assert!(d.store().get("forged-3", &ident(3).id()).is_none());
    assert_eq!(holders(&d, t(30), "engine-3"), vec![m1.id()]);
}

#[test]
fn rate_limit_per_holder() {
    let a = ident(1);
    let mut d = directory(0, config(60));
    let burst = NamesConfig::default().limits.burst as u64;
    for v in 1..=burst + 5 {
        d.handle(
            t(v),
            a.id(),
            push_of(record(&a, "engine-3", v).sign(&a).unwrap(), 60_000),
        );
    }
    let limited = drain_events(&mut d)
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Rejected {
                    error: NamesError::Refused(Refusal::RateLimited),
                    ..
                }
            )
        })
        .count();
    assert_eq!(limited, 5);
    assert_eq!(
        d.store().get("engine-3", &a.id()).unwrap().rec.version,
        burst
    );
    // Tokens come back with time (12 a minute).
    d.handle(
        t(10_000),
        a.id(),
        push_of(record(&a, "engine-3", 999).sign(&a).unwrap(), 60_000),
    );
    assert_eq!(d.store().get("engine-3", &a.id()).unwrap().rec.version, 999);
}

#[test]
fn own_records_from_an_earlier_life_are_superseded() {
    // Device 0 restarts with a low version base; the mesh still has v50.
    let me = ident(0);
    let mut d = directory(0, config(60));
    d.local_claim(t(0), "engine-3", false).unwrap();
    d.handle(
        t(10),
        ident(1).id(),
        push_of(record(&me, "medic-1", 50).sign(&me).unwrap(), 60_000),
    );
    let mut now = t(10);
    for _ in 0..5 {
        now = d.poll_timeout().unwrap().max(now);
        d.handle_timeout(now);
    }
    // The stale name is retracted with a newer version.
    let e = d.store().get("medic-1", &me.id()).unwrap();
    assert!(e.rec.released && e.rec.version > 50);
    assert!(holders(&d, now, "medic-1").is_empty());
    assert_eq!(holders(&d, now, "engine-3"), vec![me.id()]);
}

#[test]
fn presence_goes_out_soon_positions_wait() {
    let mut d = directory(0, config(600));
    d.local_claim(t(0), "engine-3", false).unwrap();
    let v0 = d.resolve(t(0), "engine-3")[0].rec.version;
    let pos = Position {
        lat_e7: 1,
        lon_e7: 2,
        accuracy_m: 5,
        time_s: 3,
    };
    // A first fix goes out as soon as min_reissue allows: until then no
    // one could place the member at all.
    d.set_position(t(1_000), Some(pos));
    d.handle_timeout(t(5_000));
    let first = d.resolve(t(5_000), "engine-3")[0].rec.clone();
    assert!(first.version > v0);
    assert_eq!(first.position, Some(pos));
    // A move waits for the next version or position_interval.
    let moved = Position { lat_e7: 9, ..pos };
    d.set_position(t(10_000), Some(moved));
    d.handle_timeout(t(60_000));
    assert_eq!(
        d.resolve(t(60_000), "engine-3")[0].rec.version,
        first.version
    );
    // Presence is sent at once (the last version is older than min_reissue).
    d.set_presence(t(60_000), Presence::Emergency);
    let e = d.resolve(t(60_000), "engine-3")[0];
    assert!(e.rec.version > first.version);
    assert_eq!(
        (e.rec.presence, e.rec.position),
        (Presence::Emergency, Some(moved))
    );
}

#[test]
fn realistic_record_size() {
    let mut d = directory(0, config(600));
    d.set_profile(
        t(0),
        Profile {
            agency: "Metro Fire".into(),
            unit: "Station 7, Engine 3".into(),
            talkgroups: vec!["fireground".into(), "command-net".into(), "ems".into()],
            presence: Presence::Available,
            position: Some(Position {
                lat_e7: 515_074_000,
                lon_e7: -1_278_000,
                accuracy_m: 6,
                time_s: 1_760_000_000,
            }),
        },
    )
    .unwrap();
    d.set_wall_clock(t(0), 1_760_000_000_000);
    d.local_claim(t(0), "captain.engine-7", true).unwrap();
    let e = d.resolve(t(0), "captain.engine-7")[0];
    let push = push_of(e.signed.clone(), 600_000).encode().len();
    println!(
        "record body {} bytes, push of one record {push} bytes",
        e.signed.body.len()
    );
    assert!(push < 260, "{push}");
}

#[test]
fn a_new_record_is_repeated_until_echoed_a_refresh_is_not() {
    let a = ident(1);
    let b = ident(2);
    let c = ident(3);
    let mut d = directory(0, config(60));
    d.on_neighbour_up(t(0), b.id());
    d.on_neighbour_up(t(0), c.id());
    while d.poll_output().is_some() {}
    // Pushes of `name` to all neighbours up to `until`, timers run as due.
    let pushes = |d: &mut Directory, from: u64, until: u64, name: &str| {
        let mut n = 0;
        let mut now = from;
        while now <= until {
            d.handle_timeout(t(now));
            while let Some((dest, msg)) = d.poll_output() {
                if let (Dest::AllNeighbours, NamesMsg::Push { entries }) = (dest, msg) {
                    n += entries
                        .iter()
                        .filter(|e| e.record.open().is_ok_and(|r| r.name == name))
                        .count();
                }
            }
            now += 5;
        }
        n
    };
    // From b; c never relays it back: pushed as often as allowed.
    d.handle(
        t(10),
        b.id(),
        push_of(record(&a, "medic-12", 1).sign(&a).unwrap(), 60_000),
    );
    assert_eq!(pushes(&mut d, 10, 1_500, "medic-12"), ECHO_SENDS as usize);
    // From b, and c relays it back before the repeat: pushed once.
    let engine = record(&a, "engine-3", 1).sign(&a).unwrap();
    d.handle(t(2_000), b.id(), push_of(engine.clone(), 60_000));
    assert_eq!(pushes(&mut d, 2_000, 2_050, "engine-3"), 1);
    d.handle(t(2_060), c.id(), push_of(engine, 60_000));
    assert_eq!(pushes(&mut d, 2_060, 3_000, "engine-3"), 0);
    // The holder refreshes: a known record, relayed once, echo or not.
    d.handle(
        t(4_000),
        b.id(),
        push_of(record(&a, "medic-12", 2).sign(&a).unwrap(), 60_000),
    );
    assert_eq!(pushes(&mut d, 4_000, 5_000, "medic-12"), 1);
}
