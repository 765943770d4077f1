//! UDP sockets, one set per interface.
//!
//! IPv6 (the normal case): a unicast socket bound to the interface's
//! link-local address and the overlay port, and a multicast socket bound to
//! [`MULTICAST_GROUP`] on that interface with the group joined. Binding
//! link-local addresses with a scope id ties each socket to its interface
//! even without privileges; SO_BINDTODEVICE is set as well where allowed
//! (root or CAP_NET_RAW). Everything is sent from the unicast socket, so
//! neighbours always see one source address for us.
//!
//! IPv4 fallback (an interface with no IPv6): one socket bound to
//! 0.0.0.0:port with SO_BINDTODEVICE (needs privileges when more than one
//! interface uses IPv4) and SO_BROADCAST; beacons go to the interface's
//! broadcast address.
//!
//! DSCP: voice is marked EF (46) by switching IPV6_TCLASS / IP_TOS on the
//! sending socket when the class of consecutive datagrams changes. One
//! socket keeps one source port (a second socket would need a second port
//! or SO_REUSEPORT load sharing on receive); the switch costs one setsockopt
//! per change of class, not per datagram.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use super::config::MULTICAST_GROUP;
use super::ifaces::IfaceInfo;
use crate::node::{Class, LinkDst};

/// DSCP EF shifted into the traffic-class / TOS byte.
const TOS_EF: u32 = 46 << 2;
/// Large enough to absorb a burst while the daemon is busy.
const RECV_BUFFER: usize = 1 << 20;

/// The sockets of one interface.
#[derive(Debug)]
pub struct IfaceSockets {
    pub info: IfaceInfo,
    send: UdpSocket,
    mcast: Option<UdpSocket>,
    port: u16,
    tos: Cell<u32>,
}

fn udp_socket(domain: Domain, info: &IfaceInfo) -> io::Result<Socket> {
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if domain == Domain::IPV6 {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    // Best effort: the kernel may cap it (net.core.rmem_max).
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    if let Err(e) = s.bind_device(Some(info.name.as_bytes())) {
        tracing::debug!(iface = %info.name, "SO_BINDTODEVICE not set: {e}");
    }
    Ok(s)
}

impl IfaceSockets {
    pub fn open(info: &IfaceInfo, port: u16) -> io::Result<Self> {
        if let Some(ll) = info.link_local {
            let send = udp_socket(Domain::IPV6, info)?;
            send.set_multicast_if_v6(info.index)?;
            send.set_multicast_hops_v6(1)?;
            send.set_multicast_loop_v6(false)?;
            send.bind(&SocketAddrV6::new(ll, port, 0, info.index).into())?;
            let mcast = udp_socket(Domain::IPV6, info)?;
            mcast.bind(&SocketAddrV6::new(MULTICAST_GROUP, port, 0, info.index).into())?;
            mcast.join_multicast_v6(&MULTICAST_GROUP, info.index)?;
            mcast.set_multicast_loop_v6(false)?;
            Ok(IfaceSockets {
                info: info.clone(),
                send: UdpSocket::from_std(send.into())?,
                mcast: Some(UdpSocket::from_std(mcast.into())?),
                port,
                tos: Cell::new(0),
            })
        } else {
            let s = udp_socket(Domain::IPV4, info)?;
            s.set_broadcast(true)?;
            s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())?;
            Ok(IfaceSockets {
                info: info.clone(),
                send: UdpSocket::from_std(s.into())?,
                mcast: None,
                port,
                tos: Cell::new(0),
            })
        }
    }

    /// Send without waiting. A full socket buffer drops the datagram, as a
    /// busy radio would; the caller counts it.
    pub fn send(&self, dst: LinkDst, class: Class, data: &[u8]) -> io::Result<()> {
        let to = match dst {
            LinkDst::Unicast(a) => a,
            LinkDst::Multicast => match (self.info.link_local, self.info.v4) {
                (Some(_), _) => SocketAddr::V6(SocketAddrV6::new(
                    MULTICAST_GROUP,
                    self.port,
                    0,
                    self.info.index,
                )),
                (None, Some((_, bcast))) => SocketAddr::V4(SocketAddrV4::new(bcast, self.port)),
                (None, None) => return Err(io::Error::other("interface has no address")),
            },
        };
        let to = match to {
            // A link-local neighbour address always means this interface.
            SocketAddr::V6(mut a) if a.scope_id() == 0 && needs_scope(a.ip()) => {
                a.set_scope_id(self.info.index);
                SocketAddr::V6(a)
            }
            a => a,
        };
        let tos = if class == Class::Voice { TOS_EF } else { 0 };
        if tos != self.tos.get() {
            let s = SockRef::from(&self.send);
            match to.ip() {
                IpAddr::V6(_) => s.set_tclass_v6(tos)?,
                IpAddr::V4(_) => s.set_tos_v4(tos)?,
            }
            self.tos.set(tos);
        }
        self.send.try_send_to(data, to).map(|_| ())
    }

    /// Poll every socket of this interface for one datagram.
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        if let Poll::Ready(r) = self.send.poll_recv_from(cx, buf) {
            return Poll::Ready(r);
        }
        match &self.mcast {
            Some(m) => m.poll_recv_from(cx, buf),
            None => Poll::Pending,
        }
    }

    /// One more datagram if one is waiting, without registering for wakeups.
    pub fn try_recv(&self, buf: &mut [u8]) -> Option<io::Result<(usize, SocketAddr)>> {
        for s in std::iter::once(&self.send).chain(self.mcast.as_ref()) {
            match s.try_recv_from(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Some(r),
            }
        }
        None
    }
}

fn needs_scope(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80 || ip.segments()[0] & 0xff0f == 0xff02
}
