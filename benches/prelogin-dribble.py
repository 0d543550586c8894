#!/usr/bin/env python3
"""How long a client that never logs in but sends one byte every INTERVAL seconds stays
connected (issue 14: it used to stay forever, each byte restarting the idle timer).

usage: benches/prelogin-dribble.py HOST:PORT [INTERVAL] [LIMIT]
"""
import socket
import sys
import time

addr = sys.argv[1]
interval = float(sys.argv[2]) if len(sys.argv) > 2 else 5
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 600
host, port = addr.rsplit(":", 1)
s = socket.create_connection((host, int(port)))
start = time.monotonic()
s.settimeout(interval)
got = b""
while time.monotonic() - start < limit:
    try:
        s.sendall(b"x")
    except OSError:
        break
    try:
        data = s.recv(4096)
        if not data:
            break
        got += data
    except socket.timeout:
        pass
    except OSError:
        break
lived = time.monotonic() - start
print(f"connection lived {lived:.1f} s (one byte every {interval} s)")
print("server said:", got.decode(errors="replace").strip().replace("\r\n", " | "))
