#!/usr/bin/env python3
"""Writes a large keepalived.conf for benchmarks: N virtual servers with M real servers each (TCP_CHECK)
and K VRRP instances on eth0. Usage: gen-config.py [--vs 5000] [--rs 4] [--vrrp 200] > big.conf
--loopback puts the real servers on 127.0.0.0/8 (one local listener answers every check); --delay-loop,
--check HTTP_GET and --check MISC_CHECK --misc-path PATH are for the checker-load benchmark;
--shared-rs gives every virtual server the same real servers (share_checks), --no-share-checks turns
that off in global_defs."""
import argparse

ap = argparse.ArgumentParser()
ap.add_argument("--vs", type=int, default=5000)
ap.add_argument("--rs", type=int, default=4)
ap.add_argument("--vrrp", type=int, default=200)
ap.add_argument("--check", default="TCP_CHECK", choices=["TCP_CHECK", "HTTP_GET", "MISC_CHECK", "none"])
ap.add_argument("--misc-path", default="/bin/true")
ap.add_argument("--loopback", action="store_true")
ap.add_argument("--delay-loop", type=int)
ap.add_argument("--port", type=int, default=8080)
ap.add_argument("--shared-rs", action="store_true")
ap.add_argument("--no-share-checks", action="store_true")
a = ap.parse_args()

out = ["global_defs {", "    router_id bench"] + (["    share_checks off"] if a.no_share_checks else []) + ["}"]
for i in range(a.vrrp):
    vrid = i % 255 + 1
    out += [
        f"vrrp_instance VI_{i} {{",
        "    state BACKUP",
        "    interface eth0",
        f"    virtual_router_id {vrid}",
        f"    priority {100 + i % 50}",
        "    advert_int 1",
        "    virtual_ipaddress {",
        f"        10.255.{i // 250}.{i % 250 + 1}/32",
        "    }",
        "}",
    ]
for v in range(a.vs):
    out += [f"virtual_server 10.{v // 65536 % 200 + 1}.{v // 256 % 256}.{v % 256} 80 {{", "    lvs_sched wrr", "    lvs_method NAT", "    protocol TCP"]
    if a.delay_loop:
        out.append(f"    delay_loop {a.delay_loop}")
    for r in range(a.rs):
        n = r if a.shared_rs else v * a.rs + r
        net = f"127.{1 + n // 65536 % 254}" if a.loopback else f"172.{16 + n // 65536 % 16}"
        out.append(f"    real_server {net}.{n // 256 % 256}.{n % 256} {a.port} {{")
        out.append(f"        weight {r + 1}")
        if a.check == "TCP_CHECK":
            out.append("        TCP_CHECK { connect_timeout 3 }")
        elif a.check == "HTTP_GET":
            out.append("        HTTP_GET { url { path / status_code 200 } connect_timeout 3 }")
        elif a.check == "MISC_CHECK":
            # One keyword a line: words after misc_path's on its line would be its user and group.
            out += ["        MISC_CHECK {", f'            misc_path "{a.misc_path}"', "            misc_timeout 10", "        }"]
        out.append("    }")
    out.append("}")
print("\n".join(out))
