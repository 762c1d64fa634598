//! Trust anchors: the built-in root keys (hickory's KSK-2017 and KSK-2024), or a file of
//! DS or DNSKEY records in zone-file form (`dns.dnssec_trust_anchor_file`: what
//! `ldns-keygen` and `dnssec-keygen` write and unbound's `trust-anchor-file` reads).
//!
//! A DNSKEY anchor is trusted as it is. A DS anchor names a key only by digest, so the
//! owner's DNSKEY RRset is fetched (unvalidated, through the pool) on first use and the
//! keys whose digest matches become the anchor: hickory trusts keys, not digests.

use std::str::FromStr;

use base64::Engine as _;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf, TrustAnchors};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::handle::PoolHandle;
use crate::upstream::Question;

/// One record of a trust anchor file.
#[derive(Debug, Clone)]
pub enum Anchor {
    Dnskey(Name, DNSKEY),
    Ds(Name, DS),
}

/// Reads a trust anchor file.
pub fn read(path: &std::path::Path) -> Result<Vec<Anchor>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses zone-file text: `OWNER [TTL] [CLASS] DS|DNSKEY RDATA`, `;` comments, parentheses
/// spanning lines; other record types (a key file's comments, SOA of a copied zone) are
/// skipped. At least one DS or DNSKEY is required.
pub fn parse(text: &str) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut depth = 0i32;
    for (n, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("");
        depth += line.matches('(').count() as i32 - line.matches(')').count() as i32;
        pending.push(' ');
        pending.push_str(&line.replace(['(', ')'], " "));
        if depth > 0 {
            continue;
        }
        let entry = std::mem::take(&mut pending);
        if let Some(a) = record(&entry).map_err(|e| format!("line {}: {e}", n + 1))? {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err("no DS or DNSKEY record".into());
    }
    Ok(out)
}

fn record(entry: &str) -> Result<Option<Anchor>, String> {
    let mut words = entry.split_whitespace();
    let Some(owner) = words.next() else { return Ok(None) };
    let mut rest: Vec<&str> = words.collect();
    // Optional TTL and class, in either order.
    while let Some(w) = rest.first() {
        if w.chars().all(|c| c.is_ascii_digit()) || w.eq_ignore_ascii_case("IN") {
            rest.remove(0);
        } else {
            break;
        }
    }
    let Some((rtype, rdata)) = rest.split_first() else { return Ok(None) };
    let name = Name::from_str(owner).map_err(|e| format!("owner '{owner}': {e}"))?;
    let name = if name.is_fqdn() { name } else { Name::from_str(&format!("{owner}.")).map_err(|e| e.to_string())? };
    let num = |i: usize, what: &str| -> Result<u32, String> {
        rdata.get(i).and_then(|w| w.parse().ok()).ok_or_else(|| format!("{rtype}: bad {what}"))
    };
    if rtype.eq_ignore_ascii_case("DNSKEY") {
        let flags = u16::try_from(num(0, "flags")?).map_err(|_| "DNSKEY: bad flags")?;
        let alg = Algorithm::from_u8(u8::try_from(num(2, "algorithm")?).map_err(|_| "DNSKEY: bad algorithm")?);
        let key = base64::engine::general_purpose::STANDARD
            .decode(rdata.get(3..).unwrap_or_default().concat())
            .map_err(|e| format!("DNSKEY: key: {e}"))?;
        return Ok(Some(Anchor::Dnskey(name, DNSKEY::with_flags(flags, PublicKeyBuf::new(key, alg)))));
    }
    if rtype.eq_ignore_ascii_case("DS") {
        let tag = u16::try_from(num(0, "key tag")?).map_err(|_| "DS: bad key tag")?;
        let alg = Algorithm::from_u8(u8::try_from(num(1, "algorithm")?).map_err(|_| "DS: bad algorithm")?);
        let dt = DigestType::from(u8::try_from(num(2, "digest type")?).map_err(|_| "DS: bad digest type")?);
        let digest =
            ravens_config::text::unhex(&rdata.get(3..).unwrap_or_default().concat()).ok_or("DS: digest is not hex")?;
        return Ok(Some(Anchor::Ds(name, DS::new(tag, alg, dt, digest))));
    }
    Ok(None)
}

/// The anchors hickory is given: DNSKEYs as they are, DS anchors' keys fetched through
/// `handle` and matched by digest. An error when a DS anchor matches no key.
pub async fn trust_anchors(anchors: &[Anchor], handle: &PoolHandle) -> Result<TrustAnchors, String> {
    let mut out = TrustAnchors::empty();
    for a in anchors {
        match a {
            Anchor::Dnskey(name, key) => {
                out.insert_with_name(key.public_key(), name.into());
            }
            Anchor::Ds(name, ds) => {
                let q = Question {
                    name_wire: name.to_lowercase().to_bytes().map_err(|e| e.to_string())?,
                    qtype: 48,
                    qclass: 1,
                };
                let raw = handle.raw(&q).await.map_err(|e| format!("DNSKEY of {name}: {e}"))?;
                let msg = Message::from_vec(&raw).map_err(|e| format!("DNSKEY of {name}: {e}"))?;
                let mut found = false;
                for r in msg.answers.iter().filter(|r| r.record_type() == RecordType::DNSKEY && &r.name == name) {
                    if let RData::DNSSEC(DNSSECRData::DNSKEY(key)) = &r.data
                        && ds.covers(name, key).unwrap_or(false)
                    {
                        out.insert_with_name(key.public_key(), name.into());
                        found = true;
                    }
                }
                if !found {
                    return Err(format!("no DNSKEY of {name} matches the DS anchor with key tag {}", ds.key_tag()));
                }
            }
        }
    }
    Ok(out)
}

/// The DNSKEY anchors of zone-file `text` (DS anchors need a fetch: [`trust_anchors`]).
pub fn dnskey_anchors(text: &str) -> Result<TrustAnchors, String> {
    let mut out = TrustAnchors::empty();
    for a in parse(text)? {
        if let Anchor::Dnskey(name, key) = a {
            out.insert_with_name(key.public_key(), (&name).into());
        }
    }
    Ok(out)
}
