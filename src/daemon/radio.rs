//! Radio set-up from a profile's `[link]` table: what mode a Wi-Fi
//! interface must be in (IBSS, 802.11s mesh, managed, AP, or left as it
//! is), on which frequency and width, with which SSID or mesh id and
//! multicast rate, checked against what the driver says it supports.
//!
//! This file is pure: it parses `iw dev` and `iw phy PHY info` output and
//! turns a profile into a [`Plan`] of exact `ip`/`iw` commands.
//! `radio_run` runs them (`callsign up --iface wlan0=truck-5g`, `callsign
//! radio apply`) or prints them (`callsign radio plan`).
//!
//! Why `iw` and not nl80211 from Rust: it is the tool an IT person reads
//! in every guide, so the plan printed is the plan run, and it can be
//! pasted into a terminal to see where it fails on a given driver.

use serde::{Deserialize, Serialize};

/// How an interface is brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Ad-hoc (IBSS): every radio on the SSID and frequency hears the
    /// others, no access point. What most handset chips can do.
    Ibss,
    /// 802.11s mesh point, layer-2 forwarding off (callsign routes).
    Mesh,
    /// A station joining an access point or a phone's hotspot (open
    /// networks here; WPA is wpa_supplicant's job, then use `as-is`).
    Managed,
    /// An access point: hostapd runs it; callsign only checks the driver.
    Ap,
    /// Touch nothing: another tool (NetworkManager, a vendor script) owns it.
    AsIs,
}

impl Mode {
    /// The name `iw phy info` gives the mode under "Supported interface modes".
    fn iw_name(self) -> Option<&'static str> {
        match self {
            Mode::Ibss => Some("IBSS"),
            Mode::Mesh => Some("mesh point"),
            Mode::Managed => Some("managed"),
            Mode::Ap => Some("AP"),
            Mode::AsIs => None,
        }
    }
}

/// Channel widths `iw ... join` accepts.
const WIDTHS: &[&str] = &["NOHT", "HT20", "HT40+", "HT40-", "80MHz", "5MHz", "10MHz"];

/// A profile's `[link]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSetup {
    pub mode: Mode,
    /// IBSS and managed: the network name.
    #[serde(default)]
    pub ssid: Option<String>,
    /// 802.11s: the mesh id.
    #[serde(default)]
    pub mesh_id: Option<String>,
    /// Centre frequency of the primary 20 MHz channel, e.g. 2437 (ch 6).
    #[serde(default)]
    pub freq_mhz: Option<u32>,
    /// NOHT, HT20, HT40+, HT40-, 80MHz (default HT20).
    #[serde(default)]
    pub width: Option<String>,
    /// Multicast (beacon, hello) rate in Mbit/s: the basic rate reaches
    /// farthest; a higher one saves airtime on a short backbone.
    #[serde(default)]
    pub mcast_rate_mbps: Option<f64>,
    /// IBSS: a fixed BSSID, so cells that start apart never stay split.
    #[serde(default)]
    pub bssid: Option<String>,
    /// Regulatory domain to set first (`iw reg set`), e.g. "US", "DE".
    #[serde(default)]
    pub country: Option<String>,
    /// false: turn Wi-Fi power save off (it adds up to a beacon interval
    /// of delay to every hop).
    #[serde(default)]
    pub power_save: Option<bool>,
}

/// What `iw` says about one wireless interface's radio.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Driver {
    pub phy: String,
    /// "Supported interface modes", as iw names them.
    pub modes: Vec<String>,
    /// Frequencies (MHz) with their flags ("disabled", "no IR", "radar detection").
    pub freqs: Vec<(u32, Vec<String>)>,
}

/// `iw dev`: interface name -> phy name (`phy#0` -> `phy0`).
pub fn parse_iw_dev(text: &str) -> Vec<(String, String)> {
    let mut phy = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(n) = t.strip_prefix("phy#") {
            phy = Some(format!("phy{n}"));
        } else if let (Some(name), Some(p)) = (t.strip_prefix("Interface "), &phy) {
            out.push((name.trim().to_string(), p.clone()));
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `iw phy PHY info`: supported interface modes and frequencies.
pub fn parse_phy_info(phy: &str, text: &str) -> Driver {
    let mut d = Driver {
        phy: phy.to_string(),
        ..Driver::default()
    };
    // The block under "Supported interface modes:" (not the "software
    // interface modes" nor the "valid interface combinations" lists).
    let mut in_modes: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(level) = in_modes {
            if indent(line) > level && t.starts_with('*') {
                d.modes.push(t.trim_start_matches('*').trim().to_string());
                continue;
            }
            in_modes = None;
        }
        if t == "Supported interface modes:" {
            in_modes = Some(indent(line));
        } else if let Some(rest) = t.strip_prefix("* ")
            && let Some((num, after)) = rest.split_once(" MHz")
            && let Ok(f) = num.trim().parse::<f64>()
        {
            let flags = after
                .split(['(', ')'])
                .map(str::trim)
                .filter(|s| !s.is_empty() && !s.ends_with("dBm") && !s.starts_with('['))
                .flat_map(|s| s.split(", "))
                .map(str::to_string)
                .collect();
            d.freqs.push((f.round() as u32, flags));
        }
    }
    d
}

/// One command of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// "ip" or "iw".
    pub program: String,
    pub args: Vec<String>,
    /// What it does, for the log and the printed plan.
    pub why: String,
}

