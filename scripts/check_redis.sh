#!/bin/sh
# vrrp_script for Redis: healthy when the local Redis answers PING with PONG.
reply=$(redis-cli -h 127.0.0.1 -p "${REDIS_PORT:-6379}" ping 2>/dev/null)
[ "$reply" = "PONG" ]
