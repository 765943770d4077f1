//! The console's mesh map in the simulator (issue 14): on the 100-node
//! acceptance mesh (seed 1, 5 % extra loss), a console's node that opens
//! its map holds the neighbour lists of at least 99 % of the nodes within
//! seconds, and the map costs air only while it is open. Prints the
//! figures as `FIGURE` lines:
//! `cargo test --release --test sim_map -- --nocapture`.

use callsign::node::{MAP_OPEN, Timers};
use callsign::sim::scenario::{self, GenOptions};
use callsign::sim::world::World;
use callsign::time::Instant;

/// All on-air bytes (with UDP/IPv6 headers) and the map's share.
fn air(w: &World<()>) -> (u64, u64) {
    let a = &w.air;
    (a.bytes.iter().sum(), a.map_bytes)
}

/// Share of the mesh whose list the console holds (its own counts: it
/// has it from its neighbour table).
fn coverage(w: &World<()>, console: usize) -> f64 {
    let lists = w.node(console).map_or(0, |n| n.map_lists().len());
    (lists + 1) as f64 / w.len() as f64
}

fn per_s(bytes: u64, from: Instant, to: Instant) -> f64 {
    bytes as f64 / to.saturating_since(from).as_secs_f64()
}

#[test]
fn a_console_holds_the_mesh_s_lists_within_seconds_and_pays_only_while_open() {
    let opt = GenOptions {
        nodes: 100,
        profile: "handset-2g4".into(),
        degree: 10.0,
        min_diameter: 6,
    };
    // The acceptance world (tests/sim_acceptance.rs, --seed 1).
    let mut rng = scenario::topology_rng(1);
    let spec = scenario::generate("random", &opt, &mut rng).expect("world");
    let mut w: World<()> = World::new(spec, &Timers::callsign(), 0.05, 1).expect("world");
    for i in 0..w.len() {
        w.schedule_boot(i, Instant::from_millis(i as u64));
    }
    let console = 0;
    let at = |s: u64| Instant::from_millis(s * 1000);
    let _ = w.next_hook(at(40));

    // Closed: nothing of the map on the air.
    let (t0, (all0, map0)) = (w.now(), air(&w));
    let _ = w.next_hook(at(70));
    let (t1, (all1, map1)) = (w.now(), air(&w));
    assert_eq!(map1, map0, "map traffic before any map opened");

    // Open: the console polls the map every 5 s for 60 s.
    let opened = w.now();
    let mut full_99 = None;
    let mut full_all = None;
    let mut next_poll = opened;
    while w.now() < at(130) {
        let now = w.now();
        if now >= next_poll {
            w.on_app(console, |a, now| a.with_node(now, |n| n.map_open(now)))
                .expect("console up");
            next_poll = now + std::time::Duration::from_secs(5);
        }
        let _ = w.next_hook(now + std::time::Duration::from_millis(250));
        let c = coverage(&w, console);
        let since = w.now().saturating_since(opened).as_secs_f64();
        if c >= 0.99 && full_99.is_none() {
            full_99 = Some(since);
        }
        if c >= 1.0 && full_all.is_none() {
            full_all = Some(since);
        }
    }
    let (t2, (all2, map2)) = (w.now(), air(&w));
    assert!(
        w.node(console).is_some_and(|n| n.map_is_open(t2)),
        "open while polled"
    );

    // Closed again once no one has looked for MAP_OPEN.
    let _ = w.next_hook(t2 + MAP_OPEN + std::time::Duration::from_secs(1));
    let (t3, (all3, map3)) = (w.now(), air(&w));
    assert!(w.node(console).is_some_and(|n| !n.map_is_open(t3)));
    let _ = w.next_hook(t3 + std::time::Duration::from_secs(30));
    let (t4, (all4, map4)) = (w.now(), air(&w));

    let stats = w.node(console).map(|n| n.map_stats()).expect("console");
    let open_map = per_s(map2 - map1, t1, t2);
    let lingering_map = per_s(map3 - map2, t2, t3);
    println!("FIGURE map_lists_99pct_after_s={:?}", full_99);
    println!("FIGURE map_lists_all_after_s={:?}", full_all);
    println!(
        "FIGURE map_requests_sent={} answers_received={}",
        stats.requests_sent, stats.answers_received
    );
    println!(
        "FIGURE map_bytes_per_s_closed_before={:.1}",
        per_s(map1 - map0, t0, t1)
    );
    println!("FIGURE map_bytes_per_s_open={open_map:.1}");
    println!("FIGURE map_bytes_per_s_after_last_look={lingering_map:.1}");
    println!(
        "FIGURE map_bytes_per_s_closed_after={:.1}",
        per_s(map4 - map3, t3, t4)
    );
    let (closed, open) = (per_s(all1 - all0, t0, t1), per_s(all2 - all1, t1, t2));
    println!(
        "FIGURE air_bytes_per_s closed_before={closed:.1} open={open:.1} closed_after={:.1}",
        per_s(all4 - all3, t3, t4)
    );
    // Everything the open map adds to the air, hop-by-hop acks included,
    // mesh-wide and per node.
    println!(
        "FIGURE map_air_cost_open bytes_per_s={:.1} bits_per_s_per_node={:.1}",
        open - closed,
        (open - closed) * 8.0 / w.len() as f64
    );
    assert!(
        full_99.is_some_and(|s| s <= 20.0),
        "99 % of lists after {full_99:?} s"
    );
    assert!(open_map > 0.0);
    assert_eq!(map4, map3, "map traffic after the map closed");
}
