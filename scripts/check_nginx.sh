#!/bin/sh
# vrrp_script for nginx hot standby: succeed while an nginx master process runs and answers locally.
# Exit 0 = healthy, anything else = failed (lvsd lowers the instance's priority by the script's weight).
pgrep -x nginx >/dev/null 2>&1 || exit 1
if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${NGINX_PORT:-80}/" || exit 1
fi
exit 0
