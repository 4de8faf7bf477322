#!/usr/bin/env python3
"""Local answer for checker benchmarks: `sink.py PORT tcp|http` accepts on 0.0.0.0:PORT (SO_REUSEPORT,
so several copies share the load); tcp closes each connection at once, http reads the request and
sends a fixed 200 response."""
import socket
import sys

port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("0.0.0.0", port))
s.listen(65535)
reply = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
while True:
    try:
        c, _ = s.accept()
        if mode == "http":
            c.settimeout(2)
            c.recv(4096)
            c.sendall(reply)
        c.close()
    except OSError:
        pass
