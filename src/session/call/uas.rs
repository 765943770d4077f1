//! Requests as they arrive: the callee's INVITE, ACK and CANCEL, and a
//! BYE on either side, with the responses we send back.

use super::*;

impl Calls {
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: Msg,
        method: Method,
        user: &str,
    ) -> Result<(), SessionError> {
        let existing = self
            .calls
            .values()
            .find(|c| !c.outgoing && c.sip_id == msg.call_id && c.peer_node == Some(from))
            .map(|c| c.id);
        match method {
            Method::Invite => {
                if let Some(id) = existing {
                    // A retransmission: repeat what we last said.
                    if let Some(b) = self.calls.get(&id).and_then(|c| c.last_response.clone()) {
                        self.send(from, b);
                    }
                    return Ok(());
                }
                self.on_invite(now, from, msg, user)
            }
            Method::Ack => {
                if let Some(call) = existing.and_then(|id| self.calls.get_mut(&id))
                    && let Some((code, _)) = call.final_retx.take()
                    && code == 200
                    && call.state == CallState::Answering
                {
                    call.state = CallState::Active;
                }
                Ok(())
            }
            Method::Cancel => {
                let Some(id) = existing else {
                    self.reply(from, &msg, 481, "");
                    return Ok(());
                };
                self.reply(from, &msg, 200, "");
                if self
                    .calls
                    .get(&id)
                    .is_some_and(|c| c.state == CallState::Incoming)
                {
                    self.final_response(now, id, 487);
                    let elsewhere = msg
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.contains("cause=200"));
                    let reason = if elsewhere {
                        "answered elsewhere"
                    } else {
                        "cancelled"
                    };
                    self.end_call(now, id, reason, None);
                }
                Ok(())
            }
            Method::Bye => {
                let id = self
                    .calls
                    .values()
                    .find(|c| c.sip_id == msg.call_id && c.peer_node == Some(from))
                    .map(|c| c.id);
                let Some(id) = id else {
                    self.reply(from, &msg, 481, "");
                    return Ok(());
                };
                self.reply(from, &msg, 200, "");
                if let Some(call) = self.calls.get_mut(&id) {
                    call.final_retx = None;
                    if !call.is_ended() {
                        self.end_call(now, id, "remote hangup", None);
                    }
                }
                Ok(())
            }
        }
    }

    pub(super) fn on_invite(
        &mut self,
        now: Instant,
        from: NodeId,
        msg: Msg,
        user: &str,
    ) -> Result<(), SessionError> {
        if !self.names.iter().any(|n| n == user) {
            self.reply(from, &msg, 404, "");
            return Ok(());
        }
        let busy = self.cfg.busy_when_active && self.calls.values().any(|c| !c.is_ended());
        if busy || self.make_room().is_err() {
            self.reply(from, &msg, 486, "");
            return Ok(());
        }
        let offer = match sdp::parse(&msg.body) {
            Ok(o) => o,
            Err(e) => {
                self.reply(from, &msg, 488, "");
                return Err(e);
            }
        };
        let id = CallId(self.next_id);
        self.next_id += 1;
        let local_tag = format!("{:x}r{:x}", self.cfg.instance, id.0);
        let ringing = msg.response(180, &local_tag, Vec::new()).encode(None);
        let call = Call {
            id,
            sip_id: msg.call_id.clone(),
            outgoing: false,
            state: CallState::Incoming,
            local_name: user.to_string(),
            peer_name: msg.from_name.clone(),
            peer_node: Some(from),
            local_tag,
            remote_tag: Some(msg.from_tag.clone()),
            started: now,
            answered: None,
            ended: None,
            end_reason: None,
            next_cseq: 1,
            next_branch: 0,
            offer_body: Vec::new(),
            branches: Vec::new(),
            // A little past the caller's own ring timeout, so that its
            // CANCEL normally comes first; this only covers a caller that
            // vanished.
            ring_deadline: Some(now + self.cfg.ring_timeout + self.cfg.t1 * 8),
            invite: Some(msg.clone()),
            last_response: Some(ringing.clone()),
            final_retx: None,
            txs: Vec::new(),
        };
        self.calls.insert(id, call);
        self.send(from, ringing);
        self.event(CallEvent::Incoming {
            call: id,
            from_name: msg.from_name,
            from_node: from,
            offer,
        });
        Ok(())
    }

    /// A final response to the INVITE of an incoming call, repeated until
    /// the ACK.
    pub(super) fn final_response(&mut self, now: Instant, id: CallId, code: u16) {
        let me = self.me;
        let t1 = self.cfg.t1;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (Some(invite), Some(peer)) = (call.invite.as_ref(), call.peer_node) else {
            return;
        };
        let bytes = invite
            .response(code, &call.local_tag, Vec::new())
            .encode(Some((&call.local_name, me)));
        call.last_response = Some(bytes.clone());
        call.final_retx = Some((code, Retx::new(now, peer, bytes.clone(), t1, t1 * 64)));
        self.send(peer, bytes);
    }

    /// A stateless response (404, 486, 481, and 200 to CANCEL/BYE).
    pub(super) fn reply(&mut self, to: NodeId, req: &Msg, code: u16, to_tag: &str) {
        let tag = if to_tag.is_empty() {
            req.to_tag.clone().unwrap_or_else(|| "x".to_string())
        } else {
            to_tag.to_string()
        };
        let bytes = req.response(code, &tag, Vec::new()).encode(None);
        self.send(to, bytes);
    }
}
