//! ravens-dns: the DNS half of ravensd.
//!
//! Data flow (docs/ARCHITECTURE.md §3): a listener ([`server`]) receives a message and calls
//! [`pipeline::Resolver::handle`], which parses it ([`wire`]), checks the ACL, asks the
//! [`zone`] (local names), the [`blocklist`] and the [`cache`], and either answers at once
//! or hands back a pending query that the [`upstream`] pool resolves. Policy cores (cache,
//! zone, health) are free of I/O and take `now`. [`DnsService::start`] runs it all: the
//! listeners, the upstream prober, the blocklist service ([`lists`]) and the statistics.

pub mod admission;
pub mod block;
pub mod blocklist;
pub mod cache;
pub mod dnssec;
pub mod lists;
pub mod pipeline;
pub mod querylog;
pub mod ratelimit;
pub mod route;
pub mod server;
pub mod service;
pub mod special;
pub mod stats;
pub mod upstream;
pub mod wire;
pub mod zone;

pub use pipeline::{Resolver, State, Step, Transport};
pub use service::{DnsError, DnsHandle, DnsService};
