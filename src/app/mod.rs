//! The application layer, sans-IO: 1:1 calls, talkgroups (floor control
//! and group voice), instant texts and the SIP phones' front, composed over
//! one [`Node`]. It owns every protocol decision above the mesh: the
//! talkgroup payload format ([`group_wire`]), offer signing and the media
//! key context ([`offer`]), the typed call state, the floors, which voice
//! plays and when ([`playout`]), and the FEC the talkers plan for. The
//! daemon hands it encoded frames and plays what it says; the simulator
//! drives the very same layer with frame-sized payloads and no codec.
//!
//! # Driving an application
//!
//! Like [`Node`] (str0m's poll loop), with the node inside:
//!
//! 1. [`App::new`] once, with the node, the configuration, the time and a
//!    32-byte seed (OS entropy in the daemon, the run's seed in the
//!    simulator) for key shares and labels.
//! 2. Feed inputs: [`App::handle`] for every node [`Input`] (datagrams,
//!    interfaces, [`Input::Timeout`] when [`App::poll_timeout`] is due),
//!    [`App::handle_sip`] for a SIP phone's message, and the commands
//!    ([`App::dial`], [`App::press`], [`App::send_frame`], ...).
//! 3. After each, drain [`App::poll_transmit`] (datagrams for the mesh, in
//!    priority order), [`App::poll_sip`] (messages for SIP phones) and
//!    [`App::poll_event`]. Media events ask for work in the same turn:
//!    [`AppEvent::FrameDue`] wants the next 20 ms encoded and handed to
//!    [`App::send_frame`]; [`AppEvent::Play`] says what the decoder plays.
//! 4. Sleep until [`App::poll_timeout`]. While any stream carries voice it
//!    includes a 20 ms media clock.
//!
//! `now` never goes backwards. The layer is tested where it runs: in the
//! simulator (`tests/sim_voice.rs`), over real nodes.
//!
//! `now` never goes backwards. The node's own commands (claims, messages,
//! pings) go through [`App::with_node`], which acts on what they queued;
//! anything done through [`App::node_mut`] must be followed by
//! [`App::handle`] with [`Input::Timeout`] for the same reason.

pub mod call_auth;
pub mod calls;
pub mod cot;
pub mod group_fresh;
pub mod group_key;
pub mod group_wire;
pub mod offer;
pub mod par;
pub mod par_wire;
pub mod phones;
pub mod playout;
pub mod talkgroups;
pub mod texts;
mod tg_private;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use crate::floor::{FloorConfig, FloorEvent};
use crate::identity::NodeId;
use crate::node::{Event, Input, Node, Transmit};
use crate::phone::{FrontConfig, PhoneMedia};
use crate::rng::KeyRng;
use crate::session::{CallConfig, CallId};
use crate::time::Instant;
pub use crate::voice::jitter::Playout;

pub use calls::{CallPhase, CallView};
pub use par::{ParConfig, ParMember, ParOutcome, ParPending, ParView};
pub use talkgroups::TalkgroupView;

/// Events waiting for the driver; at the limit the oldest is dropped (a
/// driver drains after every input, so this only bounds a stuck one).
pub const MAX_EVENTS: usize = 4096;
/// One media frame: the clock of every stream.
pub const FRAME: Duration = Duration::from_millis(20);
/// Ticks run back to back after a stall before the clock resyncs.
const MAX_CATCH_UP: u32 = 5;
/// Rounds of the inner pump before it yields (a livelock guard).
const MAX_PUMP_ROUNDS: usize = 64;

/// A voice stream: one call's media or one talkgroup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Call(CallId),
    /// A talkgroup, by its flood group ([`group_wire::group_of`]).
    Group(NodeId),
}

/// The application layer's errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AppError {
    /// The request itself is wrong (a bad name, an unknown priority).
    #[error("{0}")]
    BadRequest(String),
    /// What it names does not exist (no such call, no holder, not a member).
    #[error("{0}")]
    NotFound(String),
    /// Not now: the state does not allow it (not ringing, too many groups).
    #[error("{0}")]
    Conflict(String),
    /// A message from the mesh that does not parse.
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error(transparent)]
    Names(#[from] crate::names::NamesError),
}

