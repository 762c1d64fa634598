#!/bin/bash
# dns-peers.sh -- cache-hit DNS benchmark of ravensd against unbound and dnsmasq,
# all in ONE invocation on loopback, with the same method for every peer.
#
#   nsd      authoritative upstream for the made-up zone "hbench." with $ZONE_NAMES
#            A records (h00000..), on 127.0.0.153:5300
#   ravensd  forwarder on 127.0.0.156:5303 (admin 127.0.0.156:18053) -> nsd
#   unbound  forwarder on 127.0.0.154:5301, forward-zone "." -> nsd
#   dnsmasq  forwarder on 127.0.0.155:5302, server= -> nsd only
#   (nsd)    optional reference: the authoritative server itself (PEERS="nsd ...")
#   (floor)  optional reference: the recipes' do-nothing C responder (PEERS="... floor"),
#            built from $FLOOR_SRC, on 127.0.0.157:5304; the cheapest possible server
#
# Per peer: start pinned to CPU $SERVER_CPU (taskset), wait until it answers (dig),
# RSS idle; warm-up pass over every name (dnsperf -n 1); nsd STOPPED, so every answer
# must be a cache hit (a miss shows up as lost or SERVFAIL); $RUNS x dnsperf -l $DURATION
# -c $CLIENTS pinned to CPU $LOAD_CPU, median QPS; server CPU us/query from CPU
# $SERVER_CPU's busy jiffies and from its exact wall-minus-idle time, divided by the
# answered queries, and from the server process's own exact run time (the sum of its
# threads' /proc schedstat): the column that other work on the machine does not inflate
# (compare that one when the machine is busy); lost queries; RSS after. BLAST=1 adds $RUNS runs of the C blaster
# (dns-blaster.c, sendmmsg/recvmmsg) to show whether dnsperf is the ceiling.
# Blaster caveat: its first burst of BLAST_WINDOW (256) queries overflows a server socket
# left at the default 208 KiB receive buffer (unbound, dnsmasq): about 63 queries are
# dropped by the kernel at start and reported as lost; BLAST_WINDOW=150 gives 0 lost.
# Blaster losses are reported but do not fail the run.
#
# A peer whose binary is missing or that does not start/answer is SKIPPED with a reason;
# the others are still measured. ravensd is never built implicitly (BUILD=1 does
# `cargo build --release --bin ravensd` first).
#
# Safety: traffic only to 127.0.0.0/8; every load is bounded (dnsperf -l/-n, timeout(1)
# around every client); every daemon is recorded by PID and killed by that PID; the temp
# dir is removed on exit (KEEP_WORK=1 keeps it). Installs missing Debian packages when
# run as root (services kept from starting by a refusing policy-rc.d).
#
# Usage:  scripts/bench/dns-peers.sh                       (as root if packages are missing)
#         RUNS=1 DURATION=5 PEERS="unbound dnsmasq" scripts/bench/dns-peers.sh
# Env:    PEERS ("ravensd unbound dnsmasq"), RUNS (3), DURATION (10), CLIENTS (8),
#         SERVER_CPU (1), LOAD_CPU (0), ZONE_NAMES (10000), FREEZE_UPSTREAM (1),
#         BLAST (0), BLAST_WINDOW (256), BLAST_BATCH (32), QPS_CAP (empty: no cap),
#         RAVENSD (target/release/ravensd), RAVENSD_EXTRA (TOML lines appended to [dns]),
#         BUILD (0), KEEP_WORK (0), NO_INSTALL (0),
#         FLOOR_SRC (../shared/recipes/dns-floor-responder.c beside the repo), FLOOR_BATCH (32).
# Exit status: 0 when every measured peer answered with no loss and no error rcodes
# (skipped peers do not fail the run); 1 otherwise or when no peer could be measured;
# 2 on a setup failure (bad settings, packages, nsd not answering).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)

