#!/bin/bash
# dhcp-pair.sh -- relayed DHCPv4 DORA throughput of a ravensd PAIR against ONE ravensd, in one
# invocation, with one method for both (issue 5: pair >= 80 % of a single node's).
#
# Topology (private namespaces made by this script, joined by a bridge in the first one):
#   $NS_PREFIX-pc   br0 10.100.0.1/16 (perfdhcp, the first relay: giaddr 10.100.0.1)
#                       10.100.0.9/16 (dhcp-fanout: the relay's forwarding to every server)
#   $NS_PREFIX-a    srv0 10.100.0.2/16   ravensd "a"
#   $NS_PREFIX-b    srv0 10.100.0.3/16   ravensd "b" (pair runs only)
# perfdhcp sends to 10.100.0.9:67; dhcp-fanout.c forwards each request, unchanged but for
# hops + 1, to every server under test (as dhcrelay pointed at both does); a server answers
# giaddr:67, i.e. perfdhcp directly. The pair's nodes gossip over the bridge; each answers its
# RFC 3074 buckets and replicates every lease to the other. Nothing leaves the namespaces.
#
# Setups, interleaved run by run (single, pair, single, pair, ...) so that both see the same
# background load; every run starts fresh servers with empty data dirs:
#   single   ravensd "a" alone (no [cluster]), fan-out to 10.100.0.2
#   pair     ravensd "a" + "b" ([cluster], shared secret), fan-out to both; the load starts once
#            both nodes own their buckets
# Servers are pinned to CPU $SERVER_CPU -- BOTH pair nodes on that one CPU by default
# (PAIR_PIN=shared: the pair's whole work, every request parsed twice plus gossip, on the core a
# single node has alone; pessimistic for the pair). PAIR_PIN=split puts "b" on $LOAD_CPU
# (then b competes with the generators). perfdhcp and dhcp-fanout run on CPU $LOAD_CPU.
#
# Phases ($PHASES):
#   max     $RUNS x perfdhcp -g single, no -r (flat out), -p $PERIOD; median leases/s
#   sweep   perfdhcp -r RATE for RATE in $SWEEP_RATES, one run each, stop at the first failure
#           (DISCOVER or REQUEST drops > $DROP_LIMIT % or achieved < 99 % of offered);
#           "sustained" = achieved at the highest passing rate
# Per run: leases/s, drops, the servers' own CPU time per ACK (utime + stime of the ravensd
# processes: robust to other load on a shared machine, unlike leases/s), CPU $SERVER_CPU busy %,
# the 1-min load average, and for the pair the leases each node lists afterwards (both must
# list every lease: replication kept up).
#
# Safety: traffic only inside the namespaces; every load bounded (perfdhcp -p, fan-out SECONDS,
# timeout(1) around each); daemons recorded by PID and stopped by that PID; namespaces and the
# temp dir removed on exit (KEEP_WORK=1 keeps the dir).
#
# Usage (root):  cargo build --release --bins && scripts/bench/dhcp-pair.sh
# Env: RAVENSD (target/release/ravensd; dnsctl beside it), PHASES ("max sweep"), RUNS (3),
#      PERIOD (5), NCLIENTS (20000), SWEEP_RATES ("5000 10000 15000 20000 25000 30000 35000"),
#      DROP_LIMIT (1), SERVER_CPU (1), LOAD_CPU (0), PAIR_PIN (shared|split), NS_PREFIX
#      (rvp<pid%1000>), KEEP_WORK (0).
# Exit: 0 when both setups were measured, 1 when not, 2 on a setup failure.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RAVENSD=${RAVENSD:-$ROOT/target/release/ravensd}
DNSCTL=$(dirname "$RAVENSD")/dnsctl
PHASES=${PHASES:-"max sweep"}
RUNS=${RUNS:-3}
PERIOD=${PERIOD:-5}
NCLIENTS=${NCLIENTS:-20000}
SWEEP_RATES=${SWEEP_RATES:-"5000 10000 15000 20000 25000 30000 35000"}
DROP_LIMIT=${DROP_LIMIT:-1}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
PAIR_PIN=${PAIR_PIN:-shared}
NS_PREFIX=${NS_PREFIX:-rvp$(( $$ % 1000 ))}
KEEP_WORK=${KEEP_WORK:-0}

