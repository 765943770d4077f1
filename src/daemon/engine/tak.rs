//! The engine's side of the Cursor-on-Target output (`up --cot`): every
//! interval, one position report per directory member with a known
//! position (active maydays first, as 911 alerts), a mayday seen in the
//! directory as an alert at once, and its end as the alert's cancel. The XML is `app::cot`'s, the socket
//! and the pacing `daemon::cot`'s.

use std::collections::BTreeMap;

use super::Engine;
use super::messages::unix_ms;
use crate::app::cot::{self, Member};
use crate::identity::NodeId;
use crate::time::Instant;

impl Engine {
    /// Every member of the directory (live claims), by node: its first
    /// name as the callsign, its talkgroups and position.
    fn cot_members(&self, now: Instant) -> BTreeMap<NodeId, Member> {
        let mut out: BTreeMap<NodeId, Member> = BTreeMap::new();
        for e in self.app.node().directory().store().entries() {
            if !e.claims(now) {
                continue;
            }
            let r = &e.rec;
            let m = out.entry(r.holder).or_insert_with(|| Member {
                node: r.holder,
                callsign: r.name.clone(),
                talkgroups: r.talkgroups.clone(),
                position: None,
            });
            if m.position.is_none() {
                m.position = r.position;
            }
        }
        out
    }

    fn cot_member(&self, now: Instant, node: NodeId) -> Member {
        self.cot_members(now).remove(&node).unwrap_or(Member {
            node,
            callsign: node.short(),
            talkgroups: Vec::new(),
            position: None,
        })
    }

    /// A round when one is due, then what the rate allows.
    pub(super) fn cot_pump(&mut self, now: Instant) {
        let Some(out) = &self.cot else {
            return;
        };
        if out.schedule.round_due(now) {
            let stale = out.schedule.stale().as_millis() as u64;
            let cap = out.schedule.round_cap();
            let offset = out.schedule.offset;
            let now_ms = unix_ms();
            let members = self.cot_members(now);
            let mut packets: Vec<Vec<u8>> = self
                .console
                .active_maydays()
                .filter_map(|n| members.get(&n))
                .map(|m| cot::mayday_alert(now_ms, stale, m))
                .collect();
            let positioned: Vec<&Member> =
                members.values().filter(|m| m.position.is_some()).collect();
            // A directory larger than a round: start where the last stopped.
            let start = if positioned.len() > cap {
                offset % positioned.len()
            } else {
                0
            };
            packets.extend(
                positioned
                    .iter()
                    .cycle()
                    .skip(start)
                    .take(positioned.len())
                    .filter_map(|m| cot::position_report(now_ms, stale, m)),
            );
            if let Some(out) = &mut self.cot {
                out.schedule.offset = start + cap;
                out.schedule.start_round(now, packets);
            }
        }
        if let Some(out) = &mut self.cot {
            out.pump(now);
        }
    }

    /// A mayday raised (`raised`) or ended: its alert, or the alert's
    /// cancel, goes before anything else.
    pub(super) fn cot_mayday(&mut self, now: Instant, node: NodeId, raised: bool) {
        let Some(out) = &self.cot else {
            return;
        };
        let stale = out.schedule.stale().as_millis() as u64;
        let m = self.cot_member(now, node);
        let alert = if raised {
            cot::mayday_alert(unix_ms(), stale, &m)
        } else {
            cot::mayday_cancel(unix_ms(), stale, &m)
        };
        if let Some(out) = &mut self.cot {
            out.schedule.urgent(alert);
            out.pump(now);
        }
    }
}
