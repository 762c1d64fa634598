#!/bin/bash
# dhcp-peers.sh -- relayed DHCPv4 DORA throughput of ravensd against Kea 2.2, in ONE invocation,
# with the same method for every peer (ported from the shared recipes dhcp-peers-bench.sh and
# dhcp-floor-bench.sh).
#
# Topology (two private network namespaces joined by one veth pair, created by this script):
#   $NS_PREFIX-pc   pc0  10.100.0.1/16   load generators (perfdhcp, dhcp-blaster)
#   $NS_PREFIX-srv  srv0 10.100.0.2/16   the server under test, bound to 10.100.0.2:67
# Both generators act as a relay agent: they send from 10.100.0.1:67 with giaddr 10.100.0.1 and
# the server answers giaddr:67; the server picks subnet 10.100.0.0/16 (pool 10.100.1.0 -
# 10.100.255.254) by giaddr. No raw sockets, no broadcast; nothing leaves the two namespaces.
#
# Peers ($PEERS), each pinned to CPU $SERVER_CPU, started fresh with EMPTY lease storage for
# every single run:
#   ravensd  $RAVENSD (release build), lease journal in a fresh data_dir, fsync'd before every
#            ACK (group commit; always on, there is no switch to turn it off)
#   kea      kea-dhcp4 2.2, memfile persist true, lfc-interval 0, dhcp-socket-type udp,
#            single-threaded (the 2.2 default). Kea's memfile appends but never fsyncs.
# A peer whose binary is missing or that does not start is SKIPPED with a message.
#
# Phases ($PHASES), per peer; rate = completed DORA exchanges/s = leases/s:
#   sweep    perfdhcp -g single -r RATE -R $NCLIENTS -p $SWEEP_PERIOD for RATE in $SWEEP_RATES,
#            stopping at the first failing rate. Pass: DISCOVER and REQUEST drops <= $DROP_LIMIT %
#            and achieved >= (100-$RATE_TOL) % of offered. "sustained" = achieved at the highest
#            passing rate. perfdhcp saturates at about 45k/s on this 2-vCPU machine.
#   max      $RUNS x perfdhcp -g single, no -r (flat out), -p $MAX_PERIOD; median.
#   blaster  the C generator dhcp-blaster.c (window $BLAST_WINDOW, 1 s loss timer): $RUNS x flat
#            out for $BLAST_PERIOD s (median); one run paced at $BLAST_FIXED/s for $SWEEP_PERIOD s
#            (paced runs use window $PACED_WINDOW);
#            then a paced sweep over $BLAST_RATES (one run each, stop at the first failure;
#            pass: lost+NAKs <= $DROP_LIMIT % of DISCOVERs and achieved >= (100-$RATE_TOL) % of
#            offered).
# Per run: drops, average REQUEST->ACK delay (perfdhcp's "avg delay" of the RA exchange; the
# blaster's avg_ra_ms), server CPU busy % and srv us/lease = (wall - idle) of CPU $SERVER_CPU /
# ACKs (idle is exact on this tickless kernel; includes the kernel's share on that CPU), and the
# server process's own CPU (utime+stime, 4 ms ticks) per lease.
#
# Safety: traffic only inside the two namespaces; every load bounded (perfdhcp -p, blaster
# SECONDS, timeout(1) around each); every daemon recorded by PID and stopped by that PID;
# namespaces and the temp dir removed on exit (KEEP_WORK=1 keeps the dir).
#
# Usage (root):  CARGO_TARGET_DIR=target cargo build --release --bins
#                scripts/bench/dhcp-peers.sh
#                RUNS=1 MAX_PERIOD=5 RAVENSD=target-netns/release/ravensd scripts/bench/dhcp-peers.sh
# Env: PEERS ("ravensd kea"), PHASES ("sweep max blaster"), RUNS (3), NCLIENTS (20000),
#      SWEEP_RATES ("5000 10000 15000 20000 25000 30000 35000 40000 45000"), SWEEP_PERIOD (5),
#      MAX_PERIOD (10), BLAST_PERIOD (10), BLAST_FIXED (50000),
#      BLAST_RATES ("5000 10000 15000 20000 25000 30000 40000 50000 60000 80000"),
#      PACED_WINDOW (4096: paced runs must not be limited by the window: 256 in flight at
#      10 ms per exchange caps a run at about 25k/s),
#      BLAST_WINDOW (256), DROP_LIMIT (1), RATE_TOL (1), SERVER_CPU (1), LOAD_CPU (0),
#      NS_PREFIX (rvb<pid%1000>), RAVENSD (target/release/ravensd), KEEP_WORK (0), NO_INSTALL (0).
# Exit: 0 when at least one peer was measured; 1 when none could be; 2 on a setup failure.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)

