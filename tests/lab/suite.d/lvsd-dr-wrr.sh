#!/bin/bash
# Kernel lab (guest side): a real LVS-DR packet path through lvsd. Client, director and two real
# servers share a bridge; the real servers hold the VIP on lo (arp_ignore=1, arp_announce=2, so only
# the director answers ARP for it) and answer the client directly. lvsd programs `lvs_sched wrr` with
# weights 3 and 1, so 40 new connections to the VIP split 30/10. Needs LVSD_BIN.
NAME=lvsd-dr-wrr
NSES="dsw dcl dlv drs1 drs2"
. "$(dirname "$0")/common.bash"
VIP=10.30.0.100

bridge_ns dsw
attach dsw dcl c0 10.30.0.2/24
attach dsw dlv d0 10.30.0.1/24
ip -n dlv addr add $VIP/24 dev d0
for n in 1 2; do
	ns=drs$n
	ip netns exec $ns sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	attach dsw $ns r0 10.30.0.1$n/24
	ip -n $ns addr add $VIP/32 dev lo
	# The client stands in for the upstream router: replies from the VIP go there, not to the director.
	ip -n $ns route add default via 10.30.0.2
	mkdir -p "$w/www$n"; echo "rs$n" >"$w/www$n/index.html"
	start_web $ns 0.0.0.0 80 "$w/www$n" || fail "web server on rs$n did not start"
done

cat >"$w/lvsd.conf" <<EOC
virtual_server $VIP 80 {
    protocol TCP
    lvs_sched wrr
    lvs_method DR
    delay_loop 1
    real_server 10.30.0.11 80 {
        weight 3
        TCP_CHECK { connect_timeout 1 }
    }
    real_server 10.30.0.12 80 {
        weight 1
        TCP_CHECK { connect_timeout 1 }
    }
}
EOC
start_lvsd dlv "$w/lvsd.conf"
if wait_dests dlv $VIP:80 15 "10.30.0.11:80/3 10.30.0.12:80/1 "; then
	pass "lvsd programs the DR pool with weights 3 and 1"
else
	fail "pool at start: '$(dests dlv $VIP:80)'"
fi
fwd=$(ip netns exec dlv ipvsadm -Ln -t $VIP:80 | awk '$1 == "->" && $2 ~ /^10/ { print $3 }' | sort -u)
[ "$fwd" = Route ] && pass "forwarding method is Route (DR)" || fail "forwarding: '$fwd'"

answers=$(ip netns exec dcl python3 - "$VIP" <<'EOP'
import socket, sys, collections
seen = collections.Counter()
for _ in range(40):
    try:
        s = socket.create_connection((sys.argv[1], 80), 3)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        seen[data.split(b"\r\n\r\n", 1)[-1].decode().strip()] += 1
    except OSError as e:
        seen["error: %s" % e] += 1
print(" ".join("%s=%d" % kv for kv in sorted(seen.items())))
EOP
)
[ "$answers" = "rs1=30 rs2=10" ] && pass "wrr 3:1 through the VIP: 40 connections answered $answers" || fail "answers through the VIP: $answers"
arp=$(ip netns exec dcl ip neigh show $VIP | awk '{ print $5 }')
dmac=$(ip -n dlv link show d0 | awk '/ether/ { print $2 }')
[ "$arp" = "$dmac" ] && pass "only the director answers ARP for the VIP" || fail "client's ARP entry for the VIP: '$arp' (director $dmac)"
# --stats: Conns InPkts OutPkts. In DR the director never sees a reply, so OutPkts stays 0. The
# kernel folds its per-CPU counters into --stats every 2 s: poll until they show.
want_stats="10.30.0.11:80 conns=30 out=0 10.30.0.12:80 conns=10 out=0 "
for _ in $(seq 100); do
	stats=$(ip netns exec dlv ipvsadm -Ln --stats -t $VIP:80 | awk '$1 == "->" && $2 ~ /^10/ { printf "%s conns=%s out=%s ", $2, $3, $5 }')
	[ "$stats" = "$want_stats" ] && break
	sleep 0.1
done
[ "$stats" = "$want_stats" ] && pass "ipvsadm --stats: 30 and 10 connections, no reply packet through the director" || fail "ipvsadm --stats: $stats"

kill -TERM "$LPID"; wait "$LPID"; rc=$?
[ "$rc" = 0 ] && pass "lvsd exits 0 on SIGTERM" || fail "lvsd exit status $rc"
finish