PC=$NS_PREFIX-pc; NA=$NS_PREFIX-a; NB=$NS_PREFIX-b
GI=10.100.0.1; FAN=10.100.0.9; IP_A=10.100.0.2; IP_B=10.100.0.3

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fatal() { say "FATAL: $*"; exit 2; }

[ "$(id -u)" = 0 ] || fatal "must run as root (network namespaces)"
for v in RUNS PERIOD NCLIENTS DROP_LIMIT SERVER_CPU LOAD_CPU; do
    [[ ${!v} =~ ^[0-9]+$ ]] || fatal "$v must be a non-negative integer (got '${!v}')"
done
[ "$RUNS" -ge 1 ] && [ "$PERIOD" -ge 1 ] && [ "$PERIOD" -le 120 ] || fatal "need RUNS >= 1 and PERIOD 1..120 s"
[ "$NCLIENTS" -ge 1 ] && [ "$NCLIENTS" -le 60000 ] || fatal "NCLIENTS must be 1..60000"
[[ $PAIR_PIN == shared || $PAIR_PIN == split ]] || fatal "PAIR_PIN must be shared or split"
[[ $NS_PREFIX =~ ^[a-z0-9]{1,8}$ ]] || fatal "NS_PREFIX must be 1-8 of [a-z0-9]"
[ -x "$RAVENSD" ] && [ -x "$DNSCTL" ] || fatal "$RAVENSD or $DNSCTL missing (cargo build --release --bins)"
for t in perfdhcp taskset cc ip timeout; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || fatal "$t not found (scripts/install-test-deps installs perfdhcp: kea-admin)"
done

