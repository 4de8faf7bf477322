#!/bin/bash
# The demo's guest side (scripts/demo runs it in the kernel lab): a client, two lvsd directors (a VRRP
# pair with an outside and an inside VIP in a sync group, LVS-NAT) and three web servers, each in a
# network namespace. Traffic runs while the master director dies; then it prints what a user wants to see.
set -u
lvsd=${LVSD_BIN:?LVSD_BIN must name the lvsd binary}
w=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for ns in cli d1 d2 rs1 rs2 rs3 swa swb; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT
for ns in cli d1 d2 rs1 rs2 rs3 swa swb; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
for sw in swa swb; do ip -n $sw link add br0 type bridge; ip -n $sw link set br0 up; done
attach() { # switch ns ifname addr
	ip link add "$3" netns "$2" type veth peer name "p-$2-$3" netns "$1"
	ip -n "$1" link set "p-$2-$3" master br0 up
	ip -n "$2" addr add "$4" dev "$3"; ip -n "$2" link set "$3" up
}
attach swa cli eth0 10.10.0.2/24
attach swa d1 eth0 10.10.0.11/24; attach swa d2 eth0 10.10.0.12/24
attach swb d1 eth1 10.20.0.11/24; attach swb d2 eth1 10.20.0.12/24
for n in 1 2 3; do
	attach swb rs$n eth0 10.20.0.2$n/24
	ip -n rs$n route add default via 10.20.0.1
	mkdir -p "$w/www$n"; echo "rs$n" >"$w/www$n/index.html"
	ip netns exec rs$n python3 -m http.server 8080 --bind 10.20.0.2$n --directory "$w/www$n" >/dev/null 2>&1 &
	PIDS+=($!); disown $!
done
for d in d1 d2; do ip netns exec $d sysctl -qw net.ipv4.ip_forward=1; done

cat >"$w/lvsd.conf" <<'EOF2'
global_defs {
    router_id demo
}
vrrp_sync_group VG {
    group {
        VI_OUT
        VI_IN
    }
}
vrrp_instance VI_OUT {
    state BACKUP
    interface eth0
    virtual_router_id 51
    @d1 priority 150
    @d2 priority 100
    advert_int 1
    virtual_ipaddress {
        10.10.0.100/24 dev eth0
    }
}
vrrp_instance VI_IN {
    state BACKUP
    interface eth1
    virtual_router_id 52
    @d1 priority 150
    @d2 priority 100
    advert_int 1
    virtual_ipaddress {
        10.20.0.1/24 dev eth1
    }
}
virtual_server 10.10.0.100 80 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 10.20.0.21 8080 { TCP_CHECK { connect_timeout 1 } }
    real_server 10.20.0.22 8080 { TCP_CHECK { connect_timeout 1 } }
    real_server 10.20.0.23 8080 { TCP_CHECK { connect_timeout 1 } }
}
EOF2
for d in d1 d2; do
	ip netns exec $d "$lvsd" -f "$w/lvsd.conf" -i $d -l -p "$w/$d.pid" >"$w/$d.log" 2>&1 &
	PIDS+=($!); eval "pid_$d=$!"; disown $!
done
# Who answers for the VIP: it is configured there and the link is up.
owner() { for d in d1 d2; do ip -n $d -4 addr show dev eth0 up | grep -q "10.10.0.100/" && ip -n $d link show eth0 | grep -q "state UP" && printf '%s ' $d; done; }
for _ in $(seq 100); do [ "$(owner)" = "d1 " ] && break; sleep 0.1; done
sleep 2

cat >"$w/client.py" <<'EOS'
import collections, sys, time, urllib.request
end = time.time() + float(sys.argv[1])
seen = collections.Counter(); last_ok = None; gap = 0.0; failed = 0
while time.time() < end:
    t = time.time()
    try:
        who = urllib.request.urlopen("http://10.10.0.100/", timeout=0.25).read().decode().strip()
        seen[who] += 1
        if last_ok is not None:
            gap = max(gap, t - last_ok)
        last_ok = t
    except Exception:
        failed += 1
    time.sleep(max(0.0, 0.05 - (time.time() - t)))
print("answers", " ".join(f"{k}={v}" for k, v in sorted(seen.items())))
print("failed", failed)
print("outage_ms", int(gap * 1000))
EOS
echo "== before: VIP 10.10.0.100 on: $(owner)"
ip netns exec cli python3 "$w/client.py" 14 >"$w/client.out" &
cpid=$!
sleep 4
echo "== the master director d1 dies: lvsd killed with SIGKILL, then its links go down"
kill -9 "$pid_d1"; ip -n d1 link set eth0 down; ip -n d1 link set eth1 down
wait "$cpid"
echo "== after: VIP 10.10.0.100 on: $(owner)"
for d in d1 d2; do echo "== ipvsadm -Ln on $d"; ip netns exec $d ipvsadm -Ln; done
echo "== requests answered per real server (client sends one every 50 ms for 14 s)"
grep answers "$w/client.out" | cut -d' ' -f2- | tr ' ' '\n' | sed 's/^/   /'
echo "== failed requests: $(grep failed "$w/client.out" | cut -d' ' -f2)"
echo "== outage seen by the client: $(grep outage_ms "$w/client.out" | cut -d' ' -f2) ms (VRRP bound: 3 x 1 s + (256-100)/256 s = 3609 ms)"
grep -h "Entering MASTER" "$w/d2.log" | sed 's/^/   d2: /'