impl Step {
    fn new(program: &str, args: &[&str], why: &str) -> Step {
        Step {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            why: why.into(),
        }
    }

    /// The command line as it would be typed.
    pub fn line(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains([' ', '\'', '"']) {
                s.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

/// What will be done to one interface, and what stops it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub iface: String,
    pub profile: String,
    pub mode: Mode,
    /// Facts checked against the driver ("driver phy0 supports IBSS").
    pub checks: Vec<String>,
    /// What the driver or profile lacks: the plan cannot be applied.
    pub missing: Vec<String>,
    /// Things worth knowing that do not stop it.
    pub notes: Vec<String>,
    pub steps: Vec<Step>,
}

fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{}", r as u64)
    } else {
        format!("{r}")
    }
}

/// Turn a profile into steps for `iface`. `driver` is what `iw` said
/// (None: not checked — iw absent, or only printing a plan).
pub fn plan(iface: &str, profile: &str, link: &LinkSetup, driver: Option<&Driver>) -> Plan {
    let mut p = Plan {
        iface: iface.into(),
        profile: profile.into(),
        mode: link.mode,
        checks: Vec::new(),
        missing: Vec::new(),
        notes: Vec::new(),
        steps: Vec::new(),
    };
    check_profile(link, &mut p);
    match driver {
        Some(d) => check_driver(link, d, &mut p),
        None if link.mode != Mode::AsIs => p
            .notes
            .push("driver support not checked (iw not available or not asked)".into()),
        None => {}
    }
    let width = link.width.clone().unwrap_or_else(|| "HT20".into());
    let freq = link.freq_mhz.map(|f| f.to_string()).unwrap_or_default();
    let down = Step::new(
        "ip",
        &["link", "set", "dev", iface, "down"],
        "the type can change only while the interface is down",
    );
    let up = Step::new("ip", &["link", "set", "dev", iface, "up"], "bring it up");
    if let Some(cc) = &link.country
        && link.mode != Mode::AsIs
    {
        p.steps.push(Step::new(
            "iw",
            &["reg", "set", cc],
            "regulatory domain: which channels and powers are allowed",
        ));
    }
    match link.mode {
        Mode::AsIs => p.notes.push("left as it is".into()),
        Mode::Ibss => {
            let ssid = link.ssid.clone().unwrap_or_default();
            p.steps.push(down);
            p.steps.push(Step::new(
                "iw",
                &["dev", iface, "set", "type", "ibss"],
                "ad-hoc (IBSS) mode",
            ));
            p.steps.push(up);
            let rate = link.mcast_rate_mbps.map(fmt_rate);
            let mut join = vec![
                "dev",
                iface,
                "ibss",
                "join",
                &ssid,
                &freq,
                &width,
                "fixed-freq",
            ];
            if let Some(b) = &link.bssid {
                join.push(b);
            }
            if let Some(r) = &rate {
                join.extend(["mcast-rate", r.as_str()]);
            }
            p.steps.push(Step::new(
                "iw",
                &join,
                "join the incident's ad-hoc cell on a fixed frequency",
            ));
        }
        Mode::Mesh => {
            let id = link.mesh_id.clone().unwrap_or_default();
            p.steps.push(down);
            p.steps.push(Step::new(
                "iw",
                &["dev", iface, "set", "type", "mp"],
                "802.11s mesh point mode",
            ));
            p.steps.push(up);
            let rate = link.mcast_rate_mbps.map(fmt_rate);
            let mut join = vec!["dev", iface, "mesh", "join", &id, "freq", &freq, &width];
            if let Some(r) = &rate {
                join.extend(["mcast-rate", r.as_str()]);
            }
            // callsign routes; 802.11s forwarding would relay underneath it.
            join.push("mesh_fwding=0");
            p.steps.push(Step::new(
                "iw",
                &join,
                "join the mesh; layer-2 forwarding off (callsign routes)",
            ));
        }
        Mode::Managed => {
            p.steps.push(down);
            p.steps.push(Step::new(
                "iw",
                &["dev", iface, "set", "type", "managed"],
                "station (managed) mode",
            ));
            p.steps.push(up);
            if let Some(ssid) = &link.ssid {
                let mut c = vec!["dev", iface, "connect", ssid.as_str()];
                if !freq.is_empty() {
                    c.push(&freq);
                }
                p.steps
                    .push(Step::new("iw", &c, "associate (open network)"));
                p.notes.push(
                    "iw connects to open networks only; for WPA let wpa_supplicant or \
                     NetworkManager associate and use mode \"as-is\""
                        .into(),
                );
            }
        }
        Mode::Ap => {
            p.steps.push(up);
            p.notes.push(
                "an access point is run by hostapd, not by callsign: configure hostapd with this \
                 profile's SSID and frequency; callsign uses the interface once it is up"
                    .into(),
            );
        }
    }
    if link.power_save == Some(false) && link.mode != Mode::AsIs {
        p.steps.push(Step::new(
            "iw",
            &["dev", iface, "set", "power_save", "off"],
            "no power-save sleep between beacons (latency on every hop)",
        ));
    }
    p
}

