//! Knobs of the link and routing protocols, as one serde-backed struct
//! (the daemon's config file and the simulator's presets). They live here,
//! in the lowest layer that reads them; the node and the layers above
//! re-export them.

use std::time::Duration;

/// The stall grace that rides out a daemon stopped for up to 500 ms (a
/// busy handset, a SIGSTOP): such a stall that hides a hello after one was
/// lost ends at most 500 ms after the suspicion began, and its answers to
/// the queued probes take a few milliseconds more.
pub const STALL_GRACE: Duration = Duration::from_millis(550);

/// Knobs of the routing and link protocols. Two presets: [`Timers::callsign`]
/// (adaptive) and [`Timers::babel_default`] (RFC 8966 defaults, for
/// side-by-side comparison).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Timers {
    /// Multicast hello interval when nothing flows.
    #[serde(with = "ms_serde")]
    pub hello_idle: Duration,
    /// Hello interval during the first seconds after start (fast discovery).
    #[serde(with = "ms_serde")]
    pub hello_startup: Duration,
    /// How many startup hellos are sent before slowing to `hello_idle`.
    pub startup_hellos: u32,
    /// Unicast hello interval towards a neighbour that sends us traffic;
    /// `None` disables fast mode.
    #[serde(with = "opt_ms_serde")]
    pub hello_fast: Option<Duration>,
    /// How long fast mode lasts after the last data packet.
    #[serde(with = "ms_serde")]
    pub fast_linger: Duration,
    /// A neighbour is suspected after this many idle intervals of silence.
    pub hold_factor_idle: f64,
    /// ... or this many fast intervals while it carries our traffic.
    pub hold_factor_fast: f64,
    /// Liveness probes sent to a suspected neighbour before it is declared
    /// dead (0: declare dead as soon as the hold time passes).
    pub probes: u32,
    #[serde(with = "ms_serde")]
    pub probe_interval: Duration,
    /// A quiet link fallen silent is declared dead no sooner than this
    /// after it became suspect (its probes spread over it): a neighbour
    /// whose daemon stalls for up to about this long is not buried. Zero
    /// (the default): probes back to back; [`STALL_GRACE`] rides out
    /// stalls of 500 ms.
    #[serde(with = "ms_serde")]
    pub stall_grace: Duration,
    /// The neighbour list (IHU) rides in every Nth multicast hello.
    pub ihu_every: u32,
    /// A neighbour whose IHU we have not had for this many IHU intervals is
    /// treated as not hearing us.
    pub ihu_hold_factor: f64,
    /// Full route table dump interval.
    #[serde(with = "ms_serde")]
    pub update_interval: Duration,
    /// Routes not refreshed for this many update intervals expire.
    pub route_expiry_factor: f64,
    /// Delay before a triggered update is sent (batches changes).
    #[serde(with = "ms_serde")]
    pub triggered_delay: Duration,
    /// Delay for urgent updates (retractions, seqno changes).
    #[serde(with = "ms_serde")]
    pub urgent_delay: Duration,
    /// Hop-by-hop acknowledgement timeout for control-class data.
    #[serde(with = "ms_serde")]
    pub ack_timeout: Duration,
    /// Retransmissions of control-class data per hop.
    pub max_retransmissions: u32,
    /// A failed hop-by-hop delivery makes the neighbour suspect at once.
    pub ack_failure_suspects: bool,
    /// How long control data waits for a route before it is given up.
    #[serde(with = "ms_serde")]
    pub pending_timeout: Duration,
    /// Voice frames older than this in a queue are dropped, not sent.
    #[serde(with = "ms_serde")]
    pub voice_max_queue_delay: Duration,
    /// Hop-by-hop protection of voice flows.
    pub voice_protection: VoiceProtection,
    /// Mesh-level protection of flooded group voice.
    pub flood_protection: FloodProtection,
    /// A lost voice flood is asked for this long after its gap is seen...
    #[serde(with = "ms_serde")]
    pub flood_nack_delay: Duration,
    /// ...and again this often until its deadline.
    #[serde(with = "ms_serde")]
    pub flood_nack_retry: Duration,
    /// Earlier voice floods each one carries when protection is
    /// `Redundant` or `Quality` (at most `wire::MAX_REDUNDANT`).
    pub flood_redundancy: u8,
}

/// Hop-by-hop protection of voice flow frames (`Node::send_voice`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProtection {
    /// Each frame is sent once per hop (the baseline).
    None,
    /// Each hop asks for an acknowledgement and retransmits a lost frame
    /// (at most twice, within 40 ms of its first send).
    #[default]
    Arq,
}

/// Mesh-level protection of floods: what makes talkgroup voice reach every
/// member. `callsign sim --ptt --compare-protection` measures each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FloodProtection {
    /// Plain MPR flooding: a node relays a packet only if the first copy
    /// it heard came from a neighbour that chose it as a relay.
    None,
    /// RFC 3626's forwarding rule: a relay relays a packet once, when any
    /// copy comes from a neighbour that chose it (a lost first copy from
    /// that neighbour no longer silences it).
    Relay,
    /// `Relay`, and voice floods lost on the way are asked for again from
    /// the upstream neighbour within the frame's deadline (`flood::repair`).
    Repair,
    /// `Repair`, and each voice flood carries a copy of its origin's
    /// previous one (`wire::flags::REDUNDANT`): a single loss anywhere is
    /// made good by the next packet, 20 ms later, with no NACK.
    #[default]
    Redundant,
    /// `Redundant`, with relays chosen by link quality (`link::mpr`): a
    /// two-hop neighbour is covered by a relay whose path delivers nearly
    /// as well as its best one, not by the one that reaches furthest.
    Quality,
}

