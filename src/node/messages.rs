//! Store-and-forward messages carried by the node: [`crate::msg::Messages`]
//! packets as control-class data (protocol [`proto::MSG`], acknowledged
//! hop by hop), recipients resolved in the directory, and the routing
//! table and usable links told to it as they change.

use super::{Class, Event, Node};
use crate::identity::NodeId;
use crate::msg::{Change, Messages, MsgError, MsgId, Snapshot};
use crate::time::Instant;
use crate::wire::{WireError, proto};

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgTo<'a> {
    /// Every holder of a role or person name in the directory.
    Name(&'a str),
    /// Every device whose directory record lists the talkgroup.
    Talkgroup(&'a str),
}

impl Node {
    /// Send `text` to every recipient `to` resolves to in the directory
    /// (this node excluded). The message is in [`Node::take_message_changes`]
    /// when this returns: a driver reports it accepted once those are durable.
    pub fn message(&mut self, now: Instant, to: MsgTo<'_>, text: &str) -> Result<MsgId, MsgError> {
        let r = self.stage_message(now, to, text);
        self.release_messages(now);
        r
    }

    /// [`Node::message`] with its packets held back until
    /// [`Node::release_messages`]: a driver stores the changes first, and
    /// if it cannot, [`Node::withdraw_message`] refuses the message before
    /// anything of it left.
    pub fn stage_message(
        &mut self,
        now: Instant,
        to: MsgTo<'_>,
        text: &str,
    ) -> Result<MsgId, MsgError> {
        let (label, talkgroup) = match to {
            MsgTo::Name(n) => (n, false),
            MsgTo::Talkgroup(t) => (t, true),
        };
        let mut recipients: Vec<(NodeId, [u8; 32])> = match to {
            MsgTo::Name(n) => self
                .dir
                .resolve(now, n)
                .into_iter()
                .map(|e| (e.rec.holder, e.rec.key))
                .collect(),
            MsgTo::Talkgroup(tg) => self
                .dir
                .store()
                .entries()
                .filter(|e| e.claims(now) && e.rec.talkgroups.iter().any(|t| t == tg))
                .map(|e| (e.rec.holder, e.rec.key))
                .collect(),
        };
        recipients.sort_unstable();
        recipients.dedup_by_key(|r| r.0);
        let mut id = [0u8; 16];
        self.rng.fill(&mut id);
        let routes = &self.routes;
        self.msgs
            .send(now, id, label, talkgroup, &recipients, text, &|d| {
                routes.selected(d).is_some()
            })
    }

    /// Send what [`Node::stage_message`] held back.
    pub fn release_messages(&mut self, now: Instant) {
        self.pump_msgs(now);
        self.on_timers(now);
    }

    /// Take back a staged message that could not be stored (see
    /// [`crate::msg::Messages::withdraw`]); then release the rest.
    pub fn withdraw_message(&mut self, now: Instant, id: MsgId) -> bool {
        let r = self.msgs.withdraw(id);
        self.release_messages(now);
        r
    }

    /// The message state (read-only).
    pub fn messages(&self) -> &Messages {
        &self.msgs
    }

    /// Load stored messages (once, before the first input).
    pub fn restore_messages(&mut self, now: Instant, s: Snapshot) {
        self.msgs.restore(now, s);
    }

    /// What the driver must make durable before its next transmit.
    pub fn take_message_changes(&mut self) -> Vec<Change> {
        self.msgs.take_changes()
    }

    pub(super) fn on_msg(
        &mut self,
        now: Instant,
        src: NodeId,
        payload: &[u8],
    ) -> Result<(), WireError> {
        let routes = &self.routes;
        let r = self
            .msgs
            .handle(now, src, payload, &|d| routes.selected(d).is_some());
        self.pump_msgs(now);
        match r {
            Err(MsgError::Malformed(e)) => Err(WireError::Body(e)),
            // Forged, not ours, expired: an event, not a malformed packet.
            _ => Ok(()),
        }
    }

    pub(super) fn msg_timers(&mut self, now: Instant) {
        let routes = &self.routes;
        let has_route = |d: &NodeId| routes.selected(d).is_some();
        for d in std::mem::take(&mut self.msg_routes_up) {
            self.msgs.on_route(now, d, &has_route);
        }
        if self.msgs.poll_timeout().is_some_and(|t| t <= now) {
            self.msgs.handle_timeout(now, &has_route);
        }
        self.pump_msgs(now);
    }

    fn pump_msgs(&mut self, now: Instant) {
        while let Some((dst, bytes)) = self.msgs.poll_output() {
            // A refusal (queue full) is repaired by the message layer's retry.
            let _ = self.send_data(now, dst, Class::Control, proto::MSG, &bytes);
        }
        while let Some(e) = self.msgs.poll_event() {
            self.push_event(Event::Message(e));
        }
    }
}
