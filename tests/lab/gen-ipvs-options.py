#!/usr/bin/env python3
# Writes tests/lab/configs/ipvs-options.conf (python3 tests/lab/gen-ipvs-options.py > that file):
# every virtual_server option against every kind of service, for the kernel lab's comparison with
# keepalived (tests/lab/ipvs-vs-keepalived.sh).
opts = [
  ("ops", "    lvs_sched rr\n    ops\n"),
  ("sh flags", "    lvs_sched sh\n    sh-port\n    sh-fallback\n"),
  ("sh flags before the scheduler", "    sh-port\n    sh-fallback\n    lvs_sched sh\n"),
  ("sh flag on rr", "    lvs_sched rr\n    sh-port\n"),
  ("mh flags", "    lvs_sched mh\n    mh-port\n    mh-fallback\n"),
  ("sh flag on mh", "    lvs_sched mh\n    sh-port\n"),
  ("generic flags", "    lvs_sched rr\n    flag-1\n    flag-2\n    flag-3\n"),
  ("hashed", "    lvs_sched rr\n    hashed\n"),
  ("persistence", "    lvs_sched rr\n    persistence_timeout 100\n"),
  ("granularity alone", "    lvs_sched rr\n    persistence_granularity 255.255.255.0\n"),
  ("persistence and granularity", "    lvs_sched rr\n    persistence_timeout 100\n    persistence_granularity 255.255.0.0\n"),
  ("engine alone", "    lvs_sched rr\n    persistence_engine sip\n"),
  ("persistence and engine", "    lvs_sched rr\n    persistence_timeout 100\n    persistence_engine sip\n"),
  ("ops and persistence", "    lvs_sched rr\n    ops\n    persistence_timeout 100\n"),
  ("DR ports", "    lvs_sched rr\n    lvs_method DR\n", "    real_server {rs} 8080 {{\n        weight 1\n    }}\n    real_server {rs2} {{\n        weight 2\n    }}\n"),
  ("TUN ports", "    lvs_sched rr\n    lvs_method TUN\n", "    real_server {rs} 8080 {{\n        weight 1\n    }}\n"),
  ("DR sorry server port", "    lvs_sched rr\n    lvs_method DR\n    quorum 3\n    sorry_server {sorry} 8080\n", "    real_server {rs} 80 {{\n        weight 1\n    }}\n"),
  ("thresholds", "    lvs_sched rr\n", "    real_server {rs} 80 {{\n        uthreshold 10\n        lthreshold 20\n    }}\n    real_server {rs2} 80 {{\n        lthreshold 5\n    }}\n    real_server {rs3} 80 {{\n        uthreshold 5\n        lthreshold 2\n    }}\n"),
  ("no real servers", "    lvs_sched rr\n    sorry_server {sorry} 80\n", ""),
  ("duplicate real server", "    lvs_sched rr\n", "    real_server {rs} 80 {{\n        weight 1\n    }}\n    real_server {rs} 80 {{\n        weight 4\n    }}\n"),
  ("quorum above the weights", "    lvs_sched rr\n    quorum 5\n    hysteresis 9\n    sorry_server {sorry} 80\n", "    real_server {rs} 80 {{\n        weight 2\n    }}\n"),
  ("ha_suspend", "    lvs_sched rr\n    ha_suspend\n"),
]
kinds = ["TCP", "UDP", "SCTP", "fwmark", "group TCP", "group UDP"]
out = ["! Every virtual_server option against every kind of service (TCP, UDP, SCTP, fwmark, a group of",
       "! an address and a mark with TCP and UDP), for the kernel lab's comparison with keepalived 2.2.7:",
       "! options keepalived drops for a protocol (ops without UDP, sh-/mh- flags without their scheduler,",
       "! persistence_engine without persistence) and the ports it programs for DR/TUN must match.",
       "! Written by tests/lab/gen-ipvs-options.py; one block per option and kind, addresses 10.K.O.x.", ""]
for k, kind in enumerate(kinds, start=1):
    for o, opt in enumerate(opts, start=1):
        name, body = opt[0], opt[1]
        rs_tmpl = opt[2] if len(opt) > 2 else "    real_server {rs} 80 {{\n        weight 1\n    }}\n"
        rs = f"10.{40+k}.{o}.11"
        fill = dict(rs=rs, rs2=f"10.{40+k}.{o}.12", rs3=f"10.{40+k}.{o}.13", sorry=f"10.{40+k}.{o}.99")
        rsb = rs_tmpl.format(**fill)
        body = body.format(**fill)
        if kind in ("TCP", "UDP", "SCTP"):
            head = f"virtual_server 10.{30+k}.{o}.1 80 {{\n    protocol {kind}\n"
        elif kind == "fwmark":
            head = f"virtual_server fwmark {k*100+o} {{\n"
        else:
            proto = kind.split()[1]
            g = f"G{k}_{o}"
            out.append(f"virtual_server_group {g} {{\n    10.{30+k}.{o}.1 80\n    fwmark {k*100+o}\n}}")
            head = f"virtual_server group {g} {{\n    protocol {proto}\n"
        out.append(f"! {kind}: {name}\n{head}{body}{rsb}}}")
# Portless services, which keepalived makes persistent.
out.append("! portless TCP and a group entry without a port\nvirtual_server 10.39.1.1 0 {\n    protocol TCP\n    lvs_sched rr\n    lvs_method DR\n    real_server 10.49.1.11 80 {\n        weight 1\n    }\n}")
out.append("virtual_server_group G9_2 {\n    10.39.2.1 0\n}\nvirtual_server group G9_2 {\n    protocol UDP\n    lvs_sched rr\n    real_server 10.49.2.11 53 {\n        weight 1\n    }\n}")
# Two blocks for one service.
out.append("! one service in two blocks\nvirtual_server 10.39.3.1 80 {\n    protocol TCP\n    lvs_sched rr\n    real_server 10.49.3.11 80 {\n        weight 1\n    }\n}\nvirtual_server 10.39.3.1 80 {\n    protocol TCP\n    lvs_sched wlc\n    persistence_timeout 50\n    real_server 10.49.3.11 80 {\n        weight 3\n    }\n    real_server 10.49.3.12 80 {\n        weight 2\n    }\n}")
print("\n".join(out))
