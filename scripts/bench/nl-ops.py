#!/usr/bin/env python3
"""Counts the IPVS requests in an nlmon capture: usage nl-ops.py CAPTURE.pcap -> "CHANGES DUMPS".
CHANGES are requests that change the table (new/set/del service or destination, flush, zero, ...),
DUMPS the dump requests (a full-table read is one services dump plus one per service). Replies and
other netlink families (the generic netlink controller, rtnetlink) are not counted."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from pcap2vectors import GENL_ID_CTRL, NETLINK_GENERIC, NLM_F_REQUEST, netlink_messages, read_pcap  # noqa: E402

NLM_F_DUMP = 0x300
# NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST, NEW/DEL_DAEMON, SET_CONFIG, SET_INFO, ZERO, FLUSH
CHANGES = {1, 2, 3, 5, 6, 7, 9, 10, 12, 14, 16, 17}
# GET_SERVICE, GET_DEST, GET_DAEMON, GET_CONFIG, GET_INFO
GETS = {4, 8, 11, 13, 15}

changes = dumps = 0
for _, packet in read_pcap(sys.argv[1]):
    protocol, msgs = netlink_messages(packet)
    if protocol != NETLINK_GENERIC:
        continue
    for m in msgs:
        if m["type"] == GENL_ID_CTRL or not m["flags"] & NLM_F_REQUEST or not m["payload"]:
            continue
        cmd = m["payload"][0]
        if cmd in CHANGES:
            changes += 1
        elif cmd in GETS and m["flags"] & NLM_F_DUMP == NLM_F_DUMP:
            dumps += 1
print(changes, dumps)
