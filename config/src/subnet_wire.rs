//! The serde wire schema of `[[subnet]]` and its tables (`reservation`, `option`, `route`),
//! as written in the config file; [`crate::subnet`] validates it into a `Subnet`.

use serde::Deserialize;

use crate::wire::S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetWire {
    /// Subnet name, unique. Required.
    pub name: S<String>,
    /// The network, e.g. `10.0.20.0/24`. Required.
    pub cidr: S<String>,
    /// Dynamic pools: ranges `"10.0.20.100-10.0.20.199"` or CIDRs. Default: `[]` (reservations only).
    #[serde(default)]
    pub pools: Vec<S<String>>,
    /// Default gateway (option 3). Default: none.
    pub router: Option<S<String>>,
    /// DNS servers (option 6). Default: the answering node's own address.
    pub dns: Option<Vec<S<String>>>,
    /// Domain name (option 15). Default: `[dns].local_domain`.
    pub domain: Option<S<String>>,
    /// Lease time (option 51). Default: `12h`.
    pub lease_time: Option<S<String>>,
    /// Renewal time T1 (option 58). Default: 50% of `lease_time`.
    pub t1: Option<S<String>>,
    /// Rebinding time T2 (option 59). Default: 87.5% of `lease_time`.
    pub t2: Option<S<String>>,
    /// NTP servers (option 42). Default: none.
    #[serde(default)]
    pub ntp: Vec<S<String>>,
    /// Interface MTU (option 26), 68..=65535. Default: none.
    pub mtu: Option<S<i64>>,
    /// Domain search list (option 119). Default: none.
    #[serde(default)]
    pub domain_search: Vec<S<String>>,
    /// How long a DECLINEd address is kept out of the pool. Default: `24h`.
    pub decline_quarantine: Option<S<String>>,
    /// How long an OFFERed address is held for the client's REQUEST. Default: `30s`.
    pub offer_hold: Option<S<String>>,
    /// Classless static routes (option 121). Default: none.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteWire>,
    /// Raw custom options. Default: none.
    #[serde(default, rename = "option")]
    pub options: Vec<OptionWire>,
    /// Fixed addresses by MAC or client-id. Default: none.
    #[serde(default, rename = "reservation")]
    pub reservations: Vec<ReservationWire>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWire {
    /// Destination network, e.g. `10.9.0.0/16` (`0.0.0.0/0` for the default route). Required.
    pub network: S<String>,
    /// Next hop. Required.
    pub gateway: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionWire {
    /// Option code, 1..=254 except the ones the server manages itself. Required.
    pub code: S<i64>,
    /// Value as hex bytes (`"01ab"`, `"01:ab"`). Exactly one of hex/text/ip is required.
    pub hex: Option<S<String>>,
    /// Value as text (UTF-8 bytes, no terminating NUL).
    pub text: Option<S<String>>,
    /// Value as one or more IPv4 addresses.
    pub ip: Option<S<IpList>>,
}

/// One address or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum IpList {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationWire {
    /// Client MAC, `aa:bb:cc:dd:ee:ff`. One of mac/client_id is required.
    pub mac: Option<S<String>>,
    /// Client identifier (option 61) as hex bytes, `01:aa:bb:cc:dd:ee:ff`.
    pub client_id: Option<S<String>>,
    /// The fixed address, inside the subnet. Required.
    pub ip: S<String>,
    /// Host name handed out (option 12) and published in DNS. Default: the client's own.
    pub hostname: Option<S<String>>,
    /// Per-host raw options, overriding the subnet's. Default: none.
    #[serde(default, rename = "option")]
    pub options: Vec<OptionWire>,
}
