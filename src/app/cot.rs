//! Cursor-on-Target (CoT) events for ATAK and the other TAK clients: a
//! position report per directory member and a 911 alert for a mayday, as
//! the XML those clients take on UDP multicast. Pure: the caller gives the
//! wall-clock time and the members and gets the bytes; the daemon sends
//! them (`daemon/cot.rs`).

use std::fmt::Write as _;

use crate::identity::NodeId;
use crate::names::record::Position;

/// A friendly ground unit, combat (a responder), in CoT's type tree.
pub const POSITION_TYPE: &str = "a-f-G-U-C";
/// ATAK's "911 Alert".
pub const ALERT_TYPE: &str = "b-a-o-tbl";
/// The end of an alert: the same uid, cancelled.
pub const CANCEL_TYPE: &str = "b-a-o-can";
/// CoT's "not known" for height, circular and linear error.
const UNKNOWN: &str = "9999999.0";

/// One directory member as TAK clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub node: NodeId,
    /// The role shown on the map (the first name the member holds; its
    /// short node id when it holds none).
    pub callsign: String,
    pub talkgroups: Vec<String>,
    pub position: Option<Position>,
}

/// The member's CoT uid: the same for its node whatever roles it holds,
/// so a hand-over moves a label, not a marker.
pub fn uid(node: &NodeId) -> String {
    format!("callsign-{node}")
}

/// A position report (`a-f-G-U-C`) of `m` at `now_ms` (Unix ms), stale
/// `stale_ms` later; `None` when the member's position is not known.
pub fn position_report(now_ms: u64, stale_ms: u64, m: &Member) -> Option<Vec<u8>> {
    let p = m.position?;
    let mut x = head(&uid(&m.node), POSITION_TYPE, now_ms, stale_ms);
    point(&mut x, Some(p));
    x.push_str("<detail>");
    let _ = write!(x, "<contact callsign=\"{}\"/>", escape(&m.callsign));
    x.push_str("<precisionlocation geopointsrc=\"GPS\" altsrc=\"???\"/>");
    if !m.talkgroups.is_empty() {
        let _ = write!(
            x,
            "<remarks>talkgroups: {}</remarks>",
            escape(&m.talkgroups.join(", "))
        );
    }
    x.push_str("</detail></event>");
    Some(x.into_bytes())
}

/// A 911 alert (`b-a-o-tbl`) for `m`'s mayday, at its position when known
/// (else at 0, 0 with the errors "not known", and the remarks say so: an
/// alert with no place still has to reach the map's alert list).
pub fn mayday_alert(now_ms: u64, stale_ms: u64, m: &Member) -> Vec<u8> {
    let call = escape(&m.callsign);
    let unplaced = if m.position.is_none() {
        ", position not known"
    } else {
        ""
    };
    mayday_event(
        now_ms,
        stale_ms,
        m,
        ALERT_TYPE,
        &format!("<emergency type=\"911 Alert\">{call}</emergency>"),
        &format!("MAYDAY {call}{unplaced}"),
    )
}

/// The end of `m`'s mayday (cleared, or the member back to normal): the
/// alert's uid with `b-a-o-can`, so the maps drop it at once rather than
/// when it goes stale.
pub fn mayday_cancel(now_ms: u64, stale_ms: u64, m: &Member) -> Vec<u8> {
    let call = escape(&m.callsign);
    mayday_event(
        now_ms,
        stale_ms,
        m,
        CANCEL_TYPE,
        &format!("<emergency cancel=\"true\">{call}</emergency>"),
        &format!("MAYDAY {call} ended"),
    )
}

/// The alert's event and its end share a uid, a link to the member's
/// position report and a contact; they differ in type, the emergency
/// element and the remarks (already escaped).
fn mayday_event(
    now_ms: u64,
    stale_ms: u64,
    m: &Member,
    kind: &str,
    emergency: &str,
    remarks: &str,
) -> Vec<u8> {
    let member = uid(&m.node);
    let mut x = head(&format!("{member}-9-1-1"), kind, now_ms, stale_ms);
    point(&mut x, m.position);
    let call = escape(&m.callsign);
    let _ = write!(
        x,
        "<detail><link uid=\"{member}\" type=\"{POSITION_TYPE}\" relation=\"p-p\"/>\
         <contact callsign=\"{call}-Alert\"/>\
         {emergency}<remarks>{remarks}</remarks></detail></event>"
    );
    x.into_bytes()
}

fn head(uid: &str, kind: &str, now_ms: u64, stale_ms: u64) -> String {
    let now = iso_time(now_ms);
    let mut x = String::with_capacity(512);
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <event version=\"2.0\" uid=\"{}\" type=\"{kind}\" how=\"m-g\" \
         time=\"{now}\" start=\"{now}\" stale=\"{}\">",
        escape(uid),
        iso_time(now_ms.saturating_add(stale_ms)),
    );
    x
}

