#!/bin/bash
# config-edit.sh -- end-to-end cost of a site-config edit on a daemon with a large config
# (issue 10, defect 4): `dnsctl records add` against a ravensd whose file holds $N local
# records, timed from the client (wall) and in the daemon's own CPU time (utime + stime from
# /proc, robust to other load on a shared machine). Also: start-up, `dnsctl config export`,
# the daemon's RSS and peak RSS, and how long SIGTERM takes right after an edit is sent.
#
# Safety: loopback only (DNS and admin on 127.0.0.1, the one upstream 127.0.0.1:9 is never
# asked); the daemon is recorded by PID and stopped by that PID; the temp dir is removed on
# exit (KEEP_WORK=1 keeps it).
#
# Usage:  cargo build --release --bins && scripts/bench/config-edit.sh
# Env: RAVENSD (target/release/ravensd; dnsctl beside it), N (200000), RUNS (5)
set -euo pipefail

RAVENSD=${RAVENSD:-target/release/ravensd}
DNSCTL=$(dirname "$RAVENSD")/dnsctl
N=${N:-200000}
RUNS=${RUNS:-5}
WORK=$(mktemp -d /tmp/ravens-config-edit.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

cfg=$WORK/ravens.toml
{
    printf '[node]\nname = "bench"\ndata_dir = "%s/data"\ndns_listen = ["127.0.0.1:0"]\nadmin_listen = "127.0.0.1:0"\n\n' "$WORK"
    printf '[dns]\nupstreams = ["udp://127.0.0.1:9"]\n'
    awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) {
        if (i % 100 == 0) printf "\n# rack %d\n", i / 100
        printf "\n[[record]]\nname = \"h%d.lan\"\ntype = \"A\"\nvalue = \"10.%d.%d.%d\"\n", i, int(i / 65536), int(i / 256) % 256, i % 256 } }'
} > "$cfg"
echo "config: $N records, $(stat -c %s "$cfg") bytes"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }

t0=$(now)
"$RAVENSD" --config "$cfg" 2> "$WORK/log" &
PID=$!
until grep -q ' ready$' "$WORK/log"; do
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/log"; exit 1; }
    sleep 0.05
done
echo "start-up: $(echo "$(now) - $t0" | bc) s, RSS $(( $(kib "$PID" VmRSS) / 1024 )) MiB"
admin=$(grep -o 'admin API on http://[0-9.:]*' "$WORK/log" | head -1 | sed 's|.*http://||')
ctl() { "$DNSCTL" --config "$cfg" --node "$admin" --token-file "$WORK/data/admin.token" "$@"; }
hz=$(getconf CLK_TCK)

for i in $(seq 1 "$RUNS"); do
    c0=$(cpu_ticks "$PID"); t0=$(now)
    ctl records add "new$i.lan" A "10.250.0.$i" > /dev/null
    t1=$(now); c1=$(cpu_ticks "$PID")
    printf 'records add #%d: %.2f s wall, %.2f s daemon CPU\n' "$i" "$(echo "$t1 - $t0" | bc)" "$(echo "($c1 - $c0) / $hz" | bc -l)"
done
c0=$(cpu_ticks "$PID"); t0=$(now)
ctl records remove new1.lan > /dev/null
printf 'records remove: %.2f s wall, %.2f s daemon CPU\n' "$(echo "$(now) - $t0" | bc)" "$(echo "($(cpu_ticks "$PID") - $c0) / $hz" | bc -l)"
t0=$(now)
ctl config export > "$WORK/export.toml"
printf 'config export: %.2f s wall, %d bytes\n' "$(echo "$(now) - $t0" | bc)" "$(stat -c %s "$WORK/export.toml")"
echo "RSS $(( $(kib "$PID" VmRSS) / 1024 )) MiB, peak $(( $(kib "$PID" VmHWM) / 1024 )) MiB"

# SIGTERM while an edit is being made.
ctl records add late.lan A 10.250.1.1 > /dev/null 2>&1 &
sleep 0.1
t0=$(now)
kill -TERM "$PID"
wait "$PID" || true
printf 'SIGTERM during an edit: exited after %.2f s\n' "$(echo "$(now) - $t0" | bc)"
PID=
wait || true
