//! `callsign sim`: the command line of the simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use super::metrics::{Comparison, Report};
use super::scenario::{self, GenOptions, WorldSpec};
use super::{RunOptions, SimError, compare, simulate};

/// Simulate an incident mesh and print its figures.
///
/// Without arguments it runs the bundled fireground scenario (two trucks on
/// a 5 GHz backbone, eight handsets, an interior relay failure). The same
/// world and --seed always print the same figures. docs/SIM.md defines each.
///
/// Examples:
///   callsign sim
///   callsign sim --topology random --nodes 100 --loss 0.05 --seed 1 --compare-babel --json
///   callsign sim --topology line --nodes 6 --flow 1:6
///   callsign sim --scenario scenarios/fireground.toml --timers babel-default
///   callsign sim --topology random --nodes 100 --loss 0.05 --ptt --calls 2 --json
///   callsign sim scenarios/warehouse.toml --svg warehouse.svg --place-relay truck-5g
#[derive(clap::Args, Debug, Clone)]
#[command(verbatim_doc_comment)]
pub struct SimArgs {
    /// Generated world: line, ring, grid or random (random geometric graph).
    #[arg(long, conflicts_with = "scenario")]
    pub topology: Option<String>,
    /// Number of nodes of a generated world.
    #[arg(long, default_value_t = 10)]
    pub nodes: usize,
    /// Scenario file (TOML) placing handsets and trucks; see scenarios/.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// The scenario file, given without --scenario.
    #[arg(value_name = "SCENARIO", conflicts_with_all = ["scenario", "topology"])]
    pub scenario_file: Option<PathBuf>,
    /// Radio profile of generated worlds: a shipped name or a .toml path.
    #[arg(long, default_value = "handset-2g4")]
    pub profile: String,
    /// Random worlds: target average degree.
    #[arg(long, default_value_t = 10.0)]
    pub degree: f64,
    /// Random worlds: resample (stretching the area) until the diameter is at
    /// least this many hops [default: 6 from 50 nodes up, else 0].
    #[arg(long)]
    pub min_diameter: Option<u32>,
    /// Seed of everything random: placement, keys, loss, choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Timer preset: callsign (adaptive) or babel-default (RFC 8966).
    #[arg(long, default_value = "callsign")]
    pub timers: String,
    /// Run the world under both presets and print both with their ratios.
    #[arg(long)]
    pub compare_babel: bool,
    /// Extra random loss on every link, e.g. 0.05 [default: 0, or the scenario's].
    #[arg(long)]
    pub loss: Option<f64>,
    /// Idle window in seconds [default: the larger of 20 s and the update interval].
    #[arg(long)]
    pub idle: Option<f64>,
    /// Seconds from convergence to the start of the idle window, so that
    /// table exchanges still finishing are not counted as idle traffic.
    #[arg(long, default_value_t = 10.0)]
    pub settle: f64,
    /// Number of random probe flows (pairs at least 3 hops apart) [default: 4].
    #[arg(long)]
    pub flows: Option<usize>,
    /// A probe flow between two nodes by number (1-based) or name, e.g. 1:6.
    #[arg(long = "flow", value_name = "SRC:DST")]
    pub flow: Vec<String>,
    /// Kills of relays on probe flow paths [default: 5].
    #[arg(long)]
    pub kills: Option<usize>,
    /// Kills of relays that carry routes but no flow [default: 5].
    #[arg(long)]
    pub idle_kills: Option<usize>,
    /// Seconds between kills [default: the larger of 4 s and 6 idle hello intervals].
    #[arg(long)]
    pub kill_interval: Option<f64>,
    /// Kill a node at a time, by number or name, e.g. 3@12.5 (seconds).
    #[arg(long = "kill", value_name = "NODE@SECONDS")]
    pub kill: Vec<String>,
    /// Flooded packets sent after the kills [default: 10].
    #[arg(long)]
    pub floods: Option<usize>,
    /// Stop after this many simulated seconds, whatever phase is running.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Route check interval in ms [default: 50 up to 200 nodes, else 1000].
    #[arg(long)]
    pub check_ms: Option<f64>,
    /// The mesh core alone: no names claimed at boot, no directory phase
    /// (probe claims, partition, heal).
    #[arg(long)]
    pub no_names: bool,
    /// Talkgroup push-to-talk after the idle window: every node joins one
    /// of --talkgroups groups, talkers press for 2-6 s with 1-4 s pauses;
    /// prints frame delivery, mouth-to-ear, access time and airtime.
    #[arg(long)]
    pub ptt: bool,
    /// Talkgroups of --ptt (members spread over the mesh).
    #[arg(long, default_value_t = 2)]
    pub talkgroups: usize,
    /// Seconds of talking in the voice phase (--ptt, --calls).
    #[arg(long, default_value_t = 30.0)]
    pub voice_window: f64,
    /// 1:1 calls between far pairs during the voice phase [--calls alone: 2].
    #[arg(long, num_args = 0..=1, default_missing_value = "2")]
    pub calls: Option<usize>,
    /// Mesh protection of flooded group voice: none (plain MPR flooding),
    /// relay (a relay relays on any copy from a neighbour that chose it),
    /// repair (relay, and lost voice floods are asked for again),
    /// redundant (repair, and each voice flood carries the previous one)
    /// or quality (redundant, relays chosen by link quality)
    /// [default: the preset's, redundant].
    #[arg(long, value_parser = ["none", "relay", "repair", "redundant", "quality"])]
    pub flood_protection: Option<String>,
    /// Run the world under each flood protection and print them side by side.
    #[arg(long)]
    pub compare_protection: bool,
    /// Idle hello interval in ms instead of the callsign preset's (the
    /// RFC 8966 preset keeps its own): the overhead against idle repair
    /// curve of `benches/quiet_curve.sh`.
    #[arg(long)]
    pub hello_idle: Option<u64>,
    /// Periodic route dump interval in seconds instead of the callsign
    /// preset's.
    #[arg(long)]
    pub update_interval: Option<u64>,
    /// Stall phase after the idle window: random nodes stopped (as by
    /// SIGSTOP) for each of these lengths in ms, one at a time on the
    /// quiet mesh, e.g. `150,300,500`; prints the neighbour deaths and
    /// routes lost they caused, before the flows and kills.
    #[arg(long, value_delimiter = ',')]
    pub stalls: Vec<u64>,
    /// Stalls of each length of --stalls.
    #[arg(long, default_value_t = 20)]
    pub stall_count: usize,
    /// Stall grace in ms instead of the callsign preset's 550 (0: none,
    /// probes back to back on every link, as before the grace).
    #[arg(long)]
    pub stall_grace: Option<u64>,
    /// Bytes of one simulated voice frame (70: Opus at 28 kbit/s).
    #[arg(long, default_value_t = crate::sim::voice::DEFAULT_FRAME_BYTES)]
    pub frame_bytes: usize,
    /// Run the message ferry world instead: two groups of handsets joined
    /// only by a walking responder; prints delivery ratio, latency and the
    /// most copies of one message held (see docs/SIM.md).
    #[arg(long)]
    pub ferry: bool,
    /// Run the simulated day instead: HOURS simulated on a random mesh of
    /// --nodes walking handsets at --loss (default 0.05), a node killed
    /// every few minutes and back a few minutes later; prints loops,
    /// table bounds, memory per node and wall time, exits 1 if a check
    /// failed (see docs/SIM.md; `--day 24 --nodes 100` is the day).
    #[arg(long, value_name = "HOURS")]
    pub day: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Report wall_ms as 0, so repeated runs print byte-identical output.
    #[arg(long)]
    pub no_wall_clock: bool,
    /// Pictures and relay placement (`plan_cli.rs`).
    #[command(flatten)]
    pub plan: super::plan_cli::PlanArgs,
}

