//! Phone calls: the INVITE dialogs between the front and the phones.
//!
//! Inbound, a phone calls a name: a UAS that answers 100 at once, 180
//! and 200 (retransmitted until ACK) or a failure (retransmitted until
//! ACK, Timer G/H) as the driver decides. Outbound, the driver rings a
//! role: a UAC INVITE to each phone registered for it (Timer A/B per
//! branch), the first 2xx wins and the other branches are cancelled.

use std::net::SocketAddr;

use super::msg::{self, Common};
use super::sdp::{self, Codec};
use super::{Front, FrontEvent, LegId, MAX_BRANCHES, MAX_LEGS, Peer, PhoneError, Retx};
use crate::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegState {
    /// Inbound: waiting on the driver; outbound: INVITEs out.
    Calling,
    Ringing,
    Up,
    Ended,
}

pub(super) struct Leg {
    inbound: bool,
    pub(super) state: LegState,
    call_id: String,
    /// The dialog's From and To as we write them in our requests.
    local_uri: String,
    remote_uri: String,
    /// Where in-dialog requests go: the phone's Contact, sent to `peer`.
    remote_target: String,
    peer: Peer,
    pub(super) local: SocketAddr,
    local_tag: String,
    cseq: u32,
    /// Our SDP, for re-INVITEs.
    our_sdp: Option<Vec<u8>>,
    /// Inbound: the INVITE and the last response to it.
    invite: Option<Common>,
    last_response: Option<Vec<u8>>,
    /// The final response's retransmission (until ACK).
    final_retx: Option<Retx>,
    final_code: u16,
    /// Outbound: one per phone rung.
    branches: Vec<Branch>,
    ended: Option<Instant>,
}

struct Branch {
    peer: Peer,
    local: SocketAddr,
    uri: String,
    via_branch: String,
    invite: Vec<u8>,
    retx: Option<Retx>,
    /// Timer B: no final answer by then.
    deadline: Instant,
    /// A final response has come (or it was given up).
    code: Option<u16>,
    cancelled: bool,
}

/// Ended legs are kept this long to absorb retransmissions.
const LINGER_T1S: u32 = 64;

impl Leg {
    pub(super) fn next_timer(&self) -> Option<Instant> {
        let f = self.final_retx.map(|r| r.next());
        let b = self
            .branches
            .iter()
            .filter(|b| b.code.is_none())
            .map(|b| b.retx.map_or(b.deadline, |r| r.next()).min(b.deadline));
        f.into_iter().chain(b).chain(self.ended).min()
    }
}

impl Front {
    fn new_leg_id(&mut self, now: Instant) -> Option<LegId> {
        if self.legs.len() >= MAX_LEGS {
            // Forget the oldest ended leg to make room.
            let old = self
                .legs
                .iter()
                .filter(|(_, l)| l.state == LegState::Ended)
                .min_by_key(|(_, l)| l.ended)
                .map(|(id, _)| *id)?;
            self.legs.remove(&old);
        }
        let _ = now;
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        Some(id)
    }

