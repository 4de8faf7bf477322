#!/usr/bin/env bash
# Time to program 10,000 services x 4 destinations from an empty table: lvsd vs ipvsadm -R vs keepalived
# 2.2.7 on the same config, and lvsd applying a one-weight change; in the kernel lab, one boot. Root.
# LAB_VS / LAB_RS change the size.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
LVSD_BIN="$root/target/release/lvsd" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=1800 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-ipvs-program.sh"
