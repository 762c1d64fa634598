//! `dnsctl import pihole PATH`: a Pi-hole Teleporter archive is sent as it is; a Pi-hole
//! directory (`/etc/pihole`) is packed here into a `.tar.gz` of the files the import reads,
//! under the names a Pi-hole host has them, so the node is the only one that interprets any
//! of it (and refuses what is broken or hostile).

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::{Target, post_bytes};
use crate::api::ImportReport;

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A Pi-hole: v5 Teleporter `.tar.gz`, v6 Teleporter `.zip`, or its `/etc/pihole`
    /// directory (with `dnsmasq.d` and `hosts` read from beside it). Groups, lists, allow and
    /// deny entries, local records, CNAMEs, DNS settings, the DHCP range, static and active
    /// leases; each item already there is left alone, each one not imported is listed with why.
    Pihole {
        path: std::path::PathBuf,
        /// Say what would be imported; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Files of `/etc/pihole` the import reads (the rest, such as pihole-FTL.db, is not sent).
const PIHOLE_FILES: &[&str] =
    &["gravity.db", "pihole.toml", "setupVars.conf", "pihole-FTL.conf", "custom.list", "dhcp.leases"];

/// The most a directory may pack to, as the node's body limit (128 MiB) allows.
const MAX_PACKED: u64 = 128 << 20;

pub async fn run(t: &Target, source: ImportSource, json: bool) -> anyhow::Result<()> {
    let ImportSource::Pihole { path, dry_run } = source;
    let body = if path.is_dir() {
        pack_dir(&path)?
    } else {
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
    };
    let url = format!("/api/v1/import/pihole{}", if dry_run { "?dry_run=true" } else { "" });
    let report: ImportReport = post_bytes(t, &url, body).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}

/// A Pi-hole directory as a `.tar.gz`: `etc/pihole/<file>`, `etc/hosts` and
/// `etc/dnsmasq.d/<file>` from beside it, as on a Pi-hole host.
pub fn pack_dir(dir: &Path) -> anyhow::Result<Vec<u8>> {
    if !dir.join("gravity.db").is_file() {
        bail!("{} holds no gravity.db: not a Pi-hole directory (/etc/pihole)", dir.display());
    }
    let mut files: Vec<(String, std::path::PathBuf)> =
        PIHOLE_FILES.iter().map(|f| (format!("etc/pihole/{f}"), dir.join(f))).filter(|(_, p)| p.is_file()).collect();
    let parent = dir.parent().unwrap_or(Path::new("/"));
    if parent.join("hosts").is_file() {
        files.push(("etc/hosts".into(), parent.join("hosts")));
    }
    if let Ok(entries) = std::fs::read_dir(parent.join("dnsmasq.d")) {
        let mut more: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
        more.sort();
        for p in more {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            files.push((format!("etc/dnsmasq.d/{name}"), p));
        }
    }
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut left = MAX_PACKED;
    for (name, path) in files {
        let mut data = Vec::new();
        let f = std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        f.take(left + 1).read_to_end(&mut data).with_context(|| format!("reading {}", path.display()))?;
        left = left.checked_sub(data.len() as u64).with_context(|| {
            format!("{} holds more than {} MiB: too large to send", dir.display(), MAX_PACKED >> 20)
        })?;
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, &name, data.as_slice()).with_context(|| format!("packing {name}"))?;
    }
    Ok(tar.into_inner()?.finish()?)
}
