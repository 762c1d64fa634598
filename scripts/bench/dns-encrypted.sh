#!/bin/bash
# dns-encrypted.sh -- cache hits over DNS-over-TLS and DNS-over-HTTPS: ravensd against
# unbound (tls-service-key/pem, https-port), in one run, same method for both (issue 15).
#
#   nsd      authoritative upstream for "hbench." ($ZONE_NAMES A records), 127.0.0.163:5310
#   ravensd  dot_listen 127.0.0.166:8531, doh_listen 127.0.0.166:4431 -> nsd
#   unbound  DoT on 127.0.0.164:8530, DoH on 127.0.0.164:4430 -> nsd
#
# Per peer and mode: start pinned to CPU $SERVER_CPU, warm the cache over plain UDP (every
# name once), stop nsd (every answer must be a cache hit), then $RUNS x `dnsperf -m MODE -l
# $DURATION -c $CLIENTS` (kept-alive connections) pinned to CPU $LOAD_CPU. Reported: QPS
# (dnsperf's; it saturates before either server) and the server's own CPU per answered
# query from its threads' /proc schedstat, the figure to compare on a busy machine.
#
# Safety: loopback only; every load bounded (dnsperf -l, timeout); daemons killed by PID;
# the temp dir removed on exit (KEEP_WORK=1 keeps it).
#
# Usage: cargo build --release --bin ravensd && scripts/bench/dns-encrypted.sh
# Env:   MODES ("dot doh"), PEERS ("ravensd unbound"), RUNS (3), DURATION (10), CLIENTS (8),
#        SERVER_CPU (1), LOAD_CPU (0), ZONE_NAMES (10000), RAVENSD (target/release/ravensd)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
MODES=${MODES:-"dot doh"}; PEERS=${PEERS:-"ravensd unbound"}
RUNS=${RUNS:-3}; DURATION=${DURATION:-10}; CLIENTS=${CLIENTS:-8}
SERVER_CPU=${SERVER_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}; ZONE_NAMES=${ZONE_NAMES:-10000}
RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}; KEEP_WORK=${KEEP_WORK:-0}
NSD_IP=127.0.0.163; NSD_PORT=5310
UNB_IP=127.0.0.164; UNB_UDP=5311; UNB_DOT=8530; UNB_DOH=4430
RVD_IP=127.0.0.166; RVD_UDP=5312; RVD_DOT=8531; RVD_DOH=4431
. "$BENCH_DIR/lib.sh"
STOP_UNITS=(unbound nsd)
ensure_pkgs nsd:nsd unbound:unbound dig:bind9-dnsutils dnsperf:dnsperf openssl:openssl taskset:util-linux

STARTED_PIDS=()
cleanup() {
    local rc=$? i
    set +e
    for (( i=${#STARTED_PIDS[@]}-1; i>=0; i-- )); do stop_pid "${STARTED_PIDS[$i]}"; done
    [ -n "${WORK:-}" ] && { [ "$KEEP_WORK" = 1 ] && log "work dir kept: $WORK" || rm -rf "$WORK"; }
    exit $rc
}
WORK=$(mktemp -d /tmp/ravens-dns-encrypted.XXXXXX); chmod 755 "$WORK"
trap cleanup EXIT; trap 'exit 130' INT TERM
cd "$WORK"

nsd_upstream hbench "$ZONE_NAMES" "$NSD_IP" "$NSD_PORT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dns.test -days 2 \
    -addext "subjectAltName=IP:$RVD_IP,IP:$UNB_IP" -keyout key.pem -out cert.pem 2>/dev/null

cat > unbound.conf <<EOF
server:
    interface: $UNB_IP@$UNB_UDP
    interface: $UNB_IP@$UNB_DOT
    interface: $UNB_IP@$UNB_DOH
    tls-port: $UNB_DOT
    https-port: $UNB_DOH
    tls-service-key: "$WORK/key.pem"
    tls-service-pem: "$WORK/cert.pem"
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$WORK"
    pidfile: ""
    use-syslog: no
    verbosity: 0
    do-ip6: no
    do-not-query-localhost: no
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    msg-cache-size: 64m
    rrset-cache-size: 128m
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: $NSD_IP@$NSD_PORT
EOF
mkdir -p ravensd-data
cat > ravensd.toml <<EOF
[node]
name = "bench"
data_dir = "$WORK/ravensd-data"
dns_listen = ["$RVD_IP:$RVD_UDP"]
admin_listen = "$RVD_IP:18063"
dot_listen = ["$RVD_IP:$RVD_DOT"]
doh_listen = ["$RVD_IP:$RVD_DOH"]
tls_cert_file = "$WORK/cert.pem"
tls_key_file = "$WORK/key.pem"

[dns]
upstreams = ["udp://$NSD_IP:$NSD_PORT"]
udp_sockets = 1
tcp_max_connections = 256
rate_limit = "off"
EOF

answers() { dig +tries=1 +time=1 -p "$2" "@$1" h00001.hbench. A 2>/dev/null | grep -q 'status: NOERROR'; }
wait_answer() { local i; for i in $(seq 200); do answers "$1" "$2" && return 0; sleep 0.1; done; return 1; }
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }

printf '%-8s %-4s %10s %10s %8s\n' peer mode qps us/query lost
for peer in $PEERS; do
    for mode in $MODES; do
        start_bg nsd taskset -c "$LOAD_CPU" nsd -d -c "$WORK/nsd.conf"; NSD_PID=$LAST_PID
        wait_answer $NSD_IP $NSD_PORT || die "nsd did not answer"
        case $peer in
          ravensd) ip=$RVD_IP; udp=$RVD_UDP; dot=$RVD_DOT; doh=$RVD_DOH; cmd=("$RAVENSD" --config "$WORK/ravensd.toml") ;;
          unbound) ip=$UNB_IP; udp=$UNB_UDP; dot=$UNB_DOT; doh=$UNB_DOH; cmd=(unbound -d -p -c "$WORK/unbound.conf") ;;
          *) die "unknown peer $peer" ;;
        esac
        start_bg "$peer-$mode" taskset -c "$SERVER_CPU" "${cmd[@]}"; PID=$LAST_PID
        wait_answer "$ip" "$udp" || { tail -5 "$WORK/$peer-$mode.log" >&2; die "$peer did not answer"; }
        timeout 120 taskset -c "$LOAD_CPU" dnsperf -s "$ip" -p "$udp" -d queries.txt -n 1 -c 4 > warm.out 2>&1 || true
        stop_pid "$NSD_PID"
        port=$dot; [ "$mode" = doh ] && port=$doh
        for r in $(seq "$RUNS"); do
            n0=$(proc_ns "$PID")
            out=$(timeout $((DURATION + 60)) taskset -c "$LOAD_CPU" dnsperf -m "$mode" -s "$ip" -p "$port" -d queries.txt \
                -l "$DURATION" -c "$CLIENTS" 2>&1 || true)
            n1=$(proc_ns "$PID")
            done_q=$(awk '/Queries completed:/{print $3}' <<<"$out"); lost=$(awk '/Queries lost:/{print $3}' <<<"$out")
            qps=$(awk '/Queries per second:/{print $4}' <<<"$out")
            us=$(awk -v a="$n0" -v b="$n1" -v n="${done_q:-0}" 'BEGIN{ if (n+0<=0) print "NA"; else printf "%.2f", (b-a)/1e3/n }')
            printf '%-8s %-4s %10s %10s %8s\n' "$peer" "$mode" "${qps:-NA}" "$us" "${lost:-NA}"
        done
        stop_pid "$PID"
    done
done
