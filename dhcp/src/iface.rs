//! Interfaces served directly (`[node].dhcp_interfaces`): their index and IPv4 addresses, read
//! with `getifaddrs`. A VLAN sub-interface such as `eth0.20` is just another interface here.

use std::net::Ipv4Addr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::if_nametoindex;

/// One directly served interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub addrs: Vec<Ipv4Addr>,
}

/// Looks up each named interface. Missing ones are returned in the error list (the caller
/// decides whether that is fatal).
pub fn lookup(names: &[String]) -> (Vec<Iface>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let all: Vec<_> = getifaddrs().map(|it| it.collect()).unwrap_or_default();
    for name in names {
        let Ok(index) = if_nametoindex(name.as_str()) else {
            missing.push(name.clone());
            continue;
        };
        let addrs = all
            .iter()
            .filter(|a| &a.interface_name == name)
            .filter_map(|a| a.address.as_ref()?.as_sockaddr_in().map(|s| s.ip()))
            .collect();
        found.push(Iface { name: name.clone(), index, addrs });
    }
    (found, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_with_its_address() {
        let (found, missing) = lookup(&["lo".to_string(), "no-such-if0".to_string()]);
        assert_eq!(missing, vec!["no-such-if0".to_string()]);
        assert!(found[0].index > 0);
        assert!(found[0].addrs.contains(&Ipv4Addr::LOCALHOST));
    }
}