PEERS=${PEERS:-"ravensd unbound dnsmasq"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-8}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
ZONE_NAMES=${ZONE_NAMES:-10000}
FREEZE_UPSTREAM=${FREEZE_UPSTREAM:-1}
BLAST=${BLAST:-0}
BLAST_WINDOW=${BLAST_WINDOW:-256}
BLAST_BATCH=${BLAST_BATCH:-32}
QPS_CAP=${QPS_CAP:-}
RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}
RAVENSD_EXTRA=${RAVENSD_EXTRA:-}
BUILD=${BUILD:-0}
KEEP_WORK=${KEEP_WORK:-0}
NO_INSTALL=${NO_INSTALL:-0}
READY_TIMEOUT=${READY_TIMEOUT:-30}
FLOOR_SRC=${FLOOR_SRC:-$REPO/../shared/recipes/dns-floor-responder.c}
FLOOR_BATCH=${FLOOR_BATCH:-32}

NSD_IP=127.0.0.153;  NSD_PORT=5300
UNB_IP=127.0.0.154;  UNB_PORT=5301
DMQ_IP=127.0.0.155;  DMQ_PORT=5302
RVD_IP=127.0.0.156;  RVD_PORT=5303; RVD_ADMIN_PORT=18053
FLR_IP=127.0.0.157;  FLR_PORT=5304
ZONE=hbench
PROBE="h00001.$ZONE."

# ------------------------------------------------------------- helpers ----
# log, die, ensure_pkgs (STOP_UNITS: services the packages would start), start_bg, stop_pid
. "$(dirname "$0")/lib.sh"
STOP_UNITS=(dnsmasq unbound nsd)

for v in RUNS DURATION CLIENTS SERVER_CPU LOAD_CPU ZONE_NAMES BLAST_WINDOW BLAST_BATCH FLOOR_BATCH; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
[ "$RUNS" -ge 1 ] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 600 ] || die "need RUNS >= 1 and 1 <= DURATION <= 600"
[ "$ZONE_NAMES" -ge 2 ] && [ "$ZONE_NAMES" -le 100000 ] || die "ZONE_NAMES must be 2..100000"
[ "$(nproc)" -gt "$SERVER_CPU" ] && [ "$(nproc)" -gt "$LOAD_CPU" ] || die "CPU $SERVER_CPU or $LOAD_CPU does not exist"

