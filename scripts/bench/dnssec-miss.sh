#!/bin/bash
# dnssec-miss.sh -- what DNSSEC validation adds to a cache miss in the whole daemon, against
# unbound doing the same (issue 16; criterion's `dnssec` bench times the validator alone).
#
# nsd serves the signed test chain of tests/common/dnssec-zones.sh (a test root, `rvn.`,
# `ok.rvn.` with $NAMES extra names hNNNNN; every zone ECDSA P-256 unless TOP_ALG=RSASHA256
# signs the root and TLD with RSA-2048). Four servers take turns, each pinned to CPU
# $SERVER_CPU and forwarding to nsd: ravensd with `dns.dnssec = "off"` and `"validate"`
# (trust anchor: the test root's DS), unbound with `module-config: "iterator"` and
# `"validator iterator"` (`trust-anchor-file`, the same DS). Per run the server starts with an
# empty cache, answers `www.ok.rvn` once (so the chain's keys are fetched and validated: the
# steady state of a running resolver; a whole cold chain is criterion's figure), then dnsperf
# (on CPU $LOAD_CPU, paced at $QPS) asks every hNNNNN name once: every query is a miss that
# must be fetched and, when validating, its RRSIG checked. Reported: the server's CPU per
# answered miss from its threads' schedstat, NOERROR share, and whether `dig` sees AD=1 on a
# bench name afterwards (validating configs must, the others must not).
#
# Safety: loopback only; every load bounded (-n 1, -Q, timeout); processes killed by PID;
# the temp dir removed on exit (KEEP_WORK=1 keeps it).
#
# Usage: cargo build --release --bin ravensd && scripts/bench/dnssec-miss.sh
# Env:   NAMES (20000), QPS (2000), RUNS (2), TOP_ALG (ECDSAP256SHA256), PEERS (all four:
#        "ravensd-off ravensd-validate unbound-off unbound-validate"), SERVER_CPU (1),
#        LOAD_CPU (0), RAVENSD (target/release/ravensd)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
NAMES=${NAMES:-20000}; QPS=${QPS:-2000}; RUNS=${RUNS:-2}; TOP_ALG=${TOP_ALG:-ECDSAP256SHA256}
PEERS=${PEERS:-ravensd-off ravensd-validate unbound-off unbound-validate}
SERVER_CPU=${SERVER_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}; RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}
NSD_IP=127.0.0.183; NSD_PORT=5330; SRV_IP=127.0.0.186; SRV_PORT=5332
. "$BENCH_DIR/lib.sh"
STOP_UNITS=(unbound nsd)
ensure_pkgs nsd:nsd unbound:unbound dig:bind9-dnsutils dnsperf:dnsperf taskset:util-linux \
    ldns-signzone:ldnsutils
[ -x "$RAVENSD" ] || die "no $RAVENSD (cargo build --release --bin ravensd)"

make_work dnssec-miss
log "signing the chain ($NAMES names in ok.rvn., root and TLD $TOP_ALG)"
DNSSEC_OK_NAMES=$NAMES DNSSEC_TOP_ALG=$TOP_ALG \
    bash "$REPO/tests/common/dnssec-zones.sh" "$WORK" "$NSD_IP" "$NSD_PORT" 2>/dev/null
awk -v n="$NAMES" 'BEGIN{for(i=0;i<n;i++) printf "h%05d.ok.rvn. A\n", i}' > queries.txt

cat > ravensd.toml <<EOF
$(ravensd_node "$SRV_IP:$SRV_PORT" "$SRV_IP:18073")

[dns]
upstreams = ["udp://$NSD_IP:$NSD_PORT"]
udp_sockets = 1
rate_limit = "off"
dnssec = "DNSSEC_MODE"
dnssec_trust_anchor_file = "$WORK/root.ds"
EOF
unbound_conf() { # MODULES
    cat <<EOF
server:
$(unbound_server)
    interface: $SRV_IP@$SRV_PORT
    qname-minimisation: no
    module-config: "$1"
    trust-anchor-file: "$WORK/root.ds"
$(unbound_forward_all "$NSD_IP" "$NSD_PORT")
EOF
}
sed 's/DNSSEC_MODE/off/' ravensd.toml > ravensd-off.toml
sed 's/DNSSEC_MODE/validate/' ravensd.toml > ravensd-validate.toml
unbound_conf "iterator" > unbound-off.conf
unbound_conf "validator iterator" > unbound-validate.conf

flags() { dig +tries=1 +time=2 -p "$SRV_PORT" "@$SRV_IP" "$1" A 2>/dev/null | awk '/^;; flags:/{print}'; }
wait_answer() {
    local i
    for i in $(seq 200); do
        dig +tries=1 +time=1 -p "$SRV_PORT" "@$SRV_IP" www.ok.rvn. A 2>/dev/null | grep -q 'status: NOERROR' && return 0
        sleep 0.1
    done
    return 1
}
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }

start_bg nsd taskset -c "$LOAD_CPU" nsd -d -c "$WORK/nsd.conf"
printf '%-17s %3s %10s %10s %9s %s\n' peer run misses us/miss noerror "AD on a bench name"
for peer in $PEERS; do
    case $peer in
      ravensd-off|ravensd-validate) cmd=("$RAVENSD" --config "$WORK/$peer.toml") ;;
      unbound-off|unbound-validate) cmd=(unbound -d -p -c "$WORK/$peer.conf") ;;
      *) die "unknown peer $peer" ;;
    esac
    for r in $(seq "$RUNS"); do
        rm -rf "$WORK/ravensd-data"; mkdir -p "$WORK/ravensd-data"
        start_bg "$peer-$r" taskset -c "$SERVER_CPU" "${cmd[@]}"; PID=$LAST_PID
        wait_answer || { tail -5 "$WORK/$peer-$r.log" >&2; die "$peer did not answer"; }
        n0=$(proc_ns "$PID")
        out=$(timeout $((NAMES / QPS + 60)) taskset -c "$LOAD_CPU" dnsperf -s "$SRV_IP" -p "$SRV_PORT" \
            -d queries.txt -n 1 -c 4 -Q "$QPS" -t 5 2>&1 || true)
        n1=$(proc_ns "$PID")
        done_q=$(awk '/Queries completed:/{print $3}' <<<"$out")
        noerr=$(grep -o 'NOERROR [0-9]* ([0-9.]*%)' <<<"$out" | grep -o '[0-9.]*%' || echo "0%")
        us=$(awk -v a="$n0" -v b="$n1" -v n="${done_q:-0}" 'BEGIN{ if (n+0<=0) print "NA"; else printf "%.1f", (b-a)/1e3/n }')
        ad=$(flags h00001.ok.rvn. | grep -q ' ad' && echo yes || echo no)
        printf '%-17s %3s %10s %10s %9s %s\n' "$peer" "$r" "${done_q:-NA}" "$us" "$noerr" "$ad"
        stop_pid "$PID"
    done
done
