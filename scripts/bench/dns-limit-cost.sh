#!/bin/bash
# dns-limit-cost.sh -- what the per-client rate limiter costs a cache hit in the whole daemon
# (issue 15: "limiting must cost the hot path <= 3 % us/q"), measured so that a busy 2-vCPU
# machine cannot blur it.
#
# The same release ravensd runs twice per round: with `rate_limit = "off"` and with the
# limiter on every query (`rate_limit_exempt = []`, a rate no client reaches); with
# CONFIGURED=1 the second also has issue 15's other routing (the "plain UDP cache-hit path
# with forward zones, group upstreams and rate limits configured"): a [[group]] holding the
# load's client with its own upstreams (the same nsd) and five [[forward]] zones, one of
# them the group's only and one a /20 (16 reverse zones). Per config:
#   1. instructions: ravensd under callgrind; the cache warmed (every name once), counters
#      zeroed (callgrind_control -z), then $CG_QUERIES queries (dnsperf -Q $CG_QPS, since the
#      daemon runs ~50x slower under valgrind), dumped: user-space instructions per answered
#      query. Load-independent, so the difference of the two configs is the limiter's.
#   2. time: ravensd natively on CPU $SERVER_CPU, warmed, `dnsperf -l $DURATION -c $CLIENTS`
#      on CPU $LOAD_CPU: the daemon's CPU per answered query from its threads' schedstat, and
#      its user share (utime / (utime + stime) from /proc/PID/stat), which converts the
#      instruction difference (user space only) into a share of the whole per-query CPU.
# Reported per config and round: Ir/q (all), handle Ir (Resolver::handle_at inclusive per
# query: the precise part), us/q, user %. The share of us/q the configuration costs is then
# (handle Ir on - handle Ir off) / Ir/q off x user share.
#
# Safety: loopback only; every load bounded (-n, -l, timeout); daemons killed by PID; the
# temp dir removed on exit (KEEP_WORK=1 keeps it).
#
# Usage: cargo build --release --bin ravensd && scripts/bench/dns-limit-cost.sh
# Env:   CONFIGURED (0), CALLGRIND (1; 0 times natively only, for more rounds), ROUNDS (2), DURATION (5), CLIENTS (8), CG_QUERIES (20000), CG_QPS (3000),
#        SERVER_CPU (1), LOAD_CPU (0), ZONE_NAMES (10000), RAVENSD (target/release/ravensd)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
ROUNDS=${ROUNDS:-2}; DURATION=${DURATION:-5}; CLIENTS=${CLIENTS:-8}
CG_QUERIES=${CG_QUERIES:-20000}; CG_QPS=${CG_QPS:-3000}
SERVER_CPU=${SERVER_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}; ZONE_NAMES=${ZONE_NAMES:-10000}
RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}; KEEP_WORK=${KEEP_WORK:-0}; CONFIGURED=${CONFIGURED:-0}
CALLGRIND=${CALLGRIND:-1}
NSD_IP=127.0.0.173; NSD_PORT=5320; RVD_IP=127.0.0.176; RVD_PORT=5322
. "$BENCH_DIR/lib.sh"
STOP_UNITS=(nsd)
ensure_pkgs nsd:nsd dig:bind9-dnsutils dnsperf:dnsperf taskset:util-linux valgrind:valgrind
[ -x "$RAVENSD" ] || die "no $RAVENSD (cargo build --release --bin ravensd)"

make_work limit-cost

nsd_upstream hbench "$ZONE_NAMES" "$NSD_IP" "$NSD_PORT"
start_bg nsd taskset -c "$LOAD_CPU" nsd -d -c "$WORK/nsd.conf"
for cfg in off on; do
    limit='rate_limit = "off"'
    [ $cfg = on ] && limit=$'rate_limit = "4000000/s"\nrate_limit_burst = 4000000\nrate_limit_exempt = []'
    mkdir -p "data-$cfg"
    cat > "ravensd-$cfg.toml" <<EOF
[node]
name = "bench"
data_dir = "$WORK/data-$cfg"
dns_listen = ["$RVD_IP:$RVD_PORT"]
admin_listen = "$RVD_IP:18073"

[dns]
upstreams = ["udp://$NSD_IP:$NSD_PORT"]
udp_sockets = 1
$limit
EOF
    [ $cfg = on ] && [ "$CONFIGURED" = 1 ] && {
        up="udp://$NSD_IP:$NSD_PORT"
        printf '\n[[group]]\nname = "bench"\nclients = ["127.0.0.0/8"]\nupstreams = ["%s"]\n' "$up"
        for z in corp.example lab.example lan 192.168.0.0/16 10.1.16.0/20; do
            printf '\n[[forward]]\ndomain = "%s"\nupstreams = ["udp://127.0.0.1:9"]\n' "$z"
            [ $z = lab.example ] && printf 'groups = ["bench"]\n'
        done
    } >> "ravensd-$cfg.toml"
