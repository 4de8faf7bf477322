#!/usr/bin/env bash
# Checker load: 10,000 TCP_CHECKs and 2,000 HTTP_GETs at delay_loop 1 against local listeners, lvsd vs
# keepalived 2.2.7's checker process on the same config: CPU seconds per minute and peak RSS. Runs in the
# kernel lab (both daemons program IPVS, which this host's kernel lacks). Root. LAB_TCP / LAB_HTTP change
# the sizes, LAB_WARM / LAB_WINDOW the timing, LAB_DAEMONS="lvsd" runs one side only.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd --example bench_sink
LAB_SINK_BIN="$target/release/examples/bench_sink" LVSD_BIN="$target/release/lvsd" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=1800 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-checker-load.sh"
