//! A third node forges each in-dialog request of a call between two
//! others: refused and counted; the ends' own requests pass, alone and
//! over a simulated three-node line where the forger is the relay.

use super::*;
use crate::app::AppStats;
use crate::app::{App, AppConfig, AppEvent, CallPhase, offer};
use crate::node::{Config, Node, Timers};
use crate::rng::Rng;
use crate::session::{CallConfig, CallId, Calls};
use crate::sim::scenario::{self, GenOptions};
use crate::sim::world::World;
use crate::time::{Instant, ms};
use crate::voice::crypto::KeyShare;

fn ident(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}

/// A request of the call `call_id` from `a`'s side.
fn request(method: Method, to_tag: Option<&str>, call_id: &str, cseq: u32) -> Msg {
    Msg {
        start: Start::Request {
            method,
            user: "medic-12".into(),
        },
        call_id: call_id.into(),
        cseq,
        cseq_method: method,
        branch: "z9hG4bK-1".into(),
        via_host: Msg::node_host(ident(1).id()),
        from_name: "engine-3".into(),
        from_tag: "from-1".into(),
        to_name: "medic-12".into(),
        to_tag: to_tag.map(str::to_string),
        reason: None,
        body: Vec::new(),
    }
}

fn each_request() -> [(InDialog, Msg); 3] {
    [
        (InDialog::Bye, request(Method::Bye, Some("to-1"), "c1", 2)),
        (InDialog::Cancel, request(Method::Cancel, None, "c1", 1)),
        (
            InDialog::ReInvite,
            request(Method::Invite, Some("to-1"), "c1", 3),
        ),
    ]
}

fn checked(bytes: &[u8], peer: NodeId) -> Result<(), String> {
    let m = Msg::decode(bytes).expect("decodes");
    let what = in_dialog(&m).expect("in dialog");
    check(bytes, &m, what, Some(peer))
}

#[test]
fn the_ends_requests_pass_and_a_third_partys_are_refused() {
    let (a, c) = (ident(1), ident(3));
    for (what, m) in each_request() {
        assert_eq!(in_dialog(&m), Some(what));
        let plain = m.encode(None);
        let genuine = sign(&a, plain.clone());
        assert_eq!(checked(&genuine, a.id()), Ok(()), "{what:?} from the end");
        assert!(checked(&plain, a.id()).is_err(), "{what:?} unsigned");
        let by_c = sign(&c, plain.clone());
        assert!(
            checked(&by_c, a.id()).is_err(),
            "{what:?} signed by a third node"
        );
        // The end's header lifted onto another call's request, or another
        // CSeq of the same call.
        let v = header(&genuine).expect("header").to_string();
        for (call_id, cseq) in [("c2", m.cseq), ("c1", m.cseq + 1)] {
            let mut other = m.clone();
            other.call_id = call_id.into();
            other.cseq = cseq;
            let mut moved = other.encode(None);
            let end = moved
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("end");
            moved.splice(end..end, format!("\r\n{HEADER}: {v}").into_bytes());
            assert!(
                checked(&moved, a.id()).is_err(),
                "{what:?} moved to {call_id}/{cseq}"
            );
        }
        // Two headers: refused, whichever is genuine.
        let mut twice = genuine.clone();
        let end = twice
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end");
        twice.splice(end..end, format!("\r\n{HEADER}: {v}").into_bytes());
        assert!(
            checked(&twice, a.id()).is_err(),
            "{what:?} with two headers"
        );
        // No other end known yet: nothing is accepted.
        let m2 = Msg::decode(&genuine).expect("decodes");
        assert!(check(&genuine, &m2, what, None).is_err());
    }
}

#[test]
fn requests_outside_a_dialog_are_left_alone() {
    let a = ident(1);
    for m in [
        request(Method::Invite, None, "c1", 1),
        request(Method::Ack, Some("to-1"), "c1", 1),
    ] {
        assert_eq!(in_dialog(&m), None);
        let bytes = m.encode(None);
        assert_eq!(sign(&a, bytes.clone()), bytes);
    }
}

