//! The Cursor-on-Target output (`up --cot`): the UDP multicast socket
//! (TTL 1: the command post's LAN, never further) and the pacing that
//! bounds its packets per second however large the directory. The XML is
//! built by `app::cot`; which members go out and when is the engine's
//! (`engine/tak.rs`).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::time::Instant;

/// The TAK clients' default SA multicast group and port.
pub const DEFAULT_ADDR: &str = "239.2.3.1:6969";
pub const DEFAULT_INTERVAL_S: u64 = 10;
/// Packets per second at most, sustained; the rest of a round waits.
pub const MAX_PER_S: u64 = 20;
/// Packets sent back to back at most (a mayday goes at once even just
/// after a round began).
const BURST: u64 = 5;
/// Reports queued at most. A round holds at most what the rate can send
/// in one interval; what is left of a round when the next begins is
/// dropped (the new one is fresher), and the next round starts where the
/// last one stopped, so in a directory too large for the rate every member
/// still goes out in turn.
const MAX_QUEUE: usize = 4096;

/// `up --cot` and its options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CotSettings {
    pub addr: SocketAddrV4,
    pub interval: Duration,
    /// Send out of this interface (its IPv4 address); `None`: where the
    /// routing table sends the group.
    pub iface: Option<String>,
}

/// A token bucket over whole packets: `BURST` at once, then one every
/// `1 / MAX_PER_S` s.
#[derive(Debug)]
struct Pacer {
    tokens: u64,
    /// When the next token is added.
    next: Instant,
}

impl Pacer {
    const STEP: Duration = Duration::from_micros(1_000_000 / MAX_PER_S);

    fn new(now: Instant) -> Self {
        Pacer {
            tokens: BURST,
            next: now + Self::STEP,
        }
    }

