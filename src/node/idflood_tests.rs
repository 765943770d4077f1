//! Open mode against a flood of identities: a mesh of members converges,
//! then one device next to it forges 100 000 node ids (route
//! advertisements), 100 000 names (records signed by 6 250 forged keys)
//! and 1.6 million talkgroups (listed in those records). Every table stays
//! within its bound, the members keep their routes and names, a member
//! that walks up to a full node afterwards still becomes reachable from it,
//! and once the forger leaves every member reaches the late one. Prints the
//! memory estimate per node before, at peak and after as `FIGURE` lines.

use super::tests::World;
use super::*;
use crate::identity::Identity;
use crate::link::Timers;
use crate::names::record::{Presence, Record};
use crate::names::wire::{PushEntry, pack_push};
use crate::names::{Limits, Profile};
use crate::route::MAX_SOURCES;
use crate::time::ms;
use crate::wire::control::{self, RouteEntry, Update};
use crate::wire::flags;

/// Members 0..6 in a ring with two chords; the attacker (6) hears 2 and 3;
/// node 7 (a late member) hears 5 but sleeps until the flood is over.
const MEMBERS: usize = 6;
const ATTACKER: usize = 6;
const LATE: usize = 7;
const FORGED_IDS: u32 = 100_000;
const FORGED_NAMES: u32 = 100_000;
/// Route entries per forged update: what fits one packet.
const PER_UPDATE: usize = 40;

fn world() -> World {
    let links = [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 0),
        (0, 3),
        (1, 4),
        (ATTACKER, 2),
        (ATTACKER, 3),
        (LATE, 5),
    ];
    let mut w = World::new(8, &links, Timers::callsign(), 81);
    w.stall(LATE);
    w
}

fn forged_id(i: u32) -> NodeId {
    let mut id = [0xa5; 16];
    id[..4].copy_from_slice(&i.to_be_bytes());
    NodeId(id)
}

fn name_of(i: usize) -> String {
    format!("member-{i}")
}

fn claim(w: &mut World, i: usize) {
    let now = w.now();
    let n = &mut w.nodes[i];
    n.set_profile(
        now,
        Profile {
            talkgroups: vec!["fireground".into()],
            ..Profile::default()
        },
    )
    .expect("profile");
    n.claim(now, &name_of(i), false).expect("claim");
    w.drain(i);
}

/// Every member routes to every other, resolves every member's name and
/// lists it in their talkgroup.
fn members_intact(w: &World, members: &[usize]) -> Result<(), String> {
    let now = w.now();
    for &a in members {
        for &b in members {
            if a == b {
                continue;
            }
            if w.path(a, b).is_none() {
                return Err(format!("{a} has no path to {b}"));
            }
            if !w.nodes[a]
                .directory()
                .members(now, "fireground")
                .contains(&w.nodes[b].id())
            {
                return Err(format!("{a} does not list {b} in its talkgroup"));
            }
            let holders = w.nodes[a].whois(now, &name_of(b));
            if !holders
                .iter()
                .any(|h| h.entry.rec.holder == w.nodes[b].id() && h.route.is_some())
            {
                return Err(format!("{a} does not resolve {}", name_of(b)));
            }
        }
    }
    Ok(())
}

fn assert_within_bounds(w: &World) {
    for (i, n) in w.nodes.iter().enumerate() {
        for t in n.table_sizes() {
            assert!(
                t.entries <= t.bound,
                "node {i}: {} holds {} over its bound {}",
                t.name,
                t.entries,
                t.bound
            );
        }
    }
}

/// The largest estimate over the members, and that node's tables.
fn figure(w: &World, when: &str) -> usize {
    let (i, bytes) = (0..MEMBERS)
        .map(|i| (i, w.nodes[i].table_bytes()))
        .max_by_key(|(_, b)| *b)
        .unwrap_or((0, 0));
    let tables: Vec<String> = w.nodes[i]
        .table_sizes()
        .iter()
        .filter(|t| t.entries > 0)
        .map(|t| format!("{}={}/{}:{}B", t.name, t.entries, t.bound, t.bytes))
        .collect();
    println!(
        "FIGURE id_flood_memory_per_node_{when}_bytes {bytes} (member {i}: {})",
        tables.join(" ")
    );
    bytes
}

/// The attacker's forged route advertisements, unicast to neighbour `to`.
fn forge_routes(w: &mut World, to: usize, ids: std::ops::Range<u32>) {
    let src = w.nodes[ATTACKER].id();
    let ids: Vec<u32> = ids.collect();
    for chunk in ids.chunks(PER_UPDATE) {
        let upd = Update {
            entries: chunk
                .iter()
                .map(|&i| RouteEntry {
                    dest: forged_id(i),
                    seqno: 1,
                    metric: 96,
                    hops: 1,
                    base: false,
                })
                .collect(),
        };
        let body = control::encode(&upd);
        let pkt = wire::Header::link(PacketType::Update, flags::UNICAST, src, 0).to_packet(&body);
        assert!(pkt.len() <= wire::MAX_PACKET, "{} bytes", pkt.len());
        w.inject(ATTACKER, to, pkt);
    }
}

