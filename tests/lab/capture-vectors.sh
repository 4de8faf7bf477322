#!/bin/bash
# Guest side of the IPVS vector capture (see ipvs/tests/vectors/README.md): runs ipvsadm commands
# while tcpdump records all netlink traffic from an nlmon device. Writes to $LAB_OUT:
#   ipvs.pcap      the capture (DLT_NETLINK)
#   commands.tsv   pid, name, exit status, command line: one line per command, in order
#   outputs/NAME   what each command printed
# Host: KERNEL_LAB_OUT=DIR scripts/kernel-lab run tests/lab/capture-vectors.sh
#       python3 scripts/lab/pcap2vectors.py DIR ipvs/tests/vectors
set -u
[ "${KERNEL_LAB_GUEST:-}" = 1 ] || { echo "run me inside the kernel lab: scripts/kernel-lab run $0" >&2; exit 2; }
out=${LAB_OUT:?}
mkdir -p "$out/outputs"
: > "$out/commands.tsv"

# Director side: the VIPs are local, real servers sit behind a dummy link, a client namespace sends
# traffic so that the stats dumps carry non-zero counters.
ip link add sync0 type dummy && ip addr add 192.168.200.1/24 dev sync0 && ip link set sync0 up
ip link add rs0 type dummy && ip addr add 192.168.10.1/24 dev rs0 && ip link set rs0 up
ip netns add vec-client
ip link add veth-dir type veth peer name veth-cli netns vec-client
ip addr add 10.0.0.254/24 dev veth-dir
ip addr add 10.0.0.1/32 dev veth-dir
ip link set veth-dir up
ip -n vec-client addr add 10.0.0.100/24 dev veth-cli
ip -n vec-client link set veth-cli up
ip -n vec-client link set lo up

ip link add nlmon0 type nlmon || exit 1
ip link set nlmon0 up
tcpdump -i nlmon0 -U -Z root -s 0 -w "$out/ipvs.pcap" 2> "$out/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q listening "$out/tcpdump.log" && break; sleep 0.1; done
grep -q listening "$out/tcpdump.log" || { echo "tcpdump did not start"; cat "$out/tcpdump.log"; exit 1; }

failed=0
# run NAME EXPECT COMMAND...: EXPECT is ok or fail (commands meant to draw a kernel error).
run() {
	local name=$1 expect=$2 rc pid; shift 2
	sh -c 'echo $$ > "$0"; exec "$@"' "$out/.pid" "$@" > "$out/outputs/$name" 2>&1
	rc=$?
	pid=$(cat "$out/.pid")
	printf '%s\t%s\t%s\t%s\n' "$pid" "$name" "$rc" "$*" >> "$out/commands.tsv"
	if { [ "$expect" = ok ] && [ "$rc" != 0 ]; } || { [ "$expect" = fail ] && [ "$rc" = 0 ]; }; then
		echo "UNEXPECTED exit $rc: $name: $*"; sed 's/^/    /' "$out/outputs/$name"; failed=$((failed + 1))
	else
		echo "$name: exit $rc"
	fi
}

