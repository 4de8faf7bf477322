#!/bin/sh
# notify_down for the MySQL case: the local MySQL stopped answering, so give up the VIP by stopping
# lvsd on this node; on SIGTERM lvsd sends a priority 0 advert and the peer takes over at once.
#   mysql-down.sh REAL_SERVER_IP
# The pid file is $LVSD_PIDFILE (default /run/lvsd.pid).
logger -t lvsd-mysql "MySQL on ${1:-?} is down: stopping lvsd to move the VIP" 2>/dev/null
pidfile=${LVSD_PIDFILE:-/run/lvsd.pid}
if [ -r "$pidfile" ]; then
    kill -TERM "$(cat "$pidfile")"
elif command -v systemctl >/dev/null 2>&1; then
    systemctl stop lvsd
fi