PEERS=${PEERS:-"ravensd kea"}
PHASES=${PHASES:-"sweep max blaster"}
RUNS=${RUNS:-3}
NCLIENTS=${NCLIENTS:-20000}
SWEEP_RATES=${SWEEP_RATES:-"5000 10000 15000 20000 25000 30000 35000 40000 45000"}
SWEEP_PERIOD=${SWEEP_PERIOD:-5}
MAX_PERIOD=${MAX_PERIOD:-10}
BLAST_PERIOD=${BLAST_PERIOD:-10}
BLAST_FIXED=${BLAST_FIXED:-50000}
BLAST_RATES=${BLAST_RATES:-"5000 10000 15000 20000 25000 30000 40000 50000 60000 80000"}
BLAST_WINDOW=${BLAST_WINDOW:-256}
PACED_WINDOW=${PACED_WINDOW:-4096}
DROP_LIMIT=${DROP_LIMIT:-1}
RATE_TOL=${RATE_TOL:-1}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
NS_PREFIX=${NS_PREFIX:-rvb$(( $$ % 1000 ))}
RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}
KEEP_WORK=${KEEP_WORK:-0}
NO_INSTALL=${NO_INSTALL:-0}

PC=$NS_PREFIX-pc; SRV=$NS_PREFIX-srv
GI=10.100.0.1; SRV_IP=10.100.0.2

# log, die, ensure_pkgs (STOP_UNITS: services the packages would start), start_bg, stop_pid
. "$(dirname "$0")/lib.sh"
STOP_UNITS=(kea-dhcp4-server)

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
for v in PACED_WINDOW BLAST_FIXED RUNS NCLIENTS SWEEP_PERIOD MAX_PERIOD BLAST_PERIOD BLAST_WINDOW SERVER_CPU LOAD_CPU RATE_TOL; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer (got '${!v}')"
done
for v in SWEEP_PERIOD MAX_PERIOD BLAST_PERIOD; do
    [ "${!v}" -ge 1 ] && [ "${!v}" -le 120 ] || die "$v must be 1..120 s"
done
[ "$RUNS" -ge 1 ] && [ "$NCLIENTS" -ge 1 ] && [ "$NCLIENTS" -le 60000 ] || die "need RUNS >= 1 and NCLIENTS 1..60000"
[ "$(nproc)" -gt "$SERVER_CPU" ] && [ "$(nproc)" -gt "$LOAD_CPU" ] || die "CPU $SERVER_CPU or $LOAD_CPU does not exist"
[[ $NS_PREFIX =~ ^[a-z0-9]{1,8}$ ]] || die "NS_PREFIX must be 1-8 of [a-z0-9]"

