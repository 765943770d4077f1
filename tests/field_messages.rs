//! Field tests of store-and-forward messages and the incident log: real
//! daemons in network namespaces, links taken down and up with `ip link`,
//! daemons killed with SIGKILL. Needs root; runs only with
//! CALLSIGN_FIELD_TESTS=1 (see field-tests/README.md). Figures are printed
//! as `FIGURE` lines.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{Net, Scenario, enabled, figure, serial, sh, wait_for};

/// Take the veth pair of link `i` (scenario order) down or up, both ends.
fn set_link(net: &Net, i: usize, up: bool) {
    let (va, vb) = net.veths[i].clone();
    for v in [va, vb] {
        let ns = net
            .nodes
            .iter()
            .find(|n| n.ifaces.contains(&v))
            .map(|n| n.ns.clone())
            .expect("veth owner");
        sh(&[
            "ip",
            "-n",
            &ns,
            "link",
            "set",
            &v,
            if up { "up" } else { "down" },
        ]);
    }
}

fn has_route(net: &Net, from: &str, to: &str) -> bool {
    net.routes(from).contains_key(&net.node(to).id)
}

fn inbox(net: &Net, node: &str) -> Vec<serde_json::Value> {
    net.json(node, "inbox")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn outbox_state(net: &Net, node: &str, id: &str) -> String {
    net.json(node, "outbox")
        .and_then(|v| {
            v.as_array()?
                .iter()
                .find(|m| m["id"] == id)
                .map(|m| m["state"].as_str().unwrap_or_default().to_string())
        })
        .unwrap_or_default()
}

/// `callsign msg --json` at `node`: the message id.
fn send(net: &Net, node: &str, to: &str, text: &str) -> String {
    let out = net
        .cli(node, &["msg", to, text, "--json"])
        .unwrap_or_else(|| panic!("msg {to} refused at {node}"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("msg json");
    v["id"].as_str().expect("id").to_string()
}

/// Start a line of nodes, the last one `medic-12`, and wait until the
/// first resolves it.
fn line(name: &str, extra: &[&str]) -> Net {
    let mut net = Net::build(&Scenario::load(name));
    let last = net.nodes.len() - 1;
    for i in 0..net.nodes.len() {
        let mut args: Vec<&str> = extra.to_vec();
        if i == last {
            args.extend(["--name", "medic-12"]);
        }
        net.start(i, &args);
    }
    let first = net.nodes[0].name.clone();
    let medic = net.nodes[last].id.to_string();
    let ok = wait_for(Duration::from_secs(15), || {
        net.holders(&first, "medic-12") == vec![medic.clone()]
    });
    assert!(ok.is_some(), "{first} does not resolve medic-12");
    // A directory answer can arrive before the link is usable both ways,
    // so a resolved name does not yet mean a route: the tests take links
    // down and then wait for routes to go, which needs them here first.
    let names: Vec<&str> = net.nodes.iter().map(|n| n.name.as_str()).collect();
    assert!(
        wait_for(Duration::from_secs(15), || net.full_mesh(&names)).is_some(),
        "no full mesh of routes"
    );
    net
}

/// Acceptance 1 and 6: a message to medic-12 while its node has no route;
/// its link comes back 60 s later; delivered within 2 s of the route; the
/// sender's outbox says delivered; the incident logs show the run in order
/// and export to CSV.
#[test]
fn partition_then_delivery_and_the_log() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let net = line("line5", &["--talkgroup", "fireground-1"]);
    // n5's only link (n4-n5) goes down.
    set_link(&net, 3, false);
    let gone = wait_for(Duration::from_secs(15), || !has_route(&net, "n1", "n5"));
    assert!(gone.is_some(), "n1 still has a route to n5");
    let id = send(&net, "n1", "medic-12", "hydrant at Fifth is dry");
    // Queued, or forwarded if a neighbour met within the last minute took
    // custody of copies (nodes that just booted count as just met).
    let waiting =
        |net: &Net| ["queued", "forwarded"].contains(&outbox_state(net, "n1", &id).as_str());
    assert!(waiting(&net), "{}", outbox_state(&net, "n1", &id));
    std::thread::sleep(Duration::from_secs(60));
    assert!(inbox(&net, "n5").is_empty());
    assert!(waiting(&net), "{}", outbox_state(&net, "n1", &id));
    set_link(&net, 3, true);
    let up = Instant::now();
    let (mut route_at, mut got_at) = (None, None);
    wait_for(Duration::from_secs(30), || {
        if route_at.is_none() && has_route(&net, "n1", "n5") {
            route_at = Some(up.elapsed());
        }
        if got_at.is_none() && inbox(&net, "n5").iter().any(|m| m["id"] == id.as_str()) {
            got_at = Some(up.elapsed());
        }
        route_at.is_some() && got_at.is_some()
    });
    let (route_at, got_at) = (
        route_at.expect("route to n5 back"),
        got_at.expect("message delivered"),
    );
    // Signed: n5 may have it before this loop's next look at n1's routes.
    let after_route = got_at.as_millis() as i64 - route_at.as_millis() as i64;
    figure("partition_route_after_link_up_ms", route_at.as_millis());
    figure("partition_delivered_after_link_up_ms", got_at.as_millis());
    figure("partition_delivered_after_route_ms", after_route);
    assert!(after_route <= 2000, "{after_route} ms");
    let delivered = wait_for(Duration::from_secs(5), || {
        outbox_state(&net, "n1", &id) == "delivered 1 of 1"
    });
    assert!(
        delivered.is_some(),
        "outbox: {}",
        outbox_state(&net, "n1", &id)
    );
    let m = &inbox(&net, "n5")[0];
    assert_eq!(m["text"], "hydrant at Fifth is dry");
    assert_eq!(m["from"], net.node("n1").id.to_string());

    // A push-to-talk burst, for the log. Flood relays (MPRs) re-form from
    // the neighbour lists that ride every sixth hello: give n5's link time
    // to be covered again.
    std::thread::sleep(Duration::from_secs(10));
    let (ok, out) = net.run(
        Some("n1"),
        &["ptt", "fireground-1", "--duration", "1", "--json"],
    );
    assert!(ok, "ptt: {out}");
    let burst = |node: &str| {
        net.json(node, "log").and_then(|v| {
            v.as_array()?
                .iter()
                .find(|r| r["kind"] == "ptt_burst")
                .map(|r| r["detail"].clone())
        })
    };
    let heard = wait_for(Duration::from_secs(5), || burst("n5").is_some());
    assert!(heard.is_some(), "no ptt_burst in n5's log");
    let b = burst("n5").expect("burst");
    assert_eq!(b["talkgroup"], "fireground-1");
    assert_eq!(b["talker"], "n1");
    let len = b["length_ms"].as_u64().unwrap_or(0);
    figure("log_ptt_burst_length_ms", len);
    assert!(
        (800..=2000).contains(&len),
        "burst of {len} ms for a 1 s press"
    );

    // The incident log of the sender and of the recipient.
    for (node, want) in [
        (
            "n1",
            [
                "neighbour_up",
                "name_changed",
                "message_sent",
                "message_delivered",
                "floor",
            ],
        ),
        (
            "n5",
            [
                "neighbour_up",
                "name_changed",
                "neighbour_down",
                "message_received",
                "ptt_burst",
            ],
        ),
    ] {
        let rows = net
            .json(node, "log")
            .and_then(|v| v.as_array().cloned())
            .expect("log --json");
        let kinds: Vec<&str> = rows.iter().filter_map(|r| r["kind"].as_str()).collect();
        let mut at = 0;
        for w in want {
            let k = kinds[at..]
                .iter()
                .position(|k| *k == w)
                .unwrap_or_else(|| panic!("{node}: no {w} after position {at} in {kinds:?}"));
            at += k;
        }
        let times: Vec<i64> = rows.iter().filter_map(|r| r["at_ms"].as_i64()).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{node}: log out of order"
        );
        let ns: Vec<i64> = rows.iter().filter_map(|r| r["n"].as_i64()).collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]));
        let csv = net.cli(node, &["log", "--csv"]).expect("log --csv");
        let records = parse_csv(&csv);
        assert_eq!(
            records[0],
            ["n", "time_utc", "at_ms", "kind", "summary", "detail"]
        );
        // The log is live: an event may be appended between the two reads,
        // after every row the JSON showed.
        assert!(
            records.len() > rows.len(),
            "{node}: one row per event ({} rows for {} events)",
            records.len() - 1,
            rows.len()
        );
        assert!(records[1..].iter().all(|r| r.len() == 6));
        for (r, j) in records[1..].iter().zip(&rows) {
            assert_eq!(r[3], j["kind"].as_str().unwrap_or_default());
            let detail: serde_json::Value = serde_json::from_str(&r[5]).expect("detail json");
            assert_eq!(detail, j["detail"]);
        }
        figure(&format!("log_{node}_events"), rows.len());
    }
}

