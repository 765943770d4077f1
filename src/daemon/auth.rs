//! Who may use the local API: every request passes [`guard`].
//!
//! 1. **Host and Origin.** The Host header must name this daemon (a
//!    loopback name or address, or the address it listens on, with its
//!    port) and an Origin, when the browser sends one, must too. A web page
//!    elsewhere cannot then drive the daemon through the user's browser,
//!    not even by pointing its own DNS name at 127.0.0.1 (DNS rebinding).
//!    Refused with 403.
//! 2. **The token.** 32 random bytes from the OS, hex, in `api.token` in
//!    the data dir (0600), made at the first start and kept; delete the
//!    file and restart to rotate it. Scripts and the CLI send
//!    `Authorization: Bearer TOKEN` (the CLI reads the file itself).
//!    Browsers cannot set a header on an `EventSource`, so a page is
//!    opened once as `/?token=TOKEN` (what `callsign console` prints): the
//!    daemon checks it, serves the page with an `HttpOnly; SameSite=Strict`
//!    cookie holding it, and the page's script strips the token from the
//!    address bar. From then on the cookie rides on every request of the
//!    page, `EventSource` included. HttpOnly keeps it from scripts,
//!    SameSite=Strict keeps other sites' pages from sending it, and the
//!    Host/Origin check above refuses what a rebound name would send.
//!    The query token is taken on the pages only, never on `/v1/`, so it
//!    does not end up in scripts' URLs. Refused with 401.
//!
//! The token cannot be turned off: there is no flag for it, on loopback or
//! elsewhere.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::api::{ApiState, error};

/// The token's file in the data dir.
pub const TOKEN_FILE: &str = "api.token";
/// Random bytes in a token; it is written as twice as many hex digits.
const TOKEN_BYTES: usize = 32;
/// Hex digits of a token.
pub const TOKEN_LEN: usize = 2 * TOKEN_BYTES;
/// How long a browser keeps the cookie: a shift and then some. Rotating
/// the token ends it sooner.
const COOKIE_MAX_AGE_S: u32 = 7 * 24 * 3600;

/// An API token: 64 lowercase hex digits. Copy, so a client can pass it
/// along with the address it belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Token([u8; TOKEN_LEN]);

impl Token {
    /// A token from text: exactly 64 hex digits (surrounding white space
    /// ignored, so a file written by hand with a newline still works).
    pub fn parse(s: &str) -> Option<Token> {
        let s = s.trim().as_bytes();
        if s.len() != TOKEN_LEN || !s.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut t = [0u8; TOKEN_LEN];
        for (d, c) in t.iter_mut().zip(s) {
            *d = c.to_ascii_lowercase();
        }
        Some(Token(t))
    }

