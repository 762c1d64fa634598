#!/bin/bash
# pihole-import.sh -- issue 12's speed target, end to end through the real daemon and dnsctl:
# a Pi-hole v6 Teleporter archive with 100 adlists, 50,000 domainlist entries (5,000 of them
# regexes), 4 groups, 30 clients and 2,000 active leases is imported with
# `dnsctl import pihole` into a running ravensd (dry run, real run, then the same archive
# again), timed from the client (wall) and in the daemon's own CPU time (utime + stime from
# /proc). Target: under 3 s for the real run.
#
# The archive is written by python3's sqlite3 and zipfile with Pi-hole's gravity schema
# (pi-hole/pi-hole advanced/Templates/gravity.db.sql, version 16: the columns of
# import/tests/common/mod.rs SCHEMA), as FTL's Teleporter lays it out.
#
# Safety: loopback only (DNS, admin and DHCP on 127.0.0.1; the one upstream 127.0.0.1:9 is
# never answered, so the 100 adlist URLs never download); the daemon is recorded by PID and
# stopped by that PID; the temp dir is removed on exit (KEEP_WORK=1 keeps it).
#
# Usage:  cargo build --release --bin ravensd --bin dnsctl && scripts/bench/pihole-import.sh
# Env: RAVENSD (target/release/ravensd; dnsctl beside it)
set -euo pipefail

