//! `node.user`: least privilege without systemd. Started as root, ravensd switches to that
//! user before anything else runs and keeps one capability, CAP_NET_BIND_SERVICE, the same
//! state the systemd unit gives it (`User=ravens`, `AmbientCapabilities=`).
//!
//! Why before the sockets are bound rather than after: the tokio runtime and the listener
//! threads exist before the first socket is bound, and capabilities are per thread (capset
//! changes only the calling one; glibc broadcasts setuid to every thread, not capsets). Done
//! while the process has one thread, every thread inherits the same state. Binding the low
//! ports needs exactly CAP_NET_BIND_SERVICE, which is kept: as an *ambient* capability, so the
//! re-exec that starts DHCP when a node gains its first subnet (`daemon::reexec`) can bind
//! ports 53 and 67 again. DHCP on interfaces needs nothing more: it is a UDP socket with
//! IP_PKTINFO (no raw socket, no SO_BINDTODEVICE), so no CAP_NET_RAW.

use std::path::Path;

use anyhow::{Context, bail};
use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{AccessFlags, Gid, Uid, User, access, geteuid, setgroups, setresgid, setresuid};

/// The one capability kept.
const KEEP: Capability = Capability::CAP_NET_BIND_SERVICE;

/// Applies `node.user` of the config at `path`, if any. Must run before any thread starts.
/// A config that does not load is left for the daemon to report (with its error).
pub fn from_config(path: Option<&Path>) -> anyhow::Result<()> {
    let Some(cfg) = path.and_then(|p| ravens_config::load_file(p).ok()) else { return Ok(()) };
    let Some(name) = cfg.node.user.as_deref() else { return Ok(()) };
    let user = User::from_name(name)
        .with_context(|| format!("node.user: looking up {name:?}"))?
        .with_context(|| format!("node.user: there is no user {name:?} (create it, e.g. adduser --system {name})"))?;
    let euid = geteuid();
    if euid == user.uid {
        // Started as that user already (systemd's User=, or this process re-executed itself).
        return Ok(());
    }
    if !euid.is_root() {
        bail!("node.user = {name:?}: ravensd runs as uid {euid}, neither root nor {name}");
    }
    make_data_dir(&cfg.node.data_dir, user.uid, user.gid)?;
    switch(&user).with_context(|| format!("node.user: switching to {name}"))?;
    check_writable(&cfg.node.data_dir, path.unwrap_or(Path::new("")), name)?;
    tracing::info!(user = name, uid = user.uid.as_raw(), "running as {name} with CAP_NET_BIND_SERVICE only");
    Ok(())
}

/// Creates a missing data_dir for the user (as root, before the switch).
fn make_data_dir(dir: &Path, uid: Uid, gid: Gid) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).with_context(|| format!("creating data_dir {}", dir.display()))?;
    std::os::unix::fs::chown(dir, Some(uid.as_raw()), Some(gid.as_raw()))
        .with_context(|| format!("chown of data_dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))?;
    Ok(())
}

fn switch(user: &User) -> anyhow::Result<()> {
    // Nothing exec'd later may gain more than KEEP (a set-uid binary, file capabilities).
    // Dropping from the bounding set needs CAP_SETPCAP, which a root inside some containers
    // lacks: no_new_privs below covers the same ground there.
    for cap in caps::read(None, CapSet::Bounding)? {
        if cap != KEEP
            && let Err(e) = caps::drop(None, CapSet::Bounding, cap)
        {
            tracing::debug!("bounding set: keeping {cap}: {e}");
        }
    }
    setgroups(&[user.gid]).context("setgroups")?;
    setresgid(user.gid, user.gid, user.gid).context("setresgid")?;
    // Keep the permitted set across the uid change, then cut it down to KEEP.
    caps::securebits::set_keepcaps(true)?;
    setresuid(user.uid, user.uid, user.uid).context("setresuid")?;
    caps::securebits::set_keepcaps(false)?;
    let only: CapsHashSet = [KEEP].into_iter().collect();
    caps::set(None, CapSet::Permitted, &only)?;
    caps::set(None, CapSet::Effective, &only)?;
    caps::set(None, CapSet::Inheritable, &only)?;
    caps::raise(None, CapSet::Ambient, KEEP)?;
    nix::sys::prctl::set_no_new_privs().context("PR_SET_NO_NEW_PRIVS")?;
    if setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
        bail!("root could be regained after the switch");
    }
    Ok(())
}

/// After the switch: the data_dir must be writable (token, leases, statistics); the config
/// file and its directory should be (dnsctl edits and the cluster's write-back replace it).
fn check_writable(data_dir: &Path, config: &Path, name: &str) -> anyhow::Result<()> {
    let rw = AccessFlags::R_OK | AccessFlags::W_OK | AccessFlags::X_OK;
    if access(data_dir, rw).is_err() {
        bail!("node.user = {name:?} cannot write data_dir {0} (chown -R {name}: {0})", data_dir.display());
    }
    let dir = config.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if access(config, AccessFlags::W_OK).is_err() || access(dir, AccessFlags::W_OK).is_err() {
        tracing::warn!(
            "node.user = {name:?} cannot write {} or its directory: dnsctl changes and the cluster's \
             write-back will fail (chown {name}: both)",
            config.display()
        );
    }
    Ok(())
}
