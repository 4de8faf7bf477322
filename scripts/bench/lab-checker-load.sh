#!/bin/bash
# Kernel lab (guest side) for scripts/bench/checker-load.sh: lvsd and keepalived 2.2.7's checker process
# run the same config of N TCP_CHECKs (then M HTTP_GETs) at delay_loop 1 against local listeners, one
# daemon at a time in a fresh namespace; CPU seconds per minute over a window after warm-up, peak RSS, and
# the checks per second the listeners actually saw (so a daemon that falls behind shows). Under emulation
# neither daemon keeps up with 10,000 (or 2,000 HTTP) checks a second, so CPU per minute there compares
# daemons doing different amounts of work; the same checkers at a longer delay_loop (LAB_SLOW_TCP,
# LAB_SLOW_HTTP; 0 skips) give a load both sustain, where CPU per minute compares like with like.
set -eu
lvsd=${LVSD_BIN:?}
TCP=${LAB_TCP:-10000}; HTTP=${LAB_HTTP:-2000}; RS=10
WARM=${LAB_WARM:-20}; WIN=${LAB_WINDOW:-30}
SLOW_TCP=${LAB_SLOW_TCP:-20}; SLOW_HTTP=${LAB_SLOW_HTTP:-10}
DAEMONS=${LAB_DAEMONS:-lvsd keepalived}
here=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d)
tck=$(getconf CLK_TCK)
ns=
cleanup() {
	[ -n "$ns" ] || return 0
	{ ip netns pids "$ns" | xargs -r kill -9; wait; } 2>/dev/null
	ip netns del "$ns"; ns=
}
trap cleanup EXIT
cpu() { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
opens() { ip netns exec "$ns" awk '$1 == "Tcp:" && $7 ~ /^[0-9]+$/ { print $7 }' /proc/net/snmp; }

run() { # label daemon conf port mode
	case " $DAEMONS " in *" $2 "*) ;; *) return 0 ;; esac
	ns=bck-$$; ip netns add "$ns"; ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
	ip netns exec "$ns" "${LAB_SINK_BIN:?}" "$4" "$5" 4 &
	sleep 1
	local pid
	if [ "$2" = lvsd ]; then
		ip netns exec "$ns" "$lvsd" -C -f "$3" -l -p "$w/l.pid" >"$w/l.log" 2>&1 &
		pid=$!
	else
		ip netns exec "$ns" keepalived -n -l -C -f "$3" -p "$w/k.pid" -c "$w/c.pid" >"$w/k.log" 2>&1 &
		for _ in $(seq 100); do [ -s "$w/c.pid" ] && break; sleep 0.1; done
		pid=$(cat "$w/c.pid")
	fi
	if [ -n "${LAB_TRACE_RSS:-}" ]; then # where the peak happens: RSS every 0.5 s during warm-up
		for _ in $(seq $((WARM * 2))); do
			awk '/VmRSS/ { printf "%d ", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null; sleep 0.5
		done >&2
		echo >&2
	else
		sleep "$WARM"
	fi
	local c0 o0 c1 o1 t0 t1 up
	t0=$(date +%s.%N); c0=$(cpu "$pid"); o0=$(opens)
	sleep "$WIN"
	t1=$(date +%s.%N); c1=$(cpu "$pid"); o1=$(opens)
	up=$(ip netns exec "$ns" ipvsadm -Ln | awk '$1 == "->" && $2 ~ /^127/' | wc -l)
	# Keep the daemons' logs where the host can read them (KERNEL_LAB_OUT).
	[ -n "${LAB_OUT:-}" ] && cp "$w/${2:0:1}.log" "$LAB_OUT/$2-$5.log"
	printf '%-44s %14.1f %12s %14s %12s\n' "$1" "$(echo "($c1 - $c0) * 60 / ($t1 - $t0)" | bc -l)" \
		"$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")" "$(echo "($o1 - $o0) / ($t1 - $t0)" | bc)" "$up"
	cleanup
	rm -f "$w"/*.pid
}

python3 "$here/gen-config.py" --vs $((TCP / RS)) --rs $RS --vrrp 0 --loopback --delay-loop 1 --port 8080 >"$w/tcp.conf"
python3 "$here/gen-config.py" --vs $((HTTP / RS)) --rs $RS --vrrp 0 --loopback --delay-loop 1 --check HTTP_GET --port 8081 >"$w/http.conf"
printf '\nChecker load at delay_loop 1, kernel %s under qemu (TCG, %s CPUs); CPU over %s s after %s s warm-up\n\n' \
	"$(uname -r)" "$(nproc)" "$WIN" "$WARM"
printf '%-44s %14s %12s %14s %12s\n' "" "CPU s/minute" "peak RSS MiB" "checks/s seen" "dests in IPVS"
if [ "$TCP" -gt 0 ]; then
	run "lvsd, $TCP TCP_CHECK" lvsd "$w/tcp.conf" 8080 tcp
	run "keepalived checker, $TCP TCP_CHECK" keepalived "$w/tcp.conf" 8080 tcp
fi
if [ "$HTTP" -gt 0 ]; then
	run "lvsd, $HTTP HTTP_GET" lvsd "$w/http.conf" 8081 http
	run "keepalived checker, $HTTP HTTP_GET" keepalived "$w/http.conf" 8081 http
fi
if [ "$TCP" -gt 0 ] && [ "$SLOW_TCP" -gt 0 ]; then
	python3 "$here/gen-config.py" --vs $((TCP / RS)) --rs $RS --vrrp 0 --loopback --delay-loop "$SLOW_TCP" --port 8080 >"$w/tcp-slow.conf"
	run "lvsd, $TCP TCP_CHECK, delay_loop $SLOW_TCP" lvsd "$w/tcp-slow.conf" 8080 tcp
	run "keepalived checker, $TCP TCP_CHECK, delay_loop $SLOW_TCP" keepalived "$w/tcp-slow.conf" 8080 tcp
fi
if [ "$HTTP" -gt 0 ] && [ "$SLOW_HTTP" -gt 0 ]; then
	python3 "$here/gen-config.py" --vs $((HTTP / RS)) --rs $RS --vrrp 0 --loopback --delay-loop "$SLOW_HTTP" --check HTTP_GET --port 8081 >"$w/http-slow.conf"
	run "lvsd, $HTTP HTTP_GET, delay_loop $SLOW_HTTP" lvsd "$w/http-slow.conf" 8081 http
	run "keepalived checker, $HTTP HTTP_GET, delay_loop $SLOW_HTTP" keepalived "$w/http-slow.conf" 8081 http
fi
