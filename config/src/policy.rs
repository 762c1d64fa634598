//! Client groups and block/allow lists (`[[group]]`, `[[list]]`): schema and validation.

use serde::Deserialize;

use crate::error::{ConfigError, SourceMap};
use crate::wire::S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupWire {
    /// Group name, unique. Required.
    pub name: S<String>,
    /// Clients: CIDRs, single IPs or MAC addresses. Default: `[]`.
    #[serde(default)]
    pub clients: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListWire {
    /// List name, unique. Required.
    pub name: S<String>,
}

/// Validated groups and lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub group_names: Vec<String>,
    pub list_names: Vec<String>,
}

/// Validates `[[group]]` and `[[list]]`.
pub fn validate(groups: &[GroupWire], lists: &[ListWire], map: &SourceMap<'_>) -> Result<Policy, ConfigError> {
    let mut policy = Policy::default();
    for g in groups {
        if policy.group_names.contains(g.name.get_ref()) {
            return Err(map.err(Some(g.name.span()), format!("group.name: duplicate group '{}'", g.name.get_ref())));
        }
        policy.group_names.push(g.name.get_ref().clone());
    }
    for l in lists {
        if policy.list_names.contains(l.name.get_ref()) {
            return Err(map.err(Some(l.name.span()), format!("list.name: duplicate list '{}'", l.name.get_ref())));
        }
        policy.list_names.push(l.name.get_ref().clone());
    }
    Ok(policy)
}