    pub(super) fn on_invite(
        &mut self,
        now: Instant,
        peer: Peer,
        local: SocketAddr,
        uri_user: Option<String>,
        c: Common,
    ) {
        // A retransmission, or a re-INVITE within a dialog.
        if let Some((id, leg)) = self.legs.iter_mut().find(|(_, l)| l.call_id == c.call_id) {
            let id = *id;
            let same_txn = leg.invite.as_ref().is_some_and(|i| i.branch == c.branch);
            if same_txn {
                if let Some(r) = leg.last_response.clone() {
                    self.transmit(peer, r);
                }
                return;
            }
            if c.to_tag.is_some() && leg.state == LegState::Up {
                // Refresh or hold: answer with the SDP we already gave.
                let sdp = leg.our_sdp.clone().unwrap_or_default();
                let tag = leg.local_tag.clone();
                let contact = [("Contact", format!("<sip:callsign@{local}>"))];
                let bytes = msg::response(
                    &c,
                    peer.addr,
                    200,
                    Some(&tag),
                    &contact,
                    Some(("application/sdp", &sdp)),
                );
                self.transmit(peer, bytes);
                let _ = id;
                return;
            }
            self.respond(now, peer, &c, 491, None, &[], None);
            return;
        }
        if c.to_tag.is_some() {
            self.respond(now, peer, &c, 481, None, &[], None);
            return;
        }
        if !self.reg.is_registered(&c.from_user, &peer) {
            let w = [("Warning", "399 callsign \"register first\"".to_string())];
            self.respond(now, peer, &c, 403, None, &w, None);
            return;
        }
        let media = match sdp::parse(&c.body) {
            Ok(m) if m.codec().is_some() => m,
            Ok(_) => {
                let w = [(
                    "Warning",
                    "305 callsign \"offer Opus, PCMU or PCMA\"".to_string(),
                )];
                self.respond(now, peer, &c, 488, None, &w, None);
                return;
            }
            Err(e) => {
                let w = [("Warning", format!("399 callsign \"{e}\""))];
                self.respond(now, peer, &c, 488, None, &w, None);
                return;
            }
        };
        let Some(id) = self.new_leg_id(now) else {
            self.respond(now, peer, &c, 503, None, &[], None);
            return;
        };
        let local_tag = self.tag();
        let trying = msg::response(&c, peer.addr, 100, None, &[], None);
        self.transmit(peer, trying.clone());
        let to = uri_user.unwrap_or_else(|| c.to_user.clone());
        let from = c.from_user.clone();
        self.legs.insert(
            id,
            Leg {
                inbound: true,
                state: LegState::Calling,
                call_id: c.call_id.clone(),
                local_uri: format!("{};tag={local_tag}", c.to),
                remote_uri: c.from.clone(),
                remote_target: c.contact.clone().unwrap_or_default(),
                peer,
                local,
                local_tag,
                cseq: 1,
                our_sdp: None,
                invite: Some(c),
                last_response: Some(trying),
                final_retx: None,
                final_code: 0,
                branches: Vec::new(),
                ended: None,
            },
        );
        self.event(FrontEvent::Dial {
            leg: id,
            from,
            to,
            media,
        });
    }

    /// A response to the INVITE of `leg` (inbound leg): 180, 200 or a failure.
    fn respond_invite(
        &mut self,
        now: Instant,
        id: LegId,
        code: u16,
        body: Option<Vec<u8>>,
    ) -> Result<(), PhoneError> {
        let cfg_t1 = self.cfg.clone();
        let leg = self.legs.get_mut(&id).ok_or(PhoneError::UnknownLeg)?;
        if !leg.inbound || leg.state == LegState::Up || leg.state == LegState::Ended {
            return Err(PhoneError::WrongState);
        }
        let inv = leg.invite.as_ref().ok_or(PhoneError::WrongState)?;
        let contact = [("Contact", format!("<sip:callsign@{}>", leg.local))];
        let extra: &[(&str, String)] = if code < 300 { &contact } else { &[] };
        let bytes = msg::response(
            inv,
            leg.peer.addr,
            code,
            Some(&leg.local_tag),
            extra,
            body.as_deref().map(|b| ("application/sdp", b)),
        );
        leg.last_response = Some(bytes.clone());
        match code {
            100..=199 => leg.state = LegState::Ringing,
            200..=299 => {
                leg.state = LegState::Up;
                leg.our_sdp = body;
                leg.final_code = code;
                leg.final_retx = Some(Retx::new(now, &cfg_t1, false));
            }
            _ => {
                leg.state = LegState::Ended;
                leg.final_code = code;
                // Timer G only over UDP; over TCP just Timer H.
                leg.final_retx = Some(Retx::new(now, &cfg_t1, leg.peer.reliable()));
                leg.ended = Some(now + cfg_t1.t1 * LINGER_T1S);
            }
        }
        let peer = leg.peer;
        self.transmit(peer, bytes);
        Ok(())
    }

