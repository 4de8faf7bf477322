#!/bin/bash
# The kernel lab suite (guest side): every IPVS check in one boot. Each part prints ok/FAIL lines;
# the suite fails if any part fails. Parts: the ipvsadm smoke test, the ipvs crate's kernel test
# (LAB_IPVS_KERNEL_TEST: its test executable), and lvsd against keepalived on the same configurations.
set -u
here=$(cd "$(dirname "$0")" && pwd)
failed=()
part() { # name command...
	local name=$1; shift
	echo "=== $name"
	if "$@"; then echo "=== $name: passed"; else echo "=== $name: FAILED"; failed+=("$name"); fi
}
part smoke "$here/smoke.sh"
if [ -n "${LAB_IPVS_KERNEL_TEST:-}" ]; then
	# In a namespace of its own: a fresh table, and the crate flushes it freely.
	ip netns add ipvs-crate && ip -n ipvs-crate link set lo up
	part ipvs-crate ip netns exec ipvs-crate "$LAB_IPVS_KERNEL_TEST" --ignored --test-threads=1 --nocapture
	ip netns del ipvs-crate
fi
part ipvs-vs-keepalived "$here/ipvs-vs-keepalived.sh"
for extra in "$here"/suite.d/*.sh; do
	[ -x "$extra" ] && part "$(basename "$extra" .sh)" "$extra"
done
echo "suite: ${#failed[@]} failed part(s) ${failed[*]:-}"
[ ${#failed[@]} = 0 ]
