#!/bin/bash
# Kernel lab (guest side): HTTP_GET's url rounds and fast_recovery, lvsd beside keepalived 2.2.7 on
# the same configuration and the same web server, which logs the path of each request in order and
# answers 503 on /b while a flag file exists. keepalived checks one url per delay_loop; when the
# url it went down on passes, it checks the whole round again from the first url, at once with
# fast_recovery, and the real server is back in IPVS after that round. The request sequences of
# both daemons must be the same (runs of the failed url squeezed: their number depends on time).
# Needs LVSD_BIN.
NAME=lvsd-http-rounds
NSES="hrw hrl hrk"
. "$(dirname "$0")/common.bash"
VIP=10.51.0.100
declare -A seq_of

# One web namespace, a director namespace for each daemon (a veth pair each).
for d in hrl hrk; do
	n=1; [ $d = hrk ] && n=2
	ip link add w$n netns hrw type veth peer name d0 netns $d
	ip -n hrw addr add 10.51.$n.2/24 dev w$n; ip -n hrw link set w$n up
	ip -n $d addr add 10.51.$n.1/24 dev d0; ip -n $d link set d0 up
	ip -n $d addr add $VIP/32 dev lo
done
cat >"$w/web.py" <<'EOP'
import http.server, os, sys
log, flag = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        code = 503 if self.path == "/b" and os.path.exists(flag) else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
EOP
ip netns exec hrw python3 "$w/web.py" "$w/requests" "$w/flag" &
PIDS+=($!)
port_open hrw 10.51.1.2 8080 50 || fail "web server did not start"

# conf N: the configuration for the director on 10.51.N.1.
conf() {
	cat <<EOC
virtual_server $VIP 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 1
    real_server 10.51.$1.2 8080 {
        weight 1
        HTTP_GET {
            connect_timeout 2
            retry 0
            fast_recovery
            url { path /a }
            url { path /b }
            url { path /c }
        }
    }
}
EOC
}
# squeezed: the requests from one director, a run of the same path as one.
squeezed() { uniq <"$w/requests" | tr '\n' ' '; }

for prog in keepalived lvsd; do
	: >"$w/requests"; touch "$w/flag"
	if [ $prog = keepalived ]; then
		ns=hrk; conf 2 >"$w/k.conf"
		ip netns exec hrk keepalived -n -l -C -f "$w/k.conf" -p "$w/k.pid" -c "$w/kc.pid" >"$w/lvsd-ka.log" 2>&1 &
		PIDS+=($!); pid=$!; rs=10.51.2.2:8080/1
	else
		ns=hrl; conf 1 >"$w/l.conf"
		start_lvsd hrl "$w/l.conf"; pid=$LPID; rs=10.51.1.2:8080/1
	fi
	# Down on /b (retry 0), then /b again each delay_loop while it fails.
	if wait_count "$w/requests" '^/b$' 3 15 && wait_dests $ns $VIP:80 5 ""; then
		pass "$prog: down on /b, which is fetched again"
	else
		fail "$prog: requests '$(squeezed)', pool '$(dests $ns $VIP:80)'"
	fi
	rm "$w/flag"
	if wait_dests $ns $VIP:80 10 "$rs "; then pass "$prog: back in the pool once /b passes"; else fail "$prog: pool '$(dests $ns $VIP:80)'"; fi
	# Two more rounds at delay_loop 1.
	wait_count "$w/requests" . $(($(wc -l <"$w/requests") + 6)) 15
	kill -TERM $pid; wait $pid 2>/dev/null
	seq_of[$prog]=$(squeezed | cut -d' ' -f1-11)
	echo "    $prog requests: ${seq_of[$prog]}"
done
want="/a /b /a /b /c /a /b /c /a /b /c"
[ "${seq_of[keepalived]}" = "$want" ] && pass "keepalived: $want" || fail "keepalived: '${seq_of[keepalived]}', expected '$want'"
[ "${seq_of[lvsd]}" = "${seq_of[keepalived]}" ] && pass "lvsd fetches the urls in keepalived's order" ||
	fail "lvsd '${seq_of[lvsd]}' vs keepalived '${seq_of[keepalived]}'"
finish
