//! `POST /api/v1/import/pihole` (issue 12): a Pi-hole's Teleporter archive (v5 `.tar.gz`, v6
//! `.zip`, or a directory dnsctl packed as a `.tar.gz`) as the body. Its site items go
//! through [`crate::config_file::edit_or_check`] like every other change (validated whole,
//! written with comments kept, reloaded, replicated; `?dry_run=true` stops before the write);
//! its active leases then become this node's own ([`ravens_dhcp::DhcpHandle::adopt`]):
//! journaled, replicated and named like a grant.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use ravens_config::Config;
use ravens_config::text::{parse_mac, unhex};
use ravens_dhcp::adopt::{Adopted, Foreign};
use ravens_import::{Import, Source};

use super::common::{EditError, Json, invalid};
use crate::admin::reply::{Fail, Shared, fail};
use crate::api::{ImportCounts, ImportReport, ImportSkipped};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/import/pihole", post(pihole).layer(super::config::body_limit()))
}

#[derive(Debug, Default, serde::Deserialize)]
struct ImportArgs {
    #[serde(default)]
    dry_run: bool,
}

async fn pihole(State(d): State<Shared>, Query(a): Query<ImportArgs>, body: Bytes) -> Result<Json<ImportReport>, Fail> {
    let d2 = d.clone();
    let (imp, changed, cfg) = tokio::task::spawn_blocking(move || site_items(&d2, &body, a.dry_run))
        .await
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, format!("import task failed: {e}")))??;
    let mut report = to_api(&imp, a.dry_run);
    report.changed = changed;
    let leases: Vec<(Foreign, &ravens_import::Lease)> =
        imp.leases.iter().filter_map(|l| foreign(l).map(|f| (f, l))).collect();
    let outcomes = match (&d.dhcp, a.dry_run) {
        (_, true) => {
            let cfg = cfg.unwrap_or_else(|| (*d.dns.resolver().state().config).clone());
            leases.iter().map(|(f, _)| predict(&d, &cfg, f)).collect()
        }
        (Some(h), false) => h.adopt(&leases.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>()).await,
        (None, false) => {
            let why = if d.dns.resolver().state().config.subnets.is_empty() {
                "no configured subnet: this node serves no DHCP".to_string()
            } else {
                "this node starts its DHCP service now (ravensd restarts itself): run the same import \
                 again in a few seconds to bring in the leases"
                    .to_string()
            };
            leases.iter().map(|_| Adopted::Skipped(why.clone())).collect()
        }
    };
    let counts = report.kinds.entry("lease".into()).or_default();
    counts.added = 0;
    for ((f, l), o) in leases.iter().zip(outcomes) {
        match o {
            Adopted::Added => counts.added += 1,
            Adopted::Unchanged => counts.unchanged += 1,
            Adopted::Skipped(reason) => {
                counts.skipped += 1;
                let item = format!("{} {}", f.ip, l.mac);
                report.skipped.push(ImportSkipped { kind: "lease".into(), source: l.source.clone(), item, reason });
            }
        }
    }
    let (added, none) = (counts.added, *counts == ImportCounts::default());
    report.changed |= !a.dry_run && added > 0;
    if none {
        report.kinds.remove("lease");
    }
    Ok(axum::Json(report))
}

/// Reads the archive and merges its site items into the config (or, in a dry run, checks
/// that they would validate). Returns the import, whether the file changed, and in a dry run
/// the config the import would run.
fn site_items(d: &Shared, body: &[u8], dry_run: bool) -> Result<(Import, bool, Option<Config>), Fail> {
    let bad = |e: ravens_import::ImportError| fail(StatusCode::BAD_REQUEST, e.to_string());
    let src = Source::from_bytes(body).map_err(bad)?;
    let now = ravens_config::clock::unix_secs();
    let mut out: Option<Result<Import, ravens_import::ImportError>> = None;
    let edited = crate::config_file::edit_or_check(d, dry_run, |recs| {
        let imp = ravens_import::import(&src, recs, now);
        let msg = match &imp {
            Ok(i) => {
                recs.extend(i.records.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(format!("imported {} site items from a Pi-hole", i.report.total_added()))
            }
            // Told apart below: a broken input is the caller's mistake, not a conflict.
            Err(e) => Err(invalid(e.to_string())),
        };
        out = Some(imp);
        msg
    });
    match (edited, out) {
        (_, Some(Err(e))) => Err(bad(e)),
        (Err(e), _) => Err(super::common::edit_fail(e)),
        (Ok((change, cfg)), Some(Ok(imp))) => Ok((imp, change.changed, cfg)),
        (Ok(_), None) => Err(super::common::edit_fail(EditError::Io("the import did not run".into()))),
    }
}

/// A lease of the import as the DHCP service takes it; `None` when its MAC or client-id does
/// not decode (the import crate checked both, so never in practice).
fn foreign(l: &ravens_import::Lease) -> Option<Foreign> {
    let client_id = match &l.client_id {
        Some(c) => Some(unhex(c)?),
        None => None,
    };
    Some(Foreign { mac: parse_mac(&l.mac)?, ip: l.ip, expires: l.expires, client_id, hostname: l.hostname.clone() })
}

/// A dry run's guess of one lease's fate: outside every subnet of the config the import
/// would run → skipped; bound to the same MAC here already → unchanged; else added.
fn predict(d: &Shared, cfg: &Config, f: &Foreign) -> Adopted {
    if !cfg.subnets.iter().any(|s| s.cidr.contains(&f.ip)) {
        return Adopted::Skipped(format!("no configured subnet holds {}", f.ip));
    }
    let held = d.dhcp.as_ref().and_then(|h| h.leases(None).into_iter().find(|l| l.ip == f.ip));
    match held {
        Some(l) if l.mac == f.mac => Adopted::Unchanged,
        Some(_) => Adopted::Skipped(format!("{} is leased to another client here", f.ip)),
        None => Adopted::Added,
    }
}

fn to_api(imp: &Import, dry_run: bool) -> ImportReport {
    let r = &imp.report;
    ImportReport {
        format: r.format.clone(),
        dry_run,
        changed: false,
        kinds: r
            .kinds
            .iter()
            .map(|(k, c)| (k.clone(), ImportCounts { added: c.added, unchanged: c.unchanged, skipped: c.skipped }))
            .collect(),
        skipped: r
            .skipped
            .iter()
            .map(|s| ImportSkipped {
                kind: s.kind.clone(),
                source: s.source.clone(),
                item: s.item.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        notes: r.notes.clone(),
    }
}
