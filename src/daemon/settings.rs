//! How `callsign up` settles what it runs with: flags over the config
//! file over defaults, checked (lease, message limits, gpsd), with the
//! interfaces, their radio profiles and per-interface link weights worked
//! out from the `--iface IF=PROFILE` entries. SIGHUP runs the same merge
//! again (`reload`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::cli::UpArgs;
use super::config::{self, FileConfig, Settings};
use super::ifaces::IfaceSelect;

/// Directory leases must lie in this range: below it refreshes would
/// crowd the control budget, above it a departed node lingers for hours.
const MIN_LEASE_S: u64 = 15;
const MAX_LEASE_S: u64 = 24 * 3600;

/// Merge flags over the config file over defaults.
pub fn settings(a: &UpArgs) -> Result<Settings, config::Error> {
    let config_path = config::config_path(a.config.as_deref());
    let f = match &config_path {
        Some(p) => config::load_file(p)?,
        None => FileConfig::default(),
    };
    let a = a.clone();
    let msg_config = msg_config(&a, &f)?;
    let profile = match a.radio_profile.clone().or(f.radio_profile.clone()) {
        Some(p) => config::load_radio_profile(&p)?.1,
        None => config::RadioProfile::default(),
    };
    let preset = a.timers.or(f.timers).unwrap_or_default();
    let mut peers = f.peers.clone().unwrap_or_default();
    peers.extend(a.peers.clone());
    let pick = |flag: Vec<String>, file: Option<Vec<String>>| {
        if flag.is_empty() {
            file.unwrap_or_default()
        } else {
            flag
        }
    };
    let lease = a
        .name_lease
        .or(f.name_lease)
        .unwrap_or(crate::names::DEFAULT_LEASE_S);
    if !(MIN_LEASE_S..=MAX_LEASE_S).contains(&lease) {
        return Err(format!(
            "--name-lease {lease}: must be between {MIN_LEASE_S} and {MAX_LEASE_S} seconds"
        )
        .into());
    }
    let gpsd = gpsd_settings(a.gpsd.clone(), a.gps_min_move, a.gps_interval, &f)?;
    let radio = radio_settings(
        pick(a.ifaces.clone(), f.iface.clone()),
        pick(a.exclude_ifaces.clone(), f.exclude_iface.clone()),
    )?;
    let mut timers = config::timers_with(preset, one_timer_set(&profile, &radio.timers)?)?;
    match a
        .voice_protection
        .clone()
        .or(f.voice_protection.clone())
        .as_deref()
    {
        None => {}
        Some("arq") => timers.voice_protection = crate::node::VoiceProtection::Arq,
        Some("none") => timers.voice_protection = crate::node::VoiceProtection::None,
        Some(o) => return Err(format!("voice_protection {o:?}: arq or none").into()),
    }
    let auto_answer = pick(a.auto_answer.clone(), f.auto_answer.clone());
    if let Some(bad) = auto_answer
        .iter()
        .find(|p| !crate::trust::roles::valid_pattern(p))
    {
        return Err(format!(
            "--auto-answer {bad:?}: not a role pattern (a role like `command`, or `engine-*`, `*.engine-7`)"
        )
        .into());
    }
    let talkgroups = pick(a.talkgroups.clone(), f.talkgroups.clone());
    let ptt_key = match a.ptt_key.clone().or(f.ptt_key.clone()) {
        None => None,
        Some(spec) => {
            let key = super::ptt_key::KeySpec::parse(&spec)
                .map_err(|e| format!("--ptt-key {spec:?}: {e}"))?;
            let tg = a
                .ptt_talkgroup
                .clone()
                .or(f.ptt_talkgroup.clone())
                .or_else(|| talkgroups.first().cloned())
                .ok_or("--ptt-key needs a talkgroup to talk on: --ptt-talkgroup or --talkgroup")?;
            Some((key, tg))
        }
    };
    let cot = cot_settings(&a, &f)?;
    let talkgroup_keys = super::tg_keys::talkgroup_keys(
        f.talkgroup_key.as_deref().unwrap_or_default(),
        a.talkgroup_key_file
            .as_deref()
            .or(f.talkgroup_key_file.as_deref()),
        &a.talkgroup_keys,
    )?;
    Ok(Settings {
        cot,
        names: pick(a.names, f.names),
        name_lease: std::time::Duration::from_secs(lease),
        version_base: 1,
        base_station: a.base_station || f.base_station.unwrap_or(false),
        ifaces: radio.select,
        data_dir: a
            .data_dir
            .or(f.data_dir)
            .unwrap_or_else(config::default_data_dir),
        api: match a.api.or(f.api) {
            Some(x) => x,
            None => config::DEFAULT_API.parse()?,
        },
        port: a.port.or(f.port).unwrap_or(config::DEFAULT_PORT),
        cost_weight: profile.cost_weight.unwrap_or(256).max(1),
        iface_weights: radio.weights,
        radios: radio.radios,
        config_path,
        gpsd,
        timers,
        peers,
        log: a.log.or(f.log).unwrap_or_else(|| "info".into()),
        bench: a.bench || f.bench.unwrap_or(false),
        trust_roots: pick_paths(a.trust_roots, f.trust_root),
        cert: a.cert.or(f.cert),
        incident_secret_file: a.incident_secret_file.or(f.incident_secret_file),
        talkgroups,
        talkgroup_keys,
        sip: if a.no_sip || f.no_sip.unwrap_or(false) {
            None
        } else {
            Some(match a.sip.or(f.sip) {
                Some(x) => x,
                None => config::DEFAULT_SIP.parse()?,
            })
        },
        sip_explicit: a.sip.is_some() || f.sip.is_some(),
        sip_passwords: match a.sip_passwords.or(f.sip_passwords) {
            Some(p) => config::load_sip_passwords(&p)?,
            None => BTreeMap::new(),
        },
        ptt_time_limit: std::time::Duration::from_secs(
            a.ptt_time_limit
                .or(f.ptt_time_limit)
                .unwrap_or(30)
                .clamp(1, 600),
        ),
        par_interval: std::time::Duration::from_secs(
            60 * a
                .par_interval
                .or(f.par_interval)
                .unwrap_or(20)
                .clamp(1, 240),
        ),
        audio_log_mb: a.audio_log_mb.or(f.audio_log_mb).unwrap_or(512),
        msg_config,
        audio_out: match a.audio_out.or(f.audio_out) {
            Some(d) if d == "none" => None,
            Some(d) => Some(d),
            None => Some("default".into()),
        },
        audio_out_wav: a.audio_out_wav.or(f.audio_out_wav),
        audio_in: a.audio_in.or(f.audio_in).filter(|d| d != "none"),
        auto_answer,
        ptt_key,
    })
}

