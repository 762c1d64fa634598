#!/bin/bash
# ui-dns-cost.sh -- what an open web UI dashboard costs the DNS path (issue 13: "a dashboard
# left open (refreshing) while dnsperf runs changes ravensd's µs per cache-hit query by
# ≤ 2 %"). Same method as dns-peers.sh: nsd serves a made-up zone, ravensd forwards to it
# (pinned to CPU $SERVER_CPU), every name is asked once to warm the cache, nsd is stopped
# (so every answer is a cache hit), then $RUNS pairs of bounded dnsperf runs (-l $DURATION,
# pinned to CPU $LOAD_CPU), each pair one run without and one with the dashboard open, in
# alternating order. "Open" is a logged-in client fetching `/?partial=1` every $INTERVAL
# seconds: exactly the request the dashboard's script makes at its refresh interval
# (data-refresh="5"), so the server does the same work as for a browser (the browser's own
# CPU is not ravensd's). Cost = ravensd's own run time (the sum of its threads'
# /proc/PID/task/*/schedstat, which other work on the machine does not inflate) divided by
# the answered queries. Since one refresh every 5 s is small against the run-to-run noise
# of a shared machine, the script also times $REFRESHES refreshes alone at the end and
# prints what they cost per query at the closed runs' rate.
#
# Safety: loopback only (127.0.0.163 nsd, 127.0.0.166 ravensd); every load bounded
# (dnsperf -l, timeout); processes stopped by the PIDs the script started; temp dir removed.
#
# Usage:  cargo build --release --bin ravensd --bin dnsctl && scripts/bench/ui-dns-cost.sh
# Env:    RAVENSD (target/release/ravensd; dnsctl beside it), RUNS (5), DURATION (10),
#         CLIENTS (8), INTERVAL (5), SERVER_CPU (1), LOAD_CPU (0), ZONE_NAMES (10000),
#         REFRESHES (50: back-to-back refreshes timed alone at the end)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
RAVENSD=${RAVENSD:-target/release/ravensd}
DNSCTL=$(dirname "$RAVENSD")/dnsctl
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
INTERVAL=${INTERVAL:-5}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
ZONE_NAMES=${ZONE_NAMES:-10000}
NSD_IP=127.0.0.163 NSD_PORT=5310 RVD_IP=127.0.0.166 RVD_PORT=5313 ADMIN=127.0.0.166:18063

[ -x "$RAVENSD" ] && [ -x "$DNSCTL" ] || die "$RAVENSD or $DNSCTL missing (cargo build --release --bin ravensd --bin dnsctl)"
for c in nsd dnsperf dig curl taskset; do command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || die "$c missing"; done
WORK=$(mktemp -d /tmp/ravens-ui-dns-cost.XXXXXX)
STARTED_PIDS=()
cleanup() {
    local p
    for p in "${STARTED_PIDS[@]}"; do stop_pid "$p"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

nsd_upstream hbench "$ZONE_NAMES" "$NSD_IP" "$NSD_PORT"
cat > "$WORK/ravensd.toml" <<EOF
[node]
name = "bench"
data_dir = "$WORK/data"
dns_listen = ["$RVD_IP:$RVD_PORT"]
admin_listen = "$ADMIN"

[dns]
upstreams = ["udp://$NSD_IP:$NSD_PORT"]
udp_sockets = 1
rate_limit = "off"
EOF

answers() { dig +time=1 +tries=1 -p "$2" @"$1" h00000.hbench A +short 2>/dev/null | grep -q '^198\.18\.'; }
start_bg nsd taskset -c "$LOAD_CPU" nsd -d -c "$WORK/nsd.conf"
NSD_PID=$LAST_PID
for _ in $(seq 100); do answers "$NSD_IP" "$NSD_PORT" && break; sleep 0.1; done
answers "$NSD_IP" "$NSD_PORT" || die "nsd does not answer"
start_bg ravensd taskset -c "$SERVER_CPU" "$RAVENSD" --config "$WORK/ravensd.toml"
RVD_PID=$LAST_PID
for _ in $(seq 100); do answers "$RVD_IP" "$RVD_PORT" && break; sleep 0.1; done
answers "$RVD_IP" "$RVD_PORT" || die "ravensd does not answer"

echo "benchpassword" | "$DNSCTL" --node "$ADMIN" --token-file "$WORK/data/admin.token" password set >/dev/null
curl -s -o /dev/null -c "$WORK/cookies" -d password=benchpassword "http://$ADMIN/login"
curl -s -b "$WORK/cookies" "http://$ADMIN/?partial=1" | grep -q 'data-refresh' || die "dashboard not served (login failed?)"

dnsperf_run() {  # args -> DONE
    local out
    out=$(timeout $((DURATION + 60)) taskset -c "$LOAD_CPU" dnsperf -s "$RVD_IP" -p "$RVD_PORT" -d "$WORK/queries.txt" "$@" 2>&1) || true
    DONE=$(printf '%s\n' "$out" | awk '/Queries completed:/{print $3}')
    LOST=$(printf '%s\n' "$out" | awk '/Queries lost:/{print $3}')
    QPS=$(printf '%s\n' "$out" | awk '/Queries per second:/{printf "%.0f", $4}')
}
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }

