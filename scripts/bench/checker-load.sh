#!/usr/bin/env bash
# Checker load: lvsd vs keepalived 2.2.7's checker process on the same configs, in the kernel lab (both
# daemons program IPVS, which this host's kernel lacks): CPU per 1,000 checks and checks per second
# counted at the server, for 2,000 TCP_CHECKs at delay_loop 1 and 4, 10,000 at 10 and 20, 2,000
# HTTP_GETs at 4, 200 MISC_CHECKs at 2, and 100 virtual servers sharing 50 real servers with
# share_checks on and off (scripts/bench/lab-checker-load.sh). Root. LAB_ROWS picks
# rows, LAB_WARM / LAB_WINDOW the timing, LAB_DAEMONS="lvsd" runs one side only.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd --example bench_sink
LAB_SINK_BIN="$target/release/examples/bench_sink" LVSD_BIN="${LVSD_BIN:-$target/release/lvsd}" KERNEL_LAB_QUIET=1 KERNEL_LAB_TIMEOUT=3600 \
	exec "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-checker-load.sh"
