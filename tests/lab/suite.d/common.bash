# Shared helpers for the guest-side lvsd parts (sourced, not a part itself: suite.sh runs *.sh only).
# Callers set NAME and NSES (namespaces to create) before sourcing; cleanup kills what was started
# (PIDS) and deletes the namespaces, also when the part fails half-way.
set -u
lvsd=${LVSD_BIN:?LVSD_BIN must name the lvsd binary}
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
w=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	for p in $NSES; do ip netns del "$p" 2>/dev/null; done
}
trap cleanup EXIT
for ns in $NSES; do ip netns add "$ns"; ip -n "$ns" link set lo up; done

# bridge_ns SW: a namespace SW holding bridge br0; attach NS IF ADDR/LEN adds a port on it.
bridge_ns() { ip -n "$1" link add br0 type bridge; ip -n "$1" link set br0 up; }
attach() { # sw ns ifname addr/len
	ip link add "$3" netns "$2" type veth peer name "p-$2" netns "$1"
	ip -n "$1" link set "p-$2" master br0 up
	ip -n "$2" addr add "$4" dev "$3"; ip -n "$2" link set "$3" up
}

# start_web NS ADDR PORT DIR: python's web server; waits until it accepts. Sets WEBPID.
start_web() {
	mkdir -p "$4"
	ip netns exec "$1" python3 -m http.server "$3" --bind "$2" --directory "$4" >/dev/null 2>&1 &
	WEBPID=$!; PIDS+=("$WEBPID")
	port_open "$1" "$2" "$3" 50
}
# port_open NS ADDR PORT TRIES: true once a TCP connect succeeds (tries x 0.1 s).
port_open() {
	local i
	for i in $(seq "$4"); do
		ip netns exec "$1" python3 -c "import socket; socket.create_connection(('$2', $3), 1)" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_lvsd NS CONF [PIDFILE]: runs lvsd in the foreground (logging to $w/lvsd-NS.log). Sets LPID.
start_lvsd() {
	ip netns exec "$1" "$lvsd" -f "$2" -l -p "${3:-$w/lvsd-$1.pid}" >"$w/lvsd-$1.log" 2>&1 &
	LPID=$!; PIDS+=("$LPID")
}
# dests NS VIP:PORT: "addr:port/weight " for each destination, sorted.
dests() {
	ip netns exec "$1" ipvsadm -Ln -t "$2" 2>/dev/null |
		awk '$1 == "->" && $2 ~ /^[0-9]/ { print $2 "/" $4 }' | sort | tr '\n' ' '
}
# wait_dests NS VIP:PORT SECONDS EXPECTED
wait_dests() {
	local i
	for i in $(seq $(($3 * 10))); do [ "$(dests "$1" "$2")" = "$4" ] && return 0; sleep 0.1; done
	return 1
}
# wait_file FILE PATTERN SECONDS: true once a line of FILE matches PATTERN.
wait_file() {
	local i
	for i in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# wait_count FILE PATTERN N SECONDS: true once N lines of FILE match PATTERN.
wait_count() {
	local i
	for i in $(seq $(($4 * 10))); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
finish() {
	if [ $failures != 0 ]; then
		for f in "$w"/lvsd-*.log; do [ -e "$f" ] && { echo "--- $f"; cat "$f"; }; done
	fi
	echo "$NAME: $failures failure(s)"
	[ $failures = 0 ]
}
