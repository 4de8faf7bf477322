#!/bin/bash
# Kernel lab (guest side): the conf.d/mysql-tcp-check.conf pattern with two lvsd directors (VRRP and LVS
# in one config each) on a bridge. Director A checks MySQL (a socat listener on 3306) on 10.60.0.31 with
# notify_down scripts/mysql-down.sh, which sends SIGTERM to A's lvsd through LVSD_PIDFILE; A stops with
# a priority 0 advert and the VIP moves to director B. Needs LVSD_BIN.
NAME=lvsd-mysql-failover
NSES="fsw fa fb frs1 frs2"
. "$(dirname "$0")/common.bash"
down=$(cd "$(dirname "$0")/../../../scripts" && pwd)/mysql-down.sh
VIP=10.60.0.100

bridge_ns fsw
attach fsw fa d0 10.60.0.1/24
attach fsw fb d0 10.60.0.2/24
declare -A lis
for n in 1 2; do
	attach fsw frs$n r0 10.60.0.3$n/24
	ip netns exec frs$n socat -u TCP-LISTEN:3306,bind=10.60.0.3$n,fork,reuseaddr OPEN:/dev/null &
	lis[$n]=$!; PIDS+=($!)
	port_open fa 10.60.0.3$n 3306 50 || fail "MySQL stand-in on 10.60.0.3$n did not start"
done

conf() { # priority own-rs: each director's notify_down guards the MySQL node it runs with.
	local n
	cat <<EOC
vrrp_instance VI_MYSQL {
    state BACKUP
    interface d0
    virtual_router_id 61
    priority $1
    advert_int 1
    virtual_ipaddress {
        $VIP/24
    }
}
virtual_server $VIP 3306 {
    delay_loop 1
    lvs_sched wrr
    lvs_method DR
    persistence_timeout 50
    protocol TCP
EOC
	for n in 1 2; do
		echo "    real_server 10.60.0.3$n 3306 {"
		[ "$n" = "$2" ] && echo "        notify_down \"$down 10.60.0.3$n\""
		echo "        TCP_CHECK { connect_timeout 1
            retry 1
            delay_before_retry 1 }
    }"
	done
	echo "}"
}
conf 150 1 >"$w/a.conf"
conf 100 2 >"$w/b.conf"
has_vip() { ip -n "$1" -4 addr show dev d0 | grep -q "inet $VIP/"; }
wait_vip() { # ns seconds
	local i
	for i in $(seq $(($2 * 10))); do has_vip "$1" && return 0; sleep 0.1; done
	return 1
}

ip netns exec fa env LVSD_PIDFILE="$w/a.pid" "$lvsd" -f "$w/a.conf" -l -p "$w/a.pid" >"$w/lvsd-fa.log" 2>&1 &
apid=$!; PIDS+=($apid)
ip netns exec fb env LVSD_PIDFILE="$w/b.pid" "$lvsd" -f "$w/b.conf" -l -p "$w/b.pid" >"$w/lvsd-fb.log" 2>&1 &
bpid=$!; PIDS+=($bpid)
# BACKUP start: master_down_interval (3 x advert + skew) before A (priority 150) takes over.
if wait_vip fa 10 && ! has_vip fb; then pass "director A (priority 150) holds the VIP"; else fail "VIP at start: A $(has_vip fa && echo yes || echo no), B $(has_vip fb && echo yes || echo no)"; fi
pool="10.60.0.31:3306/1 10.60.0.32:3306/1 "
[ "$(dests fa $VIP:3306)" = "$pool" ] && [ "$(dests fb $VIP:3306)" = "$pool" ] && pass "both directors program the DR pool" || fail "pools: A '$(dests fa $VIP:3306)' B '$(dests fb $VIP:3306)'"

kill "${lis[1]}"; t0=$(date +%s.%N)
if wait_vip fb 10; then
	pass "the VIP moved to director B $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s after MySQL on 10.60.0.31 stopped"
else
	fail "VIP not on B: A $(has_vip fa && echo yes || echo no), B no"
fi
for i in $(seq 50); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$apid" 2>/dev/null; then fail "director A's lvsd still runs"; else
	wait "$apid"; rc=$?
	[ "$rc" = 0 ] && pass "notify_down stopped director A's lvsd (exit 0)" || fail "director A's lvsd exit status $rc"
fi
has_vip fa && fail "director A still holds the VIP" || pass "director A released the VIP"
ip netns exec fa ipvsadm -Ln | grep -q "$VIP:3306" && fail "director A left its service" || pass "director A removed its IPVS service on stop"
wait_dests fb $VIP:3306 5 "10.60.0.32:3306/1 " && pass "director B keeps running, without the stopped server" || fail "B's pool: '$(dests fb $VIP:3306)'"
kill -0 "$bpid" 2>/dev/null && pass "director B's lvsd still runs (its notify_down guards 10.60.0.32 only)" || fail "director B's lvsd stopped"

kill -TERM "$bpid"; wait "$bpid"
finish
