//! The local HTTP API (axum): JSON for status, neighbours and routes,
//! newline-delimited JSON for ping streams, server-sent events for changes.
//! Every handler asks the engine through its command channel; the engine
//! answers between two inputs, so answers are consistent snapshots.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::api_body::ApiJson;
use super::dto::{self, ApiEvent, PingLine};
use super::engine::{Command, NamesCommand, PingReply};
use crate::identity::NodeId;

#[derive(Clone)]
pub struct ApiState {
    pub cmds: mpsc::Sender<Command>,
    pub events: broadcast::Sender<ApiEvent>,
    pub bench: bool,
    /// Ping sessions are told apart by this counter, started at a random value.
    pub sessions: std::sync::Arc<AtomicU64>,
    /// The last position taken from gpsd (`--gpsd`).
    pub position: std::sync::Arc<std::sync::Mutex<dto::PositionStatus>>,
    /// The address the API listens on: Host and Origin must name it (or
    /// loopback).
    pub bound: std::net::SocketAddr,
    /// The API token every request must carry (`auth`).
    pub token: super::auth::Token,
    /// One permit per open event stream, `max_subscribers` in all.
    pub subscribers: std::sync::Arc<tokio::sync::Semaphore>,
    /// At most [`MAX_SUBSCRIBERS`], fewer under a low file limit (`serve`).
    pub max_subscribers: usize,
    /// Decoded talkgroup audio, for pages listening live (`browser_audio`).
    pub pcm: broadcast::Sender<super::engine::GroupPcm>,
}

/// Event streams open at once. Every console, handset page, terminal and
/// dashboard of a large incident is served rather than refused, since a
/// page refused its stream goes blind: each costs one connection, a
/// cursor on the shared ring of events and hyper's capped buffers (`serve`),
/// never a queue of its own (a slow reader is told what it missed,
/// `lagged`; one that stops reading altogether is dropped by `serve`).
/// One more is refused with 503, so that streams never hold more than
/// half of the connections.
pub const MAX_SUBSCRIBERS: usize = 1024;

pub fn router(state: ApiState) -> Router {
    let mut r = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/neighbors", get(neighbours))
        .route("/v1/neighbours", get(neighbours))
        .route("/v1/routes", get(routes))
        .route("/v1/ping", post(ping))
        .route("/v1/names", get(names))
        .route("/v1/names/{name}", get(whois))
        .route("/v1/claim", post(claim))
        .route("/v1/release", post(release))
        .route("/v1/handover", post(handover))
        .route("/v1/presence", post(presence))
        .route("/v1/events", get(events))
        .route("/v1/position", get(position))
        .route("/v1/revocations", post(revoke));
    r = super::voice_api::routes(r);
    r = super::browser_audio::routes(r);
    r = super::msg_api::routes(r);
    r = super::console_api::routes(r);
    r = super::web::routes(r);
    if state.bench {
        r = r
            .route("/v1/bench/send", post(bench_send))
            .route("/v1/bench/recv", get(bench_recv));
    }
    r.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        super::auth::guard,
    ))
    .layer(axum::extract::DefaultBodyLimit::max(
        super::api_body::MAX_BODY,
    ))
    .with_state(state)
}

/// What the engine answers a command: the value, or a status and message.
pub(super) type EngineResult<T> = Result<T, (u16, String)>;

/// The engine's answer as JSON, or its `(status, message)` refusal as an
/// error, or the response `ask` already made (the engine is gone).
pub(super) fn reply<T: serde::Serialize>(r: Result<EngineResult<T>, Response>) -> Response {
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err((code, msg))) => error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            msg,
        ),
        Err(e) => e,
    }
}

pub(super) fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

/// Ask the engine and wait for its answer.
pub(super) async fn ask<T>(
    s: &ApiState,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, Response> {
    let (tx, rx) = oneshot::channel();
    let gone = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is shutting down",
        )
    };
    s.cmds.send(make(tx)).await.map_err(|_| gone())?;
    rx.await.map_err(|_| gone())
}

async fn status(State(s): State<ApiState>) -> Response {
    match ask(&s, Command::Status).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn neighbours(State(s): State<ApiState>) -> Response {
    match ask(&s, Command::Neighbours).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn routes(State(s): State<ApiState>) -> Response {
    match ask(&s, Command::Routes).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn names(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Names(NamesCommand::List(None, tx))).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => e,
    }
}

async fn whois(State(s): State<ApiState>, Path(name): Path<String>) -> Response {
    match ask(&s, |tx| Command::Names(NamesCommand::List(Some(name), tx))).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, e),
        Err(e) => e,
    }
}

