//! Radio profiles: how far a radio reaches, how lossy a link is at a given
//! distance, how long a packet occupies the air, and which timers a device
//! of that kind runs. Profiles are TOML files under `radio-profiles/`; the
//! shipped ones are compiled in so `callsign sim` works from any directory.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::node::Timers;

use super::SimError;

/// Bytes of UDP (8) and IPv6 (40) header every overlay datagram carries on air.
pub const UDP_IPV6_OVERHEAD: usize = 48;

const BUNDLED: &[(&str, &str)] = &[
    (
        "handset-2g4",
        include_str!("../../radio-profiles/handset-2g4.toml"),
    ),
    (
        "truck-5g",
        include_str!("../../radio-profiles/truck-5g.toml"),
    ),
];

/// Loss versus distance: flat `near` up to `knee` × range, then rising
/// linearly to `edge` at the range limit. Beyond range nothing is heard.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossModel {
    pub near: f64,
    pub knee: f64,
    pub edge: f64,
}

/// One radio kind, as loaded from `radio-profiles/NAME.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioProfile {
    pub name: String,
    /// What the daemon will bring up for it (informational in the simulator).
    #[serde(default)]
    pub kind: String,
    /// Radios hear each other only on the same channel.
    pub channel: String,
    /// SSID or mesh id (informational in the simulator; the daemon takes
    /// its own from `[link]`).
    #[serde(default)]
    pub mesh_id: String,
    pub range_m: f64,
    pub loss: LossModel,
    /// PHY rate used for multicast and unicast alike (airtime).
    pub bitrate_bps: f64,
    /// Per-packet MAC cost: preamble, contention window, SIFS/ACK.
    pub mac_overhead_us: f64,
    /// One-hop latency beyond airtime (driver, queueing in the card).
    pub latency_ms: f64,
    /// Uniform extra latency in [0, jitter_ms].
    pub jitter_ms: f64,
    /// Link cost weight given to the node for this interface (256 = neutral).
    pub cost_weight: u16,
    /// How fast the signal fades with distance (2 in free space, 3 to 4
    /// among buildings): turns an obstacle's dB into extra distance
    /// (`obstacles.rs`).
    #[serde(default = "default_path_loss_exponent")]
    pub path_loss_exponent: f64,
    /// Overrides of the selected timer preset, same keys as `node::Timers`
    /// (durations in milliseconds).
    #[serde(default)]
    pub timers: Option<toml::Table>,
    /// How the daemon brings the radio up (mode, frequency, SSID or mesh
    /// id, multicast rate): read by `callsign up`, not by the simulator.
    #[serde(default)]
    pub link: Option<toml::Table>,
}

fn default_path_loss_exponent() -> f64 {
    3.0
}

impl RadioProfile {
    /// A shipped profile by name, or a profile file by path (anything that
    /// ends in `.toml`; relative paths are taken from `base`).
    pub fn load(name_or_path: &str, base: Option<&Path>) -> Result<Self, SimError> {
        if let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, name_or_path);
        }
        if !name_or_path.ends_with(".toml") {
            let known: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
            return Err(SimError::Input(format!(
                "unknown radio profile {name_or_path:?} (shipped: {}; or give a .toml path)",
                known.join(", ")
            )));
        }
        let path = match base {
            Some(b) => b.join(name_or_path),
            None => Path::new(name_or_path).to_path_buf(),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SimError::Input(format!("cannot read radio profile {}: {e}", path.display()))
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, SimError> {
        let p: RadioProfile = toml::from_str(text)
            .map_err(|e| SimError::Input(format!("radio profile {origin}: {e}")))?;
        p.validate()
            .map_err(|e| SimError::Input(format!("radio profile {origin}: {e}")))?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), String> {
        let l = &self.loss;
        let prob = |x: f64| (0.0..=1.0).contains(&x);
        if !(self.range_m > 0.0 && self.range_m.is_finite()) {
            return Err("range_m must be a positive number".into());
        }
        if !(prob(l.near) && prob(l.edge) && prob(l.knee)) {
            return Err("loss.near, loss.knee and loss.edge must lie in [0, 1]".into());
        }
        if !(self.bitrate_bps > 0.0 && self.bitrate_bps.is_finite()) {
            return Err("bitrate_bps must be positive".into());
        }
        if !(self.mac_overhead_us >= 0.0 && self.latency_ms >= 0.0 && self.jitter_ms >= 0.0) {
            return Err("mac_overhead_us, latency_ms and jitter_ms must not be negative".into());
        }
        if !(self.path_loss_exponent >= 1.0 && self.path_loss_exponent <= 10.0) {
            return Err("path_loss_exponent must lie in [1, 10]".into());
        }
        if self.cost_weight == 0 {
            return Err("cost_weight must be at least 1".into());
        }
        Ok(())
    }

    /// Loss probability of one datagram over `d` metres on a link whose
    /// reach is `range` (the shorter of the two radios').
    pub fn loss_at(&self, d: f64, range: f64) -> f64 {
        let l = &self.loss;
        let knee = l.knee * range;
        if d <= knee || range <= knee {
            return l.near;
        }
        let f = ((d - knee) / (range - knee)).clamp(0.0, 1.0);
        l.near + (l.edge - l.near) * f
    }

    /// Time one datagram of `len` overlay bytes occupies the air.
    pub fn airtime(&self, len: usize) -> Duration {
        let bits = ((len + UDP_IPV6_OVERHEAD) * 8) as f64;
        let us = bits / self.bitrate_bps * 1e6 + self.mac_overhead_us;
        Duration::from_micros(us.ceil() as u64)
    }

    /// The timer preset with this profile's overrides applied.
    pub fn timers(&self, preset: &Timers) -> Result<Timers, SimError> {
        let Some(over) = &self.timers else {
            return Ok(preset.clone());
        };
        let err =
            |e: String| SimError::Input(format!("radio profile {}: [timers]: {e}", self.name));
        let base = toml::Value::try_from(preset).map_err(|e| err(e.to_string()))?;
        let toml::Value::Table(mut table) = base else {
            return Err(err("timer preset is not a table".into()));
        };
        for (k, v) in over {
            if !table.contains_key(k) {
                return Err(err(format!("unknown timer {k:?}")));
            }
            table.insert(k.clone(), v.clone());
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_parse() {
        for (name, _) in BUNDLED {
            let p = RadioProfile::load(name, None).expect("shipped profile");
            assert_eq!(&p.name, name);
            p.timers(&Timers::callsign())
                .expect("timer overrides apply");
        }
    }

    #[test]
    fn the_daemons_profiles_are_read_here_too() {
        // The daemon reads the same files for radio set-up (its tests
        // check 128 there); [link] is the daemon's and ignored here.
        let p = RadioProfile::load("truck-5g", None).expect("profile");
        assert_eq!(p.cost_weight, 128);
    }

    #[test]
    fn loss_rises_towards_the_edge() {
        let p = RadioProfile::load("handset-2g4", None).expect("profile");
        let r = p.range_m;
        assert_eq!(p.loss_at(0.0, r), p.loss.near);
        assert!(p.loss_at(0.9 * r, r) > p.loss.near);
        assert!((p.loss_at(r, r) - p.loss.edge).abs() < 1e-9);
    }

    #[test]
    fn bad_timer_override_is_an_error() {
        let mut p = RadioProfile::load("handset-2g4", None).expect("profile");
        let mut t = toml::Table::new();
        t.insert("no_such_timer".into(), toml::Value::Integer(3));
        p.timers = Some(t);
        assert!(p.timers(&Timers::callsign()).is_err());
    }
}
