//! Radio set-up in the shell: ask `iw` what each radio supports, build the
//! plans of [`super::radio`], run them (`callsign up`, `callsign radio
//! apply`) or print them (`callsign radio plan`).
//!
//! Commands are found on `PATH`, so a test puts recording stand-ins for
//! `iw` and `ip` first on it and asserts the exact commands. The daemon
//! runs them as itself: under systemd that is the `callsign` user with
//! CAP_NET_ADMIN as an ambient capability, which `iw` and `ip` inherit.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clap::{Args, Subcommand};

use super::config::{self, RadioIface};
use super::radio::{self, Driver, Mode, Plan};

#[derive(Subcommand, Debug)]
pub enum RadioCommand {
    /// Print the exact commands that would bring each interface into its
    /// profile's mode (checked against the driver), without running them.
    Plan(RadioArgs),
    /// Run them now (what `callsign up` does at start), then exit.
    Apply(RadioArgs),
}

#[derive(Args, Debug)]
pub struct RadioArgs {
    /// An interface and its radio profile: `wlan0=truck-5g` (repeatable;
    /// a profile is a shipped name, a name in /etc/callsign/radio-profiles,
    /// or a .toml path). Default: the `iface` entries of the config file.
    #[arg(long = "iface", value_name = "IF=PROFILE")]
    pub ifaces: Vec<String>,
    /// Config file to take the `iface` entries from [default:
    /// /etc/callsign/callsign.toml when present].
    #[arg(long, value_name = "FILE", env = "CALLSIGN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

type Error = config::Error;

/// Output of one command, or why it could not run.
fn run(program: &str, args: &[String]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{program}` is not installed (Debian: apt-get install {})",
                package_of(program)
            )
        } else {
            format!("cannot run {program}: {e}")
        }
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        err.trim()
    ))
}

fn package_of(program: &str) -> &'static str {
    match program {
        "ip" => "iproute2",
        _ => "iw",
    }
}

/// What the driver of `iface` supports, from `iw dev` and `iw phy PHY info`.
pub fn driver(iface: &str) -> Result<Driver, String> {
    let dev = run("iw", &["dev".into()])?;
    let map = radio::parse_iw_dev(&dev);
    let Some((_, phy)) = map.iter().find(|(n, _)| n == iface) else {
        let names: Vec<&str> = map.iter().map(|(n, _)| n.as_str()).collect();
        return Err(format!(
            "{iface} is not a wireless interface known to iw (`iw dev` lists: {})",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        ));
    };
    let info = run("iw", &["phy".into(), phy.clone(), "info".into()])?;
    Ok(radio::parse_phy_info(phy, &info))
}

/// The plan for one interface, checked against its driver when the mode
/// needs one. A driver that cannot be asked is a missing item: nothing
/// is applied blind.
pub fn plan_for(r: &RadioIface) -> Plan {
    let Some(link) = &r.link else {
        let mut p = radio::plan(&r.iface, &r.profile, &as_is(), None);
        p.notes = vec!["the profile has no [link] table: interface left as it is".into()];
        return p;
    };
    if link.mode == Mode::AsIs {
        return radio::plan(&r.iface, &r.profile, link, None);
    }
    match driver(&r.iface) {
        Ok(d) => radio::plan(&r.iface, &r.profile, link, Some(&d)),
        Err(e) => {
            let mut p = radio::plan(&r.iface, &r.profile, link, None);
            p.notes.clear();
            p.missing.insert(0, format!("cannot check the driver: {e}"));
            p
        }
    }
}

fn as_is() -> radio::LinkSetup {
    radio::LinkSetup {
        mode: Mode::AsIs,
        ssid: None,
        mesh_id: None,
        freq_mhz: None,
        width: None,
        mcast_rate_mbps: None,
        bssid: None,
        country: None,
        power_save: None,
    }
}

/// Run a plan's steps in order, reporting each; stops at the first failure.
pub fn apply(p: &Plan, report: &mut dyn FnMut(&str)) -> Result<(), String> {
    if !p.missing.is_empty() {
        return Err(p.missing.join("; "));
    }
    for s in &p.steps {
        report(&format!("{}: {}  ({})", p.iface, s.line(), s.why));
        run(&s.program, &s.args)?;
    }
    Ok(())
}

/// `callsign up`: set up every interface given a profile with a `[link]`,
/// logging what it does. Every driver is asked before anything changes.
/// A radio that fails is logged loudly and the daemon goes on with the
/// others (a truck with one radio beats none).
pub fn set_up(radios: &[RadioIface]) {
    let plans: Vec<Plan> = radios.iter().map(plan_for).collect();
    for (r, p) in radios.iter().zip(plans) {
        for c in &p.checks {
            tracing::info!(iface = %r.iface, profile = %r.profile, "radio: {c}");
        }
        for n in &p.notes {
            tracing::info!(iface = %r.iface, profile = %r.profile, "radio: {n}");
        }
        let mut log = |line: &str| tracing::info!(profile = %r.profile, "radio: {line}");
        match apply(&p, &mut log) {
            Ok(()) if p.steps.is_empty() => {}
            Ok(()) => {
                tracing::info!(iface = %r.iface, profile = %r.profile, mode = ?p.mode, "radio set up")
            }
            Err(e) => tracing::error!(
                iface = %r.iface, profile = %r.profile,
                "radio NOT set up: {e} (the interface is used as it is, if it comes up)"
            ),
        }
    }
}

fn radios(a: &RadioArgs) -> Result<Vec<RadioIface>, Error> {
    let entries = if a.ifaces.is_empty() {
        match config::config_path(a.config.as_deref()) {
            Some(p) => config::load_file(&p)?.iface.unwrap_or_default(),
            None => Vec::new(),
        }
    } else {
        a.ifaces.clone()
    };
    let mut out = Vec::new();
    for e in entries {
        let (iface, profile) = config::parse_iface(&e)?;
        let Some(profile) = profile else { continue };
        let (_, p) = config::load_radio_profile(&profile)?;
        out.push(RadioIface {
            iface,
            profile,
            link: p.link,
        });
    }
    if out.is_empty() {
        return Err(
            "no interface with a profile: give --iface IF=PROFILE (e.g. wlan0=truck-5g)".into(),
        );
    }
    Ok(out)
}

fn print_plan(p: &Plan) {
    let mode = match p.mode {
        Mode::Ibss => "IBSS (ad-hoc)",
        Mode::Mesh => "802.11s mesh",
        Mode::Managed => "managed (station)",
        Mode::Ap => "access point",
        Mode::AsIs => "as is",
    };
    println!("{} ({}): {mode}", p.iface, p.profile);
    for c in &p.checks {
        println!("  ok       {c}");
    }
    for n in &p.notes {
        println!("  note     {n}");
    }
    for m in &p.missing {
        println!("  MISSING  {m}");
    }
    for s in &p.steps {
        println!("  {:<72} # {}", s.line(), s.why);
    }
}

pub fn run_cli(cmd: RadioCommand) -> Result<ExitCode, Error> {
    let (a, doit) = match &cmd {
        RadioCommand::Plan(a) => (a, false),
        RadioCommand::Apply(a) => (a, true),
    };
    let plans: Vec<Plan> = radios(a)?.iter().map(plan_for).collect();
    let mut failed = plans.iter().any(|p| !p.missing.is_empty());
    if !doit {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&plans)?);
        } else {
            plans.iter().for_each(print_plan);
        }
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let mut results = Vec::new();
    for p in &plans {
        let mut say = |l: &str| {
            if !a.json {
                println!("{l}");
            }
        };
        let r = apply(p, &mut say);
        if let Err(e) = &r {
            failed = true;
            if !a.json {
                eprintln!("{}: NOT set up: {e}", p.iface);
            }
        }
        results.push(serde_json::json!({
            "iface": p.iface,
            "profile": p.profile,
            "ok": r.is_ok(),
            "error": r.err(),
            "steps": p.steps,
        }));
    }
    if a.json {
        println!("{}", serde_json::Value::Array(results));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
