#!/usr/bin/env python3
"""An SMTP sink for mailroom's tests (tests/submit.rs): listens on 127.0.0.1:0, prints
"PORT <n>" on standard output, and writes each received message to DIR/<n>.json as
{"mail_from": ..., "rcpt_tos": [...], "data": "..."}. Recipients whose local part starts
with "reject" are refused with 550. Stops when standard input closes.

Usage: smtp-sink.py DIR
"""
import asyncio
import json
import os
import sys

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    print("ERROR aiosmtpd is not installed: python3 -m pip install aiosmtpd", flush=True)
    sys.exit(2)


class Sink:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].lower().startswith("reject"):
            return "550 5.1.1 <%s> rejected by the sink" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "helo": session.host_name,
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.out, "%d.tmp" % self.n)
        with open(tmp, "w") as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(self.out, "%d.json" % self.n))
        return "250 2.0.0 queued as %d" % self.n


async def serve(out):
    loop = asyncio.get_running_loop()
    handler = Sink(out)
    # Bound directly on port 0 (no race for a free port); one SMTP instance per connection.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test"), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    asyncio.run(serve(out))


if __name__ == "__main__":
    main()
