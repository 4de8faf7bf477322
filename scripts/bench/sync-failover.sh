#!/usr/bin/env bash
# Connections kept across director failover, lvsd vs keepalived 2.2.7 on the same files, in one
# kernel-lab boot: an LVS-NAT pair (master killed, failback, graceful stop) and an LVS-DR pair
# (master killed), with N = 20 and 1,000 long-lived flows; also the median time from each failure
# to a kept connection's first answer. Root. LAB_SYNC_SIZES overrides "20 1000".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
LVSD_BIN="$target/release/lvsd" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=3000 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-sync-failover.sh"
