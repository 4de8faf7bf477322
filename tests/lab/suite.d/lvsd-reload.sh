#!/bin/bash
# Kernel lab (guest side): reload on SIGHUP. A server that is down stays out of IPVS across a reload (no
# flap), new and re-weighted servers appear, a broken configuration changes nothing, and 50 reloads in
# a row (adding, removing and re-weighting servers) reset none of 200 established client connections
# through the VIP; the final table equals the last configuration. Each reload re-reads the kernel's table
# and finds no drift; a reload repairs ipvsadm edits, and a health change rebuilds a service deleted
# behind lvsd's back. Needs LVSD_BIN.
set -u
lvsd=${LVSD_BIN:?LVSD_BIN must name the lvsd binary}
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
w=$(mktemp -d)
D="ip netns exec rl-d"
declare -a echo_pid
cleanup() {
	[ -n "${lpid:-}" ] && kill -9 "$lpid" 2>/dev/null
	[ -n "${cpid:-}" ] && kill -9 "$cpid" 2>/dev/null
	for n in 1 2 3 4; do [ -n "${echo_pid[$n]:-}" ] && kill "${echo_pid[$n]}" 2>/dev/null; done
	for ns in rl-d rl-c rl-1 rl-2 rl-3 rl-4; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
for ns in rl-d rl-c rl-1 rl-2 rl-3 rl-4; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns rl-c type veth peer name d0 netns rl-d
ip -n rl-c addr add 10.30.0.2/24 dev c0; ip -n rl-c link set c0 up
ip -n rl-d addr add 10.30.0.1/24 dev d0; ip -n rl-d addr add 10.30.0.100/24 dev d0; ip -n rl-d link set d0 up
for n in 1 2 3 4; do
	ip link add r0 netns rl-$n type veth peer name d$n netns rl-d
	ip -n rl-$n addr add 10.40.$n.2/24 dev r0; ip -n rl-$n link set r0 up; ip -n rl-$n route add default via 10.40.$n.1
	ip -n rl-d addr add 10.40.$n.1/24 dev d$n; ip -n rl-d link set d$n up
done
$D sysctl -qw net.ipv4.ip_forward=1
CONNS=200
# One process per real server echoes every connection (socat would fork two processes per connection).
cat >"$w/echo.py" <<'EOS'
import selectors, socket
sel = selectors.DefaultSelector()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8080))
srv.listen(1024)
sel.register(srv, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is srv:
            c, _ = srv.accept()
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(4096)
            if data:
                s.sendall(data)
                continue
        except OSError:
            pass
        sel.unregister(s)
        s.close()
EOS
listening() { ip netns exec rl-$1 python3 -c "import socket; socket.create_connection(('10.40.$1.2', 8080), 1)" 2>/dev/null; }
start_echo() {
	ip netns exec rl-$1 python3 "$w/echo.py" >/dev/null 2>&1 & echo_pid[$1]=$!
	for _ in $(seq 100); do listening "$1" && return 0; sleep 0.1; done
	echo "echo server $1 did not start"; return 1
}
for n in 1 2 3 4; do start_echo $n; done

conf() { # "n:weight ..." -> lvsd.conf
	{
		echo "virtual_server 10.30.0.100 80 {"
		echo "    protocol TCP"; echo "    lvs_sched wrr"; echo "    lvs_method NAT"; echo "    delay_loop 1"
		for spec in "$@"; do
			echo "    real_server 10.40.${spec%%:*}.2 8080 { weight ${spec##*:}"
			echo "        TCP_CHECK { connect_timeout 1"; echo "            retry 0 } }"
		done
		echo "}"
	} >"$w/lvsd.conf.new"
	mv "$w/lvsd.conf.new" "$w/lvsd.conf"
}
dests() { $D ipvsadm -Ln -t 10.30.0.100:80 2>/dev/null | awk '$1 == "->" && $2 ~ /^10\.40/ { print $2 "/" $4 }' | sort | tr '\n' ' '; }
wait_for() { local i; for i in $(seq $(($1 * 10))); do [ "$(dests)" = "$2" ] && return 0; sleep 0.1; done; return 1; }
logged() { grep -c "$1" "$w/lvsd.log"; }
# hup PATTERN: SIGHUP, then wait (10 s at most) until the log has one more line matching PATTERN.
hup() {
	local n i
	n=$(logged "$1")
	kill -HUP "$lpid"
	for i in $(seq 100); do [ "$(logged "$1")" -gt "$n" ] && return 0; sleep 0.1; done
	return 1
}

conf 1:1 2:1
$D "$lvsd" -f "$w/lvsd.conf" -l -p "$w/lvsd.pid" >"$w/lvsd.log" 2>&1 &
lpid=$!
wait_for 10 "10.40.1.2:8080/1 10.40.2.2:8080/1 " && pass "pool programmed" || fail "pool at start: '$(dests)'"
kill "${echo_pid[1]}"
wait_for 6 "10.40.2.2:8080/1 " && pass "stopped rs1 removed" || fail "after stopping rs1: '$(dests)'"

conf 1:1 2:5 3:1
kill -HUP "$lpid"
# A negative assertion: rs1 would reappear with the reload's table, at once; 3 s cover its checks too.
seen_rs1=0
for _ in $(seq 30); do case "$(dests)" in *10.40.1.2*) seen_rs1=1 ;; esac; sleep 0.1; done
[ $seen_rs1 = 0 ] && pass "a server that is down stays out across a reload (no flap)" || fail "rs1 appeared after the reload"
wait_for 5 "10.40.2.2:8080/5 10.40.3.2:8080/1 " && pass "reload re-weights rs2 and adds rs3" || fail "after reload: '$(dests)'"

