//! Listeners: UDP on dedicated threads (one SO_REUSEPORT socket each, cache hits answered
//! inline with blocking syscalls, the cheapest path the kernel offers), TCP and DNS over TLS
//! (`tcp.rs`, `tls.rs`) and DNS over HTTPS (`doh.rs`, `doh_request.rs`) on tokio.

pub mod doh;
pub mod doh_request;
pub mod limit;
pub mod tcp;
pub mod tls;
pub mod udp;
