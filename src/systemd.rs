//! The systemd service protocol (`Type=notify`): `READY=1` once the config is loaded and every
//! listener is bound, `RELOADING=1`/`READY=1` around a SIGHUP reload, `STOPPING=1` at
//! shutdown, and `WATCHDOG=1` pings while the serving loops make progress ([`watchdog`]).
//! Everything here is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd).
//! Messages go through the `sd-notify` crate (one datagram to `$NOTIFY_SOCKET`, abstract
//! names included): no libsystemd.

pub mod journal;
pub mod watchdog;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Tells systemd the daemon is serving, and starts the watchdog when `WatchdogSec=` asks for
/// one. `loops` are the DNS listener threads and the DHCP receive loop.
pub fn ready(status: &str, loops: Vec<watchdog::Loop>, cancel: &CancellationToken) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
    if let Some(timeout) = sd_notify::watchdog_enabled() {
        tracing::info!(timeout_ms = timeout.as_millis() as u64, loops = loops.len(), "systemd watchdog enabled");
        tokio::spawn(watchdog::run(timeout, loops, cancel.clone()));
    }
}

/// Runs `reload` between `RELOADING=1` and `READY=1`, so `systemctl reload` and
/// `systemctl status` see the reload as it happens.
pub fn reloading(reload: impl FnOnce()) {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
    reload();
    send(&[NotifyState::Ready]);
}

/// Tells systemd the daemon is shutting down (so a slow drain is not taken for a hang).
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn send(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        // Only when NOTIFY_SOCKET is set and unreachable: systemd then times the start out
        // on its own, so a warning is all this can add.
        tracing::warn!("sd_notify to $NOTIFY_SOCKET failed: {e}");
    }
}
