#!/bin/bash
# Kernel lab (guest side): lvsd ctl on an LVS-NAT director with two real servers and live flows.
#  - drain: the real server keeps its connections, gets no new ones, and leaves the table once they
#    end; status shows it, and its active connections as the kernel counts them;
#  - its maintenance survives a reload and a restart (the state file);
#  - enable brings it back through slow start: its weight climbs in steps in ipvsadm -Ln;
#  - reload --dry-run prints exactly the IPVS operations the reload then sends, and changes nothing;
#  - unknown objects are errors that change nothing. Needs LVSD_BIN.
NAME=lvsd-ctl
NSES="ctd ctc ctr1 ctr2"
. "$(dirname "$0")/common.bash"
flows="python3 $(cd "$(dirname "$0")/.." && pwd)/flows.py"
VIP=10.95.0.100
ctl() { ip netns exec ctd "$lvsd" ctl -s "$w/ctl.sock" "$@"; }

ip link add c0 netns ctc type veth peer name d0 netns ctd
ip -n ctc addr add 10.95.0.2/24 dev c0; ip -n ctc link set c0 up
ip -n ctd addr add 10.95.0.1/24 dev d0; ip -n ctd addr add $VIP/24 dev d0; ip -n ctd link set d0 up
for n in 1 2; do
	ip link add r0 netns ctr$n type veth peer name d$n netns ctd
	ip -n ctr$n addr add 10.96.$n.2/24 dev r0; ip -n ctr$n link set r0 up
	ip -n ctr$n route add default via 10.96.$n.1
	ip -n ctd addr add 10.96.$n.1/24 dev d$n; ip -n ctd link set d$n up
	ip netns exec ctr$n $flows serve rs$n 0.0.0.0 9000 &
	PIDS+=($!)
	port_open ctr$n 10.96.$n.2 9000 50 || fail "echo server rs$n did not start"
done
ip netns exec ctd sysctl -qw net.ipv4.ip_forward=1
# Health-checked listeners for the events scenario.
listen9100() { ip netns exec ctr$1 socat TCP-LISTEN:9100,bind=10.96.$1.2,fork,reuseaddr OPEN:/dev/null & L9100[$1]=$!; PIDS+=($!); }
declare -a L9100
listen9100 1; listen9100 2

conf() { # comment, weight of rs2, extra real server line
	cat <<EOC
# $1
virtual_server $VIP 9000 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    slow_start 6
    real_server 10.96.1.2 9000 {
        weight 6
    }
    real_server 10.96.2.2 9000 {
        weight $2
    }
    $3
}
virtual_server 10.95.0.101 9100 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 1
    quorum 2
    real_server 10.96.1.2 9100 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 10.96.2.2 9100 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
EOC
}
conf first 6 "" >"$w/l.conf"
run_lvsd() {
	ip netns exec ctd "$lvsd" -f "$w/l.conf" -l -p "$w/l.pid" --control-socket "$w/ctl.sock" \
		--state-file "$w/state.json" >>"$w/lvsd-ctd.log" 2>&1 &
	LPID=$!; PIDS+=("$LPID")
	wait_file "$w/lvsd-ctd.log" "control socket on" 10 || fail "no control socket"
}
run_lvsd
wait_dests ctd $VIP:9000 10 "10.96.1.2:9000/6 10.96.2.2:9000/6 " || fail "pool at start: '$(dests ctd $VIP:9000)'"

# Ten flows, spread over both real servers.
ip netns exec ctc $flows run $VIP 9000 10 0.5 "$w/a.json" &
fa=$!; PIDS+=($fa)
$flows wait "$w/a.json" 0 10 20 || fail "the first flows were not all answered"
on_rs1=$(python3 -c "import json; print(sum(1 for f in json.load(open('$w/a.json')) if f['rs'] == 'rs1'))")
[ "$on_rs1" -ge 1 ] || fail "no flow went to rs1"