    fn from_random(bytes: [u8; TOKEN_BYTES]) -> Token {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut t = [0u8; TOKEN_LEN];
        for (i, b) in bytes.iter().enumerate() {
            t[2 * i] = HEX[usize::from(b >> 4)];
            t[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        Token(t)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Whether `given` is this token, in time that does not depend on
    /// where the first difference is (a remote guesser learns nothing
    /// from timing). The length is public: every token has 64 digits.
    pub fn matches(&self, given: &[u8]) -> bool {
        given.len() == TOKEN_LEN && bool::from(self.0.ct_eq(given))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The data dir's token, made (0600, from OS randomness) when there is
/// none yet. `Ok((token, created))`.
pub fn load_or_create(dir: &Path) -> Result<(Token, bool), super::config::Error> {
    let path = dir.join(TOKEN_FILE);
    for _ in 0..2 {
        match read(dir) {
            Ok(t) => return Ok((t, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("API token {}: {e}", path.display()).into()),
        }
        let token = Token::from_random(super::store::os_random()?);
        // create_new: never overwrite a token another process just made
        // (then the loop reads that one).
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(token.as_str().as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_all()?;
                return Ok((token, true));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(format!("cannot create API token {}: {e}", path.display()).into());
            }
        }
    }
    Err(format!("cannot read or create API token {}", path.display()).into())
}

/// The token in `dir`, as the CLI reads it. A file readable by others is
/// used but warned about once by the daemon ([`warn_mode`]).
pub fn read(dir: &Path) -> std::io::Result<Token> {
    let text = std::fs::read_to_string(dir.join(TOKEN_FILE))?;
    Token::parse(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not 64 hex digits (delete it and restart the daemon for a new one)",
        )
    })
}

/// A warning when the token file can be read by others than its owner.
pub fn warn_mode(dir: &Path) {
    let path = dir.join(TOKEN_FILE);
    if let Ok(m) = std::fs::metadata(&path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", m.permissions().mode()), "API token is readable by others; chmod 600 it (or delete it and restart for a new one)");
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

/// The Host/Origin check.
fn check_host(headers: &HeaderMap, bound: SocketAddr) -> Result<(), &'static str> {
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

/// The cookie's name: per port, so two daemons on one host (cookies do
/// not tell ports apart) keep theirs apart.
pub fn cookie_name(port: u16) -> String {
    format!("callsign_{port}")
}

/// How a request proved it holds the token.
#[derive(Debug, PartialEq, Eq)]
enum Proof {
    Bearer,
    Cookie,
    /// `?token=` on a page: answer with the cookie.
    Query,
}

/// The pages that take `?token=` (see the module doc).
fn is_page(path: &str) -> bool {
    matches!(path, "/" | "/console" | "/handset")
}

/// The token check: which proof a request carries, or why it is refused.
fn check_token(
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
    token: &Token,
    port: u16,
) -> Result<Proof, &'static str> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let given = auth
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or("Authorization must be `Bearer TOKEN`")?;
        return if token.matches(given) {
            Ok(Proof::Bearer)
        } else {
            Err("wrong API token (Authorization)")
        };
    }
    let name = cookie_name(port);
    let mut cookie_seen = false;
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for c in v.split(';') {
            if let Some((k, val)) = c.trim().split_once('=')
                && k == name
            {
                if token.matches(val.as_bytes()) {
                    return Ok(Proof::Cookie);
                }
                cookie_seen = true;
            }
        }
    }
    if is_page(path)
        && let Some(given) = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("token="))
    {
        return if token.matches(given.as_bytes()) {
            Ok(Proof::Query)
        } else {
            Err("wrong API token in the address: open the one `callsign console` prints")
        };
    }
    if cookie_seen {
        return Err(
            "the page's API token is out of date: open the address `callsign console` prints",
        );
    }
    Err(
        "an API token is required: `Authorization: Bearer TOKEN` (TOKEN in api.token in the \
         daemon's data dir), or open the address `callsign console` prints",
    )
}

/// A refusal ends the connection: a client that is not entitled keeps no
/// connection slot (`serve`).
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Host/Origin, then the token, in front of every route.
pub async fn guard(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    if let Err(why) = check_host(req.headers(), s.bound) {
        tracing::info!(host = ?req.headers().get(header::HOST), origin = ?req.headers().get(header::ORIGIN), "API request refused: {why}");
        return closing(error(StatusCode::FORBIDDEN, why));
    }
    let port = s.bound.port();
    let proof = check_token(
        req.headers(),
        req.uri().path(),
        req.uri().query(),
        &s.token,
        port,
    );
    match proof {
        Ok(Proof::Query) => {
            let mut resp = next.run(req).await;
            let cookie = format!(
                "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={COOKIE_MAX_AGE_S}",
                cookie_name(port),
                s.token.as_str()
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Ok(_) => next.run(req).await,
        Err(why) => {
            tracing::debug!(path = req.uri().path(), "API request refused: {why}");
            let mut resp = error(StatusCode::UNAUTHORIZED, why);
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"callsign\""),
            );
            closing(resp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().expect("header"));
        }
        m
    }

    fn tok(c: u8) -> Token {
        Token::from_random([c; TOKEN_BYTES])
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
        assert!(check_host(&h(&[("host", "127.0.0.1:7480")]), lo).is_ok());
        assert!(
            check_host(
                &h(&[
                    ("host", "127.0.0.1:7480"),
                    ("origin", "http://127.0.0.1:7480")
                ]),
                lo
            )
            .is_ok()
        );
        // DNS rebinding: a foreign name resolving to 127.0.0.1.
        assert!(check_host(&h(&[("host", "rebind.example:7480")]), lo).is_err());
        for bad in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:8080",
            "https://127.0.0.1:7480",
            "http://127.0.0.1:7480/x",
        ] {
            assert!(
                check_host(&h(&[("host", "127.0.0.1:7480"), ("origin", bad)]), lo).is_err(),
                "{bad}"
            );
        }
        assert!(check_host(&HeaderMap::new(), lo).is_err());
    }