STARTED_PIDS=(); MADE_NS=()
cleanup() {
    local rc=$? i ns
    set +e
    for (( i=${#STARTED_PIDS[@]}-1; i>=0; i-- )); do stop_pid "${STARTED_PIDS[$i]}"; done
    for ns in "${MADE_NS[@]}"; do
        [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && log "namespace $ns still has processes: $(ip netns pids "$ns" | tr '\n' ' ')"
        ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
    done
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        if [ "$KEEP_WORK" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    fi
    exit $rc
}

median() { printf '%s\n' "$@" | grep -v '^NA$' | sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"} else if(NR%2){print a[(NR+1)/2]} else {printf "%.2f\n",(a[NR/2]+a[NR/2+1])/2} }'; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# snap: "epoch idle_of_SERVER_CPU" (idle+iowait in USER_HZ ticks; exact on a tickless kernel)
snap() { printf '%s %s\n' "$(date +%s.%N)" "$(awk -v c="cpu$SERVER_CPU" '$1==c{print $5+$6}' /proc/stat)"; }
busy_pct() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," "); split(b,y," ");
    w=y[1]-x[1]; if(w<=0){print "NA"; exit} p=100*(w-(y[2]-x[2])/hz)/w; if(p<0)p=0; printf "%.0f", p}'; }
us_per() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," "); split(b,y," ");
    w=y[1]-x[1]; i=(y[2]-x[2])/hz; if(n>0) printf "%.2f", (w-i)*1e6/n; else print "NA"}'; }
proc_cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
ticks_us_per() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{ if(n>0) printf "%.2f", t/hz*1e6/n; else print "NA"}'; }

# ------------------------------------------------------------- preflight ----
ensure_pkgs perfdhcp:kea-admin kea-dhcp4:kea-dhcp4-server taskset:util-linux cc:gcc ip:iproute2
WORK=$(mktemp -d /tmp/ravens-dhcp-peers.XXXXXX)
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT TERM
cc -O2 -o "$WORK/dhcp-blaster" "$BENCH_DIR/dhcp-blaster.c" || die "building dhcp-blaster failed"

# -------------------------------------------------------------- topology ----
for ns in "$PC" "$SRV"; do
    ip netns list | awk '{print $1}' | grep -qx "$ns" && die "namespace $ns exists already (another run? set NS_PREFIX)"
    ip netns add "$ns"; MADE_NS+=("$ns")
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add pc0 netns "$PC" type veth peer name srv0 netns "$SRV"
nsx "$PC" ip addr add "$GI/16" dev pc0
nsx "$SRV" ip addr add "$SRV_IP/16" dev srv0
nsx "$PC" ip link set pc0 up
nsx "$SRV" ip link set srv0 up
for i in $(seq 50); do
    nsx "$PC" ip -o link show pc0 | grep -q 'state UP' && nsx "$SRV" ip -o link show srv0 | grep -q 'state UP' && break
    sleep 0.1
done

# --------------------------------------------------------------- servers ----
RUN_N=0
# start_server PEER -> SERVER_PID, SERVER_STORE (lease file or journal); non-zero if it failed
start_server() {
    local peer=$1 i
    RUN_N=$((RUN_N + 1))
    local dir="$WORK/$peer-$RUN_N"
    mkdir -p "$dir"
    case $peer in
    ravensd)
        mkdir -p "$dir/data"
        cat > "$dir/ravens.toml" <<EOF
[node]
name = "bench"
data_dir = "$dir/data"
dns_listen = ["127.0.0.1:5353"]
admin_listen = "127.0.0.1:0"
dhcp_listen = "$SRV_IP:67"

[dns]
upstreams = ["udp://127.0.0.1:9"]
serve_networks = ["127.0.0.0/8"]

[[subnet]]
name = "bench"
cidr = "10.100.0.0/16"
pools = ["10.100.1.0-10.100.255.254"]
lease_time = "1h"
EOF
        start_bg "ravensd-$RUN_N" env RAVENS_LOG=info ip netns exec "$SRV" taskset -c "$SERVER_CPU" \
            "$RAVENSD" --config "$dir/ravens.toml"
        SERVER_PID=$LAST_PID; SERVER_STORE="$dir/data/leases.journal"
        for i in $(seq 200); do
            grep -q 'ready' "$WORK/ravensd-$RUN_N.log" 2>/dev/null && break
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q 'listening for DHCP on' "$WORK/ravensd-$RUN_N.log" && grep -q ready "$WORK/ravensd-$RUN_N.log" \
            || { tail -5 "$WORK/ravensd-$RUN_N.log" >&2; stop_pid "$SERVER_PID"; return 1; }
        ;;
    kea)
        mkdir -p "$dir/run"
        cat > "$dir/kea.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "srv0" ], "dhcp-socket-type": "udp",
                           "service-sockets-max-retries": 10,
                           "service-sockets-retry-wait-time": 500 },
    "lease-database": { "type": "memfile", "persist": true, "lfc-interval": 0,
                        "name": "$dir/kea.leases" },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 100, "subnet": "10.100.0.0/16",
                   "pools": [ { "pool": "10.100.1.0 - 10.100.255.254" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                   "output_options": [ { "output": "stdout" } ] } ] } }
