//! Static local DNS records (`[[record]]`).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ConfigError, SourceMap};
use crate::validate::{self, normalize_name};
use crate::wire::RecordWire;

/// RDATA of a local record, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ptr(String),
    Txt(String),
    Mx { preference: u16, exchange: String },
    Srv { priority: u16, weight: u16, port: u16, target: String },
}

/// A local DNS record (`[[record]]`): lower-case name without trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalRecord {
    pub name: String,
    pub ttl: u32,
    pub data: RecordData,
}

pub fn validate(records: &[RecordWire], map: &SourceMap<'_>) -> Result<Vec<LocalRecord>, ConfigError> {
    records.iter().map(|r| validate_one(r, map)).collect()
}

pub(crate) fn validate_one(r: &RecordWire, map: &SourceMap<'_>) -> Result<LocalRecord, ConfigError> {
    let name = validate::dns_name(&r.name, "record.name", map)?;
    let ttl = validate::opt_ttl(&r.ttl, 300, "record.ttl", map)?;
    let value = r.value.get_ref().trim();
    let rtype = r.rtype.get_ref().to_ascii_uppercase();
    let err = |why: String| map.err(Some(r.value.span()), format!("record.value: {why}"));
    let data = match rtype.as_str() {
        "A" => RecordData::A(value.parse().map_err(|_| err(format!("'{value}' is not an IPv4 address")))?),
        "AAAA" => RecordData::Aaaa(value.parse().map_err(|_| err(format!("'{value}' is not an IPv6 address")))?),
        "CNAME" => RecordData::Cname(normalize_name(value).map_err(err)?),
        "PTR" => RecordData::Ptr(normalize_name(value).map_err(err)?),
        "TXT" => {
            if value.len() > 4000 {
                return Err(err("TXT value longer than 4000 bytes".into()));
            }
            RecordData::Txt(value.to_string())
        }
        "MX" => {
            let mut it = value.split_whitespace();
            let (Some(p), Some(x), None) = (it.next(), it.next(), it.next()) else {
                return Err(err(format!("'{value}' is not 'PREFERENCE EXCHANGE' (e.g. '10 mail.lan')")));
            };
            RecordData::Mx {
                preference: p.parse().map_err(|_| err(format!("MX preference '{p}' is not a number 0-65535")))?,
                exchange: normalize_name(x).map_err(err)?,
            }
        }
        "SRV" => {
            let f: Vec<&str> = value.split_whitespace().collect();
            let num = |s: &str| s.parse::<u16>().map_err(|_| err(format!("SRV field '{s}' is not a number 0-65535")));
            let [p, w, port, t] = f.as_slice() else {
                return Err(err(format!("'{value}' is not 'PRIORITY WEIGHT PORT TARGET' (e.g. '0 5 5060 sip.lan')")));
            };
            RecordData::Srv {
                priority: num(p)?,
                weight: num(w)?,
                port: num(port)?,
                target: normalize_name(t).map_err(err)?,
            }
        }
        other => {
            return Err(map.err(
                Some(r.rtype.span()),
                format!("record.type: '{other}' is not supported (expected A, AAAA, CNAME, PTR, TXT, MX or SRV)"),
            ));
        }
    };
    Ok(LocalRecord { name, ttl, data })
}
