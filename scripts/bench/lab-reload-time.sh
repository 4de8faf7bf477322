#!/bin/bash
# Kernel lab (guest side) for scripts/bench/reload-time.sh: lvsd and then keepalived 2.2.7 (-C) run a
# config of VS services x RS real servers without checkers (so IPVS is stable), each in a fresh network
# namespace. Once the table is complete, the file changes twice: one real server's weight (1 -> 7), then
# one real server added, each followed by SIGHUP. Measured per change: the time from the signal until
# `ipvsadm -Ln -t VIP:80` of that one service shows it (polled without pause), and the IPVS requests
# the daemon sent until it is idle again, counted from an nlmon capture (changes, and full-table reads).
set -eu
shopt -s inherit_errexit
lvsd=${LVSD_BIN:?}
VS=${LAB_VS:-10000}; RS=${LAB_RS:-4}
here=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d)
ns=
cleanup() {
	[ -n "$ns" ] || return 0
	{ ip netns pids "$ns" | xargs -r kill -9; wait; } 2>/dev/null
	ip netns del "$ns"; ns=
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

python3 "$here/gen-config.py" --vs "$VS" --rs "$RS" --vrrp 0 --check none >"$w/base.conf"
# The service in the middle of the file, its first real server (weight 1), and a new real server.
v=$((VS / 2)); n=$((v * RS))
vip="10.$((v / 65536 % 200 + 1)).$((v / 256 % 256)).$((v % 256))"
rs="172.$((16 + n / 65536 % 16)).$((n / 256 % 256)).$((n % 256))"
new=192.168.200.1
python3 - "$w" "$vip" "$rs" "$new" <<'EOS'
import sys
w, vip, rs, new = sys.argv[1:]
lines = open(f"{w}/base.conf").read().split("\n")
i = lines.index(f"virtual_server {vip} 80 {{")
j = lines.index(f"    real_server {rs} 8080 {{", i)
assert lines[j + 1] == "        weight 1", lines[j + 1]
lines[j + 1] = "        weight 7"
open(f"{w}/weight.conf", "w").write("\n".join(lines) + "\n")
lines[j:j] = [f"    real_server {new} 8080 {{", "        weight 3", "    }"]
open(f"{w}/add.conf", "w").write("\n".join(lines) + "\n")
EOS
want=$((VS + VS * RS + 3))

# CPU ticks of every process in the namespace; settle waits until they use under 5% for a second.
ticks() {
	local p s=0 t
	for p in $(ip netns pids "$ns"); do
		t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || t=0
		s=$((s + ${t:-0}))
	done
	echo "$s"
}
settle() {
	local a b
	for _ in $(seq 600); do
		a=$(ticks); sleep 1; b=$(ticks)
		[ $((b - a)) -le $(($(getconf CLK_TCK) / 20)) ] && return 0
	done
	echo "the daemon did not settle" >&2; return 1
}

# change CONF ADDR WEIGHT: installs CONF, sends SIGHUP and prints "KERNEL CHANGES READS POLL DROPPED":
# seconds from the signal to the request that put ADDR:8080 with WEIGHT into the kernel (from the nlmon
# capture), the change requests and full-table reads until the daemon is idle again, seconds until a poll of
# `ipvsadm -Ln -t VIP:80` (one service, every 0.2 s so the poller does not take a CPU from the daemon)
# saw it, and the packets the capture dropped.
change() {
	cp "$1" "$w/lb.conf.new"; mv "$w/lb.conf.new" "$w/lb.conf"
	ip -n "$ns" link add nlmon0 type nlmon; ip -n "$ns" link set nlmon0 up
	ip netns exec "$ns" tcpdump -i nlmon0 -U -Z root -s 0 -B 65536 -w "$w/cap.pcap" 2>"$w/tcpdump.log" &
	local tpid=$! t0 poll ops
	for _ in $(seq 100); do grep -q listening "$w/tcpdump.log" && break; sleep 0.1; done
	t0=$(now); kill -HUP "$pid"
	ip netns exec "$ns" bash -c "end=\$((SECONDS + 300)); until ipvsadm -Ln -t $vip:80 | grep -Eq -- '-> $2:8080 +Masq +$3 '; do [ \$SECONDS -lt \$end ] || exit 1; sleep 0.2; done" ||
		{ echo "the change never showed in the kernel" >&2; exit 1; }
	poll=$(since "$t0")
	settle
	kill -INT "$tpid"; wait "$tpid" || true
	ip -n "$ns" link del nlmon0
	ops=$(python3 "$here/nl-ops.py" "$w/cap.pcap" "$2" 8080 "$3")
	read -r c d at <<<"$ops"
	[ "$at" != - ] || { echo "no request for $2:8080 weight $3 in the capture" >&2; exit 1; }
	echo "$(echo "$at - $t0" | bc) $c $d $poll $(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$w/tcpdump.log")"
}