/// Configuration of the application layer.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// Roles the device was started with: a phone that unregisters never
    /// releases them. The first is the name our calls and floors carry.
    pub fixed_names: Vec<String>,
    pub call: CallConfig,
    pub floor: FloorConfig,
    pub front: FrontConfig,
    /// Opus bit rate of talkgroup voice.
    pub group_bitrate: u32,
    /// PAR roll calls (the recurring timer's interval).
    pub par: ParConfig,
    /// Role patterns (`command`, `engine-*`; [`crate::trust::roles`]) whose
    /// calls this device answers by itself ([`calls::auto_answers`]).
    pub auto_answer: Vec<String>,
    /// Keys of talkgroups private to their members ([`group_key`]): at
    /// most [`talkgroups::MAX_KEYS`]. A talkgroup without one is open.
    pub talkgroup_keys: Vec<group_key::EpochKey>,
}

/// What the application tells its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// A node event this layer does not consume (neighbours, routes,
    /// directory, messages, echo replies, other protocols' data).
    Node(Event),
    /// A call for one of our names rings here (answer or hang up).
    CallIncoming {
        call: CallId,
        from: String,
        node: NodeId,
    },
    CallRinging {
        call: CallId,
        by: NodeId,
    },
    CallAnswered {
        call: CallId,
        by: NodeId,
    },
    /// A call's media starts: open the source and sink at `bitrate` (our
    /// own end) or the phone's RTP bridge (`phone`).
    CallMedia {
        call: CallId,
        bitrate: u32,
        phone: Option<PhoneMedia>,
    },
    CallEnded {
        call: CallId,
        failed: bool,
        code: Option<u16>,
        reason: String,
    },
    /// Floor control of one of our talkgroups.
    Floor {
        group: NodeId,
        talkgroup: String,
        event: FloorEvent,
    },
    PhoneRegistered {
        role: String,
    },
    PhoneUnregistered {
        role: String,
    },
    /// A phone's call needs an RTP socket on `ip`: open one and answer
    /// with [`App::phone_rtp_ready`].
    PhoneRtpWanted {
        call: CallId,
        ip: IpAddr,
    },
    /// An instant text for one of our names (no phone of ours holds it).
    Text {
        from: String,
        to: String,
        node: NodeId,
        body: String,
    },
    /// A PAR roll call asks this device's user to report (alert them;
    /// answer with [`App::par_ack`] or a push-to-talk press).
    ParRequest {
        par: u64,
        from: String,
        talkgroup: Option<String>,
    },
    /// This device acknowledged a roll call.
    ParAnswered {
        par: u64,
    },
    /// A member acknowledged a roll call this device started.
    ParAccounted {
        par: u64,
        node: NodeId,
        name: String,
    },
    /// A roll call this device started closed.
    ParClosed {
        par: u64,
        outcome: ParOutcome,
    },
    /// Encode the next 20 ms of `stream` and hand it to [`App::send_frame`]
    /// (or nothing, when DTX lets the slot go).
    FrameDue {
        stream: Stream,
        index: u64,
    },
    /// `stream` stopped sending (released, denied, pre-empted, ended).
    TxStopped {
        stream: Stream,
    },
    /// One 20 ms playout slot of `stream`.
    Play {
        stream: Stream,
        playout: Playout,
    },
    /// A new talker or burst on `stream`: reset the decoder.
    PlayReset {
        stream: Stream,
    },
    /// Plan the encoder's FEC for this much loss.
    ExpectedLoss {
        stream: Stream,
        pct: u8,
    },
    /// A frame of a phone-bridged call, opened: the plain call payload
    /// (`voice::call_payload`) for the RTP bridge.
    CallFrame {
        call: CallId,
        index: u64,
        capture_ms: u16,
        payload: Vec<u8>,
    },
}

/// One device's application layer. See the module documentation.
pub struct App {
    node: Node,
    cfg: AppConfig,
    keys: KeyRng,
    calls: calls::CallTable,
    groups: talkgroups::Talkgroups,
    texts: texts::Texts,
    pars: par::Pars,
    phones: phones::Phones,
    /// The next 20 ms media tick, while a stream carries voice.
    tick: Option<Instant>,
    events: VecDeque<AppEvent>,
    stats: AppStats,
}

