#!/usr/bin/env python3
"""Copies a keepalived.conf without its checker blocks (TCP_CHECK, HTTP_GET, ...), so every real server
stays up in both lvsd and keepalived. Usage: strip-checkers.py IN OUT"""
import re
import sys

CHECKERS = re.compile(r"^\s*(TCP_CHECK|HTTP_GET|SSL_GET|SMTP_CHECK|DNS_CHECK|MISC_CHECK|UDP_CHECK|PING_CHECK|FILE_CHECK|BFD_CHECK)\b")
out, depth = [], 0
for line in open(sys.argv[1]):
    if depth == 0 and CHECKERS.match(line):
        depth = line.count("{") - line.count("}")
        if depth <= 0 and "{" not in line:
            depth = 1  # the block's '{' is on the next line
        continue
    if depth > 0:
        depth += line.count("{") - line.count("}")
        continue
    out.append(line)
open(sys.argv[2], "w").write("".join(out))
