//! DHCP subnets (`[[subnet]]`): schema and validation.

use ipnet::Ipv4Net;
use serde::Deserialize;

use crate::error::{ConfigError, SourceMap};
use crate::wire::S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetWire {
    /// Subnet name, unique. Required.
    pub name: S<String>,
    /// The network, e.g. `10.0.20.0/24`. Required.
    pub cidr: S<String>,
}

/// A validated DHCP subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub name: String,
    pub cidr: Ipv4Net,
}

/// Validates every `[[subnet]]`.
pub fn validate(subnets: &[SubnetWire], map: &SourceMap<'_>) -> Result<Vec<Subnet>, ConfigError> {
    let mut out: Vec<Subnet> = Vec::new();
    for s in subnets {
        let cidr: Ipv4Net = crate::validate::network_v4(&s.cidr, "subnet.cidr", map)?;
        if let Some(other) = out.iter().find(|o| o.cidr.contains(&cidr) || cidr.contains(&o.cidr)) {
            return Err(map.err(
                Some(s.cidr.span()),
                format!("subnet.cidr: {cidr} overlaps subnet '{}' ({})", other.name, other.cidr),
            ));
        }
        out.push(Subnet { name: s.name.get_ref().clone(), cidr });
    }
    Ok(out)
}
