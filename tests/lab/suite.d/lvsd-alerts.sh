#!/bin/bash
# Kernel lab (guest side): what a checker failure tells the operator, with `lvsd -C`. A TCP_CHECK
# real server whose listener stops goes DOWN: exactly one mail with keepalived's subject reaches a
# real SMTP server (tests/support/smtp_sink.py); the syslog lines (a datagram socket standing in for
# /dev/log, LVSD_SYSLOG_SOCKET) carry `-S 4`'s facility local4; notify_down and a MISC_CHECK list
# their open descriptors: stdin, stdout and stderr only. Needs LVSD_BIN.
NAME=lvsd-alerts
NSES="asw alv ars"
. "$(dirname "$0")/common.bash"
support=$(cd "$(dirname "$0")/../../support" && pwd)
VIP=10.62.0.100

bridge_ns asw
attach asw alv d0 10.62.0.1/24
attach asw ars r0 10.62.0.2/24
ip netns exec ars socat -u TCP-LISTEN:8080,bind=10.62.0.2,fork,reuseaddr OPEN:/dev/null &
lis=$!; PIDS+=($lis)
port_open alv 10.62.0.2 8080 50 || fail "listener on 10.62.0.2 did not start"

mkdir "$w/mail"
ip netns exec alv python3 "$support/smtp_sink.py" 127.0.0.1 2525 "$w/mail" >/dev/null 2>&1 &
PIDS+=($!)
port_open alv 127.0.0.1 2525 50 || fail "SMTP sink did not start"

# The syslog stand-in: one line per datagram.
cat >"$w/syslogd.py" <<'EOS'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(65536).decode(errors="replace") + "\n")
EOS
python3 "$w/syslogd.py" "$w/syslog.sock" "$w/syslog.txt" &
PIDS+=($!)
for i in $(seq 50); do [ -S "$w/syslog.sock" ] && break; sleep 0.1; done

cat >"$w/lvsd.conf" <<EOC
global_defs {
    router_id lb-alerts
    notification_email {
        ops@example.com
    }
    notification_email_from lvsd@example.com
    smtp_server 127.0.0.1 2525
    smtp_connect_timeout 5
    smtp_alert
}
virtual_server $VIP 8080 {
    protocol TCP
    lvs_sched rr
    lvs_method NAT
    delay_loop 1
    real_server 10.62.0.2 8080 {
        notify_down "/bin/sh -c 'ls -l /proc/self/fd > $w/down.fds'"
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
    real_server 10.62.0.3 8080 {
        MISC_CHECK {
            misc_path "/bin/sh -c 'ls -l /proc/self/fd > $w/misc.fds'"
            # Its default is delay_loop (1 s), which a loaded, emulated machine can exceed: the
            # extra DOWN/UP mails of that would not be the ones this part counts.
            misc_timeout 10
        }
    }
}
EOC
ip netns exec alv env LVSD_SYSLOG_SOCKET="$w/syslog.sock" "$lvsd" -C -S 4 -l -f "$w/lvsd.conf" \
	-p "$w/lvsd.pid" >"$w/lvsd-alv.log" 2>&1 &
LPID=$!; PIDS+=($LPID)
pool="10.62.0.2:8080/1 10.62.0.3:8080/1 "
wait_dests alv $VIP:8080 15 "$pool" && pass "both real servers up" || fail "pool at start: '$(dests alv $VIP:8080)'"

kill "$lis"
wait_dests alv $VIP:8080 10 "10.62.0.3:8080/1 " && pass "the stopped server is removed" || fail "pool after stop: '$(dests alv $VIP:8080)'"
subject="Subject: [lb-alerts] Realserver [10.62.0.2]:tcp:8080 of virtual server [$VIP]:tcp:8080 - DOWN"
if wait_file "$w/mail/mail-1.txt" "^Subject:" 10; then
	# A negative assertion: three more check rounds (delay_loop 1) in which a server that stays
	# down mails nothing more.
	sleep 3
	n=$(ls "$w/mail" | grep -c '^mail-.*\.txt$')
	grep -qxF "$subject" "$w/mail/mail-1.txt" && [ "$n" = 1 ] &&
		pass "one DOWN mail: $subject" || fail "$n mail(s): $(grep -h '^Subject:' "$w"/mail/*.txt | tr '\n' '|')"
	grep -qxF "=> CHECK failed on service : TCP connection to [10.62.0.2]:tcp:8080 failed: connection refused <=" "$w/mail/mail-1.txt" &&
		pass "the mail body gives the reason" || { fail "mail body:"; cat "$w/mail/mail-1.txt"; }
else
	fail "no mail arrived"
fi

# local4 = 20: warning 20 x 8 + 4 = 164, info 166.
pid=$(cat "$w/lvsd.pid")
stamp='[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
grep -q "^<164>$stamp lvsd\[$pid\]: Real server \[10.62.0.2\]:8080 is down" "$w/syslog.txt" &&
	pass "syslog: the checker's DOWN line as local4.warning" || { fail "syslog lines:"; cat "$w/syslog.txt"; }
wait_file "$w/syslog.txt" "^<166>$stamp lvsd\[$pid\]: SMTP alert successfully sent" 5 &&
	pass "syslog: the mail as local4.info" || fail "no SMTP line in syslog"
grep -qv '^<16[0-7]>' "$w/syslog.txt" && fail "lines with another facility: $(grep -v '^<16[0-7]>' "$w/syslog.txt" | head -3)"

# Only 0, 1, 2 and the listing's own handle on /proc/PID/fd.
only_stdio() { # file
	[ -s "$1" ] || return 1
	! awk '/ -> / { split($0, a, " -> "); n = split(a[1], w, " "); fd = w[n]
		if (fd > 2 && a[2] !~ /^\/proc\/[0-9]+\/fd$/) { print; bad = 1 } } END { exit !bad }' "$1"
}
wait_file "$w/down.fds" " 2 -> " 5
only_stdio "$w/down.fds" && pass "notify_down sees only stdio" || { fail "notify_down's descriptors:"; cat "$w/down.fds"; }
# The MISC_CHECK rewrites its listing every delay_loop: judge a complete copy, not a file being written.
for _ in $(seq 20); do
	cp "$w/misc.fds" "$w/misc.snap" 2>/dev/null && grep -q " 2 -> " "$w/misc.snap" && break
	sleep 0.1
done
only_stdio "$w/misc.snap" && pass "MISC_CHECK sees only stdio" || { fail "MISC_CHECK's descriptors:"; cat "$w/misc.snap" 2>&1; }

kill -TERM "$LPID"; wait "$LPID"
finish
