#!/usr/bin/env bash
# Scale-out figures side by side in one kernel-lab run (scripts/bench/lab-scaleout.sh): time from
# the last real server failing to the director's next hop leaving the router (median of 10), the
# connections kept when one of three directors leaves (100 and 1,000; mh recipe vs rr), and 1,000
# VIPs on one director (all announced, one withdrawn). Root, bird2. LAB_TRIALS, LAB_FLOWS change it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
LVSD_BIN="$target/release/lvsd" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=3000 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-scaleout.sh"
