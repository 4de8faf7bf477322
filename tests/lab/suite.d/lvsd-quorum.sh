#!/bin/bash
# Kernel lab (guest side): quorum 2 over two real servers (weight 1 each) with a sorry_server. Both
# servers stop -> quorum lost: quorum_down runs and the sorry server is the only destination; both
# start again -> quorum_up runs, the real servers are back and the sorry server is gone. Needs LVSD_BIN.
NAME=lvsd-quorum
NSES="qsw qlv qrs1 qrs2 qsorry"
. "$(dirname "$0")/common.bash"
VIP=10.50.0.100

bridge_ns qsw
attach qsw qlv d0 10.50.0.1/24
ip -n qlv addr add $VIP/24 dev d0
attach qsw qsorry r0 10.50.0.20/24
declare -A lis
listen() { # ns addr: a TCP listener on 8080; its pid in lis[ns]
	ip netns exec "$1" socat -u TCP-LISTEN:8080,bind="$2",fork,reuseaddr OPEN:/dev/null &
	lis[$1]=$!; PIDS+=($!)
	port_open qlv "$2" 8080 50 || fail "listener on $2 did not start"
}
listen qsorry 10.50.0.20
for n in 1 2; do attach qsw qrs$n r0 10.50.0.1$n/24; listen qrs$n 10.50.0.1$n; done

cat >"$w/notify.sh" <<'EOS'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/notify.log"
EOS
chmod 755 "$w/notify.sh"
cat >"$w/lvsd.conf" <<EOC
virtual_server $VIP 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    quorum 2
    quorum_up "$w/notify.sh quorum up"
    quorum_down "$w/notify.sh quorum down"
    sorry_server 10.50.0.20 8080
    real_server 10.50.0.11 8080 {
        TCP_CHECK { connect_timeout 1
            retry 1
            delay_before_retry 1 }
    }
    real_server 10.50.0.12 8080 {
        TCP_CHECK { connect_timeout 1
            retry 1
            delay_before_retry 1 }
    }
}
EOC
addrs() { dests qlv $VIP:80 | sed 's#/[0-9]*##g'; }
wait_addrs() { # seconds expected
	local i
	for i in $(seq $(($1 * 10))); do [ "$(addrs)" = "$2" ] && return 0; sleep 0.1; done
	return 1
}
start_lvsd qlv "$w/lvsd.conf"
real="10.50.0.11:8080 10.50.0.12:8080 "
if wait_addrs 15 "$real"; then pass "quorum met at start: only the real servers ($real)"; else fail "pool at start: '$(dests qlv $VIP:80)'"; fi

kill "${lis[qrs1]}"
# One server down leaves weight 1 < quorum 2; rs2 still passes its checks.
if wait_addrs 8 "10.50.0.20:8080 "; then pass "quorum lost with one server down: the sorry server is the only destination"; else fail "after stopping rs1: '$(dests qlv $VIP:80)'"; fi
wait_file "$w/notify.log" "^quorum down$" 3 && pass "quorum_down ran" || fail "quorum_down: '$(cat "$w/notify.log" 2>&1)'"
kill "${lis[qrs2]}"
# rs2's failure is seen (delay_loop 1 + retry 1 x (connect_timeout 1 + delay_before_retry 1) = 3 s)
# and changes nothing: then a second notification would run at once, so 1 s more shows there is none.
wait_file "$w/lvsd-qlv.log" "\[10.50.0.12\]:8080 is down" 8 || fail "rs2 never seen down: $(tail -5 "$w/lvsd-qlv.log")"
sleep 1
[ "$(addrs)" = "10.50.0.20:8080 " ] && pass "with both servers down the sorry server stays the only destination" || fail "after stopping rs2: '$(dests qlv $VIP:80)'"
[ "$(grep -c "^quorum" "$w/notify.log")" = 1 ] && pass "no second quorum notification while quorum stays lost" || fail "notify log: $(tr '\n' ';' <"$w/notify.log")"

listen qrs1 10.50.0.11; listen qrs2 10.50.0.12
if wait_addrs 8 "$real"; then pass "quorum back: real servers back, sorry server gone"; else fail "after restarting both: '$(dests qlv $VIP:80)'"; fi
wait_file "$w/notify.log" "^quorum up$" 3 && pass "quorum_up ran" || fail "quorum_up: '$(cat "$w/notify.log" 2>&1)'"

kill -TERM "$LPID"; wait "$LPID"; rc=$?
[ "$rc" = 0 ] && pass "lvsd exits 0 on SIGTERM" || fail "lvsd exit status $rc"
finish