fn point(x: &mut String, p: Option<Position>) {
    match p {
        Some(p) => {
            let _ = write!(
                x,
                "<point lat=\"{}\" lon=\"{}\" hae=\"{UNKNOWN}\" ce=\"{}.0\" le=\"{UNKNOWN}\"/>",
                degrees(p.lat_e7),
                degrees(p.lon_e7),
                p.accuracy_m
            );
        }
        None => {
            let _ = write!(
                x,
                "<point lat=\"0.0\" lon=\"0.0\" hae=\"{UNKNOWN}\" ce=\"{UNKNOWN}\" le=\"{UNKNOWN}\"/>"
            );
        }
    }
}

/// 1e-7 degrees as a decimal, exactly (no float rounding on the way).
fn degrees(e7: i32) -> String {
    let sign = if e7 < 0 { "-" } else { "" };
    let a = e7.unsigned_abs();
    format!("{sign}{}.{:07}", a / 10_000_000, a % 10_000_000)
}

/// Unix ms as CoT's UTC time, `2026-03-01T12:00:00.000Z`.
pub fn iso_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Text for an XML attribute or element: the five markup characters as
/// entities, and control characters (which XML 1.0 forbids) dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(pos: Option<Position>) -> Member {
        Member {
            node: NodeId([0xab; 16]),
            callsign: "engine-3".into(),
            talkgroups: vec!["fireground-1".into()],
            position: pos,
        }
    }

    const POS: Position = Position {
        lat_e7: 455_000_123,
        lon_e7: -736_000_050,
        accuracy_m: 6,
        time_s: 0,
    };

    #[test]
    fn times_are_utc_iso() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_772_366_400_123), "2026-03-01T12:00:00.123Z");
        // A leap day and the end of a leap year.
        assert_eq!(iso_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_time(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
    }

    #[test]
    fn degrees_are_exact() {
        assert_eq!(degrees(455_000_123), "45.5000123");
        assert_eq!(degrees(-736_000_050), "-73.6000050");
        assert_eq!(degrees(-5), "-0.0000005");
        assert_eq!(degrees(i32::MIN), "-214.7483648");
    }

    #[test]
    fn escaping() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
        assert_eq!(escape("tab\there\u{7}bell"), "tab herebell");
        assert_eq!(escape("échelle-2"), "échelle-2");
        let mut m = member(Some(POS));
        m.callsign = "\"/><evil x=\"".into();
        let x = String::from_utf8(position_report(0, 1, &m).expect("report")).expect("utf-8");
        assert!(
            x.contains("callsign=\"&quot;/&gt;&lt;evil x=&quot;\""),
            "{x}"
        );
        assert!(!x.contains("<evil"));
    }

    #[test]
    fn position_report_fields() {
        let now = 1_772_366_400_000;
        let x = position_report(now, 30_000, &member(Some(POS))).expect("report");
        let x = String::from_utf8(x).expect("utf-8");
        let uid = format!("callsign-{}", "ab".repeat(16));
        assert_eq!(
            x,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
                 <event version=\"2.0\" uid=\"{uid}\" type=\"a-f-G-U-C\" how=\"m-g\" \
                 time=\"2026-03-01T12:00:00.000Z\" start=\"2026-03-01T12:00:00.000Z\" \
                 stale=\"2026-03-01T12:00:30.000Z\">\
                 <point lat=\"45.5000123\" lon=\"-73.6000050\" hae=\"9999999.0\" ce=\"6.0\" le=\"9999999.0\"/>\
                 <detail><contact callsign=\"engine-3\"/>\
                 <precisionlocation geopointsrc=\"GPS\" altsrc=\"???\"/>\
                 <remarks>talkgroups: fireground-1</remarks></detail></event>"
            )
        );
        assert_eq!(position_report(now, 30_000, &member(None)), None);
    }

    #[test]
    fn mayday_alert_fields() {
        let now = 1_772_366_400_000;
        let x = String::from_utf8(mayday_alert(now, 30_000, &member(Some(POS)))).expect("utf-8");
        let uid = format!("callsign-{}", "ab".repeat(16));
        assert!(
            x.contains(&format!(
                "uid=\"{uid}-9-1-1\" type=\"b-a-o-tbl\" how=\"m-g\" \
                 time=\"2026-03-01T12:00:00.000Z\""
            )),
            "{x}"
        );
        assert!(x.contains("<point lat=\"45.5000123\" lon=\"-73.6000050\""));
        assert!(x.contains(&format!(
            "<link uid=\"{uid}\" type=\"a-f-G-U-C\" relation=\"p-p\"/>"
        )));
        assert!(x.contains("<contact callsign=\"engine-3-Alert\"/>"));
        assert!(x.contains("<emergency type=\"911 Alert\">engine-3</emergency>"));
        let c = String::from_utf8(mayday_cancel(now, 30_000, &member(Some(POS)))).expect("utf-8");
        assert!(
            c.contains(&format!("uid=\"{uid}-9-1-1\" type=\"b-a-o-can\"")),
            "{c}"
        );
        assert!(c.contains("<emergency cancel=\"true\">engine-3</emergency>"));
        let x = String::from_utf8(mayday_alert(now, 30_000, &member(None))).expect("utf-8");
        assert!(x.contains("<point lat=\"0.0\" lon=\"0.0\" hae=\"9999999.0\" ce=\"9999999.0\""));
        assert!(x.contains("position not known"));
    }
}