out=$(ctl drain $VIP:9000 10.96.1.2 --timeout 120) && pass "ctl drain: $out" || fail "ctl drain failed: $out"
[ "$(dests ctd $VIP:9000)" = "10.96.1.2:9000/0 10.96.2.2:9000/6 " ] && pass "draining: rs1 at weight 0" ||
	fail "while draining: '$(dests ctd $VIP:9000)'"
st=$(ctl --json status)
echo "$st" | python3 -c "
import json,sys
d=json.load(sys.stdin); r=d['virtual_servers'][0]['real_servers'][0]
sys.exit(0 if r['override']['mode']=='drain' and r['active_conns']==$on_rs1 else 1)" &&
	pass "status shows the drain and rs1's $on_rs1 active connections from the kernel" || fail "status: $st"
# New connections all go to rs2; rs1's own keep being answered.
ip netns exec ctc $flows run $VIP 9000 6 0.5 "$w/b.json" &
fb=$!; PIDS+=($fb)
$flows wait "$w/b.json" 0 6 20 || fail "new flows while draining"
new_on_rs1=$(python3 -c "import json; print(sum(1 for f in json.load(open('$w/b.json')) if f['rs'] == 'rs1'))")
[ "$new_on_rs1" = 0 ] && pass "no new connection reached the draining rs1" || fail "$new_on_rs1 new connections went to rs1"
since=$(date +%s.%N); sleep 1.5
[ "$($flows check "$w/a.json" "$since" | head -1)" = "kept 10 of 10" ] && pass "rs1's connections keep being answered while it drains" ||
	fail "while draining: $($flows check "$w/a.json" "$since")"
# Once its connections end, rs1 leaves the table and stays in maintenance.
kill $fa; wait $fa 2>/dev/null
wait_dests ctd $VIP:9000 10 "10.96.2.2:9000/6 " && pass "rs1 left the table once its connections ended" ||
	fail "after the drain: '$(dests ctd $VIP:9000)'"
ctl status | grep -q "maintenance" && pass "status shows rs1 in maintenance" || fail "status: $(ctl status)"
grep -q '"mode": "maintenance"' "$w/state.json" && pass "the state file keeps it" || fail "state file: $(cat "$w/state.json")"

# Maintenance survives a reload and a restart.
conf "reloaded" 6 "" >"$w/l.conf"
applied=$(grep -c "reload: IPVS:.*applied" "$w/lvsd-ctd.log")
kill -HUP "$LPID"
for _ in $(seq 100); do [ "$(grep -c "reload: IPVS:.*applied" "$w/lvsd-ctd.log")" -gt "$applied" ] && break; sleep 0.1; done
[ "$(dests ctd $VIP:9000)" = "10.96.2.2:9000/6 " ] && pass "maintenance survives a reload" || fail "after reload: '$(dests ctd $VIP:9000)'"
kill -TERM "$LPID"; wait "$LPID"
run_lvsd
wait_file "$w/lvsd-ctd.log" "override(s) applied" 10 || fail "the restarted lvsd did not apply the state file"
wait_dests ctd $VIP:9000 10 "10.96.2.2:9000/6 " && pass "maintenance survives a restart" || fail "after restart: '$(dests ctd $VIP:9000)'"
# Every event of the restarted lvsd from here on.
ip netns exec ctd "$lvsd" ctl -s "$w/ctl.sock" --json events >"$w/events" &
evpid=$!; PIDS+=($evpid)
wait_file "$w/events" '"streaming":true' 10 || fail "events did not start"

# enable: back through slow start, the weight climbing in steps.
ctl enable $VIP:9000 10.96.1.2 >/dev/null || fail "ctl enable"
seen=""
for _ in $(seq 40); do
	w1=$(ip netns exec ctd ipvsadm -Ln -t $VIP:9000 | awk '$2 == "10.96.1.2:9000" {print $4}')
	case " $seen " in *" $w1 "*) ;; *) seen="$seen $w1" ;; esac
	[ "$w1" = 6 ] && break
	sleep 0.25
