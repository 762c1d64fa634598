//! In-process authoritative DNS server used as the upstream of integration tests.
