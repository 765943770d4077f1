//! The API's message and incident-log endpoints (docs/API.md).

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::api::{ApiState, ask, error};
use super::api_body::ApiJson;
use super::engine::{Command, MAX_LOG_ANSWER, MsgCommand, unix_ms};
use super::msg_dto::{InboxQuery, LogQuery, SendRequest};
use super::msgstore::LogRow;

pub fn routes(r: Router<ApiState>) -> Router<ApiState> {
    r.route("/v1/messages", post(send))
        .route("/v1/inbox", get(inbox))
        .route("/v1/outbox", get(outbox))
        .route("/v1/log", get(log))
}

async fn send(State(s): State<ApiState>, ApiJson(req): ApiJson<SendRequest>) -> Response {
    match ask(&s, |tx| Command::Messages(MsgCommand::Send(req, tx))).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err((code, msg))) => error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            msg,
        ),
        Err(e) => e,
    }
}

async fn inbox(State(s): State<ApiState>, Query(q): Query<InboxQuery>) -> Response {
    match ask(&s, |tx| Command::Messages(MsgCommand::Inbox(q.after, tx))).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => e,
    }
}

async fn outbox(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Messages(MsgCommand::Outbox(tx))).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => e,
    }
}

async fn log(State(s): State<ApiState>, Query(q): Query<LogQuery>) -> Response {
    let since_ms = match (q.since_ms, q.ago_s) {
        (Some(t), _) => t,
        (None, Some(a)) => unix_ms().saturating_sub(a.saturating_mul(1000)),
        (None, None) => 0,
    };
    let limit = q.limit.unwrap_or(MAX_LOG_ANSWER);
    let rows = match ask(&s, |reply| {
        Command::Messages(MsgCommand::Log {
            since_ms,
            limit,
            reply,
        })
    })
    .await
    {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return e,
    };
    match q.format.as_deref() {
        None | Some("json") => Json(rows).into_response(),
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"incident-log.csv\"",
                ),
            ],
            csv(&rows),
        )
            .into_response(),
        Some(f) => error(
            StatusCode::BAD_REQUEST,
            format!("format {f:?}: json or csv"),
        ),
    }
}

/// RFC 4180: a header row, one event per row, CRLF line ends, fields with
/// a comma, quote or line break quoted with quotes doubled.
pub fn csv(rows: &[LogRow]) -> String {
    let mut out = String::from("n,time_utc,at_ms,kind,summary,detail\r\n");
    for r in rows {
        let fields = [
            r.n.to_string(),
            iso_utc(r.at_ms),
            r.at_ms.to_string(),
            r.kind.clone(),
            if r.summary.is_empty() {
                summary(&r.detail)
            } else {
                r.summary.clone()
            },
            r.detail.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// `key=value` pairs of an event, its type left out.
pub fn summary(detail: &serde_json::Value) -> String {
    let Some(o) = detail.as_object() else {
        return String::new();
    };
    o.iter()
        .filter(|(k, _)| k.as_str() != "type")
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SS.mmmZ` (civil-from-days, proleptic
/// Gregorian), which spreadsheets read as a time.
pub fn iso_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_utc() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_utc(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let rows = vec![LogRow {
            n: 1,
            at_ms: 0,
            kind: "message_received".into(),
            detail: serde_json::json!({"type": "message_received", "text": "a, \"b\"\nc"}),
            summary: String::new(),
        }];
        let c = csv(&rows);
        let mut lines = c.split("\r\n");
        assert_eq!(lines.next(), Some("n,time_utc,at_ms,kind,summary,detail"));
        let row = lines.next().expect("row");
        assert!(
            row.starts_with("1,1970-01-01T00:00:00.000Z,0,message_received,\"text=a, \"\"b\"\"")
        );
    }
}
