//! What the planner prints: the relay placement search's answer, the proof
//! runs without and with the trucks, the routes to base stations the
//! protocol really held at the end of a run, and the pictures written.

use serde::Serialize;

use super::Sim;
use super::cli::print_summary;
use super::metrics::Report;
use super::place::{Placement, Spot};
use super::plan_cli::ProvedRun;

/// Handsets with a valid route (the protocol's next hops, every hop in
/// radio range) to one of the scenario's base stations at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteCheck {
    /// Live handsets (placed trucks are not handsets).
    pub handsets: usize,
    pub with_route: usize,
    /// The most hops of those routes (each handset's shortest).
    pub worst_hops: Option<u32>,
    pub without_route: Vec<String>,
}

/// Read the routes of every live handset to the scenario's own base
/// stations (not to trucks the search parked: `relays`, the last nodes).
pub fn route_check(sim: &Sim, relays: &[usize]) -> RouteCheck {
    let spec = &sim.world.spec;
    let alive = sim.world.alive();
    let n = relays.first().copied().unwrap_or(spec.nodes.len());
    let bases: Vec<usize> = (0..n)
        .filter(|&i| spec.nodes[i].base_station && alive[i])
        .collect();
    let mut c = RouteCheck {
        handsets: 0,
        with_route: 0,
        worst_hops: None,
        without_route: Vec::new(),
    };
    for h in (0..n).filter(|&i| !spec.nodes[i].base_station && alive[i]) {
        c.handsets += 1;
        let hops = bases
            .iter()
            .filter_map(|&b| sim.path(h, b).map(|p| p.len() as u32 - 1))
            .min();
        match hops {
            Some(k) => {
                c.with_route += 1;
                c.worst_hops = Some(c.worst_hops.map_or(k, |w| w.max(k)));
            }
            None => c.without_route.push(spec.nodes[h].name.clone()),
        }
    }
    c
}

fn routes_line(r: &RouteCheck) -> String {
    let worst = r.worst_hops.map_or(String::new(), |h| {
        format!(", the longest {h} hop{}", if h == 1 { "" } else { "s" })
    });
    let missing = if r.without_route.is_empty() {
        String::new()
    } else {
        format!("; none for {}", r.without_route.join(", "))
    };
    format!(
        "{} of {} live handsets have a route to a base station{worst}{missing}",
        r.with_route, r.handsets
    )
}

/// The line under a run's summary.
pub fn print_routes(r: &RouteCheck) {
    println!("  routes at end  {}", routes_line(r));
}

/// The legend's lines about the run drawn.
pub fn picture_notes(r: &Report, routes: &RouteCheck) -> Vec<String> {
    let mut v = vec![format!("At the end: {}.", routes_line(routes))];
    if let Some(d) = r.delivery_ratio {
        v.push(format!(
            "Probe packets: {} of {} delivered ({:.1} %).",
            r.probe_packets_delivered,
            r.probe_packets_sent,
            d * 100.0
        ));
    }
    v
}

pub fn print_files(names: &[String]) {
    for n in names {
        println!("  picture        {n}");
    }
}

fn spot_line(s: &Spot, handsets: usize) -> String {
    let at =
        s.at.map_or("as it is".into(), |a| format!("({:.0}, {:.0})", a[0], a[1]));
    let path = match (s.worst_hops, s.worst_etx) {
        (Some(h), Some(e)) => format!(
            "worst path {h} hop{}, ETX {e:.2}",
            if h == 1 { "" } else { "s" }
        ),
        _ => "no path".into(),
    };
    let cut = if s.cut_off.is_empty() {
        "none cut off".into()
    } else if s.cut_off.len() <= 6 {
        format!("cut off: {}", s.cut_off.join(", "))
    } else {
        format!(
            "cut off: {} and {} more",
            s.cut_off[..5].join(", "),
            s.cut_off.len() - 5
        )
    };
    format!(
        "{at:<14} {:>3} of {handsets} handsets reach a base station, {path}; {cut}",
        s.handsets_connected
    )
}

/// The search's answer, readable.
pub fn print_placement(p: &Placement) {
    println!(
        "relay placement for {}: {} truck(s) with {}{}",
        p.scenario,
        p.relays,
        p.relay_radios.join(" + "),
        if p.relay_base_station {
            ", a base station"
        } else {
            ""
        }
    );
    println!(
        "  search         {} spots {} ({} m apart), {}; runners-up at least {:.0} m apart",
        p.candidates, p.searched, p.grid_m, p.method, p.spread_m
    );
    println!(
        "  radio model    ETX = 1/((1-l)(1-l')) per link, loss from distance and obstacles; base stations: {}",
        p.base_stations.join(", ")
    );
    println!(
        "  without truck  {}",
        spot_line(&p.without_relay, p.handsets)
    );
    for s in &p.steps {
        println!("  {:<14} {}", s.relay, spot_line(&s.best, p.handsets));
        for (k, r) in s.runners_up.iter().enumerate() {
            println!(
                "  {:<14} {}",
                format!("  runner-up {}", k + 2),
                spot_line(r, p.handsets)
            );
        }
    }
}

/// The proof: the same run without and with the trucks.
pub fn print_proof(p: &Placement, without: &ProvedRun, with: &ProvedRun) {
    let spots: Vec<String> = p
        .steps
        .iter()
        .filter_map(|s| {
            s.best
                .at
                .map(|a| format!("{} at ({:.0}, {:.0})", s.relay, a[0], a[1]))
        })
        .collect();
    println!();
    println!("proof: the scenario run without the truck(s)");
    print_summary(&without.report);
    print_routes(&without.routes_at_end);
    println!();
    println!("proof: the same run with {}", spots.join(", "));
    print_summary(&with.report);
    print_routes(&with.routes_at_end);
    let d = |r: &Report| r.delivery_ratio.map_or("-".into(), |x| format!("{x:.4}"));
    println!();
    println!(
        "  delivery {} -> {}; handsets with a route to a base station {} -> {} of {}",
        d(&without.report),
        d(&with.report),
        without.routes_at_end.with_route,
        with.routes_at_end.with_route,
        with.routes_at_end.handsets
    );
}
