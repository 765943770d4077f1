//! The SIP front's sockets: one UDP socket and one TCP listener on the
//! `--sip` address, and one RTP socket per phone call. Reader tasks hand
//! what they read to the engine over one bounded channel; the engine
//! writes directly (UDP) or through each connection's writer task (TCP).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::phone::stream::Framer;
use crate::phone::{Peer, Transmit, Transport};
use crate::session::CallId;

/// What the reader tasks hand the engine.
pub enum PhoneIo {
    Sip {
        peer: Peer,
        local: SocketAddr,
        bytes: Vec<u8>,
    },
    TcpOpen {
        id: u64,
        tx: mpsc::Sender<Vec<u8>>,
    },
    TcpClosed {
        id: u64,
    },
    Rtp {
        call: CallId,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
}

/// Connections accepted at once; more are closed at accept.
const MAX_TCP: usize = 64;
/// Messages queued to the engine (SIP and RTP together).
const QUEUE: usize = 2048;

pub struct SipNet {
    udp: Arc<UdpSocket>,
    pub bound: SocketAddr,
    tcp: BTreeMap<u64, mpsc::Sender<Vec<u8>>>,
    tx: mpsc::Sender<PhoneIo>,
    pub rx: mpsc::Receiver<PhoneIo>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SipNet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl SipNet {
    pub async fn bind(addr: SocketAddr) -> io::Result<SipNet> {
        let udp = Arc::new(UdpSocket::bind(addr).await?);
        let bound = udp.local_addr()?;
        // TCP on the same port as UDP, as phones expect.
        let listener = TcpListener::bind(bound).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut tasks = Vec::new();
        {
            let udp = udp.clone();
            let tx = tx.clone();
            let local = bound;
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    match udp.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            let io = PhoneIo::Sip {
                                peer: Peer::udp(from),
                                local: local_towards(local, from),
                                bytes: buf[..n].to_vec(),
                            };
                            if tx.send(io).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::debug!("SIP UDP receive: {e}"),
                    }
                }
            }));
        }
        {
            let tx = tx.clone();
            tasks.push(tokio::spawn(accept_loop(listener, tx)));
        }
        Ok(SipNet {
            udp,
            bound,
            tcp: BTreeMap::new(),
            tx,
            rx,
            tasks,
        })
    }

    pub fn on_tcp_open(&mut self, id: u64, tx: mpsc::Sender<Vec<u8>>) {
        self.tcp.insert(id, tx);
    }

    pub fn on_tcp_closed(&mut self, id: u64) {
        self.tcp.remove(&id);
    }

    pub fn send(&self, t: Transmit) {
        match t.to.tp {
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&t.bytes, t.to.addr) {
                    tracing::debug!(to = %t.to.addr, "SIP send: {e}");
                }
            }
            Transport::Tcp(id) => match self.tcp.get(&id) {
                Some(w) => {
                    if w.try_send(t.bytes).is_err() {
                        tracing::debug!(conn = id, "SIP TCP connection backed up: dropped");
                    }
                }
                None => tracing::debug!(conn = id, "SIP TCP connection gone"),
            },
        }
    }

    /// An RTP socket for a phone call on the interface phones reach us by.
    pub fn open_rtp(&self, ip: IpAddr, call: CallId) -> io::Result<RtpSock> {
        let std = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        std.set_nonblocking(true)?;
        let sock = Arc::new(UdpSocket::from_std(std)?);
        let port = sock.local_addr()?.port();
        let r = sock.clone();
        let tx = self.tx.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                match r.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        let io = PhoneIo::Rtp {
                            call,
                            from,
                            bytes: buf[..n].to_vec(),
                        };
                        // Media never waits: a full queue drops the packet.
                        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(io) {
                            return;
                        }
                    }
                    Err(e) => tracing::trace!("RTP receive: {e}"),
                }
            }
        });
        Ok(RtpSock { sock, port, task })
    }
}

/// A phone call's RTP socket; dropping it stops its reader.
pub struct RtpSock {
    pub sock: Arc<UdpSocket>,
    pub port: u16,
    task: JoinHandle<()>,
}

impl Drop for RtpSock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RtpSock {
    pub fn send(&self, to: SocketAddr, bytes: &[u8]) {
        if let Err(e) = self.sock.try_send_to(bytes, to) {
            tracing::trace!(%to, "RTP send: {e}");
        }
    }
}

/// Our address as `peer` reaches it: the bound one, or for a wildcard
/// bind the source address the kernel would pick towards the peer (a
/// connected UDP socket's local address; nothing is sent).
fn local_towards(bound: SocketAddr, peer: SocketAddr) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let any: SocketAddr = if peer.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    std::net::UdpSocket::bind(any)
        .and_then(|s| {
            s.connect(peer)?;
            s.local_addr()
        })
        .map(|a| SocketAddr::new(a.ip(), bound.port()))
        .unwrap_or(bound)
}

async fn accept_loop(listener: TcpListener, tx: mpsc::Sender<PhoneIo>) {
    let mut next_id = 1u64;
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("SIP TCP accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(std::sync::atomic::Ordering::Relaxed) >= MAX_TCP {
            tracing::warn!(%from, "too many SIP TCP connections: refused");
            continue;
        }
        let id = next_id;
        next_id += 1;
        let local = stream.local_addr().unwrap_or(from);
        let (w_tx, mut w_rx) = mpsc::channel::<Vec<u8>>(64);
        if tx.send(PhoneIo::TcpOpen { id, tx: w_tx }).await.is_err() {
            return;
        }
        let tx = tx.clone();
        let open = open.clone();
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let (mut rd, mut wr) = stream.into_split();
            let writer = tokio::spawn(async move {
                while let Some(b) = w_rx.recv().await {
                    if wr.write_all(&b).await.is_err() {
                        return;
                    }
                }
            });
            let mut framer = Framer::default();
            let mut buf = vec![0u8; 8192];
            let peer = Peer {
                addr: from,
                tp: Transport::Tcp(id),
            };
            loop {
                let n = match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                match framer.push(&buf[..n]) {
                    Ok(msgs) => {
                        for bytes in msgs {
                            let io = PhoneIo::Sip { peer, local, bytes };
                            if tx.send(io).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(%from, "SIP TCP stream broken: {e}");
                        break;
                    }
                }
            }
            writer.abort();
            open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let _ = tx.send(PhoneIo::TcpClosed { id }).await;
        });
    }
}