dnsperf_run -n 1 -c "$CLIENTS" -t 2
log "warm-up: $DONE answered, $LOST lost"
stop_pid "$NSD_PID"

# The dashboard's refresh, as its script makes it, until killed.
poller() {
    while :; do
        curl -s -o /dev/null -b "$WORK/cookies" -w '%{time_total}\n' "http://$ADMIN/?partial=1" >> "$WORK/poll.times"
        sleep "$INTERVAL"
    done
}

measure() {  # MODE -> a result line
    local mode=$1 pid= n0 n1
    if [ "$mode" = open ]; then
        taskset -c "$LOAD_CPU" bash -c "$(declare -f poller); WORK=$WORK ADMIN=$ADMIN INTERVAL=$INTERVAL poller" &
        pid=$!
        STARTED_PIDS+=("$pid")
    fi
    n0=$(proc_ns "$RVD_PID")
    dnsperf_run -l "$DURATION" -c "$CLIENTS"
    n1=$(proc_ns "$RVD_PID")
    [ -n "$pid" ] && stop_pid "$pid"
    awk -v m="$mode" -v q="$QPS" -v d="$DONE" -v l="$LOST" -v ns=$((n1 - n0)) \
        'BEGIN{printf "%-6s %8d %9d %6s %8.3f\n", m, q, d, l, d ? ns / 1000 / d : 0}'
}

echo "== ui-dns-cost: $(nproc) cores, ravensd on CPU $SERVER_CPU, dnsperf -l $DURATION -c $CLIENTS on CPU $LOAD_CPU, dashboard refresh every ${INTERVAL}s; $(date -u +%FT%TZ)"
printf '%-6s %8s %9s %6s %8s\n' mode qps answered lost us/query
: > "$WORK/results"
for r in $(seq "$RUNS"); do
    if [ $((r % 2)) = 1 ]; then order="closed open"; else order="open closed"; fi
    for mode in $order; do measure "$mode" >> "$WORK/results"; tail -1 "$WORK/results"; done
done
median() { awk -v m="$1" '$1 == m {print $5}' "$WORK/results" | sort -n |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
awk -v c="$(median closed)" -v o="$(median open)" \
    'BEGIN{printf "median us/query: closed %.3f, open %.3f: %+.2f %%\n", c, o, 100 * (o - c) / c}'
# The same cost measured alone, without the noise of the DNS load: ravensd's run time over
# $REFRESHES back-to-back dashboard refreshes (its query log is full by now), and what that
# is per query at one refresh per $INTERVAL s and the closed runs' median query rate.
REFRESHES=${REFRESHES:-50}
n0=$(proc_ns "$RVD_PID")
for _ in $(seq "$REFRESHES"); do curl -s -o /dev/null -b "$WORK/cookies" "http://$ADMIN/?partial=1"; done
n1=$(proc_ns "$RVD_PID")
qps=$(awk '$1 == "closed" {print $2}' "$WORK/results" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
awk -v ns=$((n1 - n0)) -v n="$REFRESHES" -v i="$INTERVAL" -v q="$qps" -v c="$(median closed)" 'BEGIN {
    ms = ns / n / 1e6; per = ms * 1000 / (i * q)
    printf "ravensd CPU per dashboard refresh (alone, %d refreshes): %.2f ms; at one per %s s and %d queries/s: %.4f us/query = %.2f %% of %.3f\n", n, ms, i, q, per, 100 * per / c, c }'
[ -s "$WORK/poll.times" ] && sort -n "$WORK/poll.times" | awk '{t[NR] = $1 * 1000} END {printf "dashboard refreshes: %d, p50 %.1f ms, max %.1f ms (time to last byte)\n", NR, t[int((NR + 1) / 2)], t[NR]}'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
