//! ravens-config: the configuration of a ravens node.
//!
//! Data flows in two layers (docs/ARCHITECTURE.md §2): TOML text → serde wire structs ([`wire`], unknown keys
//! rejected, values kept with their spans) → validated runtime types ([`Config`]). Every error
//! names the file, line and column and what was expected. [`embedded_default`] is the config a
//! bare `ravensd` runs with.

pub mod clock;
pub mod dns;
pub mod dnssec;
pub mod error;
pub mod forward;
pub mod node;
pub mod paths;
pub mod policy;
pub mod ratelimit;
pub mod record;
pub mod resolv;
pub mod site;
pub mod subnet;
mod subnet_wire;
pub mod text;
pub mod units;
pub mod upstream;
pub mod validate;
pub mod wire;

use std::path::Path;

pub use dns::{BlockResponse, Chaos, Dns, Strategy};
pub use dnssec::{Dnssec, DnssecMode};
pub use error::{ConfigError, SourceMap};
pub use forward::Forward;
pub use node::{ClusterConfig, EncryptedDns, Node, TlsFiles};
pub use policy::Policy;
pub use ratelimit::{LimitAction, RateLimit};
pub use record::{LocalRecord, RecordData};
pub use subnet::Subnet;
pub use upstream::{Protocol, Upstream};

/// The text of the embedded default config.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// A validated node configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it came from: a path, or `<embedded default>`.
    pub origin: String,
    pub node: Node,
    pub cluster: Option<ClusterConfig>,
    pub dns: Dns,
    pub records: Vec<LocalRecord>,
    pub policy: Policy,
    /// `[[forward]]` zones, in file order.
    pub forwards: Vec<Forward>,
    pub subnets: Vec<Subnet>,
    /// `[ui]` `password_hash`: an argon2id PHC string, or none (no login possible).
    pub ui_password_hash: Option<String>,
}

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
    parse(&text, &path.display().to_string())
}

/// The embedded default config.
pub fn embedded_default() -> Config {
    parse(DEFAULT_TOML, "<embedded default>").expect("the embedded default config is valid")
}

/// Parses and validates config text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_with(text, origin, &|| std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
}

/// Like [`parse`], with the text of resolv.conf supplied (for tests).
pub fn parse_with(text: &str, origin: &str, resolv_conf: &dyn Fn() -> String) -> Result<Config, ConfigError> {
    let map = SourceMap::new(origin, text);
    let wire: wire::FileWire = toml::from_str(text).map_err(|e| map.err(e.span(), e.message().to_string()))?;
    let config_dir = config_dir(origin);
    let node = node::validate_node(&wire.node, config_dir.as_deref(), &map)?;
    let cluster = wire.cluster.as_ref().map(|c| node::validate_cluster(c, &map)).transpose()?;
    let subnets = subnet::validate(&wire.subnets, &map)?;
    let ctx = dns::DnsContext {
        dns_listen: &node.dns_listen,
        subnet_networks: subnets.iter().map(|s| ipnet::IpNet::V4(s.cidr)).collect(),
        resolv_conf,
    };
    let dns = dns::validate(&wire.dns, &ctx, &map)?;
    let records = record::validate(&wire.records, &map)?;
    let policy = policy::validate(&wire.groups, &wire.lists, &map)?;
    let forwards = forward::validate(&wire.forwards, &policy, &map)?;
    node::check_list_paths(&node, &wire.lists, config_dir.is_some() || wire.node.list_dirs.is_some(), &map)?;
    let ui_password_hash = match &wire.ui.password_hash {
        None => None,
        // Only the shape is checked here; the UI parses it at each login.
        Some(h) if h.get_ref().starts_with("$argon2id$") && h.get_ref().len() < 512 => Some(h.get_ref().clone()),
        Some(h) => {
            return Err(map.err(
                Some(h.span()),
                "ui.password_hash must be an argon2id hash ($argon2id$...): set it with `dnsctl password set`",
            ));
        }
    };
    Ok(Config { origin: origin.to_string(), node, cluster, dns, records, policy, forwards, subnets, ui_password_hash })
}

/// The directory of the config file `origin` names, when it names one (the daemon and
/// dnsctl parse files with their path as origin; tests and imports use other labels).
fn config_dir(origin: &str) -> Option<std::path::PathBuf> {
    let file = Path::new(origin);
    if !file.is_file() {
        return None;
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(dir.to_path_buf())
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
