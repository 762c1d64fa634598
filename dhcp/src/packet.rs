//! Decoding of one received DHCPv4 datagram into a [`Request`]: the dhcproto message plus the
//! few fields the server acts on, taken from a strict walk over the raw option bytes (so option
//! 82 can be echoed byte for byte, option overload (52) is honoured, and an overflowing option is
//! a malformed packet rather than a silently shortened one).

use std::net::Ipv4Addr;

use dhcproto::v4::{Message, MessageType};
use dhcproto::{Decodable, Decoder};

/// Offset of the options after the fixed header and the magic cookie.
const OPTIONS_AT: usize = 240;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
const SNAME: std::ops::Range<usize> = 44..108;
const FILE: std::ops::Range<usize> = 108..236;

/// Why a datagram was not a usable DHCP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("shorter than a DHCP header")]
    Truncated,
    #[error("bad magic cookie")]
    BadCookie,
    #[error("an option runs past the end of its field")]
    OptionOverflow,
    #[error("hardware address length over 16")]
    BadHlen,
    #[error("option {0} has a length its definition does not allow")]
    BadOptionLength(u8),
    #[error("more than one DHCP message type")]
    DuplicateMessageType,
    #[error("not a BOOTREQUEST")]
    NotRequest,
    #[error("no DHCP message type")]
    NoMessageType,
    #[error("dhcproto rejected it")]
    Undecodable,
}

/// Who the client is: client-id (61) when present, else hardware type + chaddr. The first byte
/// tells the two apart so they can never collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(pub Box<[u8]>);

impl ClientKey {
    pub fn new(client_id: Option<&[u8]>, htype: u8, chaddr: &[u8]) -> Self {
        match client_id {
            Some(id) => ClientKey([&[0u8][..], id].concat().into()),
            None => ClientKey([&[1u8, htype][..], chaddr].concat().into()),
        }
    }
}

/// A decoded request with the fields the state machine uses.
#[derive(Debug, Clone)]
pub struct Request {
    pub msg: Message,
    pub msg_type: MessageType,
    pub key: ClientKey,
    pub chaddr: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    pub requested_ip: Option<Ipv4Addr>,
    pub server_id: Option<Ipv4Addr>,
    /// Parameter request list (55), in the client's order.
    pub prl: Vec<u8>,
    /// Maximum DHCP message size (57), if sent.
    pub max_size: Option<u16>,
    /// Sanitised host name from option 81 or else 12.
    pub hostname: Option<String>,
    /// Option 82 as received, code and length included, to echo unchanged.
    pub relay_info: Option<Vec<u8>>,
    /// RFC 3527 link-selection sub-option (82/5).
    pub link_selection: Option<Ipv4Addr>,
    /// RFC 3011 subnet selection (118).
    pub subnet_selection: Option<Ipv4Addr>,
}

/// Raw option fields gathered by [`walk`].
#[derive(Default)]
struct Raw {
    msg_type: Option<u8>,
    overload: u8,
    client_id: Option<Vec<u8>>,
    requested_ip: Option<Ipv4Addr>,
    server_id: Option<Ipv4Addr>,
    prl: Vec<u8>,
    max_size: Option<u16>,
    hostname: Option<Vec<u8>>,
    fqdn: Option<Vec<u8>>,
    relay_info: Option<Vec<u8>>,
    subnet_selection: Option<Ipv4Addr>,
}

/// Decodes a datagram; any structural fault is [`Malformed`].
pub fn decode(buf: &[u8]) -> Result<Request, Malformed> {
    if buf.len() < OPTIONS_AT {
        return Err(Malformed::Truncated);
    }
    if buf[236..240] != MAGIC {
        return Err(Malformed::BadCookie);
    }
    if buf[0] != 1 {
        return Err(Malformed::NotRequest);
    }
    if buf[2] > 16 {
        return Err(Malformed::BadHlen);
    }
    let mut raw = Raw::default();
    walk(&buf[OPTIONS_AT..], &mut raw)?;
    // Option overload (52): 1 = file, 2 = sname, 3 = both hold more options (RFC 2132 §9.3).
    let overload = raw.overload;
    if overload & 1 != 0 {
        walk(&buf[FILE], &mut raw)?;
    }
    if overload & 2 != 0 {
        walk(&buf[SNAME], &mut raw)?;
    }
    let msg_type = MessageType::from(raw.msg_type.ok_or(Malformed::NoMessageType)?);
    let msg = Message::decode(&mut Decoder::new(buf)).map_err(|_| Malformed::Undecodable)?;
    let chaddr = msg.chaddr().to_vec();
    let client_id = raw.client_id.filter(|c| !c.is_empty());
    let key = ClientKey::new(client_id.as_deref(), buf[1], &chaddr);
    let link_selection = raw.relay_info.as_deref().and_then(link_selection);
    let hostname = raw.fqdn.as_deref().and_then(fqdn_label).or_else(|| raw.hostname.as_deref().and_then(sanitize));
    Ok(Request {
        msg,
        msg_type,
        key,
        chaddr,
        client_id,
        requested_ip: raw.requested_ip,
        server_id: raw.server_id,
        prl: raw.prl,
        max_size: raw.max_size,
        hostname,
        relay_info: raw.relay_info,
        link_selection,
        subnet_selection: raw.subnet_selection,
    })
}

