#!/bin/bash
# Kernel lab (guest side) for scripts/bench/scaleout.sh, on the scale-out topology of
# tests/lab/scaleout.bash (router with BIRD ECMP, three LVS-DR directors with BIRD and lvsd):
#  1. withdrawal: director 1's checks of all its real servers fail (refused); time until its next
#     hop leaves the router's kernel table, and the part after lvsd's checker saw the last real
#     server down (lvsd + BIRD + BGP + the router), median of LAB_TRIALS (10) at random phases;
#  2. connections kept when one of three directors leaves, 100 and 1,000 flows: mh recipe vs rr;
#  3. 1,000 VIPs on one director: lvsd's start to all 1,000 routes on the router, and one VIP's
#     withdrawal (lvsd ctl disable of its only real server) to its route leaving the router.
set -u
# lvsd, w, PIDS and port_open from the suite's helpers (no namespaces of its own there);
# scaleout.bash's teardown replaces their cleanup.
NSES=""
. "$(dirname "$0")/../../tests/lab/suite.d/common.bash"
pass() { :; }
fail() { echo "FAIL - $*"; }
N=${LAB_TRIALS:-10}
FLOWS=${LAB_FLOWS:-"100 1000"}
. "$(dirname "$0")/../../tests/lab/scaleout.bash"
SO=bb
trap 'so_teardown' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# ts LINE: the Unix time of an lvsd console log line (RFC 3339 at its start).
ts() { date -d "$(echo "$1" | awk '{print $1}')" +%s.%N; }

# 1. Withdrawal time.
so_setup
for n in 1 2 3; do so_start_director $n mh; done
so_wait_paths $SO_VIP4 3 60 || echo "FAIL - no three next hops: '$(so_paths $SO_VIP4)'"
: >"$w/total"; : >"$w/after"; : >"$w/lvsd"
for t in $(seq "$N"); do
	sleep "0.$((RANDOM % 10))"
	lines=$(wc -l <"$w/lvsd-d1.log")
	# The router's route changes are timed by the kernel's own notification (ip -ts monitor), not by
	# polling, which under emulation adds a tenth of a second per look.
	ip -n "${SO}rt" -ts monitor route >"$w/mon" 2>&1 &
	mp=$!
	t0=$(now)
	so_fail_checks 1
	if took=$(so_wait_without $SO_VIP4 10.40.0.11 10); then
		kill $mp; wait $mp 2>/dev/null
		seen=$(grep -m1 "^\[.*\] $SO_VIP4 " "$w/mon" | sed 's/^\[\([^]]*\)\].*/\1/')
		if [ -n "$seen" ]; then tr=$(date -d "$seen" +%s.%N); else tr=$(echo "$t0 + $took" | bc); fi
		echo "$tr - $t0" | bc >>"$w/total"
		new=$(tail -n +"$((lines + 1))" "$w/lvsd-d1.log")
		last=$(echo "$new" | grep "Real server .*:$SO_PORT.* is down" | grep -v "fd00" | tail -1)
		told=$(echo "$new" | grep -m1 "BGP: VIP $SO_VIP4 withdrawn")
		if [ -n "$last" ]; then
			echo "$tr - $(ts "$last")" | bc >>"$w/after"
			[ -n "$told" ] && echo "$(ts "$told") - $(ts "$last")" | bc >>"$w/lvsd"
		fi
	else
		kill $mp; wait $mp 2>/dev/null
		echo "FAIL - trial $t: not withdrawn"
	fi
	so_heal_checks 1
	so_wait_paths $SO_VIP4 3 30 || echo "FAIL - trial $t: d1 did not come back"
done
W_TOTAL=$(median <"$w/total")
W_AFTER=$(median <"$w/after")
W_LVSD=$(median <"$w/lvsd")
so_teardown

# 2. Connections kept.
declare -A KEPT
for sched in mh rr; do
	for f in $FLOWS; do
		w=$w/$sched-$f; mkdir -p "$w"
		so_setup
		for n in 1 2 3; do so_start_director $n $sched; done
		so_wait_paths $SO_VIP4 3 60 || echo "FAIL - $sched $f: no three next hops"
		ip netns exec "${SO}cl" $so_flows run $SO_VIP4 $SO_PORT "$f" 1 "$w/flows.json" &
		fp=$!
		since=$(now)
		$so_flows wait "$w/flows.json" "$since" "$f" 120 || echo "FAIL - $sched $f: not all answered at start"
		so_fail_checks 1
		so_wait_without $SO_VIP4 10.40.0.11 10 >/dev/null || echo "FAIL - $sched $f: not withdrawn"
		since=$(now)
		sleep 5
		KEPT[$sched-$f]=$($so_flows check "$w/flows.json" "$since" | head -1 | awk '{print $2}')
		{ kill "$fp" && wait "$fp"; } 2>/dev/null
		so_teardown
		w=${w%/*}
	done
done

# 3. 1,000 VIPs on one director.
w=$w/many; mkdir -p "$w"
SO_VIPS_EXTRA=1000
so_setup
so_conf 1 mh >"$w/lvsd-d1.conf"; so_bird_conf 1 >"$w/bird-d1.conf"; so_bird 1
t0=$(now)
so_lvsd 1
for i in $(seq 6000); do
	c=$(ip -n "${SO}rt" route show | grep -c '^10\.41\.')
	[ "$c" -ge 1000 ] && break
	sleep 0.05
done
t_all=$(now)
A_TOTAL=$(echo "$t_all - $t0" | bc)
first=$(grep -m1 "BGP: VIP 10.41" "$w/lvsd-d1.log")
A_AFTER=$( [ -n "$first" ] && echo "$t_all - $(ts "$first")" | bc || echo nan)
[ "$c" -ge 1000 ] || echo "FAIL - only $c of 1000 VIP routes on the router"
t0=$(now)
ip netns exec "${SO}d1" "$lvsd" ctl -s "$w/ctl-d1.sock" disable 10.41.0.7:$SO_PORT 10.40.0.21 >/dev/null ||
	echo "FAIL - lvsd ctl disable"
for i in $(seq 2000); do
	ip -n "${SO}rt" route show 10.41.0.7 | grep -q . || break
	sleep 0.01
done
ONE=$(echo "$(now) - $t0" | bc)
so_teardown

printf '\n%-64s %s\n' "scale-out (kernel lab, TCG)" "lvsd"
printf '%-64s %s s\n' "last real server fails -> next hop leaves the router (median of $N)" "$W_TOTAL"
printf '%-64s %s s (target 0.2)\n' "  of which after the checker saw it (lvsd + BIRD + BGP + router)" "$W_AFTER"
printf '%-64s %s s\n' "    of which lvsd (real server down -> VIP withdrawn, its log)" "$W_LVSD"
for f in $FLOWS; do
	printf '%-64s mh %s  rr %s\n' "connections kept of $f when one of three directors leaves" "${KEPT[mh-$f]:-?}" "${KEPT[rr-$f]:-?}"
done
printf '%-64s %s s\n' "1,000 VIPs: lvsd start -> all on the router" "$A_TOTAL"
printf '%-64s %s s\n' "  from lvsd's first announcement" "$A_AFTER"
printf '%-64s %s s\n' "1,000 VIPs: withdraw one (lvsd ctl disable -> route gone)" "$ONE"
