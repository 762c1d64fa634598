#!/bin/bash
# dns-encrypted.sh -- cache hits over DNS-over-TLS and DNS-over-HTTPS: ravensd against
# unbound (tls-service-key/pem, https-port), in one run, same method for both (issue 15).
#
#   nsd      authoritative upstream for "hbench." ($ZONE_NAMES A records), 127.0.0.163:5310
#   ravensd  dot_listen 127.0.0.166:8531, doh_listen 127.0.0.166:4431 -> nsd
#   unbound  DoT on 127.0.0.164:8530, DoH on 127.0.0.164:4430 -> nsd
#
# Per peer and mode: start pinned to CPU $SERVER_CPU, warm the cache over plain UDP (every
# name once), stop nsd (every answer must be a cache hit), then $RUNS bounded loads pinned to
# CPU $LOAD_CPU on kept-alive connections:
#   dot  `dnsperf -m dot -l $DURATION -c $CLIENTS`
#   doh  `h2load -c $CLIENTS -m $STREAMS -D $DURATION` (nghttp2's HTTP/2 load generator) over
#        RFC 8484 GET URLs, one per name (DNS ID 0, as RFC 8484 advises). Not dnsperf: its
#        DoH client keeps one reply buffer per connection, so when one TLS read holds the
#        replies of several streams (an HTTP/2 server may batch frames; hyper does, unbound
#        writes one record per reply) it returns one and loses the rest
#        (DNS-OARC/dnsperf#240). Before the run, one URL is checked with curl: the DoH
#        reply must be a NOERROR answer.
# Reported: QPS (the load generator's; it saturates before either server), the server's own
# CPU per answered query from its threads' /proc schedstat (the figure to compare on a busy
# machine), and lost (dnsperf) or failed (h2load: not 2xx, errored or timed out) queries.
#
# Safety: loopback only; every load bounded (dnsperf -l, timeout); daemons killed by PID;
# the temp dir removed on exit (KEEP_WORK=1 keeps it).
#
# Usage: cargo build --release --bin ravensd && scripts/bench/dns-encrypted.sh
# Env:   MODES ("dot doh"), PEERS ("ravensd unbound"), RUNS (3), DURATION (10), CLIENTS (8),
#        STREAMS (16, h2load's concurrent streams per connection),
#        SERVER_CPU (1), LOAD_CPU (0), ZONE_NAMES (10000), RAVENSD (target/release/ravensd)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
MODES=${MODES:-"dot doh"}; PEERS=${PEERS:-"ravensd unbound"}
RUNS=${RUNS:-3}; DURATION=${DURATION:-10}; CLIENTS=${CLIENTS:-8}; STREAMS=${STREAMS:-16}
SERVER_CPU=${SERVER_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}; ZONE_NAMES=${ZONE_NAMES:-10000}
RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}; KEEP_WORK=${KEEP_WORK:-0}
NSD_IP=127.0.0.163; NSD_PORT=5310
UNB_IP=127.0.0.164; UNB_UDP=5311; UNB_DOT=8530; UNB_DOH=4430
RVD_IP=127.0.0.166; RVD_UDP=5312; RVD_DOT=8531; RVD_DOH=4431
. "$BENCH_DIR/lib.sh"
STOP_UNITS=(unbound nsd)
ensure_pkgs nsd:nsd unbound:unbound dig:bind9-dnsutils dnsperf:dnsperf openssl:openssl taskset:util-linux \
    h2load:nghttp2-client curl:curl python3:python3

make_work dns-encrypted

nsd_upstream hbench "$ZONE_NAMES" "$NSD_IP" "$NSD_PORT"
# RFC 8484 GET paths, one per name of queries.txt (query ID 0, RD, class IN, type A).
python3 - "$WORK/queries.txt" > doh-paths.txt <<'PYEOF2'
import base64, struct, sys
for line in open(sys.argv[1]):
    name = line.split()[0].rstrip('.')
    q = struct.pack('>6H', 0, 0x0100, 1, 0, 0, 0)
    q += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0' + struct.pack('>2H', 1, 1)
    print('/dns-query?dns=' + base64.urlsafe_b64encode(q).decode().rstrip('='))
PYEOF2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dns.test -days 2 \
    -addext "subjectAltName=IP:$RVD_IP,IP:$UNB_IP" -keyout key.pem -out cert.pem 2>/dev/null

cat > unbound.conf <<EOF
server:
$(unbound_server)
    interface: $UNB_IP@$UNB_UDP
    interface: $UNB_IP@$UNB_DOT
    interface: $UNB_IP@$UNB_DOH
    tls-port: $UNB_DOT
    https-port: $UNB_DOH
    tls-service-key: "$WORK/key.pem"
    tls-service-pem: "$WORK/cert.pem"
    module-config: "iterator"
    msg-cache-size: 64m
    rrset-cache-size: 128m
$(unbound_forward_all "$NSD_IP" "$NSD_PORT")
EOF
cat > ravensd.toml <<EOF
$(ravensd_node "$RVD_IP:$RVD_UDP" "$RVD_IP:18063")
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
# The first DoH URL answered over HTTP/2 with a NOERROR reply holding one answer or more.
doh_answers() {
    curl -sk --http2 --max-time 5 -o doh-check.bin "https://$1:$2$(head -1 doh-paths.txt)" || return 1
    python3 -c 'import sys; m = open(sys.argv[1], "rb").read(); sys.exit(not (len(m) > 12 and m[3] & 15 == 0 and m[6:8] != b"\0\0"))' doh-check.bin
}
# One bounded load; prints "answered qps lost" (NA when the tool printed nothing usable).
load() {
    local mode=$1 ip=$2 port=$3 out
    if [ "$mode" = doh ]; then
        sed "s|^|https://$ip:$port|" doh-paths.txt > doh-urls.txt
        out=$(timeout $((DURATION + 60)) taskset -c "$LOAD_CPU" h2load -t 1 -c "$CLIENTS" -m "$STREAMS" -D "$DURATION" \
            -i doh-urls.txt 2>&1 || true)
        # requests: T total, S started, D done, OK succeeded (2xx/3xx), F failed (incl. errored, timeout)
        awk '/^finished in/{gsub(",", "", $4); q=$4} /^requests:/{ok=$8; bad=$10}
             END{printf "%s %s %s\n", (ok==""?"NA":ok), (q==""?"NA":q), (bad==""?"NA":bad)}' <<<"$out"
    else
        out=$(timeout $((DURATION + 60)) taskset -c "$LOAD_CPU" dnsperf -m "$mode" -s "$ip" -p "$port" -d queries.txt \
            -l "$DURATION" -c "$CLIENTS" 2>&1 || true)
        awk '/Queries completed:/{c=$3} /Queries per second:/{q=$4} /Queries lost:/{l=$3}
             END{printf "%s %s %s\n", (c==""?"NA":c), (q==""?"NA":q), (l==""?"NA":l)}' <<<"$out"
    fi
}
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
        [ "$mode" = doh ] && { doh_answers "$ip" "$port" || die "$peer: the DoH check answer is not NOERROR with an answer"; }
        for r in $(seq "$RUNS"); do
            n0=$(proc_ns "$PID")
            read -r done_q qps lost < <(load "$mode" "$ip" "$port")
            n1=$(proc_ns "$PID")
            us=$(awk -v a="$n0" -v b="$n1" -v n="$done_q" 'BEGIN{ if (n+0<=0) print "NA"; else printf "%.2f", (b-a)/1e3/n }')
            printf '%-8s %-4s %10s %10s %8s\n' "$peer" "$mode" "$qps" "$us" "$lost"
        done
        stop_pid "$PID"
    done
done
