//! `dns.dnssec*`: DNSSEC validation settings, validated.

use std::path::PathBuf;

use crate::error::{ConfigError, SourceMap};
use crate::validate;
use crate::wire::DnsWire;

/// Whether forwarded answers are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnssecMode {
    /// Answers pass as the upstream gave them (its AD bit included).
    Off,
    /// Answers are validated against the trust anchor: secure ones get AD, bogus ones
    /// SERVFAIL with an Extended DNS Error.
    Validate,
}

/// The validated `dns.dnssec*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnssec {
    pub mode: DnssecMode,
    /// DS or DNSKEY records in zone-file form; `None` = the built-in root anchor.
    pub trust_anchor_file: Option<PathBuf>,
    /// Negative trust anchors: lower-case names without the trailing dot, whose subtrees
    /// are never validated.
    pub nta: Vec<String>,
}

pub fn validate(w: &DnsWire, map: &SourceMap<'_>) -> Result<Dnssec, ConfigError> {
    let mode = match &w.dnssec {
        None => DnssecMode::Off,
        Some(s) => match s.get_ref().as_str() {
            "off" => DnssecMode::Off,
            "validate" => DnssecMode::Validate,
            other => {
                return Err(map.err(Some(s.span()), format!("dns.dnssec: '{other}' is not off or validate")));
            }
        },
    };
    let mut nta = Vec::new();
    for n in w.dnssec_nta.iter().flatten() {
        nta.push(validate::dns_name(n, "dns.dnssec_nta", map)?);
    }
    Ok(Dnssec { mode, trust_anchor_file: w.dnssec_trust_anchor_file.as_ref().map(PathBuf::from), nta })
}
