//! Text logs for journald: when stderr is the journal (`JOURNAL_STREAM`, as systemd.exec(5)
//! says to check it), lines carry no timestamp of their own (journald adds one) and start
//! with the syslog priority `<N>` that journald turns into the entry's PRIORITY.

use std::os::fd::AsFd as _;
use std::os::unix::fs::MetadataExt as _;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, format};
use tracing_subscriber::registry::LookupSpan;

/// Whether stderr is the stream systemd connected to journald (its device and inode match
/// `JOURNAL_STREAM`; a child that inherited the variable but not the stream does not match).
pub fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else { return false };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    let Ok(meta) = std::fs::File::from(fd).metadata() else { return false };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// The default text format without its timestamp, behind a syslog priority prefix.
#[derive(Debug)]
pub struct Format(format::Format<format::Full, ()>);

impl Default for Format {
    fn default() -> Self {
        Format(format().without_time().with_ansi(false))
    }
}

/// sd-daemon(3) priorities: err, warning, info, debug.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

impl<S, N> FormatEvent<S, N> for Format
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}
