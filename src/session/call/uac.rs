//! The caller's side: responses to our INVITE branches (first 200 wins),
//! the CANCELs of the other branches, and the failure of a call that no
//! branch answered.

use super::*;

impl Calls {
    pub(super) fn on_response(&mut self, now: Instant, from: NodeId, msg: Msg, code: u16) {
        let me = self.me;
        let Some(id) = self
            .calls
            .values()
            .find(|c| c.outgoing && c.sip_id == msg.call_id)
            .map(|c| c.id)
        else {
            return;
        };
        let t1 = self.cfg.t1;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if msg.cseq_method != Method::Invite {
            // The 200 (or any final) to our BYE or CANCEL ends its repetition.
            if code >= 200 {
                call.txs.retain(|tx| tx.branch != msg.branch);
            }
            return;
        }
        let Some(bi) = call
            .branches
            .iter()
            .position(|b| b.node == from && b.branch == msg.branch)
        else {
            return;
        };
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut answered_elsewhere = false;
        let ended = call.is_ended();
        let has_winner = call.branches.iter().any(|b| b.state == BranchState::Won);
        if code < 200 {
            let b = &mut call.branches[bi];
            if b.state == BranchState::Calling {
                b.state = BranchState::Proceeding;
            }
            b.invite = None;
            if let Some(reason) = b.cancel_pending.take() {
                let branch = b.branch.clone();
                let node = b.node;
                let mut c = call.request(me, Method::Cancel, 1, branch.clone(), None);
                c.reason = reason;
                let bytes = c.encode(None);
                out.push((node, bytes.clone()));
                call.txs.push(ClientTx {
                    branch,
                    retx: Retx::new(now, node, bytes, t1, t1 * 64),
                });
            } else if code == 180 && !call.branches[bi].rang && !ended {
                call.branches[bi].rang = true;
                if call.state == CallState::Dialing {
                    call.state = CallState::Ringing;
                }
                if call.ring_deadline.is_none() {
                    call.ring_deadline = Some(now + self.cfg.ring_timeout);
                }
                events.push(CallEvent::Ringing { call: id, by: from });
            }
        } else if code < 300 {
            let remote_tag = msg.to_tag.clone();
            let b = &mut call.branches[bi];
            b.invite = None;
            b.cancel_pending = None;
            b.remote_tag = remote_tag.clone();
            // ACK every 200, the repeated ones too (RFC 3261 §13.2.2.4).
            let ack_branch = b.branch.clone();
            let ack = call.request(me, Method::Ack, 1, ack_branch, remote_tag.clone());
            out.push((from, ack.encode(None)));
            let won_here = call.branches[bi].state == BranchState::Won;
            if won_here {
                // Repeated 200 of the winner: the ACK above is all.
            } else if !has_winner && !ended {
                match sdp::parse(&msg.body) {
                    Ok(answer) => {
                        call.branches[bi].state = BranchState::Won;
                        call.state = CallState::Active;
                        call.peer_node = Some(from);
                        call.remote_tag = remote_tag;
                        call.answered = Some(now);
                        events.push(CallEvent::Answered {
                            call: id,
                            by: from,
                            answer,
                        });
                        answered_elsewhere = true;
                    }
                    Err(_) => {
                        call.branches[bi].state = BranchState::Done;
                        call.branches[bi].code = Some(488);
                        bye_branch(call, me, now, t1, bi, &mut out);
                    }
                }
            } else {
                // A second holder answered after the winner, or after we
                // hung up: take its call and end it at once.
                call.branches[bi].state = BranchState::Done;
                bye_branch(call, me, now, t1, bi, &mut out);
            }
        } else {
            let b = &mut call.branches[bi];
            b.invite = None;
            b.cancel_pending = None;
            let branch = b.branch.clone();
            let ack = call.request(me, Method::Ack, 1, branch, msg.to_tag.clone());
            out.push((from, ack.encode(None)));
            let b = &mut call.branches[bi];
            if matches!(b.state, BranchState::Calling | BranchState::Proceeding) {
                b.state = BranchState::Done;
                b.code = Some(code);
            }
        }
        for (to, b) in out {
            self.send(to, b);
        }
        for e in events {
            self.event(e);
        }
        if answered_elsewhere {
            self.cancel_branches(now, id, Some(REASON_ELSEWHERE.to_string()));
        }
        self.check_failed(now, id);
    }

    /// CANCEL every branch still ringing or trying.
    pub(super) fn cancel_branches(&mut self, now: Instant, id: CallId, reason: Option<String>) {
        let me = self.me;
        let t1 = self.cfg.t1;
        let mut out = Vec::new();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        for bi in 0..call.branches.len() {
            let (state, node, branch) = {
                let b = &call.branches[bi];
                (b.state, b.node, b.branch.clone())
            };
            match state {
                BranchState::Proceeding => {
                    let mut c = call.request(me, Method::Cancel, 1, branch.clone(), None);
                    c.reason = reason.clone();
                    let bytes = c.encode(None);
                    out.push((node, bytes.clone()));
                    call.txs.push(ClientTx {
                        branch,
                        retx: Retx::new(now, node, bytes, t1, t1 * 64),
                    });
                    call.branches[bi].state = BranchState::Done;
                    call.branches[bi].code = Some(487);
                }
                BranchState::Calling => {
                    // Keep listening: a late 180 gets its CANCEL, a late
                    // 200 its ACK and BYE.
                    let b = &mut call.branches[bi];
                    b.invite = None;
                    b.cancel_pending = Some(reason.clone());
                    b.state = BranchState::Done;
                    b.code = Some(487);
                }
                _ => {}
            }
        }
        for (to, b) in out {
            self.send(to, b);
        }
    }

    /// An outgoing call whose every branch ended without a winner fails,
    /// with the most telling code: a decline (6xx), then busy, then the
    /// lowest other code (RFC 3261 §16.7 in spirit).
    pub(super) fn check_failed(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if !call.outgoing || call.is_ended() || call.branches.is_empty() {
            return;
        }
        if call.branches.iter().any(|b| b.state != BranchState::Done) {
            return;
        }
        let codes: Vec<u16> = call.branches.iter().filter_map(|b| b.code).collect();
        let code = codes
            .iter()
            .copied()
            .find(|c| *c >= 600)
            .or_else(|| codes.iter().copied().find(|c| *c == 486))
            .or_else(|| codes.iter().copied().min())
            .unwrap_or(480);
        let reason = match code {
            404 => "no such name",
            480 => "unreachable",
            486 => "busy",
            600..=699 => "declined",
            _ => "failed",
        };
        self.end_call(now, id, reason, Some(code));
    }
}

/// ACK-less BYE to branch `bi` (its 200 was ACKed already), repeated.
pub(super) fn bye_branch(
    call: &mut Call,
    me: NodeId,
    now: Instant,
    t1: Duration,
    bi: usize,
    out: &mut Vec<(NodeId, Vec<u8>)>,
) {
    let Some(b) = call.branches.get(bi) else {
        return;
    };
    let (node, tag) = (b.node, b.remote_tag.clone());
    let cseq = call.next_cseq;
    call.next_cseq += 1;
    let branch = call.new_branch_id();
    let msg = call.request(me, Method::Bye, cseq, branch.clone(), tag);
    let bytes = msg.encode(None);
    out.push((node, bytes.clone()));
    call.txs.push(ClientTx {
        branch,
        retx: Retx::new(now, node, bytes, t1, t1 * 64),
    });
}
