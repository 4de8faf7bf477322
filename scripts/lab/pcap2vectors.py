#!/usr/bin/env python3
"""Turn an nlmon capture of ipvsadm runs into IPVS generic-netlink test vectors.

usage: pcap2vectors.py CAPTURE_DIR VECTOR_DIR

CAPTURE_DIR holds what tests/lab/capture-vectors.sh wrote: ipvs.pcap[.gz] (DLT_NETLINK), commands.tsv
(pid, name, exit status, command) and outputs/NAME. For every netlink message of the IPVS family
(its id is read from the CTRL getfamily reply in the same capture) VECTOR_DIR gets NNN-NAME.hex, the
generic-netlink payload (genlmsghdr + attributes, no nlmsghdr) as one hex line, and NNN-NAME.txt
describing it. Standard library only.
"""

import gzip
import ipaddress
import os
import struct
import sys

DLT_NETLINK = 253
NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
CTRL_CMD_NEWFAMILY = 1
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2

# From /usr/include/linux/ip_vs.h.
IPVS_CMDS = [
    "UNSPEC", "NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "GET_SERVICE", "NEW_DEST", "SET_DEST",
    "DEL_DEST", "GET_DEST", "NEW_DAEMON", "DEL_DAEMON", "GET_DAEMON", "SET_CONFIG", "GET_CONFIG",
    "SET_INFO", "GET_INFO", "ZERO", "FLUSH",
]
STATS = ["UNSPEC", "CONNS", "INPKTS", "OUTPKTS", "INBYTES", "OUTBYTES", "CPS", "INPPS", "OUTPPS",
         "INBPS", "OUTBPS", "PAD"]
SVC = ["UNSPEC", "AF", "PROTOCOL", "ADDR", "PORT", "FWMARK", "SCHED_NAME", "FLAGS", "TIMEOUT",
       "NETMASK", "STATS", "PE_NAME", "STATS64"]
DEST = ["UNSPEC", "ADDR", "PORT", "FWD_METHOD", "WEIGHT", "U_THRESH", "L_THRESH", "ACTIVE_CONNS",
        "INACT_CONNS", "PERSIST_CONNS", "STATS", "ADDR_FAMILY", "STATS64", "TUN_TYPE", "TUN_PORT",
        "TUN_FLAGS"]
DAEMON = ["UNSPEC", "STATE", "MCAST_IFN", "SYNC_ID", "SYNC_MAXLEN", "MCAST_GROUP", "MCAST_GROUP6",
          "MCAST_PORT", "MCAST_TTL"]
CMD_ATTRS = ["UNSPEC", "SERVICE", "DEST", "DAEMON", "TIMEOUT_TCP", "TIMEOUT_TCP_FIN", "TIMEOUT_UDP"]
INFO = ["UNSPEC", "VERSION", "CONN_TAB_SIZE"]
# (prefix, names, {attr type: nested schema}) per attribute space.
STATS_SPACE = ("IPVS_STATS_ATTR_", STATS, {})
SVC_SPACE = ("IPVS_SVC_ATTR_", SVC, {10: STATS_SPACE, 12: STATS_SPACE})
DEST_SPACE = ("IPVS_DEST_ATTR_", DEST, {10: STATS_SPACE, 12: STATS_SPACE})
DAEMON_SPACE = ("IPVS_DAEMON_ATTR_", DAEMON, {})
CMD_SPACE = ("IPVS_CMD_ATTR_", CMD_ATTRS, {1: SVC_SPACE, 2: DEST_SPACE, 3: DAEMON_SPACE})
INFO_SPACE = ("IPVS_INFO_ATTR_", INFO, {})
ERRNO = {1: "EPERM", 2: "ENOENT", 3: "ESRCH", 17: "EEXIST", 22: "EINVAL", 95: "EOPNOTSUPP"}


# Ports the kernel carries in network order; IPVS_DAEMON_ATTR_MCAST_PORT is in host order.
BE16_ATTRS = {"IPVS_SVC_ATTR_PORT", "IPVS_DEST_ATTR_PORT", "IPVS_DEST_ATTR_TUN_PORT"}


class CaptureError(Exception):
    pass