/// A directory change: 200 with what we hold now, 409 with the reason the
/// directory refused it.
async fn names_change(
    s: &ApiState,
    make: impl FnOnce(oneshot::Sender<Result<dto::NamesDone, String>>) -> NamesCommand,
) -> Response {
    match ask(s, |tx| Command::Names(make(tx))).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::CONFLICT, e),
        Err(e) => e,
    }
}

async fn claim(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::ClaimRequest>) -> Response {
    names_change(&s, |tx| NamesCommand::Claim(req, tx)).await
}

async fn release(
    State(s): State<ApiState>,
    ApiJson(req): ApiJson<dto::ReleaseRequest>,
) -> Response {
    names_change(&s, |tx| NamesCommand::Release(req, tx)).await
}

async fn handover(
    State(s): State<ApiState>,
    ApiJson(req): ApiJson<dto::HandoverRequest>,
) -> Response {
    names_change(&s, |tx| NamesCommand::Handover(req, tx)).await
}

async fn presence(
    State(s): State<ApiState>,
    ApiJson(req): ApiJson<dto::PresenceRequest>,
) -> Response {
    names_change(&s, |tx| NamesCommand::Presence(req, tx)).await
}

/// A revocation from the operator: 200 with the device, 400 when the
/// core refuses it (malformed, not a root's, open mode).
async fn revoke(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::RevokeRequest>) -> Response {
    let h = req.revocation.trim();
    let bytes: Option<Vec<u8>> = (h.len() % 2 == 0 && h.is_ascii())
        .then(|| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
                .collect()
        })
        .flatten();
    let Some(bytes) = bytes else {
        return error(StatusCode::BAD_REQUEST, "revocation: expected hex");
    };
    match ask(&s, |tx| Command::Revoke(bytes, tx)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => e,
    }
}

async fn position(State(s): State<ApiState>) -> Response {
    let p = s.position.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(p).into_response()
}

async fn resolve(s: &ApiState, target: String) -> Result<(NodeId, Vec<String>), Response> {
    ask(s, |tx| Command::Resolve(target, tx))
        .await?
        .map_err(|e| error(StatusCode::NOT_FOUND, e))
}

fn ndjson(line: &PingLine) -> String {
    let mut s = serde_json::to_string(line).unwrap_or_default();
    s.push('\n');
    s
}

async fn ping(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::PingRequest>) -> Response {
    let (dst, names) = match resolve(&s, req.target.clone()).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    let (out_tx, out_rx) = mpsc::channel::<String>(64);
    let _ = out_tx.try_send(ndjson(&PingLine::Start { target: dst, names }));
    let session = s.sessions.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(ping_session(s.cmds.clone(), session, dst, req, out_tx));
    let body = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "response"))
}