OURS=(); NETNS=()
bg() {  # NAME CMD... : in the background, output to $WORK/NAME.log; PID in BG_PID
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    BG_PID=$!; OURS+=("$BG_PID")
}
end_pid() {  # PID : TERM, up to 5 s, then KILL; only PIDs this script started
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
teardown() {
    local rc=$? pid ns
    set +e
    for pid in "${OURS[@]}"; do kill -0 "$pid" 2>/dev/null && end_pid "$pid"; done
    for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || say "could not delete namespace $ns"; done
    if [ -n "${WORK:-}" ]; then
        if [ "$KEEP_WORK" = 1 ]; then say "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    fi
    exit $rc
}
WORK=$(mktemp -d /tmp/ravens-dhcp-pair.XXXXXX)
chmod 755 "$WORK"
trap teardown EXIT
trap 'exit 130' INT TERM
cc -O2 -o "$WORK/dhcp-fanout" "$HERE/dhcp-fanout.c" || fatal "building dhcp-fanout failed"
"$RAVENSD" --gen-secret "$WORK/cluster.key" >/dev/null

# ---------------------------------------------------------------- topology
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for ns in "$PC" "$NA" "$NB"; do
    ip netns list | awk '{print $1}' | grep -qx "$ns" && fatal "namespace $ns exists (another run? set NS_PREFIX)"
    ip netns add "$ns"; NETNS+=("$ns")
    in_ns "$ns" ip link set lo up
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
in_ns "$PC" ip link add br0 type bridge
in_ns "$PC" ip addr add "$GI/16" dev br0
in_ns "$PC" ip addr add "$FAN/16" dev br0
in_ns "$PC" ip link set br0 up
for pair in "$NA:$IP_A:pa" "$NB:$IP_B:pb"; do
    IFS=: read -r ns addr port <<<"$pair"
    ip link add "$port" netns "$PC" type veth peer name srv0 netns "$ns"
    in_ns "$PC" ip link set "$port" master br0
    in_ns "$PC" ip link set "$port" up
    in_ns "$ns" ip addr add "$addr/16" dev srv0
    in_ns "$ns" ip link set srv0 up
done
for i in $(seq 50); do
    in_ns "$PC" ip -o link show | grep -v ': lo:' | grep -qv 'state UP' || break
    sleep 0.1
done

# ----------------------------------------------------------------- servers
N_START=0
node_conf() {  # NAME IP PEER_IP|"" DIR
    local name=$1 ip=$2 peer=$3 dir=$4
    printf '[node]\nname = "%s"\ndata_dir = "%s/data"\ndns_listen = ["127.0.0.1:5353"]\nadmin_listen = "127.0.0.1:0"\ndhcp_listen = "%s:67"\n\n' \
        "$name" "$dir" "$ip"
    [ -n "$peer" ] && printf '[cluster]\nname = "bench"\ngossip_listen = "%s:7946"\npeers = ["%s:7946"]\nsecret_file = "%s"\n\n' \
        "$ip" "$peer" "$WORK/cluster.key"
    printf '[dns]\nupstreams = ["udp://127.0.0.1:9"]\nserve_networks = ["127.0.0.0/8"]\n\n'
    printf '[[subnet]]\nname = "bench"\ncidr = "10.100.0.0/16"\npools = ["10.100.1.0-10.100.255.254"]\nlease_time = "1h"\n'
}
start_node() {  # NAME NS IP PEER CPU -> NODE_PID, NODE_LOG
    local name=$1 ns=$2 ip=$3 peer=$4 cpu=$5 dir i
    N_START=$((N_START + 1)); dir="$WORK/$name-$N_START"
    mkdir -p "$dir/data"
    node_conf "$name" "$ip" "$peer" "$dir" > "$dir/ravens.toml"
    bg "$name-$N_START" env RAVENS_LOG=info ip netns exec "$ns" taskset -c "$cpu" "$RAVENSD" --config "$dir/ravens.toml"
    NODE_PID=$BG_PID; NODE_LOG="$WORK/$name-$N_START.log"; NODE_DIR=$dir
    for i in $(seq 200); do
        grep -q ' ready' "$NODE_LOG" 2>/dev/null && return 0
        kill -0 "$NODE_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -5 "$NODE_LOG" >&2; return 1
}
lease_count() {  # NS LOG DIR : leases the node lists (admin API, through dnsctl)
    local admin
    admin=$(sed -n 's/.*admin API on http:\/\/\([0-9.:]*\).*/\1/p' "$2" | head -1)
    in_ns "$1" "$DNSCTL" --node "$admin" --token-file "$3/data/admin.token" --json leases 2>/dev/null | grep -o '"ip":' | wc -l
}
# up SETUP -> SERVERS (fan-out targets), PIDS; the pair once each node owns its buckets
up() {
    PIDS=()
    case $1 in
    single)
        start_node a "$NA" "$IP_A" "" "$SERVER_CPU" || return 1
        PIDS=("$NODE_PID"); SERVERS="$IP_A"
        ;;
    pair)
        local b_cpu=$SERVER_CPU i
        [ "$PAIR_PIN" = split ] && b_cpu=$LOAD_CPU
        start_node a "$NA" "$IP_A" "$IP_B" "$SERVER_CPU" || return 1
        PIDS=("$NODE_PID"); LOG_A=$NODE_LOG; DIR_A=$NODE_DIR
        start_node b "$NB" "$IP_B" "$IP_A" "$b_cpu" || return 1
        PIDS+=("$NODE_PID"); LOG_B=$NODE_LOG; DIR_B=$NODE_DIR
        SERVERS="$IP_A $IP_B"
        for i in $(seq 100); do
            grep -q 'owners=\["[ab]", "[ab]"\]' "$LOG_A" && grep -q 'owners=\["[ab]", "[ab]"\]' "$LOG_B" && return 0
            sleep 0.1
        done
        say "the pair did not form"; return 1
        ;;
    esac
}
down() { local pid; for pid in "${PIDS[@]}"; do end_pid "$pid"; done; }