/// Through a whole application: B is rung by A; C, a third node, sends a
/// CANCEL, a re-INVITE and a BYE with A's id in the packet's source (what
/// the overlay cannot stop), unsigned and then signed with its own key.
/// Each is refused and counted, the call stays; A's own CANCEL ends it.
#[test]
fn an_application_refuses_forged_requests_and_counts_them() {
    let (a, b, c) = (ident(1), ident(2), ident(3));
    let now = Instant::ZERO;
    let node = Node::new(b.clone(), Config::default(), now, 2);
    let cfg = AppConfig {
        fixed_names: vec!["medic-12".into()],
        ..AppConfig::default()
    };
    let mut app = App::new(node, cfg, now, [2; 32]);
    // A dials B with a genuine signed offer.
    let mut caller = Calls::new(a.id(), "engine-3".into(), CallConfig::default());
    let share = KeyShare::new([9; 32]);
    let sip_id = caller.next_sip_call_id();
    let o = offer::sign(&a, &share, 77, &sip_id);
    caller.dial(now, "medic-12", &[b.id()], o).expect("dial");
    let (_, invite) = caller.poll_send().expect("INVITE");
    app.on_sip(now, a.id(), &invite);
    app.pump_calls(now);
    assert_eq!(app.calls.calls.len(), 1, "ringing at B");
    let m = Msg::decode(&invite).expect("INVITE decodes");
    let forged = [
        (InDialog::Cancel, Method::Cancel, None, m.cseq),
        (
            InDialog::ReInvite,
            Method::Invite,
            Some("b-tag"),
            m.cseq + 1,
        ),
        (InDialog::Bye, Method::Bye, Some("b-tag"), m.cseq + 2),
    ];
    for (i, (what, method, to_tag, cseq)) in forged.into_iter().enumerate() {
        let mut f = m.clone();
        f.start = Start::Request {
            method,
            user: "medic-12".into(),
        };
        f.cseq_method = method;
        f.cseq = cseq;
        f.to_tag = to_tag.map(str::to_string);
        f.body.clear();
        for bytes in [f.encode(None), sign(&c, f.encode(None))] {
            app.on_sip(now, a.id(), &bytes);
            app.pump_calls(now);
        }
        assert_eq!(
            app.calls.calls.len(),
            1,
            "{what:?}: the call is still there"
        );
        let s = app.stats();
        let count = match what {
            InDialog::Bye => s.forged_bye,
            InDialog::Cancel => s.forged_cancel,
            InDialog::ReInvite => s.forged_reinvite,
        };
        assert_eq!(count, 2, "{what:?} refused twice");
        assert_eq!(s.forged_total(), 2 * (i as u64 + 1));
    }
    // A's own CANCEL of the INVITE, signed by A: the call ends.
    let mut cancel = m.clone();
    cancel.start = Start::Request {
        method: Method::Cancel,
        user: "medic-12".into(),
    };
    cancel.cseq_method = Method::Cancel;
    cancel.body.clear();
    let cancel = cancel.encode(None);
    app.on_sip(now, a.id(), &sign(&a, cancel));
    app.pump_calls(now);
    assert!(app.calls.calls.is_empty(), "the end's CANCEL is taken");
    assert_eq!(app.stats().forged_total(), 6);
}

/// Three devices in a line, booted and converged, losses off: 0 calls 2,
/// 1 is the relay that carries (and can read) their SIP.
fn line3(seed: u64) -> World<()> {
    let opt = GenOptions {
        nodes: 3,
        profile: "handset-2g4".into(),
        degree: 10.0,
        min_diameter: 0,
    };
    let mut spec = scenario::generate("line", &opt, &mut Rng::new(seed)).expect("world");
    for p in &mut spec.profiles {
        p.loss.near = 0.0;
        p.loss.edge = 0.0;
    }
    let mut w: World<()> = World::new(spec, &Timers::callsign(), 0.0, seed).expect("world");
    for i in 0..3 {
        w.schedule_boot(i, Instant::ZERO);
    }
    let _ = w.next_hook(Instant::from_millis(3000));
    w
}

fn run(w: &mut World<()>, millis: u64) {
    let until = w.now() + ms(millis);
    let _ = w.next_hook(until);
}

/// The call at node `i` (it has one live call at most here).
fn live_call(w: &World<()>, i: usize) -> Option<(CallId, String, CallPhase)> {
    let a = w.app(i)?;
    let info = a
        .calls
        .session
        .calls()
        .into_iter()
        .find(|c| c.ended.is_none())?;
    let phase = a.call(w.now(), info.id)?.phase;
    Some((info.id, info.sip_call_id, phase))
}

