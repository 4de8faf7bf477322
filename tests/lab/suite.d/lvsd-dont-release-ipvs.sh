#!/bin/bash
# Kernel lab (guest side): keepalived's -I (--dont-release-ipvs). lvsd -I stops leaving its virtual
# server and real servers in the kernel, a restarted lvsd takes them over and its plain stop removes them;
# keepalived 2.2.7 -I and without it, on the same configuration, for comparison. Needs LVSD_BIN.
NAME=lvsd-dont-release-ipvs
NSES="dri drk"
. "$(dirname "$0")/common.bash"

cat >"$w/lvsd.conf" <<'EOC'
virtual_server 10.60.0.100 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    real_server 10.60.0.11 8080 {
        weight 3
    }
}
EOC
want="10.60.0.11:8080/3 "
# run NS PROGRAM FLAGS...: starts lvsd or keepalived (checkers and IPVS only) in NS; sets LPID.
# Each appends to its log, which says when it has programmed IPVS: started() waits for the Nth time.
run() {
	local ns=$1 prog=$2; shift 2
	if [ "$prog" = keepalived ]; then
		ip netns exec "$ns" keepalived -n -l -C "$@" -f "$w/lvsd.conf" -p "$w/ka.pid" -c "$w/ka-c.pid" >>"$w/lvsd-ka.log" 2>&1 &
	else
		ip netns exec "$ns" "$lvsd" -C "$@" -f "$w/lvsd.conf" -l -p "$w/lvsd.pid" >>"$w/lvsd-$ns.log" 2>&1 &
	fi
	LPID=$!; PIDS+=("$LPID")
}
stop() { kill -TERM "$LPID"; wait "$LPID"; }
started() { # prog ns n
	if [ "$1" = keepalived ]; then wait_count "$w/lvsd-ka.log" "Startup complete" "$3" 10
	else wait_count "$w/lvsd-$2.log" "lvsd ready" "$3" 10; fi
}

for prog in lvsd keepalived; do
	ns=dri; [ $prog = keepalived ] && ns=drk
	run $ns $prog -I
	wait_dests $ns 10.60.0.100:80 10 "$want" || fail "$prog -I: table at start: '$(dests $ns 10.60.0.100:80)'"
	started $prog $ns 1 || fail "$prog -I did not finish its start"
	stop; rc=$?
	[ $rc = 0 ] && pass "$prog -I exits 0 on SIGTERM" || fail "$prog -I exit status $rc"
	[ "$(dests $ns 10.60.0.100:80)" = "$want" ] && pass "$prog -I leaves the service and its real server" ||
		fail "$prog -I: after stop: '$(dests $ns 10.60.0.100:80)'"

	# Restarted without -I: it takes the service over, so its stop removes it. The table is already
	# there: the start-up line says when the restarted program has made it its own.
	run $ns $prog
	started $prog $ns 2 || fail "$prog restarted did not finish its start"
	wait_dests $ns 10.60.0.100:80 10 "$want" || fail "$prog restarted: '$(dests $ns 10.60.0.100:80)'"
	stop
	if ip netns exec $ns ipvsadm -Ln | grep -q 10.60.0.100; then
		fail "$prog without -I left the service: $(ip netns exec $ns ipvsadm -Ln)"
	else
		pass "$prog without -I removes the service at stop"
	fi
done
grep -q -- "--dont-release-ipvs" "$w/lvsd-dri.log" && pass "lvsd's log names --dont-release-ipvs" || fail "no --dont-release-ipvs line in lvsd's log"
finish
