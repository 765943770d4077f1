//! Instant texts: a SIP phone's MESSAGE to a name, carried to the devices
//! holding it (`session::text`), handed to their phones or reported as
//! [`AppEvent::Text`], and answered with a receipt. Delivered or refused
//! while the phone waits (RFC 3428 allows a few seconds); nothing is
//! stored: store-and-forward is the `msg` layer's, inside the node.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{App, AppEvent};
use crate::identity::NodeId;
use crate::node::Class;
use crate::session::text::TextMsg;
use crate::time::Instant;
use crate::wire::proto;

/// How long a sender waits for a receipt before answering 480.
const RECEIPT_WAIT: Duration = Duration::from_secs(6);
/// Texts in flight at once, each way (503 beyond).
const MAX_TEXTS: usize = 64;

#[derive(Debug, Default)]
pub(super) struct Texts {
    next_id: u64,
    /// Our texts waiting on receipts.
    out: BTreeMap<u64, OutText>,
    /// Texts we handed to a phone here: the phone's MESSAGE txn -> who to
    /// answer (a far device and its id, or a phone's txn here).
    owed: BTreeMap<u64, Owed>,
}

#[derive(Debug)]
struct OutText {
    /// The phone's MESSAGE transaction.
    txn: u64,
    /// Holders still to answer.
    waiting: Vec<NodeId>,
    /// The best failure so far.
    failure: u16,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    Remote(NodeId, u64),
    Local(u64),
}

impl Texts {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.out.values().map(|o| o.deadline).min()
    }
}

impl App {
    /// A phone's MESSAGE to `to`.
    pub(super) fn phone_message(
        &mut self,
        now: Instant,
        txn: u64,
        from: &str,
        to: &str,
        text: &str,
    ) {
        let front = &mut self.phones.front;
        if self.texts.out.len() >= MAX_TEXTS || self.texts.owed.len() >= MAX_TEXTS {
            front.complete(now, txn, Err((503, "too many texts in flight".into())));
            return;
        }
        // A phone here holds it: no mesh needed.
        if front.has_phone(to) {
            for t in front.message(now, to, from, text) {
                self.texts.owed.insert(t, Owed::Local(txn));
            }
            return;
        }
        let holders = self.remote_holders(now, to);
        if holders.is_empty() {
            let r = Err((404, format!("no one holds {to}")));
            self.phones.front.complete(now, txn, r);
            return;
        }
        self.texts.next_id += 1;
        // Unique across restarts: the random high half of the node's own
        // key stream, the counter below.
        let id = (u64::from(self.keys.next_u32()) << 32) | (self.texts.next_id & 0xffff_ffff);
        let msg = TextMsg::Text {
            id,
            from: from.to_string(),
            to: to.to_string(),
            body: text.to_string(),
        }
        .encode();
        let mut waiting = Vec::new();
        for h in holders {
            match self.node.send(now, h, Class::Control, proto::TEXT, &msg) {
                Ok(_) => waiting.push(h),
                Err(e) => tracing::debug!(to = %h.short(), "text not sent: {e}"),
            }
        }
        if waiting.is_empty() {
            let r = Err((480, format!("{to} is unreachable")));
            self.phones.front.complete(now, txn, r);
            return;
        }
        tracing::info!(%from, %to, holders = waiting.len(), "text sent");
        self.texts.out.insert(
            id,
            OutText {
                txn,
                waiting,
                failure: 480,
                deadline: now + RECEIPT_WAIT,
            },
        );
    }

    /// A text or a receipt from another device.
    pub(super) fn on_text(&mut self, now: Instant, src: NodeId, payload: &[u8]) {
        match TextMsg::decode(payload) {
            Err(e) => tracing::debug!(src = %src.short(), "text refused: {e}"),
            Ok(TextMsg::Text { id, from, to, body }) => {
                tracing::info!(%from, %to, src = %src.short(), "text received");
                if self.phones.front.has_phone(&to) {
                    for t in self.phones.front.message(now, &to, &from, &body) {
                        self.texts.owed.insert(t, Owed::Remote(src, id));
                    }
                    return;
                }
                let code = if self.held_names().contains(&to) {
                    self.event(AppEvent::Text {
                        from,
                        to,
                        node: src,
                        body,
                    });
                    200
                } else {
                    404
                };
                self.receipt(now, src, id, code);
            }
            Ok(TextMsg::Receipt { id, code }) => {
                let Some(o) = self.texts.out.get_mut(&id) else {
                    return;
                };
                if code < 300 {
                    let txn = o.txn;
                    self.texts.out.remove(&id);
                    self.phones.front.complete(now, txn, Ok(()));
                } else {
                    o.waiting.retain(|n| *n != src);
                    o.failure = o.failure.min(code);
                    self.finish_if_done(now, id);
                }
            }
        }
    }

    fn receipt(&mut self, now: Instant, to: NodeId, id: u64, code: u16) {
        let r = TextMsg::Receipt { id, code }.encode();
        if let Err(e) = self.node.send(now, to, Class::Control, proto::TEXT, &r) {
            tracing::debug!(to = %to.short(), "receipt not sent: {e}");
        }
    }

    fn finish_if_done(&mut self, now: Instant, id: u64) {
        let Some(o) = self.texts.out.get(&id) else {
            return;
        };
        if o.waiting.is_empty() || o.deadline <= now {
            let (txn, code) = (o.txn, o.failure);
            self.texts.out.remove(&id);
            let why = if code == 480 {
                "no holder answered".to_string()
            } else {
                format!("refused with {code}")
            };
            self.phones.front.complete(now, txn, Err((code, why)));
        }
    }

    /// A phone here answered a text we gave it.
    pub(super) fn text_to_phone_result(&mut self, now: Instant, ptxn: u64, code: u16) {
        let Some(owed) = self.texts.owed.remove(&ptxn) else {
            return;
        };
        // The first answer of a role's phones counts.
        self.texts.owed.retain(|_, o| *o != owed || code >= 300);
        match owed {
            Owed::Remote(node, id) => self.receipt(now, node, id, code),
            Owed::Local(txn) => {
                let r = if code < 300 {
                    Ok(())
                } else {
                    Err((code, "the phone refused it".into()))
                };
                self.phones.front.complete(now, txn, r);
            }
        }
    }

    pub(super) fn texts_undeliverable(&mut self, now: Instant, to: NodeId) {
        let ids: Vec<u64> = self.texts.out.keys().copied().collect();
        for id in ids {
            if let Some(o) = self.texts.out.get_mut(&id) {
                o.waiting.retain(|n| *n != to);
            }
            self.finish_if_done(now, id);
        }
    }

    pub(super) fn texts_timeout(&mut self, now: Instant) {
        let ids: Vec<u64> = self
            .texts
            .out
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.finish_if_done(now, id);
        }
    }
}