STARTED_PIDS=()
cleanup() {
    local rc=$? i
    set +e
    for (( i=${#STARTED_PIDS[@]}-1; i>=0; i-- )); do stop_pid "${STARTED_PIDS[$i]}"; done
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        if [ "$KEEP_WORK" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    fi
    exit $rc
}

median() { printf '%s\n' "$@" | grep -v '^NA$' | sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"} else if(NR%2){print a[(NR+1)/2]} else {printf "%.2f\n",(a[NR/2]+a[NR/2+1])/2} }'; }
rss_kb() { ps -o rss= -p "$1" 2>/dev/null | tr -d ' ' || true; }
now() { date +%s.%N; }
wait_for() {  # TIMEOUT_S PID CMD... : poll CMD every 50 ms while PID lives
    local t=$1 pid=$2; shift 2
    local end; end=$(awk -v n="$(now)" -v t="$t" 'BEGIN{printf "%.3f", n+t}')
    while ! "$@" >/dev/null 2>&1; do
        [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 2
        awk -v n="$(now)" -v e="$end" 'BEGIN{exit !(n>e)}' && return 1
        sleep 0.05
    done
}
# snap CPU : "epoch busy_jiffies idle_jiffies" of that CPU (busy = user+nice+system+irq+
# softirq+steal, idle = idle+iowait). Busy jiffies are 4 ms tick samples (they under-count
# short bursts); idle is exact on a tickless kernel, so wall-idle is reported as well.
snap() { awk -v c="cpu$1" -v t="$(now)" '$1==c{printf "%s %d %d\n", t, $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
us_per_q() {  # SNAP0 SNAP1 N -> "jiffies_us wallidle_us"
    awk -v a="$1" -v b="$2" -v n="${3:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," "); split(b,y," ");
        if (n+0 <= 0) { print "NA NA"; exit }
        w=y[1]-x[1]; idle=(y[3]-x[3])/hz; busy=(y[2]-x[2])/hz; wi=w-idle; if (wi<0) wi=0
        printf "%.2f %.2f\n", busy*1e6/n, wi*1e6/n }'
}
# proc_ns PID : nanoseconds the process's live threads have run (schedstat is exact, unlike
# the tick-sampled utime/stime); 0 when the process is gone.
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }
# ctx_sw PID : context switches of the process's live threads (voluntary + not): per query,
# how often the server slept and was woken, which is most of a cache hit's kernel cost.
ctx_sw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{printf "%.0f\n", s}'; }
proc_us_per_q() {  # NS0 NS1 N -> us of the server's own CPU per answered query
    awk -v a="$1" -v b="$2" -v n="${3:-0}" 'BEGIN{ if (n+0 <= 0 || b+0 <= 0) { print "NA"; exit } printf "%.2f\n", (b-a)/1e3/n }'
}
busy_pct() {  # SNAP0 SNAP1 -> wall-idle busy %
    awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," "); split(b,y," ");
        w=y[1]-x[1]; if (w<=0) { print "NA"; exit } p=100*(w-(y[3]-x[3])/hz)/w; if (p<0) p=0; printf "%.0f\n", p }'
}

answers_ok() {  # IP PORT : NOERROR with an A record for the probe name
    dig +tries=1 +time=1 -p "$2" "@$1" "$PROBE" A 2>/dev/null \
        | awk '/status:/{s=$6} /^[^;].*[ \t]IN[ \t]+A[ \t]/{a=1} END{exit !(s=="NOERROR," && a)}'
}

# ----------------------------------------------------------- preflight ----
pkgs=(nsd:nsd unbound:unbound dnsmasq:dnsmasq-base dig:bind9-dnsutils dnsperf:dnsperf taskset:util-linux ps:procps)
{ [ "$BLAST" = 1 ] || [[ " $PEERS " == *" floor "* ]]; } && pkgs+=(gcc:gcc)
ensure_pkgs "${pkgs[@]}"

if [ "$BUILD" = 1 ] && [[ " $PEERS " == *" ravensd "* ]]; then
    log "building ravensd (release)"
    (cd "$REPO" && cargo build --release --bin ravensd >&2) || log "ravensd build failed: it will be skipped"
fi

WORK=$(mktemp -d /tmp/ravens-dns-peers.XXXXXX)
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$WORK"

if [ "$BLAST" = 1 ]; then
    gcc -O2 -o "$WORK/dns-blaster" "$BENCH_DIR/dns-blaster.c" || die "building dns-blaster failed"
fi
if [[ " $PEERS " == *" floor "* ]] && [ -f "$FLOOR_SRC" ]; then
    gcc -O2 -o "$WORK/dns-floor-responder" "$FLOOR_SRC" || log "building the floor responder failed: it will be skipped"
fi

# ---------------------------------------------------------------- data ----
log "generating zone $ZONE. ($ZONE_NAMES names) and the query file"
nsd_upstream "$ZONE" "$ZONE_NAMES" "$NSD_IP" "$NSD_PORT"
LAST_NAME=$(printf 'h%05d.%s.' $((ZONE_NAMES - 1)) "$ZONE")

# ------------------------------------------------------------- configs ----
cat > unbound.conf <<EOF
server:
$(unbound_server)
    interface: $UNB_IP@$UNB_PORT
    port: $UNB_PORT
    logfile: ""
    module-config: "iterator"
    msg-cache-size: 64m
    rrset-cache-size: 128m
    so-reuseport: yes
$(unbound_forward_all "$NSD_IP" "$NSD_PORT")
EOF

cat > dnsmasq.conf <<EOF
port=$DMQ_PORT
listen-address=$DMQ_IP
bind-interfaces
no-resolv
no-hosts
no-poll
server=$NSD_IP#$NSD_PORT
cache-size=$(( ZONE_NAMES > 10000 ? ZONE_NAMES : 10000 ))
user=root
group=root
pid-file=
log-facility=-
EOF

cat > ravensd.toml <<EOF
$(ravensd_node "$RVD_IP:$RVD_PORT" "$RVD_IP:$RVD_ADMIN_PORT")

[dns]
upstreams = ["udp://$NSD_IP:$NSD_PORT"]
udp_sockets = 1
EOF
[ -z "$RAVENSD_EXTRA" ] || printf '%s\n' "$RAVENSD_EXTRA" >> ravensd.toml

# ------------------------------------------------------------ upstream ----
NSD_PID=
start_upstream() {
    start_bg nsd-upstream taskset -c "$LOAD_CPU" nsd -d -c "$WORK/nsd.conf"
    NSD_PID=$LAST_PID
    wait_for 30 "$NSD_PID" answers_ok "$NSD_IP" "$NSD_PORT" || { tail -20 "$WORK/nsd-upstream.log" >&2; die "nsd did not answer"; }
}
stop_upstream() { stop_pid "$NSD_PID"; NSD_PID=; }

# --------------------------------------------------------------- peers ----
# start_peer PEER -> 0 and PEER_PID/IP/PORT/LOAD_S, or 1 with SKIP_REASON
start_peer() {
    local p=$1 t0 rc=0 cmd=()
    SKIP_REASON=
    case $p in
      nsd)     PEER_IP=$NSD_IP; PEER_PORT=$NSD_PORT; cmd=(nsd -d -c "$WORK/nsd.conf") ;;
      unbound) PEER_IP=$UNB_IP; PEER_PORT=$UNB_PORT; cmd=(unbound -d -p -c "$WORK/unbound.conf") ;;
      dnsmasq) PEER_IP=$DMQ_IP; PEER_PORT=$DMQ_PORT; cmd=(dnsmasq -k -C "$WORK/dnsmasq.conf") ;;
      floor)   PEER_IP=$FLR_IP; PEER_PORT=$FLR_PORT
               if [ ! -x "$WORK/dns-floor-responder" ]; then SKIP_REASON="no floor responder ($FLOOR_SRC missing or did not build)"; return 1; fi
               cmd=("$WORK/dns-floor-responder" "$FLR_IP" "$FLR_PORT" "$FLOOR_BATCH") ;;
      ravensd) PEER_IP=$RVD_IP; PEER_PORT=$RVD_PORT
               if [ ! -x "$RAVENSD" ]; then SKIP_REASON="binary $RAVENSD missing (cargo build --release, or BUILD=1)"; return 1; fi
               cmd=("$RAVENSD" --config "$WORK/ravensd.toml") ;;
      *) SKIP_REASON="unknown peer '$p'"; return 1 ;;
    esac
    command -v "${cmd[0]}" >/dev/null 2>&1 || [ -x "/usr/sbin/${cmd[0]}" ] || { SKIP_REASON="${cmd[0]} not installed"; return 1; }
    if answers_ok "$PEER_IP" "$PEER_PORT"; then SKIP_REASON="something already answers on $PEER_IP:$PEER_PORT"; return 1; fi
    t0=$(now)
    start_bg "$p" taskset -c "$SERVER_CPU" "${cmd[@]}"
    PEER_PID=$LAST_PID
    wait_for "$READY_TIMEOUT" "$PEER_PID" answers_ok "$PEER_IP" "$PEER_PORT" || rc=$?
    if [ $rc != 0 ]; then
        local code=0
        if [ $rc = 2 ]; then
            wait "$PEER_PID" 2>/dev/null || code=$?
            SKIP_REASON="exited during start-up (status $code)"
        else
            SKIP_REASON="no correct answer for $PROBE within ${READY_TIMEOUT}s"
        fi
        stop_pid "$PEER_PID"
        log "$p: $SKIP_REASON; last lines of its log:"
        if [ -s "$WORK/$p.log" ]; then tail -15 "$WORK/$p.log" | sed 's/^/    /' >&2; else log "    (log empty)"; fi
        return 1
    fi
    LOAD_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}')
}