done

answers() { dig +tries=1 +time=1 -p "$RVD_PORT" "@$RVD_IP" h00001.hbench. A 2>/dev/null | grep -q 'status: NOERROR'; }
wait_answer() { local i; for i in $(seq 1200); do answers && return 0; sleep 0.1; done; return 1; }
warm() { timeout 600 dnsperf -s "$RVD_IP" -p "$RVD_PORT" -d queries.txt -n 1 -c 4 -q 50 > warm.out 2>&1 || true; }
completed() { awk '/Queries completed:/{print $3}' <<<"$1"; }
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }
ticks() { awk '{print $14, $15}' /proc/"$1"/stat; }  # utime stime (after the comm field without spaces)

# Instructions per answered query under callgrind.
instructions() {
    local cfg=$1 pid out n f
    rm -f cg.out.*
    start_bg "cg-$cfg" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out.%p" "$RAVENSD" --config "ravensd-$cfg.toml"
    pid=$LAST_PID
    wait_answer || die "ravensd ($cfg) under valgrind did not answer"
    warm
    callgrind_control -z "$pid" >/dev/null
    out=$(timeout 600 dnsperf -s "$RVD_IP" -p "$RVD_PORT" -d queries.txt -n $((CG_QUERIES / ZONE_NAMES + 1)) \
        -Q "$CG_QPS" -c 4 -q 100 2>&1 || true)
    n=$(completed "$out")
    callgrind_control -d "$pid" >/dev/null
    stop_pid "$pid"
    f=$(ls -t cg.out.* | head -1)
    # The dump after zeroing holds the measured span only (cg.out.PID.1; the file at exit is
    # the shutdown). Printed: all instructions per query ("summary:"), which carry the
    # background work of the span (timers, prober; ±200 between processes), and those of
    # Resolver::handle_at inclusive, the query itself (±40 between processes).
    f=$(ls -t cg.out.*.* | head -1)
    awk -v n="$n" '/^summary:/{s=$2} END{ if (n+0 <= 0) print "NA"; else printf "%.0f ", s/n }' "$f"
    callgrind_annotate --inclusive=yes "$f" 2>/dev/null | awk -v n="$n" '
        /Resolver::handle_at \[/ && !h {gsub(",", "", $1); h=$1}
        END{ if (n+0 <= 0 || h == "") print "NA"; else printf "%.0f\n", h/n }'
}

# Daemon CPU per answered query natively, and its user share.
timing() {
    local cfg=$1 pid out n0 n1 t0 t1
    start_bg "rv-$cfg" taskset -c "$SERVER_CPU" "$RAVENSD" --config "ravensd-$cfg.toml"; pid=$LAST_PID
    wait_answer || die "ravensd ($cfg) did not answer"
    warm
    n0=$(proc_ns "$pid"); t0=$(ticks "$pid")
    out=$(timeout $((DURATION + 60)) taskset -c "$LOAD_CPU" dnsperf -s "$RVD_IP" -p "$RVD_PORT" -d queries.txt \
        -l "$DURATION" -c "$CLIENTS" 2>&1 || true)
    n1=$(proc_ns "$pid"); t1=$(ticks "$pid")
    stop_pid "$pid"
    awk -v a="$n0" -v b="$n1" -v n="$(completed "$out")" -v t0="$t0" -v t1="$t1" 'BEGIN{
        split(t0, x, " "); split(t1, y, " "); u=y[1]-x[1]; s=y[2]-x[2]
        printf "%s %s\n", (n+0 > 0 ? sprintf("%.2f", (b-a)/1e3/n) : "NA"), (u+s > 0 ? sprintf("%.0f", 100*u/(u+s)) : "NA") }'
}

printf '%-5s %-4s %8s %10s %8s %7s\n' round cfg 'Ir/q' 'handle Ir' 'us/q' 'user%'
for r in $(seq "$ROUNDS"); do
    for cfg in off on; do
        ir=NA hir=NA
        [ "$CALLGRIND" = 1 ] && read -r ir hir < <(instructions $cfg)
        read -r us user < <(timing $cfg)
        printf '%-5s %-4s %8s %10s %8s %7s\n' "$r" "$cfg" "$ir" "$hir" "$us" "$user"
    done
done
