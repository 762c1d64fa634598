#!/bin/bash
# dns-blocklist.sh -- the same 1M-domain blocklist in ravensd, dnsmasq (address=/d/) and
# unbound (local-zone always_nxdomain), in ONE invocation, plus ravensd without a list as
# the baseline. Per variant: load time (exec -> first correct answers to an allowed AND a
# blocked probe, polled every 50 ms with dig), RSS ready and after, and the server's CPU per
# query on a 50%-blocked mix (nsd stopped after a warm-up pass, so allowed names must come
# from the cache and blocked ones from the list). Server pinned to CPU 1, dnsperf to CPU 0.
#
# Safety: loopback only (127.0.0.15x); every load bounded (dnsperf -l / -n, timeout);
# daemons killed by PID; temp dir removed (KEEP_WORK=1 keeps it).
# Usage: scripts/bench/dns-blocklist.sh      Env: BLOCK_N (1000000), RUNS (3), DURATION (10),
#        VARIANTS ("ravensd ravensd-bl dnsmasq-bl unbound-bl"), RAVENSD (target/release/ravensd)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); REPO=$(cd "$BENCH_DIR/../.." && pwd)
BLOCK_N=${BLOCK_N:-1000000}; RUNS=${RUNS:-3}; DURATION=${DURATION:-10}; ZONE_NAMES=10000
VARIANTS=${VARIANTS:-"ravensd ravensd-bl dnsmasq-bl unbound-bl"}
RAVENSD=${RAVENSD:-$REPO/target/release/ravensd}
NSD=127.0.0.153:5300; ZONE=hbench
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
PIDS=(); WORK=$(mktemp -d /tmp/ravens-bl.XXXXXX); chmod 755 "$WORK"
stop_pid() { local p=$1; kill -TERM "$p" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }
cleanup() { set +e; for p in "${PIDS[@]}"; do stop_pid "$p"; done; [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT; trap 'exit 130' INT TERM
cd "$WORK"
now() { date +%s.%N; }
snap() { awk -v t="$(now)" '$1=="cpu1"{printf "%s %d %d\n", t, $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
usq() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN{split(a,x," ");split(b,y," "); if(n<=0){print "NA";exit}
  w=y[1]-x[1]; idle=(y[3]-x[3])/hz; printf "%.2f\n", (w-idle)*1e6/n}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
rss() { ps -o rss= -p "$1" | tr -d ' '; }

log "generating zone, $BLOCK_N-domain blocklist, query files"
awk -v n=$ZONE_NAMES 'BEGIN{print "$ORIGIN hbench."; print "$TTL 86400"; print "@ IN SOA ns1 hostmaster 1 3600 600 86400 3600"; print "@ IN NS ns1"; print "ns1 IN A 127.0.0.153";
  for(i=0;i<n;i++) printf "h%05d IN A 198.18.%d.%d\n", i, int(i/250)%256, i%250+1}' > zone.db
awk -v n="$BLOCK_N" 'BEGIN{split("ads trk pix cdn-ad beacon stats metric telem",p," "); split("adnet track click banner promo count spy pixel serve sync log tag push pop bid rtb",m," "); split("com net org io info biz",t," ");
  for(i=0;i<n;i++) printf "%s-%06d.%s%d.%s\n", p[i%8+1], i, m[int(i/8)%16+1], i%1000, t[i%6+1]}' > blocklist.txt
awk -v n=$ZONE_NAMES 'BEGIN{for(i=0;i<n;i++) printf "h%05d.hbench. A\n", i}' > q-allowed.txt
step=$(( BLOCK_N / ZONE_NAMES )); [ $step -ge 1 ] || step=1
awk -v s=$step 'NR%s==1 || s==1 {print $1 ". A"}' blocklist.txt | head -n $ZONE_NAMES > q-blocked.txt
paste -d '\n' q-allowed.txt q-blocked.txt > q-mix.txt
BLOCKED=$(head -1 q-blocked.txt | cut -d' ' -f1); ALLOWED=h00001.hbench.
printf 'server:\n ip-address: %s\n server-count: 1\n username: ""\n database: ""\n zonesdir: "%s"\n zonelistfile: "%s/zl"\n xfrdfile: "%s/xfrd"\n pidfile: "%s/nsd.pid"\n verbosity: 0\nremote-control:\n control-enable: no\nzone:\n name: "hbench."\n zonefile: "zone.db"\n' \
  "${NSD/:/@}" "$WORK" "$WORK" "$WORK" "$WORK" > nsd.conf
awk '{printf "local-zone: \"%s.\" always_nxdomain\n", $1}' blocklist.txt > unbound-block.conf
awk '{printf "address=/%s/\n", $1}' blocklist.txt > dnsmasq-block.conf
printf 'server:\n interface: 127.0.0.154@5301\n num-threads: 1\n username: ""\n chroot: ""\n directory: "%s"\n pidfile: ""\n use-syslog: no\n logfile: ""\n do-ip6: no\n do-not-query-localhost: no\n module-config: "iterator"\n access-control: 127.0.0.0/8 allow\n msg-cache-size: 64m\n rrset-cache-size: 128m\n include: "%s/unbound-block.conf"\nremote-control:\n control-enable: no\nforward-zone:\n name: "."\n forward-addr: 127.0.0.153@5300\n' "$WORK" "$WORK" > unbound.conf
printf 'port=5302\nlisten-address=127.0.0.155\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\nserver=127.0.0.153#5300\ncache-size=10000\nuser=root\ngroup=root\npid-file=\nlog-facility=-\nconf-file=%s/dnsmasq-block.conf\n' "$WORK" > dnsmasq.conf
for v in ravensd ravensd-bl; do
  mkdir -p "$WORK/$v-data"
  printf '[node]\nname = "bench"\ndata_dir = "%s/%s-data"\ndns_listen = ["127.0.0.156:5303"]\nadmin_listen = "127.0.0.156:18053"\n[dns]\nupstreams = ["udp://%s"]\nudp_sockets = 1\nblock_response = "nxdomain"\n' "$WORK" "$v" "$NSD" > $v.toml
done
printf '[[list]]\nname = "bench"\npath = "%s/blocklist.txt"\ngroups = ["default"]\n' "$WORK" >> ravensd-bl.toml

dig_ok() { dig +tries=1 +time=1 -p "$2" "@$1" "$3" A 2>/dev/null | grep -q "status: $4"; }
start_nsd() { taskset -c 0 nsd -d -c "$WORK/nsd.conf" > nsd.log 2>&1 & NSDPID=$!; PIDS+=($NSDPID); for _ in $(seq 200); do dig_ok 127.0.0.153 5300 $ALLOWED NOERROR && return; sleep 0.05; done; log "nsd did not start"; exit 2; }

ROWS=()
for v in $VARIANTS; do
  case $v in
    ravensd|ravensd-bl) ip=127.0.0.156; port=5303; cmd=("$RAVENSD" --config "$WORK/$v.toml") ;;
    unbound-bl) ip=127.0.0.154; port=5301; cmd=(unbound -d -p -c "$WORK/unbound.conf") ;;
    dnsmasq-bl) ip=127.0.0.155; port=5302; cmd=(dnsmasq -k -C "$WORK/dnsmasq.conf") ;;
  esac
  start_nsd
  t0=$(now); taskset -c 1 "${cmd[@]}" > "$v.log" 2>&1 & PID=$!; PIDS+=($PID)
  want_blocked=NXDOMAIN; [ "$v" = ravensd ] && want_blocked=
  for _ in $(seq 1200); do
    if dig_ok $ip $port $ALLOWED NOERROR && { [ -z "$want_blocked" ] || dig_ok $ip $port "$BLOCKED" NXDOMAIN; }; then break; fi
    kill -0 $PID 2>/dev/null || { log "$v exited"; tail "$v.log" >&2; break; }
    sleep 0.05
  done
  load=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'); r0=$(rss $PID)
  q=q-mix.txt; [ "$v" = ravensd ] && q=q-allowed.txt
  timeout 120 taskset -c 0 dnsperf -s $ip -p $port -d "$WORK/$q" -n 1 -c 8 -t 2 > warm.out 2>&1 || true
  stop_pid $NSDPID
  qs=(); us=(); lost=0
  for r in $(seq "$RUNS"); do
    s0=$(snap); out=$(timeout $((DURATION+60)) taskset -c 0 dnsperf -s $ip -p $port -d "$WORK/$q" -l "$DURATION" -c 8 2>&1 || true); s1=$(snap)
    done_=$(awk '/Queries completed:/{print $3}' <<<"$out"); l=$(awk '/Queries lost:/{print $3}' <<<"$out")
    qs+=("$(awk '/Queries per second:/{printf "%.0f", $4}' <<<"$out")"); us+=("$(usq "$s0" "$s1" "$done_")"); lost=$((lost + l))
    log "$v run $r: qps=${qs[-1]} us/q=${us[-1]} lost=$l $(sed -n 's/^ *Response codes: *//p' <<<"$out")"
  done
  r1=$(rss $PID); stop_pid $PID
  ROWS+=("$(printf '%-11s | %8s | %6s | %5s | %6s | %8s | %8s' "$v" "$(median "${qs[@]}")" "$(median "${us[@]}")" "$lost" "$load" "$r0" "$r1")")
done
echo
echo "== $BLOCK_N blocked domains; ravensd without a list answers allowed names only; the others a 50%-blocked mix"
echo "== srv us/q = CPU 1 (wall - idle) / answered queries; load = exec -> first correct allowed + blocked answers"
printf '%-11s | %8s | %6s | %5s | %6s | %8s | %8s\n' variant QPS-med us/q lost load-s RSS-KiB after
printf '%s\n' "${ROWS[@]}"