    /// The called party is ringing: 180 to the phone that called.
    pub fn ringing(&mut self, now: Instant, leg: LegId) -> Result<(), PhoneError> {
        match self.legs.get(&leg).map(|l| l.state) {
            Some(LegState::Ringing) => Ok(()),
            _ => self.respond_invite(now, leg, 180, None),
        }
    }

    /// The call is up: 200 with our SDP (RTP to our `rtp_port`, `codec`).
    pub fn accept(
        &mut self,
        now: Instant,
        leg: LegId,
        rtp_port: u16,
        codec: Codec,
        te_pt: Option<u8>,
    ) -> Result<(), PhoneError> {
        let l = self.legs.get(&leg).ok_or(PhoneError::UnknownLeg)?;
        let rtp = SocketAddr::new(l.local.ip(), rtp_port);
        let body = sdp::encode(rtp, &[codec], te_pt, leg.0).into_bytes();
        self.respond_invite(now, leg, 200, Some(body))
    }

    /// The call failed: `code` to the phone that called.
    pub fn refuse(&mut self, now: Instant, leg: LegId, code: u16) -> Result<(), PhoneError> {
        let code = if (300..=699).contains(&code) {
            code
        } else {
            500
        };
        self.respond_invite(now, leg, code, None)
    }

    /// Ring every phone registered for `role` (at most [`MAX_BRANCHES`]),
    /// offering RTP to our `rtp_port` with `codecs`; `None` if no phone
    /// holds the role or no leg is free.
    pub fn invite(
        &mut self,
        now: Instant,
        role: &str,
        caller: &str,
        rtp_port: u16,
        codecs: &[Codec],
        te_pt: Option<u8>,
    ) -> Option<LegId> {
        let targets: Vec<_> = self.reg.of_role(role).take(MAX_BRANCHES).cloned().collect();
        let first = targets.first()?.clone();
        let id = self.new_leg_id(now)?;
        let local_tag = self.tag();
        let call_id = format!("{:016x}@callsign", self.rng.next_u64());
        let caller = if crate::wire::name::valid_name(caller) {
            caller
        } else {
            "mesh"
        };
        let local_uri = format!("<sip:{caller}@mesh>;tag={local_tag}");
        let remote_uri = format!("<sip:{role}@mesh>");
        let mut branches = Vec::new();
        let mut our_sdp = None;
        for b in targets {
            let via_branch = self.branch();
            let rtp = SocketAddr::new(b.local.ip(), rtp_port);
            let body = sdp::encode(rtp, codecs, te_pt, id.0).into_bytes();
            let contact = format!("sip:{caller}@{}", b.local);
            let invite = msg::request(
                &msg::Request {
                    method: "INVITE",
                    uri: &b.contact,
                    via: b.peer.via(b.local, &via_branch),
                    from: &local_uri,
                    to: &remote_uri,
                    call_id: &call_id,
                    cseq: 1,
                    contact: Some(&contact),
                },
                &[("Allow", super::server::ALLOW.to_string())],
                Some(("application/sdp", &body)),
            );
            our_sdp.get_or_insert(body);
            self.transmit(b.peer, invite.clone());
            branches.push(Branch {
                peer: b.peer,
                local: b.local,
                uri: b.contact.clone(),
                via_branch,
                invite,
                retx: Some(Retx::new(now, &self.cfg, b.peer.reliable())),
                deadline: now + self.cfg.t1 * 64,
                code: None,
                cancelled: false,
            });
        }
        self.legs.insert(
            id,
            Leg {
                inbound: false,
                state: LegState::Calling,
                call_id,
                local_uri,
                remote_uri,
                remote_target: first.contact.clone(),
                peer: first.peer,
                local: first.local,
                local_tag,
                cseq: 1,
                our_sdp,
                invite: None,
                last_response: None,
                final_retx: None,
                final_code: 0,
                branches,
                ended: None,
            },
        );
        Some(id)
    }

