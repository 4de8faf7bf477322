#!/usr/bin/env python3
"""A minimal SMTP server for tests: accepts every mail and writes each one (envelope and DATA)
to OUTDIR/mail-N.txt. Usage: smtp_sink.py HOST PORT OUTDIR"""
import asyncio, os, sys

HOST, PORT, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seq = 0

async def session(reader, writer):
    global seq
    def say(line):
        writer.write((line + "\r\n").encode())
    say("220 sink ESMTP")
    env, data, in_data = [], [], False
    while True:
        raw = await reader.readline()
        if not raw:
            break
        line = raw.decode(errors="replace").rstrip("\r\n")
        if in_data:
            if line == ".":
                in_data = False
                seq += 1
                path = os.path.join(OUT, "mail-%d.txt" % seq)
                with open(path + ".tmp", "w") as f:
                    f.write("\n".join(env) + "\n\n" + "\n".join(data) + "\n")
                os.rename(path + ".tmp", path)
                env, data = [], []
                say("250 OK queued")
            else:
                data.append(line[1:] if line.startswith("..") else line)
            await writer.drain()
            continue
        verb = line.split(" ")[0].upper()
        env.append(line)
        if verb == "DATA":
            in_data = True
            say("354 go ahead")
        elif verb == "QUIT":
            say("221 bye")
            await writer.drain()
            break
        else:
            say("250 OK")
        await writer.drain()
    writer.close()

async def main():
    srv = await asyncio.start_server(session, HOST, PORT)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
