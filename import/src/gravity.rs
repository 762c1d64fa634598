//! Pi-hole's gravity tables (groups, clients, adlists, domainlist and their group links),
//! read from `gravity.db` (v6 Teleporter, directory) or the v5 Teleporter JSON dumps (rows of
//! `SELECT *`, see AdminLTE's teleporter.php), or the pre-v5 text lists.

use std::collections::BTreeMap;
use std::io::Write;

use rusqlite::{Connection, OpenFlags};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ImportError;
use crate::source::Source;

/// domainlist.type: 0 exact allow, 1 exact deny, 2 regex allow, 3 regex deny.
pub const EXACT_ALLOW: i64 = 0;
pub const EXACT_DENY: i64 = 1;
pub const REGEX_ALLOW: i64 = 2;
pub const REGEX_DENY: i64 = 3;

#[derive(Debug, Clone)]
pub struct Group {
    pub id: i64,
    pub enabled: bool,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: i64,
    pub ip: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Adlist {
    pub id: i64,
    pub address: String,
    pub enabled: bool,
    /// adlist.type (v6): 0 block, 1 allow.
    pub allow: bool,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub id: i64,
    pub kind: i64,
    pub domain: String,
    pub enabled: bool,
    pub source: String,
}

/// The gravity tables; links map a row id to its group ids.
#[derive(Debug, Default)]
pub struct Gravity {
    pub groups: Vec<Group>,
    pub clients: Vec<Client>,
    pub adlists: Vec<Adlist>,
    pub domains: Vec<Domain>,
    pub client_groups: BTreeMap<i64, Vec<i64>>,
    pub adlist_groups: BTreeMap<i64, Vec<i64>>,
    pub domain_groups: BTreeMap<i64, Vec<i64>>,
}

/// Reads whichever form the source holds.
pub fn read(src: &Source) -> Result<Gravity, ImportError> {
    if let Some(db) = src.get("gravity.db") {
        return from_sqlite(db);
    }
    let mut g = from_json(src)?;
    legacy(src, &mut g);
    if !g.groups.iter().any(|x| x.id == 0) {
        g.groups.insert(0, Group { id: 0, enabled: true, name: "Default".into() });
    }
    Ok(g)
}

const FILE: &str = "gravity.db";
/// Columns an import needs, per table; anything else is tolerated (the schema grew over
/// versions; the Teleporter copy of v6 has no views, triggers or `info` table).
const SCHEMA: [(&str, &[&str]); 7] = [
    ("group", &["id", "enabled", "name"]),
    ("client", &["id", "ip"]),
    ("client_by_group", &["client_id", "group_id"]),
    ("adlist", &["id", "address", "enabled"]),
    ("adlist_by_group", &["adlist_id", "group_id"]),
    ("domainlist", &["id", "type", "domain", "enabled"]),
    ("domainlist_by_group", &["domainlist_id", "group_id"]),
];

fn from_sqlite(bytes: &[u8]) -> Result<Gravity, ImportError> {
    if bytes.len() < 100 || !bytes.starts_with(b"SQLite format 3\0") {
        return Err(ImportError::NotSqlite { file: FILE.into() });
    }
    // SQLite reads files; the copy is private and removed when `tmp` drops.
    let tmp = TempFile::write(bytes)?;
    let sql = |e: rusqlite::Error| ImportError::Sqlite { file: FILE.into(), why: e.to_string() };
    let db = Connection::open_with_flags(&tmp.0, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql)?;
    let mut has_adlist_type = false;
    for (table, need) in SCHEMA {
        let mut st = db.prepare(&format!("PRAGMA table_info(\"{table}\")")).map_err(sql)?;
        let cols: Vec<String> =
            st.query_map([], |r| r.get::<_, String>(1)).map_err(sql)?.collect::<Result<_, _>>().map_err(sql)?;
        if cols.is_empty() {
            return Err(ImportError::UnknownSchema { file: FILE.into(), why: format!("no table '{table}'") });
        }
        if let Some(c) = need.iter().find(|c| !cols.iter().any(|x| x == *c)) {
            return Err(ImportError::UnknownSchema {
                file: FILE.into(),
                why: format!("table '{table}' has no column '{c}'"),
            });
        }
        has_adlist_type |= table == "adlist" && cols.iter().any(|c| c == "type");
    }
    let mut g = Gravity::default();
    let mut st = db.prepare("SELECT id, enabled, name FROM \"group\" ORDER BY id").map_err(sql)?;
    g.groups = st
        .query_map([], |r| Ok(Group { id: r.get(0)?, enabled: r.get::<_, i64>(1)? != 0, name: r.get(2)? }))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let mut st = db.prepare("SELECT id, ip FROM client ORDER BY id").map_err(sql)?;
    g.clients = st
        .query_map([], |r| {
            let id: i64 = r.get(0)?;
            Ok(Client { id, ip: r.get(1)?, source: format!("{FILE}:client id {id}") })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let q = if has_adlist_type {
        "SELECT id, address, enabled, type FROM adlist ORDER BY id"
    } else {
        "SELECT id, address, enabled, 0 FROM adlist ORDER BY id"
    };
    let mut st = db.prepare(q).map_err(sql)?;
    g.adlists = st
        .query_map([], |r| {
            let id: i64 = r.get(0)?;
            let (address, enabled, allow) = (r.get(1)?, r.get::<_, i64>(2)? != 0, r.get::<_, i64>(3)? == 1);
            Ok(Adlist { id, address, enabled, allow, source: format!("{FILE}:adlist id {id}") })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let mut st = db.prepare("SELECT id, type, domain, enabled FROM domainlist ORDER BY id").map_err(sql)?;
    g.domains = st
        .query_map([], |r| {
            let id: i64 = r.get(0)?;
            let (kind, domain, enabled) = (r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0);
            Ok(Domain { id, kind, domain, enabled, source: format!("{FILE}:domainlist id {id}") })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    for (table, col, map) in [
        ("client_by_group", "client_id", &mut g.client_groups),
        ("adlist_by_group", "adlist_id", &mut g.adlist_groups),
        ("domainlist_by_group", "domainlist_id", &mut g.domain_groups),
    ] {
        let mut st = db.prepare(&format!("SELECT {col}, group_id FROM {table} ORDER BY group_id")).map_err(sql)?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).map_err(sql)?;
        for row in rows {
            let (id, group) = row.map_err(sql)?;
            map.entry(id).or_default().push(group);
        }
    }
    Ok(g)
}

/// A private copy of the database for SQLite to open, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn write(bytes: &[u8]) -> Result<TempFile, ImportError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ravens-import-{}-{nanos}-{n}.db", std::process::id()));
        let io = |source| ImportError::Io { path: path.clone(), source };
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io)?;
        let done = TempFile(path.clone());
        f.write_all(bytes).map_err(io)?;
        Ok(done)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// SQLite integers arrive as JSON numbers; be lenient about booleans and strings of digits.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Bool(bool),
    Text(String),
}

impl Num {
    fn int(&self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(*i),
            Num::Bool(b) => Some(i64::from(*b)),
            Num::Text(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct GroupRow {
    id: Num,
    #[serde(default)]
    enabled: Option<Num>,
    name: String,
}

#[derive(Debug, Deserialize)]
struct ClientRow {
    id: Num,
    ip: String,
}

#[derive(Debug, Deserialize)]
struct AdlistRow {
    id: Num,
    address: String,
    enabled: Num,
    #[serde(default, rename = "type")]
    kind: Option<Num>,
}

#[derive(Debug, Deserialize)]
struct DomainRow {
    id: Num,
    domain: String,
    enabled: Num,
}

fn rows<T: DeserializeOwned>(src: &Source, file: &str) -> Result<Vec<T>, ImportError> {
    let Some(bytes) = src.get(file) else { return Ok(Vec::new()) };
    serde_json::from_slice(bytes).map_err(|e| ImportError::Json { file: file.into(), why: e.to_string() })
}

fn id(file: &str, n: &Num) -> Result<i64, ImportError> {
    n.int().ok_or_else(|| ImportError::Json { file: file.into(), why: "an id is not an integer".into() })
}

fn links(src: &Source, file: &str, col: &str) -> Result<BTreeMap<i64, Vec<i64>>, ImportError> {
    let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for row in rows::<BTreeMap<String, Num>>(src, file)? {
        let (Some(a), Some(g)) = (row.get(col).and_then(Num::int), row.get("group_id").and_then(Num::int)) else {
            return Err(ImportError::Json { file: file.into(), why: format!("a row lacks {col} or group_id") });
        };
        out.entry(a).or_default().push(g);
    }
    Ok(out)
}

fn from_json(src: &Source) -> Result<Gravity, ImportError> {
    let mut g = Gravity::default();
    for r in rows::<GroupRow>(src, "group.json")? {
        let enabled = r.enabled.as_ref().and_then(Num::int).is_none_or(|e| e != 0);
        g.groups.push(Group { id: id("group.json", &r.id)?, enabled, name: r.name });
    }
    for r in rows::<ClientRow>(src, "client.json")? {
        let id = id("client.json", &r.id)?;
        g.clients.push(Client { id, ip: r.ip, source: format!("client.json:id {id}") });
    }
    for r in rows::<AdlistRow>(src, "adlist.json")? {
        let id = id("adlist.json", &r.id)?;
        let enabled = r.enabled.int().is_some_and(|e| e != 0);
        let allow = r.kind.as_ref().and_then(Num::int) == Some(1);
        g.adlists.push(Adlist { id, address: r.address, enabled, allow, source: format!("adlist.json:id {id}") });
    }
    for (file, kind) in [
        ("whitelist.exact.json", EXACT_ALLOW),
        ("blacklist.exact.json", EXACT_DENY),
        ("whitelist.regex.json", REGEX_ALLOW),
        ("blacklist.regex.json", REGEX_DENY),
    ] {
        for r in rows::<DomainRow>(src, file)? {
            let id = id(file, &r.id)?;
            let enabled = r.enabled.int().is_some_and(|e| e != 0);
            g.domains.push(Domain { id, kind, domain: r.domain, enabled, source: format!("{file}:id {id}") });
        }
    }
    g.client_groups = links(src, "client_by_group.json", "client_id")?;
    g.adlist_groups = links(src, "adlist_by_group.json", "adlist_id")?;
    g.domain_groups = links(src, "domainlist_by_group.json", "domainlist_id")?;
    Ok(g)
}

/// The pre-v5 text lists (one item a line, all in the Default group). Their rows get ids
/// below every real one, so they never collide with the JSON dumps.
fn legacy(src: &Source, g: &mut Gravity) {
    let mut next = -1i64;
    for (file, kind) in [("whitelist.txt", EXACT_ALLOW), ("blacklist.txt", EXACT_DENY), ("regex.list", REGEX_DENY)] {
        for (n, line) in src.text(file).unwrap_or_default().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || g.domains.iter().any(|d| d.kind == kind && d.domain == line)
            {
                continue;
            }
            let source = format!("{file}:{}", n + 1);
            g.domains.push(Domain { id: next, kind, domain: line.to_string(), enabled: true, source });
            g.domain_groups.insert(next, vec![0]);
            next -= 1;
        }
    }
    for (n, line) in src.text("adlists.list").unwrap_or_default().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || g.adlists.iter().any(|a| a.address == line) {
            continue;
        }
        let source = format!("adlists.list:{}", n + 1);
        g.adlists.push(Adlist { id: next, address: line.into(), enabled: true, allow: false, source });
        g.adlist_groups.insert(next, vec![0]);
        next -= 1;
    }
}
