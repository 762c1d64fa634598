//! The DHCP socket: one UDP socket with SO_REUSEADDR, SO_BROADCAST and IP_PKTINFO, so every
//! datagram carries its receiving interface and destination address, and a reply can be sent
//! out of a chosen interface (direct broadcasts). Safe `nix` wrappers only (no `unsafe`).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::libc;
use nix::sys::socket::{self as ns, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

/// A received datagram's metadata.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    pub src: SocketAddrV4,
    /// Destination address (broadcast or one of ours).
    pub dst: Ipv4Addr,
    /// Receiving interface index (0 when unknown).
    pub ifindex: u32,
}

/// Binds the DHCP socket (non-blocking).
pub fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let SocketAddr::V4(_) = addr else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "DHCPv4 needs an IPv4 listen address"));
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_broadcast(true)?;
    ns::setsockopt(&s, sockopt::Ipv4PacketInfo, &true).map_err(io::Error::from)?;
    s.set_nonblocking(true)?;
    // Bursts of DISCOVERs must not overflow the kernel queue before we drain it.
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s)
}

/// Receives one datagram into `buf`.
pub fn recv(s: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut cmsg = nix::cmsg_space!(libc::in_pktinfo);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = ns::recvmsg::<SockaddrIn>(s.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
        .map_err(io::Error::from)?;
    let src = msg.address.map_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), SocketAddrV4::from);
    let mut out = Received { len: msg.bytes, src, dst: Ipv4Addr::UNSPECIFIED, ifindex: 0 };
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::Ipv4PacketInfo(info) = c {
                out.ifindex = u32::try_from(info.ipi_ifindex).unwrap_or(0);
                out.dst = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
            }
        }
    }
    Ok(out)
}

/// Sends `bytes` to `to`; with `ifindex` (and a source address) it leaves through that interface,
/// which is how a broadcast reaches the right VLAN.
pub fn send(s: &Socket, bytes: &[u8], to: SocketAddrV4, via: Option<(u32, Ipv4Addr)>) -> io::Result<()> {
    let iov = [IoSlice::new(bytes)];
    let dest = SockaddrIn::from(to);
    let info;
    let mut cmsgs = Vec::with_capacity(1);
    if let Some((ifindex, src)) = via {
        info = libc::in_pktinfo {
            ipi_ifindex: ifindex as libc::c_int,
            ipi_spec_dst: libc::in_addr { s_addr: u32::from(src).to_be() },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        cmsgs.push(ControlMessage::Ipv4PacketInfo(&info));
    }
    ns::sendmsg(s.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), Some(&dest)).map_err(io::Error::from)?;
    Ok(())
}
