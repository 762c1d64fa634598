//! Turning an upstream response into a cache entry: OPT stripped, TTLs clamped, lifetime.

use super::CachePolicy;
use crate::wire::{self, TYPE_OPT, TYPE_SOA, rcode};

/// Strips the OPT record, clamps TTLs in place and computes the entry's lifetime.
/// A response ready to store: wire bytes, offsets of its TTL fields, lifetime in seconds.
type Prepared = (Vec<u8>, Vec<u16>, u32);

pub(super) fn prepare(response: &[u8], p: &CachePolicy) -> Option<Prepared> {
    if response.len() < wire::HEADER_LEN || response[2] & 0x02 != 0 {
        return None; // truncated answers are never cached
    }
    let rc = response[3] & 0x0F;
    if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
        return None;
    }
    let mut msg = strip_opt(response)?;
    msg[0..2].copy_from_slice(&[0, 0]);
    msg[2] &= !0x04; // AA: we are not the authority
    let [an, ns, ar] = [6, 8, 10].map(|at| usize::from(wire::read_u16(&msg, at).unwrap_or(0)));
    let mut pos = wire::HEADER_LEN;
    for _ in 0..wire::read_u16(&msg, 4).ok()? {
        pos = wire::skip_name(&msg, pos).ok()? + 4;
    }
    let negative = rc == rcode::NXDOMAIN || an == 0;
    let mut offsets = Vec::with_capacity((an + ns + ar).min(4096));
    let mut min_ttl = u32::MAX;
    let mut soa_ttl = None;
    for i in 0..an + ns + ar {
        let (rr, next) = wire::skip_record(&msg, pos).ok()?;
        let ttl = if negative && rr.rtype == TYPE_SOA && i >= an && i < an + ns {
            // RFC 2308 §5: the negative TTL is the minimum of the SOA's TTL and MINIMUM.
            let minimum = wire::read_u32(&msg, rr.rdata_at + rr.rdlen - 4).ok()?;
            let t = rr.ttl.min(minimum).min(p.max_negative_ttl);
            soa_ttl = Some(soa_ttl.map_or(t, |s: u32| s.min(t)));
            t
        } else {
            rr.ttl.clamp(p.min_ttl, p.max_ttl.max(p.min_ttl))
        };
        if !negative && i < an {
            min_ttl = min_ttl.min(ttl);
        }
        msg[rr.ttl_at..rr.ttl_at + 4].copy_from_slice(&ttl.to_be_bytes());
        offsets.push(u16::try_from(rr.ttl_at).ok()?);
        pos = next;
    }
    let ttl = if negative { soa_ttl? } else { min_ttl };
    (ttl > 0).then_some((msg, offsets, ttl))
}

/// A copy of `msg` without its OPT record (OPT is hop-by-hop and never cached).
pub(crate) fn strip_opt(msg: &[u8]) -> Option<Vec<u8>> {
    // usize: three u16 counts can overflow a u16 sum (found by the dns_cache fuzz target).
    let counts = [6, 8, 10].map(|at| usize::from(wire::read_u16(msg, at).unwrap_or(0)));
    let mut pos = wire::HEADER_LEN;
    for _ in 0..wire::read_u16(msg, 4).ok()? {
        pos = wire::skip_name(msg, pos).ok()? + 4;
    }
    for i in 0..counts[0] + counts[1] + counts[2] {
        let (rr, next) = wire::skip_record(msg, pos).ok()?;
        if rr.rtype == TYPE_OPT && i >= counts[0] + counts[1] {
            let mut out = Vec::with_capacity(msg.len());
            out.extend_from_slice(&msg[..rr.start]);
            out.extend_from_slice(&msg[next..]);
            out[10..12].copy_from_slice(&((counts[2] - 1) as u16).to_be_bytes());
            return Some(out);
        }
        pos = next;
    }
    Some(msg[..pos.min(msg.len())].to_vec())
}
