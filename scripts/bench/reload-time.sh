#!/usr/bin/env bash
# Reload time of a 10,000-service config with one change (a real server's weight; a real server added):
# from SIGHUP to the change in the kernel's table, and the IPVS operations sent, lvsd next to keepalived
# 2.2.7 on the same config and change, in the kernel lab (one boot). Root. LAB_VS / LAB_RS change the size.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
LVSD_BIN="$target/release/lvsd" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=1800 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-reload-time.sh"
