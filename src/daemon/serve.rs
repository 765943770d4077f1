//! The API's accept loop: hyper's HTTP/1.1 connection over each accepted
//! socket, with the limits `axum::serve` does not offer, so that clients
//! that misbehave (or mean harm) cannot exhaust the daemon:
//!
//! - at most [`Limits::connections`] connections at once (up to
//!   [`MAX_CONNECTIONS`], fewer if the file limit cannot be raised that
//!   far); one more gets a short 503 and is closed (never queued);
//! - a request head must arrive within [`HEADER_READ_TIMEOUT`] of the
//!   connection (or of the previous answer) being ready for it, whether
//!   the client sends nothing or dribbles bytes (slowloris);
//! - a connection whose client stops reading for [`WRITE_STALL`] while
//!   the daemon has something to send is closed ([`StallGuard`]);
//! - hyper's read and write buffers are capped at [`MAX_BUF`] each.
//!
//! Bodies are limited where they are read (`api_body`), event-stream
//! subscribers in `api` (their number is set here, from the file limit).

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Sleep;

/// Connections served at once: every event stream (`api::MAX_SUBSCRIBERS`)
/// and as many again for pages, scripts and CLI commands, so that streams
/// alone never lock the CLI out.
pub const MAX_CONNECTIONS: usize = 2048;
/// Descriptors kept for the daemon's own use (radio sockets, SIP, the
/// message store, sound devices, the log) whatever the API holds.
const FD_RESERVE: u64 = 128;
/// Refusals (503) being written at once; beyond, a socket is just closed.
const MAX_REFUSING: usize = 32;
/// From ready-to-read to a complete request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may leave written data unread before it is dropped.
pub const WRITE_STALL: Duration = Duration::from_secs(30);
/// hyper's read buffer (request heads, which it also caps; bodies stream
/// through it) and write buffer (what a slow reader has not taken yet, on
/// top of the kernel's socket buffer): what one connection costs at most,
/// twice over, besides a body being read (`api_body`).
pub const MAX_BUF: usize = 16 * 1024;

/// How many connections and event streams this daemon serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connections: usize,
    pub subscribers: usize,
}

impl Limits {
    /// The limits a file limit of `nofile` descriptors allows: the full
    /// ones when it has room for them beside [`FD_RESERVE`], else shared
    /// out so streams still take at most half of the connections.
    pub fn for_files(nofile: u64) -> Limits {
        let room = nofile.saturating_sub(FD_RESERVE).max(16);
        let connections = MAX_CONNECTIONS.min(usize::try_from(room).unwrap_or(usize::MAX));
        Limits {
            connections,
            subscribers: super::api::MAX_SUBSCRIBERS.min(connections / 2),
        }
    }

    /// Raise this process's soft file limit towards what the full limits
    /// need (never past the hard limit: systemd's default soft limit is
    /// 1024, its hard one far higher) and return the limits it allows.
    pub fn raise() -> Limits {
        let want = MAX_CONNECTIONS as u64 + FD_RESERVE;
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return Limits::for_files(1024);
        }
        if lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim = raised;
            }
        }
        let limits = Limits::for_files(lim.rlim_cur);
        if limits.connections < MAX_CONNECTIONS {
            tracing::warn!(
                nofile = lim.rlim_cur,
                "the file limit allows only {} API connections and {} event streams (LimitNOFILE= in the service raises it)",
                limits.connections,
                limits.subscribers
            );
        }
        limits
    }
}

/// Serve `app` on `listener` until `stop` fires (or is dropped), at most
/// `connections` at once.
pub async fn run(
    listener: TcpListener,
    app: Router,
    connections: usize,
    mut stop: oneshot::Receiver<()>,
) {
    let conns = Arc::new(Semaphore::new(connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_BUF);
    loop {
        let sock = tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, _)) => sock,
                Err(e) => {
                    // Out of file descriptors, typically: wait for some to
                    // close rather than spin.
                    tracing::warn!("API accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => return,
        };
        let Ok(permit) = conns.clone().try_acquire_owned() else {
            if let Ok(p) = refusing.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(sock, connections).await;
                    drop(p);
                });
            }
            continue;
        };
        let _ = sock.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(StallGuard::new(sock)),
            TowerToHyperService::new(app.clone()),
        );
        tokio::spawn(async move {
            // Errors here are the client's doing (timeouts, resets).
            let _ = conn.await;
            drop(permit);
        });
    }
}

