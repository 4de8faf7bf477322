#!/usr/bin/env python3
"""Hostile VRRPv2 adverts for VRID 51 (priority 254, which would take over if accepted), sent as
raw IP datagrams to 224.0.0.18 on eth0 of the namespace it runs in.

usage: vrrp_sender.py bad SRC PASSWORD
         each kind of bad advert (wrong TTL, version, checksum, length, password) 5 times
       vrrp_sender.py flood COUNT SECONDS PASSWORD
         COUNT adverts with a wrong password from forged sources 10.9.1.1, 10.9.1.2, ... (64,516 of them) as
         fast as it can, stopping after SECONDS whatever was sent; prints "sent N in T s"
"""

import socket
import struct
import sys
import time

GROUP = "224.0.0.18"
VIP = bytes([10, 9, 0, 100])


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def advert(password, version=2, count=1, addrs=VIP, good_sum=True):
    # VRRPv3 has no authentication data; its interval is in centiseconds.
    if version == 3:
        body = bytes([0x31, 51, 254, count, 0, 100, 0, 0]) + addrs
    else:
        auth = password.encode().ljust(8, b"\0")[:8]
        body = bytes([(version << 4) | 1, 51, 254, count, 1, 1, 0, 0]) + addrs + auth
    s = csum(body) if good_sum else (csum(body) ^ 0x5A5A)
    return body[:6] + struct.pack("!H", s) + body[8:]


def datagram(src, ttl, payload):
    # The kernel fills in the IP checksum and total length (IP_HDRINCL).
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 0, 0, 0, ttl, 112, 0,
                       socket.inet_aton(src), socket.inet_aton(GROUP)) + payload


def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    return s


def bad(src, password):
    kinds = [
        datagram(src, 64, advert(password)),                       # TTL must be 255
        datagram(src, 255, advert(password, version=3)),           # a VRRPv3 advert
        datagram(src, 255, advert(password, version=1)),           # no such version
        datagram(src, 255, advert(password, good_sum=False)),      # checksum
        datagram(src, 255, advert(password, count=2)),             # 2 addresses, 1 carried
        datagram(src, 255, advert("wrong")),                       # password
    ]
    s = sock()
    for _ in range(5):
        for d in kinds:
            s.sendto(d, (GROUP, 0))
            time.sleep(0.01)
    print("sent %d" % (5 * len(kinds)))


def flood(count, seconds, password):
    wrong = advert(password + "x")
    pkts = [datagram("10.9.%d.%d" % (1 + (i // 254) % 254, 1 + i % 254), 255, wrong)
            for i in range(count)]
    send, to, now = sock().sendto, (GROUP, 0), time.monotonic
    t0 = now()
    sent = 0
    # In batches, so the loop does little else than send; the time is checked per batch.
    for i in range(0, count, 1000):
        for d in pkts[i:i + 1000]:
            send(d, to)
        sent += len(pkts[i:i + 1000])
        if now() - t0 > seconds:
            break
    print("sent %d in %.2f s" % (sent, now() - t0))


if sys.argv[1] == "bad":
    bad(sys.argv[2], sys.argv[3])
else:
    flood(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
