//! Zero-allocation views of DNS messages for the hot path.
//!
//! A query is parsed just far enough to route it: header, the single question (name
//! case-folded into a fixed buffer) and the EDNS OPT record. Everything else about a
//! message is handled by hickory-proto on slower paths. Every read is bounds-checked:
//! malformed input yields a [`WireError`], never a panic.

/// Header flag bits (byte 2 and 3 of the header as one u16).
pub const QR: u16 = 0x8000;
pub const AA: u16 = 0x0400;
pub const TC: u16 = 0x0200;
pub const RD: u16 = 0x0100;
pub const RA: u16 = 0x0080;
pub const AD: u16 = 0x0020;
pub const CD: u16 = 0x0010;

pub const HEADER_LEN: usize = 12;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_CNAME: u16 = 5;

/// Response codes used by the server.
pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
}

/// Why a message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message shorter than a DNS header")]
    NoHeader,
    #[error("message truncated")]
    Truncated,
    #[error("malformed name")]
    BadName,
    #[error("compression pointer loop")]
    PointerLoop,
    #[error("not exactly one question")]
    QuestionCount,
    /// RFC 6891 §6.1.1: a query with more than one OPT record gets FORMERR.
    #[error("more than one OPT record")]
    DuplicateOpt,
}

/// EDNS(0) parameters of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A parsed query. `name` holds the case-folded question name in wire format.
#[derive(Clone)]
pub struct Query {
    pub id: u16,
    pub flags: u16,
    pub qtype: u16,
    pub qclass: u16,
    name: [u8; 255],
    name_len: u8,
    /// End offset of the question section in the original message.
    pub question_end: usize,
    pub edns: Option<Edns>,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("id", &self.id)
            .field("name", &self.name_text())
            .field("qtype", &self.qtype)
            .finish()
    }
}

impl Query {
    /// Opcode (4 bits).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }

    /// The case-folded question name in wire format (length-prefixed labels, final 0).
    pub fn name_wire(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }

    pub fn checking_disabled(&self) -> bool {
        self.flags & CD != 0
    }

    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// Largest UDP response this client accepts (RFC 6891 §6.2.5: never below 512).
    pub fn max_udp_size(&self, ours: u16) -> usize {
        match self.edns {
            Some(e) => e.udp_size.clamp(512, ours.max(512)) as usize,
            None => 512,
        }
    }

    /// The question name in presentation form (see [`name_to_text`]).
    pub fn name_text(&self) -> String {
        name_to_text(self.name_wire())
    }
}

pub fn read_u16(buf: &[u8], at: usize) -> Result<u16, WireError> {
    buf.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or(WireError::Truncated)
}

pub fn read_u32(buf: &[u8], at: usize) -> Result<u32, WireError> {
    buf.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or(WireError::Truncated)
}

/// Parses a query. Errors other than [`WireError::NoHeader`] still leave the ID and
/// flags readable from the first 4 bytes, so the caller can send FORMERR.
pub fn parse_query(msg: &[u8]) -> Result<Query, WireError> {
    if msg.len() < HEADER_LEN {
        return Err(WireError::NoHeader);
    }
    let id = read_u16(msg, 0)?;
    let flags = read_u16(msg, 2)?;
    if read_u16(msg, 4)? != 1 {
        return Err(WireError::QuestionCount);
    }
    let mut q = Query { id, flags, qtype: 0, qclass: 0, name: [0; 255], name_len: 0, question_end: 0, edns: None };
    let mut pos = HEADER_LEN;
    // Questions are never compressed in practice; a pointer here is refused as malformed.
    let mut n = 0usize;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)? as usize;
        if len & 0xC0 != 0 {
            return Err(WireError::BadName);
        }
        if n + 1 + len > 255 {
            return Err(WireError::BadName);
        }
        let label = msg.get(pos + 1..pos + 1 + len).ok_or(WireError::Truncated)?;
        q.name[n] = len as u8;
        for (d, s) in q.name[n + 1..n + 1 + len].iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        n += 1 + len;
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    q.name_len = n as u8;
    q.qtype = read_u16(msg, pos)?;
    q.qclass = read_u16(msg, pos + 2)?;
    pos += 4;
    q.question_end = pos;
    q.edns = find_opt(msg, pos)?;
    Ok(q)
}

/// Skips answer and authority records and returns the OPT record of the additional section
/// (the rest of that section is read too: a second OPT makes the query malformed).
fn find_opt(msg: &[u8], mut pos: usize) -> Result<Option<Edns>, WireError> {
    let records = read_u16(msg, 6)? as usize + read_u16(msg, 8)? as usize;
    for _ in 0..records {
        pos = skip_record(msg, pos)?.1;
    }
    let mut edns = None;
    for _ in 0..read_u16(msg, 10)? {
        let (rr, next) = skip_record(msg, pos)?;
        if rr.rtype == TYPE_OPT {
            if edns.is_some() {
                return Err(WireError::DuplicateOpt);
            }
            let ttl = rr.ttl;
            edns = Some(Edns { udp_size: rr.class, version: ((ttl >> 16) & 0xFF) as u8, dnssec_ok: ttl & 0x8000 != 0 });
        }
        pos = next;
    }
    Ok(edns)
}

/// Fixed fields of a resource record and where they sit.
#[derive(Debug, Clone, Copy)]
pub struct RecordAt {
    pub start: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Offset of the TTL field.
    pub ttl_at: usize,
    pub rdata_at: usize,
    pub rdlen: usize,
}

