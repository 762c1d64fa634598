//! Building a reply datagram and deciding where it goes (RFC 2131 §4.1), both pure.
//!
//! Options are laid out as: message type, server id, lease times (never dropped), then the
//! client's parameter request list in its order, then unrequested defaults and custom options,
//! then option 82 echoed byte for byte, then End. Whatever does not fit the client's maximum
//! message size (57) is dropped from the low-priority end.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{Flags, Message, MessageType, Opcode};
use dhcproto::{Encodable, Encoder};

use crate::options::{OptionTable, dns_self};
use crate::packet::Request;

/// IP + UDP headers, counted in option 57 by most clients and servers.
const IP_UDP: usize = 28;
/// Minimum BOOTP message (RFC 1542 §2.1): shorter replies are padded.
const MIN_LEN: usize = 300;
/// Reply size cap without option 57 (RFC 2131 §2: 576-byte datagrams).
const DEFAULT_MAX: usize = 576;
/// Largest we ever build (Ethernet MTU).
const HARD_MAX: usize = 1500;

/// Lease times put in OFFER/ACK, seconds.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub lease: u32,
    pub t1: u32,
    pub t2: u32,
}

/// What a reply carries besides the request it answers.
#[derive(Debug)]
pub struct ReplySpec<'a> {
    pub kind: MessageType,
    pub yiaddr: Ipv4Addr,
    pub server_id: Ipv4Addr,
    pub options: Option<&'a OptionTable>,
    pub times: Option<Times>,
    /// Fill option 6 with `server_id` (the subnet has no `dns`).
    pub dns_is_self: bool,
}

/// Encodes the reply to `req`.
pub fn build(req: &Request, spec: &ReplySpec<'_>) -> Vec<u8> {
    let m = &req.msg;
    let mut hdr = Message::new_with_id(
        m.xid(),
        Ipv4Addr::UNSPECIFIED,
        spec.yiaddr,
        Ipv4Addr::UNSPECIFIED,
        m.giaddr(),
        m.chaddr(),
    );
    hdr.set_opcode(Opcode::BootReply).set_htype(m.htype()).set_flags(m.flags());
    if spec.kind != MessageType::Nak {
        hdr.set_ciaddr(m.ciaddr());
    }
    if spec.kind == MessageType::Nak && !m.giaddr().is_unspecified() {
        // RFC 2131 §4.3.2: a relayed NAK asks the relay to broadcast it.
        hdr.set_flags(Flags::default().set_broadcast());
    }
    let mut out = Vec::with_capacity(DEFAULT_MAX);
    // The header with an empty option set encodes as the fixed part plus the magic cookie.
    let _ = hdr.encode(&mut Encoder::new(&mut out));
    push(&mut out, &[53, 1, u8::from(spec.kind)]);
    let sid = spec.server_id.octets();
    push(&mut out, &[54, 4, sid[0], sid[1], sid[2], sid[3]]);
    if let Some(t) = spec.times {
        for (code, v) in [(51u8, t.lease), (58, t.t1), (59, t.t2)] {
            let b = v.to_be_bytes();
            push(&mut out, &[code, 4, b[0], b[1], b[2], b[3]]);
        }
    }
    let relay = req.relay_info.as_deref().unwrap_or(&[]);
    let limit = size_limit(req.max_size) - relay.len() - 1;
    if let Some(table) = spec.options {
        add_options(&mut out, req, spec, table, limit);
    }
    push(&mut out, relay);
    out.push(255);
    if out.len() < MIN_LEN {
        out.resize(MIN_LEN, 0);
    }
    out
}

fn size_limit(max_size: Option<u16>) -> usize {
    let max = max_size.map_or(DEFAULT_MAX, |m| usize::from(m).max(DEFAULT_MAX)).min(HARD_MAX);
    max - IP_UDP
}

fn add_options(out: &mut Vec<u8>, req: &Request, spec: &ReplySpec<'_>, table: &OptionTable, limit: usize) {
    let dns = dns_self(spec.server_id);
    let mut sent = [false; 256];
    for &code in [53u8, 54, 51, 58, 59, 82, 0, 255].iter() {
        sent[code as usize] = true;
    }
    let requested = req.prl.iter().copied();
    for code in requested.chain(table.unrequested()) {
        if std::mem::replace(&mut sent[code as usize], true) {
            continue;
        }
        let bytes = match table.get(code) {
            Some(b) => b,
            None if code == 6 && spec.dns_is_self => &dns[..],
            None => continue,
        };
        // An option that does not fit is dropped; later, smaller ones may still fit.
        if out.len() + bytes.len() <= limit {
            push(out, bytes);
        }
    }
}

fn push(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
}

/// Where a reply is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// To the relay agent at giaddr, on the relay port.
    Relay(SocketAddrV4),
    /// To the client's own address (ciaddr, or yiaddr when it can take unicast).
    Unicast(SocketAddrV4),
    /// To 255.255.255.255:68 on the receiving interface.
    Broadcast,
}

/// RFC 2131 §4.1 routing: giaddr → relay; NAK → broadcast; ciaddr → unicast; broadcast flag →
/// broadcast; else unicast to yiaddr. Unicast to an address the client does not have yet needs an
/// ARP entry made by hand, which an unprivileged UDP socket cannot do, so `unicast_yiaddr` = false
/// turns that case into a broadcast.
pub fn route(req: &Request, kind: MessageType, yiaddr: Ipv4Addr, relay_port: u16, unicast_yiaddr: bool) -> Destination {
    let m = &req.msg;
    if !m.giaddr().is_unspecified() {
        return Destination::Relay(SocketAddrV4::new(m.giaddr(), relay_port));
    }
    if kind == MessageType::Nak {
        return Destination::Broadcast;
    }
    if !m.ciaddr().is_unspecified() {
        return Destination::Unicast(SocketAddrV4::new(m.ciaddr(), 68));
    }
    if m.flags().broadcast() || yiaddr.is_unspecified() || !unicast_yiaddr {
        return Destination::Broadcast;
    }
    Destination::Unicast(SocketAddrV4::new(yiaddr, 68))
}