/// What the application layer refused, for the operator (`status.app`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppStats {
    /// In-dialog SIP requests not signed by the call's other end
    /// ([`call_auth`]): a third node trying to hang up, cancel or
    /// re-INVITE someone else's call.
    pub forged_bye: u64,
    pub forged_cancel: u64,
    pub forged_reinvite: u64,
    /// Packets of a talkgroup with a key that did not open with it (or
    /// came plain): voice frames never played, floor messages never let
    /// near the floor, loss reports never planned for.
    #[serde(default)]
    pub tg_refused_voice: u64,
    #[serde(default)]
    pub tg_refused_floor: u64,
    #[serde(default)]
    pub tg_refused_report: u64,
    /// Sealed packets of a talkgroup we hold no key for.
    #[serde(default)]
    pub tg_no_key: u64,
    /// Sealed packets that opened but were stale: a recording sent
    /// again ([`group_fresh`]).
    #[serde(default)]
    pub tg_replayed: u64,
}

impl AppStats {
    pub fn forged_total(&self) -> u64 {
        self.forged_bye + self.forged_cancel + self.forged_reinvite
    }

    /// Talkgroup packets refused for want of the group's key.
    pub fn tg_refused_total(&self) -> u64 {
        self.tg_refused_voice + self.tg_refused_floor + self.tg_refused_report
    }
}

impl App {
    pub fn new(mut node: Node, cfg: AppConfig, now: Instant, seed: [u8; 32]) -> App {
        // The node's texts get a key generator of their own from the same
        // seed (a derived one: the draws below stay as they were).
        node.seed_keys(seed);
        let me = node.id();
        let my_name = cfg
            .fixed_names
            .first()
            .cloned()
            .unwrap_or_else(|| me.short());
        let mut keys = KeyRng::new(seed);
        let front_seed = u64::from_be_bytes(keys.bytes());
        let _ = now;
        let mut groups = talkgroups::Talkgroups {
            fresh: group_fresh::Freshness::new(cfg.floor.max_talk),
            ..Default::default()
        };
        for k in cfg.talkgroup_keys.iter().take(talkgroups::MAX_KEYS) {
            groups.install_key(now, k.clone());
        }
        App {
            calls: calls::CallTable::new(me, my_name, cfg.call.clone()),
            groups,
            texts: texts::Texts::default(),
            pars: par::Pars::new(cfg.par.clone()),
            phones: phones::Phones::new(cfg.front.clone(), front_seed),
            node,
            cfg,
            keys,
            tick: None,
            events: VecDeque::new(),
            stats: AppStats::default(),
        }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node itself: follow any change with `handle(now, Input::Timeout)`
    /// (or use [`App::with_node`], which does it).
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    /// Run `f` on the node (a claim, a message, a flood), then act on what
    /// it queued.
    pub fn with_node<R>(&mut self, now: Instant, f: impl FnOnce(&mut Node) -> R) -> R {
        let r = f(&mut self.node);
        self.pump(now);
        r
    }

    pub fn id(&self) -> NodeId {
        self.node.id()
    }

    /// What this layer refused so far.
    pub fn stats(&self) -> &AppStats {
        &self.stats
    }

    pub fn config(&self) -> &AppConfig {
        &self.cfg
    }

    /// Feed one node input, then act on everything it caused.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.node.handle(now, input);
        self.timers(now);
        self.pump(now);
    }

