#!/bin/bash
# ui-render.sh -- the web UI's cost (issue 13): bytes of the dashboard's first load, and the
# server-side time of each page (curl's time to the last byte on loopback, which is the
# render plus a loopback round trip) on a ravensd holding $LEASES DHCP leases (made by
# dhcp-blaster as a relay on 127.0.0.2:67; needs root for port 67) and a full query log
# (dnsperf against a local name until the 10,000-entry log has wrapped).
#
# Safety: loopback only; the daemon is stopped by its PID; the temp dir is removed on exit.
#
# Usage:  cargo build --bins && sudo scripts/bench/ui-render.sh
# Env: RAVENSD (target/debug/ravensd; dnsctl beside it), LEASES (10000), SAMPLES (200),
#      PAGES (the pages to time, space-separated; default every page)
set -euo pipefail

RAVENSD=${RAVENSD:-target/debug/ravensd}
DNSCTL=$(dirname "$RAVENSD")/dnsctl
LEASES=${LEASES:-10000}
SAMPLES=${SAMPLES:-200}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/ravens-ui-render.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "ui-render.sh: needs root (DHCP port 67 for the relay)" >&2; exit 1; }

cat > "$WORK/ravens.toml" <<TOML
[node]
name = "bench"
data_dir = "$WORK/data"
dns_listen = ["127.0.0.1:0"]
admin_listen = "127.0.0.1:0"
dhcp_listen = "127.0.0.1:67"

[dns]
upstreams = ["udp://127.0.0.1:9"]
upstream_timeout = "300ms"
builtin_blocklist = true

[[record]]
name = "nas.lan"
type = "A"
value = "192.168.1.10"

[[subnet]]
name = "bench"
cidr = "127.0.0.0/16"
pools = ["127.0.1.0-127.0.200.255"]
router = "127.0.0.2"
lease_time = "12h"
TOML
"$RAVENSD" --config "$WORK/ravens.toml" 2> "$WORK/log" &
PID=$!
for _ in $(seq 100); do grep -q ' ready' "$WORK/log" && break; sleep 0.1; done
ADMIN=$(grep -o 'admin API on http://[0-9.:]*' "$WORK/log" | sed 's|.*http://||')
DNS=$(grep -o 'listening for UDP on [0-9.:]*' "$WORK/log" | head -1 | sed 's/.* on //')
echo "ravensd: admin $ADMIN dns $DNS"

cc -O2 -o "$WORK/dhcp-blaster" "$BENCH_DIR/dhcp-blaster.c"
"$WORK/dhcp-blaster" 127.0.0.2 127.0.0.1 30 2000 256 "$LEASES" | tee "$WORK/blaster.out"
printf 'nas.lan A\n' > "$WORK/q"
dnsperf -s "${DNS%:*}" -p "${DNS##*:}" -d "$WORK/q" -l 5 -Q 5000 > /dev/null
echo "leases: $("$DNSCTL" --node "$ADMIN" --token-file "$WORK/data/admin.token" --json leases | grep -c '"ip"')"

echo "benchpassword" | "$DNSCTL" --node "$ADMIN" --token-file "$WORK/data/admin.token" password set
curl -s -o /dev/null -c "$WORK/cookies" -d password=benchpassword "http://$ADMIN/login"

html=$(curl -s -b "$WORK/cookies" "http://$ADMIN/" | wc -c)
css=$(curl -s "http://$ADMIN/static/app.css" | wc -c)
js=$(curl -s "http://$ADMIN/static/app.js" | wc -c)
echo "dashboard first load: html $html + css $css + js $js = $((html + css + js)) bytes (uncompressed)"

printf '%-10s %8s %8s %8s %9s\n' page p50_ms p95_ms max_ms bytes
PAGES=${PAGES:-/ /log /lists /domains /groups /records /dhcp /cluster /settings /why?name=nas.lan}
for page in $PAGES; do
    for _ in $(seq "$SAMPLES"); do
        curl -s -o /dev/null -b "$WORK/cookies" -w '%{time_total} %{size_download}\n' "http://$ADMIN$page"
    done | sort -n | awk -v page="$page" '{ t[NR] = $1 * 1000; b = $2 } END {
        printf "%-10s %8.1f %8.1f %8.1f %9d\n", substr(page, 1, 10), t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR], b }'
done
