//! Deterministic discrete-event network simulator: `callsign sim`.
//!
//! A world of nodes on a plane ([`scenario`]), each with one radio per
//! interface ([`radio`]), driven through the exact `Node` calling contract
//! by a single-threaded event loop ([`world`]). The standard run ([`run`])
//! cold-starts every node, measures convergence and idle overhead, then
//! kills relays under probe flows and idle relays, floods, and reports the
//! figures of [`metrics::Report`]. The same world and seed give the same
//! report, byte for byte (apart from `wall_ms`, which measures the host).
//! `docs/SIM.md` defines every figure.

pub mod checks;
pub mod cli;
pub mod day;
pub mod ferry;
pub mod graph;
pub mod layout;
pub mod metrics;
pub mod obstacles;
pub mod place;
pub mod place_spots;
pub mod plan_cli;
pub mod plan_report;
pub mod radio;
pub mod run;
pub mod scenario;
pub mod svg;
pub mod svg_legend;
pub mod svg_text;
pub mod voice;
pub mod world;

pub use metrics::{Comparison, Report};
pub use run::Sim;
pub use scenario::WorldSpec;

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Bad command line or input file: the user's to fix (exit code 2).
    #[error("{0}")]
    Input(String),
}

/// Knobs of the standard run (`callsign sim --help` documents each).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub seed: u64,
    /// `callsign` or `babel-default`.
    pub timers: String,
    /// Extra random loss on every link, on top of the distance model.
    pub loss: f64,
    pub boot_jitter_s: f64,
    pub converge_timeout_s: f64,
    /// Idle window; default: the larger of 20 s and the update interval.
    pub idle_s: Option<f64>,
    /// Time from convergence to the start of the idle window.
    pub settle_s: f64,
    /// Number of random probe flows (when none are given explicitly).
    pub flows: Option<usize>,
    pub flows_explicit: Vec<(usize, usize)>,
    pub flow_interval_ms: f64,
    pub min_flow_hops: u32,
    pub kills: Option<usize>,
    pub idle_kills: Option<usize>,
    /// Time between kills; default: the larger of 4 s and 6 idle hellos.
    pub kill_interval_s: Option<f64>,
    pub floods: Option<usize>,
    /// Hard stop in simulated seconds.
    pub duration_s: Option<f64>,
    /// Route check interval; default 50 ms up to 200 nodes, else 1 s.
    pub check_ms: Option<f64>,
    /// Names claimed at boot and the directory phase (probe claims,
    /// partition and heal); off = the mesh core alone.
    pub names: bool,
    /// Talkgroups and calls (`--ptt`, `--calls`).
    pub voice: Option<run::voice::VoiceOptions>,
    /// Override of the preset's flood protection (`--flood-protection`).
    pub flood_protection: Option<crate::node::FloodProtection>,
    /// Override of the preset's idle hello interval (`--hello-idle`), for
    /// the overhead against idle repair curve.
    pub hello_idle_ms: Option<u64>,
    /// Override of the preset's periodic dump interval (`--update-interval`).
    pub update_interval_s: Option<u64>,
    /// Stall lengths of the stall phase in ms (`--stalls`; empty: none).
    pub stalls_ms: Vec<u64>,
    /// Stalls of each length (`--stall-count`).
    pub stall_count: usize,
    /// Override of the callsign preset's stall grace (`--stall-grace`).
    pub stall_grace_ms: Option<u64>,
    pub quiet: bool,
    /// Report the host's wall time (`false`: `wall_ms` is 0, for byte-identical output).
    pub wall_clock: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 1,
            timers: "callsign".into(),
            loss: 0.0,
            boot_jitter_s: 0.1,
            converge_timeout_s: 60.0,
            idle_s: None,
            settle_s: 10.0,
            flows: None,
            flows_explicit: Vec::new(),
            flow_interval_ms: 20.0,
            min_flow_hops: 3,
            kills: None,
            idle_kills: None,
            kill_interval_s: None,
            floods: None,
            duration_s: None,
            check_ms: None,
            names: true,
            voice: None,
            flood_protection: None,
            hello_idle_ms: None,
            update_interval_s: None,
            stalls_ms: Vec::new(),
            stall_count: 20,
            stall_grace_ms: None,
            quiet: true,
            wall_clock: true,
        }
    }
}

/// Run one world under `opts`.
pub fn simulate(spec: WorldSpec, opts: RunOptions) -> Result<Report, SimError> {
    Ok(Sim::new(spec, opts)?.run())
}

/// Run the same world under both timer presets.
pub fn compare(spec: WorldSpec, opts: RunOptions) -> Result<Comparison, SimError> {
    let ours = simulate(
        spec.clone(),
        RunOptions {
            timers: "callsign".into(),
            ..opts.clone()
        },
    )?;
    let babel = simulate(
        spec,
        RunOptions {
            timers: "babel-default".into(),
            ..opts
        },
    )?;
    Ok(Comparison::new(ours, babel))
}
