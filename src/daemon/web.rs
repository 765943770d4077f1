//! The pages the daemon serves on its API address: the incident
//! commander's console (`/`, `/console`) and the handset page
//! (`/handset`), plain HTML, CSS and JavaScript modules embedded in the
//! binary (no build step, nothing fetched from elsewhere: it works with no
//! internet). They read the JSON API and follow `/v1/events`.
//!
//! Every request, pages included, passes `auth::guard` (Host, Origin and
//! the API token); a page opened as `/?token=...` gets the token as a
//! cookie there, and `common.js` strips it from the address bar.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::api::{ApiState, error};

/// (path, content type, bytes) of every embedded asset.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/console",
        "text/html; charset=utf-8",
        include_str!("../../web/console.html"),
    ),
    (
        "/handset",
        "text/html; charset=utf-8",
        include_str!("../../web/handset.html"),
    ),
    (
        "/assets/style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
    (
        "/assets/common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/common.js"),
    ),
    (
        "/assets/console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/console.js"),
    ),
    (
        "/assets/map.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/map.js"),
    ),
    (
        "/assets/handset.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/handset.js"),
    ),
    (
        "/assets/audio.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/audio.js"),
    ),
    (
        "/assets/audio-worklet.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/audio-worklet.js"),
    ),
];

pub fn routes(r: Router<ApiState>) -> Router<ApiState> {
    let mut r = r.route("/", get(|| async { asset("/console") }));
    for (path, _, _) in ASSETS {
        r = r.route(path, get(move || async move { asset(path) }));
    }
    r
}

fn asset(path: &str) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, ctype, body)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "no-cache"),
                // Nothing from elsewhere, no framing by other sites.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; frame-ancestors 'none'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // The address may still hold `?token=` until the script
                // strips it: never pass it on.
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            *body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such page"),
    }
}
