#!/usr/bin/env bash
# Parse + validate time and peak memory of `lvsd -t` next to `keepalived -t` on the same generated
# config (default: 5,000 virtual servers x 4 real servers + 200 VRRP instances, about 100,000 lines).
# Prints a table; each figure is the median of RUNS runs (default 5). Needs keepalived (Debian) and GNU time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-5}
VS=${VS:-5000}; RS=${RS:-4}; VRRP=${VRRP:-200}
need=()
command -v keepalived >/dev/null || need+=(keepalived)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
fi
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
lvsd="$root/target/release/lvsd"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
conf="$work/big.conf"
python3 "$here/gen-config.py" --vs "$VS" --rs "$RS" --vrrp "$VRRP" >"$conf"
lines=$(wc -l <"$conf")

# median of "seconds kbytes" pairs over RUNS runs of a command; exit status must be 0.
measure() {
    local -a secs=() kb=()
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { echo "failed: $*" >&2; tail -5 "$work/err" >&2; exit 1; }
        read -r s k <"$work/t"; secs+=("$s"); kb+=("$k")
    done
    printf '%s\n' "${secs[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%s ", a[int((NR+1)/2)]}'
    printf '%s\n' "${kb[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# keepalived -t checks that the instances' interface exists (and is not lo): run both in a network
# namespace that has an eth0 (one end of a veth pair), so each checks the same machine.
ns=lvsd-bench-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
ip -n "$ns" link add eth0 type veth peer name eth0p
ip -n "$ns" link set eth0 up
read -r l_s l_kb < <(measure ip netns exec "$ns" "$lvsd" -t -f "$conf")
read -r k_s k_kb < <(measure ip netns exec "$ns" keepalived -t -f "$conf")

printf '\nconfig: %s lines (%s virtual servers x %s real servers, %s VRRP instances); median of %s runs\n\n' "$lines" "$VS" "$RS" "$VRRP" "$RUNS"
printf '%-22s %12s %14s\n' "" "time (s)" "peak RSS (MiB)"
printf '%-22s %12s %14.1f\n' "lvsd -t" "$l_s" "$(echo "$l_kb/1024" | bc -l)"
printf '%-22s %12s %14.1f\n' "keepalived 2.2.7 -t" "$k_s" "$(echo "$k_kb/1024" | bc -l)"
printf '%-22s %12.2f %14.2f\n' "lvsd / keepalived" "$(echo "$l_s/($k_s+0.0001)" | bc -l)" "$(echo "$l_kb/$k_kb" | bc -l)"
