# Shared helpers of the peer benchmark scripts (sourced, not run).
#
#   log MSG...   timestamped line on stderr
#   die MSG...   log "FATAL: MSG" and exit 2
#   ensure_pkgs "cmd:package" ...
#                install the Debian packages whose command is missing (root; NO_INSTALL=1
#                refuses). Their services are kept from starting (a refusing policy-rc.d)
#                and the units named in STOP_UNITS are disabled afterwards.
#   start_bg NAME CMD...
#                CMD in the background, output to $WORK/NAME.log; sets LAST_PID and
#                appends it to STARTED_PIDS
#   stop_pid PID TERM, up to 5 s, then KILL (only PIDs the script started)
#   unbound_server
#                the `server:` lines every bench's unbound shares (one thread, no user or
#                chroot change, files in $WORK, loopback upstreams allowed); the caller adds
#                its interfaces and modules
#   unbound_forward_all IP PORT
#                remote control off, and every name forwarded to IP@PORT
#   ravensd_node IP:PORT ADMIN_IP:PORT
#                the [node] table of a bench's ravensd (data in $WORK/ravensd-data, made)
#   nsd_upstream ZONE NAMES IP PORT
#                in $WORK: zone.db (ZONE. with NAMES A records hNNNNN, answer data in
#                198.18.0.0/15), queries.txt (every name once, for dnsperf) and nsd.conf
#                serving it on IP@PORT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 2; }

ensure_pkgs() {
    local missing=() item cmd pkg made_policy=0 unit
    for item in "$@"; do
        cmd=${item%%:*}; pkg=${item#*:}
        if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing+=("$pkg"); fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "${NO_INSTALL:-0}" = 1 ] && die "missing packages: ${missing[*]} (NO_INSTALL=1)"
    [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]}; run as root to install them"
    log "installing: ${missing[*]}"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]; then
        apt-get update -q >&2
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
        [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
        die "apt-get install failed"
    fi
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    if [ -d /run/systemd/system ]; then
        for unit in "${STOP_UNITS[@]}"; do systemctl disable --now "$unit" >/dev/null 2>&1 || true; done
    fi
}

start_bg() {
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    STARTED_PIDS+=("$LAST_PID")
    log "started $name pid=$LAST_PID"
}

stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

unbound_server() {
    cat <<EOF
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$WORK"
    pidfile: ""
    use-syslog: no
    verbosity: 0
    do-ip6: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
EOF
}

unbound_forward_all() {
    printf 'remote-control:\n    control-enable: no\nforward-zone:\n    name: "."\n    forward-addr: %s@%s\n' "$1" "$2"
}

ravensd_node() {
    mkdir -p "$WORK/ravensd-data"
    printf '[node]\nname = "bench"\ndata_dir = "%s"\ndns_listen = ["%s"]\nadmin_listen = "%s"\n' \
        "$WORK/ravensd-data" "$1" "$2"
}

nsd_upstream() {
    local zone=$1 n=$2 ip=$3 port=$4
    awk -v n="$n" -v z="$zone" -v ns="$ip" 'BEGIN{
        print "$ORIGIN " z "."; print "$TTL 86400"
        print "@ IN SOA ns1 hostmaster 1 3600 600 86400 3600"
        print "@ IN NS ns1"; print "ns1 IN A " ns
        # answer data only, never contacted: 198.18.0.0/15 (benchmarking range)
        for (i=0;i<n;i++) printf "h%05d IN A 198.18.%d.%d\n", i, int(i/250)%256, i%250+1
    }' > "$WORK/zone.db"
    awk -v n="$n" -v z="$zone" 'BEGIN{for(i=0;i<n;i++) printf "h%05d.%s. A\n", i, z}' > "$WORK/queries.txt"
    cat > "$WORK/nsd.conf" <<EOF
server:
    ip-address: $ip@$port
    server-count: 1
    username: ""
    database: ""
    zonesdir: "$WORK"
    zonelistfile: "$WORK/zone.list"
    xfrdfile: "$WORK/xfrd.state"
    xfrdir: "$WORK"
    pidfile: "$WORK/nsd.pid"
    logfile: "$WORK/nsd.inner.log"
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: "$zone."
    zonefile: "zone.db"
EOF
}
# make_work NAME: a temp dir $WORK (cd'ed into) that, with every process start_bg started,
# goes on exit (KEEP_WORK=1 keeps the dir); processes stop last-started first.
make_work() {
    STARTED_PIDS=()
    WORK=$(mktemp -d "/tmp/ravens-$1.XXXXXX"); chmod 755 "$WORK"
    trap _work_cleanup EXIT; trap 'exit 130' INT TERM
    cd "$WORK"
}
_work_cleanup() {
    local rc=$? i
    set +e
    for (( i=${#STARTED_PIDS[@]}-1; i>=0; i-- )); do stop_pid "${STARTED_PIDS[$i]}"; done
    [ -n "${WORK:-}" ] && { [ "${KEEP_WORK:-0}" = 1 ] && log "work dir kept: $WORK" || rm -rf "$WORK"; }
    exit $rc
}