RAVENSD=${RAVENSD:-target/release/ravensd}
DNSCTL=$(dirname "$RAVENSD")/dnsctl
WORK=$(mktemp -d /tmp/ravens-pihole-import.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

python3 - "$WORK/pihole.zip" <<'PY'
import os, sqlite3, sys, time, zipfile
out = sys.argv[1]
db_path = out + ".gravity.db"
db = sqlite3.connect(db_path)
db.executescript('''
CREATE TABLE "group" (id INTEGER PRIMARY KEY AUTOINCREMENT, enabled BOOLEAN NOT NULL DEFAULT 1,
  name TEXT UNIQUE NOT NULL, date_added INTEGER NOT NULL DEFAULT 0, date_modified INTEGER NOT NULL DEFAULT 0,
  description TEXT);
CREATE TABLE domainlist (id INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER NOT NULL DEFAULT 0,
  domain TEXT NOT NULL, enabled BOOLEAN NOT NULL DEFAULT 1, date_added INTEGER NOT NULL DEFAULT 0,
  date_modified INTEGER NOT NULL DEFAULT 0, comment TEXT, UNIQUE(domain, type));
CREATE TABLE adlist (id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT UNIQUE NOT NULL,
  enabled BOOLEAN NOT NULL DEFAULT 1, date_added INTEGER NOT NULL DEFAULT 0, date_modified INTEGER NOT NULL DEFAULT 0,
  comment TEXT, date_updated INTEGER, number INTEGER NOT NULL DEFAULT 0, invalid_domains INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0, abp_entries INTEGER NOT NULL DEFAULT 0, type INTEGER NOT NULL DEFAULT 0);
CREATE TABLE adlist_by_group (adlist_id INTEGER NOT NULL REFERENCES adlist (id),
  group_id INTEGER NOT NULL REFERENCES "group" (id), PRIMARY KEY (adlist_id, group_id));
CREATE TABLE domainlist_by_group (domainlist_id INTEGER NOT NULL REFERENCES domainlist (id),
  group_id INTEGER NOT NULL REFERENCES "group" (id), PRIMARY KEY (domainlist_id, group_id));
CREATE TABLE client (id INTEGER PRIMARY KEY AUTOINCREMENT, ip TEXT NOT NULL UNIQUE,
  date_added INTEGER NOT NULL DEFAULT 0, date_modified INTEGER NOT NULL DEFAULT 0, comment TEXT);
CREATE TABLE client_by_group (client_id INTEGER NOT NULL REFERENCES client (id),
  group_id INTEGER NOT NULL REFERENCES "group" (id), PRIMARY KEY (client_id, group_id));
CREATE TABLE info (property TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO info VALUES('version','16');
''')
db.executemany('INSERT INTO "group" (id, name) VALUES (?, ?)', [(0, "Default"), (1, "Kids"), (2, "IoT"), (3, "Work")])
for c in range(1, 31):
    db.execute("INSERT INTO client (id, ip) VALUES (?, ?)", (c, f"10.0.{c % 4}.{c}"))
    db.execute("INSERT INTO client_by_group VALUES (?, ?)", (c, c % 4))
for a in range(1, 101):
    db.execute("INSERT INTO adlist (id, address) VALUES (?, ?)", (a, f"https://lists{a}.example/hosts.txt"))
    db.execute("INSERT INTO adlist_by_group VALUES (?, ?)", (a, a % 4))
rows, links = [], []
for d in range(1, 50001):
    if d <= 5000:
        rows.append((d, 3, rf"^ad{d}[0-9]*\.tracker-{d % 97}\.example$"))
    else:
        rows.append((d, d % 2, f"host{d}.domain{d % 1000}.example"))
    links.append((d, d % 4))
db.executemany("INSERT INTO domainlist (id, type, domain) VALUES (?, ?, ?)", rows)
db.executemany("INSERT INTO domainlist_by_group VALUES (?, ?)", links)
db.commit()
db.close()
exp = int(time.time()) + 3600
leases = "".join(
    f"{exp} 02:00:00:00:{i // 250:02x}:{i % 250 + 1:02x} 192.168.{4 + i // 250}.{i % 250 + 1} host{i} *\n"
    for i in range(2000)
)
toml = '''[dns]
upstreams = ["9.9.9.9"]
domain = "lan"
[dns.blocking]
mode = "NULL"
[dhcp]
active = true
start = "192.168.4.1"
end = "192.168.11.250"
router = "192.168.4.254"
netmask = "255.255.240.0"
leaseTime = "24h"
'''
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("etc/pihole/pihole.toml", toml)
    z.write(db_path, "etc/pihole/gravity.db")
    z.writestr("etc/pihole/dhcp.leases", leases)
os.remove(db_path)
PY
echo "archive: $(stat -c %s "$WORK/pihole.zip") bytes (100 adlists, 50000 domains of which 5000 regex, 2000 leases)"

dhcp_port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cfg=$WORK/ravens.toml
cat > "$cfg" <<TOML
[node]
name = "bench"
data_dir = "$WORK/data"
dns_listen = ["127.0.0.1:0"]
admin_listen = "127.0.0.1:0"
dhcp_listen = "127.0.0.1:$dhcp_port"

[dns]
upstreams = ["udp://127.0.0.1:9"]

# the network the Pi-hole served
[[subnet]]
name = "lan"
cidr = "192.168.0.0/20"
pools = ["192.168.4.1-192.168.11.250"]
router = "192.168.4.254"
TOML

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now() { date +%s.%N; }
"$RAVENSD" --config "$cfg" 2> "$WORK/log" &
PID=$!
until grep -q ' ready$' "$WORK/log"; do
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/log"; exit 1; }
    sleep 0.05
done
admin=$(grep -o 'admin API on http://[0-9.:]*' "$WORK/log" | head -1 | sed 's|.*http://||')
ctl() { "$DNSCTL" --config "$cfg" --node "$admin" --token-file "$WORK/data/admin.token" "$@"; }
hz=$(getconf CLK_TCK)

run() {
    local what=$1; shift
    local c0 t0 t1 c1
    c0=$(cpu_ticks "$PID"); t0=$(now)
    ctl --json import pihole "$WORK/pihole.zip" "$@" > "$WORK/$what.json"
    t1=$(now); c1=$(cpu_ticks "$PID")
    printf '%-14s %.2f s wall, %.2f s daemon CPU: ' "$what" "$(echo "$t1 - $t0" | bc)" "$(echo "($c1 - $c0) / $hz" | bc -l)"
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print("changed=%s " % r["changed"] + ", ".join("%s %d/%d/%d" % (k, c["added"], c["unchanged"], c["skipped"]) for k, c in sorted(r["kinds"].items())) + " (added/unchanged/skipped)")' "$WORK/$what.json"
}
run "dry run" --dry-run
run "import"
run "import again"
echo "leases listed: $(ctl --json leases | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
echo "config file after: $(stat -c %s "$cfg") bytes"
