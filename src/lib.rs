//! callsign — a zero-configuration mesh communicator for first responders.
//!
//! The crate is layered; each layer depends only on the ones below it.
//!
//! | layer | owns | never touches |
//! |---|---|---|
//! | [`identity`] | device keys, NodeId | sockets, clocks, files |
//! | [`wire`] | packet formats, total decoders | state |
//! | [`link`] | neighbours, hellos, ETX | routes |
//! | [`route`] | Babel-style distance vector | sockets, clocks |
//! | [`flood`] | duplicate suppression, MPR relay selection | sockets, clocks |
//! | [`names`] | the directory: signed records, leases, exclusive roles, gossip | sockets, clocks, routes |
//! | [`msg`] | store-and-forward messages: sealing, custody, receipts, quotas | sockets, clocks, files (the driver persists its changes) |
//! | [`node`] | the composed sans-IO mesh state machine, forwarding, the directory's transport | sockets, clocks, threads |
//! | [`session`], [`phone`], [`floor`] | SIP between daemons, the SIP front, push-to-talk floor control | sockets, clocks |
//! | [`app`] | calls, talkgroups, instant texts and the phones over one node: what drivers call | sockets, clocks, codecs, files |
//! | [`trust`] | `secured` mode: agency CA, device certificates, packet MACs | sockets, clocks (files only in `trust::cli`) |
//! | [`voice`] | voice payloads: media keys, frame layout, jitter buffer | sockets, clocks, codecs |
//! | [`sim`] | deterministic discrete-event network | real sockets |
//! | `daemon` (feature `daemon`) | tokio shell: UDP, HTTP API, CLI | protocol logic |
//! | `audio` (feature `daemon`) | Opus codec (libopus), WAV files, the offline loss lab | the network |
//!
//! Everything from `identity` to `app`, `names` and `trust` included, is
//! sans-IO (`trust::ca::init` draws a new CA key from the OS, and
//! `trust::cli` reads and writes files: the operator's tools, not the
//! protocol): time is an argument ([`time::Instant`]), randomness is a
//! seeded [`rng::Rng`] or [`rng::KeyRng`], and the entry point for
//! drivers (the daemon, the simulator) is [`app::App`], with its
//! [`node::Node`] inside.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod app;
pub mod flood;
pub mod floor;
pub mod identity;
pub mod link;
pub mod msg;
pub mod names;
pub mod node;
pub mod phone;
pub mod rng;
pub mod route;
pub mod session;
pub mod stats;
// The simulator measures its own wall time (`wall_ms`); the rest of it is
// as deterministic as the core.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod sim;
pub mod time;
pub mod trust;
pub mod voice;
pub mod wire;

// The shell: clocks, sockets, files and threads are its job.
#[cfg(feature = "daemon")]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod daemon;

// The codec (C libopus), WAV files and the offline loss lab.
#[cfg(feature = "daemon")]
#[allow(clippy::disallowed_types)]
pub mod audio;
