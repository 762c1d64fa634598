//! `dnsctl dns show|set|reset`: the `[dns]` options of the site config, edited through the
//! node's `/api/v1/dns` (validated there; a refused value changes nothing).

use anyhow::Context as _;
use clap::Subcommand;

use super::edits::changed;
use super::{Target, get};
use crate::api::edits::DnsSettings;

#[derive(Debug, Subcommand)]
pub enum DnsAction {
    /// The options set in the site config (the others run their defaults).
    Show,
    /// Set options: `dnsctl dns set cache_size=64MiB prefetch=false upstreams='["udp://10.0.0.1"]'`.
    /// VALUE is read as a TOML value when it is one (a number, true/false, an array), else
    /// as a string. The whole config is validated: a refused value changes nothing.
    Set {
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// Put options back to their defaults (removes them from [dns]).
    Reset {
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// Shows, sets or resets `[dns]` options through `/api/v1/dns`.
pub(super) async fn run(t: &Target, action: DnsAction, json: bool) -> anyhow::Result<()> {
    let patch: DnsSettings = match action {
        DnsAction::Show => {
            let cur: DnsSettings = get(t, "/api/v1/dns").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&cur)?);
            }
            for (k, v) in cur.iter().filter(|_| !json) {
                println!("{k} = {v}");
            }
            return Ok(());
        }
        DnsAction::Set { pairs } => pairs
            .iter()
            .map(|p| {
                let (k, v) = p.split_once('=').with_context(|| format!("'{p}' is not KEY=VALUE"))?;
                Ok((k.trim().to_string(), dns_value(v.trim())))
            })
            .collect::<anyhow::Result<_>>()?,
        DnsAction::Reset { keys } => keys.into_iter().map(|k| (k, serde_json::Value::Null)).collect(),
    };
    changed(
        super::call(t, reqwest::Method::PATCH, "/api/v1/dns", Some((serde_json::to_vec(&patch)?, "application/json")))
            .await?,
        json,
    )
}

/// A `dns set` value: TOML when it parses as a value (`500`, `false`, `["a", "b"]`), else
/// the text itself (`64MiB`, `udp://10.0.0.1`).
fn dns_value(v: &str) -> serde_json::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or_else(|| serde_json::Value::String(v.to_string()))
}
