//! The API's console endpoints: PAR roll calls (`/v1/par`), the maydays
//! the console tracks (`/v1/maydays`) and the mesh map (`/v1/mesh`), see
//! docs/API.md.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::api::{ApiState, ask, reply};
use super::api_body::ApiJson;
use super::console_dto::{MaydayAction, ParStartRequest};
use super::engine::{Command, ConsoleCommand};

pub fn routes(r: Router<ApiState>) -> Router<ApiState> {
    r.route("/v1/par", get(par_status).post(par_start))
        .route("/v1/par/ack", post(par_ack))
        .route("/v1/maydays", get(maydays))
        .route("/v1/maydays/ack", post(mayday_ack))
        .route("/v1/maydays/clear", post(mayday_clear))
        .route("/v1/mesh", get(mesh))
}

async fn mesh(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Console(ConsoleCommand::Mesh(tx))).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn par_status(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Console(ConsoleCommand::ParStatus(tx))).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn par_start(State(s): State<ApiState>, ApiJson(req): ApiJson<ParStartRequest>) -> Response {
    reply(ask(&s, |tx| Command::Console(ConsoleCommand::ParStart(req, tx))).await)
}

async fn par_ack(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Console(ConsoleCommand::ParAck(tx))).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn maydays(State(s): State<ApiState>) -> Response {
    match ask(&s, |tx| Command::Console(ConsoleCommand::Maydays(tx))).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    }
}

async fn mayday_ack(State(s): State<ApiState>, Json(a): Json<MaydayAction>) -> Response {
    reply(ask(&s, |tx| Command::Console(ConsoleCommand::MaydayAck(a, tx))).await)
}

async fn mayday_clear(State(s): State<ApiState>, Json(a): Json<MaydayAction>) -> Response {
    reply(
        ask(&s, |tx| {
            Command::Console(ConsoleCommand::MaydayClear(a, tx))
        })
        .await,
    )
}