    /// The next datagram for the mesh, highest priority first.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        self.node.poll_transmit(now)
    }

    pub fn poll_event(&mut self) -> Option<AppEvent> {
        self.events.pop_front()
    }

    /// The earliest time `handle(now, Input::Timeout)` must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.node.poll_timeout(),
            self.calls.poll_timeout(),
            self.groups.poll_timeout(),
            self.phones.poll_timeout(),
            self.texts.poll_timeout(),
            self.pars.poll_timeout(),
            self.tick,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn event(&mut self, e: AppEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// The names this node holds in the directory.
    pub fn held_names(&self) -> Vec<String> {
        self.node
            .directory()
            .held()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// The name our calls and floors carry: the first fixed name, else the
    /// first held one, else the short node id.
    pub fn my_name(&self) -> String {
        self.cfg
            .fixed_names
            .first()
            .cloned()
            .or_else(|| self.held_names().into_iter().next())
            .unwrap_or_else(|| self.node.id().short())
    }

    /// Every other node holding `name`, reachable or not (a call or text
    /// to one with no route fails as unreachable, not unknown).
    pub fn remote_holders(&self, now: Instant, name: &str) -> Vec<NodeId> {
        self.node
            .whois(now, name)
            .into_iter()
            .filter(|h| !h.local)
            .map(|h| h.entry.rec.holder)
            .collect()
    }

    /// Run whatever is due: the sub-machines' timers and the media clock.
    fn timers(&mut self, now: Instant) {
        self.calls_timeout(now);
        self.groups_timeout(now);
        self.phones_timeout(now);
        self.texts_timeout(now);
        self.par_timeout(now);
        self.media_ticks(now);
    }

    /// Act on what the node and the sub-machines queued until nothing is
    /// left: node events, SIP between daemons, floor messages, the phones.
    fn pump(&mut self, now: Instant) {
        for _ in 0..MAX_PUMP_ROUNDS {
            let mut busy = false;
            while let Some(e) = self.node.poll_event() {
                self.on_node_event(now, e);
                busy = true;
            }
            busy |= self.pump_calls(now);
            busy |= self.pump_floors(now);
            busy |= self.pump_front(now);
            if !busy {
                return;
            }
        }
    }

    fn on_node_event(&mut self, now: Instant, e: Event) {
        use crate::wire::proto;
        match e {
            Event::Delivered {
                src,
                proto: p,
                payload,
                ..
            } if p == proto::SIP => self.on_sip(now, src, &payload),
            Event::Delivered {
                src,
                proto: p,
                payload,
                ..
            } if p == proto::TEXT => self.on_text(now, src, &payload),
            Event::Delivered {
                src,
                proto: p,
                payload,
                ..
            } if p == proto::GROUP => self.on_group_unicast(now, src, &payload),
            Event::Delivered {
                src,
                proto: p,
                payload,
                ..
            } if p == proto::PAR => self.on_par(now, src, &payload),
            Event::VoiceFrame {
                src,
                label,
                seq,
                payload,
                ..
            } => self.on_call_frame(now, src, label, seq, &payload),
            Event::FloodDelivered {
                src,
                group,
                class: crate::node::Class::Voice,
                payload,
                ..
            } => self.on_group_packet(now, src, group, &payload),
            Event::Undeliverable { dst, seq } => {
                self.calls_undeliverable(now, dst);
                self.texts_undeliverable(now, dst);
                self.event(AppEvent::Node(Event::Undeliverable { dst, seq }));
            }
            e => self.event(AppEvent::Node(e)),
        }
    }

    /// Streams that need the 20 ms clock now.
    fn media_active(&self) -> bool {
        self.calls.media_active() || self.groups.media_active()
    }

    /// Start the media clock (a no-op while it runs).
    fn ensure_tick(&mut self, now: Instant) {
        if self.tick.is_none() {
            self.tick = Some(now);
        }
    }

    /// Run the 20 ms ticks that are due. A late tick is caught up (the
    /// source and the playout both keep real time), a few at most.
    fn media_ticks(&mut self, now: Instant) {
        let mut n = 0;
        while let Some(t) = self.tick.filter(|t| *t <= now) {
            if !self.media_active() {
                self.tick = None;
                return;
            }
            n += 1;
            if n > MAX_CATCH_UP {
                self.tick = Some(now + FRAME);
                return;
            }
            self.tick_calls(t);
            self.tick_groups(t);
            self.tick = Some(t + FRAME);
        }
    }

    /// Fresh random bytes for a key share.
    fn random32(&mut self) -> [u8; 32] {
        self.keys.bytes()
    }

    /// A fresh flow label: never zero, so a zeroed field matches no flow.
    fn random_label(&mut self) -> u32 {
        self.keys.next_u32().max(1)
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The capture-time field of a frame whose 20 ms began `FRAME` before the
/// tick at `tick`: mouth-to-ear counts from its first sample.
fn capture_ms(tick: Instant) -> u16 {
    ((tick.as_micros() / 1000).saturating_sub(FRAME.as_millis() as u64) % 65536) as u16
}
