#!/bin/bash
# Kernel lab (guest side): the lvsd daemon runs an LVS-NAT pool of three web servers in network
# namespaces. A client reaches all three through the VIP; a stopped server leaves `ipvsadm -Ln` within
# delay_loop + retry x (connect_timeout + delay_before_retry) and its notify_down runs; an
# inhibit_on_failure server stays with weight 0; a restarted server comes back; SIGTERM removes
# lvsd's service and leaves another program's service alone. Needs LVSD_BIN.
set -u
lvsd=${LVSD_BIN:?LVSD_BIN must name the lvsd binary}
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
w=$(mktemp -d)
D="ip netns exec lvd"

cleanup() {
	[ -n "${lpid:-}" ] && kill -9 "$lpid" 2>/dev/null
	for n in 1 2 3; do [ -n "${web[$n]:-}" ] && kill "${web[$n]}" 2>/dev/null; done
	for ns in lvd cli rs1 rs2 rs3; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
declare -a web

for ns in lvd cli rs1 rs2 rs3; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns cli type veth peer name d0 netns lvd
ip -n cli addr add 10.10.0.2/24 dev c0; ip -n cli link set c0 up
ip -n lvd addr add 10.10.0.1/24 dev d0; ip -n lvd addr add 10.10.0.100/24 dev d0; ip -n lvd link set d0 up
for n in 1 2 3; do
	ip link add r0 netns rs$n type veth peer name d$n netns lvd
	ip -n rs$n addr add 10.20.$n.2/24 dev r0; ip -n rs$n link set r0 up
	ip -n rs$n route add default via 10.20.$n.1
	ip -n lvd addr add 10.20.$n.1/24 dev d$n; ip -n lvd link set d$n up
	mkdir -p "$w/www$n"; echo "rs$n" >"$w/www$n/index.html"
done
$D sysctl -qw net.ipv4.ip_forward=1

start_web() { # n
	ip netns exec rs$1 python3 -m http.server 8080 --bind 10.20.$1.2 --directory "$w/www$1" >/dev/null 2>&1 &
	web[$1]=$!
	for _ in $(seq 50); do ip netns exec rs$1 python3 -c "import socket; socket.create_connection(('10.20.$1.2', 8080), 1)" 2>/dev/null && return; sleep 0.1; done
}
for n in 1 2 3; do start_web $n; done

cat >"$w/notify.sh" <<'EOS'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/notify.log"
EOS
chmod 755 "$w/notify.sh"
cat >"$w/lvsd.conf" <<EOF2
virtual_server 10.10.0.100 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 10.20.1.2 8080 {
        notify_down "$w/notify.sh down rs1"
        notify_up "$w/notify.sh up rs1"
        TCP_CHECK { connect_timeout 1
            retry 1
            delay_before_retry 1 }
    }
    real_server 10.20.2.2 8080 {
        TCP_CHECK { connect_timeout 1
            retry 1
            delay_before_retry 1 }
    }
    real_server 10.20.3.2 8080 {
        inhibit_on_failure
        TCP_CHECK { connect_timeout 1
            retry 1
            delay_before_retry 1 }
    }
}
virtual_server 10.10.0.150 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    ha_suspend
    real_server 10.20.2.2 9999 {
        TCP_CHECK { connect_timeout 1
            retry 0 }
    }
}
EOF2
# Another program's service: lvsd must leave it alone.
$D ipvsadm -A -t 10.10.0.200:80 -s rr

