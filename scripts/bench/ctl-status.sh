#!/usr/bin/env bash
# lvsd ctl status on 10,000 virtual servers x 4 real servers, natively (root; a network namespace,
# VRRP and the status views, no IPVS on this machine: the kernel counters are read in the kernel lab
# part, lvsd-ctl.sh): time and size of the reply, and the spacing of a VRRPv3 instance's adverts
# (advert_int 0.1) while 20 requests run back to back, against idle. Beside it keepalived 2.2.7's
# way to the same facts, the SIGUSR1 data dump, on the same file. LAB_VS / LAB_RS change the size.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
lvsd=$target/release/lvsd
vs=${LAB_VS:-10000}; rs=${LAB_RS:-4}
w=$(mktemp -d); ns=ctlbench$$
cleanup() { ip netns pids $ns 2>/dev/null | xargs -r kill -9; ip netns del $ns 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
ip netns add $ns; ip -n $ns link set lo up
ip -n $ns link add eth0 type veth peer name peer0
ip -n $ns addr add 10.77.0.1/24 dev eth0
ip -n $ns link set eth0 up; ip -n $ns link set peer0 up
python3 "$root/scripts/bench/gen-config.py" --vs "$vs" --rs "$rs" --vrrp 0 --check none >"$w/c.conf"
cat >>"$w/c.conf" <<'EOF'
vrrp_instance VI_B {
    interface eth0
    version 3
    virtual_router_id 9
    priority 200
    advert_int 0.1
    virtual_ipaddress {
        10.77.0.100/24
    }
}
EOF

# gaps PCAP FROM TO: the largest and the mean spacing of adverts between two times (seconds).
gaps() {
	tcpdump -r "$1" -tt -n 2>/dev/null | awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b {
		if (p) { g = $1 - p; s += g; n++; if (g > m) m = g } p = $1 }
		END { if (n) printf "%.3f %.3f %d", m, s / n, n; else print "nan nan 0" }'
}

ip netns exec $ns tcpdump -i peer0 -w "$w/vrrp.pcap" -U proto 112 2>/dev/null &
tpid=$!
ip netns exec $ns "$lvsd" -P -f "$w/c.conf" -l -G -p "$w/l.pid" --control-socket "$w/ctl.sock" >"$w/lvsd.log" 2>&1 &
for _ in $(seq 300); do grep -q "Entering MASTER" "$w/lvsd.log" && break; sleep 0.1; done
sleep 3
t_idle0=$(date +%s.%N); sleep 5; t_idle1=$(date +%s.%N)
times=(); size=0
t_load0=$(date +%s.%N)
for _ in $(seq 20); do
	a=$(date +%s%N)
	size=$(ip netns exec $ns "$lvsd" ctl -s "$w/ctl.sock" --json status | wc -c)
	b=$(date +%s%N)
	times+=($(((b - a) / 1000000)))
done
t_load1=$(date +%s.%N)
sleep 1
kill "$tpid" 2>/dev/null || true
sleep 0.5
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
read -r gi mi ni <<<"$(gaps "$w/vrrp.pcap" "$t_idle0" "$t_idle1")"
read -r gl ml nl <<<"$(gaps "$w/vrrp.pcap" "$t_load0" "$t_load1")"
ip netns pids $ns | xargs -r kill -TERM; sleep 1

# keepalived: its data dump is what exporters read today.
ip netns exec $ns keepalived -n -l -P -f "$w/c.conf" -p "$w/k.pid" -r "$w/kv.pid" >"$w/ka.log" 2>&1 &
for _ in $(seq 600); do grep -q "Entering MASTER" "$w/ka.log" && break; sleep 0.1; done
sleep 2
vpid=$(cat "$w/kv.pid")
kt=()
for _ in $(seq 5); do
	rm -f /tmp/keepalived.data
	a=$(date +%s%N)
	kill -USR1 "$vpid"
	# Done once the file stops growing.
	last=-1
	while :; do
		s=$(stat -c %s /tmp/keepalived.data 2>/dev/null || echo 0)
		[ "$s" -gt 0 ] && [ "$s" = "$last" ] && break
		last=$s; sleep 0.01
	done
	b=$(date +%s%N)
	kt+=($(((b - a) / 1000000 - 10)))
done
ksize=$(stat -c %s /tmp/keepalived.data)
echo
echo "$vs virtual servers x $rs real servers, native (no kernel counters), 20 requests"
printf '%-34s %12s %12s %10s\n' "" "median ms" "max ms" "bytes"
printf '%-34s %12s %12s %10s\n' "lvsd ctl --json status" "$(median "${times[@]}")" "$(max "${times[@]}")" "$size"
printf '%-34s %12s %12s %10s\n' "keepalived SIGUSR1 dump, VRRP only*" "$(median "${kt[@]}")" "$(max "${kt[@]}")" "$ksize"
echo
printf '%-34s %12s %12s %10s\n' "VRRPv3 adverts (advert_int 0.1 s)" "largest gap" "mean gap" "adverts"
printf '%-34s %12s %12s %10s\n' "lvsd idle" "$gi" "$mi" "$ni"
printf '%-34s %12s %12s %10s\n' "lvsd during the 20 requests" "$gl" "$ml" "$nl"
echo "* keepalived's checker process needs IPVS, which this machine lacks: its dump has VRRP data only"