def read_pcap(path):
    """Yields (timestamp, packet bytes) of a classic pcap file of link type NETLINK."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise CaptureError(f"{path}: too short for a pcap header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise CaptureError(f"{path}: not a classic pcap file (pcapng is not supported)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != DLT_NETLINK:
        raise CaptureError(f"{path}: link type {linktype}, expected NETLINK ({DLT_NETLINK})")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            raise CaptureError(f"{path}: truncated record at offset {off - 16}")
        yield sec + frac / (1e9 if nano else 1e6), data[off:off + incl]
        off += incl


def netlink_messages(packet):
    """Splits a captured packet (16-byte nlmon pseudo header + messages) into netlink messages.

    The pseudo header carries the netlink protocol big-endian in its last two bytes; the
    messages themselves are in host (little-endian) order."""
    if len(packet) < 16:
        return NETLINK_GENERIC - 1, []
    protocol = struct.unpack(">H", packet[14:16])[0]
    msgs, off = [], 16
    while off + 16 <= len(packet):
        length, mtype, flags, seq, port = struct.unpack("<IHHII", packet[off:off + 16])
        if length < 16 or off + length > len(packet):
            break
        msgs.append({"type": mtype, "flags": flags, "seq": seq, "port": port,
                     "payload": packet[off + 16:off + length]})
        off += (length + 3) & ~3
    return protocol, msgs


def attributes(buf):
    """Yields (type, payload) of the netlink attributes in buf."""
    off = 0
    while off + 4 <= len(buf):
        length, atype = struct.unpack("<HH", buf[off:off + 4])
        if length < 4 or off + length > len(buf):
            return
        yield atype & 0x3FFF, buf[off + 4:off + length]
        off += (length + 3) & ~3


def describe_attrs(buf, space, indent="  "):
    prefix, names, nested = space
    lines = []
    for atype, value in attributes(buf):
        name = prefix + (names[atype] if atype < len(names) else str(atype))
        if atype in nested:
            lines.append(f"{indent}{name} ({atype}) nested, {len(value)} bytes")
            lines += describe_attrs(value, nested[atype], indent + "  ")
        else:
            lines.append(f"{indent}{name} ({atype}) {len(value)} bytes: {value.hex()}{leaf_hint(name, value)}")
    return lines


def leaf_hint(name, value):
    """A human reading of a leaf: ports in network order, addresses, strings, else little-endian."""
    if name == "IPVS_SVC_ATTR_FLAGS" and len(value) == 8:
        flags, mask = struct.unpack("<II", value)
        return f"  (struct ip_vs_flags: flags 0x{flags:x}, mask 0x{mask:x})"
    if name in BE16_ATTRS and len(value) == 2:
        return f"  (be16 {int.from_bytes(value, 'big')})"
    if name.endswith(("_ADDR", "MCAST_GROUP", "MCAST_GROUP6")) and len(value) in (4, 16):
        if len(value) == 4 or value[4:] == bytes(12):
            return f"  ({ipaddress.IPv4Address(value[:4])} if IPv4)" if len(value) == 16 else \
                f"  ({ipaddress.IPv4Address(value)})"
        return f"  ({ipaddress.IPv6Address(value)})"
    if len(value) > 1 and value.endswith(b"\0") and all(32 <= b < 127 for b in value[:-1]):
        return f'  "{value[:-1].decode()}"'
    if len(value) in (2, 4, 8):
        return f"  (u{len(value) * 8} {int.from_bytes(value, 'little')})"
    return ""


def ipvs_family_id(messages):
    for _, protocol, msg in messages:
        if protocol != NETLINK_GENERIC or msg["type"] != GENL_ID_CTRL or len(msg["payload"]) < 4:
            continue
        if msg["payload"][0] != CTRL_CMD_NEWFAMILY:
            continue
        attrs = dict(attributes(msg["payload"][4:]))
        if attrs.get(CTRL_ATTR_FAMILY_NAME) == b"IPVS\0" and len(attrs.get(CTRL_ATTR_FAMILY_ID, b"")) == 2:
            return struct.unpack("<H", attrs[CTRL_ATTR_FAMILY_ID])[0]
    raise CaptureError("no CTRL getfamily reply for IPVS in the capture")


def load_commands(capture_dir):
    """Maps a process id to (name, exit status, command line, output)."""
    commands = {}
    with open(os.path.join(capture_dir, "commands.tsv"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                continue
            pid, name, status, cmdline = fields
            try:
                with open(os.path.join(capture_dir, "outputs", name), encoding="utf-8",
                          errors="replace") as o:
                    output = o.read()
            except OSError:
                output = ""
            commands[int(pid) & 0x3FFFFF] = (name, status, cmdline, output)
    return commands


def flag_names(flags, request):
    names = []
    if flags & NLM_F_REQUEST:
        names.append("REQUEST")
    if flags & NLM_F_MULTI:
        names.append("MULTI")
    if flags & NLM_F_ACK:
        names.append("ACK")
    if request and flags & 0x300 == 0x300:
        names.append("DUMP")
    return "|".join(names) or "0"


def kernel_answer(request, messages, start):
    """How the kernel answered a request: the ack or error that follows it, or the dump's end."""
    for _, protocol, msg in messages[start:]:
        if protocol != NETLINK_GENERIC or msg["port"] != request["port"] or msg["seq"] != request["seq"]:
            continue
        if msg["type"] == NLMSG_ERROR and len(msg["payload"]) >= 4:
            err = struct.unpack("<i", msg["payload"][:4])[0]
            if err == 0:
                return "ack (error 0)"
            return f"error {err} ({ERRNO.get(-err, 'errno ' + str(-err))})"
        if msg["type"] == NLMSG_DONE:
            return "dump replies, then NLMSG_DONE"
    return "none seen"


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    capture_dir, vector_dir = argv[1], argv[2]
    messages = []
    pcap = os.path.join(capture_dir, "ipvs.pcap")
    if not os.path.exists(pcap):
        pcap += ".gz"
    for ts, packet in read_pcap(pcap):
        protocol, msgs = netlink_messages(packet)
        messages += [(ts, protocol, m) for m in msgs]
    family = ipvs_family_id(messages)
    commands = load_commands(capture_dir)
    os.makedirs(vector_dir, exist_ok=True)
    for old in os.listdir(vector_dir):
        if old[:3].isdigit() and old.endswith((".hex", ".txt")):
            os.remove(os.path.join(vector_dir, old))

    # Identical messages (every ipvsadm run starts with the same GET_INFO) are written once; the
    # first file lists the other commands that sent or received the same bytes.
    vectors, by_content, request_files = [], {}, {}
    for index, (_, protocol, msg) in enumerate(messages):
        if protocol != NETLINK_GENERIC or msg["type"] != family or len(msg["payload"]) < 4:
            continue
        name, status, cmdline, output = commands.get(msg["port"] & 0x3FFFFF, ("unknown", "?", "?", ""))
        request = bool(msg["flags"] & NLM_F_REQUEST)
        key = (msg["port"], msg["seq"])
        content = (request, msg["flags"], msg["payload"])
        if content in by_content:
            first = by_content[content]
            first["also"].append(name)
            if request:
                request_files[key] = first["base"]
            continue
        cmd, version = msg["payload"][0], msg["payload"][1]
        cmd_name = IPVS_CMDS[cmd] if cmd < len(IPVS_CMDS) else str(cmd)
        base = (f"{len(vectors) + 1:03d}-{name}-{'request' if request else 'reply'}-"
                f"{cmd_name.lower().replace('_', '-')}")
        space = INFO_SPACE if cmd == IPVS_CMDS.index("SET_INFO") else CMD_SPACE
        lines = [
            f"command: {cmdline}",
            f"command name: {name} (exit status {status})",
            "direction: " + ("request (user space -> kernel)" if request else "reply (kernel -> user space)"),
            f"genl cmd: {cmd} (IPVS_CMD_{cmd_name}), version {version}",
            f"netlink header (not in .hex): type {msg['type']} (IPVS family id), flags 0x{msg['flags']:04x} "
            f"({flag_names(msg['flags'], request)}), seq {msg['seq']}, port 0x{msg['port']:08x}",
        ]
        if request:
            request_files[key] = base
            lines.append(f"kernel answer: {kernel_answer(msg, messages, index + 1)}")
        elif key in request_files:
            lines.append(f"answers: {request_files[key]}")
        lines.append("attributes (after the 4-byte genlmsghdr):")
        lines += describe_attrs(msg["payload"][4:], space) or ["  (none)"]
        if output.strip():
            lines.append("ipvsadm printed:")
            lines += ["  " + line for line in output.rstrip("\n").split("\n")]
        entry = {"base": base, "payload": msg["payload"], "lines": lines, "also": []}
        by_content[content] = entry
        vectors.append(entry)

    for entry in vectors:
        with open(os.path.join(vector_dir, entry["base"] + ".hex"), "w", encoding="ascii") as f:
            f.write(entry["payload"].hex() + "\n")
        lines = entry["lines"]
        if entry["also"]:
            lines = lines[:2] + ["same bytes also seen for: " + " ".join(entry["also"])] + lines[2:]
        with open(os.path.join(vector_dir, entry["base"] + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    count = len(vectors)
    print(f"IPVS family id {family}: wrote {count} vectors to {vector_dir}")
    return 0 if count else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (CaptureError, OSError) as e:
        print(f"pcap2vectors: {e}", file=sys.stderr)
        sys.exit(1)