$D "$lvsd" -f "$w/lvsd.conf" -l -p "$w/lvsd.pid" --metrics-listen 127.0.0.1:9650 >"$w/lvsd.log" 2>&1 &
lpid=$!
dests() { $D ipvsadm -Ln -t 10.10.0.100:80 2>/dev/null | awk '$1 == "->" && $2 ~ /^10\.20/ { print $2 "/" $4 }' | sort | tr '\n' ' '; }
wait_for() { # seconds expected
	local i
	for i in $(seq $(($1 * 10))); do [ "$(dests)" = "$2" ] && return 0; sleep 0.1; done
	return 1
}
wait_grep() { # file pattern seconds: true once a line matches (scripts run beside the pool change)
	local i
	for i in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
all="10.20.1.2:8080/1 10.20.2.2:8080/1 10.20.3.2:8080/1 "
if wait_for 10 "$all"; then pass "lvsd programs the pool at start: $all"; else fail "pool at start: '$(dests)'"; cat "$w/lvsd.log"; fi

answers=$(for i in 1 2 3 4 5 6; do ip netns exec cli python3 -c "import urllib.request; print(urllib.request.urlopen('http://10.10.0.100/', timeout=3).read().decode().strip())" 2>&1; done | sort | uniq -c | tr -s ' ' | tr '\n' ',')
[ "$answers" = " 2 rs1, 2 rs2, 2 rs3," ] && pass "rr through the VIP reaches each real server twice in 6 requests" || fail "answers through the VIP: $answers"
# /metrics shows the kernel's counters of those requests per real server, in a valid format (the
# kernel sums its per-CPU counters every 2 s, so the first scrape may lag).
rs1_conns='^lvsd_ipvs_connections_total{virtual_server="\[10.10.0.100\]:tcp:80",real_server="\[10.20.1.2\]:tcp:8080"} 2$'
for _ in $(seq 10); do
	metrics=$($D python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9650/metrics', timeout=10).read().decode())" 2>&1)
	echo "$metrics" | grep -q "$rs1_conns" && break
	sleep 0.5
done
echo "$metrics" | grep -q "$rs1_conns" \
	&& pass "/metrics: IPVS counted 2 connections to rs1" \
	|| fail "/metrics IPVS counters: $(echo "$metrics" | grep lvsd_ipvs_connections_total)"
if command -v promtool >/dev/null; then
	echo "$metrics" | promtool check metrics >"$w/promtool.out" 2>&1 && pass "/metrics passes promtool check metrics" || fail "promtool: $(cat "$w/promtool.out")"
fi

kill "${web[1]}"; t0=$(date +%s.%N)
# Bound: delay_loop 1 + retry 1 x (connect_timeout 1 + delay_before_retry 1) = 3 s, plus a check in flight.
if wait_for 6 "10.20.2.2:8080/1 10.20.3.2:8080/1 "; then
	pass "a stopped server leaves the pool in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s (bound 3 s + one check)"
else
	fail "after stopping rs1: '$(dests)'"
fi
wait_grep "$w/notify.log" "^down rs1$" 5 && pass "notify_down ran with its arguments" || fail "notify_down: $(cat "$w/notify.log" 2>&1)"
grep -q "Removing service \[10.20.1.2\]:tcp:8080 from VS \[10.10.0.100\]:tcp:80" "$w/lvsd.log" && pass "log says Removing service [10.20.1.2]:tcp:8080 from VS [10.10.0.100]:tcp:80" || fail "no Removing log line"

kill "${web[3]}"
if wait_for 6 "10.20.2.2:8080/1 10.20.3.2:8080/0 "; then pass "inhibit_on_failure keeps rs3 with weight 0"; else fail "after stopping rs3: '$(dests)'"; fi

start_web 1
if wait_for 6 "10.20.1.2:8080/1 10.20.2.2:8080/1 10.20.3.2:8080/0 "; then pass "a restarted server comes back"; else fail "after restarting rs1: '$(dests)'"; fi
wait_grep "$w/notify.log" "^up rs1$" 5 && pass "notify_up ran" || fail "notify_up: $(cat "$w/notify.log")"

# ha_suspend: 10.10.0.150 is not on the director, so the failing check of its only server does not count.
# A negative assertion: counted, that check (delay_loop 1, connect_timeout 1, retry 0) would have
# removed the server within 2 s of lvsd's start, long before now; 3 s more cover further checks.
sleep 3
$D ipvsadm -Ln -t 10.10.0.150:80 | grep -q "10.20.2.2:9999" && pass "ha_suspend: checks do not count while the VIP is elsewhere" || fail "ha_suspend: server removed while suspended"
ip -n lvd addr add 10.10.0.150/24 dev d0
for _ in $(seq 60); do $D ipvsadm -Ln -t 10.10.0.150:80 | grep -q "10.20.2.2:9999" || break; sleep 0.1; done
$D ipvsadm -Ln -t 10.10.0.150:80 | grep -q "10.20.2.2:9999" && fail "ha_suspend: checks still suspended with the VIP here" || pass "ha_suspend: with the VIP here, the failing server is removed"

kill -TERM "$lpid"; wait "$lpid"; rc=$?; lpid=
[ "$rc" = 0 ] && pass "lvsd exits 0 on SIGTERM" || fail "lvsd exit status $rc"
$D ipvsadm -Ln | grep -q "10.10.0.100:80" && fail "lvsd's service left after stop" || pass "SIGTERM removes lvsd's service"
$D ipvsadm -Ln | grep -q "10.10.0.200:80" && pass "another program's service is left alone" || fail "lvsd removed a service it did not create"
[ $failures = 0 ] || { echo "--- lvsd log"; cat "$w/lvsd.log"; }
echo "lvsd-nat-pool: $failures failure(s)"
[ $failures = 0 ]
