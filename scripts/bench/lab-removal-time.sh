#!/bin/bash
# Kernel lab (guest side) for scripts/bench/removal-time.sh: a real server's listener stops; time until
# its destination leaves `ipvsadm -Ln`, for lvsd and keepalived 2.2.7 on the same config (each in a
# fresh namespace), over LAB_TRIALS trials at a random phase of the check cycle, then right after a
# check. Polls the namespace's /proc/net/ip_vs every 10 ms with shell builtins only: an ipvsadm run
# per poll took tens of ms under emulation and made the times it measured depend on the load of the
# machine. LAB_SEED picks the phases, the same for both daemons; LAB_MODES="random after-check" the
# tables.
set -eu
lvsd=${LVSD_BIN:?}
N=${LAB_TRIALS:-20}
DL=1; CT=1; RETRY=1; DBR=1
bound=$((DL + RETRY * (CT + DBR)))
w=$(mktemp -d)
ns=
cleanup() {
	[ -n "$ns" ] || return 0
	{ ip netns pids "$ns" | xargs -r kill -9; ip netns pids "$ns-rs" | xargs -r kill -9; wait; } 2>/dev/null
	ip netns del "$ns"; ip netns del "$ns-rs"; ns=
}
trap cleanup EXIT
cat >"$w/lb.conf" <<EOC
virtual_server 10.70.0.100 80 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    delay_loop $DL
    real_server 10.70.0.2 8080 {
        TCP_CHECK { connect_timeout $CT
            retry $RETRY
            delay_before_retry $DBR }
    }
    real_server 10.70.0.2 8081 {
        TCP_CHECK { connect_timeout $CT
            retry $RETRY
            delay_before_retry $DBR }
    }
}
EOC
# 10.70.0.2:8080 as /proc/net/ip_vs writes it; read through the daemon's /proc/PID/net (its namespace).
present() {
	local l
	while read -r l; do [[ $l == "-> 0A460002:1F90 "* ]] && return 0; done <"/proc/$dpid/net/ip_vs"
	return 1
}
# A 10 ms pause without a process: a read that times out on a FIFO nobody writes to.
mkfifo "$w/nap"; exec {napfd}<>"$w/nap"
nap() { read -r -t 0.01 -u "$napfd" _ || true; }
listen() { ip netns exec "$ns-rs" socat -u TCP-LISTEN:"$1",bind=10.70.0.2,fork,reuseaddr OPEN:/dev/null & LIS=$!; }
# The listener of the "after a check" mode: on SIGUSR1 it closes right after the next connection
# it accepts (a check), writing when (time.time(), the clock of EPOCHREALTIME) to $w/t0.
listen_once() {
	ip netns exec "$ns-rs" python3 -c '
import signal, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.70.0.2", 8080)); s.listen(128)
armed = []
signal.signal(signal.SIGUSR1, lambda *_: armed.append(1))
open(sys.argv[1] + ".ready", "w").close()
while True:
    c, _ = s.accept()
    if armed:
        t = time.time(); s.close(); c.close()
        open(sys.argv[1], "w").write("%.6f" % t); sys.exit(0)
    c.close()
' "$w/t0" & LIS=$!
}

