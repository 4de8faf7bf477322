#!/bin/bash
# Kernel lab (guest side): kill -9 of lvsd at 20 random points (during start-up programming, during a
# reload that swaps a virtual server, while checks flap, while VRRP is MASTER), each followed by a
# restart, must leave: the IPVS table equal to the configuration (nothing stale, nothing twice), the
# VIP, its virtual route and rule only while MASTER, the sync daemon in the master role only, and
# no second copy of any check script. Needs LVSD_BIN.
NAME=lvsd-crash-restart
NSES="krd krr"
. "$(dirname "$0")/common.bash"
TRIALS=${LAB_CRASH_TRIALS:-20}
ip link add k0 netns krd type veth peer name r0 netns krr
ip -n krd addr add 10.99.0.1/24 dev k0; ip -n krd link set k0 up
ip -n krr addr add 10.99.0.2/24 dev r0; ip -n krr link set r0 up
declare -a LIS
listen() { ip netns exec krr socat TCP-LISTEN:800$1,bind=10.99.0.2,fork,reuseaddr OPEN:/dev/null & LIS[$1]=$!; PIDS+=($!); }
for n in 1 2 3; do listen $n; done
for n in 1 2 3; do port_open krd 10.99.0.2 800$n 50 || fail "listener 800$n"; done
# Check scripts that take a while, to be caught running: their paths are how they are counted.
printf '#!/bin/sh\nsleep 2\n' >"$w/vrrp-check.sh"; printf '#!/bin/sh\nsleep 2\n' >"$w/misc-check.sh"
chmod 755 "$w/vrrp-check.sh" "$w/misc-check.sh"

conf() { # the second virtual server: .101 (variant a) or .102 (variant b)
	cat <<EOC
global_defs {
    router_id crash
    lvs_sync_daemon k0 VI_1
}
vrrp_script chk {
    script "$w/vrrp-check.sh"
    interval 1
    timeout 10
}
vrrp_instance VI_1 {
    interface k0
    version 3
    virtual_router_id 51
    priority 100
    advert_int 0.2
    virtual_ipaddress {
        10.98.0.100/32 dev k0
    }
    virtual_routes {
        10.97.0.0/16 via 10.99.0.2
    }
    virtual_rules {
        from 10.96.0.0/16 table 100
    }
    track_script {
        chk
    }
}
virtual_server 10.98.0.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 1
EOC
	for n in 1 2 3; do
		echo "    real_server 10.99.0.2 800$n {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }"
	done
	echo "    real_server 10.99.0.2 8009 {
        MISC_CHECK {
            misc_path \"$w/misc-check.sh\"
            misc_timeout 10
        }
    }
}
virtual_server 10.98.0.$1 80 {
    protocol TCP
    lb_algo wrr
    lb_kind NAT
    real_server 10.99.0.2 8001 {
        weight 2
    }
}"
}
variant=101
conf $variant >"$w/l.conf"
run() {
	ip netns exec krd "$lvsd" -f "$w/l.conf" -l -p "$w/l.pid" --state-file "$w/state.json" >>"$w/lvsd-krd.log" 2>&1 &
	LPID=$!; PIDS+=("$LPID")
}
table() { # the TCP services and their destinations, one line each, sorted
	ip netns exec krd ipvsadm -Ln | awk '/^TCP/ {s=$2} /->/ && $2 ~ /^10\./ {print s, $2, $4} /^TCP/ {print $2, $3}' | sort
}
expected() {
	{
		echo "10.98.0.100:80 rr"
		for n in 1 2 3; do echo "10.98.0.100:80 10.99.0.2:800$n 1"; done
		echo "10.98.0.100:80 10.99.0.2:8009 1"
		echo "10.98.0.$variant:80 wrr"
		echo "10.98.0.$variant:80 10.99.0.2:8001 2"
	} | sort
}
master() { ip -n krd -4 addr show dev k0 | grep -q "inet 10.98.0.100/32"; }
copies() { ps -eo args | grep -c "^/bin/sh $w/$1"; }
# settled SECONDS: MASTER with its route and rule, the table as configured, the master daemon.
settled() {
	local i
	for i in $(seq $(($1 * 10))); do
		if master && [ "$(table)" = "$(expected)" ] &&
			ip -n krd route | grep -q "10.97.0.0/16 via 10.99.0.2" &&
			ip -n krd rule | grep -q "from 10.96.0.0/16 lookup 100" &&
			[ "$(ip netns exec krd ipvsadm -L --daemon)" = "master sync daemon (mcast=k0, syncid=51, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
rnd() { echo "0.$((RANDOM % 1000))" | awk -v m="$1" '{printf "%.3f", $1 * m}'; }

run
settled 30 || fail "not settled at start: $(table | tr '\n' ';')"
clean=0
for t in $(seq "$TRIALS"); do
	kind=$(((t - 1) % 4))
	case $kind in
	0) # during start-up programming
		kill -9 "$LPID"; wait "$LPID" 2>/dev/null
		run; sleep "$(rnd 0.4)"; what="start-up";;
	1) # during a reload that swaps the second virtual server
		variant=$((variant == 101 ? 102 : 101)); conf $variant >"$w/l.conf"
		kill -HUP "$LPID"; sleep "$(rnd 0.3)"; what="reload to .$variant";;
	2) # while a check flaps
		kill "${LIS[3]}"; sleep "$(rnd 2)"; what="checks flapping";;
	3) # while MASTER
		sleep "$(rnd 1)"; what="MASTER";;
	esac
	kill -9 "$LPID"; wait "$LPID" 2>/dev/null
	[ $kind = 2 ] && { listen 3; port_open krd 10.99.0.2 8003 50; }
	run
	ok=1
	settled 40 || { ok=0; fail "trial $t (killed at $what): not settled: table $(table | tr '\n' ';') VIP $(master && echo yes || echo no) daemon '$(ip netns exec krd ipvsadm -L --daemon)'"; }
	for s in vrrp-check.sh misc-check.sh; do
		n=$(copies $s)
		[ "$n" -le 1 ] || { ok=0; fail "trial $t (killed at $what): $n copies of $s"; }
	done
	[ $ok = 1 ] && clean=$((clean + 1))
done
[ "$clean" = "$TRIALS" ] && pass "$clean of $TRIALS kill -9 points left a clean state after the restart" ||
	fail "$clean of $TRIALS restarts clean"

# A plain stop removes everything lvsd added.
kill -TERM "$LPID"; wait "$LPID"
[ -z "$(table)" ] && ! master && ! ip -n krd route | grep -q 10.97.0.0 && [ -z "$(ip netns exec krd ipvsadm -L --daemon)" ] &&
	[ ! -e "$w/state.ipvs-owned" ] && pass "SIGTERM leaves nothing behind" ||
	fail "after SIGTERM: table $(table | tr '\n' ';'), VIP $(master && echo yes || echo no), owned list $(ls "$w")"
finish
