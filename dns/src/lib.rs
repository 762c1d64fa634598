//! ravens-dns: the DNS half of ravensd.
//!
//! Data flow (DESIGN §3): a listener ([`server`]) receives a message and calls
//! [`pipeline::Resolver::handle`], which parses it ([`wire`]), checks the ACL, asks the
//! [`zone`] (local names), the [`blocklist`] and the [`cache`], and either answers at once
//! or hands back a pending query that the [`upstream`] pool resolves. Policy cores (cache,
//! zone, health) are free of I/O and take `now`.

pub mod admission;
pub mod block;
pub mod blocklist;
pub mod cache;
pub mod pipeline;
pub mod querylog;
pub mod ratelimit;
pub mod server;
pub mod special;
pub mod stats;
pub mod upstream;
pub mod wire;
pub mod zone;

pub use pipeline::{Resolver, State, Step, Transport};
