#!/usr/bin/python3
"""Churn and sampling loop of the soak (scripts/bench/lab-soak.sh starts it inside director A's
namespace). One interpreter for the whole run: under emulation a process spawned per sample took
seconds, so a loop of shell commands sampled every 15 s instead of every second.

Every second: a CSV row of A's RSS, descriptors, threads, CPU seconds and IPVS destinations
(/proc/net/ip_vs of A's namespace), and a /metrics scrape. Every 3 s one real server's listener
goes down or the one down comes back, and IPVS must show it within 5 s; every 10 s A reloads;
every minute A hands its VIP over (lvsd ctl vrrp backup) and takes it back 15 s later.
"""

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request

env = os.environ
apid = int(env["SOAK_APID"])
out, work, lvsd = env["SOAK_OUT"], env["SOAK_WORK"], env["SOAK_LVSD"]
minutes = int(env.get("SOAK_MIN", "30"))
listeners = {i + 1: int(p) for i, p in enumerate(env["SOAK_LISTENERS"].split())}
RS = "0A32000A"  # 10.50.0.10, as /proc/net/ip_vs writes it
hz = os.sysconf("SC_CLK_TCK")


def dests():
    with open("/proc/net/ip_vs") as f:
        return sum(1 for line in f if line.lstrip().startswith("->") and RS in line)


def metric(port, name):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name))


def metric_in(ns, port, name):
    """A metric of a daemon in another namespace (B's), through a child in that namespace."""
    code = (
        "import urllib.request; t=urllib.request.urlopen('http://127.0.0.1:%d/metrics', timeout=2)"
        ".read().decode(); print(sum(float(l.split()[-1]) for l in t.splitlines() if l.startswith('%s')))"
        % (port, name)
    )
    r = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code], capture_output=True, text=True)
    return float(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def sample(t):
    rss = next(int(l.split()[1]) for l in open(f"/proc/{apid}/status") if l.startswith("VmRSS"))
    fds = len(os.listdir(f"/proc/{apid}/fd"))
    threads = len(os.listdir(f"/proc/{apid}/task"))
    stat = open(f"/proc/{apid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / hz  # utime, stime: fields 14 and 15
    return f"{t},{rss},{fds},{threads},{cpu:.2f},{dests()}\n"


def listen(i):
    return subprocess.Popen(
        ["ip", "netns", "exec", "sr", "socat", f"TCP-LISTEN:{9000 + i},bind=10.50.0.10,fork,reuseaddr", "OPEN:/dev/null"]
    ).pid


def ctl(*args):
    return subprocess.run([lvsd, "ctl", "-s", f"{work}/a.sock", *args], capture_output=True).returncode == 0


def main():
    csv = open(f"{out}/soak.csv", "w")
    csv.write("t,rss_kib,fds,threads,cpu_s,ipvs_dests\n")
    sent0 = metric(9650, "lvsd_vrrp_adverts_sent_total")
    rcvd0 = metric_in("sb", 9651, "lvsd_vrrp_adverts_received_total")
    conf = open(f"{work}/a.conf").read().split("\n", 1)[1]
    flaps = misses = reloads = handovers = scrape_fails = late_samples = 0
    down, want, due = None, None, None  # the listener down, the destinations IPVS must show, by when
    start = time.monotonic()
    sec = 0
    while sec < minutes * 60:
        # Sleep to the next whole second of the run; a late tick is counted, never made up.
        now = time.monotonic() - start
        if now < sec:
            time.sleep(sec - now)
        elif now > sec + 1:
            late_samples += 1
            sec = int(now)
        csv.write(sample(sec))
        csv.flush()
        if metric(9650, "lvsd_reloads_total") is None:
            scrape_fails += 1
        if want is not None:
            if dests() == want:
                want = None
            elif time.monotonic() > due:
                misses += 1
                want = None
        if sec % 3 == 0 and want is None:
            if down is None:
                down = random.randint(1, len(listeners))
                os.kill(listeners[down], signal.SIGKILL)
                want = len(listeners) - 1
            else:
                listeners[down] = listen(down)
                down, want = None, len(listeners)
            due = time.monotonic() + 5
            flaps += 1
        if sec % 10 == 5:
            with open(f"{work}/a.conf", "w") as f:
                f.write(f"# {sec}\n{conf}")
            os.kill(apid, signal.SIGHUP)
            reloads += 1
        if sec % 60 == 30 and ctl("vrrp", "VI_1", "backup", "--force"):
            handovers += 1
        if sec % 60 == 45:
            ctl("vrrp", "VI_1", "resume")
        # Flap checks look every tenth of a second between samples.
        while want is not None and time.monotonic() - start < sec + 0.9:
            if dests() == want:
                want = None
            else:
                time.sleep(0.1)
        sec += 1
    sent = metric(9650, "lvsd_vrrp_adverts_sent_total")
    rcvd = metric_in("sb", 9651, "lvsd_vrrp_adverts_received_total")
    delta = lambda a, b: "?" if a is None or b is None else f"{a - b:.0f}"
    summary = (
        f"flaps={flaps} flap_misses={misses} reloads={reloads} handovers={handovers} "
        f"adverts_sent_by_a={delta(sent, sent0)} adverts_received_by_b={delta(rcvd, rcvd0)} "
        f"scrape_failures={scrape_fails} late_samples={late_samples} alive={os.path.exists(f'/proc/{apid}')}\n"
    )
    open(f"{out}/soak.summary", "w").write(summary)
    sys.stdout.write(summary)


main()
