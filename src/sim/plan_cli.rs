//! `callsign sim` as the incident planner's tool: `--svg` pictures of a
//! run (at its end and at chosen times), and `--place-relay`, the search
//! for where to park relay trucks, proved by running the scenario without
//! and with them. The engine returns pictures as strings; this layer
//! writes the files.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::metrics::Report;
use super::place::{self, PlaceRequest, Placement};
use super::plan_report::{self, RouteCheck};
use super::scenario::WorldSpec;
use super::svg::{self, FlowRoute, Picture, SpotMap};
use super::{RunOptions, Sim, SimError};
use crate::time::Instant;

/// The planner's flags of `callsign sim` (see `docs/SIM.md`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PlanArgs {
    /// Draw the world at the end of the run as an SVG picture into FILE
    /// (with --place-relay: the run with the trucks parked, and the spots searched).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Also draw the mesh at this simulated time, into FILE-<SECONDS>s.svg
    /// (repeatable).
    #[arg(long = "svg-at", value_name = "SECONDS", requires = "svg")]
    pub svg_at: Vec<f64>,
    /// Draw each radio's open-air range as a dashed circle.
    #[arg(long, requires = "svg")]
    pub svg_ranges: bool,
    /// Search where to park relay trucks: [N:]PROFILE, e.g. truck-5g
    /// (one truck with the handsets' radio and a truck-5g backbone),
    /// 2:truck-5g (two, placed greedily) or handset-2g4 (a portable
    /// repeater). Then run the scenario without and with them.
    #[arg(long, value_name = "[N:]PROFILE")]
    pub place_relay: Option<String>,
    /// Spacing of the candidate spots in metres [default: the scenario's
    /// [placement] grid_m, or about 2500 spots over the area].
    #[arg(long, value_name = "METRES", requires = "place_relay")]
    pub place_grid: Option<f64>,
    /// Spots listed per truck, the best included.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub place_top: usize,
    /// With --place-relay: the search only, no simulated runs.
    #[arg(long, requires = "place_relay")]
    pub no_proof: bool,
}

impl PlanArgs {
    /// Whether any planner flag was given.
    pub fn active(&self) -> bool {
        self.svg.is_some() || self.place_relay.is_some()
    }
}

/// `N:PROFILE` or `PROFILE`.
pub fn parse_place(s: &str) -> Result<(usize, String), SimError> {
    let bad = || {
        SimError::Input(format!(
            "--place-relay {s:?}: expected PROFILE or N:PROFILE"
        ))
    };
    match s.split_once(':') {
        Some((n, p)) if !p.is_empty() => Ok((n.parse().map_err(|_| bad())?, p.to_string())),
        Some(_) => Err(bad()),
        None if !s.is_empty() => Ok((1, s.to_string())),
        None => Err(bad()),
    }
}

/// `out.svg` at 12 s is `out-12s.svg`.
pub fn svg_at_path(out: &Path, t: f64) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("picture".into(), |s| s.to_string_lossy().to_string());
    let ext = out
        .extension()
        .map_or("svg".into(), |s| s.to_string_lossy().to_string());
    out.with_file_name(format!("{stem}-{t}s.{ext}"))
}

/// One run, its pictures and the routes to base stations at its end.
#[derive(Debug, Serialize)]
pub struct ProvedRun {
    pub report: Report,
    pub routes_at_end: RouteCheck,
}

#[derive(Serialize)]
struct PlanJson<'a> {
    placement: &'a Placement,
    without_relay: Option<&'a ProvedRun>,
    with_relay: Option<&'a ProvedRun>,
    svg: &'a [String],
}

/// Pictures asked for and what the search found, for drawing a run.
struct Drawing<'a> {
    args: &'a PlanArgs,
    relays: Vec<usize>,
    spots: Option<SpotMap>,
    extra_loss: f64,
}

impl Drawing<'_> {
    fn picture<'s>(&self, sim: &'s Sim, when: String, notes: Vec<String>) -> Picture<'s> {
        let spec = &sim.world.spec;
        let alive = sim.world.alive();
        let deaths = sim
            .kills()
            .iter()
            .filter_map(|k| {
                let i = spec.nodes.iter().position(|n| n.name == k.node)?;
                Some((i, k.at_ms / 1000.0))
            })
            .collect();
        let mut pairs = sim.flow_pairs();
        if pairs.is_empty() {
            pairs = spec.flows.clone();
        }
        let flows = pairs
            .into_iter()
            .map(|(s, d)| FlowRoute {
                src: s,
                dst: d,
                path: (alive[s] && alive[d]).then(|| sim.path(s, d)).flatten(),
            })
            .collect();
        Picture {
            spec,
            when,
            alive,
            deaths,
            flows,
            ranges: self.args.svg_ranges,
            relays: self.relays.clone(),
            spots: self.spots.clone(),
            extra_loss: self.extra_loss,
            notes,
        }
    }

    /// Run `spec` to the end, drawing it at every `--svg-at` time and at
    /// the end when asked; returns the run and the pictures (path, SVG).
    fn run(
        &self,
        spec: WorldSpec,
        opts: &RunOptions,
    ) -> Result<(ProvedRun, Vec<(PathBuf, String)>), SimError> {
        let mut sim = Sim::new(spec, opts.clone())?;
        let mut out = Vec::new();
        let mut times = self.args.svg_at.clone();
        times.sort_by(f64::total_cmp);
        times.dedup();
        if let Some(file) = &self.args.svg {
            for t in times {
                let over = sim.run_until(Instant::ZERO + std::time::Duration::from_secs_f64(t));
                let now = sim.world.now().as_micros() as f64 / 1e6;
                let when = if over && now < t {
                    format!("at {now:.1} s (the run ended before {t} s)")
                } else {
                    format!("at {t} s into the run")
                };
                let pic = self.picture(&sim, when, Vec::new());
                out.push((svg_at_path(file, t), svg::render(&pic)));
            }
        }
        let report = sim.run();
        let routes_at_end = plan_report::route_check(&sim, &self.relays);
        if let Some(file) = &self.args.svg {
            let notes = plan_report::picture_notes(&report, &routes_at_end);
            let when = format!("end of the run, {:.1} s", report.sim_seconds);
            let pic = self.picture(&sim, when, notes);
            out.push((file.clone(), svg::render(&pic)));
        }
        Ok((
            ProvedRun {
                report,
                routes_at_end,
            },
            out,
        ))
    }
}

