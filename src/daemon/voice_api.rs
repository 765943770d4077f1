//! The API's voice endpoints: calls, talkgroups, mayday (docs/API.md).
//! Errors carry the HTTP status the engine chose: 404 unknown name or
//! call, 480 nobody reachable, 486 busy, 400 bad input, 409 wrong state.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::oneshot;

use super::api::{ApiState, EngineResult, ask, error, reply};
use super::api_body::ApiJson;
use super::dto;
use super::engine::{CallCommand, Command, TalkgroupCommand};

pub fn routes(r: Router<ApiState>) -> Router<ApiState> {
    r.route("/v1/calls", get(calls).post(dial))
        .route("/v1/answer", post(answer))
        .route("/v1/hangup", post(hangup))
        .route("/v1/talkgroups", get(talkgroups))
        .route("/v1/talkgroups/{name}/listen", post(listen))
        .route("/v1/talkgroups/{name}/leave", post(leave))
        .route("/v1/talkgroups/{name}/ptt", post(ptt))
        .route("/v1/talkgroups/{name}/release", post(release))
        .route("/v1/mayday", post(mayday))
        .route("/v1/audio", get(audio_list))
        .route("/v1/audio/{talkgroup}/{file}", get(audio_file))
}

/// Bursts listed at most.
const AUDIO_LIST_MAX: usize = 1000;

#[derive(serde::Deserialize)]
struct AudioListQuery {
    limit: Option<usize>,
}

async fn audio_list(State(s): State<ApiState>, Query(q): Query<AudioListQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(AUDIO_LIST_MAX);
    match ask(&s, |tx| {
        Command::Talkgroups(TalkgroupCommand::AudioList(limit, tx))
    })
    .await
    {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

#[derive(serde::Deserialize)]
struct AudioFileQuery {
    download: Option<u8>,
}

/// One burst of the audio log as `audio/wav`; `?download=1` asks the
/// browser to save it under its own name.
async fn audio_file(
    State(s): State<ApiState>,
    Path((tg, file)): Path<(String, String)>,
    Query(q): Query<AudioFileQuery>,
) -> Response {
    let rel = format!("{tg}/{file}");
    let path = match ask(&s, |tx| {
        Command::Talkgroups(TalkgroupCommand::AudioFile(rel.clone(), tx))
    })
    .await
    {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no burst {rel} in the audio log"),
            );
        }
        Err(e) => return e,
    };
    // A burst is at most the PTT time limit: about 20 MB at 600 s.
    let bytes = match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return error(StatusCode::NOT_FOUND, format!("{rel}: {e}")),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "read failed"),
    };
    let mut r = (
        [
            (header::CONTENT_TYPE, "audio/wav".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response();
    if q.download == Some(1) {
        let name = format!("{tg}-{file}");
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    r
}

async fn calls(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Calls(CallCommand::List(tx))).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn dial(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::DialRequest>) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Call>>| {
            Command::Calls(CallCommand::Dial(req, tx))
        })
        .await,
    )
}

async fn answer(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::AnswerRequest>) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Call>>| {
            Command::Calls(CallCommand::Answer(req, tx))
        })
        .await,
    )
}

async fn hangup(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::HangupRequest>) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Call>>| {
            Command::Calls(CallCommand::Hangup(req, tx))
        })
        .await,
    )
}

async fn talkgroups(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Talkgroups(TalkgroupCommand::List(tx))).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn listen(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<dto::ListenRequest>,
) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Talkgroup>>| {
            Command::Talkgroups(TalkgroupCommand::Join(name, req, tx))
        })
        .await,
    )
}

async fn leave(State(s): State<ApiState>, Path(name): Path<String>) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Talkgroup>>| {
            Command::Talkgroups(TalkgroupCommand::Leave(name, tx))
        })
        .await,
    )
}

async fn ptt(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<dto::PttRequest>,
) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Talkgroup>>| {
            Command::Talkgroups(TalkgroupCommand::Press(name, req, tx))
        })
        .await,
    )
}

async fn release(State(s): State<ApiState>, Path(name): Path<String>) -> Response {
    reply(
        ask(&s, |tx: oneshot::Sender<EngineResult<dto::Talkgroup>>| {
            Command::Talkgroups(TalkgroupCommand::Release(name, tx))
        })
        .await,
    )
}

async fn mayday(State(s): State<ApiState>, ApiJson(req): ApiJson<dto::MaydayRequest>) -> Response {
    reply(
        ask(
            &s,
            |tx: oneshot::Sender<EngineResult<Vec<dto::Talkgroup>>>| {
                Command::Talkgroups(TalkgroupCommand::Mayday(req, tx))
            },
        )
        .await,
    )
}
