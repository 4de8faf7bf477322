#!/usr/bin/env bash
# Client-visible VRRP failover outage: an lvsd pair next to a keepalived pair with the same
# configs, in network namespaces on a bridge (director d0 priority 150, d1 priority 100, a client).
# The client pings the VIP every 10 ms; the outage of one failover is the longest gap between two
# answers around it. Events: the master's link goes down, and a graceful stop (SIGTERM: the
# master sends priority 0). Each figure is the median (and max) of RUNS failovers (default 10),
# for VRRPv2 advert_int 1 and VRRPv3 advert_int 0.1. Needs root, keepalived, iproute2, ping.
# The protocol bound is Master_Down_Interval = 3 x advert_int + skew (link down) and the skew
# time (priority 0), skew = (256 - 100) / 256 x advert_int.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-10}
VIP=10.9.0.100
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
command -v keepalived >/dev/null || { echo "needs keepalived" >&2; exit 1; }
# LVSD=path uses that binary instead of building the release one.
lvsd=${LVSD:-}
if [ -z "$lvsd" ]; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
    lvsd="${CARGO_TARGET_DIR:-$root/target}/release/lvsd"
fi

p=vf$$
work=$(mktemp -d)
cleanup() {
    for f in "$work"/*.pid; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
    for n in d0 d1 cl hub; do ip netns del "$p$n" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "${p}hub"
ip -n "${p}hub" link add br0 type bridge
ip -n "${p}hub" link set br0 up
i=1
for n in d0 d1 cl; do
    ip netns add "$p$n"
    ip link add "$p$n" type veth peer name eth0 netns "$p$n"
    ip link set "$p$n" netns "${p}hub"
    ip -n "${p}hub" link set "$p$n" master br0 up
    ip -n "$p$n" addr add "10.9.0.$i/24" dev eth0
    ip -n "$p$n" link set eth0 up
    ip -n "$p$n" link set lo up
    i=$((i + 1))
done

conf() { # version advert priority
    local auth=""
    [ "$1" = 2 ] && auth="authentication {
  auth_type PASS
  auth_pass s3cret
 }"
    cat <<EOF
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 51
 version $1
 advert_int $2
 priority $3
 $auth
 virtual_ipaddress {
  $VIP/24
 }
}
EOF
}

start() { # impl node version advert priority
    local c="$work/$2.conf"
    conf "$3" "$4" "$5" >"$c"
    if [ "$1" = lvsd ]; then
        ip netns exec "$p$2" "$lvsd" -n -l -P -f "$c" -p "$work/$2.lvsd.pidf" >/dev/null 2>"$work/$2.log" &
    else
        ip netns exec "$p$2" keepalived -n -l -D -P -f "$c" -p "$work/$2.ka.pidf" \
            -r "$work/$2.vrrp.pid" -c "$work/$2.chk.pidf" >"$work/$2.log" 2>&1 &
    fi
    echo $! >"$work/$2.pid"
}

stop() { # node signal
    local pid
    pid=$(cat "$work/$1.pid")
    kill "-$2" "$pid" 2>/dev/null || true
    if [ "$2" = KILL ] && [ -e "$work/$1.vrrp.pid" ]; then kill -9 "$(cat "$work/$1.vrrp.pid")" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
    rm -f "$work/$1.pid" "$work/$1.vrrp.pid"
}

holds() { ip -n "$p$1" -o addr show dev eth0 | grep -q " $VIP/"; }

wait_master() { # node: until it alone holds the VIP (20 s at most)
    local other=d1 t=0
    [ "$1" = d1 ] && other=d0
    until holds "$1" && ! holds "$other"; do
        sleep 0.02
        t=$((t + 1))
        if [ $t -gt 1000 ]; then
            echo "no master on $1; logs:" >&2
            cat "$work"/d*.log >&2
            exit 1
        fi
    done
}

# One failover: ping from the client, trigger EVENT on the master d0 at a random time, wait for
# d1 to hold the VIP and answer again; appends the longest gap between answers (ms) to $work/gaps.
failover() { # event advert_int
    ip netns exec "${p}cl" ping -n -D -i 0.01 -W 1 "$VIP" >"$work/ping" 2>/dev/null &
    local ping=$!
    # A random phase against the master's adverts, as a real failure has.
    sleep "$(awk -v a="$2" -v r="$RANDOM" 'BEGIN { print 0.2 + a * r / 32768 }')"
    case $1 in
    link) ip -n "${p}d0" link set eth0 down ;;
    stop) stop d0 TERM ;;
    esac
    wait_master d1
    sleep 0.25
    kill "$ping"
    wait "$ping" 2>/dev/null || true
    awk -v end="$(date +%s.%N)" '/bytes from/ { t = substr($1, 2, length($1) - 2) + 0;
        if (last && t - last > max) max = t - last; last = t }
        END { if (end - last > max) max = end - last; printf "%d\n", max * 1000 }' "$work/ping" >>"$work/gaps"
}

# RUNS failovers of one kind; prints "median max" in ms.
series() { # impl version advert event
    : >"$work/gaps"
    start "$1" d1 "$2" "$3" 100
    start "$1" d0 "$2" "$3" 150
    wait_master d0
    for _ in $(seq "$RUNS"); do
        sleep 0.2
        failover "$4" "$3"
        # Back to the starting point: d0 up again and master (it preempts).
        case $4 in
        link) ip -n "${p}d0" link set eth0 up ;;
        stop) start "$1" d0 "$2" "$3" 150 ;;
        esac
        wait_master d0
    done
    stop d0 KILL
    stop d1 KILL
    ip -n "${p}d0" addr flush dev eth0 to "$VIP/32" 2>/dev/null || true
    ip -n "${p}d1" addr flush dev eth0 to "$VIP/32" 2>/dev/null || true
    sort -n "$work/gaps" | awk '{a[NR] = $1} END {printf "%d %d\n", a[int((NR + 1) / 2)], a[NR]}'
}

bound() { # advert event -> ms
    awk -v a="$1" -v e="$2" 'BEGIN { skew = (256 - 100) / 256 * a;
        printf "%d\n", (e == "link" ? 3 * a + skew : skew) * 1000 }'
}

rows=()
for spec in "2 1 link" "3 0.1 link" "2 1 stop" "3 0.1 stop"; do
    read -r v a e <<<"$spec"
    read -r lm lx < <(series lvsd "$v" "$a" "$e")
    read -r km kx < <(series keepalived "$v" "$a" "$e")
    rows+=("$(printf '%-26s %10s %12s %12s %14s %14s' "v$v advert_int $a, $([ "$e" = link ] && echo "link down" || echo "SIGTERM")" \
        "$(bound "$a" "$e")" "$lm" "$lx" "$km" "$kx")")
done

printf '\nclient-visible outage in ms (ping every 10 ms to the VIP), %s failovers each, backup priority 100\n\n' "$RUNS"
printf '%-26s %10s %12s %12s %14s %14s\n' "failover" "bound" "lvsd median" "lvsd max" "keepalived med" "keepalived max"
printf '%s\n' "${rows[@]}"
