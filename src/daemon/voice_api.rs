//! The API's voice endpoints: calls, talkgroups, mayday (docs/API.md).
//! Errors carry the HTTP status the engine chose: 404 unknown name or
//! call, 480 nobody reachable, 486 busy, 400 bad input, 409 wrong state.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::oneshot;

use super::api::{ApiState, EngineResult, ask, reply};
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