    fn refill(&mut self, now: Instant) {
        while self.tokens < BURST && self.next <= now {
            self.tokens += 1;
            self.next = self.next + Self::STEP;
        }
        if self.tokens >= BURST && self.next <= now {
            self.next = now + Self::STEP;
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// The queue of reports and the pacing, without the socket.
#[derive(Debug)]
pub struct Schedule {
    interval: Duration,
    next_round: Instant,
    queue: VecDeque<Vec<u8>>,
    pacer: Pacer,
    /// Where the next round starts in the member list.
    pub offset: usize,
    pub dropped: u64,
}

impl Schedule {
    pub fn new(now: Instant, interval: Duration) -> Self {
        Schedule {
            interval,
            next_round: now,
            queue: VecDeque::new(),
            pacer: Pacer::new(now),
            offset: 0,
            dropped: 0,
        }
    }

    /// How long after it is sent a report goes stale: three rounds, so
    /// one or two lost datagrams do not grey a marker out.
    pub fn stale(&self) -> Duration {
        self.interval * 3
    }

    /// Reports one round may queue.
    pub fn round_cap(&self) -> usize {
        let per_round = MAX_PER_S.saturating_mul(self.interval.as_secs().max(1));
        usize::try_from(per_round).map_or(MAX_QUEUE, |n| n.min(MAX_QUEUE))
    }

    pub fn round_due(&self, now: Instant) -> bool {
        self.next_round <= now
    }

    /// A new round replaces what is left of the last.
    pub fn start_round(&mut self, now: Instant, reports: Vec<Vec<u8>>) {
        self.dropped += self.queue.len() as u64;
        self.queue.clear();
        let cap = self.round_cap();
        self.dropped += reports.len().saturating_sub(cap) as u64;
        self.queue.extend(reports.into_iter().take(cap));
        self.next_round = now + self.interval;
    }

    /// An alert goes before every report.
    pub fn urgent(&mut self, packet: Vec<u8>) {
        if self.queue.len() >= MAX_QUEUE {
            self.queue.pop_back();
            self.dropped += 1;
        }
        self.queue.push_front(packet);
    }

    /// The next packet the rate allows now.
    pub fn next_packet(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.queue.is_empty() || !self.pacer.take(now) {
            return None;
        }
        self.queue.pop_front()
    }

    /// When to wake: the next round, or the next token while reports wait.
    pub fn next_due(&self) -> Instant {
        if self.queue.is_empty() {
            self.next_round
        } else {
            self.next_round.min(self.pacer.next)
        }
    }
}

/// The socket and its schedule.
pub struct CotOut {
    sock: Socket,
    dest: SockAddr,
    pub schedule: Schedule,
    pub sent: u64,
    failing: bool,
}

impl CotOut {
    pub fn open(s: &CotSettings, now: Instant) -> Result<Self, String> {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| format!("CoT socket: {e}"))?;
        sock.set_multicast_ttl_v4(1)
            .and_then(|()| sock.set_nonblocking(true))
            .map_err(|e| format!("CoT socket: {e}"))?;
        if let Some(name) = &s.iface {
            let addr = iface_v4(name)?;
            sock.set_multicast_if_v4(&addr)
                .map_err(|e| format!("--cot-iface {name}: {e}"))?;
        }
        Ok(CotOut {
            sock,
            dest: SockAddr::from(s.addr),
            schedule: Schedule::new(now, s.interval),
            sent: 0,
            failing: false,
        })
    }

    /// Send what the rate allows now. A full socket buffer or a network
    /// that is not there drops the packet; the log says so once per outage.
    pub fn pump(&mut self, now: Instant) {
        while let Some(p) = self.schedule.next_packet(now) {
            match self.sock.send_to(&p, &self.dest) {
                Ok(_) => {
                    self.sent += 1;
                    if self.failing {
                        tracing::info!("CoT output sending again");
                        self.failing = false;
                    }
                }
                Err(e) => {
                    self.schedule.dropped += 1;
                    if !self.failing {
                        tracing::warn!("CoT output cannot send: {e}");
                        self.failing = true;
                    }
                }
            }
        }
    }
}

/// The first IPv4 address of interface `name`.
fn iface_v4(name: &str) -> Result<Ipv4Addr, String> {
    let all = if_addrs::get_if_addrs().map_err(|e| format!("--cot-iface {name}: {e}"))?;
    all.iter()
        .filter(|i| i.name == name)
        .find_map(|i| match i.ip() {
            std::net::IpAddr::V4(a) => Some(a),
            std::net::IpAddr::V6(_) => None,
        })
        .ok_or_else(|| format!("--cot-iface {name}: no such interface with an IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_bounded_whatever_the_directory() {
        let t0 = Instant::from_micros(1_000_000);
        let mut s = Schedule::new(t0, Duration::from_secs(10));
        assert_eq!(s.round_cap(), 200);
        s.start_round(t0, (0..10_000).map(|i| vec![i as u8]).collect());
        assert_eq!(s.dropped, 10_000 - 200);
        // Ten seconds, polled every millisecond: the burst, then the rate.
        let mut sent = 0;
        let mut in_first_second = 0;
        for ms in 0..10_000u64 {
            let now = t0 + Duration::from_millis(ms);
            while s.next_packet(now).is_some() {
                sent += 1;
                if ms < 1000 {
                    in_first_second += 1;
                }
            }
        }
        assert_eq!(in_first_second, BURST + MAX_PER_S - 1);
        assert_eq!(sent, 200);
    }

    #[test]
    fn an_alert_jumps_the_queue() {
        let t0 = Instant::from_micros(1_000_000);
        let mut s = Schedule::new(t0, Duration::from_secs(10));
        s.start_round(t0, (0..50).map(|i| vec![i]).collect());
        for _ in 0..BURST {
            assert!(s.next_packet(t0).is_some());
        }
        // The bucket is empty; the alert goes with the next token, 50 ms on.
        s.urgent(b"alert".to_vec());
        assert_eq!(s.next_packet(t0), None);
        assert_eq!(s.next_due(), t0 + Pacer::STEP);
        assert_eq!(
            s.next_packet(t0 + Pacer::STEP).as_deref(),
            Some(&b"alert"[..])
        );
    }

    #[test]
    fn a_new_round_replaces_the_old() {
        let t0 = Instant::from_micros(1_000_000);
        let mut s = Schedule::new(t0, Duration::from_secs(1));
        assert!(s.round_due(t0));
        s.start_round(t0, (0..30).map(|i| vec![i]).collect());
        assert_eq!(s.dropped, 10);
        assert!(!s.round_due(t0 + Duration::from_millis(999)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(s.round_due(t1));
        s.start_round(t1, vec![vec![99]]);
        assert_eq!(s.dropped, 30);
        assert_eq!(s.next_packet(t1), Some(vec![99]));
        assert_eq!(s.stale(), Duration::from_secs(3));
    }
}
