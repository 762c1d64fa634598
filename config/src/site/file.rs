//! A config file as an edit starts from it: its text, its site records and where its items
//! sit ([`Layout`]). Kept by the daemon for the file it last loaded, so an edit neither
//! parses the whole file again nor rewrites more than the items it changes.

use toml::Table;

use super::layout::Layout;
use super::splice::splice;
use super::{SiteError, SiteRecords, apply, records_of};

/// A config file's text with its site records.
#[derive(Debug, Clone)]
pub struct SiteFile {
    text: String,
    records: SiteRecords,
    /// `None` for a shape the splicer does not handle: edits rewrite the whole document.
    layout: Option<Layout>,
}

impl SiteFile {
    /// Cuts `text` into site records and finds its items.
    pub fn parse(text: String) -> Result<SiteFile, SiteError> {
        let table: Table = toml::from_str(&text).map_err(|e| SiteError::Toml(e.message().to_string()))?;
        let records = records_of(&table)?;
        let layout = Layout::scan(&text, &table);
        Ok(SiteFile { text, records, layout })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The site records the text holds.
    pub fn records(&self) -> &SiteRecords {
        &self.records
    }

    /// This file with its site config replaced by `desired`: the items that changed are
    /// rewritten in place (comments and formatting kept), the rest is copied.
    pub fn edit(&self, desired: SiteRecords) -> Result<SiteFile, SiteError> {
        if desired == self.records {
            return Ok(self.clone());
        }
        if let Some(layout) = &self.layout
            && let Some((text, layout)) = splice(&self.text, layout, &self.records, &desired)
        {
            return Ok(SiteFile { text, records: desired, layout: Some(layout) });
        }
        SiteFile::parse(apply(&self.text, &desired)?)
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