/// Interfaces, their profiles and weights, from the `--iface` entries.
/// `--cot` and its options; `None` when off.
fn cot_settings(
    a: &UpArgs,
    f: &FileConfig,
) -> Result<Option<super::cot::CotSettings>, config::Error> {
    if !(a.cot || f.cot.unwrap_or(false)) {
        return Ok(None);
    }
    let interval = a
        .cot_interval
        .or(f.cot_interval)
        .unwrap_or(super::cot::DEFAULT_INTERVAL_S);
    if !(1..=300).contains(&interval) {
        return Err(format!("--cot-interval {interval}: must be between 1 and 300 seconds").into());
    }
    let addr = match a.cot_addr.or(f.cot_addr) {
        Some(x) => x,
        None => super::cot::DEFAULT_ADDR.parse()?,
    };
    Ok(Some(super::cot::CotSettings {
        addr,
        interval: std::time::Duration::from_secs(interval),
        iface: a.cot_iface.clone().or(f.cot_iface.clone()),
    }))
}

struct RadioSettings {
    select: IfaceSelect,
    weights: BTreeMap<String, u16>,
    radios: Vec<config::RadioIface>,
    /// (profile, timer overrides) of each profile that has some.
    timers: Vec<(String, toml::Table)>,
}

fn radio_settings(
    entries: Vec<String>,
    exclude: Vec<String>,
) -> Result<RadioSettings, config::Error> {
    let mut out = RadioSettings {
        select: IfaceSelect::default(),
        weights: BTreeMap::new(),
        radios: Vec::new(),
        timers: Vec::new(),
    };
    let mut only = Vec::new();
    for e in entries {
        let (name, profile) = config::parse_iface(&e)?;
        if only.contains(&name) {
            return Err(format!("--iface {name} is given twice").into());
        }
        if let Some(pat) = exclude.iter().find(|p| super::ifaces::glob(p, &name)) {
            return Err(format!("--iface {name} is also excluded by --exclude-iface {pat}").into());
        }
        only.push(name.clone());
        let Some(profile) = profile else { continue };
        let (_, p) = config::load_radio_profile(&profile)?;
        out.weights
            .insert(name.clone(), p.cost_weight.unwrap_or(256).max(1));
        if let Some(t) = p.timers {
            out.timers.push((profile.clone(), t));
        }
        out.radios.push(config::RadioIface {
            iface: name,
            profile,
            link: p.link,
        });
    }
    out.select = IfaceSelect::new(only, exclude);
    Ok(out)
}

