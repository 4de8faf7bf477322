#!/bin/sh
# MISC_CHECK with misc_dynamic for real-server maintenance:
#   rs-maintenance.sh IP PORT WEIGHT
# exit 2      the file $MAINT_DIR/IP exists: up but weight 0 (drained: no new connections)
# exit 1      the service does not accept TCP connections: down
# exit 2+W    up with weight W (misc_dynamic sets weight = exit code - 2)
ip=$1
port=$2
weight=${3:-1}
dir=${MAINT_DIR:-/var/lib/lvsd/maintenance}
[ -e "$dir/$ip" ] && exit 2
if command -v nc >/dev/null 2>&1; then
    nc -z -w 2 "$ip" "$port" 2>/dev/null || exit 1
else
    timeout 2 bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null || exit 1
fi
[ "$weight" -gt 253 ] && weight=253
exit $((weight + 2))