    /// End a phone call from the mesh side: 487 to a phone still calling,
    /// CANCEL to phones still ringing, BYE to an answered one.
    pub fn hangup(&mut self, now: Instant, id: LegId) -> Result<(), PhoneError> {
        let leg = self.legs.get(&id).ok_or(PhoneError::UnknownLeg)?;
        match (leg.inbound, leg.state) {
            (_, LegState::Ended) => Err(PhoneError::WrongState),
            (true, LegState::Calling | LegState::Ringing) => {
                self.respond_invite(now, id, 487, None)
            }
            (false, LegState::Calling | LegState::Ringing) => {
                self.cancel_branches(now, id, None);
                self.end_leg(now, id);
                Ok(())
            }
            (_, LegState::Up) => {
                self.bye(now, id);
                self.end_leg(now, id);
                Ok(())
            }
        }
    }

    fn end_leg(&mut self, now: Instant, id: LegId) {
        let linger = self.cfg.t1 * LINGER_T1S;
        if let Some(l) = self.legs.get_mut(&id) {
            l.state = LegState::Ended;
            l.ended = Some(now + linger);
        }
    }

    fn bye(&mut self, now: Instant, id: LegId) {
        let branch = self.branch();
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        l.cseq += 1;
        let via = l.peer.via(l.local, &branch);
        let target = if l.remote_target.is_empty() {
            format!("sip:{}", l.peer.addr)
        } else {
            l.remote_target.clone()
        };
        let bytes = msg::request(
            &msg::Request {
                method: "BYE",
                uri: &target,
                via,
                from: &l.local_uri,
                to: &l.remote_uri,
                call_id: &l.call_id,
                cseq: l.cseq,
                contact: None,
            },
            &[],
            None,
        );
        let peer = l.peer;
        self.send_client(now, peer, branch, bytes, None);
    }

    /// CANCEL every unanswered branch of an outbound leg but `keep`.
    fn cancel_branches(&mut self, now: Instant, id: LegId, keep: Option<usize>) {
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        let mut sends = Vec::new();
        for (i, b) in l.branches.iter_mut().enumerate() {
            if Some(i) == keep || b.code.is_some() || b.cancelled {
                continue;
            }
            b.cancelled = true;
            b.retx = None;
            let via = b.peer.via(b.local, &b.via_branch);
            let bytes = msg::request(
                &msg::Request {
                    method: "CANCEL",
                    uri: &b.uri,
                    via,
                    from: &l.local_uri,
                    to: &l.remote_uri,
                    call_id: &l.call_id,
                    cseq: 1,
                    contact: None,
                },
                &[(
                    "Reason",
                    "SIP;cause=200;text=\"Call completed elsewhere\"".into(),
                )],
                None,
            );
            sends.push((b.peer, b.via_branch.clone(), bytes));
        }
        for (peer, branch, bytes) in sends {
            // The CANCEL's own transaction (same branch, method CANCEL).
            self.send_client(now, peer, format!("{branch}/CANCEL"), bytes, None);
        }
    }

    pub(super) fn on_invite_response(&mut self, now: Instant, code: u16, c: Common) {
        let found = self.legs.iter().find_map(|(id, l)| {
            l.branches
                .iter()
                .position(|b| b.via_branch == c.branch)
                .map(|i| (*id, i))
        });
        let Some((id, i)) = found else {
            return;
        };
        match code {
            100..=199 => {
                let Some(l) = self.legs.get_mut(&id) else {
                    return;
                };
                if let Some(b) = l.branches.get_mut(i) {
                    b.retx = None;
                }
                if code >= 180 && l.state == LegState::Calling {
                    l.state = LegState::Ringing;
                    self.event(FrontEvent::Ringing { leg: id });
                }
            }
            200..=299 => self.on_invite_ok(now, id, i, c),
            _ => {
                self.ack_failure(id, i, &c);
                let Some(l) = self.legs.get_mut(&id) else {
                    return;
                };
                if let Some(b) = l.branches.get_mut(i) {
                    if b.code.is_some() {
                        return; // a retransmitted final: ACKed again above
                    }
                    b.code = Some(code);
                    b.retx = None;
                }
                self.maybe_rejected(now, id);
            }
        }
    }

