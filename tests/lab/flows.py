#!/usr/bin/env python3
"""Long-lived TCP flows through a VIP, for the sync-failover lab part and its benchmark.

  flows.py serve NAME ADDR PORT        echo server: answers every line with "NAME line"
  flows.py run VIP PORT COUNT INTERVAL STATUS
                                       opens COUNT connections, sends a line on each every INTERVAL
                                       seconds, and rewrites STATUS (JSON) twice a second
  flows.py check STATUS SINCE          prints "kept N of M" and the connections' problems: a
                                       connection is kept when it has no error, every answer came
                                       from its first real server, and it was answered after SINCE
  flows.py wait STATUS SINCE COUNT SECONDS
                                       waits until COUNT connections are kept (exit 0) or SECONDS
                                       pass (exit 1)
  flows.py gap STATUS SINCE            median seconds from SINCE to the answer of each kept
                                       connection's first line sent after SINCE (so it includes the
                                       wait for that line, up to one INTERVAL)
The run stops on SIGTERM; connection attempts that fail count as errors.
"""
import json
import os
import selectors
import signal
import socket
import statistics
import sys
import time


def serve(name, addr, port):
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    bufs = {}
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, True)
                bufs[c] = b""
                continue
            c = key.fileobj
            try:
                data = c.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                bufs.pop(c, None)
                c.close()
                continue
            bufs[c] += data
            *lines, bufs[c] = bufs[c].split(b"\n")
            out = b"".join(name.encode() + b" " + l + b"\n" for l in lines)
            try:
                c.sendall(out)
            except OSError:
                pass


class Flow:
    def __init__(self, i):
        self.i = i
        self.sock = None
        self.rs = None
        self.sent = 0
        self.answered = 0
        self.error = None
        self.buf = b""
        self.answers = []  # (answered, sent) wall-clock times of the last answers
        self.sent_at = {}

    def state(self):
        return {
            "i": self.i,
            "rs": self.rs,
            "sent": self.sent,
            "answered": self.answered,
            "error": self.error,
            "answers": self.answers[-150:],
        }


def run(vip, port, count, interval, status):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sel = selectors.DefaultSelector()
    flows = []
    family = socket.AF_INET6 if ":" in vip else socket.AF_INET
    for i in range(count):
        f = Flow(i)
        flows.append(f)
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect((vip, port))
            s.setblocking(False)
            f.sock = s
            sel.register(s, selectors.EVENT_READ, f)
        except OSError as e:
            f.error = "connect: %s" % e
    next_send = time.monotonic()
    next_write = 0.0
    while not stop:
        now = time.monotonic()
        if now >= next_send:
            for f in flows:
                if f.sock is None or f.error:
                    continue
                try:
                    f.sock.send(b"ping %d %d\n" % (f.i, f.sent))
                    f.sent_at[f.sent] = time.time()
                    f.sent += 1
                except BlockingIOError:
                    pass
                except OSError as e:
                    fail(sel, f, "send: %s" % e)
            next_send = now + interval
        if now >= next_write:
            write(status, flows)
            next_write = now + 0.5
        timeout = max(0.0, min(next_send, next_write) - time.monotonic())
        for key, _ in sel.select(timeout):
            f = key.data
            try:
                data = f.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                fail(sel, f, "recv: %s" % e)
                continue
            if not data:
                fail(sel, f, "closed by the other end")
                continue
            f.buf += data
            *lines, f.buf = f.buf.split(b"\n")
            for line in lines:
                words = line.split(b" ")
                name = words[0].decode(errors="replace")
                try:
                    sent = f.sent_at.pop(int(words[3]))
                except (IndexError, ValueError, KeyError):
                    sent = 0.0
                if f.rs is None:
                    f.rs = name
                elif name != f.rs and not f.error:
                    f.error = "answered by %s after %s" % (name, f.rs)
                f.answered += 1
                f.answers.append((time.time(), sent))
                del f.answers[:-150]
    write(status, flows)


def fail(sel, f, why):
    if not f.error:
        f.error = why
    try:
        sel.unregister(f.sock)
    except (KeyError, ValueError):
        pass
    f.sock.close()


def write(status, flows):
    tmp = status + ".tmp"
    with open(tmp, "w") as out:
        json.dump([f.state() for f in flows], out)
    os.replace(tmp, status)


def load(status):
    with open(status) as f:
        return json.load(f)


def kept(flows, since):
    return [
        f for f in flows if not f["error"] and f["answers"] and f["answers"][-1][0] > since
    ]


def check(status, since):
    flows = load(status)
    k = kept(flows, since)
    print("kept %d of %d" % (len(k), len(flows)))
    for f in flows:
        if f not in k:
            why = f["error"] or "no answer since %.3f (last %s)" % (
                since,
                "%.3f" % f["answers"][-1][0] if f["answers"] else "never",
            )
            print("  connection %d (%s): %s" % (f["i"], f["rs"], why))


def wait(status, since, count, seconds):
    end = time.monotonic() + seconds
    while True:
        try:
            if len(kept(load(status), since)) >= count:
                return 0
        except (OSError, ValueError):
            pass  # not written yet
        if time.monotonic() >= end:
            return 1
        time.sleep(0.1)


def gap(status, since):
    firsts = []
    for f in kept(load(status), since):
        after = [t for t, sent in f["answers"] if sent > since]
        if after:
            firsts.append(after[0] - since)
    print("%.3f" % statistics.median(firsts) if firsts else "nan")


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "serve":
        serve(a[0], a[1], int(a[2]))
    elif cmd == "run":
        run(a[0], int(a[1]), int(a[2]), float(a[3]), a[4])
    elif cmd == "check":
        check(a[0], float(a[1]))
    elif cmd == "wait":
        sys.exit(wait(a[0], float(a[1]), int(a[2]), float(a[3])))
    elif cmd == "gap":
        gap(a[0], float(a[1]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