/// The planner's run: search, proof runs, pictures.
pub fn run(plan: &PlanArgs, spec: WorldSpec, opts: RunOptions, json: bool) -> Result<(), SimError> {
    if plan.svg_at.iter().any(|t| !(t.is_finite() && *t >= 0.0)) {
        return Err(SimError::Input(
            "--svg-at takes times in seconds, 0 or more".into(),
        ));
    }
    let mut drawing = Drawing {
        args: plan,
        relays: Vec::new(),
        spots: None,
        extra_loss: opts.loss,
    };
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let Some(pr) = &plan.place_relay else {
        let (run, pics) = drawing.run(spec, &opts)?;
        files.extend(pics);
        let names = write_all(&files)?;
        if json {
            println!("{}", to_json(&run.report));
            for n in &names {
                eprintln!("callsign sim: wrote {n}");
            }
        } else {
            super::cli::print_summary(&run.report);
            plan_report::print_routes(&run.routes_at_end);
            plan_report::print_files(&names);
        }
        return Ok(());
    };
    let (count, profile) = parse_place(pr)?;
    let req = PlaceRequest {
        count,
        profile,
        grid_m: plan.place_grid,
        top: plan.place_top,
        extra_loss: opts.loss,
    };
    let found = place::search(&spec, &req)?;
    let placed = place::with_relays(&spec, &found)?;
    let n0 = spec.nodes.len();
    drawing.relays = (n0..placed.nodes.len()).collect();
    drawing.spots = Some(SpotMap {
        cells: found.map.clone(),
        grid_m: found.grid_m,
        dots: spec.layout.parking.roads_only,
        ranked: found
            .steps
            .last()
            .map(|s| {
                std::iter::once(&s.best)
                    .chain(&s.runners_up)
                    .filter_map(|x| x.at.map(|a| (a[0], a[1])))
                    .collect()
            })
            .unwrap_or_default(),
        handsets: found.handsets,
        what: format!(
            "{} ({})",
            found.steps.last().map_or("relay", |s| s.relay.as_str()),
            found.relay_radios.join(" + ")
        ),
    });
    let (without, with) = if plan.no_proof {
        if let Some(file) = &plan.svg {
            // No run: the world as placed, at its start.
            let pic = Picture {
                spec: &placed,
                when: "the trucks parked (not simulated)".into(),
                alive: vec![true; placed.nodes.len()],
                deaths: Vec::new(),
                flows: Vec::new(),
                ranges: plan.svg_ranges,
                relays: drawing.relays.clone(),
                spots: drawing.spots.clone(),
                extra_loss: opts.loss,
                notes: Vec::new(),
            };
            files.push((file.clone(), svg::render(&pic)));
        }
        (None, None)
    } else {
        let bare = Drawing {
            args: &PlanArgs::default(),
            relays: Vec::new(),
            spots: None,
            extra_loss: opts.loss,
        };
        let (without, _) = bare.run(spec, &opts)?;
        let (with, pics) = drawing.run(placed, &opts)?;
        files.extend(pics);
        (Some(without), Some(with))
    };
    let names = write_all(&files)?;
    if json {
        println!(
            "{}",
            to_json(&PlanJson {
                placement: &found,
                without_relay: without.as_ref(),
                with_relay: with.as_ref(),
                svg: &names,
            })
        );
    } else {
        plan_report::print_placement(&found);
        if let (Some(a), Some(b)) = (&without, &with) {
            plan_report::print_proof(&found, a, b);
        }
        plan_report::print_files(&names);
    }
    Ok(())
}

fn write_all(files: &[(PathBuf, String)]) -> Result<Vec<String>, SimError> {
    let mut names = Vec::new();
    for (path, body) in files {
        std::fs::write(path, body)
            .map_err(|e| SimError::Input(format!("cannot write {}: {e}", path.display())))?;
        names.push(path.display().to_string());
    }
    Ok(names)
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Plain structs of numbers and strings: serialising cannot fail.
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
