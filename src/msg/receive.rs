//! What [`Messages`] does with a packet from another node.

use std::collections::BTreeSet;

use super::machine::{Bundle, Early, HeldReceipt, MAX_HELD, MAX_RX_SEQ, MAX_SEEN, Messages};
use super::seal::{self, verify_envelope, verify_receipt};
use super::wire::{Body, Envelope, MsgPacket, Plain, Receipt, ReceiptBody};
use super::{Change, InMsg, MsgError, MsgEvent, MsgId, RecipientState};
use crate::identity::NodeId;
use crate::time::Instant;
use crate::wire::control;

impl Messages {
    /// A [`crate::wire::proto::MSG`] payload from node `from` (the
    /// overlay's source: a neighbour for offers, anyone for the rest).
    pub fn handle(
        &mut self,
        now: Instant,
        from: NodeId,
        bytes: &[u8],
        has_route: &dyn Fn(&NodeId) -> bool,
    ) -> Result<(), MsgError> {
        let p = MsgPacket::decode(bytes).map_err(|e| MsgError::Malformed(e.to_string()))?;
        let r = match p {
            MsgPacket::Deliver { env } => self.on_envelope(now, from, env, None, has_route),
            MsgPacket::Offer { env, copies } => {
                self.on_envelope(now, from, env, Some(copies), has_route)
            }
            MsgPacket::Custody {
                id, dst, copies, ..
            } => {
                self.on_custody(id, dst, from, copies);
                Ok(())
            }
            MsgPacket::Receipt { receipt } => self.on_receipt(now, from, receipt, has_route),
            MsgPacket::ReceiptTaken { id, dst } => {
                if self.receipts.remove(&(id, dst)).is_some() {
                    self.push_change(Change::DelReceipt { id, dst });
                }
                Ok(())
            }
        };
        if let Err(e) = &r {
            self.event(MsgEvent::Refused {
                from,
                reason: e.to_string(),
            });
        }
        r
    }

    /// A delivery (`offered: None`) or a custody offer.
    fn on_envelope(
        &mut self,
        now: Instant,
        from: NodeId,
        env: Envelope,
        offered: Option<u8>,
        has_route: &dyn Fn(&NodeId) -> bool,
    ) -> Result<(), MsgError> {
        let body = verify_envelope(&env)?;
        let now_ms = self.unix_ms(now);
        if body.dst == self.me {
            return self.on_mine(now, from, body, has_route);
        }
        let Some(copies) = offered else {
            // A delivery reaches its recipient; the overlay routed it here
            // only if our id is its destination, so this is a stale route.
            return Err(MsgError::Malformed("delivery for another node".into()));
        };
        let refuse = |this: &mut Self, reason: String| {
            this.emit(
                from,
                MsgPacket::Custody {
                    id: body.id,
                    dst: body.dst,
                    copies: 0,
                    reason,
                },
            );
        };
        if body.expires_ms <= now_ms {
            refuse(self, "expired".into());
            return Ok(());
        }
        // It was delivered already: tell the offerer with the receipt.
        if let Some(r) = self.receipts.get(&(body.id, body.dst)) {
            let receipt = r.receipt.clone();
            self.emit(from, MsgPacket::Receipt { receipt });
            return Ok(());
        }
        if self.bundles.contains_key(&(body.id, body.dst)) {
            refuse(self, "already held".into());
            return Ok(());
        }
        if let Err(e) = self.room_for(&body.src, 1) {
            refuse(self, e.to_string());
            return Ok(());
        }
        if !self.take_token(now, body.src) {
            refuse(
                self,
                MsgError::RateLimited(self.config().rate_per_s).to_string(),
            );
            return Ok(());
        }
        let copies = copies.clamp(1, self.config().copies.max(1));
        let (id, src, dst) = (body.id, body.src, body.dst);
        // The offerer already has it.
        let offered = BTreeSet::from([from]);
        self.put_bundle(
            Bundle {
                env,
                body,
                copies,
                own: false,
                sent_at: None,
                offered,
            },
            true,
        );
        self.emit(
            from,
            MsgPacket::Custody {
                id,
                dst,
                copies,
                reason: String::new(),
            },
        );
        self.event(MsgEvent::Custody {
            id,
            src,
            dst,
            from,
            copies,
        });
        if has_route(&dst) {
            self.try_deliver(now, id, dst);
        } else {
            self.offer_to_recent(now, has_route);
        }
        Ok(())
    }

    /// An envelope for us: open it, store it once, receipt it to `from`.
    fn on_mine(
        &mut self,
        now: Instant,
        from: NodeId,
        body: Body,
        has_route: &dyn Fn(&NodeId) -> bool,
    ) -> Result<(), MsgError> {
        let now_ms = self.unix_ms(now);
        let receipt = |this: &Self| {
            seal::sign_receipt(
                &this.ident,
                &ReceiptBody {
                    id: body.id,
                    src: body.src,
                    dst: this.me,
                    dst_key: this.ident.public_key(),
                    delivered_ms: now_ms,
                    expires_ms: body.expires_ms,
                },
            )
        };
        let early_key = (body.src, body.seq);
        if self.seen.contains_key(&body.id) {
            // A copy through another custodian, or our receipt was lost.
            let r = receipt(self);
            self.emit(from, MsgPacket::Receipt { receipt: r });
            return Ok(());
        }
        if self.early.contains_key(&early_key) {
            // It waits for its predecessor; the sender retries.
            return Ok(());
        }
        if body.expires_ms <= now_ms {
            return Err(MsgError::Expired);
        }
        if self.seen.len() >= MAX_SEEN {
            return Err(MsgError::QuotaFull(format!(
                "{} received messages remembered, the limit is {MAX_SEEN}",
                self.seen.len()
            )));
        }
        let plain = seal::open(&self.ident, &body)?;
        let plain: Plain =
            control::decode(&plain).map_err(|e| MsgError::Malformed(e.to_string()))?;
        let msg = InMsg {
            id: body.id,
            src: body.src,
            to: plain.to,
            talkgroup: plain.talkgroup,
            text: plain.text,
            seq: body.seq,
            created_ms: body.created_ms,
            received_ms: now_ms,
            expires_ms: body.expires_ms,
        };
        let last = self.rx_seq.get(&body.src).copied().unwrap_or(0);
        if body.seq > last + 1 && self.early.len() < MAX_HELD {
            // Not stored, not receipted: it comes again (the sender retries).
            let until = now + self.config().reorder_wait;
            self.early.insert(early_key, Early { msg, until });
            return Ok(());
        }
        let r = receipt(self);
        self.accept(msg);
        self.emit(from, MsgPacket::Receipt { receipt: r.clone() });
        if from != body.src {
            // A custodian brought it: it carries the receipt back, and so
            // do we, in case it never meets the sender again.
            self.hold_receipt(now, r, has_route);
        }
        self.release_early(now, Some(body.src));
        Ok(())
    }