EOF
        start_bg "kea-$RUN_N" env KEA_LOCKFILE_DIR="$dir/run" KEA_PIDFILE_DIR="$dir/run" \
            ip netns exec "$SRV" taskset -c "$SERVER_CPU" kea-dhcp4 -c "$dir/kea.json"
        SERVER_PID=$LAST_PID; SERVER_STORE="$dir/kea.leases"
        sleep 1
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -5 "$WORK/kea-$RUN_N.log" >&2; return 1; }
        ;;
    *) die "unknown peer $peer" ;;
    esac
    SERVER_T0=$(proc_cpu_ticks "$SERVER_PID")
}
stop_server() {  # -> SERVER_TICKS (process CPU ticks used since start_server)
    SERVER_TICKS=$(( $(proc_cpu_ticks "$SERVER_PID") - SERVER_T0 ))
    stop_pid "$SERVER_PID"
}
peer_version() {
    case $1 in
    ravensd) "$RAVENSD" --version 2>/dev/null | head -1 || echo "ravensd (version unknown)" ;;
    kea) echo "kea-dhcp4 $(kea-dhcp4 -v)" ;;
    esac
}

# ------------------------------------------------------------ generators ----
# perf NAME PERIOD ARGS... -> P_RATE P_DO P_RA P_ACKS P_DLY (REQUEST->ACK avg ms)
perf() {
    local name=$1 p=$2 rc=0; shift 2
    timeout $((p + 30)) ip netns exec "$PC" taskset -c "$LOAD_CPU" \
        perfdhcp -4 -g single -l "$GI" -p "$p" -R "$NCLIENTS" "$@" "$SRV_IP" > "$WORK/$name.out" 2>&1 || rc=$?
    printf '## %s: perfdhcp -4 -g single -l %s -p %s -R %s %s %s (rc=%s)\n' "$name" "$GI" "$p" "$NCLIENTS" "$*" "$SRV_IP" "$rc" >> "$WORK/perfdhcp.all"
    cat "$WORK/$name.out" >> "$WORK/perfdhcp.all"
    local o="$WORK/$name.out"
    P_RATE=$(awk '/^Rate:/{printf "%.0f", $2}' "$o"); P_RATE=${P_RATE:-0}
    P_DO=$(awk '/drops ratio:/{n++; if(n==1){v=$3; if(v ~ /nan/) v=100; printf "%.2f", v}}' "$o"); P_DO=${P_DO:-100}
    P_RA=$(awk '/drops ratio:/{n++; if(n==2){v=$3; if(v ~ /nan/) v=100; printf "%.2f", v}}' "$o"); P_RA=${P_RA:-100}
    P_ACKS=$(awk '/received packets:/{n++; if(n==2) print $3}' "$o"); P_ACKS=${P_ACKS:-0}
    P_DLY=$(awk '/avg delay:/{n++; if(n==2) print $3}' "$o"); P_DLY=${P_DLY:-NA}
    # rc 3 = some exchanges unsuccessful (drops): still a measurement
    [ $rc = 0 ] || [ $rc = 3 ]
}
# blast NAME SECONDS RATE [WINDOW] -> B_RATE B_ACKS B_DISC B_LOST B_NAKS B_DORA B_RA
blast() {
    local name=$1 secs=$2 rate=$3 win=${4:-$BLAST_WINDOW}
    timeout $((secs + 30)) ip netns exec "$PC" taskset -c "$LOAD_CPU" "$WORK/dhcp-blaster" \
        "$GI" "$SRV_IP" "$secs" "$rate" "$win" "$NCLIENTS" > "$WORK/$name.out" 2>&1 || true
    printf '## %s: dhcp-blaster %s %s %s %s %s %s\n%s\n' "$name" "$GI" "$SRV_IP" "$secs" "$rate" "$win" "$NCLIENTS" \
        "$(cat "$WORK/$name.out")" >> "$WORK/blaster.all"
    local o; o=$(cat "$WORK/$name.out")
    B_RATE=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$o"); B_RATE=${B_RATE:-0}
    B_ACKS=$(sed -n 's/.* acks=\([0-9]*\).*/\1/p' <<<"$o"); B_ACKS=${B_ACKS:-0}
    B_DISC=$(sed -n 's/^discovers=\([0-9]*\).*/\1/p' <<<"$o"); B_DISC=${B_DISC:-0}
    B_LOST=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' <<<"$o"); B_LOST=${B_LOST:-NA}
    B_NAKS=$(sed -n 's/.* naks=\([0-9]*\).*/\1/p' <<<"$o"); B_NAKS=${B_NAKS:-NA}
    B_DORA=$(sed -n 's/.*avg_dora_ms=\([0-9.]*\).*/\1/p' <<<"$o"); B_DORA=${B_DORA:-NA}
    B_RA=$(sed -n 's/.*avg_ra_ms=\([0-9.]*\).*/\1/p' <<<"$o"); B_RA=${B_RA:-NA}
    [ "$B_ACKS" -gt 0 ]
}
pass_perf() { awk -v o="$1" -v a="$2" -v d="$3" -v r="$4" -v l="$DROP_LIMIT" -v t="$RATE_TOL" \
    'BEGIN{exit !(d<=l && r<=l && a >= o*(100-t)/100)}'; }
