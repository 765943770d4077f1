//! Field test of per-interface link weights: real daemons in network
//! namespaces (root, CALLSIGN_FIELD_TESTS=1), scenario `backbone3`. Each
//! interface is given a radio profile with `--iface IF=PROFILE`; a
//! backbone profile cheaper than the handset one must make the two-hop
//! backbone path carry the route that the direct handset hop carries
//! when all weights are equal.

// A test driver: real clocks, threads and files are its job.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "../field-tests/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Net, Scenario, enabled, figure, serial, wait_for};

/// Start every node with each of its interfaces given `profile(node, i)`.
fn start(net: &mut Net, profile: impl Fn(&str, usize) -> String) {
    for i in 0..net.nodes.len() {
        let name = net.nodes[i].name.clone();
        let ifaces = std::mem::take(&mut net.nodes[i].ifaces);
        let mut args = Vec::new();
        for (k, f) in ifaces.iter().enumerate() {
            args.push("--iface".to_string());
            args.push(format!("{f}={}", profile(&name, k)));
        }
        args.push("--base-station".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        net.start(i, &refs);
        net.nodes[i].ifaces = ifaces;
    }
}

/// (next hop name, hops, metric) of `from`'s route to `to`.
fn route(net: &Net, from: &str, to: &str) -> Option<(String, u64, u64)> {
    let want = net.node(to).id.to_string();
    let rs = net.json(from, "routes")?;
    let r = rs.as_array()?.iter().find(|r| r["dest"] == want.as_str())?;
    let nh = r["next_hop"].as_str()?;
    let name = net
        .nodes
        .iter()
        .find(|n| n.id.to_string() == nh)?
        .name
        .clone();
    Some((name, r["hops"].as_u64()?, r["metric"].as_u64()?))
}

#[test]
fn cheaper_backbone_weight_carries_the_route() {
    if !enabled() {
        return;
    }
    let _g = serial();
    let sc = Scenario::load("backbone3");
    let dir = std::env::temp_dir().join(format!("callsign-backbone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let handset = dir.join("handset.toml");
    let backbone = dir.join("backbone.toml");
    // "as-is": the veths need no radio set-up, only the weights.
    std::fs::write(&handset, "cost_weight = 256\n[link]\nmode = \"as-is\"\n").expect("profile");
    std::fs::write(&backbone, "cost_weight = 64\n[link]\nmode = \"as-is\"\n").expect("profile");
    let (h, b) = (
        handset.display().to_string(),
        backbone.display().to_string(),
    );

    // Equal weights: the direct handset hop (256) beats two backbone hops (512).
    {
        let mut net = Net::build(&sc);
        start(&mut net, |_, _| h.clone());
        let ok = wait_for(Duration::from_secs(10), || {
            route(&net, "t1", "t2").is_some_and(|r| r.0 == "t2" && r.1 == 1)
                && route(&net, "t1", "r").is_some()
        });
        let r = route(&net, "t1", "t2");
        assert!(ok.is_some(), "no direct route t1 -> t2: {r:?}");
        std::thread::sleep(Duration::from_secs(2));
        let r = route(&net, "t1", "t2").expect("route");
        assert_eq!((r.0.as_str(), r.1), ("t2", 1), "equal weights: {r:?}");
        figure("backbone_equal_metric", r.2);
    }

    // The backbone interfaces (t1's and t2's second, both of r's) at 64:
    // two backbone hops (128) beat the direct handset hop (256).
    let mut net = Net::build(&sc);
    start(&mut net, |node, k| {
        if node == "r" || k == 1 {
            b.clone()
        } else {
            h.clone()
        }
    });
    let took = wait_for(Duration::from_secs(10), || {
        route(&net, "t1", "t2").is_some_and(|r| r.0 == "r" && r.1 == 2)
            && route(&net, "t2", "t1").is_some_and(|r| r.0 == "r" && r.1 == 2)
    });
    let (fwd, back) = (route(&net, "t1", "t2"), route(&net, "t2", "t1"));
    assert!(
        took.is_some(),
        "the backbone does not carry the route: t1->t2 {fwd:?}, t2->t1 {back:?}\n{}",
        net.log("t1")
    );
    let fwd = fwd.expect("route");
    assert!(
        fwd.2 < 256,
        "backbone metric {} not below the direct hop's 256",
        fwd.2
    );
    figure("backbone_weighted_metric", fwd.2);
    // The neighbour on the handset interface is still there, costing more.
    let ns = net.json("t1", "neighbors").expect("neighbours");
    let costs: Vec<(String, u64)> = ns
        .as_array()
        .expect("array")
        .iter()
        .map(|n| {
            (
                n["iface"].as_str().unwrap_or("").to_string(),
                n["cost"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let t1 = net.node("t1");
    let cost_on = |i: usize| costs.iter().find(|c| c.0 == t1.ifaces[i]).map(|c| c.1);
    assert_eq!(cost_on(0), Some(256), "{costs:?}");
    assert_eq!(cost_on(1), Some(64), "{costs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
