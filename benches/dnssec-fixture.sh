#!/bin/bash
# Regenerates benches/data/dnssec-chain.txt, the recorded upstream answers `benches/dnssec.rs`
# and the `dns_dnssec` fuzz target validate without a network, and dnssec-chain-rsa.txt, the
# same with the root and the TLD signed with RSA-2048 as the public ones are: the test chain of
# tests/common/dnssec-zones.sh signed for 2020..2080 (inside the 2^31 s window of RRSIG time
# arithmetic), served by nsd, each question asked with DO=1 CD=1. Line 1: the root's DNSKEY
# (the trust anchor); then one response per line in hex. Needs nsd, ldnsutils, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cleanup() {
    local pid
    pid=$(cat "$work/nsd.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
record() { # ALG FILE: signs the chain with ALG for the root and TLD, records it in FILE
    rm -rf "${work:?}"/* && port=$((20000 + RANDOM % 20000))
    DNSSEC_TOP_ALG=$1 DNSSEC_INCEPTION=1577836800 DNSSEC_EXPIRATION=3471292800 \
        bash "$here/../tests/common/dnssec-zones.sh" "$work" 127.0.0.1 "$port" 2>/dev/null
    nsd -c "$work/nsd.conf"
    sleep 1
    {
        grep -v '^;' "$work/root.key" | head -1
        python3 - "$port" <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
questions = [
    ("www.ok.rvn", 1), (".", 48), ("rvn", 43), ("rvn", 48), ("ok.rvn", 43), ("ok.rvn", 48),
    ("nx.ok.rvn", 1), ("x.wild.ok.rvn", 1), ("www.n3s.rvn", 1), ("nx.n3s.rvn", 1),
    ("n3s.rvn", 43), ("n3s.rvn", 48), ("www.tampered.rvn", 1), ("tampered.rvn", 43), ("tampered.rvn", 48),
    ("www.ok.rvn", 28),
]
for i, (name, qtype) in enumerate(questions):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"
    # RD=1, CD=1; OPT with DO=1.
    msg = struct.pack(">HHHHHH", i + 1, 0x0110, 1, 0, 0, 1) + qname + struct.pack(">HH", qtype, 1)
    msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000, 0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(msg, ("127.0.0.1", port))
    print(s.recv(65535).hex())
EOF
    } > "$2"
    kill "$(cat "$work/nsd.pid")"
    for _ in $(seq 50); do [ -e "$work/nsd.pid" ] || break; sleep 0.1; done
    echo "wrote $2 ($(wc -l < "$2") lines)"
}
record ECDSAP256SHA256 "$here/data/dnssec-chain.txt"
record RSASHA256 "$here/data/dnssec-chain-rsa.txt"
