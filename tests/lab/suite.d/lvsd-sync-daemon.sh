#!/bin/bash
# Kernel lab (guest side): the IPVS sync daemon's life with lvs_sync_daemon IFACE VI_1 id 9. While
# VI_1 is BACKUP the kernel runs the backup daemon, once MASTER only the master daemon; /status,
# /metrics and the data dump show it; a reload that leaves lvs_sync_daemon alone does not touch the
# daemon, one that changes it restarts it with the new values; after kill -9 the kernel keeps the
# daemon and a restarted lvsd takes it over; SIGTERM stops it, with -I too (as keepalived 2.2.7,
# checked here on the same file). lvs_sysctl values reach net.ipv4.vs. Needs LVSD_BIN.
NAME=lvsd-sync-daemon
NSES="ysd ysk"
. "$(dirname "$0")/common.bash"

for ns in $NSES; do
	ip -n $ns link add y0 type veth peer name y1
	ip -n $ns link set y0 up; ip -n $ns link set y1 up
	ip -n $ns addr add 10.90.0.1/24 dev y0
done
conf() { # syncid comment
	cat <<EOC
# $2
global_defs {
    router_id lvs1
    lvs_sync_daemon y0 VI_1 id $1
    metrics_listen 127.0.0.1:9100
}
lvs_sysctl {
    sync_threshold 2 20
    sync_refresh_period 30
    sloppy_tcp 1
}
vrrp_instance VI_1 {
    state BACKUP
    interface y0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.90.0.100/24
    }
}
virtual_server 10.90.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.90.0.5 80 {
        weight 1
    }
}
EOC
}
daemons() { ip netns exec "$1" ipvsadm -L --daemon 2>/dev/null | tr '\n' ';'; }
wait_daemons() { # ns pattern seconds
	local i
	for i in $(seq $(($3 * 10))); do daemons "$1" | grep -Eq "$2" && return 0; sleep 0.1; done
	return 1
}
fetch() { ip netns exec ysd python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:9100$1', timeout=5).read().decode())"; }
starts() { grep -c "started the Master sync daemon" "$w/lvsd-ysd.log"; }

conf 9 first >"$w/l.conf"
start_lvsd ysd "$w/l.conf"
wait_daemons ysd "^backup sync daemon" 10 && pass "VI_1 starting in BACKUP: the kernel runs the backup daemon" ||
	fail "daemons at start: $(daemons ysd)"
if wait_daemons ysd "^master sync daemon \(mcast=y0, syncid=9" 15 && ! daemons ysd | grep -q backup; then
	pass "VI_1 MASTER: only the master daemon runs, with syncid 9"
else
	fail "daemons once MASTER: $(daemons ysd)"
fi
st=$(fetch /status)
echo "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin)["sync_daemon"]; sys.exit(0 if d["running"]=="master" and d["syncid"]==9 and d["follows"]=="VI_1" else 1)' &&
	pass "/status shows the master daemon following VI_1" || fail "/status: $st"
m=$(fetch /metrics)
echo "$m" | grep -q '^lvsd_sync_daemon_running{role="master"} 1$' && echo "$m" | grep -q '^lvsd_sync_daemon_running{role="backup"} 0$' &&
	pass "/metrics shows the running daemon" || fail "/metrics: $(echo "$m" | grep sync_daemon)"
rm -f /tmp/keepalived.data
kill -USR1 "$LPID"
wait_file /tmp/keepalived.data "LVS syncd running = master" 5 && grep -q "LVS syncd vrrp instance = VI_1" /tmp/keepalived.data &&
	pass "the data dump names the sync daemon and its state" || fail "data dump: $(grep LVS /tmp/keepalived.data)"
for k in "sync_threshold:2	20" "sync_refresh_period:30" "sloppy_tcp:1"; do
	v=$(ip netns exec ysd cat /proc/sys/net/ipv4/vs/${k%%:*} 2>/dev/null)
	[ "$v" = "${k#*:}" ] && pass "lvs_sysctl set net.ipv4.vs.${k%%:*}" || fail "net.ipv4.vs.${k%%:*} is '$v'"
done

n=$(starts)
conf 9 "comment changed" >"$w/l.conf"
kill -HUP "$LPID"
wait_file "$w/lvsd-ysd.log" "reload done" 10
conf 10 "id changed" >"$w/l.conf"
kill -HUP "$LPID"
wait_daemons ysd "^master sync daemon \(mcast=y0, syncid=10" 10 && pass "a reload that changes the sync id restarts the daemon with it" ||
	fail "after the id change: $(daemons ysd)"
# Two reloads, one start: the one that left lvs_sync_daemon alone did not touch the daemon.
[ "$(starts)" = "$((n + 1))" ] && pass "a reload that leaves lvs_sync_daemon alone does not restart the daemon" ||
	fail "daemon starts across the two reloads: $n -> $(starts)"

kill -9 "$LPID"; wait "$LPID" 2>/dev/null
daemons ysd | grep -q "^master sync daemon" && pass "after kill -9 the kernel still runs lvsd's daemon" || fail "after kill -9: $(daemons ysd)"
start_lvsd ysd "$w/l.conf" "$w/ysd2.pid"
wait_file "$w/lvsd-ysd.log" "left by an earlier process" 10 && pass "a restarted lvsd stops the daemon the killed one left" ||
	fail "no leftover daemon stopped"
wait_daemons ysd "^master sync daemon \(mcast=y0, syncid=10" 15 && pass "and runs its own again once MASTER" || fail "after restart: $(daemons ysd)"
kill -TERM "$LPID"; wait "$LPID"
[ -z "$(daemons ysd)" ] && pass "SIGTERM stops the sync daemon" || fail "after SIGTERM: $(daemons ysd)"

# -I (--dont-release-ipvs) leaves the table; the daemons stop all the same, as with keepalived.
for prog in lvsd keepalived; do
	ns=ysd; [ $prog = keepalived ] && ns=ysk
	if [ $prog = keepalived ]; then
		ip netns exec $ns keepalived -n -l -D -I -f "$w/l.conf" -p "$w/k.pid" -r "$w/kv.pid" -c "$w/kc.pid" >>"$w/lvsd-ysk.log" 2>&1 &
	else
		ip netns exec $ns "$lvsd" -I -f "$w/l.conf" -l -p "$w/ysd3.pid" >>"$w/lvsd-ysd.log" 2>&1 &
	fi
	pid=$!; PIDS+=($pid)
	wait_daemons $ns "^master sync daemon" 15 || fail "$prog -I: no master daemon: $(daemons $ns)"
	kill -TERM $pid; wait $pid
	left=$(daemons $ns)
	echo "info - $prog -I at stop leaves daemons: '${left:-none}'"
	eval "left_$prog=\${left:-none}"
done
[ "$left_lvsd" = "$left_keepalived" ] && pass "with -I, lvsd leaves the same sync daemons as keepalived ($left_lvsd)" ||
	fail "-I: lvsd leaves '$left_lvsd', keepalived '$left_keepalived'"
finish
