#!/bin/sh
# VRRP notify script for Redis master/backup.
#   redis-notify.sh master PEER_IP   this node became VRRP master: make the local Redis a master
#   redis-notify.sh backup PEER_IP   this node is backup: replicate from the peer
#   redis-notify.sh fault|stop       leave Redis as it is, just record the event
# Every call is appended to $REDIS_NOTIFY_LOG (default /var/log/lvsd-redis-notify.log).
state=$1
peer=$2
log=${REDIS_NOTIFY_LOG:-/var/log/lvsd-redis-notify.log}
cli="redis-cli -h 127.0.0.1 -p ${REDIS_PORT:-6379}"
echo "$(date '+%F %T') $state $peer" >>"$log"
case "$state" in
    master) $cli replicaof no one >/dev/null 2>&1 || $cli slaveof no one >/dev/null 2>&1 ;;
    backup) [ -n "$peer" ] && { $cli replicaof "$peer" "${REDIS_PORT:-6379}" >/dev/null 2>&1 || $cli slaveof "$peer" "${REDIS_PORT:-6379}" >/dev/null 2>&1; } ;;
    fault|stop) ;;
    *) echo "usage: $0 master|backup PEER | fault | stop" >&2; exit 2 ;;
esac
exit 0
