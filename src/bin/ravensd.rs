//! ravensd: the ravens DNS/DHCP daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "ravensd",
    version,
    about = "ravens DNS/DHCP daemon (runs an embedded default config when given no file)"
)]
struct Args {
    /// Config file (TOML). Without it, the embedded default runs: DNS on 127.0.0.1:5353.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate FILE and exit 0 (valid) or 1 (invalid) without binding anything.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    check_config: Option<PathBuf>,
    /// Print the embedded default config and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Write a fresh random cluster secret to FILE (mode 0600; never overwrites) and exit.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "check_config"])]
    gen_secret: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Print the manual page (roff, section 8) and exit (for packaging).
    #[arg(long, hide = true)]
    man: bool,
    /// Print a shell completion script and exit (for packaging).
    #[arg(long, hide = true, value_name = "SHELL")]
    completions: Option<clap_complete::Shell>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ravensd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut cmd = <Args as clap::CommandFactory>::command();
    if args.man {
        clap_mangen::Man::new(cmd).section("8").render(&mut std::io::stdout())?;
        return Ok(());
    }
    if let Some(shell) = args.completions {
        clap_complete::generate(shell, &mut cmd, "ravensd", &mut std::io::stdout());
        return Ok(());
    }
    if args.print_default_config {
        // `ravensd --print-default-config | head` closes the pipe early: not an error (and
        // print! would panic on it).
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(ravens_config::DEFAULT_TOML.as_bytes());
        return Ok(());
    }
    if let Some(path) = args.gen_secret {
        ravens_sync::generate_secret(&path)?;
        println!("{}: new cluster secret written (mode 0600); copy it to every node of the cluster", path.display());
        return Ok(());
    }
    if let Some(path) = args.check_config {
        let cfg = ravens_config::load_file(&path)?;
        println!(
            "{}: OK (node {}, {} upstream(s), {} record(s), {} subnet(s))",
            path.display(),
            cfg.node.name,
            cfg.dns.upstreams.len(),
            cfg.records.len(),
            cfg.subnets.len()
        );
        return Ok(());
    }
    // node.user: switch user while this process has a single thread (see privdrop).
    ravens::privdrop::from_config(args.config.as_deref())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("ravensd").build()?;
    let outcome = rt.block_on(ravens::daemon::run(ravens::daemon::Options { config: args.config }));
    // Dropping the runtime would wait for every blocking task: a config edit of a large file
    // (or one stuck on a hung disk) must not hold up the exit. Its temp file is removed at
    // the next start; the config file itself is replaced in one rename or not at all.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    outcome
}

fn init_logging(format: LogFormat) {
    // hickory's validator warns about every bogus answer with the whole message dumped;
    // ravens logs one line per bogus answer itself ("DNSSEC bogus", with the reason).
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAVENS_LOG")
        .unwrap_or_else(|_| "info,hickory_net::dnssec=error".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    match format {
        // Under systemd, journald stamps each line itself and reads its priority from a
        // `<N>` prefix: no second timestamp, and `journalctl -p err` works.
        LogFormat::Text if ravens::systemd::journal::stderr_is_journal() => {
            builder.with_ansi(false).event_format(ravens::systemd::journal::Format::default()).init()
        }
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
