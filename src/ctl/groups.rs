//! `dnsctl group list|add|edit|remove`: client groups through `/api/v1/groups`, validated,
//! written into one node's file and replicated like every site edit.

use clap::Subcommand;

use super::{Target, delete, get, post_json, put_json, urlencode};
use crate::api::edits::{Change, GroupEdit, GroupSpec};

#[derive(Debug, Subcommand)]
pub enum GroupAction {
    /// The groups in matching order (the first that matches a client wins).
    List,
    /// Add group NAME, matched after the groups already there.
    Add {
        name: String,
        #[command(flatten)]
        settings: GroupArgs,
    },
    /// Set NAME's clients and lists (as given; blocking, block answer and upstreams only
    /// when given).
    Edit {
        name: String,
        #[command(flatten)]
        settings: GroupArgs,
    },
    /// Remove group NAME (refused while a list names it in its groups).
    Remove { name: String },
}

#[derive(Debug, clap::Args)]
pub struct GroupArgs {
    /// A client: CIDR, IP or MAC address (repeat for more).
    #[arg(long = "client", value_name = "CLIENT")]
    clients: Vec<String>,
    /// The lists that apply, comma separated (`--lists ""` = none). Absent = the lists
    /// whose `groups` name this group.
    #[arg(long, value_name = "L1,L2")]
    lists: Option<String>,
    /// Whether names are blocked for this group at all.
    #[arg(long)]
    blocking: Option<bool>,
    /// Blocked-name answer: null, nxdomain, refused or an IP (`""` = dns.block_response).
    #[arg(long)]
    block_response: Option<String>,
    /// An upstream URL for this group's queries instead of dns.upstreams (repeat for more).
    #[arg(long = "upstream", value_name = "URL", conflicts_with = "upstreams")]
    upstream: Vec<String>,
    /// The group's upstreams, comma separated (`--upstreams ""` = none: dns.upstreams).
    /// Absent (and no --upstream) = kept as they are.
    #[arg(long, value_name = "U1,U2")]
    upstreams: Option<String>,
}

/// `a,b` as a list; `""` is the empty list.
fn split(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

impl GroupArgs {
    fn edit(self) -> GroupEdit {
        GroupEdit {
            clients: self.clients,
            lists: self.lists.as_deref().map(split),
            blocking: self.blocking,
            block_response: self.block_response,
            upstreams: if self.upstream.is_empty() {
                self.upstreams.as_deref().map(split)
            } else {
                Some(self.upstream)
            },
            lists_from: None,
        }
    }
}

/// Runs one `dnsctl group` command; the answer goes through `changed` (message or JSON).
pub async fn run(
    t: &Target,
    action: GroupAction,
    json: bool,
    changed: fn(Change, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let c: Change = match action {
        GroupAction::List => return print_groups(t, json).await,
        GroupAction::Add { name, settings } => {
            post_json(t, "/api/v1/groups", &GroupSpec { name, settings: settings.edit() }).await?
        }
        GroupAction::Edit { name, settings } => {
            put_json(t, &format!("/api/v1/groups/{}", urlencode(&name)), &settings.edit()).await?
        }
        GroupAction::Remove { name } => delete(t, &format!("/api/v1/groups/{}", urlencode(&name))).await?,
    };
    changed(c, json)
}

/// `dnsctl group list`.
async fn print_groups(t: &Target, json: bool) -> anyhow::Result<()> {
    let rows: Vec<GroupSpec> = get(t, "/api/v1/groups").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no groups (every client is in default)");
    }
    for g in rows {
        let e = g.settings;
        let lists = e.lists.map_or("(lists that name it)".to_string(), |l| format!("[{}]", l.join(", ")));
        let mut line = format!("{:<16} clients [{}] lists {lists}", g.name, e.clients.join(", "));
        if e.blocking == Some(false) {
            line.push_str(" blocking off");
        }
        if let Some(r) = e.block_response {
            line.push_str(&format!(" block answer {r}"));
        }
        if let Some(u) = e.upstreams {
            line.push_str(&format!(" upstreams [{}]", u.join(", ")));
        }
        println!("{line}");
    }
    Ok(())
}
