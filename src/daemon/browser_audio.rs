//! Talkgroup audio to and from a browser over plain HTTP (docs/API.md,
//! "Browser audio"; why not WebRTC or a WebSocket: docs/ARCHITECTURE.md).
//!
//! - Listening: `GET /v1/talkgroups/{name}/audio` is a response that does
//!   not end: every 20 ms slot the engine decodes for the talkgroup, as
//!   16 kHz mono 16-bit little-endian PCM, written as it plays here. It
//!   costs one of the event-stream places (a stream each).
//! - Talking: after a press with `{"browser": true}` the page posts its
//!   microphone to `POST /v1/talkgroups/{name}/audio?seq=N`, the same
//!   PCM, a post every few tens of ms; the engine encodes it with Opus like
//!   any other source.
//!
//! Both pass `auth::guard` like every request (Host, Origin, token).

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::broadcast;

use super::api::{ApiState, ask, error, reply};
use super::engine::{Command, GroupPcm, TalkgroupCommand};
use crate::identity::NodeId;

/// Slots the live tap holds for a slow listener before it skips: 1.28 s.
pub const TAP_SLOTS: usize = 64;
/// The longest post of microphone audio: 250 ms.
const MAX_POST_SAMPLES: usize = 4000;
/// The format of both directions, in a header too.
const FORMAT: &str = "s16le; rate=16000; channels=1";

pub fn routes(r: Router<ApiState>) -> Router<ApiState> {
    r.route("/v1/talkgroups/{name}/audio", get(listen).post(talk))
}

async fn listen(State(s): State<ApiState>, Path(name): Path<String>) -> Response {
    let g = match ask(&s, |tx| {
        Command::Talkgroups(TalkgroupCommand::Member(name.clone(), tx))
    })
    .await
    {
        Ok(Some(g)) => g,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("not a member of {name}")),
        Err(e) => return e,
    };
    let Ok(permit) = s.subscribers.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many streams (at most {})", s.max_subscribers),
        );
    };
    let rx = s.pcm.subscribe();
    let body = futures_util::stream::unfold((rx, permit), move |(mut rx, permit)| async move {
        let bytes = next_slot(&mut rx, g).await?;
        Some((Ok::<_, Infallible>(bytes), (rx, permit)))
    });
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-audio-format", HeaderValue::from_static(FORMAT));
    r
}

/// The next slot of group `g` as little-endian bytes; a listener that fell
/// behind skips what it missed (the page hears a gap, never a backlog).
async fn next_slot(rx: &mut broadcast::Receiver<GroupPcm>, g: NodeId) -> Option<Bytes> {
    loop {
        match rx.recv().await {
            Ok((group, pcm)) if group == g => {
                let b: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
                return Some(Bytes::from(b));
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

#[derive(serde::Deserialize)]
struct TalkQuery {
    seq: u64,
}

async fn talk(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<TalkQuery>,
    body: Bytes,
) -> Response {
    if !body.len().is_multiple_of(2) || body.len() / 2 > MAX_POST_SAMPLES {
        return error(
            StatusCode::BAD_REQUEST,
            format!("need whole {FORMAT} samples, at most {MAX_POST_SAMPLES}"),
        );
    }
    let pcm: Vec<i16> = body
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let r = ask(&s, |tx| {
        Command::Talkgroups(TalkgroupCommand::Audio(name, q.seq, pcm, tx))
    })
    .await;
    match r {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        other => reply::<()>(other),
    }
}