/// Build the world the arguments describe.
pub fn world(args: &SimArgs) -> Result<WorldSpec, SimError> {
    let file = args.scenario.as_ref().or(args.scenario_file.as_ref());
    let mut spec = match (&args.topology, file) {
        (Some(t), _) => {
            let opt = GenOptions {
                nodes: args.nodes,
                profile: args.profile.clone(),
                degree: args.degree,
                min_diameter: args
                    .min_diameter
                    .unwrap_or(if args.nodes >= 50 { 6 } else { 0 }),
            };
            let mut rng = scenario::topology_rng(args.seed);
            scenario::generate(t, &opt, &mut rng)?
        }
        (None, Some(path)) => scenario::load_scenario(path)?,
        (None, None) => {
            scenario::parse_scenario(scenario::DEFAULT_SCENARIO, "fireground (bundled)", None)?
        }
    };
    for k in &args.kill {
        let (node, at) = k
            .split_once('@')
            .ok_or_else(|| SimError::Input(format!("--kill {k:?}: expected NODE@SECONDS")))?;
        let at: f64 = at
            .parse()
            .ok()
            .filter(|x: &f64| *x >= 0.0 && x.is_finite())
            .ok_or_else(|| SimError::Input(format!("--kill {k:?}: bad time")))?;
        let i = node_ref(&spec, node)?;
        spec.failures.push((at, i));
    }
    Ok(spec)
}

