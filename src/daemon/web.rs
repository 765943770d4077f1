//! The pages the daemon serves on its API address: the incident
//! commander's console (`/`, `/console`) and the handset page
//! (`/handset`), plain HTML, CSS and JavaScript modules embedded in the
//! binary (no build step, nothing fetched from elsewhere: it works with no
//! internet). They read the JSON API and follow `/v1/events`.
//!
//! Every request, API included, passes [`guard`]: the Host header must
//! name this daemon (loopback or the address it was told to listen on)
//! and an Origin, when the browser sends one, must too. A web page
//! elsewhere cannot then drive the daemon through the user's browser, not
//! even by pointing its own DNS name at 127.0.0.1 (DNS rebinding).

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
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
        "/assets/handset.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/handset.js"),
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
            ],
            *body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

/// Whether `host` (a Host header, or an Origin's host and port) names this
/// daemon listening on `bound`: a loopback name or address, or the bound
/// address itself; with the bound port when a port is given.
pub fn host_allowed(host: &str, bound: SocketAddr) -> bool {
    let (name, port) = split_host_port(host);
    if port.is_some_and(|p| p != bound.port()) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip == bound.ip(),
        Err(_) => false,
    }
}

/// "name:port", "[v6]:port", "name" or "[v6]" -> (name, port).
fn split_host_port(s: &str) -> (&str, Option<u16>) {
    if let Some(end) = s.strip_prefix('[').and_then(|r| r.find(']')) {
        let (name, rest) = s.split_at(end + 2);
        // Anything after the bracket but a port makes port 0, refused.
        let port = (!rest.is_empty()).then(|| {
            rest.strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)
        });
        return (name, port);
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons: no port.
        Some((name, port)) if !name.contains(':') => (name, Some(port.parse().unwrap_or(0))),
        _ => (s, None),
    }
}

/// The Host/Origin check in front of every route.
fn check(headers: &HeaderMap, bound: SocketAddr) -> Result<(), &'static str> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or("a Host header is required")?;
    if !host_allowed(host, bound) {
        return Err("Host does not name this daemon (loopback or its listening address)");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let o = origin.to_str().map_err(|_| "bad Origin")?;
        let ok = o
            .strip_prefix("http://")
            .is_some_and(|h| !h.contains('/') && host_allowed(h, bound));
        if !ok {
            return Err("requests from other sites are refused (Origin)");
        }
    }
    Ok(())
}

pub async fn guard(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    match check(req.headers(), s.bound) {
        Ok(()) => next.run(req).await,
        Err(why) => {
            tracing::info!(host = ?req.headers().get(header::HOST), origin = ?req.headers().get(header::ORIGIN), "API request refused: {why}");
            error(StatusCode::FORBIDDEN, why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().expect("header"));
        }
        m
    }

    #[test]
    fn loopback_and_the_bound_address_pass_others_are_refused() {
        let lo: SocketAddr = "127.0.0.1:7480".parse().expect("addr");
        for ok in [
            "127.0.0.1:7480",
            "localhost:7480",
            "[::1]:7480",
            "127.0.0.1",
            "LOCALHOST",
        ] {
            assert!(host_allowed(ok, lo), "{ok}");
        }
        for bad in [
            "evil.example:7480",
            "127.0.0.1:80",
            "10.0.0.5:7480",
            "127.0.0.1.evil.example:7480",
            "",
            "[::1]x:7480",
        ] {
            assert!(!host_allowed(bad, lo), "{bad}");
        }
        let lan: SocketAddr = "10.0.0.5:7480".parse().expect("addr");
        assert!(host_allowed("10.0.0.5:7480", lan));
        assert!(!host_allowed("10.0.0.6:7480", lan));
    }

    #[test]
    fn origin_must_be_this_daemon_too() {
        let lo: SocketAddr = "127.0.0.1:7480".parse().expect("addr");
        assert!(check(&h(&[("host", "127.0.0.1:7480")]), lo).is_ok());
        assert!(
            check(
                &h(&[
                    ("host", "127.0.0.1:7480"),
                    ("origin", "http://127.0.0.1:7480")
                ]),
                lo
            )
            .is_ok()
        );
        // DNS rebinding: a foreign name resolving to 127.0.0.1.
        assert!(check(&h(&[("host", "rebind.example:7480")]), lo).is_err());
        assert!(
            check(
                &h(&[
                    ("host", "127.0.0.1:7480"),
                    ("origin", "http://evil.example")
                ]),
                lo
            )
            .is_err()
        );
        assert!(check(&h(&[("host", "127.0.0.1:7480"), ("origin", "null")]), lo).is_err());
        assert!(check(&HeaderMap::new(), lo).is_err());
    }
}
