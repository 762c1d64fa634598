//! ravens-dns: the DNS half of ravensd.