    fn on_invite_ok(&mut self, now: Instant, id: LegId, i: usize, c: Common) {
        let Some(l) = self.legs.get_mut(&id) else {
            return;
        };
        let already = l.state == LegState::Up || l.state == LegState::Ended;
        let Some(b) = l.branches.get_mut(i) else {
            return;
        };
        let first_ok = b.code.is_none() && !already;
        b.code = Some(200);
        b.retx = None;
        let peer = b.peer;
        let local = b.local;
        let to_tag = c.to_tag.clone().unwrap_or_default();
        let remote_uri = c.to.to_string();
        let target = c.contact.clone().unwrap_or_else(|| b.uri.clone());
        if first_ok {
            l.state = LegState::Up;
            l.remote_uri = remote_uri.clone();
            l.remote_target = target.clone();
            l.peer = peer;
            l.local = local;
        }
        // ACK the 2xx (its own transaction, RFC 3261 §13.2.2.4), again for
        // every retransmission of it.
        let branch = self.branch();
        let Some(l) = self.legs.get(&id) else {
            return;
        };
        let via = peer.via(local, &branch);
        let ack = msg::request(
            &msg::Request {
                method: "ACK",
                uri: &target,
                via,
                from: &l.local_uri,
                to: &remote_uri,
                call_id: &l.call_id,
                cseq: 1,
                contact: None,
            },
            &[],
            None,
        );
        self.transmit(peer, ack);
        if first_ok {
            match sdp::parse(&c.body) {
                Ok(media) if media.codec().is_some() => {
                    self.cancel_branches(now, id, Some(i));
                    self.event(FrontEvent::Answered { leg: id, media });
                }
                _ => {
                    // Answered with nothing we can speak: end it.
                    self.bye(now, id);
                    self.end_leg(now, id);
                    self.event(FrontEvent::Rejected { leg: id, code: 488 });
                }
            }
        } else if already
            && self
                .legs
                .get(&id)
                .is_some_and(|l| l.remote_uri != remote_uri)
        {
            // A second phone answered too late: hang it up.
            let _ = to_tag;
            self.bye_other(now, id, peer, local, &target, &remote_uri);
        }
    }

    /// BYE to a dialog a late 2xx created on another branch.
    fn bye_other(
        &mut self,
        now: Instant,
        id: LegId,
        peer: Peer,
        local: SocketAddr,
        target: &str,
        to: &str,
    ) {
        let branch = self.branch();
        let Some(l) = self.legs.get(&id) else {
            return;
        };
        let via = peer.via(local, &branch);
        let bytes = msg::request(
            &msg::Request {
                method: "BYE",
                uri: target,
                via,
                from: &l.local_uri,
                to,
                call_id: &l.call_id,
                cseq: 2,
                contact: None,
            },
            &[],
            None,
        );
        self.send_client(now, peer, branch, bytes, None);
    }

    /// ACK a failure response: same branch as the INVITE (§17.1.1.3).
    fn ack_failure(&mut self, id: LegId, i: usize, c: &Common) {
        let Some(l) = self.legs.get(&id) else {
            return;
        };
        let Some(b) = l.branches.get(i) else {
            return;
        };
        let via = b.peer.via(b.local, &b.via_branch);
        let bytes = msg::request(
            &msg::Request {
                method: "ACK",
                uri: &b.uri,
                via,
                from: &l.local_uri,
                to: &c.to,
                call_id: &l.call_id,
                cseq: 1,
                contact: None,
            },
            &[],
            None,
        );
        let peer = b.peer;
        self.transmit(peer, bytes);
    }