run_dnsperf() {  # args... -> LAST_QPS LAST_DONE LAST_LOST LAST_RCODES
    local out
    out=$(timeout $((DURATION + 60)) taskset -c "$LOAD_CPU" \
          dnsperf -s "$PEER_IP" -p "$PEER_PORT" -d "$WORK/queries.txt" "$@" 2>&1) || true
    printf '%s\n' "$out" >> "$WORK/dnsperf.out"
    LAST_QPS=$(printf '%s\n' "$out" | awk '/Queries per second:/{printf "%.0f", $4}')
    LAST_DONE=$(printf '%s\n' "$out" | awk '/Queries completed:/{print $3}')
    LAST_LOST=$(printf '%s\n' "$out" | awk '/Queries lost:/{print $3}')
    LAST_RCODES=$(printf '%s\n' "$out" | sed -n 's/^ *Response codes: *//p')
    : "${LAST_QPS:=0}" "${LAST_DONE:=0}" "${LAST_LOST:=NA}"
}

ROWS=()
FAIL=0
MEASURED=0
row() { ROWS+=("$(printf '%-8s | %8s | %-26s | %6s | %6s | %6s | %5s | %6s | %7s | %7s | %s' "$@")"); }

bench_peer() {
    local p=$1 r s0 s1 n0 n1 c0 c1 up u qps=() uj=() uw=() up_=() bqps=() buj=() buw=() bup=() lost=0 blost=0 rss0 rss1 bad="" out pct
    if ! start_peer "$p"; then
        log "SKIP $p: $SKIP_REASON"
        ROWS+=("$(printf '%-8s | SKIPPED: %s' "$p" "$SKIP_REASON")")
        return 0
    fi
    MEASURED=$((MEASURED + 1))
    rss0=$(rss_kb "$PEER_PID")
    log "$p ready in ${LOAD_S}s, RSS ${rss0} KiB; warm-up pass over $ZONE_NAMES names"
    run_dnsperf -n 1 -c "$CLIENTS" -t 2
    log "$p warm-up: completed=$LAST_DONE lost=$LAST_LOST rcodes=[$LAST_RCODES]"
    if [ "$p" != nsd ] && [ "$FREEZE_UPSTREAM" = 1 ]; then
        stop_upstream
        log "upstream nsd stopped: from here on every answer must come from $p's cache"
    fi
    answers_ok "$PEER_IP" "$PEER_PORT" || { log "$p: probe not answered after the warm-up"; bad="probe"; }
    for r in $(seq "$RUNS"); do
        s0=$(snap "$SERVER_CPU"); n0=$(proc_ns "$PEER_PID"); c0=$(ctx_sw "$PEER_PID")
        run_dnsperf -l "$DURATION" -c "$CLIENTS" ${QPS_CAP:+-Q "$QPS_CAP"}
        s1=$(snap "$SERVER_CPU"); n1=$(proc_ns "$PEER_PID"); c1=$(ctx_sw "$PEER_PID")
        read -r u1 u2 <<<"$(us_per_q "$s0" "$s1" "$LAST_DONE")"
        up=$(proc_us_per_q "$n0" "$n1" "$LAST_DONE")
        pct=$(busy_pct "$s0" "$s1")
        qps+=("$LAST_QPS"); uj+=("$u1"); uw+=("$u2"); up_+=("$up")
        log "$p dnsperf run $r: qps=$LAST_QPS completed=$LAST_DONE lost=$LAST_LOST srv_us/q=$u1 (wall-idle $u2) proc_us/q=$up srv_cpu=${pct}% q/wake=$(awk -v d="$LAST_DONE" -v c=$((c1 - c0)) 'BEGIN{printf "%.1f", c ? d / c : 0}') rcodes=[$LAST_RCODES]"
        [ "$LAST_QPS" != 0 ] || bad="${bad:+$bad,}no-answers"
        if [[ $LAST_LOST =~ ^[0-9]+$ ]]; then lost=$((lost + LAST_LOST)); else bad="${bad:+$bad,}no-output"; fi
        case "$LAST_RCODES" in *SERVFAIL*|*REFUSED*|*FORMERR*|*NXDOMAIN*) bad="${bad:+$bad,}rcodes[$LAST_RCODES]" ;; esac
    done
    if [ "$BLAST" = 1 ]; then
        for r in $(seq "$RUNS"); do
            s0=$(snap "$SERVER_CPU"); n0=$(proc_ns "$PEER_PID")
            out=$(timeout $((DURATION + 30)) taskset -c "$LOAD_CPU" "$WORK/dns-blaster" "$PEER_IP" "$PEER_PORT" \
                  "$WORK/queries.txt" "$DURATION" "$BLAST_WINDOW" "$BLAST_BATCH" 2>&1) || true
            s1=$(snap "$SERVER_CPU"); n1=$(proc_ns "$PEER_PID")
            local bq br bl
            bq=$(sed -n 's/.* qps=\([0-9]*\).*/\1/p' <<<"$out"); br=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$out")
            bl=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$out")
            read -r u1 u2 <<<"$(us_per_q "$s0" "$s1" "${br:-0}")"
            up=$(proc_us_per_q "$n0" "$n1" "${br:-0}")
            bqps+=("${bq:-0}"); buj+=("$u1"); buw+=("$u2"); bup+=("$up"); blost=$((blost + ${bl:-0}))
            log "$p blaster run $r: $out srv_us/q=$u1 (wall-idle $u2) proc_us/q=$up srv_cpu=$(busy_pct "$s0" "$s1")%"
        done
    fi
    rss1=$(rss_kb "$PEER_PID")
    kill -0 "$PEER_PID" 2>/dev/null || bad="${bad:+$bad,}died"
    stop_pid "$PEER_PID"
    [ -n "$NSD_PID" ] || start_upstream
    [ "$lost" = 0 ] || bad="${bad:+$bad,}lost"
    [ -z "$bad" ] || { FAIL=1; log "$p: PROBLEM: $bad"; }
    row "$p" "$(median "${qps[@]}")" "$(printf '%s/' "${qps[@]}" | sed 's:/$::')" \
        "$(median "${uj[@]}")" "$(median "${uw[@]}")" "$(median "${up_[@]}")" "$lost" "$LOAD_S" "$rss0" "${rss1:-NA}" "${bad:-ok}"
    if [ "$BLAST" = 1 ]; then
        row "  +blast" "$(median "${bqps[@]}")" "$(printf '%s/' "${bqps[@]}" | sed 's:/$::')" \
            "$(median "${buj[@]}")" "$(median "${buw[@]}")" "$(median "${bup[@]}")" "$blost" "" "" "" "blaster w=$BLAST_WINDOW"
    fi
}

