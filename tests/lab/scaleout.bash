# Scale-out topology for the kernel lab (sourced by suite.d/lvsd-bgp.sh, scripts/demo-scaleout and
# scripts/bench/scaleout.sh; not a part itself). A client, a router running BIRD 2 with ECMP into its
# kernel table (merge paths, fib_multipath_hash_policy 1), three LVS-DR directors each running BIRD
# and lvsd (bgp_announce), three real servers (flows.py echo servers, the VIPs on lo):
#
#   client 10.40.1.2 -- 10.40.1.1 router 10.40.0.1 --+-- d1 .11  d2 .12  d3 .13   (AS 65001)
#                                 (AS 65000)         +-- r1 .21  r2 .22  r3 .23
#   VIPs: 10.40.100.10:8080 and [2001:db8:40::10]:8080 (three real servers each), 10.40.100.20:8080
#   (its only real server's port is closed: never announced).
#
# The caller sets SO (a namespace prefix of two letters), w (a work directory), lvsd (the binary)
# and PIDS (an array, for its cleanup), and has pass/fail. Functions:
#   so_setup                    namespaces, links, addresses, real servers, the router's BIRD
#   so_start_director N SCHED   writes d$N's configurations (SCHED mh or rr) and starts its BIRD and lvsd
#   so_paths VIP                the router's next hops for VIP (sorted, space separated)
#   so_wait_paths VIP COUNT SECONDS
#   so_stop_director N          SIGTERM to d$N's lvsd, waits for it; so_kill_lvsd N: SIGKILL
#   so_teardown                 kills everything in the namespaces and deletes them
SO_VIP4=10.40.100.10
SO_VIP6=2001:db8:40::10
SO_DEAD=10.40.100.20
SO_PORT=8080
so_flows="python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/flows.py"
SO_DELAY_LOOP=${SO_DELAY_LOOP:-1}
SO_VIPS_EXTRA=${SO_VIPS_EXTRA:-0}

so_ns() { echo "$SO$1"; }
so_mkns() { ip netns add "$SO$1"; ip -n "$SO$1" link set lo up; }
so_plug() { # ns ifname addr4/len addr6/len
	ip link add "$2" netns "$SO$1" type veth peer name "p-$SO$1" netns "${SO}sw"
	ip -n "${SO}sw" link set "p-$SO$1" master br0 up
	ip -n "$SO$1" addr add "$3" dev "$2"
	[ -n "${4:-}" ] && ip -n "$SO$1" addr add "$4" dev "$2" nodad
	ip -n "$SO$1" link set "$2" up
}

so_setup() {
	local n
	for n in sw cl rt d1 d2 d3 r1 r2 r3; do so_mkns $n; done
	ip -n "${SO}sw" link add br0 type bridge; ip -n "${SO}sw" link set br0 up
	# The client's own link to the router.
	ip link add c0 netns "${SO}cl" type veth peer name up0 netns "${SO}rt"
	ip -n "${SO}cl" addr add 10.40.1.2/24 dev c0; ip -n "${SO}cl" link set c0 up
	ip -n "${SO}rt" addr add 10.40.1.1/24 dev up0; ip -n "${SO}rt" link set up0 up
	ip -n "${SO}cl" route add default via 10.40.1.1
	so_plug rt lan 10.40.0.1/24 fd00:40::1/64
	ip netns exec "${SO}rt" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
	for n in 1 2 3; do
		so_plug d$n lan 10.40.0.1$n/24 fd00:40::1$n/64
		ip netns exec "${SO}d$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
		ip -n "${SO}d$n" route add default via 10.40.0.1
		so_plug r$n lan 10.40.0.2$n/24 fd00:40::2$n/64
		ip netns exec "${SO}r$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
		ip -n "${SO}r$n" addr add $SO_VIP4/32 dev lo
		ip -n "${SO}r$n" addr add $SO_DEAD/32 dev lo
		ip -n "${SO}r$n" addr add $SO_VIP6/128 dev lo
		# Replies go straight back through the router (DR).
		ip -n "${SO}r$n" route add default via 10.40.0.1
		ip -n "${SO}r$n" -6 route add default via fd00:40::1
		ip netns exec "${SO}r$n" $so_flows serve r$n :: $SO_PORT >/dev/null 2>&1 &
		PIDS+=("$!")
		disown "$!"
	done
	cat >"$w/bird-rt.conf" <<EOB
router id 10.40.0.1;
log "$w/bird-rt.log" all;
protocol device { scan time 10; }
protocol kernel k4 { ipv4 { export all; }; merge paths on; }
protocol kernel k6 { ipv6 { export all; }; merge paths on; }
template bgp dir4 { local 10.40.0.1 as 65000; connect delay time 1; connect retry time 2; error wait time 1, 5; ipv4 { import all; export none; }; }
template bgp dir6 { local fd00:40::1 as 65000; connect delay time 1; connect retry time 2; error wait time 1, 5; ipv6 { import all; export none; }; }
protocol bgp d1v4 from dir4 { neighbor 10.40.0.11 as 65001; }
protocol bgp d2v4 from dir4 { neighbor 10.40.0.12 as 65001; }
protocol bgp d3v4 from dir4 { neighbor 10.40.0.13 as 65001; }
protocol bgp d1v6 from dir6 { neighbor fd00:40::11 as 65001; }
protocol bgp d2v6 from dir6 { neighbor fd00:40::12 as 65001; }
protocol bgp d3v6 from dir6 { neighbor fd00:40::13 as 65001; }
EOB
	ip netns exec "${SO}rt" bird -c "$w/bird-rt.conf" -s "$w/bird-rt.ctl" -P "$w/bird-rt.pid" ||
		fail "the router's BIRD did not start"
	for n in 1 2 3; do
		port_open "${SO}r$n" 10.40.0.2$n $SO_PORT 100 || fail "echo server on r$n did not start"
	done
}

