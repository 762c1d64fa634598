//! Types of the site-config endpoints (docs/ARCHITECTURE.md §6): custom block/allow entries, local
//! records, reservations, list sources, config export/import.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/block` and `/api/v1/allow`; one row of their `GET`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomEntry {
    /// A domain (`ads.example.com`), wildcard (`*.example.com`) or adblock rule (`||x.com^`).
    pub name: String,
    /// The inline list holding it. Default: `custom-block` / `custom-allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
    /// A disabled entry stays in the config but does not block or allow. Default: `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `PATCH /api/v1/lists/{name}`, `/api/v1/block` and `/api/v1/allow`: turn an item on or off.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// A client group (`POST /api/v1/groups`; rows of `GET`, in matching order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub name: String,
    #[serde(flatten)]
    pub settings: GroupEdit,
}

/// What `PUT /api/v1/groups/{name}` sets: `clients` and `lists` as given; `blocking`,
/// `block_response` and `upstreams` only when given (absent = kept as they are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupEdit {
    /// CIDRs, IPs or MAC addresses; the first group that matches a client wins.
    #[serde(default)]
    pub clients: Vec<String>,
    /// The lists that apply to the group; absent = the lists whose `groups` name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<Vec<String>>,
    /// For a form, which cannot send an empty array: `group` = the group names its lists
    /// (`lists`, absent = none), `lists` = the lists whose `groups` name it (`lists` must be
    /// absent). Absent = `lists` decides. Never in answers.
    #[serde(default, skip_serializing)]
    pub lists_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking: Option<bool>,
    /// `null`, `nxdomain`, `refused` or an IP; `""` = none (`dns.block_response` applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_response: Option<String>,
    /// Upstream URLs for the group's queries (the forms of `dns.upstreams`); `[]` = none
    /// (`dns.upstreams` applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<Vec<String>>,
}

/// A local DNS record (`POST /api/v1/records`; rows of `GET`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    /// `300s` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// A DHCP reservation (`POST /api/v1/reservations`; rows of `GET`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservationSpec {
    pub subnet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// A forward zone (`POST /api/v1/forwards`; rows of `GET`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardSpec {
    /// A DNS name, or a network whose reverse zones are meant (`192.168.0.0/16`).
    pub domain: String,
    /// Upstream URLs, the forms of `dns.upstreams`.
    pub upstreams: Vec<String>,
    /// The groups it applies to; absent = every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// A list source (`POST /api/v1/lists`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `block` (default) or `allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

/// `GET /api/v1/config` (export) and the body of `PUT /api/v1/config` (import): the site
/// config as TOML text (node-local sections are never exported nor imported).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteToml {
    pub toml: String,
}

/// The answer to every change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// False when the request asked for what already was (nothing written).
    pub changed: bool,
    /// What was done, for people.
    pub message: String,
}

/// `PUT /api/v1/password`: the web UI password, as an argon2id PHC string made by dnsctl
/// (the password itself never travels).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordSpec {
    pub hash: String,
}

/// `GET /api/v1/dns`: the `[dns]` table of the site config as written (keys left out run
/// their defaults); `PATCH /api/v1/dns`: keys to set, `null` to drop a key (back to its
/// default). Values are the TOML values as JSON: strings (`"64MiB"`, `"2s"`, `"100/s"`),
/// numbers, booleans, arrays of strings.
pub type DnsSettings = std::collections::BTreeMap<String, serde_json::Value>;