/// Skips a (possibly compressed) name starting at `pos`; returns the offset after it.
pub fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, WireError> {
    for _ in 0..128 {
        let len = *msg.get(pos).ok_or(WireError::Truncated)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Ok(pos + 1),
            0x00 => pos += 1 + len as usize,
            0xC0 => {
                msg.get(pos + 1).ok_or(WireError::Truncated)?;
                return Ok(pos + 2);
            }
            _ => return Err(WireError::BadName),
        }
    }
    Err(WireError::BadName)
}

/// Reads the record at `pos`; returns it and the offset after it.
pub fn skip_record(msg: &[u8], pos: usize) -> Result<(RecordAt, usize), WireError> {
    let fixed = skip_name(msg, pos)?;
    let rtype = read_u16(msg, fixed)?;
    let class = read_u16(msg, fixed + 2)?;
    let ttl = read_u32(msg, fixed + 4)?;
    let rdlen = read_u16(msg, fixed + 8)? as usize;
    let rdata_at = fixed + 10;
    if rdata_at + rdlen > msg.len() {
        return Err(WireError::Truncated);
    }
    Ok((RecordAt { start: pos, rtype, class, ttl, ttl_at: fixed + 4, rdata_at, rdlen }, rdata_at + rdlen))
}

/// Reads a possibly compressed name at `pos` into lower-case wire form (for comparisons).
/// Bounded: at most 64 pointer jumps and 255 bytes.
pub fn read_name(msg: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.clear();
    for _ in 0..64 {
        loop {
            let len = *msg.get(pos).ok_or(WireError::Truncated)? as usize;
            if len & 0xC0 == 0xC0 {
                let lo = *msg.get(pos + 1).ok_or(WireError::Truncated)? as usize;
                pos = ((len & 0x3F) << 8) | lo;
                break;
            }
            if len & 0xC0 != 0 {
                return Err(WireError::BadName);
            }
            let label = msg.get(pos + 1..pos + 1 + len).ok_or(WireError::Truncated)?;
            if out.len() + 1 + len > 255 {
                return Err(WireError::BadName);
            }
            out.push(len as u8);
            out.extend(label.iter().map(u8::to_ascii_lowercase));
            if len == 0 {
                return Ok(());
            }
            pos += 1 + len;
        }
    }
    Err(WireError::PointerLoop)
}

/// Appends an OPT record advertising `udp_size`, with the DO bit when asked and an
/// optional Extended DNS Error (RFC 8914) option.
pub fn push_opt(out: &mut Vec<u8>, udp_size: u16, dnssec_ok: bool, ede: Option<(u16, &str)>) {
    out.push(0); // root name
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&udp_size.to_be_bytes());
    out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
    match ede {
        Some((code, text)) => {
            let text = &text.as_bytes()[..text.len().min(200)];
            let opt_len = 2 + text.len();
            out.extend_from_slice(&((4 + opt_len) as u16).to_be_bytes());
            out.extend_from_slice(&15u16.to_be_bytes()); // EDE option code
            out.extend_from_slice(&(opt_len as u16).to_be_bytes());
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(text);
        }
        None => out.extend_from_slice(&[0, 0]),
    }
    let ar = u16::from_be_bytes([out[10], out[11]]).wrapping_add(1);
    out[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// Sets the 4-bit response code and the given flag bits in a message header.
pub fn set_rcode(out: &mut [u8], rcode: u8) {
    out[3] = (out[3] & 0xF0) | (rcode & 0x0F);
}

/// Builds a reply that carries only the header and question of `msg` (for error
/// responses and truncated answers): QR set, RD/CD/opcode copied, RA set.
pub fn reply_skeleton(msg: &[u8], q: &Query, rcode: u8, extra_flags: u16, ours: u16, out: &mut Vec<u8>) {
    reply_start(msg, q, rcode, extra_flags, out);
    if q.edns.is_some() {
        push_opt(out, ours, q.dnssec_ok(), None);
    }
}

/// [`reply_skeleton`] without the OPT record, for a caller that appends answers first.
pub fn reply_start(msg: &[u8], q: &Query, rcode: u8, extra_flags: u16, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    let flags = QR | (q.flags & (0x7800 | RD | CD)) | RA | extra_flags;
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&msg[HEADER_LEN..q.question_end]);
    set_rcode(out, rcode);
}

/// Appends an answer record owned by the question name (pointer to offset 12) and counts
/// it in ANCOUNT. Only before any authority or additional record.
pub fn push_answer(out: &mut Vec<u8>, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(&[0xC0, 0x0C]);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    let an = u16::from_be_bytes([out[6], out[7]]).wrapping_add(1);
    out[6..8].copy_from_slice(&an.to_be_bytes());
}

/// A header-only error reply for a message whose question could not be parsed.
pub fn header_only_reply(msg: &[u8], rcode: u8, out: &mut Vec<u8>) -> bool {
    if msg.len() < HEADER_LEN || msg[2] & 0x80 != 0 {
        return false; // no header, or a response: never answer those
    }
    out.clear();
    out.extend_from_slice(&msg[..2]);
    let flags = QR | (u16::from_be_bytes([msg[2], msg[3]]) & (0x7800 | RD)) | RA;
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    set_rcode(out, rcode);
    true
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;

#[path = "wire_text.rs"]
mod text;
pub use text::{name_from_text, name_to_text, printable, write_name_text};

/// Builds a query message for `name_wire` (already wire-format).
pub fn build_query(id: u16, name_wire: &[u8], qtype: u16, qclass: u16, cd: bool, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + name_wire.len() + 4 + 11);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(RD | if cd { CD } else { 0 }).to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(name_wire);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
    if let Some((size, dnssec_ok)) = edns {
        push_opt(&mut out, size, dnssec_ok, None);
    }
    out
}