/// The answer to one connection too many, written within a second or not
/// at all.
async fn refuse(mut sock: TcpStream, connections: usize) {
    let body = format!(
        "{{\"error\":\"too many connections to the API (at most {connections}): try again\"}}"
    );
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        sock.write_all(resp.as_bytes()).await?;
        sock.shutdown().await
    })
    .await;
}

/// A socket that fails its writes once the client has taken nothing for
/// [`WRITE_STALL`]: hyper then closes the connection, freeing its slot
/// and buffers. The timer runs only while a write is pending.
pub struct StallGuard<S> {
    inner: S,
    stall: Option<Pin<Box<Sleep>>>,
    limit: Duration,
}

impl<S> StallGuard<S> {
    pub fn new(inner: S) -> Self {
        Self::with_limit(inner, WRITE_STALL)
    }

    pub fn with_limit(inner: S, limit: Duration) -> Self {
        StallGuard {
            inner,
            stall: None,
            limit,
        }
    }

    /// The inner write is pending: pending too, until the stall limit.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let s = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match s.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn outcome<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => self.pending(cx),
            done => {
                self.stall = None;
                done
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.outcome(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.outcome(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.outcome(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn the_file_limit_shares_out_connections_and_streams() {
        let full = Limits::for_files(20_000);
        assert_eq!(full.connections, MAX_CONNECTIONS);
        assert_eq!(full.subscribers, super::super::api::MAX_SUBSCRIBERS);
        // systemd's default soft limit, had it not been raised.
        let low = Limits::for_files(1024);
        assert_eq!(low.connections, 1024 - FD_RESERVE as usize);
        assert_eq!(low.subscribers, low.connections / 2);
        assert!(Limits::for_files(0).connections > 0);
    }

    /// Connections beyond the cap get a 503 and are closed; the ones
    /// served stay served, and a place freed is taken again.
    #[test]
    fn one_connection_too_many_is_refused_at_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
            let (_stop, stopped) = oneshot::channel();
            tokio::spawn(run(listener, app, 2, stopped));
            let get = |mut s: TcpStream| async move {
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .expect("write");
                let mut buf = [0u8; 12];
                s.read_exact(&mut buf).await.expect("status line");
                (String::from_utf8_lossy(&buf[9..]).into_owned(), s)
            };
            let a = TcpStream::connect(addr).await.expect("a");
            let b = TcpStream::connect(addr).await.expect("b");
            let (st, a) = get(a).await;
            assert_eq!(st, "200");
            let mut c = TcpStream::connect(addr).await.expect("c");
            let mut answer = String::new();
            c.read_to_string(&mut answer).await.expect("refusal");
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains("at most 2"), "{answer}");
            assert_eq!(get(b).await.0, "200");
            drop(a);
            let mut served = false;
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let d = TcpStream::connect(addr).await.expect("d");
                if get(d).await.0 == "200" {
                    served = true;
                    break;
                }
            }
            assert!(served, "a closed connection did not free its place");
        });
    }

    /// A reader that takes nothing: the guarded writer fails after the
    /// limit instead of waiting forever; one that reads keeps going.
    #[test]
    fn a_client_that_stops_reading_is_dropped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (a, b) = tokio::io::duplex(1024);
            let mut w = StallGuard::with_limit(a, Duration::from_millis(200));
            let chunk = [0u8; 512];
            let t0 = tokio::time::Instant::now();
            let err = loop {
                if let Err(e) = w.write_all(&chunk).await {
                    break e;
                }
                assert!(t0.elapsed() < Duration::from_secs(5), "never gave up");
            };
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert!(t0.elapsed() >= Duration::from_millis(200));
            // A reader that keeps up is never cut off, however long it takes.
            let (a, b2) = tokio::io::duplex(1024);
            drop(b);
            let mut w = StallGuard::with_limit(a, Duration::from_millis(200));
            let reader = tokio::spawn(async move {
                let mut b2 = b2;
                let mut buf = [0u8; 256];
                let mut got = 0;
                while got < 16 * 1024 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    got += b2.read(&mut buf).await.expect("read");
                }
                got
            });
            for _ in 0..32 {
                w.write_all(&chunk).await.expect("a reading client is kept");
            }
            assert_eq!(reader.await.expect("reader"), 16 * 1024);
        });
    }
}
