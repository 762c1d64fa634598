//! Per-subnet and per-reservation option tables, compiled once from the config: every option is
//! encoded to its wire bytes (code, length, value) by dhcproto at load time, so a reply only
//! copies bytes.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, OptionCode, UnknownOption};
use dhcproto::{Encodable, Encoder, Name};
use ravens_config::Subnet;
use ravens_config::subnet::RawOption;

/// Options a client gets even when it does not ask for them, after the requested ones.
pub const DEFAULT_CODES: &[u8] = &[1, 3, 6, 15, 12, 28];
/// Options sent only on request (RFC 3442 §3 for 121; 119 follows suit).
const ONLY_ON_REQUEST: &[u8] = &[119, 121];

/// Wire-encoded options by code.
#[derive(Debug, Clone)]
pub struct OptionTable {
    enc: Vec<Option<Box<[u8]>>>,
    /// Codes of raw custom options, sent after the defaults when not requested.
    custom: Vec<u8>,
}

impl OptionTable {
    /// The wire bytes of option `code`, if configured.
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.enc[code as usize].as_deref()
    }

    /// Whether `code` goes out without being requested.
    pub fn unrequested(&self) -> impl Iterator<Item = u8> + '_ {
        DEFAULT_CODES.iter().copied().chain(self.custom.iter().copied()).filter(|c| !ONLY_ON_REQUEST.contains(c))
    }

    fn set(&mut self, opt: DhcpOption) {
        let code = u8::from(OptionCode::from(&opt));
        let mut buf = Vec::new();
        // Encoding a well-formed option into a Vec cannot fail; a failure would only drop it.
        if opt.encode(&mut Encoder::new(&mut buf)).is_ok() {
            self.enc[code as usize] = Some(buf.into());
        }
    }

    fn set_raw(&mut self, raw: &RawOption) {
        // Values over 255 bytes are split into several instances (RFC 3396).
        let mut buf = Vec::with_capacity(raw.data.len() + 2);
        for chunk in raw.data.chunks(255) {
            buf.extend_from_slice(&[raw.code, chunk.len() as u8]);
            buf.extend_from_slice(chunk);
        }
        if raw.data.is_empty() {
            buf.extend_from_slice(&[raw.code, 0]);
        }
        self.enc[raw.code as usize] = Some(buf.into());
        if !self.custom.contains(&raw.code) {
            self.custom.push(raw.code);
        }
    }

    /// The table of a subnet. `dns` = `None` leaves option 6 to be filled per reply with the
    /// answering node's address.
    pub fn for_subnet(s: &Subnet, local_domain: &str) -> OptionTable {
        let mut t = OptionTable { enc: vec![None; 256], custom: Vec::new() };
        t.set(DhcpOption::SubnetMask(s.cidr.netmask()));
        t.set(DhcpOption::BroadcastAddr(s.cidr.broadcast()));
        if let Some(r) = s.router {
            t.set(DhcpOption::Router(vec![r]));
        }
        if let Some(dns) = s.dns.as_ref().filter(|d| !d.is_empty()) {
            t.set(DhcpOption::DomainNameServer(dns.clone()));
        }
        t.set(DhcpOption::DomainName(s.domain.clone().unwrap_or_else(|| local_domain.to_string())));
        if !s.ntp.is_empty() {
            t.set(DhcpOption::NtpServers(s.ntp.clone()));
        }
        if let Some(mtu) = s.mtu {
            t.set(DhcpOption::InterfaceMtu(mtu));
        }
        let names: Vec<Name> = s.domain_search.iter().filter_map(|d| Name::from_ascii(d).ok()).collect();
        if !names.is_empty() {
            t.set(DhcpOption::DomainSearch(names));
        }
        if !s.routes.is_empty() {
            t.set(DhcpOption::ClasslessStaticRoute(s.routes.clone()));
        }
        for raw in &s.options {
            t.set_raw(raw);
        }
        t
    }

    /// This table with a reservation's host name and raw options layered on top.
    pub fn with_host(&self, hostname: Option<&str>, options: &[RawOption]) -> OptionTable {
        let mut t = self.clone();
        if let Some(h) = hostname {
            t.set(DhcpOption::Hostname(h.to_string()));
        }
        for raw in options {
            t.set_raw(raw);
        }
        t
    }
}

/// Option 6 naming the answering node, for subnets without `dns`.
pub fn dns_self(server: Ipv4Addr) -> [u8; 6] {
    let o = server.octets();
    [6, 4, o[0], o[1], o[2], o[3]]
}

/// A raw option with an arbitrary code (used by tests and the bench).
pub fn unknown(code: u8, data: &[u8]) -> DhcpOption {
    DhcpOption::Unknown(UnknownOption::new(code.into(), data.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_table_encodes_options() {
        let c = ravens_config::parse_with(
            "[[subnet]]\nname = \"a\"\ncidr = \"10.0.0.0/24\"\nrouter = \"10.0.0.1\"\nmtu = 1400\n\
             [[subnet.route]]\nnetwork = \"10.9.0.0/16\"\ngateway = \"10.0.0.1\"\n\
             [[subnet.option]]\ncode = 66\ntext = \"tftp\"\n",
            "t",
            &String::new,
        )
        .unwrap();
        let t = OptionTable::for_subnet(&c.subnets[0], "lan");
        assert_eq!(t.get(1), Some(&[1, 4, 255, 255, 255, 0][..]));
        assert_eq!(t.get(3), Some(&[3, 4, 10, 0, 0, 1][..]));
        assert_eq!(t.get(26), Some(&[26, 2, 0x05, 0x78][..]));
        assert_eq!(t.get(121), Some(&[121, 7, 16, 10, 9, 10, 0, 0, 1][..]));
        assert_eq!(t.get(15), Some(&b"\x0f\x03lan"[..]));
        assert_eq!(t.get(66), Some(&b"\x42\x04tftp"[..]));
        assert!(t.get(6).is_none());
        let h = t.with_host(Some("thermo"), &[]);
        assert_eq!(h.get(12), Some(&b"\x0c\x06thermo"[..]));
    }
}