/// The relay injects `method` for the call live at `at`, claiming to be
/// `claimed` (the call's other end), unsigned and then signed with its
/// own key; returns `at`'s refusal counters afterwards.
fn forge(w: &mut World<()>, at: usize, claimed: usize, method: Method) -> AppStats {
    let (_, call_id, _) = live_call(w, at).expect("a live call");
    let to_tag = (method != Method::Cancel).then_some("to-1");
    let mut m = request(method, to_tag, &call_id, 40);
    m.via_host = Msg::node_host(w.ids[1]);
    let relay = w.app(1).expect("relay").node().identity().clone();
    let from = w.ids[claimed];
    for bytes in [m.encode(None), sign(&relay, m.encode(None))] {
        w.on_app(at, |a, now| {
            a.on_sip(now, from, &bytes);
            a.pump_calls(now);
        })
        .expect("up");
    }
    *w.app(at).expect("up").stats()
}

/// Over the air: the relay between caller and callee forges a CANCEL
/// while it rings, then a BYE and a re-INVITE at each end once it is
/// up; all are refused and counted and the call carries on. Then each
/// way a real end can end a call (caller cancels, caller hangs up,
/// callee hangs up) ends it at the other end too, with no refusal.
#[test]
fn a_relay_cannot_end_a_call_it_carries_the_ends_can() {
    let mut w = line3(5);
    let callee_name = w.spec.nodes[2].name.clone();
    let zero = AppStats::default();
    for ending in ["caller cancels", "caller hangs up", "callee hangs up"] {
        w.app_outbox.clear();
        w.on_app(0, |a, now| a.dial(now, &callee_name))
            .expect("up")
            .expect("dialled");
        run(&mut w, 1000);
        let (_, _, phase) = live_call(&w, 2).expect("it rings at the callee");
        assert_eq!(phase, CallPhase::Ringing, "{ending}");
        let forged = ending == "caller cancels";
        if forged {
            let s = forge(&mut w, 2, 0, Method::Cancel);
            assert_eq!(s.forged_cancel, 2);
            run(&mut w, 500);
            assert!(live_call(&w, 2).is_some(), "a forged CANCEL ended it");
            // The real caller cancels.
            w.on_app(0, |a, now| a.hangup(now, None))
                .expect("up")
                .expect("hung up");
        } else {
            w.on_app(2, |a, now| a.answer(now, None))
                .expect("up")
                .expect("answered");
            run(&mut w, 1000);
            for i in [0, 2] {
                let (_, _, phase) = live_call(&w, i).expect("up at both ends");
                assert_eq!(phase, CallPhase::Active, "{ending}: node {i}");
            }
            if ending == "caller hangs up" {
                for (at, claimed) in [(2, 0), (0, 2)] {
                    let before = *w.app(at).expect("up").stats();
                    forge(&mut w, at, claimed, Method::Bye);
                    let s = forge(&mut w, at, claimed, Method::Invite);
                    assert_eq!(s.forged_bye, before.forged_bye + 2, "BYE at {at}");
                    assert_eq!(s.forged_reinvite, before.forged_reinvite + 2);
                }
                run(&mut w, 500);
                for i in [0, 2] {
                    let (_, _, phase) = live_call(&w, i).expect("still up");
                    assert_eq!(phase, CallPhase::Active, "forged at {i}");
                }
            }
            let end = if ending == "caller hangs up" { 0 } else { 2 };
            w.on_app(end, |a, now| a.hangup(now, None))
                .expect("up")
                .expect("hung up");
        }
        run(&mut w, 1000);
        // The other end heard the real end: over by its request, not by a
        // timeout.
        let other = if ending == "callee hangs up" { 0 } else { 2 };
        let reason = w.app_outbox.iter().find_map(|(_, i, e)| match e {
            AppEvent::CallEnded { reason, .. } if *i == other => Some(reason.clone()),
            _ => None,
        });
        let want = if forged { "cancelled" } else { "remote hangup" };
        assert_eq!(reason.as_deref(), Some(want), "{ending}");
        assert!(live_call(&w, 0).is_none() && live_call(&w, 2).is_none());
    }
    // Every refusal was a forgery: the real ends' requests never were.
    let s = |i: usize| *w.app(i).expect("up").stats();
    assert_eq!(
        s(2),
        AppStats {
            forged_bye: 2,
            forged_cancel: 2,
            forged_reinvite: 2,
            ..zero
        }
    );
    assert_eq!(
        s(0),
        AppStats {
            forged_bye: 2,
            forged_reinvite: 2,
            ..zero
        }
    );
    assert_eq!(s(1), zero);
}

const PHONE: &str = "127.0.0.1:5070";
const LOCAL: &str = "127.0.0.1:5060";