    #[test]
    fn token_compare_takes_only_the_exact_token() {
        let t = tok(0xab);
        assert_eq!(t.as_str().len(), TOKEN_LEN);
        assert!(t.matches(t.as_str().as_bytes()));
        let mut wrong = t.as_str().as_bytes().to_vec();
        wrong[TOKEN_LEN - 1] ^= 1;
        assert!(!t.matches(&wrong));
        assert!(!t.matches(&t.as_str().as_bytes()[..TOKEN_LEN - 1]));
        assert!(!t.matches(b""));
        assert_eq!(Token::parse(&format!(" {}\n", t.as_str())), Some(t));
        assert_eq!(Token::parse(&t.as_str().to_uppercase()), Some(t));
        assert_eq!(Token::parse("abc"), None);
        assert_eq!(Token::parse(&"g".repeat(TOKEN_LEN)), None);
        assert_ne!(tok(1), tok(2));
    }

    #[test]
    fn bearer_cookie_and_page_query_prove_the_token() {
        let t = tok(7);
        let other = tok(8);
        let bearer = format!("Bearer {}", t.as_str());
        let ck = |x: &Token| format!("a=b; {}={}", cookie_name(7480), x.as_str());
        let ok = |hs: &HeaderMap, path, q| check_token(hs, path, q, &t, 7480);
        assert_eq!(
            ok(&h(&[("authorization", &bearer)]), "/v1/status", None),
            Ok(Proof::Bearer)
        );
        assert!(
            ok(
                &h(&[("authorization", &format!("Bearer {}", other.as_str()))]),
                "/v1/status",
                None
            )
            .is_err()
        );
        assert!(ok(&h(&[("authorization", t.as_str())]), "/v1/status", None).is_err());
        assert_eq!(
            ok(&h(&[("cookie", &ck(&t))]), "/v1/events", None),
            Ok(Proof::Cookie)
        );
        assert!(ok(&h(&[("cookie", &ck(&other))]), "/v1/events", None).is_err());
        // Another port's cookie is another daemon's.
        assert!(check_token(&h(&[("cookie", &ck(&t))]), "/", None, &t, 7481).is_err());
        let q = format!("amber=5&token={}", t.as_str());
        assert_eq!(ok(&HeaderMap::new(), "/", Some(&q)), Ok(Proof::Query));
        assert_eq!(
            ok(&HeaderMap::new(), "/handset", Some(&q)),
            Ok(Proof::Query)
        );
        // Never on the API itself, and never a wrong one.
        assert!(ok(&HeaderMap::new(), "/v1/status", Some(&q)).is_err());
        let bad = format!("token={}", other.as_str());
        assert!(ok(&HeaderMap::new(), "/", Some(&bad)).is_err());
        assert!(ok(&HeaderMap::new(), "/", None).is_err());
        assert!(ok(&HeaderMap::new(), "/assets/common.js", None).is_err());
    }

    #[test]
    fn token_file_is_made_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("callsign-token-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (a, created) = load_or_create(&dir).expect("create");
        assert!(created);
        let mode = std::fs::metadata(dir.join(TOKEN_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (b, created) = load_or_create(&dir).expect("load");
        assert!(!created);
        assert_eq!(a, b);
        assert_eq!(read(&dir).expect("read"), a);
        let _ = std::fs::remove_dir_all(&dir);
        let (c, _) = load_or_create(&{
            std::fs::create_dir_all(&dir).expect("dir");
            dir.clone()
        })
        .expect("again");
        assert_ne!(a, c, "a new file is a new token");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
