//! A private talkgroup's App against replays: packets genuinely sealed by
//! a member, sent again later, are refused and counted; fresh ones pass.

use super::*;
use crate::app::group_key::EpochKey;
use crate::app::group_wire::{KIND_VOICE, voice_header};
use crate::app::{App, AppConfig};
use crate::floor::FloorMsg;
use crate::identity::Identity;
use crate::node::{Config, Node};
use crate::time::{Instant, ms};

const TG: &str = "command-1";

fn app() -> App {
    let now = Instant::ZERO;
    let node = Node::new(Identity::from_secret(&[2; 32]), Config::default(), now, 2);
    let cfg = AppConfig {
        talkgroup_keys: vec![EpochKey::new(group_of(TG), 0, [4; 32])],
        ..AppConfig::default()
    };
    let mut a = App::new(node, cfg, now, [2; 32]);
    a.join(now, TG).expect("joined");
    a
}

fn sealed_floor(clock: u64, m: FloorMsg, from: NodeId) -> Vec<u8> {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&clock.to_be_bytes());
    EpochKey::new(group_of(TG), 0, [4; 32]).seal_control(from, n, &GroupRepr::Floor(m).emit())
}

#[test]
fn replayed_floor_messages_and_stale_bursts_are_refused() {
    let mut a = app();
    let g = group_of(TG);
    let m = NodeId([9; 16]);
    let key = EpochKey::new(g, 0, [4; 32]);
    // At 10 s: member m (its clock 500 000 ms) takes the floor, talks.
    let t0 = Instant::ZERO + ms(10_000);
    let burst = (2 << 30) | 500_000; // emergency
    let taken = sealed_floor(
        500_000,
        FloorMsg::Taken {
            burst,
            prio: Priority::Emergency,
            name: "engine-3".into(),
        },
        m,
    );
    a.on_group_packet(t0, m, g, &taken);
    let frame = key.seal_voice(m, burst, 0, 1234, b"opus");
    a.on_group_packet(t0 + ms(20), m, g, &frame);
    assert_eq!(a.talkgroup(TG).and_then(|t| t.talker).map(|t| t.0), Some(m));
    assert_eq!(a.talkgroup(TG).map(|t| t.bursts_heard), Some(1));
    let release = sealed_floor(501_000, FloorMsg::Release { burst }, m);
    a.on_group_packet(t0 + ms(1000), m, g, &release);
    assert_eq!(a.talkgroup(TG).and_then(|t| t.talker), None);
    assert_eq!(a.stats().tg_replayed, 0);

    // 5 s later an outsider sends the recorded Taken and frame again.
    let t1 = t0 + ms(6000);
    a.on_group_packet(t1, m, g, &taken);
    a.on_group_packet(t1, m, g, &frame);
    assert_eq!(a.talkgroup(TG).and_then(|t| t.talker), None);
    // An hour later (m silent since): the Taken passes as a reboot,
    // but the burst it names is far from m's clock then.
    let t2 = t0 + ms(3_600_000);
    let frame2 = key.seal_voice(m, burst, 7, 1234, b"opus");
    a.on_group_packet(t2, m, g, &frame2);
    assert_eq!(a.talkgroup(TG).map(|t| t.bursts_heard), Some(1));
    assert_eq!(a.stats().tg_replayed, 3);
    assert_eq!(a.stats().tg_refused_total(), 0);

    // A fresh burst of m's: heard.
    let t3 = t2 + ms(1000);
    let clock = 500_000 + 3_591_000;
    let b2 = (1 << 30) | (clock as u32 & ((1 << 30) - 1));
    let req = sealed_floor(
        clock,
        FloorMsg::Taken {
            burst: b2,
            prio: Priority::Command,
            name: "engine-3".into(),
        },
        m,
    );
    a.on_group_packet(t3, m, g, &req);
    a.on_group_packet(t3 + ms(20), m, g, &key.seal_voice(m, b2, 0, 1, b"opus"));
    assert_eq!(a.talkgroup(TG).map(|t| t.bursts_heard), Some(2));
    assert_eq!(a.stats().tg_replayed, 3);
    // The plain voice layout never comes in on a keyed talkgroup.
    let plain = [voice_header(KIND_VOICE, b2, 1, 1).as_slice(), b"x"].concat();
    a.on_group_packet(t3 + ms(40), m, g, &plain);
    assert_eq!(a.stats().tg_refused_voice, 1);
}