# so_bird N: starts d$N's BIRD (its include file may not exist yet: the wildcard allows that).
so_bird() {
	ip netns exec "${SO}d$1" bird -c "$w/bird-d$1.conf" -s "$w/bird-d$1.ctl" -P "$w/bird-d$1.pid" ||
		fail "d$1's BIRD did not start"
}
so_bird_stop() { local p; p=$(cat "$w/bird-d$1.pid"); kill "$p"; so_wait_gone "$p"; }
so_wait_gone() { local i; for i in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

# so_conf N SCHED: d$N's lvsd configuration.
so_conf() {
	local n=$1 sched=$2 flags="" extra="" i
	[ "$sched" = mh ] && flags=$'    mh-port\n    mh-fallback'
	for i in $(seq "$SO_VIPS_EXTRA"); do extra="$extra    vip 10.41.$((i / 250)).$((i % 250 + 1))"$'\n'; done
	cat <<EOC
global_defs {
    router_id d$n
}
static_ipaddress {
    $SO_VIP4/32 dev lo
    $SO_DEAD/32 dev lo
    $SO_VIP6/128 dev lo
}
lvs_sysctl {
    sloppy_tcp 1
}
bgp_announce {
    bird_socket $w/bird-d$n.ctl
    include_file $w/lvsd-vips-d$n.conf
    withdraw_delay ${SO_WITHDRAW_DELAY:-2}
    vip $SO_VIP4
    vip $SO_VIP6
    vip $SO_DEAD
$extra}
virtual_server $SO_VIP4 $SO_PORT {
    delay_loop $SO_DELAY_LOOP
    lvs_sched $sched
$flags
    lvs_method DR
    protocol TCP
    inhibit_on_failure
$(for r in 1 2 3; do printf '    real_server 10.40.0.2%s %s {\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n    }\n' $r $SO_PORT; done)
}
virtual_server $SO_VIP6 $SO_PORT {
    delay_loop $SO_DELAY_LOOP
    lvs_sched $sched
$flags
    lvs_method DR
    protocol TCP
    inhibit_on_failure
$(for r in 1 2 3; do printf '    real_server fd00:40::2%s %s {\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n    }\n' $r $SO_PORT; done)
}
virtual_server $SO_DEAD $SO_PORT {
    delay_loop $SO_DELAY_LOOP
    lvs_sched $sched
$flags
    lvs_method DR
    protocol TCP
    inhibit_on_failure
    real_server 10.40.0.21 9 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
}
EOC
	# Extra VIPs (the benchmark's 1,000): each a virtual server of its own on the same real servers.
	for i in $(seq "$SO_VIPS_EXTRA"); do
		printf 'virtual_server 10.41.%s.%s %s {\n    delay_loop 5\n    lvs_sched %s\n%s\n    lvs_method DR\n    protocol TCP\n    inhibit_on_failure\n    real_server 10.40.0.21 %s {\n        weight 1\n    }\n}\n' \
			$((i / 250)) $((i % 250 + 1)) $SO_PORT "$sched" "$flags" $SO_PORT
	done
}

so_bird_conf() {
	local n=$1
	cat <<EOB
router id 10.40.0.1$n;
log "$w/bird-d$n.log" all;
protocol device { scan time 10; }
include "$w/lvsd-vips-d$n*.conf";
protocol bgp up4 {
	local 10.40.0.1$n as 65001; neighbor 10.40.0.1 as 65000;
	connect delay time 1; connect retry time 2; error wait time 1, 5;
	ipv4 { import none; export where proto ~ "lvsd_*"; };
}
protocol bgp up6 {
	local fd00:40::1$n as 65001; neighbor fd00:40::1 as 65000;
	connect delay time 1; connect retry time 2; error wait time 1, 5;
	ipv6 { import none; export where proto ~ "lvsd_*"; };
}
EOB
}

# so_start_director N SCHED: BIRD, then lvsd (either order works; lvsd retries BIRD every second).
so_start_director() {
	local n=$1
	so_conf "$n" "$2" >"$w/lvsd-d$n.conf"
	so_bird_conf "$n" >"$w/bird-d$n.conf"
	[ -e "$w/bird-d$n.pid" ] && kill -0 "$(cat "$w/bird-d$n.pid")" 2>/dev/null || so_bird "$n"
	so_lvsd "$n"
}
so_lvsd() {
	ip netns exec "${SO}d$1" "$lvsd" -f "$w/lvsd-d$1.conf" -l -p "$w/lvsd-d$1.pid" \
		--control-socket "$w/ctl-d$1.sock" >>"$w/lvsd-d$1.log" 2>&1 &
	eval "SO_LPID_$1=$!"; PIDS+=("$!")
}
so_lpid() { eval "echo \$SO_LPID_$1"; }
so_stop_director() { local p; p=$(so_lpid "$1"); kill -TERM "$p"; wait "$p" 2>/dev/null; }
so_kill_lvsd() { local p; p=$(so_lpid "$1"); kill -9 "$p"; wait "$p" 2>/dev/null; }

# so_paths VIP: the router kernel's next hops for VIP, e.g. "10.40.0.11 10.40.0.12 10.40.0.13".
# One ip call and bash, so a poll is quick under emulation.
so_paths() {
	local fam=-4 out w prev="" hops=()
	case "$1" in *:*) fam=-6 ;; esac
	out=$(ip -n "${SO}rt" $fam route show "$1" 2>/dev/null)
	for w in $out; do
		[ "$prev" = via ] && hops+=("$w")
		prev=$w
	done
	[ ${#hops[@]} = 0 ] && return 0
	printf '%s\n' "${hops[@]}" | sort | paste -sd' '
}
so_npaths() { local p; p=$(so_paths "$1"); set -- $p; echo $#; }
# so_wait_paths VIP COUNT SECONDS: until the router has COUNT next hops for VIP.
so_wait_paths() {
	local i
	for i in $(seq $(($3 * 20))); do [ "$(so_npaths "$1")" = "$2" ] && return 0; sleep 0.05; done
	return 1
}
# so_wait_without VIP ADDR SECONDS: until ADDR is not among VIP's next hops; prints the seconds it took.
so_wait_without() {
	local t0 i
	t0=$(date +%s.%N)
	for i in $(seq $(($3 * 100))); do
		case " $(so_paths "$1") " in *" $2 "*) sleep 0.01 ;; *) echo "$(date +%s.%N) - $t0" | bc; return 0 ;; esac
	done
	return 1
}
# so_fail_checks N: d$N's checks of the real servers fail (the data path stays as it is).
so_fail_checks() {
	ip netns exec "${SO}d$1" nft -f - <<EON
table inet lvsdlab { chain out { type filter hook output priority 0; meta skuid 0 tcp dport $SO_PORT reject with tcp reset; }; }
EON
}
so_heal_checks() { ip netns exec "${SO}d$1" nft delete table inet lvsdlab; }

so_teardown() {
	local n p
	for n in 1 2 3; do
		p=$(so_lpid $n)
		[ -n "$p" ] && { kill -9 "$p" && wait "$p"; } 2>/dev/null
	done
	for n in sw cl rt d1 d2 d3 r1 r2 r3; do
		ip netns pids "$SO$n" 2>/dev/null | xargs -r kill -9
		ip netns del "$SO$n" 2>/dev/null
	done
}