# ---------------------------------------------------------------- main ----
start_upstream
answers_ok_last() { dig +short +tries=1 +time=1 -p "$NSD_PORT" "@$NSD_IP" "$LAST_NAME" A | grep -q .; }
answers_ok_last || die "nsd zone incomplete ($LAST_NAME not answered)"

for p in $PEERS; do
    if [ "$p" = nsd ]; then
        stop_upstream
        bench_peer nsd
        [ -n "$NSD_PID" ] || start_upstream
    else
        bench_peer "$p"
    fi
done

ver() { timeout 2 "$@" 2>&1 | head -1 || true; }
echo
echo "== dns-peers: $(nproc) cores, server CPU $SERVER_CPU, load CPU $LOAD_CPU; dnsperf -l $DURATION -c $CLIENTS${QPS_CAP:+ -Q $QPS_CAP} x$RUNS (median); $ZONE_NAMES names; upstream stopped after warm-up: $([ "$FREEZE_UPSTREAM" = 1 ] && echo yes || echo no)"
echo "== nsd $(nsd -v 2>&1 | awk 'NR==1{print $3}'), unbound $(unbound -V 2>/dev/null | awk 'NR==1{print $2}'), dnsmasq $(dnsmasq --version | awk 'NR==1{print $3}'), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/{print $2}'), ravensd $([ -x "$RAVENSD" ] && { v=$(ver "$RAVENSD" --version); echo "${v:-(no --version output)}"; } || echo missing), kernel $(uname -r)"
echo "== srv us/q = CPU $SERVER_CPU busy jiffies / answered queries; (w-i) = the same from wall minus exact idle time;"
echo "== proc = the server process's own run time (schedstat) / answered queries; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s | %8s | %-26s | %6s | %6s | %6s | %5s | %6s | %7s | %7s | %s\n' \
    peer "QPS med" "runs" "us/q" "(w-i)" proc lost "load s" "RSS KiB" "after" status
printf '%s\n' "${ROWS[@]}"
[ "$MEASURED" -gt 0 ] || { log "no peer could be measured"; exit 1; }
exit $FAIL