/// The node runs one set of timers: the node-wide profile's, else the one
/// the interface profiles agree on.
fn one_timer_set<'a>(
    global: &'a config::RadioProfile,
    per_iface: &'a [(String, toml::Table)],
) -> Result<Option<&'a toml::Table>, config::Error> {
    if global.timers.is_some() {
        return Ok(global.timers.as_ref());
    }
    let Some((first, t)) = per_iface.first() else {
        return Ok(None);
    };
    if let Some((other, _)) = per_iface.iter().find(|(_, u)| u != t) {
        return Err(format!(
            "radio profiles {first} and {other} override timers differently; a node runs one \
             set of timers: put them in --radio-profile"
        )
        .into());
    }
    Ok(Some(t))
}

fn gpsd_settings(
    addr: Option<String>,
    min_move: Option<f64>,
    interval: Option<u64>,
    f: &FileConfig,
) -> Result<Option<config::GpsdSettings>, config::Error> {
    let Some(addr) = addr.or(f.gpsd.clone()) else {
        return Ok(None);
    };
    let min_move_m = min_move.or(f.gps_min_move).unwrap_or(25.0);
    if !(min_move_m.is_finite() && (0.0..=100_000.0).contains(&min_move_m)) {
        return Err(format!("--gps-min-move {min_move_m}: between 0 and 100000 metres").into());
    }
    let secs = interval.or(f.gps_interval).unwrap_or(30);
    if !(1..=3600).contains(&secs) {
        return Err(format!("--gps-interval {secs}: between 1 and 3600 seconds").into());
    }
    Ok(Some(config::GpsdSettings {
        addr,
        min_move_m,
        interval: std::time::Duration::from_secs(secs),
    }))
}

fn msg_config(a: &UpArgs, f: &FileConfig) -> Result<crate::msg::MsgConfig, config::Error> {
    let d = crate::msg::MsgConfig::default();
    let ttl = a.msg_ttl.or(f.msg_ttl).unwrap_or(d.ttl.as_secs());
    if !(10..=7 * 86_400).contains(&ttl) {
        return Err(format!("--msg-ttl {ttl}: between 10 s and 7 days").into());
    }
    let copies = a.msg_copies.or(f.msg_copies).unwrap_or(d.copies);
    if !(1..=32).contains(&copies) {
        return Err(format!("--msg-copies {copies}: between 1 and 32").into());
    }
    let rate = a.msg_rate.or(f.msg_rate).unwrap_or(d.rate_per_s);
    let burst = a.msg_burst.or(f.msg_burst).unwrap_or(d.burst);
    if !(rate > 0.0 && burst >= 1.0 && rate.is_finite() && burst.is_finite()) {
        return Err("--msg-rate must be positive and --msg-burst at least 1".into());
    }
    Ok(crate::msg::MsgConfig {
        ttl: std::time::Duration::from_secs(ttl),
        copies,
        rate_per_s: rate,
        burst,
        ..d
    })
}

