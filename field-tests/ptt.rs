//! Push-to-talk helpers of the field tests: a member's view of a
//! talkgroup, the outcome of one press, the incident log's floor rows.

#![allow(dead_code)]

use std::collections::BTreeMap;

use super::harness::Net;

/// Wall-clock Unix ms: the time axis of the daemons' incident logs (every
/// namespace shares the host's clock).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `node`'s view of talkgroup `tg` from `callsign talkgroups --json`
/// (`Null` when it is not a member or the daemon does not answer).
pub fn view(net: &Net, node: &str, tg: &str) -> serde_json::Value {
    net.json(node, "talkgroups")
        .and_then(|v| v.as_array()?.iter().find(|t| t["name"] == tg).cloned())
        .unwrap_or_default()
}

/// The node whose voice `node` follows on `tg` now (by node name), if any.
pub fn talker_at(net: &Net, node: &str, tg: &str) -> Option<String> {
    let v = view(net, node, tg);
    let id = v["talker"]["node"].as_str()?;
    net.nodes
        .iter()
        .find(|n| n.id.to_string() == id)
        .map(|n| n.name.clone())
}

/// The node a floor name means: floors name a member by the first name it
/// holds in the directory, or by its short id when it held none yet.
pub fn node_named(net: &Net, who: &str) -> Option<String> {
    net.nodes
        .iter()
        .find(|n| n.name == who || n.id.short() == who)
        .map(|n| n.name.clone())
}

/// The access time of one press, from what `callsign ptt --json` printed:
/// its outcome reads `granted after N ms` (also after a release by
/// `--duration`).
pub fn access_ms(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.starts_with('{'))?;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v["last_outcome"]
        .as_str()?
        .strip_prefix("granted after ")?
        .strip_suffix(" ms")?
        .parse()
        .ok()
}

/// The outcome a `callsign ptt --json` client printed (`last_outcome`).
pub fn outcome(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["last_outcome"].as_str().map(str::to_string))
        .unwrap_or_else(|| out.trim().replace('\n', " | "))
}

/// Nearest-rank percentile (`p` in 0..=100), as the daemon computes its
/// access and mouth-to-ear figures.
pub fn percentile(v: &[u64], p: f64) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    Some(s[rank.min(s.len()) - 1])
}

/// `node`'s incident log from `since_s` (Unix seconds) on: rows
/// `{n, at_ms, kind, detail}`, oldest first.
pub fn log_rows(net: &Net, node: &str, since_s: u64) -> Vec<serde_json::Value> {
    net.cli(node, &["log", "--json", "--since", &since_s.to_string()])
        .and_then(|out| serde_json::from_str::<serde_json::Value>(&out).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// One talkgroup row of a log: a floor event (`granted`, `denied`,
/// `revoked`, `taken`, `idle`, ...) or the end of a burst.
#[derive(Debug, Clone)]
pub struct FloorRow {
    pub at_ms: u64,
    /// `floor` or `ptt_burst`.
    pub kind: String,
    /// The floor event (`ptt_burst` rows: `burst`).
    pub event: String,
    /// The node named: the floor event's `who`, the burst's talker
    /// (`None` when the row names nobody, or only by an empty name).
    pub who: Option<String>,
    /// The name as logged.
    pub who_raw: Option<String>,
}

/// The floor and burst rows of talkgroup `tg` in a log.
pub fn floor_rows(net: &Net, rows: &[serde_json::Value], tg: &str) -> Vec<FloorRow> {
    rows.iter()
        .filter(|r| r["detail"]["talkgroup"] == tg)
        .filter_map(|r| {
            let kind = r["kind"].as_str()?.to_string();
            let (event, raw) = match kind.as_str() {
                "floor" => (
                    r["detail"]["event"].as_str()?.to_string(),
                    r["detail"]["who"].as_str(),
                ),
                "ptt_burst" => ("burst".to_string(), r["detail"]["talker"].as_str()),
                _ => return None,
            };
            let raw = raw.filter(|w| !w.is_empty());
            Some(FloorRow {
                at_ms: r["at_ms"].as_u64()?,
                kind,
                event,
                who: raw.and_then(|w| node_named(net, w)),
                who_raw: raw.map(str::to_string),
            })
        })
        .collect()
}

/// Every node's floor rows of `tg` since `since_s`, by node name.
pub fn all_floor_rows(net: &Net, tg: &str, since_s: u64) -> BTreeMap<String, Vec<FloorRow>> {
    net.nodes
        .iter()
        .map(|n| {
            let rows = log_rows(net, &n.name, since_s);
            (n.name.clone(), floor_rows(net, &rows, tg))
        })
        .collect()
}