/// A node by 1-based number or by name.
fn node_ref(spec: &WorldSpec, s: &str) -> Result<usize, SimError> {
    if let Some(i) = spec.nodes.iter().position(|n| n.name == s) {
        return Ok(i);
    }
    match s.parse::<usize>() {
        Ok(k) if k >= 1 && k <= spec.nodes.len() => Ok(k - 1),
        _ => Err(SimError::Input(format!(
            "no node {s:?} (give a number 1..={} or a name)",
            spec.nodes.len()
        ))),
    }
}

pub fn options(args: &SimArgs, spec: &WorldSpec) -> Result<RunOptions, SimError> {
    let mut flows = Vec::new();
    for f in &args.flow {
        let (a, b) = f
            .split_once(':')
            .ok_or_else(|| SimError::Input(format!("--flow {f:?}: expected SRC:DST")))?;
        let (a, b) = (node_ref(spec, a)?, node_ref(spec, b)?);
        if a == b {
            return Err(SimError::Input(format!(
                "--flow {f:?}: source and destination are the same"
            )));
        }
        flows.push((a, b));
    }
    let positive = |name: &str, v: Option<f64>| match v {
        Some(x) if !(x > 0.0 && x.is_finite()) => {
            Err(SimError::Input(format!("--{name} must be positive")))
        }
        _ => Ok(v),
    };
    Ok(RunOptions {
        seed: args.seed,
        timers: args.timers.clone(),
        loss: args.loss.or(spec.run.loss).unwrap_or(0.0),
        idle_s: positive("idle", args.idle.or(spec.run.idle_s))?,
        settle_s: if args.settle >= 0.0 && args.settle.is_finite() {
            args.settle
        } else {
            return Err(SimError::Input("--settle must be zero or more".into()));
        },
        flows: args.flows,
        flows_explicit: flows,
        kills: args.kills,
        idle_kills: args.idle_kills,
        kill_interval_s: positive("kill-interval", args.kill_interval)?,
        floods: args.floods,
        duration_s: positive("duration", args.duration.or(spec.run.duration_s))?,
        check_ms: positive("check-ms", args.check_ms)?,
        quiet: args.quiet,
        names: !args.no_names,
        wall_clock: !args.no_wall_clock,
        voice: voice_options(args)?,
        flood_protection: args.flood_protection.as_deref().map(protection),
        hello_idle_ms: args.hello_idle.filter(|h| *h > 0),
        update_interval_s: args.update_interval.filter(|u| *u > 0),
        stalls_ms: args.stalls.iter().copied().filter(|&s| s > 0).collect(),
        stall_count: args.stall_count,
        stall_grace_ms: args.stall_grace,
        ..RunOptions::default()
    })
}

fn protection(s: &str) -> crate::node::FloodProtection {
    use crate::node::FloodProtection as P;
    match s {
        "none" => P::None,
        "relay" => P::Relay,
        "repair" => P::Repair,
        "quality" => P::Quality,
        _ => P::Redundant,
    }
}