fn pick_paths(flag: Vec<PathBuf>, file: Option<Vec<PathBuf>>) -> Vec<PathBuf> {
    if flag.is_empty() {
        file.unwrap_or_default()
    } else {
        flag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(f: impl FnOnce(&mut UpArgs)) -> Result<Settings, config::Error> {
        let mut a = UpArgs {
            config: Some(PathBuf::from("/dev/null")),
            ..UpArgs::default()
        };
        f(&mut a);
        settings(&a)
    }

    #[test]
    fn cot_is_off_by_default_and_checked() {
        assert_eq!(up(|_| {}).expect("defaults").cot, None);
        let c = up(|a| a.cot = true).expect("cot").cot.expect("on");
        assert_eq!(c.addr.to_string(), "239.2.3.1:6969");
        assert_eq!(c.interval, std::time::Duration::from_secs(10));
        assert_eq!(c.iface, None);
        assert!(
            up(|a| {
                a.cot = true;
                a.cot_interval = Some(0);
            })
            .is_err()
        );
        // From the config file, as every flag.
        let f: FileConfig = toml::from_str(
            "cot = true\ncot_addr = \"239.2.3.1:7000\"\ncot_interval = 5\ncot_iface = \"eth0\"\n",
        )
        .expect("toml");
        let c = cot_settings(&UpArgs::default(), &f)
            .expect("ok")
            .expect("on");
        assert_eq!(c.addr.to_string(), "239.2.3.1:7000");
        assert_eq!(c.interval, std::time::Duration::from_secs(5));
        assert_eq!(c.iface.as_deref(), Some("eth0"));
    }

    #[test]
    fn sound_defaults_and_none() {
        let s = up(|_| {}).expect("defaults");
        assert_eq!(s.audio_out.as_deref(), Some("default"));
        assert_eq!(s.audio_in, None);
        let s = up(|a| a.audio_out = Some("none".into())).expect("none");
        assert_eq!(s.audio_out, None);
    }

    #[test]
    fn auto_answer_patterns_are_checked() {
        let s = up(|a| a.auto_answer = vec!["command".into(), "engine-*".into()]).expect("ok");
        assert_eq!(s.auto_answer, ["command", "engine-*"]);
        let e = up(|a| a.auto_answer = vec!["Command!".into()]).expect_err("bad");
        assert!(e.to_string().contains("not a role pattern"), "{e}");
    }

    #[test]
    fn ptt_key_needs_a_talkgroup_and_a_key() {
        let e = up(|a| a.ptt_key = Some("/dev/input/event3:KEY_F13".into())).expect_err("no tg");
        assert!(e.to_string().contains("needs a talkgroup"), "{e}");
        let s = up(|a| {
            a.ptt_key = Some("/dev/input/event3:KEY_F13".into());
            a.talkgroups = vec!["fireground-1".into(), "command-1".into()];
        })
        .expect("key");
        let (k, tg) = s.ptt_key.expect("ptt key");
        assert_eq!((k.code, tg.as_str()), (183, "fireground-1"));
        let e = up(|a| {
            a.ptt_key = Some("/dev/input/event3:KEY_WHAT".into());
            a.ptt_talkgroup = Some("x".into());
        })
        .expect_err("unknown key");
        assert!(e.to_string().contains("unknown key"), "{e}");
    }
}