/// 16 forged names (the per-holder limit) under forged key `k`, each
/// listing 16 forged talkgroups.
fn forged_records(k: u32) -> Vec<PushEntry> {
    let mut secret = [0x5a; 32];
    secret[..4].copy_from_slice(&k.to_be_bytes());
    let ident = Identity::from_secret(&secret);
    (0..16u32)
        .map(|j| {
            let n = k * 16 + j;
            let rec = Record {
                name: format!("forged-{n}"),
                holder: ident.id(),
                key: ident.public_key(),
                agency: String::new(),
                unit: String::new(),
                talkgroups: (0..16).map(|t| format!("tg-{}", n * 16 + t)).collect(),
                presence: Presence::Available,
                position: None,
                exclusive: false,
                released: false,
                lease_s: 3600,
                version: 1,
                epoch_ms: 0,
                generation: 0,
                handover: None,
            };
            PushEntry {
                remaining_ms: 3_600_000,
                record: rec.sign(&ident).expect("sign"),
                cert: None,
            }
        })
        .collect()
}

fn forge_names(w: &mut World, keys: std::ops::Range<u32>) {
    let src = w.nodes[ATTACKER].id();
    let entries: Vec<PushEntry> = keys.flat_map(forged_records).collect();
    for msg in pack_push(entries) {
        let body = msg.encode();
        let pkt = wire::Header::link(PacketType::Names, 0, src, 0).to_packet(&body);
        assert!(pkt.len() <= wire::MAX_PACKET, "{} bytes", pkt.len());
        for to in [2, 3] {
            w.inject(ATTACKER, to, pkt.clone());
        }
    }
}

#[test]
fn a_flood_of_forged_ids_names_and_talkgroups_stays_bounded_and_evicts_no_member() {
    let mut w = world();
    w.run_for(ms(3000));
    for i in 0..MEMBERS {
        claim(&mut w, i);
    }
    w.run_for(ms(5000));
    let members: Vec<usize> = (0..MEMBERS).collect();
    members_intact(&w, &members).expect("converged before the flood");
    let before = figure(&w, "before");

    // As fast as the harness delivers: a batch, then 100 ms of the mesh.
    let batches = 100u32;
    let (ids, keys) = (FORGED_IDS / batches, FORGED_NAMES / 16 / batches);
    let mut peak = 0;
    for b in 0..batches {
        for to in [2, 3] {
            forge_routes(&mut w, to, b * ids..(b + 1) * ids);
        }
        forge_names(&mut w, b * keys..(b + 1) * keys);
        w.run_for(ms(100));
        assert_within_bounds(&w);
        peak = (0..MEMBERS)
            .map(|i| w.nodes[i].table_bytes())
            .fold(peak, usize::max);
    }
    // The forged routes held by the attacker's neighbours outlive the
    // flood by the route hold time; the mesh settles meanwhile.
    w.run_for(ms(5000));
    assert_within_bounds(&w);
    members_intact(&w, &members).expect("members after the flood");
    let after = figure(&w, "after");
    println!("FIGURE id_flood_memory_per_node_peak_bytes {peak}");

    // The flood did fill the tables: the bounds, not a lack of forged
    // traffic, kept them small.
    let c = w.nodes[2].bound_counts();
    println!("FIGURE id_flood_refused_at_node_2 {c:?}");
    assert_eq!(w.nodes[2].table_sizes()[1].name, "routes");
    assert!(w.nodes[2].table_sizes()[1].entries >= MAX_SOURCES - 8);
    assert!(c.routes_refused > 50_000, "{c:?}");
    let store = w.nodes[2].directory().store();
    assert_eq!(store.len(), Limits::default().total);
    assert!(c.names_refused > 50_000, "{c:?}");
    for i in 0..MEMBERS {
        assert!(w.nodes[i].directory().store().len() <= Limits::default().total);
    }

    // A member that walks up to full node 5 afterwards: heard directly,
    // it takes the place of a forged route and a forged name there.
    w.resume(LATE);
    w.run_for(ms(300));
    claim(&mut w, LATE);
    w.run_for(ms(5000));
    assert_within_bounds(&w);
    members_intact(&w, &[5, LATE]).expect("the late member and its neighbour");
    members_intact(&w, &members).expect("members after the late member came");
    let c5 = w.nodes[5].bound_counts();
    println!("FIGURE id_flood_late_member_node_5 {c5:?}");
    assert!(c5.routes_evicted >= 1 && c5.names_evicted >= 1, "{c5:?}");
    // The forger leaves: its neighbours find its link dead, retract what
    // it advertised and forget it. The late member's route, refused while
    // the tables were full, reaches everyone with its neighbour's next
    // periodic dump; its name waits for the forged leases to end.
    w.kill(ATTACKER);
    let left = w.now();
    let mut all: Vec<usize> = (0..MEMBERS).collect();
    all.push(LATE);
    let mut took = None;
    for _ in 0..150 {
        w.run_for(ms(5000));
        let paths = all
            .iter()
            .all(|&a| all.iter().all(|&b| a == b || w.path(a, b).is_some()));
        if paths && (0..MEMBERS).all(|i| w.nodes[i].routes().len() < 16) {
            took = Some(w.now().saturating_since(left));
            break;
        }
    }
    let took = took.expect("the late member is routed by all once the forger left");
    println!(
        "FIGURE id_flood_late_member_routed_by_all_after_forger_left_s {:.0} (member 0's directory still {} names until the forged leases end)",
        took.as_secs_f64(),
        w.nodes[0].directory().store().len()
    );
    println!(
        "FIGURE id_flood_memory_growth_per_node_bytes {} ({} -> {})",
        after.saturating_sub(before),
        before,
        after
    );
}
