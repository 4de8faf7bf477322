#!/bin/bash
# Kernel lab (guest side): lvsd and keepalived 2.2.7 program IPVS from the same configurations; the
# `ipvsadm -Ln` texts (also --stats and --persistent-conn) must be identical. Checkers are stripped so
# both keep every real server up. Each configuration runs in a fresh network namespace with eth0/eth1.
# Needs LVSD_BIN (the lvsd binary built on the host). Prints "ipvs-vs-keepalived: N failure(s)".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lvsd=${LVSD_BIN:?LVSD_BIN must name the lvsd binary}
failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
work=$(mktemp -d)

listing() { # namespace: every listing a user compares
	ip netns exec "$1" ipvsadm -Ln
	echo "--- stats"; ip netns exec "$1" ipvsadm -Ln --stats
	echo "--- persistent-conn"; ip netns exec "$1" ipvsadm -Ln --persistent-conn
}

configs=("$root"/conf.d/*.conf "$here"/configs/*.conf)
# LAB_ONLY=NAME limits the run to one configuration (for debugging).
[ -n "${LAB_ONLY:-}" ] && configs=($(printf '%s\n' "${configs[@]}" | grep "/$LAB_ONLY.conf"))
for conf in "${configs[@]}"; do
	name=$(basename "$conf" .conf)
	python3 "$here/strip-checkers.py" "$conf" "$work/$name.conf"
	grep -q virtual_server "$work/$name.conf" || continue
	ns=cmp-$name
	ip netns add "$ns"
	ip -n "$ns" link add eth0 type dummy; ip -n "$ns" link add eth1 type dummy
	ip -n "$ns" link set lo up; ip -n "$ns" link set eth0 up; ip -n "$ns" link set eth1 up

	if out=$(ip netns exec "$ns" "$lvsd" -f "$work/$name.conf" -i lvs1 ipvs sync 2>&1); then
		pass "$name: lvsd programs it ($out)"
	else
		fail "$name: lvsd ipvs sync failed: $out"
	fi
	# What the kernel reports back equals what lvsd sent, so its reload re-check finds no false drift.
	again=$(ip netns exec "$ns" "$lvsd" -f "$work/$name.conf" -i lvs1 ipvs sync 2>&1)
	case "$again" in
		*": 0 operations, 0 failed"*) pass "$name: a second sync reads the table back and sends nothing" ;;
		*) fail "$name: a second sync: $again" ;;
	esac
	listing "$ns" >"$work/$name.lvsd"
	want=$(ip netns exec "$ns" ipvsadm -Ln | wc -l)
	ip netns exec "$ns" "$lvsd" -f "$work/$name.conf" -i lvs1 ipvs clear >/dev/null 2>&1
	left=$(ip netns exec "$ns" ipvsadm -Ln | grep -cE '^(TCP|UDP|SCTP|FWM)')
	[ "$left" = 0 ] && pass "$name: lvsd ipvs clear removes its services" || fail "$name: $left services left after clear"

	ip netns exec "$ns" keepalived -n -l -C -i lvs1 -f "$work/$name.conf" -p "$work/$name.kpid" -c "$work/$name.cpid" \
		>"$work/$name.klog" 2>&1 &
	kpid=$!
	# keepalived's checker logs "Startup complete" once it has programmed IPVS; its table has as
	# many lines as lvsd's by then.
	for _ in $(seq 100); do
		grep -q "Startup complete" "$work/$name.klog" &&
			[ "$(ip netns exec "$ns" ipvsadm -Ln | wc -l)" -ge "$want" ] && break
		sleep 0.1
	done
	listing "$ns" >"$work/$name.keepalived"
	kill -TERM "$kpid"; wait "$kpid" 2>/dev/null
	if diff -u "$work/$name.keepalived" "$work/$name.lvsd" >"$work/$name.diff"; then
		pass "$name: ipvsadm -Ln is the same as keepalived's ($(sed "/^--- stats/q" "$work/$name.lvsd" | grep -cE "^(TCP|UDP|SCTP|FWM)") services)"
	else
		fail "$name: ipvsadm -Ln differs from keepalived's (--- keepalived, +++ lvsd)"
		cat "$work/$name.diff"
		echo "keepalived log:"; tail -20 "$work/$name.klog"
	fi
	ip netns del "$ns"
done
echo "ipvs-vs-keepalived: $failures failure(s)"
[ "$failures" = 0 ]