run list-empty ok ipvsadm -Ln
# services
run add-tcp-rr ok ipvsadm -A -t 10.0.0.1:80 -s rr
run add-tcp-wlc-persistent-netmask ok ipvsadm -A -t 10.0.0.2:443 -s wlc -p 300 -M 255.255.255.0
run add-udp-sh-flags ok ipvsadm -A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port
run add-udp-ops-pe-sip ok ipvsadm -A -u 10.0.0.3:5060 -s rr -o -p 60 --pe sip
run add-sctp-mh-flags ok ipvsadm -A --sctp-service 10.0.0.1:3868 -s mh -b mh-fallback,mh-port
run add-fwmark-wrr ok ipvsadm -A -f 42 -s wrr
run add-fwmark6-lc ok ipvsadm -A -f 43 -6 -s lc
run add-tcp6-sed-persistent ok ipvsadm -A -t '[2001:db8::1]:80' -s sed -p 120 -M 64
run add-tcp-lblc ok ipvsadm -A -t 10.0.0.4:80 -s lblc
run add-tcp-dh ok ipvsadm -A -t 10.0.0.5:80 -s dh
run add-duplicate-eexist fail ipvsadm -A -t 10.0.0.1:80 -s rr
run add-unknown-scheduler fail ipvsadm -A -t 10.0.0.6:80 -s nosuchsched
run edit-tcp-to-wrr ok ipvsadm -E -t 10.0.0.1:80 -s wrr
run edit-missing-esrch fail ipvsadm -E -t 10.0.0.99:80 -s rr
# destinations
run dest-masq-weight ok ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.2:8080 -m -w 5
run dest-route-weight0 ok ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.3 -g -w 0
run dest-tunnel-thresholds ok ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.4 -i -x 100 -y 10
run dest-tunnel-gue-remcsum ok ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.5 -i --tun-type gue --tun-port 6080 --tun-remcsum
run dest-tunnel-gue-nocsum ok ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.9 -i --tun-type gue --tun-port 6081 --tun-nocsum
run dest-tunnel-gre-csum ok ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.6 -i --tun-type gre --tun-csum
run dest-udp-masq ok ipvsadm -a -u 10.0.0.1:53 -r 192.168.10.2:53 -m
run dest-fwmark-route ok ipvsadm -a -f 42 -r 192.168.10.7 -g -w 2
run dest-fwmark6-route ok ipvsadm -a -f 43 -6 -r 2001:db8::20 -g
run dest-tcp6-masq ok ipvsadm -a -t '[2001:db8::1]:80' -r '[2001:db8::10]:8080' -m -w 3
run dest-sctp-masq ok ipvsadm -a --sctp-service 10.0.0.1:3868 -r 192.168.10.8:3868 -m
run dest-duplicate-eexist fail ipvsadm -a -t 10.0.0.1:80 -r 192.168.10.2:8080 -m
run edit-dest-weight-thresholds ok ipvsadm -e -t 10.0.0.1:80 -r 192.168.10.2:8080 -m -w 7 -x 50 -y 5
run del-dest-missing-enoent fail ipvsadm -d -t 10.0.0.1:80 -r 192.168.10.99:80
# global settings and sync daemons
run set-timeouts ok ipvsadm --set 900 120 300
run get-timeouts ok ipvsadm -L --timeout
run start-daemon-master ok ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7
run start-daemon-backup ok ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 8 --sync-maxlen 1400 --mcast-group 224.0.0.82 --mcast-port 8849 --mcast-ttl 2
run get-daemons ok ipvsadm -L --daemon
# traffic: two UDP datagrams and a TCP SYN through the services, then dumps with counters
ip netns exec vec-client sh -c 'echo q1 | socat -u - UDP:10.0.0.1:53; echo q2 | socat -u - UDP:10.0.0.1:53'
ip netns exec vec-client socat -u /dev/null TCP:10.0.0.1:80,connect-timeout=1 2>/dev/null
sleep 2 # let the rate estimator run once
run list ok ipvsadm -Ln
run list-stats ok ipvsadm -Ln --stats
run list-rate ok ipvsadm -Ln --rate
run list-exact-stats ok ipvsadm -Ln --exact --stats
run list-one-service ok ipvsadm -Ln -t 10.0.0.1:80
run list-one-fwmark6 ok ipvsadm -Ln -f 43 -6
run list-thresholds ok ipvsadm -Ln --thresholds
run list-tun-info ok ipvsadm -Ln --tun-info
run list-missing-service fail ipvsadm -Ln -t 10.0.0.99:80
run save ok ipvsadm -Sn
run zero-service ok ipvsadm -Z -t 10.0.0.1:80
run zero-all ok ipvsadm -Z
# teardown
run stop-daemon-master ok ipvsadm --stop-daemon master
run stop-daemon-backup ok ipvsadm --stop-daemon backup
run del-dest-route ok ipvsadm -d -t 10.0.0.1:80 -r 192.168.10.3
run del-dest-tcp6 ok ipvsadm -d -t '[2001:db8::1]:80' -r '[2001:db8::10]:8080'
run del-service-tcp-persistent ok ipvsadm -D -t 10.0.0.2:443
run del-service-fwmark6 ok ipvsadm -D -f 43 -6
run del-service-missing fail ipvsadm -D -u 10.0.0.99:53
run clear ok ipvsadm -C
run list-after-clear ok ipvsadm -Ln

sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid"
cat "$out/tcpdump.log"
ip netns del vec-client
rm -f "$out/.pid"
echo "capture: $failed unexpected result(s)"
[ "$failed" = 0 ]