pass_blast() { awk -v o="$1" -v a="$2" -v disc="$3" -v lost="$4" -v naks="$5" -v l="$DROP_LIMIT" -v t="$RATE_TOL" \
    'BEGIN{ if (disc<=0 || lost=="NA") exit 1; exit !(100*(lost+naks)/disc <= l && a >= o*(100-t)/100)}'; }
store_note() {  # what the server persisted: journal bytes (ravensd) or CSV lines (kea)
    if [ -f "$SERVER_STORE" ]; then
        case $1 in
        ravensd) printf 'journal=%sB' "$(stat -c %s "$SERVER_STORE")" ;;
        kea) printf 'csv_lines=%s' "$(grep -c . "$SERVER_STORE" || true)" ;;
        esac
    else printf 'store=missing'; fi
}

# --------------------------------------------------------------- phases ----
RESULTS=(); MEASURED=0
declare -A SUSTAINED_PERF SUSTAINED_BLAST MAX_PERF MAX_BLAST
ACTIVE=()
for peer in $PEERS; do
    case $peer in
    ravensd) [ -x "$RAVENSD" ] || { log "SKIP ravensd: $RAVENSD not found (cargo build --release --bins; RAVENSD=...)"; RESULTS+=("$(printf '%-8s SKIPPED: %s not found' ravensd "$RAVENSD")"); continue; } ;;
    kea) command -v kea-dhcp4 >/dev/null || { log "SKIP kea: kea-dhcp4 not installed"; RESULTS+=("kea      SKIPPED: kea-dhcp4 not installed"); continue; } ;;
    *) die "unknown peer $peer" ;;
    esac
    if ! start_server "$peer"; then
        log "SKIP $peer: it did not start"; RESULTS+=("$(printf '%-8s SKIPPED: did not start' "$peer")"); continue
    fi
    stop_server
    ACTIVE+=("$peer")
    log "== $peer: $(peer_version "$peer")"