/// A SIP phone's request to its daemon, as a phone writes it.
fn phone_says(w: &mut World<()>, text: String) {
    let peer = crate::phone::Peer::udp(PHONE.parse().expect("addr"));
    let local = LOCAL.parse().expect("addr");
    w.on_app(0, |a, now| a.handle_sip(now, peer, local, text.as_bytes()))
        .expect("up");
}

fn phone_heard(w: &mut World<()>) -> Vec<String> {
    let a = w.nodes[0].app.as_mut().expect("up");
    std::iter::from_fn(|| a.poll_sip())
        .map(|t| String::from_utf8_lossy(&t.bytes).into_owned())
        .collect()
}

/// A phone registered at node 0 calls node 2 and hangs up: its plain BYE
/// reaches the mesh signed by node 0, and node 2 takes it.
#[test]
fn a_phones_hangup_is_signed_by_its_daemon() {
    let mut w = line3(6);
    let callee = w.spec.nodes[2].name.clone();
    let head = |method: &str, uri: &str, branch: &str, cseq: u32, to_tag: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\nTo: <sip:{callee}@mesh>{to_tag}\r\nFrom: <sip:engine-3@mesh>;tag=pt\r\n\
             Call-ID: phone-call-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:engine-3@{PHONE}>\r\n"
        )
    };
    phone_says(
        &mut w,
        "REGISTER sip:mesh SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr1;rport\r\n\
         Max-Forwards: 70\r\nTo: <sip:engine-3@mesh>\r\nFrom: <sip:engine-3@mesh>;tag=ft\r\n\
         Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:engine-3@127.0.0.1:5070>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
            .into(),
    );
    assert!(
        phone_heard(&mut w)[0].starts_with("SIP/2.0 200"),
        "registered"
    );
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 17792 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n";
    let uri = format!("sip:{callee}@mesh");
    w.app_outbox.clear();
    phone_says(
        &mut w,
        format!(
            "{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            head("INVITE", &uri, "i1", 5, ""),
            sdp.len()
        ),
    );
    let call = w
        .app_outbox
        .iter()
        .find_map(|(_, i, e)| match e {
            AppEvent::PhoneRtpWanted { call, .. } if *i == 0 => Some(*call),
            _ => None,
        })
        .expect("the daemon dials for the phone");
    w.on_app(0, |a, now| a.phone_rtp_ready(now, call, Ok(40000)))
        .expect("up");
    run(&mut w, 1000);
    w.on_app(2, |a, now| a.answer(now, None))
        .expect("up")
        .expect("answered");
    run(&mut w, 1000);
    let ok = phone_heard(&mut w)
        .into_iter()
        .find(|m| m.starts_with("SIP/2.0 200") && m.contains("INVITE"))
        .expect("the phone got its 200");
    let to_tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .map(|t| format!(";tag={}", t.trim()))
        .expect("a To tag");
    let contact = format!("sip:callsign@{LOCAL}");
    phone_says(
        &mut w,
        format!(
            "{}Content-Length: 0\r\n\r\n",
            head("ACK", &contact, "a1", 5, &to_tag)
        ),
    );
    run(&mut w, 200);
    assert_eq!(live_call(&w, 2).map(|c| c.2), Some(CallPhase::Active));
    phone_says(
        &mut w,
        format!(
            "{}Content-Length: 0\r\n\r\n",
            head("BYE", &contact, "b1", 6, &to_tag)
        ),
    );
    run(&mut w, 1000);
    let reason = w.app_outbox.iter().find_map(|(_, i, e)| match e {
        AppEvent::CallEnded { reason, .. } if *i == 2 => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason.as_deref(), Some("remote hangup"));
    assert_eq!(*w.app(2).expect("up").stats(), AppStats::default());
}

proptest::proptest! {
    /// Whatever a forger writes in the header (or around it), nothing
    /// panics and nothing passes for the call's end.
    #[test]
    fn arbitrary_headers_never_pass(
        value in "[ -~]{0,300}",
        hexish in "[0-9a-fA-F]{192}",
        which in 0usize..3,
    ) {
        let a = ident(1);
        let (_, m) = each_request()[which].clone();
        for v in [value, hexish] {
            let mut bytes = m.encode(None);
            let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("end");
            bytes.splice(end..end, format!("\r\n{HEADER}: {v}").into_bytes());
            if let Ok(m2) = Msg::decode(&bytes) {
                let what = in_dialog(&m2).expect("in dialog");
                proptest::prop_assert!(check(&bytes, &m2, what, Some(a.id())).is_err());
            }
        }
    }
}
