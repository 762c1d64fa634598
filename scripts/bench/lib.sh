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
