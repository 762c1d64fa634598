//! dnsctl: the ravens admin CLI (talks to ravensd's HTTP API).

use std::process::ExitCode;

use clap::Parser;
use ravens::api::{Lease, LogEntry, Status};
use ravens::ctl::args::{Args, Command, LeaseAction, ListsAction};
use ravens::ctl::{self, urlencode};

/// `dnsctl status | head` closes the pipe early. Rust ignores SIGPIPE, so the next `println!`
/// panics with a backtrace; stop quietly instead, as other command-line tools do.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p.downcast_ref::<&str>().copied().or_else(|| p.downcast_ref::<String>().map(String::as_str));
        if msg.is_some_and(|m| m.contains("Broken pipe")) {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for usage errors.
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let merges = matches!(
        args.command,
        Command::Status
            | Command::Stats { .. }
            | Command::Log { .. }
            | Command::Leases { .. }
            | Command::Lists { action: None }
    );
    if args.all && !merges {
        eprintln!("dnsctl: --all works with status, stats, log, leases and lists (changes replicate by themselves)");
        return ExitCode::from(2);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dnsctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    // Completions and the man page need no node.
    match &args.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut <Args as clap::CommandFactory>::command(),
                "dnsctl",
                &mut std::io::stdout(),
            );
            return Ok(());
        }
        Command::Man => {
            clap_mangen::Man::new(<Args as clap::CommandFactory>::command()).render(&mut std::io::stdout())?;
            return Ok(());
        }
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let timeout = args.timeout;
    // A --node without a port is a node name, looked up in the cluster of the configured node.
    let target = match args.node.as_deref() {
        Some(name) if !name.contains(':') => {
            let base = ctl::target(None, args.token_file.as_deref(), args.config.as_deref())?;
            rt.block_on(ctl::all::by_name(&ctl::Target { timeout, ..base }, name))?
        }
        node => ctl::Target { timeout, ..ctl::target(node, args.token_file.as_deref(), args.config.as_deref())? },
    };
    if args.all {
        let nodes = rt.block_on(ctl::all::nodes(&target))?;
        return rt.block_on(run_all(&nodes, args.command, args.json));
    }
    match args.command {
        Command::Stats { since, top } => {
            let path = stats_path(&since, top);
            let s: ravens::api::WindowStats = rt.block_on(ctl::get(&target, &path))?;
            show(&s, args.json, ctl::print_stats)?;
        }
        Command::Status => {
            let s: Status = rt.block_on(ctl::get(&target, "/api/v1/status"))?;
            show(&s, args.json, ctl::print_status)?;
        }
        Command::Leases { subnet } => {
            let path = leases_path(subnet.as_deref());
            let leases: Vec<Lease> = rt.block_on(ctl::get(&target, &path))?;
            show(leases.as_slice(), args.json, ctl::print_leases)?;
        }
        Command::Lists { action: Some(ListsAction::Add { name, source, allow, groups, refresh }) } => {
            let (url, path) = if source.contains("://") { (Some(source), None) } else { (None, Some(source)) };
            let kind = Some(if allow { "allow" } else { "block" }.to_string());
            let spec = ravens::api::edits::ListSpec { name, url, path, kind, groups, refresh };
            let c: ravens::api::edits::Change = rt.block_on(ctl::post_json(&target, "/api/v1/lists", &spec))?;
            print_change(&c, args.json)?;
        }
        Command::Lists { action: Some(ListsAction::Remove { name }) } => {
            let path = format!("/api/v1/lists/{}", urlencode(&name));
            let c: ravens::api::edits::Change = rt.block_on(ctl::delete(&target, &path))?;
            print_change(&c, args.json)?;
        }
        Command::Lists { action: Some(ListsAction::Enable { name }) } => {
            print_change(&rt.block_on(list_enabled(&target, &name, true))?, args.json)?;
        }
        Command::Lists { action: Some(ListsAction::Disable { name }) } => {
            print_change(&rt.block_on(list_enabled(&target, &name, false))?, args.json)?;
        }
        Command::Site(cmd) => rt.block_on(ctl::edits::run(&target, cmd, args.json))?,
        Command::Import { source } => rt.block_on(ctl::import::run(&target, source, args.json))?,
        Command::Lists { action } => {
            let lists: Vec<ravens::api::ListStatus> = match action {
                Some(ListsAction::Refresh) => rt.block_on(ctl::post(&target, "/api/v1/lists/refresh"))?,
                _ => rt.block_on(ctl::get(&target, "/api/v1/lists"))?,
            };
            show(lists.as_slice(), args.json, ctl::print_lists)?;
        }
        Command::Log { follow, client, blocked, name, limit } => {
            let mut since = 0u64;
            loop {
                let path = log_path(limit, since, blocked, client, name.as_deref());
                let entries: Vec<LogEntry> = rt.block_on(ctl::get(&target, &path))?;
                if let Some(last) = entries.last() {
                    since = last.time_ms;
                }
                if args.json {
                    for e in &entries {
                        println!("{}", serde_json::to_string(e)?);
                    }
                } else {
                    ctl::print_log(&entries);
                }
                if !follow {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        Command::Query { name, client } => {
            let mut path = format!("/api/v1/query?name={}", urlencode(&name));
            if let Some(c) = client {
                path.push_str(&format!("&client={}", urlencode(&c.to_string())));
            }
            let e: ravens::api::QueryExplanation = rt.block_on(ctl::get(&target, &path))?;
            show(&e, args.json, ctl::print_explanation)?;
        }
        Command::Pause { group, duration } => {
            let secs =
                ravens_config::units::parse_duration(&duration).map_err(|e| anyhow::anyhow!("--for: {e}"))?.as_secs();
            let req = ravens::api::PauseRequest { group: group.clone(), seconds: Some(secs) };
            let v: serde_json::Value = rt.block_on(ctl::post_json(&target, "/api/v1/pause", &req))?;
            if args.json {
                println!("{v}");
            } else {
                println!(
                    "blocking paused for {} ({secs}s); it resumes by itself",
                    group.as_deref().unwrap_or("all groups")
                );
            }
        }
        Command::Resume { group } => {
            let req = ravens::api::PauseRequest { group: group.clone(), seconds: None };
            let v: serde_json::Value = rt.block_on(ctl::post_json(&target, "/api/v1/resume", &req))?;
            if args.json {
                println!("{v}");
            } else {
                println!("blocking resumed for {}", group.as_deref().unwrap_or("all groups"));
            }
        }
        Command::Completions { .. } | Command::Man => {}
        Command::Lease { action: LeaseAction::Release { addr } } => {
            let v: serde_json::Value = rt.block_on(ctl::post(&target, &format!("/api/v1/leases/{addr}/release")))?;
            if args.json {
                println!("{v}");
            } else {
                println!("released {addr}");
            }
        }
    }
    Ok(())
}

/// Prints `v` as pretty JSON or, for people, with `human`.
fn show<T: serde::Serialize + ?Sized>(v: &T, json: bool, human: impl FnOnce(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        human(v);
    }
    Ok(())
}

fn leases_path(subnet: Option<&str>) -> String {
    subnet.map_or_else(|| "/api/v1/leases".to_string(), |s| format!("/api/v1/leases?subnet={}", urlencode(s)))
}

fn stats_path(since: &str, top: usize) -> String {
    format!("/api/v1/stats?since={}&top={top}", urlencode(since))
}

fn log_path(limit: usize, since: u64, blocked: bool, client: Option<std::net::IpAddr>, name: Option<&str>) -> String {
    let mut path = format!("/api/v1/log?limit={limit}&since_ms={since}&blocked={blocked}");
    if let Some(c) = client {
        path.push_str(&format!("&client={}", urlencode(&c.to_string())));
    }
    if let Some(n) = name {
        path.push_str(&format!("&name={}", urlencode(n)));
    }
    path
}

/// `--all`: the command on every node, answers merged. Exits 1 (after printing what came)
/// when a node did not answer.
async fn run_all(nodes: &[ctl::all::Node], command: Command, json: bool) -> anyhow::Result<()> {
    use ctl::all::{get_all, split};
    let mut failed = false;
    match command {
        Command::Status => {
            let all = split(get_all::<Status>(nodes, "/api/v1/status").await, &mut failed)?;
            if json {
                let v: Vec<&Status> = all.iter().map(|(_, s)| s).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                ctl::all::print_status_side_by_side(&all);
            }
        }
        Command::Stats { since, top } => {
            let path = stats_path(&since, top);
            let all = split(get_all::<ravens::api::WindowStats>(nodes, &path).await, &mut failed)?;
            let mut merged = ravens::api::WindowStats::default();
            for (_, s) in &all {
                merged.merge(s, top);
            }
            show(&merged, json, ctl::print_stats)?;
        }
        Command::Leases { subnet } => {
            let path = leases_path(subnet.as_deref());
            let leases = ctl::all::merge_leases(split(get_all::<Vec<Lease>>(nodes, &path).await, &mut failed)?);
            show(leases.as_slice(), json, ctl::print_leases)?;
        }
        Command::Lists { .. } => {
            let all = split(get_all::<Vec<ravens::api::ListStatus>>(nodes, "/api/v1/lists").await, &mut failed)?;
            if json {
                let v: Vec<serde_json::Value> =
                    all.iter().map(|(n, l)| serde_json::json!({ "node": n, "lists": l })).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (n, l) in &all {
                    println!("== {n}");
                    ctl::print_lists(l);
                }
            }
        }
        Command::Log { follow, client, blocked, name, limit } => {
            let mut since: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            loop {
                let mut answers = Vec::new();
                for n in nodes {
                    let path =
                        log_path(limit, since.get(&n.name).copied().unwrap_or(0), blocked, client, name.as_deref());
                    answers.push((n.name.clone(), ctl::get::<Vec<LogEntry>>(&n.target, &path).await));
                }
                let mut merged: Vec<(String, LogEntry)> = Vec::new();
                for (node, entries) in split(answers, &mut failed)? {
                    if let Some(last) = entries.last() {
                        since.insert(node.clone(), last.time_ms);
                    }
                    merged.extend(entries.into_iter().map(|e| (node.clone(), e)));
                }
                // Interleaved by time; the newest `limit` of all nodes.
                merged.sort_by_key(|(_, e)| e.time_ms);
                let merged = &merged[merged.len().saturating_sub(limit)..];
                for (node, e) in merged {
                    if json {
                        let mut v = serde_json::to_value(e)?;
                        v["node"] = serde_json::Value::from(node.as_str());
                        println!("{v}");
                    } else {
                        ctl::print_log_line(e, Some(node));
                    }
                }
                if !follow {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
        _ => unreachable!("checked in main: --all only with commands that merge"),
    }
    if failed {
        anyhow::bail!("some nodes did not answer (see above); what is shown is partial");
    }
    Ok(())
}

/// `dnsctl lists enable|disable NAME`.
async fn list_enabled(t: &ctl::Target, name: &str, enabled: bool) -> anyhow::Result<ravens::api::edits::Change> {
    let path = format!("/api/v1/lists/{}", urlencode(name));
    ctl::patch_json(t, &path, &ravens::api::edits::Enabled { enabled }).await
}

fn print_change(c: &ravens::api::edits::Change, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(c)?);
    } else {
        println!("{}", c.message);
    }
    Ok(())
}
