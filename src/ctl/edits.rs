//! dnsctl's site-config commands: `block`, `allow`, `records`, `reservations`, `forward`,
//! `dns`, `lists add|remove`, `config export|import`. Each change goes to one node's API, which validates
//! it, writes it into that node's file and gossips it to the others.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::dns_options::DnsAction;
use super::{Target, delete, get, patch_json, post_json, put_json, urlencode};
use crate::api::edits::{
    Change, CustomEntry, Enabled, ForwardSpec, PasswordSpec, RecordSpec, ReservationSpec, SiteToml,
};

/// Site-config subcommands, flattened into dnsctl's top level.
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Custom blocked names (inline list `custom-block` unless --list).
    Block {
        #[command(subcommand)]
        action: EntryAction,
    },
    /// Custom allowed names, which beat every block (inline list `custom-allow` unless --list).
    Allow {
        #[command(subcommand)]
        action: EntryAction,
    },
    /// Client groups: their clients (CIDR, IP, MAC) and lists.
    Group {
        #[command(subcommand)]
        action: Option<super::groups::GroupAction>,
    },
    /// Local DNS records.
    Records {
        #[command(subcommand)]
        action: Option<RecordAction>,
    },
    /// Forward zones (conditional forwarding): a domain or a network's reverse zones
    /// resolved by upstreams of their own.
    Forward {
        #[command(subcommand)]
        action: Option<ForwardAction>,
    },
    /// The [dns] options of the site config (upstreams, cache_size, rate_limit, block_response...).
    Dns {
        #[command(subcommand)]
        action: Option<DnsAction>,
    },
    /// DHCP reservations.
    Reservations {
        #[command(subcommand)]
        action: Option<ReservationAction>,
    },
    /// Export or import the site config (everything but [node] and [cluster]).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The web UI's login password (one for the whole cluster).
    Password {
        #[command(subcommand)]
        action: PasswordAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum PasswordAction {
    /// Set it: read from standard input (first line) or asked at the terminal; only an
    /// argon2id hash of it is sent and stored.
    Set,
}

#[derive(Debug, Subcommand)]
pub enum EntryAction {
    /// List the custom entries.
    List,
    /// Add NAME: a domain, `*.domain` or an adblock rule such as `||domain^`.
    Add {
        name: String,
        /// Inline list to add to (created when absent).
        #[arg(long)]
        list: Option<String>,
    },
    /// Remove NAME.
    Remove {
        name: String,
        #[arg(long)]
        list: Option<String>,
    },
    /// Turn NAME back on.
    Enable {
        name: String,
        #[arg(long)]
        list: Option<String>,
    },
    /// Turn NAME off: kept in its list, unused.
    Disable {
        name: String,
        #[arg(long)]
        list: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordAction {
    /// List the local records.
    List,
    /// Add a record: `dnsctl records add nas.lan A 10.0.1.10`.
    Add {
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        value: String,
        /// TTL such as 300s or 1h (default 300s).
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Remove the records of NAME (only TYPE, and only VALUE, when given).
    Remove {
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: Option<String>,
        value: Option<String>,
    },
    /// Change a record in place: `dnsctl records edit nas.lan A 10.0.1.10 10.0.1.11 --ttl 1h`.
    Edit {
        name: String,
        #[arg(value_name = "TYPE")]
        rtype: String,
        /// The value it has now.
        old: String,
        /// The value it gets.
        new: String,
        /// Its TTL from now on (default 300s).
        #[arg(long)]
        ttl: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ForwardAction {
    /// List the forward zones.
    List,
    /// Forward DOMAIN to UPSTREAM...: `dnsctl forward add 192.168.0.0/16 udp://192.168.1.1`.
    Add {
        /// A DNS name, or a network (CIDR) whose reverse zones are meant.
        domain: String,
        /// Upstream URLs (udp://, tcp://, tls://, https://, or a bare IP).
        #[arg(required = true)]
        upstreams: Vec<String>,
        /// Only for these groups (default: every group).
        #[arg(long, value_delimiter = ',')]
        groups: Option<Vec<String>>,
    },
    /// Stop forwarding DOMAIN.
    Remove { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum ReservationAction {
    /// List reservations (of one subnet with --subnet).
    List {
        #[arg(long)]
        subnet: Option<String>,
    },
    /// Reserve IP for MAC (or --client-id) in SUBNET.
    Add {
        subnet: String,
        /// `aa:bb:cc:dd:ee:ff`; or give --client-id.
        #[arg(long, required_unless_present = "client_id")]
        mac: Option<String>,
        /// Client identifier (option 61) in hex.
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        ip: String,
        #[arg(long)]
        hostname: Option<String>,
    },
    /// Remove the reservation of MAC, client-id or IP in SUBNET.
    Remove { subnet: String, id: String },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the site config as TOML (a backup).
    Export,
    /// Replace the site config with FILE's (validated first; node-local sections ignored).
    /// A FILE without any site item is refused (it would empty the site config) unless
    /// --replace-all is given; the refusal lists what would be removed.
    Import {
        file: PathBuf,
        /// Import even a FILE without site items: removes the whole site config.
        #[arg(long)]
        replace_all: bool,
    },
}

/// Runs one site command against `t`; prints a table or, with `json`, the API's JSON.
pub async fn run(t: &Target, cmd: SiteCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        SiteCommand::Block { action } => entries(t, "block", action, json).await,
        SiteCommand::Allow { action } => entries(t, "allow", action, json).await,
        SiteCommand::Group { action } => {
            super::groups::run(t, action.unwrap_or(super::groups::GroupAction::List), json, changed).await
        }
        SiteCommand::Records { action } => records(t, action.unwrap_or(RecordAction::List), json).await,
        SiteCommand::Forward { action } => forwards(t, action.unwrap_or(ForwardAction::List), json).await,
        SiteCommand::Dns { action } => super::dns_options::run(t, action.unwrap_or(DnsAction::Show), json).await,
        SiteCommand::Reservations { action } => {
            reservations(t, action.unwrap_or(ReservationAction::List { subnet: None }), json).await
        }
        SiteCommand::Config { action: ConfigAction::Export } => {
            let s: SiteToml = get(t, "/api/v1/config").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", s.toml);
            }
            Ok(())
        }
        SiteCommand::Config { action: ConfigAction::Import { file, replace_all } } => {
            let toml = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let path = if replace_all { "/api/v1/config?replace_all=true" } else { "/api/v1/config" };
            changed(put_json(t, path, &SiteToml { toml }).await?, json)
        }
        SiteCommand::Password { action: PasswordAction::Set } => {
            let hash = super::password::read_and_hash()?;
            changed(put_json(t, "/api/v1/password", &PasswordSpec { hash }).await?, json)
        }
    }
}

pub(super) fn changed(c: Change, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!("{}", c.message);
    }
    Ok(())
}

async fn entries(t: &Target, kind: &str, action: EntryAction, json: bool) -> anyhow::Result<()> {
    match action {
        EntryAction::List => {
            let rows: Vec<CustomEntry> = get(t, &format!("/api/v1/{kind}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no custom {kind} entries");
            } else {
                println!("{:<20} NAME", "LIST");
                for r in rows {
                    let off = if r.enabled { "" } else { " (disabled)" };
                    println!("{:<20} {}{off}", r.list.unwrap_or_default(), r.name);
                }
            }
            Ok(())
        }
        EntryAction::Add { name, list } => {
            changed(post_json(t, &format!("/api/v1/{kind}"), &CustomEntry { name, list, enabled: true }).await?, json)
        }
        EntryAction::Remove { name, list } => changed(delete(t, &entry_path(kind, &name, list)).await?, json),
        EntryAction::Enable { name, list } => {
            changed(patch_json(t, &entry_path(kind, &name, list), &Enabled { enabled: true }).await?, json)
        }
        EntryAction::Disable { name, list } => {
            changed(patch_json(t, &entry_path(kind, &name, list), &Enabled { enabled: false }).await?, json)
        }
    }
}

/// `/api/v1/{block,allow}?name=NAME[&list=LIST]`.
fn entry_path(kind: &str, name: &str, list: Option<String>) -> String {
    let mut path = format!("/api/v1/{kind}?name={}", urlencode(name));
    if let Some(l) = list {
        path.push_str(&format!("&list={}", urlencode(&l)));
    }
    path
}

async fn records(t: &Target, action: RecordAction, json: bool) -> anyhow::Result<()> {
    match action {
        RecordAction::List => {
            let rows: Vec<RecordSpec> = get(t, "/api/v1/records").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no local records");
            } else {
                println!("{:<32} {:<6} {:<8} VALUE", "NAME", "TYPE", "TTL");
                for r in rows {
                    println!("{:<32} {:<6} {:<8} {}", r.name, r.rtype, r.ttl.as_deref().unwrap_or("300s"), r.value);
                }
            }
            Ok(())
        }
        RecordAction::Add { name, rtype, value, ttl } => {
            changed(post_json(t, "/api/v1/records", &RecordSpec { name, rtype, value, ttl }).await?, json)
        }
        RecordAction::Remove { name, rtype, value } => {
            changed(delete(t, &record_path(&name, rtype, value)).await?, json)
        }
        RecordAction::Edit { name, rtype, old, new, ttl } => {
            let path = record_path(&name, Some(rtype.clone()), Some(old));
            changed(put_json(t, &path, &RecordSpec { name, rtype, value: new, ttl }).await?, json)
        }
    }
}

async fn forwards(t: &Target, action: ForwardAction, json: bool) -> anyhow::Result<()> {
    match action {
        ForwardAction::List => {
            let rows: Vec<ForwardSpec> = get(t, "/api/v1/forwards").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no forward zones");
            } else {
                println!("{:<32} {:<16} UPSTREAMS", "DOMAIN", "GROUPS");
                for r in rows {
                    let groups = r.groups.map_or_else(|| "all".to_string(), |g| g.join(","));
                    println!("{:<32} {groups:<16} {}", r.domain, r.upstreams.join(" "));
                }
            }
            Ok(())
        }
        ForwardAction::Add { domain, upstreams, groups } => {
            changed(post_json(t, "/api/v1/forwards", &ForwardSpec { domain, upstreams, groups }).await?, json)
        }
        ForwardAction::Remove { domain } => {
            changed(delete(t, &format!("/api/v1/forwards?domain={}", urlencode(&domain))).await?, json)
        }
    }
}

async fn reservations(t: &Target, action: ReservationAction, json: bool) -> anyhow::Result<()> {
    match action {
        ReservationAction::List { subnet } => {
            let path = match subnet {
                Some(s) => format!("/api/v1/reservations?subnet={}", urlencode(&s)),
                None => "/api/v1/reservations".to_string(),
            };
            let rows: Vec<ReservationSpec> = get(t, &path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no reservations");
            } else {
                println!("{:<12} {:<16} {:<20} HOSTNAME", "SUBNET", "IP", "MAC / CLIENT-ID");
                for r in rows {
                    let id = r.mac.or(r.client_id).unwrap_or_default();
                    println!("{:<12} {:<16} {:<20} {}", r.subnet, r.ip, id, r.hostname.unwrap_or_default());
                }
            }
            Ok(())
        }
        ReservationAction::Add { subnet, mac, client_id, ip, hostname } => changed(
            post_json(t, "/api/v1/reservations", &ReservationSpec { subnet, mac, client_id, ip, hostname }).await?,
            json,
        ),
        ReservationAction::Remove { subnet, id } => {
            let path = format!("/api/v1/reservations?subnet={}&id={}", urlencode(&subnet), urlencode(&id));
            changed(delete(t, &path).await?, json)
        }
    }
}

/// `/api/v1/records?name=NAME[&type=TYPE[&value=VALUE]]`.
fn record_path(name: &str, rtype: Option<String>, value: Option<String>) -> String {
    let mut path = format!("/api/v1/records?name={}", urlencode(name));
    if let Some(ty) = rtype {
        path.push_str(&format!("&type={}", urlencode(&ty)));
    }
    if let Some(v) = value {
        path.push_str(&format!("&value={}", urlencode(&v)));
    }
    path
}
