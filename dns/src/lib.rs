//! ravens-dns: the DNS half of ravensd.

pub mod blocklist;
pub mod cache;
pub mod upstream;
pub mod wire;
pub mod zone;
