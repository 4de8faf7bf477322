#!/bin/bash
# Guest side of scripts/bench/sync-failover.sh: the lvsd-sync-failover lab part once per size, then
# one table. 1,000 flows send a line every 2 s (20 flows: every 1 s) so the emulated guest keeps up;
# both are slower than the kernel's resync every 50 packets, as idle-ish production flows are.
set -u
part=$(cd "$(dirname "$0")/../../tests/lab/suite.d" && pwd)/lvsd-sync-failover.sh
out=$(mktemp -d)
for n in ${LAB_SYNC_SIZES:-20 1000}; do
	iv=1; [ "$n" -gt 100 ] && iv=2
	echo "=== $n flows, a line every $iv s"
	LAB_SYNC_FLOWS=$n LAB_SYNC_INTERVAL=$iv "$part" | tee "$out/$n.log" | grep -E '^(ok|FAIL)'
	sed -n '/^--- results/,/: [0-9]* failure/p' "$out/$n.log" | grep -E '^(lvsd|keepalived) ' | sed "s/^/$n /" >>"$out/table"
done
echo
echo "flows program    mode scenario                 kept                first answer after (median)"
sort -k2,2r -s "$out/table" | sort -n -s -k1,1
