#!/bin/bash
# Kernel lab (guest side): connections survive director failover, both ways. An LVS-NAT pair (outside
# VIP and inside gateway VIP in one sync group, lvs_sync_daemon on the inside LAN) and an LVS-DR pair,
# two real servers each, 20 long-lived client connections with data flowing:
#  - the master dies (links down, every process in its namespace SIGKILLed): every connection keeps
#    being answered through the backup by the same real server, and the backup's ipvsadm -Lnc had them;
#  - failback: the dead director comes back (a fresh namespace, as after a reboot) and preempts: the
#    connections opened while it was away (and the older ones) keep working;
#  - a graceful stop (SIGTERM) of the master keeps them too.
# Controls: the same pair without lvs_sync_daemon loses them. keepalived 2.2.7 runs the same scenarios
# on the same files and its results are printed beside lvsd's. Needs LVSD_BIN.
#
# LAB_SYNC_FLOWS (default 20) and LAB_SYNC_INTERVAL (default 1 s: slow enough that the kernel's own
# resync, every 50 packets, does not reach a returning director in time) size the traffic;
# LAB_SYNC_ONLY=lvsd or keepalived runs one program; scripts/bench/sync-failover.sh uses these. The
# lvsd and keepalived scenarios run side by side, each pair in namespaces of its own.
NAME=lvsd-sync-failover
NSES=""
. "$(dirname "$0")/common.bash"
# Namespaces of scenarios still running when the part is interrupted.
sweep() {
	local n
	for n in $(ip netns list | awk '{print $1}' | grep -E '^s[a-z](sw|c|d1|d2|r1|r2)$'); do
		ip netns pids "$n" | xargs -r kill -9
		ip netns del "$n"
	done
}
trap 'cleanup; sweep' EXIT
flows="python3 $(cd "$(dirname "$0")/.." && pwd)/flows.py"
N=${LAB_SYNC_FLOWS:-20}
IV=${LAB_SYNC_INTERVAL:-1}
ONLY=${LAB_SYNC_ONLY:-}
RESULTS=()
now() { date +%s.%N; }

# Namespaces are made per scenario, with a prefix, and removed by its end (or cleanup).
mkns() { ip netns add "$1"; ip -n "$1" link set lo up; NSES="$NSES $1"; }
plug() { # sw bridge ns ifname addr/len
	ip link add "$4" netns "$3" type veth peer name "p$4-$3" netns "$1"
	ip -n "$1" link set "p$4-$3" master "$2" up
	ip -n "$3" addr add "$5" dev "$4"; ip -n "$3" link set "$4" up
}
bridge() { ip -n "$1" link add "$2" type bridge; ip -n "$1" link set "$2" up; }
has_addr() { ip -n "$1" -4 addr show | grep -q "inet $2/"; }
wait_addr() { # ns addr seconds
	local i
	for i in $(seq $(($3 * 10))); do has_addr "$1" "$2" && return 0; sleep 0.1; done
	return 1
}
# kept STATUS SINCE: the number of connections kept (flows.py check).
kept() { $flows check "$1" "$2" | head -1 | awk '{print $2}'; }
# wait_kept STATUS SINCE COUNT SECONDS: until COUNT connections were answered after SINCE.
wait_kept() { $flows wait "$@"; }
# synced NS VIP:PORT: ESTABLISHED entries the director's kernel holds for the VIP.
synced() { ip netns exec "$1" ipvsadm -Lnc 2>/dev/null | awk -v v="$2" '$3 == "ESTABLISHED" && $5 == v' | wc -l; }
wait_synced() { # ns vip:port count seconds
	local i
	for i in $(seq $(($4 * 5))); do [ "$(synced "$1" "$2")" -ge "$3" ] && return 0; sleep 0.2; done
	return 1
}

