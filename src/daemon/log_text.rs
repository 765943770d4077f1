//! The incident log in words: each row's event as a line a person reads
//! (the console's panel, `callsign log`, the CSV's `summary` column), with
//! members by role or name (a short node id only where none is known) and
//! roll calls by their short code. The row's `detail` keeps the full ids
//! for machines.

use std::collections::BTreeMap;

use serde_json::Value;

use super::msgstore::LogRow;
use crate::app::par::short_code;
use crate::identity::NodeId;

/// Keys whose value is a node id (or a list of them). `id` is one only
/// in neighbour events (those with an `iface`); elsewhere it names a
/// message.
const NODE_KEYS: [&str; 8] = [
    "node",
    "holder",
    "winner",
    "loser",
    "from",
    "by",
    "recipients",
    "dest",
];
/// Keys that only repeat, in words, the node named beside them.
const NAME_KEYS: [&str; 2] = ["names", "from_names"];

/// Who each node is: names known for it, gathered from the rows themselves
/// (events that carry a node with its names) and then `known` (the
/// directory now), which wins.
pub fn labels(rows: &[LogRow], known: &BTreeMap<NodeId, Vec<String>>) -> BTreeMap<NodeId, String> {
    let mut out: BTreeMap<NodeId, String> = BTreeMap::new();
    for r in rows {
        let Some(o) = r.detail.as_object() else {
            continue;
        };
        let names = NAME_KEYS
            .iter()
            .filter_map(|k| o.get(*k))
            .chain(o.get("name").filter(|_| o.contains_key("node")))
            .find_map(|v| words(v).filter(|s| !s.is_empty()));
        let node = ["node", "id", "from"]
            .iter()
            .filter(|k| is_node_key(k, o))
            .find_map(|k| o.get(*k).and_then(Value::as_str).and_then(node_id));
        if let (Some(n), Some(names)) = (node, names) {
            out.insert(n, names);
        }
    }
    for (n, names) in known {
        if !names.is_empty() {
            out.insert(*n, names.join(" / "));
        }
    }
    out
}

fn is_node_key(k: &str, o: &serde_json::Map<String, Value>) -> bool {
    NODE_KEYS.contains(&k) || (k == "id" && o.contains_key("iface"))
}

fn node_id(s: &str) -> Option<NodeId> {
    s.parse().ok()
}