impl FloodProtection {
    /// A relay relays once on any copy from a neighbour that chose it.
    pub fn relays_any_copy(self) -> bool {
        self != FloodProtection::None
    }

    /// Lost voice floods are asked for again.
    pub fn repairs(self) -> bool {
        !matches!(self, FloodProtection::None | FloodProtection::Relay)
    }

    /// Voice floods carry their origin's previous one.
    pub fn redundant(self) -> bool {
        matches!(self, FloodProtection::Redundant | FloodProtection::Quality)
    }

    /// Relays are chosen by link quality: `Some((slack, p))`, a relay
    /// counts for a two-hop neighbour when its path is within `slack` of
    /// the best, and neighbours whose best path delivers less than `p`
    /// get two.
    pub fn quality_relays(self) -> Option<(f64, f64)> {
        (self == FloodProtection::Quality).then_some((crate::link::mpr::SLACK, 0.0))
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers::callsign()
    }
}

impl Timers {
    /// How long a route candidate lives without being refreshed.
    pub fn route_hold(&self) -> Duration {
        self.update_interval.mul_f64(self.route_expiry_factor)
    }

    /// Adaptive timers: slow hellos when idle, fast towards neighbours that
    /// carry traffic, link-layer feedback from acknowledgements.
    pub fn callsign() -> Self {
        Timers {
            // An idle hello every 2.1 s keeps a node under 0.5 packets/s
            // on a shared channel; two missed ones (4.4 s with the hold
            // factor) make a neighbour suspect, so an idle relay's death
            // is repaired within 5 s. Traffic switches to fast hellos.
            hello_idle: Duration::from_millis(2100),
            hello_startup: Duration::from_millis(200),
            startup_hellos: 5,
            hello_fast: Some(Duration::from_millis(100)),
            fast_linger: Duration::from_millis(2000),
            hold_factor_idle: 2.1,
            hold_factor_fast: 2.5,
            probes: 2,
            probe_interval: Duration::from_millis(12),
            // Off by default: the grace ([`STALL_GRACE`]) keeps stalls of
            // 500 ms from being deaths, but measured in the 100-node
            // acceptance it took flow repair p95 from 498 to 735 ms
            // (seed 1) and idle repair p95 past 5 s (5090 ms): a dead
            // relay matters more than a short route flap around a
            // stalled one. A radio profile turns it on.
            stall_grace: Duration::ZERO,
            // The neighbour list every 12.6 s: its size grows with the
            // neighbour count, so it must not ride every hello.
            ihu_every: 6,
            ihu_hold_factor: 6.0,
            // Updates go out when a route changes or a neighbour asks
            // (numbered multicast updates are asked for again when one is
            // missed, tables when a route count is short): the periodic
            // dump is only a backstop.
            update_interval: Duration::from_secs(600),
            route_expiry_factor: 3.5,
            triggered_delay: Duration::from_millis(40),
            urgent_delay: Duration::from_millis(4),
            ack_timeout: Duration::from_millis(30),
            max_retransmissions: 2,
            ack_failure_suspects: true,
            pending_timeout: Duration::from_millis(3000),
            voice_max_queue_delay: Duration::from_millis(100),
            voice_protection: VoiceProtection::Arq,
            flood_protection: FloodProtection::Redundant,
            flood_nack_delay: Duration::from_millis(1),
            flood_nack_retry: Duration::from_millis(20),
            flood_redundancy: 3,
        }
    }

    /// RFC 8966 defaults (hello 4 s, IHU 3 × hello, update 16 s, no fast
    /// hellos, no link-layer feedback), to compare against in one run.
    pub fn babel_default() -> Self {
        Timers {
            hello_idle: Duration::from_secs(4),
            hello_startup: Duration::from_secs(4),
            startup_hellos: 0,
            hello_fast: None,
            fast_linger: Duration::from_millis(0),
            hold_factor_idle: 3.5,
            hold_factor_fast: 3.5,
            probes: 0,
            probe_interval: Duration::from_millis(100),
            stall_grace: Duration::ZERO,
            ihu_every: 3,
            ihu_hold_factor: 3.5,
            update_interval: Duration::from_secs(16),
            route_expiry_factor: 3.5,
            ack_failure_suspects: false,
            // What RFC 8966 has no counterpart for (acknowledged data,
            // voice and flood protection) is ours in both.
            ..Timers::callsign()
        }
    }
}

mod ms_serde {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(v))
    }
}

mod opt_ms_serde {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_u64(0),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let v: u64 = serde::Deserialize::deserialize(d)?;
        Ok((v > 0).then(|| Duration::from_millis(v)))
    }
}