fn check_profile(link: &LinkSetup, p: &mut Plan) {
    let need = |p: &mut Plan, ok: bool, what: &str| {
        if !ok {
            p.missing.push(format!("the profile has no {what}"));
        }
    };
    match link.mode {
        Mode::Ibss => {
            need(p, link.ssid.is_some(), "ssid (IBSS joins a network name)");
            need(p, link.freq_mhz.is_some(), "freq_mhz");
        }
        Mode::Mesh => {
            need(p, link.mesh_id.is_some(), "mesh_id");
            need(p, link.freq_mhz.is_some(), "freq_mhz");
        }
        Mode::Managed | Mode::Ap | Mode::AsIs => {}
    }
    if let Some(w) = &link.width
        && !WIDTHS.contains(&w.as_str())
    {
        p.missing
            .push(format!("width {w:?} is not one of {}", WIDTHS.join(", ")));
    }
    if let Some(f) = link.freq_mhz
        && !(2_400..=2_500).contains(&f)
        && !(4_900..=5_900).contains(&f)
        && !(5_925..=7_125).contains(&f)
    {
        p.missing.push(format!(
            "freq_mhz {f} is not a Wi-Fi frequency (2.4, 5 or 6 GHz)"
        ));
    }
    if let Some(r) = link.mcast_rate_mbps
        && !(r > 0.0 && r <= 1_000.0)
    {
        p.missing.push(format!("mcast_rate_mbps {r} is not a rate"));
    }
}