/// Walks one option field (options area, file or sname). The first instance of an option wins.
fn walk(area: &[u8], raw: &mut Raw) -> Result<(), Malformed> {
    let mut i = 0;
    while i < area.len() {
        let code = area[i];
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => return Ok(()),
            _ => {}
        }
        let len = *area.get(i + 1).ok_or(Malformed::OptionOverflow)? as usize;
        let data = area.get(i + 2..i + 2 + len).ok_or(Malformed::OptionOverflow)?;
        if !length_allowed(code, len) {
            return Err(Malformed::BadOptionLength(code));
        }
        // Two message types (dhcproto keeps the last, a first-wins reading the first) would
        // make the packet mean different things to different readers: refuse it.
        if code == 53 && raw.msg_type.is_some() {
            return Err(Malformed::DuplicateMessageType);
        }
        take(code, data, &area[i..i + 2 + len], raw);
        i += 2 + len;
    }
    Ok(())
}

/// Options whose length dhcproto 0.15 only checks with `debug_assert!` (a panic in debug
/// builds, a misread in release ones), and single-byte options both readers must agree on:
/// refuse the wrong lengths before dhcproto sees them. Found by the `dhcp_packet` fuzz target.
fn length_allowed(code: u8, len: usize) -> bool {
    match code {
        // A message type or overload of another length would be read by dhcproto from its
        // first byte but skipped by `take`, so a later well-formed one would mean something
        // else to each reader (found by the fuzz target).
        52 | 53 => len == 1,
        80 => len == 0,
        81 => len >= 3,
        94 => len == 3,
        152..=155 => len == 4,
        _ => true,
    }
}

fn take(code: u8, data: &[u8], whole: &[u8], raw: &mut Raw) {
    let ip = || <[u8; 4]>::try_from(data).ok().map(Ipv4Addr::from);
    match code {
        53 if data.len() == 1 => raw.msg_type = raw.msg_type.or(Some(data[0])),
        52 if data.len() == 1 => raw.overload |= data[0] & 3,
        61 => raw.client_id = raw.client_id.take().or_else(|| Some(data.to_vec())),
        50 => raw.requested_ip = raw.requested_ip.or_else(ip),
        54 => raw.server_id = raw.server_id.or_else(ip),
        55 if raw.prl.is_empty() => raw.prl = data.to_vec(),
        57 if data.len() == 2 => raw.max_size = raw.max_size.or(Some(u16::from_be_bytes([data[0], data[1]]))),
        12 => raw.hostname = raw.hostname.take().or_else(|| Some(data.to_vec())),
        81 => raw.fqdn = raw.fqdn.take().or_else(|| Some(data.to_vec())),
        82 => raw.relay_info = raw.relay_info.take().or_else(|| Some(whole.to_vec())),
        118 => raw.subnet_selection = raw.subnet_selection.or_else(ip),
        _ => {}
    }
}

/// Sub-option 5 (link selection, RFC 3527) of a raw option 82 (code and length included).
fn link_selection(opt82: &[u8]) -> Option<Ipv4Addr> {
    let mut sub = opt82.get(2..)?;
    while sub.len() >= 2 {
        let (code, len) = (sub[0], sub[1] as usize);
        let data = sub.get(2..2 + len)?;
        if code == 5 {
            return <[u8; 4]>::try_from(data).ok().map(Ipv4Addr::from);
        }
        sub = &sub[2 + len..];
    }
    None
}

/// The host label of an option 81 (RFC 4702): flags, two rcodes, then the name in wire format
/// (E bit set) or as ASCII.
fn fqdn_label(data: &[u8]) -> Option<String> {
    let (flags, name) = (*data.first()?, data.get(3..)?);
    if flags & 0x04 != 0 {
        let len = *name.first()? as usize;
        sanitize(name.get(1..1 + len)?)
    } else {
        sanitize(name.split(|&b| b == b'.').next()?)
    }
}

