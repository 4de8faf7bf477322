#!/bin/bash
# Guest side of scripts/bench/soak.sh: two lvsd directors (VRRP pair, LVS-NAT, 20 real servers with
# TCP_CHECK at delay_loop 1) under churn for LAB_SOAK_MIN minutes: a real server's listener flaps
# every 3 s, director A reloads every 10 s, every minute A hands its VIP over and takes it back
# (lvsd ctl vrrp backup / resume), /metrics is scraped every second. Each second one CSV row of A's
# RSS, open descriptors, threads, CPU seconds and IPVS destinations goes to $LAB_OUT/soak.csv; each
# flap is checked in IPVS (within 5 s) and B's adverts received are compared with A's sent.
set -u
lvsd=${LVSD_BIN:?}
MIN=${LAB_SOAK_MIN:-30}
out=${LAB_OUT:?}
w=$(mktemp -d)
for ns in sa sb sr; do ip netns add $ns; ip -n $ns link set lo up; done
cleanup() { for ns in sa sb sr; do ip netns pids $ns | xargs -r kill -9; ip netns del $ns; done; }
trap cleanup EXIT
ip -n sr link add br0 type bridge; ip -n sr link set br0 up
for n in a b; do
	ip link add e0 netns s$n type veth peer name p$n netns sr
	ip -n sr link set p$n master br0 up
	ip -n s$n link set e0 up
done
ip -n sa addr add 10.50.0.1/24 dev e0; ip -n sb addr add 10.50.0.2/24 dev e0
ip -n sr addr add 10.50.0.10/24 dev br0
for i in $(seq 20); do
	ip netns exec sr socat TCP-LISTEN:$((9000 + i)),bind=10.50.0.10,fork,reuseaddr OPEN:/dev/null &
	eval "L$i=$!"
done
conf() { # priority metrics-port comment
	echo "# $3"
	echo "global_defs {
    router_id d$1
    metrics_listen 127.0.0.1:$2
}
vrrp_instance VI_1 {
    interface e0
    virtual_router_id 60
    priority $1
    advert_int 1
    virtual_ipaddress {
        10.50.0.100/24
    }
}
virtual_server 10.50.0.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 1"
	for i in $(seq 20); do echo "    real_server 10.50.0.10 $((9000 + i)) {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }"; done
	echo "}"
}
conf 150 9650 0 >"$w/a.conf"; conf 100 9651 0 >"$w/b.conf"
ip netns exec sb "$lvsd" -f "$w/b.conf" -G -p "$w/b.pid" --state-file "$w/b.state" >"$out/soak-b.log" 2>&1 &
ip netns exec sa "$lvsd" -f "$w/a.conf" -G -p "$w/a.pid" --state-file "$w/a.state" >"$out/soak-a.log" 2>&1 &
apid=$!
sleep 8
ctl() { ip netns exec sa "$lvsd" ctl -s "$w/a.sock" "$@" >/dev/null 2>&1; }
metric() { # ns port name
	ip netns exec "$1" python3 -c "import urllib.request; t=urllib.request.urlopen('http://127.0.0.1:$2/metrics', timeout=2).read().decode()
print(sum(float(l.split()[-1]) for l in t.splitlines() if l.startswith('$3')))" 2>/dev/null
}
hz=$(getconf CLK_TCK)
echo "t,rss_kib,fds,threads,cpu_s,ipvs_dests" >"$out/soak.csv"
t0=$(date +%s); flaps=0; flap_misses=0; reloads=0; handovers=0; down=""
sent0=$(metric sa 9650 lvsd_vrrp_adverts_sent_total); rcvd0=$(metric sb 9651 lvsd_vrrp_adverts_received_total)
while [ $(($(date +%s) - t0)) -lt $((MIN * 60)) ]; do
	s=$(($(date +%s) - t0))
	rss=$(awk '/VmRSS/ {print $2}' /proc/$apid/status)
	fds=$(ls /proc/$apid/fd | wc -l)
	thr=$(ls /proc/$apid/task | wc -l)
	cpu=$(awk -v hz="$hz" '{print ($14 + $15) / hz}' /proc/$apid/stat)
	dests=$(ip netns exec sa ipvsadm -Ln | grep -c -- '->.*10.50.0.10')
	echo "$s,$rss,$fds,$thr,$cpu,$dests" >>"$out/soak.csv"
	metric sa 9650 lvsd_reloads_total >/dev/null
	if [ $((s % 3)) = 0 ]; then # flap: one listener down, or the one down back up
		if [ -z "$down" ]; then
			i=$((RANDOM % 20 + 1)); eval "kill \$L$i"; down=$i; want=$((dests - 1))
		else
			ip netns exec sr socat TCP-LISTEN:$((9000 + down)),bind=10.50.0.10,fork,reuseaddr OPEN:/dev/null &
			eval "L$down=$!"; down=""; want=20
		fi
		flaps=$((flaps + 1))
		ok=0
		for _ in $(seq 50); do [ "$(ip netns exec sa ipvsadm -Ln | grep -c -- '->.*10.50.0.10')" = "$want" ] && { ok=1; break; }; sleep 0.1; done
		[ $ok = 1 ] || flap_misses=$((flap_misses + 1))
	fi
	if [ $((s % 10)) = 5 ]; then conf 150 9650 "$s" >"$w/a.conf"; kill -HUP $apid; reloads=$((reloads + 1)); fi
	if [ $((s % 60)) = 30 ]; then ctl vrrp VI_1 backup && handovers=$((handovers + 1)); fi
	if [ $((s % 60)) = 45 ]; then ctl vrrp VI_1 resume; fi
	sleep 1
done
sent=$(metric sa 9650 lvsd_vrrp_adverts_sent_total); rcvd=$(metric sb 9651 lvsd_vrrp_adverts_received_total)
echo "flaps=$flaps flap_misses=$flap_misses reloads=$reloads handovers=$handovers adverts_sent_by_a=$(echo "$sent - $sent0" | bc) adverts_received_by_b=$(echo "$rcvd - $rcvd0" | bc)" >"$out/soak.summary"
cat "$out/soak.summary"