fn voice_options(args: &SimArgs) -> Result<Option<super::run::voice::VoiceOptions>, SimError> {
    let calls = args.calls.unwrap_or(0);
    if !args.ptt && calls == 0 {
        return Ok(None);
    }
    if !(args.voice_window > 0.0 && args.voice_window.is_finite()) {
        return Err(SimError::Input("--voice-window must be positive".into()));
    }
    if args.ptt && args.talkgroups == 0 {
        return Err(SimError::Input("--talkgroups must be at least 1".into()));
    }
    if !(9..=1200).contains(&args.frame_bytes) {
        return Err(SimError::Input("--frame-bytes must be 9 to 1200".into()));
    }
    Ok(Some(super::run::voice::VoiceOptions {
        ptt: args.ptt,
        talkgroups: args.talkgroups,
        window_s: args.voice_window,
        calls,
        frame_bytes: args.frame_bytes,
        ..Default::default()
    }))
}

pub fn run(args: SimArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let done = match args.day {
        Some(hours) => run_day(&args, hours),
        None => run_inner(&args).map(|()| ExitCode::SUCCESS),
    };
    match done {
        Ok(code) => Ok(code),
        Err(SimError::Input(m)) => {
            eprintln!("callsign sim: {m}");
            Ok(ExitCode::from(2))
        }
    }
}

/// A report as pretty JSON, or one `key=value` line per field.
fn print_flat<T: serde::Serialize>(r: &T, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
    } else if let Ok(serde_json::Value::Object(o)) = serde_json::to_value(r) {
        for (k, v) in o {
            println!("{k}={v}");
        }
    }
}