/// RFC 4180 records: quoted fields, doubled quotes, CRLF rows.
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// Acceptance 2: the sender is killed with SIGKILL right after `msg`
/// returns and restarted; then a custodian is killed while it holds a
/// message and restarted. Both messages are delivered.
#[test]
fn crashes_lose_nothing() {
    if !enabled() {
        return;
    }
    let _g = serial();
    // n1 (sender) - n2 (custodian) - n3 (medic-12). A copy budget of one
    // first: n2 must not take custody, the sender's own store is tested.
    let mut net = line("line3", &["--msg-copies", "1"]);
    set_link(&net, 1, false);
    assert!(wait_for(Duration::from_secs(15), || !has_route(&net, "n1", "n3")).is_some());

    // The sender dies the moment `msg` returns.
    let id1 = send(&net, "n1", "medic-12", "patient count 7, 2 critical");
    net.kill("n1");
    net.start(0, &["--msg-copies", "1"]);
    // Back from its store: queued (or forwarded, if it tried a route).
    let back = wait_for(Duration::from_secs(10), || {
        ["queued", "forwarded"].contains(&outbox_state(&net, "n1", &id1).as_str())
    });
    assert!(
        back.is_some(),
        "after the restart: {:?}",
        net.run(Some("n1"), &["outbox", "--json"])
    );
    assert!(
        inbox(&net, "n3").is_empty(),
        "delivered before the link came up"
    );
    set_link(&net, 1, true);
    let ok = wait_for(Duration::from_secs(15), || {
        inbox(&net, "n3").iter().any(|m| m["id"] == id1.as_str())
    });
    assert!(ok.is_some(), "message lost with the sender's crash");
    assert!(
        wait_for(Duration::from_secs(5), || outbox_state(&net, "n1", &id1)
            == "delivered 1 of 1")
        .is_some()
    );
    figure(
        "crash_sender_delivered_after_link_up_ms",
        ok.map_or(0, |d| d.as_millis()),
    );

    // Now the custodian: n1 (default budget) and n2 meet while n3 is away,
    // n2 takes custody, walks away from n1, dies, comes back, meets n3.
    net.kill("n1");
    net.start(0, &[]);
    let medic = net.node("n3").id.to_string();
    assert!(
        wait_for(Duration::from_secs(15), || net.holders("n1", "medic-12")
            == vec![medic.clone()])
        .is_some()
    );
    assert!(
        wait_for(Duration::from_secs(15), || net
            .full_mesh(&["n1", "n2", "n3"]))
        .is_some()
    );
    set_link(&net, 1, false);
    set_link(&net, 0, false);
    // Both must be gone: n2 still routing to n3 when n1 comes back would
    // relay the message on instead of taking custody.
    assert!(
        wait_for(Duration::from_secs(15), || !has_route(&net, "n1", "n2")
            && !has_route(&net, "n2", "n3"))
        .is_some()
    );
    let id2 = send(&net, "n1", "medic-12", "roof collapse risk, pull back");
    set_link(&net, 0, true);
    let custody = wait_for(Duration::from_secs(15), || {
        net.json("n2", "log").is_some_and(|v| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|r| r["kind"] == "message_custody" && r["detail"]["id"] == id2.as_str())
            })
        })
    });
    assert!(custody.is_some(), "n2 did not take custody");
    // n2 logs custody before its acknowledgement reaches n1.
    assert!(
        wait_for(Duration::from_secs(5), || outbox_state(&net, "n1", &id2)
            == "forwarded")
        .is_some(),
        "n1 not told of the custody: {:?}",
        outbox_state(&net, "n1", &id2)
    );
    set_link(&net, 0, false);
    assert!(wait_for(Duration::from_secs(15), || !has_route(&net, "n2", "n1")).is_some());
    net.kill("n2");
    net.start(1, &[]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        inbox(&net, "n3").iter().all(|m| m["id"] != id2.as_str()),
        "delivered before the link came up"
    );
    set_link(&net, 1, true);
    let ok = wait_for(Duration::from_secs(15), || {
        inbox(&net, "n3").iter().any(|m| m["id"] == id2.as_str())
    });
    assert!(ok.is_some(), "message lost with the custodian's crash");
    figure(
        "crash_custodian_delivered_after_link_up_ms",
        ok.map_or(0, |d| d.as_millis()),
    );
    // n1 was never in reach of n3 for this one: the receipt rides back
    // with n2 when n1 and n2 meet again.
    assert_eq!(outbox_state(&net, "n1", &id2), "forwarded");
    set_link(&net, 0, true);
    assert!(
        wait_for(Duration::from_secs(15), || outbox_state(&net, "n1", &id2)
            == "delivered 1 of 1")
        .is_some(),
        "receipt did not come back"
    );
    // Each shown once.
    let ids: Vec<String> = inbox(&net, "n3")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, vec![id1, id2]);
}