/// A DNS-safe single label: lower-case letters, digits and inner hyphens; other bytes become
/// hyphens; at most 63 bytes; only the part before the first dot.
pub fn sanitize(name: &[u8]) -> Option<String> {
    let first = name.split(|&b| b == b'.' || b == 0).next()?;
    let mut out: String = first
        .iter()
        .take(63)
        .map(|&b| if b.is_ascii_alphanumeric() { b.to_ascii_lowercase() as char } else { '-' })
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    let trimmed = out.trim_start_matches('-');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fuzz target dhcp_packet): a BLQ time option of the wrong length made
    /// dhcproto's debug_assert panic; it is now refused as malformed.
    #[test]
    fn wrong_length_fixed_options_are_malformed_not_a_panic() {
        for (code, len) in [(153u8, 1u8), (80, 2), (94, 1), (81, 1), (152, 7)] {
            let mut b = header(1);
            b.extend_from_slice(&[53, 1, 1, code, len]);
            b.extend(std::iter::repeat_n(0u8, len as usize));
            b.push(255);
            assert_eq!(decode(&b).unwrap_err(), Malformed::BadOptionLength(code));
        }
        let mut b = header(1);
        b.extend_from_slice(&[53, 1, 1, 53, 1, 3, 255]);
        assert_eq!(decode(&b).unwrap_err(), Malformed::DuplicateMessageType);
    }

    /// Regression (fuzz target dhcp_packet, CI): a message type of length 3 (dhcproto reads
    /// DISCOVER from its first byte) followed by a one-byte LEASEQUERY meant a different type
    /// to each reader. Both single-byte options now refuse any other length.
    #[test]
    fn message_type_and_overload_must_be_one_byte() {
        for code in [53u8, 52] {
            let mut b = header(1);
            b.extend_from_slice(&[code, 3, 1, 0, 0, 53, 1, 10, 255]);
            assert_eq!(decode(&b).unwrap_err(), Malformed::BadOptionLength(code));
        }
    }

    pub(crate) fn header(op: u8) -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = op;
        b[1] = 1;
        b[2] = 6;
        b[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        b[236..240].copy_from_slice(&MAGIC);
        b
    }

    #[test]
    fn rejects_structural_faults() {
        assert_eq!(decode(&[0u8; 100]).unwrap_err(), Malformed::Truncated);
        let mut b = header(1);
        b[236] = 0;
        assert_eq!(decode(&b).unwrap_err(), Malformed::BadCookie);
        let mut b = header(1);
        b.extend_from_slice(&[53, 1, 1, 12, 40, b'x']);
        assert_eq!(decode(&b).unwrap_err(), Malformed::OptionOverflow);
        let mut b = header(1);
        b.extend_from_slice(&[255]);
        assert_eq!(decode(&b).unwrap_err(), Malformed::NoMessageType);
        assert_eq!(decode(&header(2)).unwrap_err(), Malformed::NotRequest);
    }

    #[test]
    fn overload_and_relay_info() {
        let mut b = header(1);
        b.extend_from_slice(&[53, 1, 3, 52, 1, 1, 82, 10, 1, 2, 0, 7, 5, 4, 10, 77, 0, 0, 255]);
        // Options continue in the file field.
        b[108..116].copy_from_slice(&[50, 4, 10, 77, 0, 9, 12, 0]);
        b[114..118].copy_from_slice(&[12, 2, b'A', b'_']);
        let r = decode(&b).unwrap();
        assert_eq!(r.msg_type, MessageType::Request);
        assert_eq!(r.requested_ip, Some(Ipv4Addr::new(10, 77, 0, 9)));
        assert_eq!(r.link_selection, Some(Ipv4Addr::new(10, 77, 0, 0)));
        assert_eq!(r.relay_info.as_deref(), Some(&[82, 10, 1, 2, 0, 7, 5, 4, 10, 77, 0, 0][..]));
        assert_eq!(r.hostname.as_deref(), Some("a"));
    }

    #[test]
    fn hostnames_are_sanitised() {
        assert_eq!(sanitize(b"My Laptop.home").as_deref(), Some("my-laptop"));
        assert_eq!(sanitize(b"--").as_deref(), None);
        assert_eq!(fqdn_label(&[0x04, 0, 0, 3, b'p', b'c', b'1', 3, b'l', b'a', b'n', 0]).as_deref(), Some("pc1"));
        assert_eq!(fqdn_label(&[0, 0, 0, b'P', b'C', b'.', b'x']).as_deref(), Some("pc"));
    }
}
