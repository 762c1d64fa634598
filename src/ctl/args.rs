//! dnsctl's command line: the global options and the commands (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "dnsctl", version, about = "Administer ravens nodes through their HTTP API")]
pub struct Args {
    /// The node's own config file (gives admin_listen and the token in its data_dir).
    #[arg(long, global = true, value_name = "FILE", env = "RAVENS_CONFIG")]
    pub config: Option<PathBuf>,
    /// The node to talk to: its admin API address (host:port, then give --token-file or
    /// RAVENS_TOKEN), or its name in the cluster of the configured node (same token).
    #[arg(long, global = true, value_name = "NAME|ADDR", env = "RAVENS_NODE")]
    pub node: Option<String>,
    /// Run against every node of the cluster and merge the answers: status side by side,
    /// stats summed, logs interleaved by time, leases and lists of all nodes.
    #[arg(long, global = true)]
    pub all: bool,
    /// File holding the admin token (with --node; or set RAVENS_TOKEN).
    #[arg(long, global = true, value_name = "FILE", env = "RAVENS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for each node's answer (e.g. 10s, 2m). A change whose answer does not
    /// come in time may still have been applied: dnsctl says so and how to check.
    #[arg(long, global = true, value_name = "DURATION", env = "RAVENS_TIMEOUT", default_value = "60s", value_parser = timeout_arg)]
    pub timeout: std::time::Duration,
    #[command(subcommand)]
    pub command: Command,
}

/// `--timeout`: a duration above zero.
pub fn timeout_arg(s: &str) -> Result<std::time::Duration, String> {
    match ravens_config::units::parse_duration(s)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        d => Ok(d),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Node, version, uptime, listeners, config state, upstream health, cache and query counters.
    Status,
    /// Active DHCP leases: address, MAC, client-id, hostname, expiry, granting node.
    Leases {
        /// Only this subnet.
        #[arg(long)]
        subnet: Option<String>,
    },
    /// Recent queries from the in-memory query log, with verdict and blocking list.
    Log {
        /// Keep printing new queries (every second) until interrupted.
        #[arg(long)]
        follow: bool,
        #[arg(long)]
        client: Option<std::net::IpAddr>,
        /// Only blocked queries.
        #[arg(long)]
        blocked: bool,
        /// Only names containing TEXT.
        #[arg(long, value_name = "TEXT")]
        name: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queries, blocked share, top domains, top blocked and top clients over a window.
    Stats {
        /// The window: 1h, 24h, or any duration from 1m to 24h.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Entries per top list (0 to 100; 0 = the counts alone).
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Block and allow lists: entries, rejected lines, last refresh and errors.
    Lists {
        #[command(subcommand)]
        action: Option<ListsAction>,
    },
    /// Is NAME blocked for a client, and by which list and line?
    Query {
        name: String,
        /// The client whose group decides (default 127.0.0.1).
        #[arg(long)]
        client: Option<std::net::IpAddr>,
    },
    /// Pause blocking for a while (all groups, or one); it resumes by itself.
    Pause {
        #[arg(long)]
        group: Option<String>,
        /// How long: 30s, 10m, 1h (default 5m).
        #[arg(long = "for", default_value = "5m")]
        duration: String,
    },
    /// End a pause now.
    Resume {
        #[arg(long)]
        group: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff) to standard output.
    Man,
    /// Act on one lease.
    Lease {
        #[command(subcommand)]
        action: LeaseAction,
    },
    /// Import another product's settings into the site config (and its active leases).
    Import {
        #[command(subcommand)]
        source: super::import::ImportSource,
    },
    #[command(flatten)]
    Site(super::edits::SiteCommand),
}

#[derive(Debug, Subcommand)]
pub enum ListsAction {
    /// Re-download URL lists (when changed) and recompile now.
    Refresh,
    /// Add a list source (a URL or a file on the nodes), replicated to every node.
    Add {
        name: String,
        /// `http(s)://...` to download, or a path on each node's disk.
        source: String,
        /// Allow list instead of block list.
        #[arg(long)]
        allow: bool,
        /// Groups it applies to (default: default).
        #[arg(long, value_delimiter = ',')]
        groups: Option<Vec<String>>,
        /// Refresh interval (default 24h).
        #[arg(long)]
        refresh: Option<String>,
    },
    /// Remove a list source.
    Remove { name: String },
    /// Turn a list back on.
    Enable { name: String },
    /// Turn a list off: kept in the config, not loaded.
    Disable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum LeaseAction {
    /// Free the lease of ADDR now (the client is not told; it will renew or rebind).
    Release { addr: std::net::Ipv4Addr },
}