# start PROG NS CONF: lvsd or keepalived in the foreground; sets SPID.
start() {
	local prog=$1 ns=$2 conf=$3
	if [ "$prog" = keepalived ]; then
		ip netns exec "$ns" keepalived -n -l -D -f "$conf" -p "$w/$ns.pid" -r "$w/$ns-vrrp.pid" \
			-c "$w/$ns-chk.pid" >>"$w/lvsd-$ns.log" 2>&1 &
	else
		ip netns exec "$ns" "$lvsd" -f "$conf" -l -p "$w/$ns.pid" >>"$w/lvsd-$ns.log" 2>&1 &
	fi
	SPID=$!; PIDS+=("$SPID")
}
# die NS IF...: the director's links go down and every process in it is killed.
die() {
	local ns=$1 ifc; shift
	for ifc in "$@"; do ip -n "$ns" link set "$ifc" down; done
	ip netns pids "$ns" | xargs -r kill -9
}
# stop PID LOG: SIGTERM, and at most 30 s for the daemon to end; one that does not is a failure,
# shown with its log and where its threads wait, then killed.
stop() {
	local pid=$1 i t
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }; sleep 0.1; done
	fail "pid $pid did not stop within 30 s of SIGTERM"
	tail -30 "$2"
	for t in /proc/"$pid"/task/*; do echo "thread $(cat "$t/comm"): $(cat "$t/wchan" 2>/dev/null) $(head -c 300 "$t/stack" 2>/dev/null | tr '\n' ' ')"; done
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	return 1
}
record() { RESULTS+=("$(printf '%-10s %-4s %-24s kept %-10s first answer after %s s' "$1" "$2" "$3" "$4" "$5")"); }
# verdict PROG WHAT KEPT WANT: lvsd must keep WANT; keepalived's count is recorded only.
verdict() {
	local prog=$1 what=$2 k=$3 want=$4
	record "$prog" "$MODE" "$what" "$k of $want" "$($flows gap "$STATUS" "$SINCE")"
	if [ "$prog" = lvsd ]; then
		[ "$k" = "$want" ] && pass "$MODE $what: lvsd kept $k of $want connections" ||
			{ fail "$MODE $what: lvsd kept $k of $want"; $flows check "$STATUS" "$SINCE" | head -8; }
	else
		echo "info - $MODE $what: keepalived kept $k of $want connections"
	fi
}

# conf MODE PRIO SYNC: the pair's configuration (one file for lvsd and keepalived).
conf() {
	local mode=$1 prio=$2 sync=$3 rs
	echo "global_defs {"
	echo "    router_id d$prio"
	[ "$sync" = yes ] && { [ "$mode" = nat ] && echo "    lvs_sync_daemon in0 VI_OUT" || echo "    lvs_sync_daemon lan0 VI_OUT"; }
	echo "}"
	if [ "$mode" = nat ]; then
		cat <<EOC
vrrp_sync_group G {
    group {
        VI_OUT
        VI_IN
    }
}
vrrp_instance VI_IN {
    state BACKUP
    interface in0
    virtual_router_id 72
    priority $prio
    advert_int 1
    virtual_ipaddress {
        10.81.0.254/24
    }
}
EOC
	fi
	cat <<EOC
vrrp_instance VI_OUT {
    state BACKUP
    interface $([ "$mode" = nat ] && echo out0 || echo lan0)
    virtual_router_id 71
    priority $prio
    advert_int 1
    virtual_ipaddress {
        $VIP/24
    }
}
virtual_server $VIP 9000 {
    delay_loop 5
    lb_algo rr
    lb_kind $([ "$mode" = nat ] && echo NAT || echo DR)
    protocol TCP
EOC
	for rs in $RS; do echo "    real_server $rs 9000 {
        weight 1
    }"; done
	echo "}"
}

# director P N PRIO: (re)creates director N of pair P on the pair's LANs.
director() {
	local p=$1 n=$2
	mkns "${p}d$n"
	if [ "$MODE" = nat ]; then
		plug "${p}sw" br0 "${p}d$n" out0 10.80.0.$n/24
		plug "${p}sw" br1 "${p}d$n" in0 10.81.0.$n/24
	else
		plug "${p}sw" br0 "${p}d$n" lan0 10.82.0.$n/24
	fi
	ip netns exec "${p}d$n" sysctl -qw net.ipv4.ip_forward=1
}

# scenario PROG MODE SYNC PREFIX: builds the pair, runs the phases, removes the namespaces.
scenario() {
	local prog=$1 sync=$3 p=$4 n rs links
	MODE=$2
	echo "--- $prog $MODE, sync $sync"
	NSES=""
	mkns "${p}sw"; bridge "${p}sw" br0
	mkns "${p}c"
	if [ "$MODE" = nat ]; then
		VIP=10.80.0.100; RS="10.81.0.11 10.81.0.12"; links="out0 in0"
		bridge "${p}sw" br1
		plug "${p}sw" br0 "${p}c" c0 10.80.0.10/24
		for n in 1 2; do
			mkns "${p}r$n"; plug "${p}sw" br1 "${p}r$n" in0 10.81.0.1$n/24
			ip -n "${p}r$n" route add default via 10.81.0.254
		done
	else
		VIP=10.82.0.100; RS="10.82.0.11 10.82.0.12"; links="lan0"
		plug "${p}sw" br0 "${p}c" c0 10.82.0.10/24
		for n in 1 2; do
			mkns "${p}r$n"; plug "${p}sw" br0 "${p}r$n" lan0 10.82.0.1$n/24
			ip -n "${p}r$n" addr add $VIP/32 dev lo
			ip netns exec "${p}r$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
		done
	fi
	for n in 1 2; do
		ip netns exec "${p}r$n" $flows serve "rs$n" 0.0.0.0 9000 &
		PIDS+=($!)
		port_open "${p}r$n" 127.0.0.1 9000 50 || fail "echo server rs$n did not start"
	done
	conf $MODE 150 $sync >"$w/$p-d1.conf"
	conf $MODE 100 $sync >"$w/$p-d2.conf"
	director "$p" 1; director "$p" 2
	start "$prog" "${p}d1" "$w/$p-d1.conf"; local d1=$SPID
	wait_addr "${p}d1" $VIP 15 || fail "$prog $MODE: director 1 did not take the VIP"
	start "$prog" "${p}d2" "$w/$p-d2.conf"
	port_open "${p}c" $VIP 9000 100 || fail "$prog $MODE: the VIP does not answer"

	# Phase 1: the master dies.
	STATUS="$w/$p-a.json"
	ip netns exec "${p}c" $flows run $VIP 9000 "$N" "$IV" "$STATUS" &
	local ca=$!; PIDS+=($ca)
	SINCE=0
	wait_kept "$STATUS" 0 "$N" 30 || fail "$prog $MODE: not every connection was answered at first: $(kept "$STATUS" 0)"
	if [ "$sync" = yes ]; then
		if wait_synced "${p}d2" $VIP:9000 "$N" 30; then
			[ "$prog" = lvsd ] && pass "$MODE: the backup's ipvsadm -Lnc holds the $N connections before the failure"
		else
			[ "$prog" = lvsd ] && fail "$MODE: the backup holds $(synced "${p}d2" $VIP:9000) of $N connections"
		fi
	fi
	sleep 1 # every connection carries data past the sync point
	SINCE=$(now)
	die "${p}d1" $links
	wait_addr "${p}d2" $VIP 15 || fail "$prog $MODE: the VIP did not move to director 2"
	if [ "$sync" = yes ]; then
		wait_kept "$STATUS" "$SINCE" "$N" 20
		verdict "$prog" "master killed" "$(kept "$STATUS" "$SINCE")" "$N"
	else
		sleep 3 # the connections' next lines meet the new master
	fi
	if [ "$sync" = no ]; then
		local k; k=$(kept "$STATUS" "$SINCE")
		[ "$k" = 0 ] && pass "$MODE control without lvs_sync_daemon: all $N connections lost ($prog)" ||
			fail "$MODE control without lvs_sync_daemon: $k of $N kept; the scenario cannot tell sync from luck"
		record "$prog" "$MODE" "no sync, master killed" "$k of $N" "-"
	fi
	if [ "$sync" = yes ] && [ "$MODE" = nat ]; then
		# Phase 2: failback. New connections while director 1 is away, then it comes back afresh.
		local sb="$w/$p-b.json"
		ip netns exec "${p}c" $flows run $VIP 9000 "$N" "$IV" "$sb" &
		local cb=$!; PIDS+=($cb)
		wait_kept "$sb" 0 "$N" 30 || fail "$prog $MODE: new connections through director 2: $(kept "$sb" 0)"
		sleep 1
		ip netns del "${p}d1"
		director "$p" 1
		start "$prog" "${p}d1" "$w/$p-d1.conf"; d1=$SPID
		if wait_addr "${p}d1" $VIP 30; then
			for n in $(seq 50); do has_addr "${p}d2" $VIP || break; sleep 0.1; done
		else
			fail "$prog $MODE: the returning director did not preempt"
		fi
		SINCE=$(now)
		wait_kept "$sb" "$SINCE" "$N" 20
		STATUS=$sb; verdict "$prog" "failback (new conns)" "$(kept "$sb" "$SINCE")" "$N"
		wait_kept "$w/$p-a.json" "$SINCE" "$N" 10
		STATUS="$w/$p-a.json"; verdict "$prog" "failback (old conns)" "$(kept "$STATUS" "$SINCE")" "$N"
		[ "$prog" = lvsd ] && grep -h "catch-up" "$w/lvsd-${p}d1.log" "$w/lvsd-${p}d2.log" | sed 's/^/info - /' | head -6

		# Phase 3: a graceful stop of the master.
		sleep 1
		SINCE=$(now)
		stop "$d1" "$w/lvsd-${p}d1.log"
		wait_addr "${p}d2" $VIP 15 || fail "$prog $MODE: the VIP did not move back to director 2"
		wait_kept "$w/$p-a.json" "$SINCE" "$N" 20; wait_kept "$sb" "$SINCE" "$N" 10
		local ka kb
		ka=$(kept "$w/$p-a.json" "$SINCE"); kb=$(kept "$sb" "$SINCE")
		STATUS=$sb; verdict "$prog" "graceful stop" "$((ka + kb))" "$((2 * N))"
		kill "$cb" 2>/dev/null
	fi
	kill "$ca" 2>/dev/null
	ip netns pids "${p}d1" 2>/dev/null | xargs -r kill -TERM
	ip netns pids "${p}d2" 2>/dev/null | xargs -r kill -TERM
	sleep 0.5
	for n in $NSES; do ip netns pids "$n" 2>/dev/null | xargs -r kill -9; ip netns del "$n" 2>/dev/null; done
	NSES=""
}

# stream NAME SCENARIO-ARGS...: scenarios one after the other, in the background; their output,
# results and failure count go to files read at the end.
stream() {
	local name=$1; shift
	(
		while [ $# -gt 0 ]; do scenario "$1" "$2" "$3" "$4"; shift 4; done
		printf '%s\n' "${RESULTS[@]}" >"$w/results-$name"
		echo "$failures" >"$w/failures-$name"
	) >"$outdir/out-$name" 2>&1 &
	STREAMS+=("$name:$!")
}
STREAMS=()
# Where the streams write as they go: the lab's results export when there is one, so a hung run
# can be read from the host.
outdir=${LAB_OUT:-$w}
[ "$ONLY" != keepalived ] && stream lvsd lvsd nat yes sa lvsd dr yes sb lvsd nat no sc
[ "$ONLY" != lvsd ] && stream keepalived keepalived nat yes sk keepalived dr yes sl
for s in "${STREAMS[@]}"; do
	wait "${s#*:}"
	name=${s%%:*}
	cat "$outdir/out-$name"
	failures=$((failures + $(cat "$w/failures-$name" 2>/dev/null || echo 1)))
done
echo "--- results ($N connections, a line every $IV s each)"
cat "$w"/results-* 2>/dev/null
finish
