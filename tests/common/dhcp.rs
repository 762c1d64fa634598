//! DHCP test messages, as a relay forwards a client's request.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

/// A BOOTREQUEST of `kind` from `mac`, relayed by `giaddr`, with `ciaddr`, `secs` and `opts`.
pub fn request(
    kind: MessageType,
    xid: u32,
    mac: [u8; 6],
    giaddr: Ipv4Addr,
    ciaddr: Ipv4Addr,
    secs: u16,
    opts: impl IntoIterator<Item = DhcpOption>,
) -> Message {
    let z = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(xid, ciaddr, z, z, giaddr, &mac);
    m.set_opcode(Opcode::BootRequest);
    m.set_secs(secs);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    for o in opts {
        m.opts_mut().insert(o);
    }
    m
}

/// A test relay agent: its socket on `giaddr` (the servers' `dhcp_relay_port` is its port),
/// sending to `server`; `secs` goes into every request (3 or more: any node of a pair answers).
pub struct Relay {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub giaddr: Ipv4Addr,
    pub secs: u16,
}

impl Relay {
    fn msg(&self, kind: MessageType, xid: u32, mac: [u8; 6], opts: Vec<DhcpOption>) -> Message {
        request(kind, xid, mac, self.giaddr, Ipv4Addr::UNSPECIFIED, self.secs, opts)
    }

    /// Sends `m`; the reply with its xid.
    pub fn exchange(&self, m: &Message) -> Message {
        let mut b = Vec::new();
        m.encode(&mut Encoder::new(&mut b)).unwrap();
        self.sock.send_to(&b, self.server).unwrap();
        let mut buf = vec![0u8; 2048];
        loop {
            let n = self.sock.recv(&mut buf).expect("a reply from ravensd");
            let r = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
            if r.xid() == m.xid() {
                return r;
            }
        }
    }

    /// Full DORA; returns the address ACKed.
    pub fn dora(&self, xid: u32, mac: [u8; 6], host: &str) -> Ipv4Addr {
        let offer = self.exchange(&self.msg(MessageType::Discover, xid, mac, vec![DhcpOption::Hostname(host.into())]));
        assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
        let ip = offer.yiaddr();
        let server_id = offer.opts().get(dhcproto::v4::OptionCode::ServerIdentifier).cloned().unwrap();
        let req = self.msg(
            MessageType::Request,
            xid + 1,
            mac,
            vec![DhcpOption::RequestedIpAddress(ip), server_id, DhcpOption::Hostname(host.into())],
        );
        let ack = self.exchange(&req);
        assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(ack.yiaddr(), ip);
        ip
    }
}
