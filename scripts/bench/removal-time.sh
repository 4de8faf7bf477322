#!/usr/bin/env bash
# Time from a real server's failure to its removal from IPVS, median over 20 trials, against the
# configured bound: lvsd vs keepalived 2.2.7 on the same config, in the kernel lab. Root. LAB_TRIALS
# changes the number of trials.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
LVSD_BIN="$target/release/lvsd" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=1800 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-removal-time.sh"
