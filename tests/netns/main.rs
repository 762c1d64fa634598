//! The root-only namespace tests, one test program: the lab ([`harness`]) and the DHCP
//! clients ([`clients`]) compiled once for all of them. Each test skips with a printed reason
//! when not root or a tool is missing, and takes `harness::SERIAL`: one lab at a time.
//!
//! - [`dhcp`]: two VLANs direct and through `dhcrelay`, `dhclient` and `udhcpc`, lease names,
//!   renew and release.
//! - [`crash`]: `kill -9` of ravensd under relayed DHCP load loses no ACKed lease.
//! - [`failover`]: the pair behind a relay, `kill -9` of one node, takeover and rebind.
//! - [`partition`]: the gossip cut by nftables for 60 s: no address twice, then convergence.
//! - [`restart`]: a node of the pair restarted behind the relay; its clients keep their leases.
//! - [`import`]: a Pi-hole lease imported with `dnsctl import pihole`; `dhclient` on its MAC,
//!   through `dhcrelay`, gets the imported address back.

mod clients;
#[macro_use]
mod harness;

mod crash;
mod dhcp;
mod failover;
#[path = "../../import/tests/common/mod.rs"]
mod fixture;
mod import;
mod partition;
#[path = "../common/pihole.rs"]
mod pihole;
mod procs;
mod restart;
