//! ravens: the ravensd daemon's wiring and the dnsctl admin client.
//!
//! `ravensd` ([`daemon`]) loads the config, runs the DNS service of `ravens-dns`, the admin
//! API ([`admin`], [`metrics`]) and the config watcher ([`watch`]). `dnsctl` ([`ctl`]) talks
//! to that API; both share the types of [`api`].

pub mod admin;
pub mod api;
pub mod cluster;
pub mod config_file;
pub mod ctl;
pub mod daemon;
pub mod explain;
pub mod fdlimit;
pub mod leases;
pub mod metrics;
pub mod privdrop;
pub mod reload;
pub mod site;
pub mod state;
pub mod systemd;
pub mod token;
pub mod ui;
pub mod watch;