run() { # label daemon -> prints one row
	ns=brm-$$; ip netns add "$ns"; ip netns add "$ns-rs"
	ip -n "$ns" link set lo up; ip -n "$ns-rs" link set lo up
	ip link add d0 netns "$ns" type veth peer name r0 netns "$ns-rs"
	ip -n "$ns" addr add 10.70.0.1/24 dev d0; ip -n "$ns" link set d0 up
	ip -n "$ns" addr add 10.70.0.100/24 dev d0
	ip -n "$ns-rs" addr add 10.70.0.2/24 dev r0; ip -n "$ns-rs" link set r0 up
	listen 8081
	if [ "$2" = lvsd ]; then
		ip netns exec "$ns" "$lvsd" -C -f "$w/lb.conf" -l -p "$w/l.pid" >"$w/l.log" 2>&1 &
	else
		ip netns exec "$ns" keepalived -n -l -C -f "$w/lb.conf" -p "$w/k.pid" -c "$w/c.pid" >"$w/k.log" 2>&1 &
	fi
	dpid=$!
	local t times="" i
	# The same phases for each daemon (a seeded RANDOM): the rows differ by the daemons only, not by
	# the draw (the median of 20 uniform phases alone varies by about 0.1 s).
	RANDOM=${LAB_SEED:-16}
	for t in $(seq "$N"); do
		if [ "$MODE" = after-check ]; then
			rm -f "$w/t0.ready"; listen_once
			# Its handler is set (else SIGUSR1 would kill it) before the server counts as there.
			for i in $(seq 1000); do [ -e "$w/t0.ready" ] && break; nap; done
		else
			listen 8080
		fi
		for i in $(seq 1000); do present && break; nap; done
		tp=$EPOCHREALTIME
		# A random phase of the check cycle (DL is 1 s), waited without a process (a sleep's fork
		# and exec stalled for up to 0.7 s on a loaded machine, shifting the phase of one daemon's
		# trial and not the other's).
		read -r -t "0.$((RANDOM % 90 + 10))" -u "$napfd" _ || true
		if [ "$MODE" = after-check ]; then
			rm -f "$w/t0"; kill -USR1 "$LIS"
			wait "$LIS" 2>/dev/null || true
			t0=$(<"$w/t0")
		else
			t0=$EPOCHREALTIME; kill "$LIS"
		fi
		for i in $(seq 2000); do present || break; nap; done
		t1=$EPOCHREALTIME
		times="$times $(echo "$t1 - $t0" | bc)"
		# Kill and removal times beside the daemon's log, to see where the time went.
		[ -n "${LAB_OUT:-}" ] && echo "$(date -u -d "@$t0" +%T.%N) $(date -u -d "@$t1" +%T.%N) present $(date -u -d "@$tp" +%T.%N)" >>"$LAB_OUT/$2-$MODE-trials.txt"
		{ wait "$LIS"; } 2>/dev/null || true
	done
	echo "$times" | tr ' ' '\n' | grep . | sort -n | awk -v l="$1" -v b="$bound" '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%-24s %8.2f %8.2f %8.2f %10d %8d\n", l, m, v[1], v[NR], b, NR }'
	[ -n "${LAB_OUT:-}" ] && cp "$w/${2:0:1}.log" "$LAB_OUT/$2-$MODE-removal.log"
	cleanup
	rm -f "$w"/*.pid
}

printf '\nTime from a real server failure (listener stopped) to its removal from IPVS, kernel %s under qemu (TCG)\n' "$(uname -r)"
printf 'delay_loop %s, connect_timeout %s, retry %s, delay_before_retry %s: bound delay_loop + retry x (connect_timeout + delay_before_retry) = %s s\n\n' "$DL" "$CT" "$RETRY" "$DBR" "$bound"
printf 'Stopped at a random phase of the check cycle:\n'
printf '%-24s %8s %8s %8s %10s %8s\n' "" "median s" "min s" "max s" "bound s" "trials"
MODES=${LAB_MODES:-random after-check}
MODE=random
if [[ " $MODES " == *" random "* ]]; then
	run lvsd lvsd
	run "keepalived 2.2.7" keepalived
fi
# The same failure right after a check the server accepted: the phase is then the same for both
# daemons (delay_loop + delay_before_retry = 2 s to the removal), and what is beyond it is the
# daemon's own latency (its timers, the probe, the decision, IPVS).
printf '\nStopped right after a check (the server closes once it has accepted one):\n'
printf '%-24s %8s %8s %8s %10s %8s\n' "" "median s" "min s" "max s" "schedule" "trials"
MODE=after-check bound=$((DL + RETRY * DBR))
if [[ " $MODES " == *" after-check "* ]]; then
	run lvsd lvsd
	run "keepalived 2.2.7" keepalived
fi
