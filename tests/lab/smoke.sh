#!/bin/bash
# Kernel lab smoke test (guest side): IPVS services and destinations through ipvsadm, a service per
# loaded scheduler, and two network namespaces that ping each other over a veth pair.
# Run on the host with: scripts/kernel-lab run tests/lab/smoke.sh
set -u

failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
check() { # description command...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

[ "${KERNEL_LAB_GUEST:-}" = 1 ] || { echo "run me inside the kernel lab: scripts/kernel-lab run $0" >&2; exit 2; }

# --- one service, one destination per forwarding method ------------------------------------------
check "add TCP service 10.0.0.1:80 rr" ipvsadm -A -t 10.0.0.1:80 -s rr
check "add masquerading destination" ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.2:8080 -m -w 2
check "add direct-routing destination" ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.3:80 -g -w 3
check "add tunnel destination" ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.4:80 -i -w 4
table=$(ipvsadm -Ln)
echo "$table"
# A line per destination: address, method, weight as the user configured them.
has_line() { grep -Eq -e "$1" <<< "$table"; }
check "service listed with rr" has_line '^TCP +10\.0\.0\.1:80 rr'
check "masq destination listed" has_line '-> 192\.168\.10\.2:8080 +Masq +2 '
check "route destination listed" has_line '-> 192\.168\.10\.3:80 +Route +3 '
check "tunnel destination listed" has_line '-> 192\.168\.10\.4:80 +Tunnel +4 '
check "duplicate service is refused" bash -c '! ipvsadm -A -t 10.0.0.1:80 -s rr 2>/dev/null'
check "delete a destination" ipvsadm -d -t 10.0.0.1:80 -r 192.168.10.3:80
check "deleted destination gone" bash -c '! ipvsadm -Ln | grep -q 192.168.10.3:80'

# --- every scheduler whose module loaded ----------------------------------------------------------
schedulers=$(lsmod | awk '$1 ~ /^ip_vs_/ { sub("ip_vs_", "", $1); print $1 }' | grep -vE '^(ftp|pe_sip)$' | sort)
[ -n "$schedulers" ] || fail "no ip_vs scheduler modules loaded"
echo "schedulers loaded: $(echo $schedulers)"
port=1000
for s in $schedulers; do
	port=$((port + 1))
	check "service with scheduler $s" ipvsadm -A -t "10.0.0.2:$port" -s "$s"
	check "scheduler $s listed" bash -c "ipvsadm -Ln -t 10.0.0.2:$port | grep -Eq '^TCP +10\.0\.0\.2:$port $s( |\$)'"
done
check "clear the table" ipvsadm -C
check "table empty after clear" bash -c '[ "$(ipvsadm -Ln | wc -l)" = 3 ]'

# --- two namespaces over a veth pair --------------------------------------------------------------
ns1=lab-smoke-a ns2=lab-smoke-b
check "create namespaces" bash -c "ip netns add $ns1 && ip netns add $ns2"
check "create veth pair" ip link add veth-a netns "$ns1" type veth peer name veth-b netns "$ns2"
ip -n "$ns1" addr add 192.0.2.1/24 dev veth-a
ip -n "$ns2" addr add 192.0.2.2/24 dev veth-b
ip -n "$ns1" link set veth-a up
ip -n "$ns2" link set veth-b up
ip -n "$ns1" link set lo up
ip -n "$ns2" link set lo up
check "ping across the veth pair" ip netns exec "$ns1" ping -c 2 -W 2 192.0.2.2
ip -n "$ns2" link set veth-b down
check "no ping once the peer is down" bash -c "! ip netns exec $ns1 ping -c 1 -W 1 192.0.2.2 >/dev/null 2>&1"
ip netns del "$ns1"
ip netns del "$ns2"

# --- IPVS NAT data path: a client namespace reaches two real-server namespaces through the VIP ----
# The root namespace is the director: VIP 10.1.0.1 on the client side, real servers on 10.2.0.0/24
# routed back through it (NAT needs the replies to pass the director).
ip netns add lab-cli && ip netns add lab-rs1 && ip netns add lab-rs2
ip link add d-cli type veth peer name eth0 netns lab-cli
ip addr add 10.1.0.254/24 dev d-cli && ip addr add 10.1.0.1/32 dev d-cli && ip link set d-cli up
ip -n lab-cli addr add 10.1.0.100/24 dev eth0 && ip -n lab-cli link set eth0 up
ip link add br-rs type bridge && ip addr add 10.2.0.254/24 dev br-rs && ip link set br-rs up
for i in 1 2; do
	ip link add "d-rs$i" master br-rs type veth peer name eth0 netns "lab-rs$i"
	ip link set "d-rs$i" up
	ip -n "lab-rs$i" addr add "10.2.0.$i/24" dev eth0
	ip -n "lab-rs$i" link set eth0 up
	ip -n "lab-rs$i" link set lo up
	ip -n "lab-rs$i" route add default via 10.2.0.254
	ip netns exec "lab-rs$i" socat TCP-LISTEN:8080,fork,reuseaddr SYSTEM:"echo rs$i" &
done
sysctl -qw net.ipv4.ip_forward=1
ipvsadm -A -t 10.1.0.1:80 -s rr
ipvsadm -a -t 10.1.0.1:80 -r 10.2.0.1:8080 -m
ipvsadm -a -t 10.1.0.1:80 -r 10.2.0.2:8080 -m
# The listeners started in the background: wait until each accepts (a probe connection counts in no
# IPVS statistics, it does not pass the VIP).
for i in 1 2; do
	for _ in $(seq 50); do
		ip netns exec "lab-rs$i" socat -u /dev/null TCP:10.2.0.$i:8080,connect-timeout=1 2>/dev/null && break
		sleep 0.1
	done
done
answers=""
for _ in 1 2 3 4; do
	answers="$answers $(ip netns exec lab-cli socat -T 3 - TCP:10.1.0.1:80,connect-timeout=3 </dev/null)"
done
echo "answers through the VIP:$answers"
check "NAT reaches both real servers in turn" test "$answers" = " rs1 rs2 rs1 rs2" -o "$answers" = " rs2 rs1 rs2 rs1"
# The kernel folds per-CPU counters into the dumped stats every 2 s: poll until they show.
for _ in $(seq 100); do
	stats=$(ipvsadm -Ln --stats -t 10.1.0.1:80)
	conns=$(awk '$1 == "TCP" { print $3 }' <<< "$stats")
	[ "$conns" = 4 ] && break
	sleep 0.1
done
echo "$stats"
check "IPVS counted 4 connections (got '$conns')" test "$conns" = 4
kill $(jobs -p) 2>/dev/null
ipvsadm -C
for n in lab-cli lab-rs1 lab-rs2; do ip netns del "$n"; done
ip link del br-rs

echo "smoke: $failures failure(s)"
[ "$failures" = 0 ]
