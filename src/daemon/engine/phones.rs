//! The engine's SIP front: the phones' sockets (`sip_net`) on one side,
//! the application layer's front (`app::phones`: registrar, back-to-back
//! agent, calls placed and rung for phones) on the other, and one RTP
//! socket per phone call, opened when the application asks for it.

use super::calls::End;
use super::{Engine, clock};
use crate::daemon::sip_net::PhoneIo;
use crate::session::CallId;
use crate::time::Instant;

impl Engine {
    /// Something from the SIP front's sockets.
    pub(super) fn on_phone_io(&mut self, io: PhoneIo) {
        let now = clock::now();
        match io {
            PhoneIo::Sip { peer, local, bytes } => self.app.handle_sip(now, peer, local, &bytes),
            PhoneIo::TcpOpen { id, tx } => {
                if let Some(n) = &mut self.sip_net {
                    n.on_tcp_open(id, tx);
                }
            }
            PhoneIo::TcpClosed { id } => {
                if let Some(n) = &mut self.sip_net {
                    n.on_tcp_closed(id);
                }
            }
            PhoneIo::Rtp { call, from, bytes } => self.phone_rtp(now, call, from, &bytes),
        }
        self.drain(now);
    }

    /// Put what the front wants sent on the phones' sockets.
    pub(super) fn flush_sip(&mut self) {
        while let Some(t) = self.app.poll_sip() {
            if let Some(n) = &self.sip_net {
                n.send(t);
            }
        }
    }

    /// A phone's call needs an RTP socket on `ip`.
    pub(super) fn open_rtp(&mut self, now: Instant, call: CallId, ip: std::net::IpAddr) {
        let r = match &self.sip_net {
            Some(n) => n
                .open_rtp(ip, call)
                .map_err(|e| format!("cannot open an RTP socket: {e}")),
            None => Err("no SIP front".to_string()),
        };
        let port = r.map(|rtp| {
            let port = rtp.port;
            self.calls
                .ends
                .insert(call, End::Phone { rtp, bridge: None });
            port
        });
        self.app.phone_rtp_ready(now, call, port);
    }
}
