#!/usr/bin/env bash
# Soak: lvsd for LAB_SOAK_MIN minutes (default 30) under churn in the kernel lab (see lab-soak.sh:
# flapping real servers, a reload every 10 s, a VRRP hand-over every minute, /metrics scraped every
# second). Draws RSS, descriptors, threads, CPU and IPVS destinations over time as a PNG (matplotlib,
# Debian's python3-matplotlib, installed when missing) and prints a table: early vs late, and the
# churn's checks. Root. Output: SOAK_OUT (default ./soak-out).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=${SOAK_OUT:-$PWD/soak-out}
min=${LAB_SOAK_MIN:-30}
mkdir -p "$out"
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null
}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin lvsd
LVSD_BIN="$target/release/lvsd" LAB_SOAK_MIN=$min KERNEL_LAB_OUT="$out" KERNEL_LAB_QUIET=1 \
	KERNEL_LAB_TIMEOUT=$((min * 60 + 900)) "$root/scripts/kernel-lab" run "$root/scripts/bench/lab-soak.sh"
/usr/bin/python3 - "$out" <<'PY'
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/soak.csv")))
t = [int(r["t"]) / 60 for r in rows]
series = [("rss_kib", "RSS (KiB)"), ("fds", "open descriptors"), ("threads", "threads"),
          ("cpu_s", "CPU (s, cumulative)"), ("ipvs_dests", "IPVS destinations")]
fig, axes = plt.subplots(len(series), 1, figsize=(10, 12), sharex=True)
for ax, (k, label) in zip(axes, series):
    ax.plot(t, [float(r[k]) for r in rows], linewidth=0.8)
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
axes[-1].set_xlabel("minutes")
fig.suptitle("lvsd soak under churn (kernel lab)")
fig.tight_layout()
fig.savefig(f"{out}/soak.png", dpi=100)
n = len(rows)
early = [r for r in rows if 120 <= int(r["t"]) < 420] or rows[: n // 4]
late = rows[-300:]
print(f"\n{'':<22}{'min 2-7 max':>14}{'last 5 min max':>16}{'growth':>10}")
for k, label in series[:3]:
    a = max(float(r[k]) for r in early); b = max(float(r[k]) for r in late)
    print(f"{label:<22}{a:>14.0f}{b:>16.0f}{b - a:>10.0f}")
cpu = [float(r["cpu_s"]) for r in rows]
secs = int(rows[-1]["t"]) - int(rows[0]["t"])
print(f"{'CPU':<22}{cpu[-1] - cpu[0]:>14.1f} s over {secs} s ({100 * (cpu[-1] - cpu[0]) / max(secs, 1):.1f} %)")
print(open(f"{out}/soak.summary").read().strip())
print(f"chart: {out}/soak.png")
PY