/// A string, or a list of strings joined.
fn words(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

/// A node as a person reads it: its names, else `node 1a2b3c4d`.
fn who(id: &NodeId, labels: &BTreeMap<NodeId, String>) -> String {
    labels
        .get(id)
        .cloned()
        .unwrap_or_else(|| format!("node {}", id.short()))
}

/// One row's event in words: `PAR 3KX9` first when it is about a roll
/// call, then `key: value` pairs, nodes by name, empty values left out.
pub fn summary(detail: &Value, labels: &BTreeMap<NodeId, String>) -> String {
    let Some(o) = detail.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(p) = o.get("par").and_then(Value::as_str) {
        parts.push(match p.parse::<u64>() {
            Ok(n) => format!("PAR {}", short_code(n)),
            Err(_) => format!("PAR {p}"),
        });
    }
    let names_shown = o
        .iter()
        .any(|(k, v)| is_node_key(k, o) && v.as_str().and_then(node_id).is_some());
    for (k, v) in o {
        let k = k.as_str();
        if k == "type" || k == "par" || (names_shown && NAME_KEYS.contains(&k)) {
            continue;
        }
        if let Some(base) = k.strip_suffix("_ms")
            && let Some(ms) = v.as_i64()
        {
            // Lengths in seconds, instants as the time of day (UTC, as
            // the row's own time).
            parts.push(if base == "length" || base.ends_with("after") {
                format!("{base}: {:.1} s", ms as f64 / 1000.0)
            } else {
                let t = super::msg_api::iso_utc(ms);
                format!("{base}: {}", t.get(11..19).unwrap_or(&t))
            });
            continue;
        }
        let text = if is_node_key(k, o) {
            match v {
                Value::String(s) => match node_id(s) {
                    // Said already: `name: engine-3` beside its node.
                    Some(n)
                        if o.get("name").and_then(Value::as_str)
                            == labels.get(&n).map(String::as_str) =>
                    {
                        continue;
                    }
                    Some(n) => who(&n, labels),
                    None => s.clone(),
                },
                Value::Array(a) => a
                    .iter()
                    .map(|x| match x.as_str().and_then(node_id) {
                        Some(n) => who(&n, labels),
                        None => x.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                v => v.to_string(),
            }
        } else {
            match v {
                Value::Null => continue,
                v => words(v).unwrap_or_else(|| v.to_string()),
            }
        };
        if text.is_empty() {
            continue;
        }
        parts.push(format!("{k}: {text}"));
    }
    parts.join(" · ")
}

/// Every row's summary filled in.
pub fn fill(rows: &mut [LogRow], known: &BTreeMap<NodeId, Vec<String>>) {
    let labels = labels(rows, known);
    for r in rows.iter_mut() {
        r.summary = summary(&r.detail, &labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(n: i64, detail: Value) -> LogRow {
        LogRow {
            n,
            at_ms: 0,
            kind: detail["type"].as_str().unwrap_or("").to_string(),
            detail,
            summary: String::new(),
        }
    }

    #[test]
    fn nodes_by_name_pars_by_code() {
        let engine = NodeId([0x11; 16]);
        let medic = NodeId([0x22; 16]);
        let stranger = NodeId([0x33; 16]);
        let par: u64 = 12_345_678_901_234_567_890;
        let mut rows = vec![
            row(
                1,
                json!({"type": "neighbour_up", "id": engine.to_string(), "names": ["engine-3"],
                       "iface": "wlan0", "addr": "[fe80::1]:7470"}),
            ),
            row(
                2,
                json!({"type": "par_accounted", "par": par.to_string(), "name": "engine-3",
                       "node": engine.to_string()}),
            ),
            row(
                3,
                json!({"type": "par_closed", "par": par.to_string(), "outcome": "incomplete",
                       "missing": ["medic-12"]}),
            ),
            row(
                4,
                json!({"type": "message_sent", "id": "ab".repeat(16), "to": "ops", "talkgroup": true,
                       "recipients": [medic.to_string(), stranger.to_string()]}),
            ),
            row(
                5,
                json!({"type": "call_ended", "call": 7, "state": "ended", "code": null, "reason": ""}),
            ),
        ];
        let known = BTreeMap::from([(medic, vec!["medic-12".to_string()])]);
        fill(&mut rows, &known);
        let code = short_code(par);
        assert_eq!(code.len(), 4);
        assert_eq!(
            rows[0].summary,
            "addr: [fe80::1]:7470 · id: engine-3 · iface: wlan0"
        );
        assert_eq!(rows[1].summary, format!("PAR {code} · name: engine-3"));
        assert_eq!(
            rows[2].summary,
            format!("PAR {code} · missing: medic-12 · outcome: incomplete")
        );
        assert_eq!(
            rows[3].summary,
            format!(
                "id: {} · recipients: medic-12, node {} · talkgroup: true · to: ops",
                "ab".repeat(16),
                stranger.short()
            )
        );
        assert_eq!(rows[4].summary, "call: 7 · state: ended");
        let burst = json!({"type": "ptt_burst", "talkgroup": "fireground-1", "talker": "medic-12",
                           "start_ms": 1_796_602_787_559i64, "length_ms": 174});
        assert_eq!(
            summary(&burst, &BTreeMap::new()),
            "length: 0.2 s · start: 00:19:47 · talker: medic-12 · talkgroup: fireground-1"
        );
        // Nothing of the 20-digit number or a full id is left in words.
        for r in &rows {
            assert!(!r.summary.contains(&par.to_string()), "{}", r.summary);
            assert!(!r.summary.contains(&engine.to_string()), "{}", r.summary);
        }
    }
}