before=$(dests)
echo "virtual_server 10.30.0.100 80 { protocol TCP  real_server 10.40.2.2 notaport { } " >"$w/lvsd.conf"
hup "reload failed" && pass "the log says the reload failed" || fail "no 'reload failed' in the log"
[ "$(dests)" = "$before" ] && pass "a broken configuration changes nothing" || fail "broken reload changed the table: '$(dests)'"
kill -0 "$lpid" 2>/dev/null && pass "lvsd keeps running after a broken reload" || fail "lvsd died on a broken reload"

# CONNS established connections through the VIP, held open across 50 reloads.
start_echo 1
conf 1:1 2:1 3:1 4:1
kill -HUP "$lpid"
wait_for 8 "10.40.1.2:8080/1 10.40.2.2:8080/1 10.40.3.2:8080/1 10.40.4.2:8080/1 " || fail "four servers before the load: '$(dests)'"
cat >"$w/client.py" <<'EOS'
import socket, sys, time
socks = []
for i in range(int(sys.argv[2])):
    s = socket.create_connection(("10.30.0.100", 80), timeout=5)
    socks.append(s)
def roundtrip(tag):
    bad = 0
    for i, s in enumerate(socks):
        try:
            msg = f"{tag}-{i}\n".encode()
            s.sendall(msg)
            got = b""
            while not got.endswith(b"\n"):
                chunk = s.recv(100)
                if not chunk:
                    raise ConnectionError("closed")
                got += chunk
            if got != msg:
                bad += 1
        except OSError:
            bad += 1
    return bad
print("before", roundtrip("a"), flush=True)
open(sys.argv[1], "w").write("ready\n")
while not open(sys.argv[1]).read().startswith("go"):
    time.sleep(0.1)
