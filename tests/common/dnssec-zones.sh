#!/bin/bash
# Builds a signed test delegation chain for tests/dnssec.rs (and scripts/bench): a test
# root ".", the TLD "rvn." and zones below it, each signed by ldns-signzone with its own
# ECDSA P-256 keys, DS records in each parent, plus deliberately broken zones. Writes
# DIR/nsd.conf serving every zone from one nsd on IP@PORT, DIR/root.ds (the trust anchor:
# the root KSK's DS, as ldns-keygen wrote it) and DIR/root.key (the same key as DNSKEY).
#
#   dnssec-zones.sh DIR IP PORT
set -euo pipefail
DIR=$1 IP=$2 PORT=$3
cd "$DIR"
NOW=$(date +%s)
# A week either side of now: the signatures are valid whatever the time zone (the bench's
# fixture asks for a validity of decades instead).
INC=${DNSSEC_INCEPTION:-$((NOW - 604800))} EXP=${DNSSEC_EXPIRATION:-$((NOW + 604800))}

zone_head() { # ZONE -> the apex records
    printf '$ORIGIN %s\n$TTL 3600\n@ IN SOA ns.rvn. host.rvn. 1 3600 600 86400 300\n@ IN NS ns.rvn.\n' "$1"
}
keys() { # ZONE [ALG] -> "KSK ZSK" base names
    local k z alg=${2:-ECDSAP256SHA256} bits=()
    [ "$alg" = RSASHA256 ] && bits=(-b 2048)
    k=$(ldns-keygen -a "$alg" "${bits[@]}" -k "$1")
    z=$(ldns-keygen -a "$alg" "${bits[@]}" "$1")
    echo "$k $z"
}
TOP_ALG=${DNSSEC_TOP_ALG:-ECDSAP256SHA256}
sign() { # FILE ZONE "ldns-signzone options" KEYS...
    local f=$1 z=$2 opts=$3; shift 3
    # shellcheck disable=SC2086 # opts is a list of words
    ldns-signzone -o "$z" -i "$INC" -e "$EXP" $opts -f "$f.signed" "$f" "$@"
}
ds_of() { # KSK base -> its DS line
    cat "$1.ds"
}

ZONES=()
DS_LINES=""
child() { # NAME BODY [SIGNOPTS] : signs NAME.rvn., adds its DS to the TLD
    local name=$1 body=$2 opts=${3:-}
    local z="$name.rvn."
    { zone_head "$z"; printf '%b' "$body"; } > "$name.zone"
    read -r k s < <(keys "$z")
    sign "$name.zone" "$z" "$opts" "$k" "$s"
    DS_LINES+="$(ds_of "$k")"$'\n'
    ZONES+=("$z:$name.zone.signed")
}

