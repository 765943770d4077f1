use super::*;
use crate::link::IfaceId;

fn id(b: u8) -> NodeId {
    NodeId([b; 16])
}
fn via(b: u8) -> LinkKey {
    LinkKey {
        iface: IfaceId(0),
        id: id(b),
    }
}
fn entry(dest: u8, seqno: u16, metric: u16) -> RouteEntry {
    RouteEntry {
        dest: id(dest),
        seqno,
        metric,
        hops: 1,
        base: false,
    }
}
const HOLD: Duration = Duration::from_secs(60);

#[test]
fn seqno_comparison_wraps() {
    assert!(seqno_newer(1, 0));
    assert!(seqno_newer(0, 65535));
    assert!(!seqno_newer(0, 0));
    assert!(!seqno_newer(0, 1));
}

#[test]
fn selects_cheapest_and_reports_change() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    let c = t.update(now, via(1), &entry(9, 5, 512), 256, HOLD).unwrap();
    assert!(c.route_changed);
    assert_eq!(t.selected(&id(9)).unwrap().via, via(1));
    t.update(now, via(2), &entry(9, 5, 256), 256, HOLD);
    assert_eq!(t.selected(&id(9)).unwrap().via, via(2));
    assert_eq!(t.selected(&id(9)).unwrap().metric, 512);
}

#[test]
fn feasibility_refuses_a_route_that_could_loop() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    t.update(now, via(1), &entry(9, 5, 256), 256, HOLD);
    // We advertise metric 512 for seqno 5: that is now our feasibility distance.
    let e = t.entry_for(&id(9)).unwrap();
    t.advertised(&e);
    // Neighbour 1 dies; neighbour 2 offers metric 768 (>= our FD) at the same
    // seqno: it may be routing through us, so it is not feasible.
    t.update(now, via(2), &entry(9, 5, 768), 256, HOLD);
    let ch = t.link_down(via(1));
    assert_eq!(ch.len(), 1);
    assert!(t.selected(&id(9)).is_none(), "unfeasible route selected");
    assert_eq!(t.starving().count(), 1);
    // A newer seqno makes it feasible.
    t.update(now, via(2), &entry(9, 6, 768), 256, HOLD);
    assert_eq!(t.selected(&id(9)).unwrap().via, via(2));
}

#[test]
fn retraction_and_expiry_remove_routes() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    t.update(now, via(1), &entry(9, 5, 256), 256, HOLD);
    t.update(now, via(1), &entry(9, 5, u16::MAX), 256, HOLD);
    assert!(t.selected(&id(9)).is_none());
    t.update(now, via(1), &entry(8, 5, 256), 256, HOLD);
    t.expire(now + HOLD + Duration::from_secs(1));
    assert!(t.selected(&id(8)).is_none());
}

#[test]
fn infinite_link_cost_is_never_selected() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    t.update(now, via(1), &entry(9, 5, 256), u16::MAX, HOLD);
    assert!(t.selected(&id(9)).is_none());
    t.set_link_cost(via(1), 300);
    assert_eq!(t.selected(&id(9)).unwrap().metric, 556);
}

#[test]
fn own_seqno_jumps_past_a_remembered_one() {
    let mut t = RouteTable::new(id(0), 10, false);
    let c = t
        .update(Instant::ZERO, via(1), &entry(0, 20, 256), 256, HOLD)
        .unwrap();
    assert_eq!(c.dest, id(0));
    assert_eq!(t.seqno, 21);
}

#[test]
fn a_requested_seqno_is_selected_even_when_an_older_route_is_cheaper() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    t.update(now, via(1), &entry(9, 5, 256), 256, HOLD);
    let e = t.entry_for(&id(9)).unwrap();
    t.advertised(&e);
    // A newer seqno arrives over a dearer path: plain selection keeps the
    // cheap old route...
    t.update(now, via(2), &entry(9, 6, 2000), 256, HOLD);
    assert_eq!(t.selected(&id(9)).unwrap().seqno, 5);
    // ...but when seqno 6 was asked for through us, we take it so our
    // answer carries it on.
    let c = t.select_seqno(&id(9), 6).expect("a change");
    assert!(c.seqno_up && c.advertise && c.route_changed);
    assert_eq!(t.selected(&id(9)).unwrap().seqno, 6);
    assert_eq!(t.selected(&id(9)).unwrap().via, via(2));
    assert!(t.select_seqno(&id(9), 6).is_none(), "already answered");
}