/// Acceptance 3: 1000 messages from n1 to n5, four hops: each delivered
/// once, in order; throughput and p95 latency.
#[test]
fn burst_of_1000_over_four_hops() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let net = line("line5", &[]);
    const N: usize = 1000;
    let t0 = Instant::now();
    let out = net
        .cli(
            "n1",
            &["msg", "medic-12", "burst", "--repeat", &N.to_string()],
        )
        .expect("burst accepted");
    let sent_s = t0.elapsed().as_secs_f64();
    print!("{out}");
    let all = wait_for(Duration::from_secs(120), || inbox(&net, "n5").len() >= N);
    let total_s = t0.elapsed().as_secs_f64();
    let got = inbox(&net, "n5");
    assert!(all.is_some(), "{} of {N} delivered", got.len());
    assert_eq!(got.len(), N, "exactly once");
    let texts: Vec<String> = got
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect();
    let want: Vec<String> = (1..=N).map(|k| format!("burst #{k}")).collect();
    assert_eq!(texts, want, "in order");
    let mut lat: Vec<i64> = got
        .iter()
        .map(|m| m["received_ms"].as_i64().unwrap_or(0) - m["created_ms"].as_i64().unwrap_or(0))
        .collect();
    lat.sort_unstable();
    let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    figure("burst_messages", N);
    figure("burst_accept_s", format!("{sent_s:.2}"));
    figure("burst_delivered_s", format!("{total_s:.2}"));
    figure("burst_msgs_per_s", format!("{:.1}", N as f64 / total_s));
    figure("burst_latency_p50_ms", p(0.50));
    figure("burst_latency_p95_ms", p(0.95));
    figure("burst_latency_max_ms", lat[lat.len() - 1]);
    let done = wait_for(Duration::from_secs(30), || {
        net.json("n1", "outbox").is_some_and(|v| {
            v.as_array()
                .is_some_and(|a| a.len() == N && a.iter().all(|m| m["state"] == "delivered 1 of 1"))
        })
    });
    let states: Vec<String> = net
        .json("n1", "outbox")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|m| m["state"].as_str().unwrap_or_default().to_string())
        .collect();
    let not: Vec<&String> = states.iter().filter(|s| *s != "delivered 1 of 1").collect();
    assert!(
        done.is_some(),
        "receipts for all {N}: {} listed, not delivered: {:?}",
        states.len(),
        not.iter().take(5).collect::<Vec<_>>()
    );
}
