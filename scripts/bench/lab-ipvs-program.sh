#!/bin/bash
# Kernel lab (guest side) for scripts/bench/ipvs-program.sh: time to program VS x RS destinations from
# an empty table with lvsd, `ipvsadm -R` and keepalived 2.2.7 (each in a fresh network namespace, so
# each starts from an empty table), then lvsd applying a config where one destination's weight changed.
set -eu
lvsd=${LVSD_BIN:?}
VS=${LAB_VS:-10000}; RS=${LAB_RS:-4}
here=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d)
python3 "$here/gen-config.py" --vs "$VS" --rs "$RS" --vrrp 0 --check none >"$w/big.conf"
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
for ns in lv ia ka; do ip netns add b-$ns; ip -n b-$ns link set lo up; done

t=$(now); out=$(ip netns exec b-lv "$lvsd" -f "$w/big.conf" ipvs sync); lv=$(since "$t")
lv_ops=$(echo "$out" | sed -n 's/.*: \([0-9]*\) operations.*/\1/p')

# The same table as ipvsadm -R input, from lvsd's own text form of it.
"$lvsd" -f "$w/big.conf" ipvs show | awk '
	$1 == "service" { split($3, a, ":"); svc = "-t " $3; print "-A " svc " -s " $5; next }
	$1 == "dest" { m = ($3 == "masq") ? "-m" : ($3 == "route" ? "-g" : "-i"); print "-a " svc " -r " $2 " " m " -w " $5 }
' >"$w/restore.txt"
t=$(now); ip netns exec b-ia ipvsadm -R <"$w/restore.txt"; ia=$(since "$t")

want=$((VS + VS * RS + 3))
t=$(now)
ip netns exec b-ka keepalived -n -l -C -f "$w/big.conf" -p "$w/k.pid" -c "$w/c.pid" >"$w/k.log" 2>&1 &
kpid=$!
until [ "$(ip netns exec b-ka ipvsadm -Ln | wc -l)" -ge "$want" ]; do sleep 0.05; done
ka=$(since "$t")
kill -TERM "$kpid"; wait "$kpid" || true

# One destination's weight changes: lvsd sends the difference only.
sed '0,/weight 1$/s//weight 7/' "$w/big.conf" >"$w/changed.conf"
t=$(now); out=$(ip netns exec b-lv "$lvsd" -f "$w/changed.conf" ipvs sync); ch=$(since "$t")
ch_ops=$(echo "$out" | sed -n 's/.*: \([0-9]*\) operations.*/\1/p')
got=$(ip netns exec b-lv ipvsadm -Ln | awk '$1 == "->" && $4 == 7' | wc -l)

printf '\nIPVS programming, %s services x %s destinations, kernel %s under qemu (TCG)\n\n' "$VS" "$RS" "$(uname -r)"
printf '%-44s %10s %12s\n' "" "time (s)" "operations"
printf '%-44s %10.2f %12s\n' "lvsd (lvsd ipvs sync, from empty)" "$lv" "$lv_ops"
printf '%-44s %10.2f %12s\n' "ipvsadm -R (same table)" "$ia" "$(wc -l <"$w/restore.txt")"
printf '%-44s %10.2f %12s\n' "keepalived 2.2.7 -C (start to full table)" "$ka" "-"
printf '%-44s %10.2f %12s\n' "lvsd, 1 of $((VS * RS)) weights changed" "$ch" "$ch_ops"
printf '\nlvsd / ipvsadm -R: %.2f   lvsd / keepalived: %.2f   changed weight seen in the kernel: %s destination(s)\n' \
	"$(echo "$lv / $ia" | bc -l)" "$(echo "$lv / $ka" | bc -l)" "$got"
