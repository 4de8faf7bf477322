#!/bin/bash
# Kernel lab (guest side) for scripts/bench/checker-load.sh: lvsd and keepalived 2.2.7's checker process
# run the same config, one daemon at a time in a fresh namespace, for each load below. Over a window
# after warm-up: the daemon's CPU (user + system, its own process) per 1,000 checks, the checks per
# second that were done (TCP_CHECK and HTTP_GET: connections the local server accepted; MISC_CHECK:
# runs of the script, which appends a byte to a file), peak RSS, and the destinations left in IPVS
# (all of them: no real server wrongly removed). The ratio row is lvsd / keepalived.
# LAB_ROWS picks rows by name (default: all), LAB_WARM / LAB_WINDOW the timing, LAB_DAEMONS="lvsd"
# runs one side only; with LVSD_BEFORE_BIN, LAB_DAEMONS="lvsd-before lvsd keepalived" adds another
# lvsd build (before a change) to each row.
set -eu
lvsd=${LVSD_BIN:?}
RS=10
WARM=${LAB_WARM:-20}; WIN=${LAB_WINDOW:-30}
DAEMONS=${LAB_DAEMONS:-lvsd keepalived}
[ -n "${LVSD_BEFORE_BIN:-}" ] || DAEMONS=${DAEMONS//lvsd-before/}
ROWS=${LAB_ROWS:-tcp-dl1 tcp-dl4 tcp10k-dl10 tcp10k-dl20 http-dl4 misc-dl2 shared-dl4 unshared-dl4}
here=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d)
tck=$(getconf CLK_TCK)
ns=
cleanup() {
	[ -n "$ns" ] || return 0
	{ ip netns pids "$ns" | xargs -r kill -9; wait; } 2>/dev/null || true
	ip netns del "$ns"; ns=
}
trap cleanup EXIT
cpu() { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
checks() { # mode
	if [ "$1" = misc ]; then stat -c %s "$w/runs"
	else ip netns exec "$ns" awk '$1 == "Tcp:" && $7 ~ /^[0-9]+$/ { print $7 }' /proc/net/snmp; fi
}
# The MISC_CHECK script: one byte per run (O_APPEND writes do not mix).
printf '#!/bin/sh\nprintf x >>%s/runs\n' "$w" >"$w/misc.sh"; chmod 755 "$w/misc.sh"

declare -A per
run() { # row label daemon conf port mode checkers
	case " $DAEMONS " in *" $2 "*) ;; *) return 0 ;; esac
	ns=bck-$$; ip netns add "$ns"; ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
	: >"$w/runs"
	[ "$5" = misc ] || { ip netns exec "$ns" "${LAB_SINK_BIN:?}" "$4" "$5" 4 & sleep 1; }
	local pid
	if [ "$2" != keepalived ]; then
		local bin=$lvsd
		[ "$2" = lvsd-before ] && bin=${LVSD_BEFORE_BIN:?}
		ip netns exec "$ns" "$bin" -C -f "$3" -l -p "$w/l.pid" >"$w/$2.log" 2>&1 &
		pid=$!
	else
		ip netns exec "$ns" keepalived -n -l -C -f "$3" -p "$w/k.pid" -c "$w/c.pid" >"$w/keepalived.log" 2>&1 &
		for _ in $(seq 100); do [ -s "$w/c.pid" ] && break; sleep 0.1; done
		pid=$(cat "$w/c.pid")
	fi
	sleep "$WARM"
	if [ ! -e "/proc/$pid" ]; then
		printf '%-44s %s\n' "$2, $6" "exited; its log:"; tail -5 "$w/$2.log"
		cleanup; rm -f "$w"/*.pid; return 0
	fi
	local c0 o0 c1 o1 t0 t1 up
	t0=$(date +%s.%N); c0=$(cpu "$pid"); o0=$(checks "$5")
	sleep "$WIN"
	t1=$(date +%s.%N); c1=$(cpu "$pid"); o1=$(checks "$5")
	up=$(ip netns exec "$ns" ipvsadm -Ln | awk '$1 == "->" && $2 ~ /^127/' | wc -l)
	# Keep the daemons' logs where the host can read them (KERNEL_LAB_OUT).
	[ -n "${LAB_OUT:-}" ] && cp "$w/$2.log" "$LAB_OUT/$2-$1.log"
	local n=$((o1 - o0)) ms
	ms=$(echo "if ($n > 0) ($c1 - $c0) * 1000000 / $n else 0" | bc -l)
	per[$1-$2]=$ms
	printf '%-44s %12.0f %10.0f %7.1f %12s %10s\n' "$2, $6" "$ms" "$(echo "$n / ($t1 - $t0)" | bc -l)" \
		"$(echo "($c1 - $c0) * 100 / ($t1 - $t0)" | bc -l)" \
		"$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")" "$up/$7"
	cleanup
	rm -f "$w"/*.pid
}

ratio() { # who ms keepalived-ms
	printf '%-44s %12s\n' "  ratio $1 / keepalived" "$(echo "$2 $3" | awk '$2 > 0 { printf "%.2f", $1 / $2; next } { print "-" }')"
}

row() { # name label checkers delay_loop mode port [gen-config args]
	local name=$1 label=$2 n=$3 dl=$4 mode=$5 port=$6; shift 6
	case " $ROWS " in *" $name "*) ;; *) return 0 ;; esac
	python3 "$here/gen-config.py" --vs $((n / RS)) --rs $RS --vrrp 0 --loopback --delay-loop "$dl" --port "$port" "$@" >"$w/$name.conf"
	run "$name" lvsd-before "$w/$name.conf" "$port" "$mode" "$label" "$n"
	run "$name" lvsd "$w/$name.conf" "$port" "$mode" "$label" "$n"
	run "$name" keepalived "$w/$name.conf" "$port" "$mode" "$label" "$n"
	if [ -n "${per[$name-lvsd]:-}" ] && [ -n "${per[$name-keepalived]:-}" ]; then
		ratio "lvsd" "${per[$name-lvsd]}" "${per[$name-keepalived]}"
		if [ -n "${per[$name-lvsd-before]:-}" ]; then
			ratio "lvsd-before" "${per[$name-lvsd-before]}" "${per[$name-keepalived]}"
		fi
	fi
}

printf '\nChecker load, kernel %s under qemu (TCG, %s CPUs); over %s s after %s s warm-up, one daemon at a time\n\n' \
	"$(uname -r)" "$(nproc)" "$WIN" "$WARM"
# CPU %: of one CPU over the window (the shared rows compare it: fewer checks, not cheaper ones).
printf '%-44s %12s %10s %7s %12s %10s\n' "" "CPU ms/1000" "checks/s" "CPU %" "peak RSS MiB" "dests"
row tcp-dl1 "2,000 TCP_CHECK, delay_loop 1" 2000 1 tcp 8080
row tcp-dl4 "2,000 TCP_CHECK, delay_loop 4" 2000 4 tcp 8080
row tcp10k-dl10 "10,000 TCP_CHECK, delay_loop 10" 10000 10 tcp 8080
row tcp10k-dl20 "10,000 TCP_CHECK, delay_loop 20" 10000 20 tcp 8080
row http-dl4 "2,000 HTTP_GET, delay_loop 4" 2000 4 http 8081 --check HTTP_GET
row misc-dl2 "200 MISC_CHECK, delay_loop 2" 200 2 misc 8080 --check MISC_CHECK --misc-path "$w/misc.sh"
# share_checks: 100 virtual servers with the same 50 real servers (5,000 checkers, 50 distinct).
row shared-dl4 "100 VS x 50 RS TCP_CHECK, dl 4, shared" 5000 4 tcp 8080 --vs 100 --rs 50 --shared-rs
row unshared-dl4 "100 VS x 50 RS TCP_CHECK, dl 4, share off" 5000 4 tcp 8080 --vs 100 --rs 50 --shared-rs --no-share-checks