done
MEASURED=${#ACTIVE[@]}
# Background load on both CPUs over 2 s before measuring (other work on this shared machine).
b0=$(awk '$1=="cpu"{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat); sleep 2
b1=$(awk '$1=="cpu"{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
BACKGROUND=$(awk -v a="$b0" -v b="$b1" 'BEGIN{split(a,x," "); split(b,y," "); d=y[2]-x[2]; if(d>0) printf "%.0f", 100*(y[1]-x[1])/d; else print "NA"}')
log "background CPU busy before the runs: $BACKGROUND% (of both CPUs)"
# Phases outside, peers inside: the peers' runs of one phase are close in time, which matters
# on a noisy shared host.
for phase in $PHASES; do
    for peer in "${ACTIVE[@]}"; do
    case $phase in
    sweep)
        best=0; bestrate=0; bestdly=NA; trail=""
        for rate in $SWEEP_RATES; do
            start_server "$peer" || { log "$peer did not start"; break; }
            s0=$(snap); ok=1; perf "$peer-sweep-$rate" "$SWEEP_PERIOD" -r "$rate" || ok=0; s1=$(snap)
            stop_server
            [ $ok = 1 ] || { log "$peer sweep -r $rate: perfdhcp failed"; tail -3 "$WORK/$peer-sweep-$rate.out" >&2; break; }
            us=$(us_per "$s0" "$s1" "$P_ACKS")
            log "$peer sweep -r $rate: rate=$P_RATE drops DO=$P_DO% RA=$P_RA% RA_delay=${P_DLY}ms srv_busy=$(busy_pct "$s0" "$s1")% srv_us/lease=$us proc_us/lease=$(ticks_us_per "$SERVER_TICKS" "$P_ACKS") $(store_note "$peer")"
            trail+="$rate:$P_RATE/${P_DO}%/${P_RA}%/${P_DLY}ms "
            if pass_perf "$rate" "$P_RATE" "$P_DO" "$P_RA"; then best=$rate; bestrate=$P_RATE; bestdly=$P_DLY; else break; fi
        done
        SUSTAINED_PERF[$peer]=$bestrate
        RESULTS+=("$(printf '%-8s perfdhcp sweep  (-r, -p %s): sustained %s leases/s at offered %s/s (drops <= %s%%), REQUEST->ACK %s ms\n         steps [offered:achieved/dropDO/dropRA/RA-delay]: %s' \
            "$peer" "$SWEEP_PERIOD" "$bestrate" "$best" "$DROP_LIMIT" "$bestdly" "${trail% }")")
        ;;
    max)
        rates=(); dos=(); ras=(); dly=(); busy=(); uss=(); pus=()
        for r in $(seq "$RUNS"); do
            start_server "$peer" || { log "$peer did not start"; break; }
            s0=$(snap); perf "$peer-max-$r" "$MAX_PERIOD" || log "$peer max run $r: perfdhcp failed"; s1=$(snap)
            stop_server
            rates+=("$P_RATE"); dos+=("$P_DO"); ras+=("$P_RA"); dly+=("$P_DLY")
            busy+=("$(busy_pct "$s0" "$s1")"); uss+=("$(us_per "$s0" "$s1" "$P_ACKS")"); pus+=("$(ticks_us_per "$SERVER_TICKS" "$P_ACKS")")
            log "$peer max run $r: rate=$P_RATE drops DO=$P_DO% RA=$P_RA% RA_delay=${P_DLY}ms srv_busy=${busy[-1]}% srv_us/lease=${uss[-1]} proc_us/lease=${pus[-1]} $(store_note "$peer")"
        done
        MAX_PERF[$peer]=$(median "${rates[@]}")
        RESULTS+=("$(printf '%-8s perfdhcp max    (no -r, -p %s): median %s leases/s runs=[%s] drop%%DO=[%s] drop%%RA=[%s] RA-delay ms=[%s] srv busy %%=[%s] srv us/lease=%s proc us/lease=%s' \
            "$peer" "$MAX_PERIOD" "${MAX_PERF[$peer]}" "${rates[*]}" "${dos[*]}" "${ras[*]}" "${dly[*]}" "${busy[*]}" "$(median "${uss[@]}")" "$(median "${pus[@]}")")")
        ;;
    blaster)
        rates=(); lost=(); dora=(); ra=(); busy=(); uss=(); pus=()
        for r in $(seq "$RUNS"); do
            start_server "$peer" || { log "$peer did not start"; break; }
            s0=$(snap); blast "$peer-blast-max-$r" "$BLAST_PERIOD" 0 || log "$peer blaster run $r: no ACKs"; s1=$(snap)
            stop_server
            rates+=("$B_RATE"); lost+=("$B_LOST/$B_NAKS"); dora+=("$B_DORA"); ra+=("$B_RA")
            busy+=("$(busy_pct "$s0" "$s1")"); uss+=("$(us_per "$s0" "$s1" "$B_ACKS")"); pus+=("$(ticks_us_per "$SERVER_TICKS" "$B_ACKS")")
            log "$peer blaster max run $r: $(cat "$WORK/$peer-blast-max-$r.out") srv_busy=${busy[-1]}% srv_us/lease=${uss[-1]} proc_us/lease=${pus[-1]} $(store_note "$peer")"
        done
        MAX_BLAST[$peer]=$(median "${rates[@]}")
        RESULTS+=("$(printf '%-8s blaster max     (window %s, %s s): median %s leases/s runs=[%s] lost/naks=[%s] DORA ms=[%s] REQUEST->ACK ms=[%s] srv busy %%=[%s] srv us/lease=%s proc us/lease=%s' \
            "$peer" "$BLAST_WINDOW" "$BLAST_PERIOD" "${MAX_BLAST[$peer]}" "${rates[*]}" "${lost[*]}" "${dora[*]}" "${ra[*]}" "${busy[*]}" "$(median "${uss[@]}")" "$(median "${pus[@]}")")")
        if [ "$BLAST_FIXED" -gt 0 ] && start_server "$peer"; then
            s0=$(snap); blast "$peer-blast-fixed" "$SWEEP_PERIOD" "$BLAST_FIXED" "$PACED_WINDOW" || true; s1=$(snap)
            stop_server
            RESULTS+=("$(printf '%-8s blaster paced   %s/s offered, window '"$PACED_WINDOW"', %s s: %s leases/s, lost=%s naks=%s of %s, DORA %s ms, REQUEST->ACK %s ms, srv busy %s%%, srv us/lease=%s proc us/lease=%s' \
                "$peer" "$BLAST_FIXED" "$SWEEP_PERIOD" "$B_RATE" "$B_LOST" "$B_NAKS" "$B_DISC" "$B_DORA" "$B_RA" "$(busy_pct "$s0" "$s1")" \
                "$(us_per "$s0" "$s1" "$B_ACKS")" "$(ticks_us_per "$SERVER_TICKS" "$B_ACKS")")")
            log "${RESULTS[-1]}"
        fi
        best=0; bestrate=0; trail=""
        for rate in $BLAST_RATES; do
            start_server "$peer" || { log "$peer did not start"; break; }
            s0=$(snap); blast "$peer-blast-$rate" "$SWEEP_PERIOD" "$rate" "$PACED_WINDOW" || true; s1=$(snap)
            stop_server
            us=$(us_per "$s0" "$s1" "$B_ACKS")
            log "$peer blaster paced $rate/s: $(cat "$WORK/$peer-blast-$rate.out") srv_busy=$(busy_pct "$s0" "$s1")% srv_us/lease=$us proc_us/lease=$(ticks_us_per "$SERVER_TICKS" "$B_ACKS")"
            trail+="$rate:$B_RATE/lost$B_LOST/nak$B_NAKS/${B_RA}ms/${us}us "
            if pass_blast "$rate" "$B_RATE" "$B_DISC" "$B_LOST" "$B_NAKS"; then best=$rate; bestrate=$B_RATE; else break; fi
        done
        SUSTAINED_BLAST[$peer]=$bestrate
        RESULTS+=("$(printf '%-8s blaster sweep   (window '"$PACED_WINDOW"', %s s each): sustained %s leases/s at offered %s/s (lost+NAK <= %s%%)\n         steps [offered:achieved/lost/naks/REQUEST->ACK/srv us per lease]: %s' \
            "$peer" "$SWEEP_PERIOD" "$bestrate" "$best" "$DROP_LIMIT" "${trail% }")")
        ;;
    *) die "unknown phase $phase" ;;
    esac
    done
