//! ravens-dns: the DNS half of ravensd.

pub mod blocklist;
