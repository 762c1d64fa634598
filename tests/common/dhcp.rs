//! DHCP test messages, as a relay forwards a client's request.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};

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