# Good zones.
# DNSSEC_OK_NAMES=N adds hNNNNN A records to ok.rvn. (scripts/bench/dnssec-miss.sh's cold misses).
OK_NAMES=$(awk -v n="${DNSSEC_OK_NAMES:-0}" 'BEGIN{for(i=0;i<n;i++) printf "h%05d IN A 198.18.%d.%d\\n", i, int(i/250)%256, i%250+1}')
child ok 'x.ent IN A 192.0.2.19\nwww IN A 192.0.2.1\nwww IN AAAA 2001:db8::1\n@ IN MX 10 mail.ok.rvn.\nmail IN A 192.0.2.2\n@ IN TXT "signed"\n*.wild IN A 192.0.2.3\ncn IN CNAME www.n3.rvn.\ncnplain IN CNAME www.plain.rvn.\n'"$OK_NAMES"
child n3 'www IN A 192.0.2.4\nsub IN NS ns.rvn.\n' '-n -t 0 -p'
child n3s 'www IN A 192.0.2.15\n*.wild IN A 192.0.2.16\nsub IN NS ns.rvn.\n' '-n -t 0'
child iter 'www IN A 192.0.2.5\n' '-n -s ab -t 200'
# Broken zones: their DS is in the parent, their data is not right.
child tampered 'www IN A 192.0.2.6\n'
awk -v OFS='\t' '$1 == "www.tampered.rvn." && $4 == "RRSIG" && $5 == "A" { c = substr($NF, 1, 1); $NF = (c == "A" ? "B" : "A") substr($NF, 2) } 1' tampered.zone.signed > tampered.tmp && mv tampered.tmp tampered.zone.signed
INC_SAVE=$INC EXP_SAVE=$EXP
INC=$((NOW - 1209600)) EXP=$((NOW - 604800))
child expired 'www IN A 192.0.2.7\n'
child corp 'www IN A 192.0.2.10\n'
child nta 'www IN A 192.0.2.11\n'
INC=$((NOW + 604800)) EXP=$((NOW + 1209600))
child future 'www IN A 192.0.2.8\n'
INC=$INC_SAVE EXP=$EXP_SAVE
child nonsec 'www IN A 192.0.2.9\n'
# nosig: the RRSIG of www A is gone.
child nosig 'www IN A 192.0.2.17\n'
awk '!($1 == "www.nosig.rvn." && $4 == "RRSIG" && $5 == "A")' nosig.zone.signed > nosig.tmp && mv nosig.tmp nosig.zone.signed
grep -v -E '[[:space:]](NSEC|RRSIG[[:space:]]+NSEC)[[:space:]]' nonsec.zone.signed > nonsec.tmp && mv nonsec.tmp nonsec.zone.signed
# nokey: the parent's DS names a key the zone does not publish or sign with.
{ zone_head nokey.rvn.; printf 'www IN A 192.0.2.12\n'; } > nokey.zone
read -r k0 _ < <(keys nokey.rvn.)
read -r k s < <(keys nokey.rvn.)
sign nokey.zone nokey.rvn. "" "$k" "$s"
DS_LINES+="$(ds_of "$k0")"$'\n'
ZONES+=("nokey.rvn.:nokey.zone.signed")
# Unsigned zones: plain.rvn. (no DS: insecure), sub.n3.rvn. (under an opt-out NSEC3),
# sub.n3s.rvn. (no DS, proven by an NSEC3 without opt-out).
{ zone_head plain.rvn.; printf 'www IN A 192.0.2.13\ntosecure IN CNAME www.ok.rvn.\n'; } > plain.zone
ZONES+=("plain.rvn.:plain.zone")
{ zone_head sub.n3.rvn.; printf 'www IN A 192.0.2.14\n'; } > sub.zone
ZONES+=("sub.n3.rvn.:sub.zone")
{ zone_head sub.n3s.rvn.; printf 'www IN A 192.0.2.18\n'; } > subs.zone
ZONES+=("sub.n3s.rvn.:subs.zone")

# The TLD: delegations, with the children's DS.
{ zone_head rvn.; printf 'ns IN A %s\n' "$IP"
  for z in ok n3 n3s iter tampered expired corp nta future nonsec nosig nokey plain; do printf '%s IN NS ns.rvn.\n' "$z"; done
  printf '%s' "$DS_LINES"; } > rvn.zone
read -r k s < <(keys rvn. "$TOP_ALG")
sign rvn.zone rvn. "" "$k" "$s"
ZONES+=("rvn.:rvn.zone.signed")
# The root: delegates rvn. with its DS.
{ zone_head .; printf 'rvn. IN NS ns.rvn.\nns.rvn. IN A %s\n' "$IP"; ds_of "$k"; } > root.zone
read -r k s < <(keys . "$TOP_ALG")
sign root.zone . "" "$k" "$s"
ZONES+=(".:root.zone.signed")
cp "$k.ds" root.ds
cp "$k.key" root.key

{ cat <<EOF
server:
    ip-address: $IP@$PORT
    server-count: 1
    username: ""
    database: ""
    zonesdir: "$DIR"
    zonelistfile: "$DIR/zone.list"
    xfrdfile: "$DIR/xfrd.state"
    xfrdir: "$DIR"
    pidfile: "$DIR/nsd.pid"
    logfile: "$DIR/nsd.log"
    verbosity: 1
remote-control:
    control-enable: no
EOF
for e in "${ZONES[@]}"; do printf 'zone:\n    name: "%s"\n    zonefile: "%s"\n' "${e%%:*}" "${e#*:}"; done
} > nsd.conf
