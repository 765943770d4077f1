#![no_main]
//! SIP call signalling: `sdp::parse` and `sip::Msg::decode` are total, and
//! a pair of `session::Calls` agents never panics on what arrives.
//!
//! The first byte picks the mode. Even: the rest is split at `0xFF` into
//! messages delivered alternately to the caller and the callee of a call
//! that is ringing. Odd: a scripted call (INVITE, 180, 200, ACK, BYE, 200,
//! then a cancelled one) is played with message number `data[1]` XORed
//! with the rest of the input, so the mutations reach the state machine
//! with Call-ID, tags and branch of a real dialog.
use std::collections::VecDeque;
use std::time::Duration;

use callsign::identity::NodeId;
use callsign::session::sip::Msg;
use callsign::session::{CallConfig, CallEvent, Calls, MediaOffer, sdp};
use callsign::time::Instant;
use libfuzzer_sys::fuzz_target;

const A: NodeId = NodeId([1; 16]);
const B: NodeId = NodeId([2; 16]);

fn offer(label: u32) -> MediaOffer {
    MediaOffer {
        label,
        key: [label as u8; 32],
        key_sig: [7; 64],
        device_key: [9; 32],
        opus_pt: 111,
        bitrate: 24000,
    }
}

struct Pair {
    a: Calls,
    b: Calls,
    now: Instant,
    queue: VecDeque<(bool, Vec<u8>)>,
    delivered: usize,
}

impl Pair {
    fn new() -> Self {
        Pair {
            a: Calls::new(A, "alice".into(), CallConfig::default()),
            b: Calls::new(B, "bob".into(), CallConfig::default()),
            now: Instant::from_millis(1000),
            queue: VecDeque::new(),
            delivered: 0,
        }
    }

    fn deliver(&mut self, to_b: bool, bytes: &[u8]) {
        let now = self.now;
        let _ = if to_b {
            self.b.handle(now, A, bytes)
        } else {
            self.a.handle(now, B, bytes)
        };
        let _ = Msg::decode(bytes);
    }

    /// Deliver everything queued (each message through `mutate` first),
    /// answering incoming calls if `answer`. Returns the incoming calls seen.
    fn pump(&mut self, answer: bool, mutate: &mut dyn FnMut(usize, &mut Vec<u8>)) -> usize {
        let mut incoming = 0;
        for _ in 0..200 {
            while let Some((_, m)) = self.a.poll_send() {
                self.queue.push_back((true, m));
            }
            while let Some((_, m)) = self.b.poll_send() {
                self.queue.push_back((false, m));
            }
            while self.a.poll_event().is_some() {}
            while let Some(e) = self.b.poll_event() {
                if let CallEvent::Incoming { call, .. } = e {
                    incoming += 1;
                    if answer {
                        let _ = self.b.answer(self.now, call, offer(2));
                    }
                }
            }
            let Some((to_b, mut m)) = self.queue.pop_front() else {
                break;
            };
            mutate(self.delivered, &mut m);
            self.delivered += 1;
            self.now = Instant::from_micros(self.now.as_micros() + 5_000);
            self.deliver(to_b, &m);
        }
        incoming
    }

    /// Run the clock for `dur` in 100 ms steps, firing timeouts.
    fn tick(&mut self, dur: Duration, mutate: &mut dyn FnMut(usize, &mut Vec<u8>)) {
        let end = self.now.as_micros() + dur.as_micros() as u64;
        while self.now.as_micros() < end {
            self.now = Instant::from_micros(self.now.as_micros() + 100_000);
            let now = self.now;
            if self.a.poll_timeout().is_some_and(|t| t <= now) {
                self.a.handle_timeout(now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= now) {
                self.b.handle_timeout(now);
            }
            self.pump(false, mutate);
        }
    }
}

/// The scripted call: answered and hung up, then one cancelled while ringing.
fn script(mutate: &mut dyn FnMut(usize, &mut Vec<u8>)) {
    let mut p = Pair::new();
    let now = p.now;
    if let Ok(c) = p.a.dial(now, "bob", &[B], offer(1)) {
        p.pump(true, mutate);
        let _ = p.a.hangup(p.now, c);
        p.pump(false, mutate);
    }
    if let Ok(c) = p.a.dial(p.now, "bob", &[B], offer(3)) {
        p.pump(false, mutate);
        let _ = p.a.hangup(p.now, c);
        p.pump(false, mutate);
    }
    p.tick(Duration::from_secs(40), mutate);
}

fuzz_target!(|data: &[u8]| {
    let _ = sdp::parse(data);
    let _ = Msg::decode(data);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let Some((&which, xor)) = rest.split_first() else {
            return;
        };
        script(&mut |i, m| {
            if i == usize::from(which) && !m.is_empty() {
                let len = m.len();
                for (j, x) in xor.iter().enumerate() {
                    m[j % len] ^= x;
                }
                let _ = sdp::parse(m);
            }
        });
        return;
    }
    let mut p = Pair::new();
    let now = p.now;
    let _ = p.a.dial(now, "bob", &[B], offer(1));
    p.pump(false, &mut |_, _| {});
    for (i, chunk) in rest.split(|b| *b == 0xFF).enumerate() {
        let _ = sdp::parse(chunk);
        p.now = Instant::from_micros(p.now.as_micros() + 7_000);
        p.deliver(i % 2 == 0, chunk);
        p.pump(false, &mut |_, _| {});
    }
    p.tick(Duration::from_secs(35), &mut |_, _| {});
});