    /// Every branch failed: tell the driver the best reason.
    fn maybe_rejected(&mut self, now: Instant, id: LegId) {
        let Some(l) = self.legs.get(&id) else {
            return;
        };
        if l.state == LegState::Up || l.state == LegState::Ended {
            return;
        }
        let codes: Vec<u16> = l.branches.iter().filter_map(|b| b.code).collect();
        if codes.len() < l.branches.len() {
            return;
        }
        let code = if codes.contains(&486) {
            486
        } else if let Some(c) = codes.iter().find(|c| **c >= 600) {
            *c
        } else if codes.iter().all(|c| *c == 408 || *c == 487) {
            480
        } else {
            codes.iter().copied().min().unwrap_or(480)
        };
        self.end_leg(now, id);
        self.event(FrontEvent::Rejected { leg: id, code });
    }

    pub(super) fn on_ack(&mut self, now: Instant, c: &Common) {
        let Some(l) = self.legs.values_mut().find(|l| l.call_id == c.call_id) else {
            return;
        };
        l.final_retx = None;
        let _ = now;
    }

    pub(super) fn on_cancel(&mut self, now: Instant, peer: Peer, c: Common) {
        let found = self
            .legs
            .iter()
            .find(|(_, l)| l.inbound && l.invite.as_ref().is_some_and(|i| i.branch == c.branch))
            .map(|(id, l)| (*id, l.state));
        let Some((id, state)) = found else {
            self.respond(now, peer, &c, 481, None, &[], None);
            return;
        };
        self.respond(now, peer, &c, 200, None, &[], None);
        if matches!(state, LegState::Calling | LegState::Ringing) {
            let _ = self.respond_invite(now, id, 487, None);
            self.event(FrontEvent::Hangup { leg: id });
        }
    }

    pub(super) fn on_bye(&mut self, now: Instant, peer: Peer, c: Common) {
        let found = self
            .legs
            .iter()
            .find(|(_, l)| l.call_id == c.call_id && l.state != LegState::Ended)
            .map(|(id, _)| *id);
        let Some(id) = found else {
            self.respond(now, peer, &c, 481, None, &[], None);
            return;
        };
        let tag = self.legs.get(&id).map(|l| l.local_tag.clone());
        self.respond(now, peer, &c, 200, tag.as_deref(), &[], None);
        self.end_leg(now, id);
        self.event(FrontEvent::Hangup { leg: id });
    }

    pub(super) fn legs_timeout(&mut self, now: Instant) {
        let t2 = self.cfg.t2;
        let mut sends = Vec::new();
        let mut gone = Vec::new();
        let mut unacked = Vec::new();
        let mut timed_out = Vec::new();
        for (id, l) in &mut self.legs {
            if let Some(r) = &mut l.final_retx {
                match r.due(now, t2) {
                    Some(true) => {
                        if let Some(b) = &l.last_response {
                            sends.push((l.peer, b.clone()));
                        }
                    }
                    Some(false) => {
                        l.final_retx = None;
                        if l.final_code < 300 && l.state == LegState::Up {
                            unacked.push(*id);
                        }
                    }
                    None => {}
                }
            }
            for (i, b) in l.branches.iter_mut().enumerate() {
                if b.code.is_some() {
                    continue;
                }
                if now >= b.deadline {
                    b.code = Some(408);
                    b.retx = None;
                    timed_out.push((*id, i));
                    continue;
                }
                if let Some(r) = &mut b.retx
                    && r.due(now, t2) == Some(true)
                {
                    sends.push((b.peer, b.invite.clone()));
                }
            }
            if l.ended.is_some_and(|t| t <= now) && l.final_retx.is_none() {
                gone.push(*id);
            }
        }
        for (peer, b) in sends {
            self.transmit(peer, b);
        }
        for id in unacked {
            // 64·T1 without the ACK of our 200: the phone is gone.
            self.bye(now, id);
            self.end_leg(now, id);
            self.event(FrontEvent::Hangup { leg: id });
        }
        for (id, _) in timed_out {
            self.maybe_rejected(now, id);
        }
        for id in gone {
            self.legs.remove(&id);
        }
    }
}