fn check_driver(link: &LinkSetup, d: &Driver, p: &mut Plan) {
    if let Some(want) = link.mode.iw_name() {
        if d.modes.iter().any(|m| m == want) {
            p.checks
                .push(format!("driver of {} supports {want}", d.phy));
        } else {
            p.missing.push(format!(
                "the driver of {} ({}) does not support {want} mode; it supports: {}",
                p.iface,
                d.phy,
                if d.modes.is_empty() {
                    "nothing iw could list".into()
                } else {
                    d.modes.join(", ")
                }
            ));
        }
    }
    let Some(f) = link.freq_mhz else { return };
    if matches!(link.mode, Mode::AsIs | Mode::Ap) {
        return;
    }
    match d.freqs.iter().find(|(x, _)| *x == f) {
        None => p.missing.push(format!("{} has no {f} MHz channel", d.phy)),
        Some((_, flags)) if flags.iter().any(|x| x == "disabled") => p.missing.push(format!(
            "{f} MHz is disabled on {} (regulatory domain: set `country` in the profile)",
            d.phy
        )),
        Some((_, flags))
            if matches!(link.mode, Mode::Ibss | Mode::Mesh)
                && flags.iter().any(|x| x == "no IR" || x == "radar detection") =>
        {
            p.missing.push(format!(
                "{f} MHz is a radar (DFS / no-IR) channel on {}: an ad-hoc cell or mesh \
                 cannot start there; pick a non-DFS channel (5180-5240 or 5745-5825 MHz in \
                 most countries)",
                d.phy
            ))
        }
        Some(_) => p.checks.push(format!("{} can use {f} MHz", d.phy)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IW_DEV: &str = "phy#1\n\tInterface wlan1\n\t\tifindex 5\n\t\ttype managed\nphy#0\n\tInterface wlan0\n\t\tifindex 4\n\t\twdev 0x1\n\t\taddr 02:00:00:00:00:00\n\t\ttype managed\n";

    const PHY_INFO: &str = "Wiphy phy0\n\twiphy index: 0\n\tBand 1:\n\t\tFrequencies:\n\t\t\t* 2412.0 MHz [1] (20.0 dBm)\n\t\t\t* 2437.0 MHz [6] (20.0 dBm)\n\t\t\t* 2484.0 MHz [14] (disabled)\n\tBand 2:\n\t\tFrequencies:\n\t\t\t* 5180.0 MHz [36] (23.0 dBm)\n\t\t\t* 5260.0 MHz [52] (20.0 dBm) (no IR, radar detection)\n\tSupported interface modes:\n\t\t * IBSS\n\t\t * managed\n\t\t * AP\n\t\t * mesh point\n\tsoftware interface modes (can always be added):\n\t\t * monitor\n\tvalid interface combinations:\n\t\t * #{ managed } <= 1, #{ AP, mesh point } <= 1,\n";

    fn link(mode: Mode) -> LinkSetup {
        LinkSetup {
            mode,
            ssid: Some("callsign-incident".into()),
            mesh_id: Some("callsign-backbone".into()),
            freq_mhz: Some(5180),
            width: Some("HT20".into()),
            mcast_rate_mbps: Some(24.0),
            bssid: None,
            country: None,
            power_save: None,
        }
    }

    #[test]
    fn iw_output_is_read() {
        assert_eq!(
            parse_iw_dev(IW_DEV),
            [
                ("wlan1".to_string(), "phy1".to_string()),
                ("wlan0".to_string(), "phy0".to_string())
            ]
        );
        let d = parse_phy_info("phy0", PHY_INFO);
        assert_eq!(d.modes, ["IBSS", "managed", "AP", "mesh point"]);
        assert_eq!(d.freqs.len(), 5);
        assert_eq!(d.freqs[2], (2484, vec!["disabled".to_string()]));
        assert_eq!(
            d.freqs[4].1,
            ["no IR".to_string(), "radar detection".to_string()]
        );
        assert!(d.freqs[1].1.is_empty());
    }

    #[test]
    fn mesh_plan_is_exact() {
        let d = parse_phy_info("phy0", PHY_INFO);
        let p = plan("wlan0", "truck-5g", &link(Mode::Mesh), Some(&d));
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        let lines: Vec<String> = p.steps.iter().map(Step::line).collect();
        assert_eq!(
            lines,
            [
                "ip link set dev wlan0 down",
                "iw dev wlan0 set type mp",
                "ip link set dev wlan0 up",
                "iw dev wlan0 mesh join callsign-backbone freq 5180 HT20 mcast-rate 24 mesh_fwding=0",
            ]
        );
    }

    #[test]
    fn what_is_missing_is_said() {
        let mut d = parse_phy_info("phy1", PHY_INFO);
        d.modes.retain(|m| m != "mesh point");
        let p = plan("wlan1", "truck-5g", &link(Mode::Mesh), Some(&d));
        assert_eq!(p.missing.len(), 1, "{:?}", p.missing);
        assert!(
            p.missing[0].contains("does not support mesh point mode"),
            "{:?}",
            p.missing
        );
        assert!(
            p.missing[0].contains("IBSS, managed, AP"),
            "{:?}",
            p.missing
        );
        let mut l = link(Mode::Ibss);
        l.freq_mhz = Some(5260);
        let p = plan("wlan0", "x", &l, Some(&d));
        assert!(p.missing[0].contains("radar"), "{:?}", p.missing);
        l.freq_mhz = Some(2484);
        let p = plan("wlan0", "x", &l, Some(&d));
        assert!(p.missing[0].contains("disabled"), "{:?}", p.missing);
        l.freq_mhz = Some(5500);
        l.width = Some("HT80".into());
        l.ssid = None;
        let p = plan("wlan0", "x", &l, Some(&d));
        assert_eq!(p.missing.len(), 3, "{:?}", p.missing);
    }

    #[test]
    fn as_is_touches_nothing() {
        let p = plan("eth1", "wired", &link(Mode::AsIs), None);
        assert!(p.steps.is_empty() && p.missing.is_empty());
    }

    #[test]
    fn quoting_keeps_odd_ssids_one_argument() {
        let s = Step::new("iw", &["dev", "wlan0", "connect", "Engine 3's hotspot"], "");
        assert_eq!(s.line(), "iw dev wlan0 connect 'Engine 3'\\''s hotspot'");
    }
}