/// Sends one echo per interval, matches replies, reports timeouts, and
/// ends with a summary. Stops early when the client goes away.
async fn ping_session(
    cmds: mpsc::Sender<Command>,
    session: u64,
    dst: NodeId,
    req: dto::PingRequest,
    out: mpsc::Sender<String>,
) {
    let (tx, mut rx) = mpsc::channel(256);
    let start = tokio::time::Instant::now();
    let timeout = Duration::from_millis(req.timeout_ms.max(1));
    let mut tick = tokio::time::interval(Duration::from_millis(req.interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut outstanding: BTreeMap<u64, tokio::time::Instant> = BTreeMap::new();
    let (mut sent, mut received, mut rtts) = (0u64, 0u64, Vec::new());
    loop {
        let more = req.count == 0 || sent < req.count;
        if !more && outstanding.is_empty() {
            break;
        }
        let next_expiry = outstanding
            .values()
            .next()
            .map_or(start + Duration::from_secs(86400), |t| *t + timeout);
        let mut lines = Vec::new();
        tokio::select! {
            _ = tick.tick(), if more => {
                sent += 1;
                outstanding.insert(sent, tokio::time::Instant::now());
                let cmd = Command::Ping { session, dst, seq: sent, replies: tx.clone() };
                if cmds.send(cmd).await.is_err() {
                    break;
                }
            }
            Some(r) = rx.recv() => match r {
                PingReply::Reply { seq, hops, rtt_us } => {
                    if outstanding.remove(&seq).is_some() {
                        received += 1;
                        let rtt_ms = rtt_us as f64 / 1000.0;
                        rtts.push(rtt_ms);
                        let at_ms = start.elapsed().as_secs_f64() * 1000.0;
                        lines.push(PingLine::Reply { seq, hops, rtt_ms, at_ms });
                    }
                }
                PingReply::Error { seq, error } => {
                    outstanding.remove(&seq);
                    lines.push(PingLine::Error { seq, error });
                }
            },
            _ = tokio::time::sleep_until(next_expiry) => {
                let now = tokio::time::Instant::now();
                while let Some((&seq, &t)) = outstanding.iter().next() {
                    if t + timeout > now {
                        break;
                    }
                    outstanding.remove(&seq);
                    lines.push(PingLine::Timeout { seq });
                }
            }
            _ = out.closed() => break,
        }
        for l in &lines {
            if out.send(ndjson(l)).await.is_err() {
                break;
            }
        }
    }
    let _ = cmds.send(Command::PingDone { session }).await;
    let n = rtts.len() as f64;
    let summary = PingLine::Summary {
        sent,
        received,
        loss_pct: if sent > 0 {
            100.0 * (sent - received) as f64 / sent as f64
        } else {
            0.0
        },
        rtt_min_ms: rtts.iter().copied().reduce(f64::min),
        rtt_avg_ms: (n > 0.0).then(|| rtts.iter().sum::<f64>() / n),
        rtt_max_ms: rtts.iter().copied().reduce(f64::max),
    };
    let _ = out.send(ndjson(&summary)).await;
}

async fn events(State(s): State<ApiState>) -> Response {
    let Ok(permit) = s.subscribers.clone().try_acquire_owned() else {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many event-stream subscribers (at most {})",
                s.max_subscribers
            ),
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    };
    Sse::new(event_stream(s.events.subscribe(), permit))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The events for one subscriber; `permit` is its place among the
/// subscribers, given back when the stream is dropped.
fn event_stream(
    rx: broadcast::Receiver<ApiEvent>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures_util::stream::unfold((rx, permit), |(mut rx, permit)| async move {
        let ev = match rx.recv().await {
            Ok(ev) => {
                let data = serde_json::to_string(&ev).unwrap_or_default();
                SseEvent::default().event(ev.kind()).data(data)
            }
            // A slow reader is told how much it missed, then carries on.
            Err(broadcast::error::RecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(ev), (rx, permit)))
    })
}

/// Bench traffic goes in bursts of at most this many so API and timers keep running.
const BENCH_BURST: u64 = 32;

async fn bench_send(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::BenchSend>) -> Response {
    let (dst, _) = match resolve(&s, req.target.clone()).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    let cmds = s.cmds.clone();
    match tokio::task::spawn_blocking(move || bench_paced(&cmds, dst, &req)).await {
        Ok(Some(out)) => Json(out).into_response(),
        _ => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is shutting down",
        ),
    }
}

/// The bench sender's pacing, on a blocking thread: tokio's timers tick in
/// milliseconds, a thread sleep wakes within tens of microseconds. It sleeps
/// until the next packet is due, then hands the engine every packet due by
/// now (at most [`BENCH_BURST`] per command). At 1000 packets/s that is one
/// packet every millisecond; at high rates the bursts stay a few tens of
/// microseconds' worth. `pps` 0: as fast as the engine takes them.
#[allow(clippy::disallowed_methods)]
fn bench_paced(
    cmds: &mpsc::Sender<Command>,
    dst: NodeId,
    req: &dto::BenchSend,
) -> Option<dto::BenchSent> {
    let start = std::time::Instant::now();
    let mut out = dto::BenchSent::default();
    let mut done = 0u64;
    while done < req.count {
        let due = if req.pps > 0 {
            let next = start + Duration::from_secs_f64(done as f64 / req.pps as f64);
            let now = std::time::Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            (start.elapsed().as_secs_f64() * req.pps as f64) as u64 + 1
        } else {
            req.count
        };
        let n = due
            .min(req.count)
            .saturating_sub(done)
            .clamp(1, BENCH_BURST);
        let (tx, rx) = oneshot::channel();
        cmds.blocking_send(Command::BenchBurst {
            dst,
            n: n as u32,
            size: req.size,
            done: tx,
        })
        .ok()?;
        let (sent, refused) = rx.blocking_recv().ok()?;
        out.sent += sent;
        out.refused += refused;
        done += n;
    }
    out.elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    Some(out)
}

#[derive(serde::Deserialize)]
struct ResetQuery {
    #[serde(default)]
    reset: bool,
}

async fn bench_recv(State(s): State<ApiState>, Query(q): Query<ResetQuery>) -> Response {
    match ask(&s, |reply| Command::BenchRecv {
        reset: q.reset,
        reply,
    })
    .await
    {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}
