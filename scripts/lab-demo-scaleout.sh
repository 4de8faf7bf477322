#!/bin/bash
# Kernel lab (guest side) of scripts/demo-scaleout; the topology is tests/lab/scaleout.bash.
set -u
# lvsd, w, PIDS and port_open from the suite's helpers (no namespaces of its own there);
# scaleout.bash's teardown replaces their cleanup.
NSES=""
. "$(dirname "$0")/../tests/lab/suite.d/common.bash"
pass() { :; }
fail() { echo "problem: $*"; }
. "$(dirname "$0")/../tests/lab/scaleout.bash"
SO=dm
trap 'so_teardown' EXIT
now() { date +%s.%N; }
route() { echo "router> ip route show $SO_VIP4"; ip -n "${SO}rt" route show $SO_VIP4 | sed 's/^/        /'; }

echo "== starting: router (BIRD, ECMP), directors d1 d2 d3 (BIRD + lvsd, lvs_sched mh), real servers r1 r2 r3"
so_setup
for n in 1 2 3; do so_start_director $n mh; done
so_wait_paths $SO_VIP4 3 60 || fail "the router has not three next hops"
route
echo
echo "== d1> lvsd ctl status (BGP part)"
ip netns exec "${SO}d1" "$lvsd" ctl -s "$w/ctl-d1.sock" status | sed -n '/^BGP/,$p'
echo
echo "== client: 100 long-lived connections to $SO_VIP4:$SO_PORT, a line every 0.5 s each"
ip netns exec "${SO}cl" $so_flows run $SO_VIP4 $SO_PORT 100 0.5 "$w/flows.json" &
fp=$!
since=$(now)
$so_flows wait "$w/flows.json" "$since" 100 60 || fail "not every connection answered"
for n in 1 2 3; do
	echo "   d$n carries $(ip netns exec "${SO}d$n" ipvsadm -Lnc | grep -c "$SO_VIP4:$SO_PORT") connections"
done
echo
echo "== d1's real servers fail (its health checks are refused from now on)"
so_fail_checks 1
took=$(so_wait_without $SO_VIP4 10.40.0.11 10) && echo "   d1 left the router's route after $took s"
route
echo
grep "BGP: VIP $SO_VIP4" "$w/lvsd-d1.log" | tail -1 | sed 's/^/d1 log: /'
since=$(now)
sleep 5
echo
echo "== what the client saw in the 5 s after"
$so_flows check "$w/flows.json" "$since" | sed 's/^/   /'
{ kill "$fp" && wait "$fp"; } 2>/dev/null
echo
echo "== d1> lvsd ctl status (BGP part)"
ip netns exec "${SO}d1" "$lvsd" ctl -s "$w/ctl-d1.sock" status | sed -n '/^BGP/,$p'