/// The simulated day (`--day HOURS`): its report, and exit code 1 when
/// one of its checks failed (each named on stderr).
fn run_day(args: &SimArgs, hours: f64) -> Result<ExitCode, SimError> {
    let r = super::day::run(&super::day::DayOptions {
        seed: args.seed,
        nodes: args.nodes,
        hours,
        loss: args.loss.unwrap_or(0.05),
        quiet: args.quiet,
        wall_clock: !args.no_wall_clock,
        ..Default::default()
    })?;
    print_flat(&r, args.json);
    for f in &r.failures {
        eprintln!("callsign sim --day: FAILED: {f}");
    }
    Ok(if r.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_inner(args: &SimArgs) -> Result<(), SimError> {
    if args.plan.active() && (args.ferry || args.compare_babel) {
        return Err(SimError::Input(
            "--svg and --place-relay work on one run: drop --ferry and --compare-babel".into(),
        ));
    }
    if args.ferry {
        let r = super::ferry::run(&super::ferry::FerryOptions {
            seed: args.seed,
            ..Default::default()
        })?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        } else if let Ok(serde_json::Value::Object(o)) = serde_json::to_value(&r) {
            for (k, v) in o {
                println!("{k}={v}");
            }
        }
        return Ok(());
    }
    let spec = world(args)?;
    let opts = options(args, &spec)?;
    if args.plan.active() {
        return super::plan_cli::run(&args.plan, spec, opts, args.json);
    }
    if args.compare_protection {
        let mut all = Vec::new();
        for p in ["none", "relay", "repair", "redundant", "quality"] {
            let o = RunOptions {
                flood_protection: Some(protection(p)),
                ..opts.clone()
            };
            all.push((p, simulate(spec.clone(), o)?));
        }
        if args.json {
            let m: serde_json::Map<String, serde_json::Value> = all
                .iter()
                .map(|(p, r)| (p.to_string(), serde_json::to_value(r).unwrap_or_default()))
                .collect();
            println!("{}", to_json(&m));
        } else {
            print_protection_table(&all);
        }
        return Ok(());
    }
    if args.compare_babel {
        let c = compare(spec, opts)?;
        if args.json {
            println!("{}", to_json(&c));
        } else {
            print_summary(&c.callsign);
            println!();
            print_summary(&c.babel_default);
            println!();
            print_ratios(&c);
        }
    } else {
        let r = simulate(spec, opts)?;
        if args.json {
            println!("{}", to_json(&r));
        } else {
            print_summary(&r);
        }
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising plain structs of numbers and strings cannot fail.
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".to_string(), |x| format!("{x:.1} {unit}"))
}

fn p50_p95(p50: Option<f64>, p95: Option<f64>) -> String {
    format!("{} / {}", opt(p50, "ms"), opt(p95, "ms"))
}

/// The readable summary: the world, a line per phase, the key figures.
pub fn print_summary(r: &Report) {
    let world = match &r.scenario {
        Some(s) => format!("scenario {s}"),
        None => format!("topology {}", r.topology),
    };
    println!(
        "{} ({world}), {} nodes, seed {}, timers {}",
        r.name, r.nodes, r.seed, r.timers
    );
    println!(
        "  world       diameter {} hops, average degree {:.1}, extra loss {:.1} %",
        r.diameter_hops,
        r.avg_degree,
        r.loss * 100.0
    );
    let conv = if r.converged {
        opt(r.converged_ms, "ms")
    } else {
        "not converged".into()
    };
    println!("  cold start  converged in {conv}");
    println!(
        "  idle        {} control bits/s and {} packets/s per node over {:.0} s (hello {:.0}, update {:.0}, request {:.0}, directory {:.0} + refreshes {:.0})",
        opt(r.control_bits_per_s_per_node, "").trim_end(),
        r.control_packets_per_s_per_node
            .map_or("-".into(), |p| format!("{p:.2}")),
        r.idle_window_s,
        r.control_breakdown.hello,
        r.control_breakdown.update,
        r.control_breakdown.request,
        r.control_breakdown.names,
        r.control_breakdown.names_refresh
    );
    println!(
        "  flows       {} probe flows, {} of {} packets delivered",
        r.flows, r.probe_packets_delivered, r.probe_packets_sent
    );
    for k in &r.kills {
        let flow = k.flow.map_or(String::new(), |f| format!(" (flow {f})"));
        println!(
            "  kill        {} at {:.1} s: {}{flow}, {} routes through it, repaired in {}",
            k.node,
            k.at_ms / 1000.0,
            k.kind,
            k.affected_pairs,
            opt(k.repair_ms, "ms")
        );
    }
    println!(
        "  floods      {} packets, {:.2} transmissions per node per packet",
        r.floods,
        r.flood_rebroadcast_ratio.unwrap_or(0.0)
    );
    if let Some(v) = &r.voice {
        print_voice(v);
    }
    if let Some(st) = &r.stalls {
        println!(
            "  stalls      {} of each of {:?} ms: {} neighbour deaths ({:?} by length), at most {} pairs without a route, {} datagrams dropped",
            st.stalls_per_length,
            st.stall_lengths_ms,
            st.stall_neighbour_deaths,
            st.stall_neighbour_deaths_by_length,
            st.stall_pairs_without_route_max,
            st.stall_datagrams_dropped
        );
    }
    if r.name_probes > 0 {
        println!(
            "  directory   {} probe claims reached every node in {} (p95), {} unresolved; after a partition heals, directories equal in {}, {} command holder(s)",
            r.name_probes,
            opt(r.name_propagation_ms_p95, "ms"),
            r.name_probes_unresolved,
            r.directory_converged_ms
                .map_or("- (not within 15 s)".into(), |x| format!("{x:.0} ms")),
            r.command_holders_after_merge
                .map_or("-".into(), |x| x.to_string())
        );
    }
    println!();
    let rows: [(&str, String); 12] = [
        ("converged_ms", opt(r.converged_ms, "ms")),
        (
            "route_repair_ms p50/p95",
            p50_p95(r.route_repair_ms_p50, r.route_repair_ms_p95),
        ),
        (
            "route_repair_idle_ms p50/p95",
            p50_p95(r.route_repair_idle_ms_p50, r.route_repair_idle_ms_p95),
        ),
        (
            "control_bits_per_s_per_node",
            opt(r.control_bits_per_s_per_node, "bit/s"),
        ),
        (
            "control_packets_per_s_per_node",
            r.control_packets_per_s_per_node
                .map_or("-".into(), |x| format!("{x:.3}")),
        ),
        (
            "delivery_ratio",
            r.delivery_ratio.map_or("-".into(), |x| format!("{x:.4}")),
        ),
        ("loops_detected", r.loops_detected.to_string()),
        (
            "flood_rebroadcast_ratio",
            r.flood_rebroadcast_ratio
                .map_or("-".into(), |x| format!("{x:.3}")),
        ),
        (
            "flood_delivery_ratio",
            r.flood_delivery_ratio
                .map_or("-".into(), |x| format!("{x:.3}")),
        ),
        (
            "name_propagation_ms p50/p95",
            p50_p95(r.name_propagation_ms_p50, r.name_propagation_ms_p95),
        ),
        (
            "directory_converged_ms",
            opt(r.directory_converged_ms, "ms"),
        ),
        (
            "simulated / wall",
            format!(
                "{:.1} s / {} ms, {} events",
                r.sim_seconds, r.wall_ms, r.events
            ),
        ),
    ];
    for (k, v) in rows {
        println!("  {k:<30} {v}");
    }
}

fn print_voice(v: &super::metrics::VoiceReport) {
    let ratio = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
    if v.ptt_talkgroups > 0 {
        println!(
            "  talkgroups  {} groups, {} bursts ({} presses denied), {} frames: delivered {} (worst member {}), mouth-to-ear {}, access {}, {} transmissions per frame per node",
            v.ptt_talkgroups,
            v.ptt_bursts,
            v.ptt_denied,
            v.ptt_frames_sent,
            ratio(v.ptt_frame_delivery_ratio),
            ratio(v.ptt_frame_delivery_min),
            p50_p95(v.ptt_m2e_ms_p50, v.ptt_m2e_ms_p95),
            p50_p95(v.ptt_access_ms_p50, v.ptt_access_ms_p95),
            v.ptt_tx_per_frame_per_node
                .map_or("-".into(), |x| format!("{x:.3}"))
        );
    }
    if v.calls > 0 {
        println!(
            "  calls       {} calls ({} failed), {} frames: delivered {}, mouth-to-ear {}",
            v.calls,
            v.call_failures,
            v.call_frames_sent,
            ratio(v.call_frame_delivery_ratio),
            p50_p95(v.call_m2e_ms_p50, v.call_m2e_ms_p95)
        );
    }
}

/// The same world under each flood protection, one row each.
fn print_protection_table(all: &[(&str, Report)]) {
    let f = |x: Option<f64>, d: usize| x.map_or("-".to_string(), |v| format!("{v:.d$}"));
    if let Some((_, r)) = all.first() {
        println!(
            "{} ({} nodes, seed {}, extra loss {:.1} %): flood protection side by side",
            r.name,
            r.nodes,
            r.seed,
            r.loss * 100.0
        );
    }
    println!(
        "  {:<8} {:>10} {:>10} {:>9} {:>9} {:>10} {:>12} {:>10} {:>9}",
        "mode",
        "ptt_deliv",
        "ptt_min",
        "m2e_p50",
        "m2e_p95",
        "access_p95",
        "tx/frame/node",
        "call_deliv",
        "floods"
    );
    for (p, r) in all {
        let v = r.voice.clone().unwrap_or_default();
        println!(
            "  {:<8} {:>10} {:>10} {:>9} {:>9} {:>10} {:>12} {:>10} {:>9}",
            p,
            f(v.ptt_frame_delivery_ratio, 4),
            f(v.ptt_frame_delivery_min, 4),
            f(v.ptt_m2e_ms_p50, 1),
            f(v.ptt_m2e_ms_p95, 1),
            f(v.ptt_access_ms_p95, 1),
            f(v.ptt_tx_per_frame_per_node, 3),
            f(v.call_frame_delivery_ratio, 4),
            f(r.flood_delivery_ratio, 3),
        );
    }
}

fn print_ratios(c: &Comparison) {
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
    println!("callsign vs babel-default (ours / theirs, p95)");
    println!(
        "  {:<30} {}",
        "route_repair_ratio_vs_babel",
        f(c.route_repair_ratio_vs_babel)
    );
    println!(
        "  {:<30} {}",
        "route_repair_idle_ratio",
        f(c.route_repair_idle_ratio_vs_babel)
    );
    println!(
        "  {:<30} {}",
        "control_bits_ratio",
        f(c.control_bits_ratio_vs_babel)
    );
}
