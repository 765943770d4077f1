//! What the API takes from a request body: JSON of at most [`MAX_BODY`]
//! bytes, arriving within [`BODY_TIMEOUT`], at most [`MAX_READING`]
//! bodies read at once (so bodies held in memory stay within
//! `MAX_READING * MAX_BODY` however many connections send them). Every
//! refusal is the API's usual `{"error": ...}`: 400 malformed JSON or
//! fields, 413 too large, 415 not `Content-Type: application/json`, 408
//! too slow (the wait for a turn included).

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::api::error;

/// The largest body any endpoint takes. The largest real one (a message
/// of 800 bytes to 64 recipients' names) is far smaller.
pub const MAX_BODY: usize = 64 * 1024;
/// From the request head to the last byte of its body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies being read at once: 4 MiB at most in all. Real clients send a
/// few small bodies a second; a flood waits its turn.
pub const MAX_READING: usize = 64;

static READING: Semaphore = Semaphore::const_new(MAX_READING);

/// A JSON body, refused in the API's own words when it is not one.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let read = async {
            // The semaphore is never closed: a permit, always.
            let _turn = READING.acquire().await;
            Json::<T>::from_request(req, state).await
        };
        match tokio::time::timeout(BODY_TIMEOUT, read).await {
            Ok(Ok(Json(v))) => Ok(ApiJson(v)),
            Ok(Err(rej)) => {
                let status = match rej.status() {
                    // Well-formed JSON with wrong or missing fields is as
                    // malformed as broken JSON to a client.
                    StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                    s => s,
                };
                let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!("request body over {MAX_BODY} bytes")
                } else {
                    rej.body_text()
                };
                Err(error(status, msg))
            }
            Err(_) => Err(error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request body not received within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )),
        }
    }
}
