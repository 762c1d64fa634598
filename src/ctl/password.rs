//! `dnsctl password set`: reads the web UI password and hashes it here with argon2id, so
//! the password itself is never sent nor stored.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};
use argon2::PasswordHasher as _;
use nix::sys::termios::{self, LocalFlags, SetArg};

/// Shortest password accepted: the UI faces the home network.
const MIN_LEN: usize = 8;

/// The password from stdin (first line; asked twice without echo at a terminal), hashed.
pub fn read_and_hash() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt("New web UI password: ")?;
        let again = prompt("Again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing changed");
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.chars().count() < MIN_LEN {
        bail!("the password must be at least {MIN_LEN} characters; nothing changed");
    }
    hash(&password)
}

/// The argon2id PHC string of `password` (the crate's default cost, a fresh salt).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

/// Reads one line from the terminal with echo off (restored even on error).
fn prompt(text: &str) -> anyhow::Result<String> {
    eprint!("{text}");
    std::io::stderr().flush().ok();
    let stdin = std::io::stdin();
    let old = termios::tcgetattr(&stdin).context("reading the terminal settings")?;
    let mut quiet = old.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &old).ok();
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