#[test]
fn a_requested_seqno_does_not_override_feasibility() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    // We route to 9 at seqno 5 and advertise metric 512: our FD is (5, 512).
    t.update(now, via(1), &entry(9, 5, 256), 256, HOLD);
    let e = t.entry_for(&id(9)).unwrap();
    t.advertised(&e);
    // Our next hop goes; neighbour 2 offers seqno 5 at a metric no better
    // than ours: it may be routing through us (on our old advertisement).
    t.update(now, via(2), &entry(9, 5, 800), 256, HOLD);
    t.link_down(via(1));
    assert!(t.selected(&id(9)).is_none());
    // A neighbour whose FD is older asks through us for seqno 5: the
    // offered route carries it, but taking it could close a loop.
    assert!(
        t.select_seqno(&id(9), 5).is_none(),
        "unfeasible route selected"
    );
    assert!(t.selected(&id(9)).is_none());
    // Seqno 6 is newer than our FD: feasible, and taken for the request.
    t.update(now, via(2), &entry(9, 6, 800), 256, HOLD);
    assert_eq!(t.selected(&id(9)).unwrap().seqno, 6);
}

/// A new seqno selected on request is advertised with the next flush; a
/// cheaper route at the old seqno that shows up before the flush must not
/// take its place, or the flush advertises the old seqno and the request's
/// answer stops here (a starving pocket behind this node waited seconds).
#[test]
fn a_new_seqno_is_kept_until_it_is_advertised() {
    let now = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    t.update(now, via(1), &entry(9, 5, 1024), 256, HOLD);
    let e = t.entry_for(&id(9)).unwrap();
    t.advertised(&e);
    // The answer to a request: seqno 6, dearer than before.
    t.update(now, via(1), &entry(9, 6, 1046), 256, HOLD);
    assert_eq!(t.selected(&id(9)).unwrap().seqno, 6);
    // Before the flush, another neighbour offers seqno 5, feasible and
    // much cheaper: the route stays on seqno 6.
    t.update(now, via(2), &entry(9, 5, 768), 256, HOLD);
    let sel = *t.selected(&id(9)).unwrap();
    assert_eq!((sel.via, sel.seqno), (via(1), 6));
    // Once seqno 6 is advertised, selection is as usual; with the seqno 6
    // route gone, the old seqno is still usable if it is feasible.
    t.link_down(via(1));
    assert_eq!(t.selected(&id(9)).unwrap().via, via(2));
}

#[test]
fn a_full_table_refuses_forged_ids_and_makes_room_only_for_a_neighbour_itself() {
    let t0 = Instant::ZERO;
    let mut t = RouteTable::new(id(0), 1, false);
    // Members first: neighbour 1 and a member two hops away through it.
    t.update(t0, via(1), &entry(1, 1, 0), 256, HOLD);
    t.update(t0, via(1), &entry(7, 1, 256), 256, HOLD);
    // Then a forger behind neighbour 2 fills the table with made-up ids.
    let forged = |i: u32| {
        let mut b = [0xf0; 16];
        b[..4].copy_from_slice(&i.to_be_bytes());
        NodeId(b)
    };
    for i in 0..MAX_SOURCES as u32 + 100 {
        let at = t0 + Duration::from_millis(u64::from(i));
        let e = RouteEntry {
            dest: forged(i),
            ..entry(0, 1, 256)
        };
        t.update(at, via(2), &e, 256, HOLD);
    }
    assert_eq!(t.len(), MAX_SOURCES);
    assert_eq!(t.refused(), 102);
    assert!(t.selected(&id(1)).is_some() && t.selected(&id(7)).is_some());
    // A far newcomer is refused like the forged ids...
    let later = t0 + Duration::from_secs(10);
    assert!(
        t.update(later, via(1), &entry(8, 1, 256), 256, HOLD)
            .is_none()
    );
    assert!(t.selected(&id(8)).is_none());
    // ...but a new neighbour advertising itself takes the youngest
    // forged id's place, never a member's.
    let youngest = forged(MAX_SOURCES as u32 - 3);
    assert!(t.source(&youngest).is_some());
    assert!(
        t.update(later, via(9), &entry(9, 1, 0), 256, HOLD)
            .is_some()
    );
    assert_eq!(t.len(), MAX_SOURCES);
    assert_eq!(t.evicted(), 1);
    assert!(t.source(&youngest).is_none());
    let gone = t.take_evicted();
    assert_eq!(gone.len(), 1);
    assert!(gone[0].dest == youngest && gone[0].route_changed);
    assert!(t.take_evicted().is_empty());
    assert_eq!(t.candidates_via(&via(2)), MAX_SOURCES as u32 - 3);
    for d in [1, 7, 9] {
        assert!(t.selected(&id(d)).is_some(), "{d}");
    }
}