run() { # daemon -> sets W_* and A_* (weight and add: as change prints)
	ns=brl-$$; ip netns add "$ns"; ip -n "$ns" link set lo up
	cp "$w/base.conf" "$w/lb.conf"
	local t0; t0=$(now)
	if [ "$1" = lvsd ]; then
		ip netns exec "$ns" "$lvsd" -C -f "$w/lb.conf" -l -p "$w/l.pid" >"$w/lvsd.log" 2>&1 &
	else
		ip netns exec "$ns" keepalived -n -l -C -f "$w/lb.conf" -p "$w/k.pid" -c "$w/c.pid" >"$w/keepalived.log" 2>&1 &
	fi
	pid=$!
	until [ "$(ip netns exec "$ns" ipvsadm -Ln | wc -l)" -ge "$want" ]; do sleep 0.5; done
	settle
	echo "$1: table of $((VS * RS)) destinations programmed and idle after $(printf %.1f "$(since "$t0")") s" >&2
	local out
	out=$(change "$w/weight.conf" "$rs" 7); read -r W_T W_C W_D W_P W_X <<<"$out"
	out=$(change "$w/add.conf" "$new" 3); read -r A_T A_C A_D A_P A_X <<<"$out"
	kill -TERM "$pid"; wait "$pid" || true
	[ -n "${LAB_OUT:-}" ] && cp "$w/$1.log" "$LAB_OUT/"
	cleanup; rm -f "$w"/*.pid
}

run lvsd
lw=("$W_T" "$W_C" "$W_D" "$W_P" "$W_X"); la=("$A_T" "$A_C" "$A_D" "$A_P" "$A_X")
# lvsd's own count of the reload's operations (before its re-check), and the re-check's duration.
l_ops=$(sed -n 's/.*reload: IPVS: \([0-9]*\) operation.*/\1/p' "$w/lvsd.log" | tr '\n' ' ')
l_re=$(sed -n 's/.*reload: IPVS: re-read .* in \([0-9.]*\) s: \(.*\)/\1 s (\2)/p' "$w/lvsd.log" | paste -sd';')
run keepalived
kw=("$W_T" "$W_C" "$W_D" "$W_P" "$W_X"); ka=("$A_T" "$A_C" "$A_D" "$A_P" "$A_X")

printf '\nReload of a %s-service config (%s real servers each, no checkers) with one change: seconds from\n' "$VS" "$RS"
printf 'SIGHUP to the request that puts the change into the kernel (nlmon capture), and the IPVS requests\n'
printf 'that change the table until the daemon is idle; kernel %s under qemu (TCG, %s CPUs)\n\n' "$(uname -r)" "$(nproc)"
printf '%-28s %9s %9s %15s %15s %10s\n' change "lvsd s" "lvsd ops" "keepalived s" "keepalived ops" "ka / lvsd"
row() { printf '%-28s %9.3f %9s %15.3f %15s %10.1f\n' "$1" "$2" "$3" "$4" "$5" "$(echo "$4 / $2" | bc -l)"; }
row "one real server's weight" "${lw[0]}" "${lw[1]}" "${kw[0]}" "${kw[1]}"
row "one real server added" "${la[0]}" "${la[1]}" "${ka[0]}" "${ka[1]}"
printf '\nThe service is %s:80, in the middle of the file. `ipvsadm -Ln -t` polled from the signal saw the\n' "$vip"
printf 'change after: lvsd %.2f s and %.2f s, keepalived %.2f s and %.2f s (polled every 0.2 s).\n' \
	"${lw[3]}" "${la[3]}" "${kw[3]}" "${ka[3]}"
printf 'lvsd logged %s operation(s) for the two reloads. After applying a reload lvsd re-reads the kernel'"'"'s\n' "$l_ops"
printf 'table once to repair other programs'"'"' edits: %s.\n' "$l_re"
printf 'Full-table reads after the signal: lvsd %s and %s, keepalived %s and %s; packets the capture dropped: %s.\n' \
	"${lw[2]}" "${la[2]}" "${kw[2]}" "${ka[2]}" "${lw[4]:-?} ${la[4]:-?} ${kw[4]:-?} ${ka[4]:-?}"
