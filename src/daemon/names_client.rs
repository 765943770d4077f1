//! The directory's CLI clients: `names`, `whois`, `claim`, `release`,
//! `handover`, `presence`.

use std::process::ExitCode;

use super::cli::{ClaimArgs, ClientArgs, HandoverArgs, NameArgs, PresenceArgs};
use super::client::{get_json, names, table};
use super::dto;
use crate::names::record::valid_name;

type Error = Box<dyn std::error::Error>;

/// Names are checked here so the user gets the rule, not an HTTP error.
fn checked(name: &str) -> Result<&str, Error> {
    if valid_name(name) {
        Ok(name)
    } else {
        Err(format!(
            "invalid name {name:?}: lowercase letters, digits and '-', dot-separated labels, at most 63 bytes (e.g. engine-3, captain.engine-7)"
        )
        .into())
    }
}

fn rows(rs: &[dto::NameRecord]) -> Vec<Vec<String>> {
    rs.iter()
        .map(|r| {
            vec![
                r.name.clone(),
                if r.local {
                    format!("{} (this node)", r.holder.short())
                } else {
                    r.holder.short()
                },
                r.hops.map_or("-".into(), |h| h.to_string()),
                r.next_hop.map_or("-".into(), |n| n.short()),
                r.metric.map_or("-".into(), |m| m.to_string()),
                r.presence.clone(),
                if r.exclusive { "yes" } else { "no" }.into(),
                format!("{:.0} s", r.lease_remaining_s),
                format!("{:.1} s", r.last_heard_ms as f64 / 1000.0),
                r.position.as_ref().map_or("-".into(), |p| {
                    format!("{:.5},{:.5} ±{} m", p.lat, p.lon, p.accuracy_m)
                }),
            ]
        })
        .collect()
}

const HEAD: [&str; 10] = [
    "NAME", "HOLDER", "HOPS", "NEXT HOP", "METRIC", "PRESENCE", "EXCL", "LEASE", "HEARD",
    "POSITION",
];

pub fn list(a: &ClientArgs) -> Result<ExitCode, Error> {
    let (rs, raw): (Vec<dto::NameRecord>, _) = get_json(a.api()?, "GET", "/v1/names", None)?;
    if a.json {
        println!("{}", raw.trim());
    } else if rs.is_empty() {
        println!("the directory is empty");
    } else {
        table(&HEAD, &rows(&rs));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn whois(name: &str, a: &ClientArgs) -> Result<ExitCode, Error> {
    let name = checked(name)?;
    let (rs, raw): (Vec<dto::NameRecord>, _) =
        get_json(a.api()?, "GET", &format!("/v1/names/{name}"), None)?;
    if a.json {
        println!("{}", raw.trim());
    } else {
        table(&HEAD, &rows(&rs));
        let unreachable = rs.iter().filter(|r| !r.reachable).count();
        if unreachable > 0 {
            println!("{unreachable} holder(s) in the directory but with no route now");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn change(
    a: &ClientArgs,
    path: &str,
    body: serde_json::Value,
    what: String,
) -> Result<ExitCode, Error> {
    let (done, raw): (dto::NamesDone, _) =
        get_json(a.api()?, "POST", path, Some(&body.to_string()))?;
    if a.json {
        println!("{}", raw.trim());
    } else {
        println!("{what}; this node holds: {}", names(&done.held));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn claim(c: &ClaimArgs) -> Result<ExitCode, Error> {
    let name = checked(&c.name)?;
    change(
        &c.client,
        "/v1/claim",
        serde_json::json!({ "name": name, "exclusive": c.exclusive }),
        format!(
            "claimed {name}{}",
            if c.exclusive { " (exclusive)" } else { "" }
        ),
    )
}

pub fn release(c: &NameArgs) -> Result<ExitCode, Error> {
    let name = checked(&c.name)?;
    change(
        &c.client,
        "/v1/release",
        serde_json::json!({ "name": name }),
        format!("released {name}"),
    )
}

pub fn handover(c: &HandoverArgs) -> Result<ExitCode, Error> {
    let name = checked(&c.name)?;
    change(
        &c.client,
        "/v1/handover",
        serde_json::json!({ "name": name, "to": c.to }),
        format!("handed {name} to {}", c.to),
    )
}

pub fn presence(c: &PresenceArgs) -> Result<ExitCode, Error> {
    change(
        &c.client,
        "/v1/presence",
        serde_json::json!({ "presence": c.state }),
        format!("presence {}", c.state),
    )
}