print("after", roundtrip("b"), flush=True)
EOS
echo >"$w/sync"
ip netns exec rl-c python3 "$w/client.py" "$w/sync" "$CONNS" >"$w/client.out" 2>&1 &
cpid=$!
for _ in $(seq 600); do grep -q ready "$w/sync" && break; sleep 0.1; done
grep -q ready "$w/sync" && pass "$CONNS connections established through the VIP" || fail "the client did not connect: $(cat "$w/client.out")"
conns=$($D ipvsadm -Ln -t 10.30.0.100:80 | awk '$1 == "->" && $2 ~ /^10\.40/ { n += $5 } END { print n + 0 }')
[ "$conns" -ge "$CONNS" ] && pass "IPVS counts $conns active connections" || fail "IPVS counts $conns active connections, expected $CONNS"
for i in $(seq 50); do
	case $((i % 3)) in
		0) conf 1:1 2:1 3:1 4:1 ;;
		1) conf 1:2 2:1 3:3 ;;
		2) conf 2:1 3:1 4:2 ;;
	esac
	# Each reload done before the next signal: 50 reloads, none merged into another.
	hup "reload done" || fail "reload $i not done within 10 s"
done
echo go >"$w/sync"; wait "$cpid"; cpid=
grep -q "^before 0$" "$w/client.out" && grep -q "^after 0$" "$w/client.out" \
	&& pass "50 reloads reset none of $CONNS established connections" || fail "connections across reloads: $(cat "$w/client.out")"
# i = 50: 50 % 3 = 2 -> the last configuration is 2:1 3:1 4:2
# rs1, removed by the last reload, drains at weight 0 while its closed connections linger.
live_dests() { dests | tr ' ' '\n' | grep -v '/0$' | tr '\n' ' '; }
wait_live() { local i; for i in $(seq $(($1 * 10))); do [ "$(live_dests)" = "$2" ] && return 0; sleep 0.1; done; return 1; }
wait_live 5 "10.40.2.2:8080/1 10.40.3.2:8080/1 10.40.4.2:8080/2 " && pass "the final table equals the last configuration" || fail "final table: '$(dests)'"
case "$(dests)" in *10.40.1.2:8080/0*) pass "the removed rs1 drains at weight 0 instead of cutting its connections" ;; *) fail "rs1 not draining: '$(dests)'" ;; esac
kill -0 "$lpid" && pass "lvsd survived 50 reloads" || fail "lvsd died during reloads"
grep -q "re-read .*no drift" "$w/lvsd.log" && ! grep -q "drifted\|differs from what lvsd applied" "$w/lvsd.log" \
	&& pass "each reload's re-read of the kernel's table found no drift" || fail "re-reads: $(grep 're-read\|drift' "$w/lvsd.log" | tail -3)"

# Another program changes lvsd's table: a reload, even of the same file, repairs it.
$D ipvsadm -e -t 10.30.0.100:80 -r 10.40.2.2:8080 -m -w 9
$D ipvsadm -d -t 10.30.0.100:80 -r 10.40.3.2:8080
kill -HUP "$lpid"
wait_live 10 "10.40.2.2:8080/1 10.40.3.2:8080/1 10.40.4.2:8080/2 " && grep -q "had drifted" "$w/lvsd.log" \
	&& pass "a reload repairs an edit and a deletion made with ipvsadm, and logs the drift" || fail "after ipvsadm edits and a reload: '$(dests)'"
# The service is deleted behind lvsd's back; the next health change finds out and rebuilds it.
$D ipvsadm -D -t 10.30.0.100:80
kill "${echo_pid[4]}"
wait_live 10 "10.40.2.2:8080/1 10.40.3.2:8080/1 " && grep -q "differs from what lvsd applied" "$w/lvsd.log" \
	&& pass "a health change on a service deleted by another program rebuilds it" || fail "after ipvsadm -D and rs4 down: '$(dests)'"
[ -n "${LAB_OUT:-}" ] && cp "$w/lvsd.log" "$LAB_OUT/lvsd-reload.log"
[ $failures = 0 ] || { echo "--- lvsd log"; tail -40 "$w/lvsd.log"; }
echo "lvsd-reload: $failures failure(s)"
[ $failures = 0 ]
