#!/usr/bin/env python3
"""Counts the IPVS requests in an nlmon capture and finds when one change reached the kernel.

usage: nl-ops.py CAPTURE.pcap [ADDR PORT WEIGHT] -> "CHANGES READS TIME"

CHANGES are requests that change the table (new/set/del service or destination, flush, zero, ...),
READS the dumps of all services (each full-table read starts with one; then it dumps each service's
destinations, as `ipvsadm -Ln -t` does for one service, which is not counted). TIME is the
capture time (seconds since the epoch, the clock `date +%s.%N` reads) of the first new/set
destination request for ADDR:PORT with WEIGHT: the kernel applies it within that sendmsg, so it is
when the change is in the table; "-" if there is none. Replies and other netlink families (the generic
netlink controller, rtnetlink) are not counted."""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from pcap2vectors import (  # noqa: E402
    GENL_ID_CTRL, NETLINK_GENERIC, NLM_F_REQUEST, attributes, netlink_messages, read_pcap)

NLM_F_DUMP = 0x300
# NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST, NEW/DEL_DAEMON, SET_CONFIG, SET_INFO, ZERO, FLUSH
CHANGES = {1, 2, 3, 5, 6, 7, 9, 10, 12, 14, 16, 17}
GET_SERVICE = 4
NEW_DEST, SET_DEST = 5, 6
CMD_ATTR_DEST = 2
DEST_ADDR, DEST_PORT, DEST_WEIGHT, DEST_ADDR_FAMILY = 1, 2, 4, 11
AF_INET = 2


def dest_of(genl_payload):
    """(address, port, weight) of the destination a request carries, or None."""
    for atype, value in attributes(genl_payload[4:]):
        if atype != CMD_ATTR_DEST:
            continue
        d = dict(attributes(value))
        if DEST_ADDR not in d or DEST_PORT not in d or DEST_WEIGHT not in d:
            return None
        raw = d[DEST_ADDR]
        family = struct.unpack("<H", d[DEST_ADDR_FAMILY])[0] if DEST_ADDR_FAMILY in d else None
        v4 = family == AF_INET or (family is None and raw[4:] == bytes(12))
        addr = ipaddress.ip_address(raw[:4] if v4 else raw)
        return addr, struct.unpack(">H", d[DEST_PORT])[0], struct.unpack("<I", d[DEST_WEIGHT])[0]
    return None


want = None
if len(sys.argv) == 5:
    want = (ipaddress.ip_address(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
changes = reads = 0
seen = None
for ts, packet in read_pcap(sys.argv[1]):
    protocol, msgs = netlink_messages(packet)
    if protocol != NETLINK_GENERIC:
        continue
    for m in msgs:
        if m["type"] == GENL_ID_CTRL or not m["flags"] & NLM_F_REQUEST or not m["payload"]:
            continue
        cmd = m["payload"][0]
        if cmd in CHANGES:
            changes += 1
            if seen is None and want and cmd in (NEW_DEST, SET_DEST) and dest_of(m["payload"]) == want:
                seen = ts
        elif cmd == GET_SERVICE and m["flags"] & NLM_F_DUMP == NLM_F_DUMP:
            reads += 1
print(changes, reads, "-" if seen is None else f"{seen:.6f}")