done
echo "info - rs1's weights after enable:$seen"
python3 -c "
w=[int(x) for x in '$seen'.split()]
import sys; sys.exit(0 if len(w) >= 3 and w == sorted(w) and w[0] < 6 and w[-1] == 6 else 1)" &&
	pass "slow start: rs1's weight rose in steps to 6 (${seen# })" || fail "slow start weights:$seen"

# reload --dry-run: the operations it prints are those the reload sends.
before=$(dests ctd $VIP:9000)
conf "changed" 3 "real_server 10.96.2.2 9001 {
        weight 2
    }" >"$w/l.conf"
dry=$(ctl --json reload --dry-run) || fail "dry run: $dry"
n=$(echo "$dry" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ipvs"]["operations"])')
[ "$(dests ctd $VIP:9000)" = "$before" ] && pass "reload --dry-run changes nothing ($n operations planned)" ||
	fail "the dry run changed the table: '$(dests ctd $VIP:9000)'"
applied_before=$(grep -c "reload: IPVS:.*applied" "$w/lvsd-ctd.log")
out=$(ctl reload) || fail "ctl reload: $out"
wait_file "$w/lvsd-ctd.log" "reload: IPVS: .* operation(s) applied" 10
m=$(grep "reload: IPVS:.*applied" "$w/lvsd-ctd.log" | tail -1 | sed 's/.*IPVS: \([0-9]*\) operation.*/\1/')
[ "$(grep -c "reload: IPVS:.*applied" "$w/lvsd-ctd.log")" -gt "$applied_before" ] && [ "$n" = "$m" ] && [ "$n" -gt 0 ] &&
	pass "the reload sent the $m operations the dry run planned" || fail "dry run planned $n, the reload sent $m"
wait_dests ctd $VIP:9000 10 "10.96.1.2:9000/6 10.96.2.2:9000/3 10.96.2.2:9001/2 " ||
	fail "after the reload: '$(dests ctd $VIP:9000)'"

# events saw a scripted health scenario: a real server down (and the quorum with it), back up.
wait_dests ctd 10.95.0.101:9100 15 "10.96.1.2:9100/1 10.96.2.2:9100/1 " || fail "9100 pool: '$(dests ctd 10.95.0.101:9100)'"
kill "${L9100[2]}"
wait_file "$w/events" '"kind":"quorum".*"up":false' 15 || fail "no quorum-lost event"
listen9100 2
wait_file "$w/events" '"kind":"quorum".*"up":true' 15 || fail "no quorum-gained event"
kill "$evpid"
seq=$(python3 -c "
import json
out = []
for l in open('$w/events'):
    e = json.loads(l).get('event')
    if e and e['kind'] in ('real_server', 'quorum', 'reload') and '9100' in e.get('virtual_server', '9100'):
        out.append('%s %s' % (e['kind'], e.get('up', e.get('ok'))))
print(', '.join(out))")
case "$seq" in
*"reload True"*"real_server False, quorum False"*"real_server True, quorum True"*) pass "events: $seq" ;;
*) fail "events seen: $seq" ;;
esac

# Unknown objects: errors, nothing changed.
before=$(dests ctd $VIP:9000)
for args in "disable 10.9.9.9:80 10.96.1.2" "weight $VIP:9000 10.96.7.7 3" "drain $VIP:9000 nonsense"; do
	out=$(ctl $args 2>&1); rc=$?
	[ $rc = 1 ] && pass "ctl $args: refused ($out)" || fail "ctl $args: exit $rc: $out"
done
[ "$(dests ctd $VIP:9000)" = "$before" ] && pass "refused commands changed nothing" || fail "table changed: '$(dests ctd $VIP:9000)'"
kill $fb 2>/dev/null
kill -TERM "$LPID"; wait "$LPID"
[ ! -e "$w/ctl.sock" ] && pass "the socket is removed at stop" || fail "the socket is still there"
finish
