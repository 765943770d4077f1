//! Field test of the console's mesh map (issue 14, point 2): six real
//! daemons in network namespaces (`field-tests/scenarios/console-map6.toml`:
//! a line of five from the command post to rescue-2, 4 hops out, and a
//! base station off ladder-7), four of them with a position from a
//! scripted gpsd in their namespace, and the console in headless
//! Chromium. Asserted:
//!
//! - `GET /v1/mesh` and the map show every node and exactly the five
//!   links, from the neighbour lists the console's node fetches from each
//!   node once the page looks at the map, within 20 s;
//! - the base station is marked as one, the placed members sit on a
//!   plane with a scale bar, the others on the ring beside it;
//! - selecting rescue-2 on the map highlights a route of 4 hops, and
//!   selecting the truck's roster row one of 3.
//!
//! Needs root, `chromium` and `chromedriver`; runs with
//! CALLSIGN_FIELD_TESTS=1. `CALLSIGN_UPDATE_DOCS=1` copies the screenshot
//! into `docs/console-map.png`.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/browser.rs"]
mod browser;
#[path = "../field-tests/harness.rs"]
mod harness;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use browser::Browser;
use harness::{Net, Scenario, enabled, figure, serial, wait_for};

const CONSOLE: &str = "command";
const FAR: &str = "rescue-2";
const BASE: &str = "truck-1";
/// Where the placed members stand (lat, lon): a street running east, the
/// crews 100 to 200 m apart.
const PLACED: [(&str, f64, f64); 4] = [
    ("command", 45.50000, -73.60000),
    ("engine-3", 45.50050, -73.59850),
    ("ladder-7", 45.50020, -73.59600),
    ("medic-12", 45.50110, -73.59420),
];

/// A gpsd stand-in inside `ns` on 127.0.0.1:2947: greets, takes the
/// watch request, sends one fix and keeps the connection open.
fn fake_gpsd(ns: &str, lat: f64, lon: f64) -> Child {
    let py = format!(
        "import socket, time\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', 2947)); s.listen(1)\n\
         while True:\n\
         \x20   c, _ = s.accept()\n\
         \x20   c.sendall(b'{{\"class\":\"VERSION\",\"release\":\"3.25\"}}\\n')\n\
         \x20   c.recv(4096)\n\
         \x20   c.sendall(b'{{\"class\":\"TPV\",\"mode\":3,\"time\":\"2026-03-01T12:00:00.000Z\",\"lat\":{lat},\"lon\":{lon},\"eph\":5.0}}\\n')\n\
         \x20   time.sleep(600)\n"
    );
    Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &py])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3")
}

/// Stand-ins end with the test, however it ends.
struct Gpsds(Vec<Child>);

