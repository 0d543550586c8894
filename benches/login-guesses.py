#!/usr/bin/env python3
"""Password guessing from one address on fresh connections: each guess opens a new IMAP
(or POP3) connection, sends one wrong LOGIN (USER/PASS), reads the answer and closes.
Runs for SECONDS with PARALLEL connections at a time and prints guesses per second.
Works against any server (issue 14: Dovecot 2.3 answered ~7 guesses/s).

usage: benches/login-guesses.py HOST:PORT USER [SECONDS] [PARALLEL] [imap|pop3]
"""
import socket
import sys
import threading
import time


def guess(host, port, user, proto, n):
    s = socket.create_connection((host, port), timeout=120)
    f = s.makefile("rb")
    f.readline()
    if proto == "imap":
        s.sendall(b"a LOGIN %s wrong%d\r\n" % (user.encode(), n))
        while True:
            line = f.readline()
            if not line or line.startswith(b"a "):
                break
    else:
        s.sendall(b"USER %s\r\n" % user.encode())
        f.readline()
        s.sendall(b"PASS wrong%d\r\n" % n)
        line = f.readline()
    s.close()
    return line


def main():
    addr, user = sys.argv[1], sys.argv[2]
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    parallel = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    proto = sys.argv[5] if len(sys.argv) > 5 else "imap"
    host, port = addr.rsplit(":", 1)
    port = int(port)
    end = time.monotonic() + secs
    done = []
    lock = threading.Lock()

    def worker(w):
        i = 0
        while time.monotonic() < end:
            line = guess(host, port, user, proto, w * 1_000_000 + i)
            i += 1
            if time.monotonic() <= end:
                with lock:
                    done.append(line)

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = min(time.monotonic(), end) - start
    print(f"{len(done)} wrong guesses in {elapsed:.1f} s from one address "
          f"({parallel} at a time): {len(done) / elapsed:.2f} guesses/s")
    if done:
        print("last answer:", done[-1].decode(errors="replace").strip())


if __name__ == "__main__":
    main()