done

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "NA"}'; }
echo
echo "== dhcp-peers: $(nproc) cores, server cpu $SERVER_CPU, load cpu $LOAD_CPU, relay mode (giaddr $GI -> $SRV_IP), -R $NCLIENTS, kernel $(uname -r)"
echo "== versions: $(for p in $PEERS; do printf '%s; ' "$(peer_version "$p")"; done)perfdhcp $(perfdhcp -v 2>&1 | head -1)"
echo "== background CPU busy before the runs: $BACKGROUND% of both CPUs (noise indicator: other work on this shared host)"
echo "== rate = completed DORA exchanges/s (leases/s); fresh server and empty lease storage per run; ravensd fsyncs its journal before every ACK, Kea's memfile does not fsync"
printf '%s\n' "${RESULTS[@]}"
if [[ " $PEERS " == *" ravensd "* && " $PEERS " == *" kea "* ]]; then
    echo "== ravensd / kea: perfdhcp sustained $(ratio "${SUSTAINED_PERF[ravensd]:-}" "${SUSTAINED_PERF[kea]:-}")x, perfdhcp max $(ratio "${MAX_PERF[ravensd]:-}" "${MAX_PERF[kea]:-}")x, blaster max $(ratio "${MAX_BLAST[ravensd]:-}" "${MAX_BLAST[kea]:-}")x, blaster sustained (<= ${DROP_LIMIT}% lost) $(ratio "${SUSTAINED_BLAST[ravensd]:-}" "${SUSTAINED_BLAST[kea]:-}")x (target >= 2x; perfdhcp saturates near 45k/s here)"
fi
[ "$MEASURED" -gt 0 ] || { log "no peer could be measured"; exit 1; }
exit 0