impl Drop for Gpsds {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn num(b: &Browser, script: &str) -> i64 {
    b.js(script).as_i64().unwrap_or(-1)
}

#[test]
fn the_console_map_shows_the_mesh_and_routes() {
    if !enabled() {
        return;
    }
    if !browser::available() {
        let msg = "SKIPPED the_console_map_shows_the_mesh_and_routes: no chromium/chromedriver";
        assert!(
            std::env::var_os("CALLSIGN_REQUIRE_CHROMIUM").is_none(),
            "{msg}"
        );
        eprintln!("{msg}");
        return;
    }
    let _guard = serial();
    let sc = Scenario::load("console-map6");
    let mut net = Net::build(&sc);
    let mut gpsds = Gpsds(Vec::new());
    for (name, lat, lon) in PLACED {
        gpsds.0.push(fake_gpsd(&net.node(name).ns, lat, lon));
    }
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..sc.nodes.len() {
        let name = sc.nodes[i].clone();
        let mut extra = vec!["--no-sip"];
        if PLACED.iter().any(|(n, _, _)| *n == name) {
            extra.extend(["--gpsd", "127.0.0.1:2947"]);
        }
        if sc.base_stations.contains(&name) {
            extra.push("--base-station");
        }
        net.start(i, &extra);
    }
    let refs: Vec<&str> = sc.nodes.iter().map(String::as_str).collect();
    assert!(
        wait_for(Duration::from_secs(30), || net.full_mesh(&refs)).is_some(),
        "the mesh did not converge"
    );
    let out = net.tmp.clone();
    let url = net
        .cli(CONSOLE, &["console"])
        .expect("callsign console")
        .lines()
        .find_map(|l| l.strip_prefix("console: ").map(str::to_string))
        .expect("console address");
    let console = Browser::start(&net.node(CONSOLE).ns, &out, "console", 1600, 1100, &[]);
    let t0 = std::time::Instant::now();
    console.goto(&url);

    // Every node and the five links (each end's list matched up) within
    // a bound: the first look opens the map and the lists are asked for
    // then, one request every 100 ms.
    let nodes = sc.nodes.len();
    let links = sc.links.len();
    let placed = PLACED.len();
    let state_js = "return JSON.stringify({roles: [...document.querySelectorAll('#map g.node')].map(g => g.dataset.role),\
         count: document.getElementById('map-count').textContent,\
         placed: [...document.querySelectorAll('#map g.node[data-placed=yes]')].length,\
         scale: !!document.getElementById('map-scale'),\
         links: document.querySelectorAll('#map line.link').length,\
         quality: [...document.querySelectorAll('#map line.link')].map(l => l.dataset.quality)})";
    let ready = console.wait(
        Duration::from_secs(20),
        &format!(
            "const g = [...document.querySelectorAll('#map g.node')];\
             return g.length === {nodes} && \
               document.querySelectorAll('#map line.link').length === {links} && \
               new Set(g.map(x => x.dataset.role)).size === {nodes} && \
               document.getElementById('map-count').textContent.includes('neighbour lists {nodes} of {nodes}');"
        ),
    );
    let state = console.js(state_js);
    assert!(ready.is_some(), "the map never showed the mesh: {state}");
    figure(
        "map_lists_complete_after_page_load_s",
        format!("{:.1}", t0.elapsed().as_secs_f64()),
    );
    // The positions come with the members' directory records: a first
    // fix goes out within the directory's min_reissue (5 s), not its
    // position_interval (120 s), and then has a few hops to travel.
    let ready = console.wait(
        Duration::from_secs(20),
        &format!(
            "const g = [...document.querySelectorAll('#map g.node')];\
             return g.filter(x => x.dataset.placed === 'yes').length === {placed} && \
               document.querySelectorAll('#map line.link').length === {links} && \
               !!document.getElementById('map-scale');"
        ),
    );
    let state = console.js(state_js);
    assert!(ready.is_some(), "the members were never placed: {state}");
    figure(
        "map_placed_after_page_load_s",
        format!("{:.1}", t0.elapsed().as_secs_f64()),
    );
    eprintln!("map {state}");
    let roles: Vec<String> = console
        .js("return [...document.querySelectorAll('#map g.node')].map(g => g.dataset.role)")
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for n in &sc.nodes {
        assert!(roles.contains(n), "{n} missing from the map: {roles:?}");
    }
    // Links join the right pairs: every scenario link is drawn.
    for l in &sc.links {
        let drawn = console.js(&format!(
            "const id = r => document.querySelector(`#map g.node[data-role='${{r}}']`).dataset.node;\
             const a = id('{}'), b = id('{}');\
             return [...document.querySelectorAll('#map line.link')].some(l => \
               (l.dataset.a === a && l.dataset.b === b) || (l.dataset.a === b && l.dataset.b === a));",
            l.a, l.b
        ));
        assert_eq!(
            drawn.as_bool(),
            Some(true),
            "link {}-{} not drawn",
            l.a,
            l.b
        );
    }
    assert_eq!(
        console
            .js("return [...document.querySelectorAll('#map g.node[data-base=yes]')].map(g => g.dataset.role).join()")
            .as_str(),
        Some(BASE),
        "the base station is not marked"
    );
    // Placed members on the plane (left), the others on the ring (right).
    let left_of = |role: &str| {
        num(
            &console,
            &format!(
                "const g = document.querySelector(`#map g.node[data-role='{role}']`);\
                 return Math.round(Number(g.querySelector('circle,rect').getAttribute(g.querySelector('rect') ? 'x' : 'cx')));"
            ),
        )
    };
    for (n, _, _) in PLACED {
        assert!(left_of(n) < 620, "{n} is not on the plane");
    }
    assert!(
        left_of(FAR) > 620,
        "{FAR} has no position yet is on the plane"
    );
    // To scale: engine-3 is east of the command post, ladder-7 further east.
    assert!(left_of("command") < left_of("engine-3") && left_of("engine-3") < left_of("ladder-7"));

    // Selecting the far member on the map: a route of 4 hops, drawn.
    console.click(&format!("#map g.node[data-role='{FAR}']"));
    let route = console.wait(
        Duration::from_secs(5),
        "return document.querySelectorAll('#map line.route').length === 4 && \
         document.getElementById('map-route').textContent.includes('4 hops');",
    );
    let words = console.js("return document.getElementById('map-route').textContent");
    assert!(route.is_some(), "no 4-hop route to {FAR}: {words}");
    eprintln!("route {words}");
    assert_eq!(
        words.as_str(),
        Some(
            "Route to rescue-2: this console → engine-3 → ladder-7 → medic-12 → rescue-2 · 4 hops"
        )
    );
    let png = console.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let shot = out.join("console-map.png");
    std::fs::write(&shot, &png).expect("screenshot");
    eprintln!("screenshot {}", shot.display());
    if std::env::var_os("CALLSIGN_UPDATE_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console-map.png");
        std::fs::copy(&shot, &docs).expect("copy to docs");
        eprintln!("wrote {}", docs.display());
    }

    // Selecting the truck's roster row: 3 hops, by the branch.
    console.click(&format!("#roster tbody tr[data-role='{BASE}']"));
    let branch = console.wait(
        Duration::from_secs(5),
        "return document.querySelectorAll('#map line.route').length === 3 && \
         document.getElementById('map-route').textContent.includes('3 hops');",
    );
    let words = console.js("return document.getElementById('map-route').textContent");
    assert!(branch.is_some(), "no 3-hop route to {BASE}: {words}");
    figure("map_route_hops_far", 4);
    drop(console);
    drop(net);
    drop(gpsds);
}
