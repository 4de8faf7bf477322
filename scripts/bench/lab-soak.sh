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
# Wait until A is master and IPVS has every real server before the churn starts.
for _ in $(seq 600); do
	[ "$(ip netns exec sa ipvsadm -Ln 2>/dev/null | grep -c -- '->.*10.50.0.10')" = 20 ] &&
		ip -n sa addr show e0 | grep -q 10.50.0.100 && break
	sleep 0.1
done
SOAK_APID=$apid SOAK_OUT=$out SOAK_WORK=$w SOAK_LVSD=$lvsd SOAK_MIN=$MIN \
	SOAK_LISTENERS="$(for i in $(seq 20); do eval "echo -n \"\$L$i \""; done)" \
	ip netns exec sa /usr/bin/python3 "$(dirname "$0")/soak_driver.py"