# ------------------------------------------------------------------- load
# CPU time (user + system ticks) of the servers under test: robust to other load on the machine.
cpu_ticks() { local pid; for pid in "${PIDS[@]}"; do awk '{printf "%s ", $14+$15}' "/proc/$pid/stat"; done; }
# us_per_ack "TICKS BEFORE" "TICKS AFTER" ACKS -> "total per-node/..." in microseconds of CPU per ACK
us_per_ack() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN{ k=split(a,x," "); split(b,y," ");
    if (n<=0) { print "NA"; exit } t=0; s="";
    for (i=1;i<=k;i++) { d=(y[i]-x[i])/hz*1e6/n; t+=d; s=s (i>1?"/":"") sprintf("%.1f",d) }
    if (k>1) printf "%.1f (%s)", t, s; else printf "%.1f", t }'; }
idle_of_cpu() { awk -v c="cpu$SERVER_CPU" '$1==c{print $5+$6}' /proc/stat; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
# load NAME SETUP PERFDHCP-ARGS... -> RATE DROP_DO DROP_RA BUSY LOAD1 LISTED
load() {
    local name=$1 setup=$2 t0 t1 i0 i1 rc=0; shift 2
    up "$setup" || { say "$setup did not start"; return 1; }
    LOAD1=$(loadavg)
    in_ns "$PC" taskset -c "$LOAD_CPU" timeout $((PERIOD + 20)) "$WORK/dhcp-fanout" "$FAN" $((PERIOD + 8)) $SERVERS \
        > "$WORK/$name.fanout" 2>&1 &
    local fan=$!; OURS+=("$fan")
    sleep 0.3
    t0=$(date +%s.%N); i0=$(idle_of_cpu); c0=$(cpu_ticks)
    timeout $((PERIOD + 30)) ip netns exec "$PC" taskset -c "$LOAD_CPU" \
        perfdhcp -4 -g single -l "$GI" -p "$PERIOD" -R "$NCLIENTS" "$@" "$FAN" > "$WORK/$name.out" 2>&1 || rc=$?
    t1=$(date +%s.%N); i1=$(idle_of_cpu); c1=$(cpu_ticks)
    end_pid "$fan"
    LISTED=-
    if [ "$setup" = pair ]; then
        sleep 1   # replication of the last leases
        LISTED="$(lease_count "$NA" "$LOG_A" "$DIR_A")/$(lease_count "$NB" "$LOG_B" "$DIR_B")"
    fi
    down
    printf '## %s (%s): perfdhcp -4 -g single -l %s -p %s -R %s %s %s  rc=%s\n' "$name" "$setup" "$GI" "$PERIOD" \
        "$NCLIENTS" "$*" "$FAN" "$rc" >> "$WORK/all.out"
    cat "$WORK/$name.out" "$WORK/$name.fanout" >> "$WORK/all.out"
    RATE=$(awk '/^Rate:/{printf "%.0f", $2}' "$WORK/$name.out"); RATE=${RATE:-0}
    DROP_DO=$(awk '/drops ratio:/{n++; if(n==1){v=$3; if(v ~ /nan/) v=100; printf "%.2f", v}}' "$WORK/$name.out"); DROP_DO=${DROP_DO:-100}
    DROP_RA=$(awk '/drops ratio:/{n++; if(n==2){v=$3; if(v ~ /nan/) v=100; printf "%.2f", v}}' "$WORK/$name.out"); DROP_RA=${DROP_RA:-100}
    ACKS=$(awk '/received packets:/{n++; if(n==2) print $3}' "$WORK/$name.out"); ACKS=${ACKS:-0}
    US=$(us_per_ack "$c0" "$c1" "$ACKS")
    BUSY=$(awk -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v i=$((i1 - i0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN{ if (w<=0) print "NA"; else { p=100*(w-i/hz)/w; if (p<0) p=0; printf "%.0f", p } }')
    say "$name $setup: $RATE leases/s, drops DO $DROP_DO% RA $DROP_RA%, server CPU $US us/lease, cpu$SERVER_CPU busy $BUSY%, load $LOAD1, listed a/b $LISTED"
    [ $rc = 0 ] || [ $rc = 3 ]   # 3: some exchanges dropped, still a measurement
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2 }'; }
ratio() { awk -v p="$1" -v s="$2" 'BEGIN{ if (s>0) printf "%.0f", 100*p/s; else print "NA" }'; }

# ------------------------------------------------------------------ phases
say "ravensd $("$RAVENSD" --version 2>/dev/null | head -1); perfdhcp $(perfdhcp -v 2>&1 | head -1); pair pinning: $PAIR_PIN"
say "before the runs: $(uptime)"
declare -A MAXR SUST TRAIL USL
RESULTS=()
for phase in $PHASES; do
    case $phase in
    max)
        declare -A rates=() notes=() cpu=()
        for r in $(seq "$RUNS"); do
            for setup in single pair; do
                load "max-$setup-$r" "$setup" || continue
                rates[$setup]+="$RATE "; cpu[$setup]+="${US%% *} "
                notes[$setup]+="[$RATE ${DROP_DO}/${DROP_RA}% ${US}us busy$BUSY% load$LOAD1 listed$LISTED] "
            done
        done
        for setup in single pair; do
            # shellcheck disable=SC2086
            MAXR[$setup]=$(median ${rates[$setup]:-0})
            # shellcheck disable=SC2086
            USL[$setup]=$(median ${cpu[$setup]:-0})
            RESULTS+=("$(printf '%-6s max   (no -r, -p %s): median %s leases/s, server CPU %s us/lease; runs [rate dropDO/RA cpu busy load listed a/b]: %s' \
                "$setup" "$PERIOD" "${MAXR[$setup]}" "${USL[$setup]}" "${notes[$setup]}")")
        done
        ;;
    sweep)
        declare -A done_=()
        for rate in $SWEEP_RATES; do
            for setup in single pair; do
                [ -n "${done_[$setup]:-}" ] && continue
                if load "sweep-$setup-$rate" "$setup" -r "$rate" \
                    && awk -v o="$rate" -v a="$RATE" -v d="$DROP_DO" -v r="$DROP_RA" -v l="$DROP_LIMIT" \
                        'BEGIN{exit !(d<=l && r<=l && a >= o*0.99)}'; then
                    SUST[$setup]=$RATE
                else
                    done_[$setup]=1
                fi
                TRAIL[$setup]+="$rate:$RATE/${DROP_DO}/${DROP_RA}%/${US}us/load$LOAD1/listed$LISTED "
            done
        done
        for setup in single pair; do
            RESULTS+=("$(printf '%-6s sweep (-r, -p %s): sustained %s leases/s (drops <= %s%%); steps [offered:achieved/dropDO/dropRA/cpu/load/listed a/b]: %s' \
                "$setup" "$PERIOD" "${SUST[$setup]:-0}" "$DROP_LIMIT" "${TRAIL[$setup]:-}")")
        done
        ;;
    *) fatal "unknown phase $phase" ;;
    esac
done

echo
echo "== dhcp-pair: $(nproc) cores; servers on cpu $SERVER_CPU (pair: $PAIR_PIN), perfdhcp + fan-out on cpu $LOAD_CPU; giaddr $GI -> fan-out $FAN -> $IP_A [+ $IP_B]; -R $NCLIENTS; $(uname -r)"
echo "== after the runs: $(uptime)"
printf '%s\n' "${RESULTS[@]}"
[ -n "${MAXR[single]:-}" ] && echo "== pair / single: max $(ratio "${MAXR[pair]:-0}" "${MAXR[single]}") %;" \
    "server CPU per lease: single ${USL[single]} us, pair ${USL[pair]} us (both nodes together)"
[ -n "${SUST[single]:-}" ] && echo "== pair / single: sustained $(ratio "${SUST[pair]:-0}" "${SUST[single]}") %"
[ "${MAXR[single]:-0}" != 0 ] || [ "${SUST[single]:-0}" != 0 ] || exit 1
exit 0