    /// Store a message for the user and show it.
    fn accept(&mut self, msg: InMsg) {
        self.seen.insert(msg.id, msg.expires_ms);
        let last = self.rx_seq.get(&msg.src).copied().unwrap_or(0);
        if msg.seq > last {
            if last == 0 && self.rx_seq.len() >= MAX_RX_SEQ {
                let least = self
                    .rx_seq
                    .iter()
                    .min_by_key(|(id, seq)| (**seq, std::cmp::Reverse(**id)))
                    .map(|(id, _)| *id);
                if let Some(id) = least {
                    self.rx_seq.remove(&id);
                    self.push_change(Change::ForgetRxSeq(id));
                }
            }
            self.rx_seq.insert(msg.src, msg.seq);
            self.push_change(Change::RxSeq {
                src: msg.src,
                seq: msg.seq,
            });
        }
        self.push_change(Change::Received(msg.clone()));
        self.event(MsgEvent::Received(msg));
    }

    /// Show early messages that are next in sequence (of `src`, or of every
    /// sender), and those that waited long enough, skipping the gap.
    pub(super) fn release_early(&mut self, now: Instant, src: Option<NodeId>) {
        loop {
            let next = self.early.iter().find_map(|(k, e)| {
                let last = self.rx_seq.get(&k.0).copied().unwrap_or(0);
                let in_turn = k.1 <= last + 1 && src.is_none_or(|s| s == k.0);
                // The oldest of a sender whose wait is over goes first.
                let lapsed = e.until <= now && !self.early.keys().any(|o| o.0 == k.0 && o.1 < k.1);
                (in_turn || lapsed).then_some(*k)
            });
            let Some(k) = next else { return };
            if let Some(e) = self.early.remove(&k) {
                // Its receipt goes to the sender when it sends it again; the
                // id is now remembered, so that copy is only receipted.
                self.accept(e.msg);
            }
        }
    }

    /// A neighbour answered our offer.
    fn on_custody(&mut self, id: MsgId, dst: NodeId, from: NodeId, copies: u8) {
        let Some(b) = self.bundles.get(&(id, dst)) else {
            return;
        };
        if copies == 0 {
            return;
        }
        let own = b.own;
        self.event(MsgEvent::Handed {
            id,
            dst,
            to: from,
            copies,
        });
        if own {
            self.set_state(id, dst, RecipientState::Forwarded, None);
        }
    }

    fn on_receipt(
        &mut self,
        now: Instant,
        from: NodeId,
        receipt: Receipt,
        has_route: &dyn Fn(&NodeId) -> bool,
    ) -> Result<(), MsgError> {
        let body = verify_receipt(&receipt)?;
        let (id, dst) = (body.id, body.dst);
        self.del_bundle(id, dst);
        if body.src == self.me {
            let before = self.outbox.get(&id).cloned();
            self.set_state(id, dst, RecipientState::Delivered, Some(body.delivered_ms));
            if let Some(m) = before
                && m.recipients
                    .iter()
                    .any(|r| r.node == dst && r.state != RecipientState::Delivered)
            {
                let total = m.recipients.len();
                let delivered = m.count(RecipientState::Delivered) + 1;
                self.event(MsgEvent::Delivered {
                    id,
                    dst,
                    delivered,
                    total,
                });
            }
            // Whoever holds a copy of the receipt may forget it (the
            // recipient too, when a custodian delivered).
            self.emit(from, MsgPacket::ReceiptTaken { id, dst });
            return Ok(());
        }
        self.hold_receipt(now, receipt, has_route);
        Ok(())
    }

    /// Carry a receipt to its sender: held (and stored) until the sender
    /// takes it or the message expires; sent now if there is a route.
    fn hold_receipt(
        &mut self,
        now: Instant,
        receipt: Receipt,
        has_route: &dyn Fn(&NodeId) -> bool,
    ) {
        let Ok(body) = verify_receipt(&receipt) else {
            return;
        };
        let (id, dst, src) = (body.id, body.dst, body.src);
        if self.receipts.contains_key(&(id, dst)) || self.room_for(&src, 0).is_err() {
            return;
        }
        self.push_change(Change::PutReceipt {
            id,
            dst,
            receipt: receipt.to_bytes(),
        });
        let routed = has_route(&src);
        self.receipts.insert(
            (id, dst),
            HeldReceipt {
                receipt: receipt.clone(),
                body,
                sent_at: routed.then_some(now),
            },
        );
        if routed {
            self.emit(src, MsgPacket::Receipt { receipt });
        }
    }
}
