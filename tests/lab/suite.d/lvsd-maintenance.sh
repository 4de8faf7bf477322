#!/bin/bash
# Kernel lab (guest side): real-server maintenance with MISC_CHECK + misc_dynamic and the shipped
# scripts/rs-maintenance.sh (as in conf.d/maintenance-misc-check.conf). Creating $MAINT_DIR/IP drains
# that server (weight 0 in `ipvsadm -Ln`, still listed) and leaves the others alone; removing the file
# brings its weight back. MAINT_DIR reaches the script because lvsd's scripts inherit its environment.
# Needs LVSD_BIN.
NAME=lvsd-maintenance
NSES="msw mlv mrs1 mrs2 mrs3"
. "$(dirname "$0")/common.bash"
script=$(cd "$(dirname "$0")/../../../scripts" && pwd)/rs-maintenance.sh
VIP=10.40.0.100
export MAINT_DIR=$w/maint
mkdir -p "$MAINT_DIR"

bridge_ns msw
attach msw mlv d0 10.40.0.1/24
ip -n mlv addr add $VIP/24 dev d0
for n in 1 2 3; do
	attach msw mrs$n r0 10.40.0.1$n/24
	ip netns exec mrs$n socat -u TCP-LISTEN:8080,bind=10.40.0.1$n,fork,reuseaddr OPEN:/dev/null &
	PIDS+=($!)
	port_open mlv 10.40.0.1$n 8080 50 || fail "listener on rs$n did not start"
done

# rs2 asks for weight 5 through the script's exit code (misc_dynamic: weight = code - 2).
cat >"$w/lvsd.conf" <<EOC
virtual_server $VIP 80 {
    protocol TCP
    lvs_sched wlc
    lvs_method NAT
    delay_loop 1
    real_server 10.40.0.11 8080 {
        weight 10
        MISC_CHECK { misc_path "$script 10.40.0.11 8080 10"
            misc_timeout 3
            misc_dynamic }
    }
    real_server 10.40.0.12 8080 {
        weight 10
        MISC_CHECK { misc_path "$script 10.40.0.12 8080 5"
            misc_timeout 3
            misc_dynamic }
    }
    real_server 10.40.0.13 8080 {
        weight 10
        MISC_CHECK { misc_path "$script 10.40.0.13 8080 10"
            misc_timeout 3
            misc_dynamic }
    }
}
EOC
start_lvsd mlv "$w/lvsd.conf"
all="10.40.0.11:8080/10 10.40.0.12:8080/5 10.40.0.13:8080/10 "
if wait_dests mlv $VIP:80 15 "$all"; then pass "weights from the script's exit codes: $all"; else fail "pool at start: '$(dests mlv $VIP:80)'"; fi

touch "$MAINT_DIR/10.40.0.11"; t0=$(date +%s.%N)
drained="10.40.0.11:8080/0 10.40.0.12:8080/5 10.40.0.13:8080/10 "
if wait_dests mlv $VIP:80 8 "$drained"; then
	pass "maintenance file drains rs1 to weight 0 in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s, others untouched"
else
	fail "after touching the maintenance file: '$(dests mlv $VIP:80)'"
fi
# It stays drained on later checks (not flapping back): a negative assertion over two more checks
# at delay_loop 1.
sleep 2.5
[ "$(dests mlv $VIP:80)" = "$drained" ] && pass "rs1 stays drained over later checks" || fail "2.5 s later: '$(dests mlv $VIP:80)'"

rm "$MAINT_DIR/10.40.0.11"
if wait_dests mlv $VIP:80 8 "$all"; then pass "removing the file brings rs1's weight back to 10"; else fail "after removing the file: '$(dests mlv $VIP:80)'"; fi

# A server that stops listening is down (exit 1) and leaves the pool, unlike a drained one.
kill "${PIDS[1]}"
if wait_dests mlv $VIP:80 8 "10.40.0.11:8080/10 10.40.0.13:8080/10 "; then pass "a stopped rs2 (exit 1) is removed, not drained"; else fail "after stopping rs2: '$(dests mlv $VIP:80)'"; fi

kill -TERM "$LPID"; wait "$LPID"; rc=$?
[ "$rc" = 0 ] && pass "lvsd exits 0 on SIGTERM" || fail "lvsd exit status $rc"
finish
