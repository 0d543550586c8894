#!/usr/bin/env python3
"""Crash soak: concurrent LMTP, APPEND, COPY, MOVE, STORE, EXPUNGE and POP3 DELE against
a mailroom server that is killed with SIGKILL at random moments, restarted, and checked.

Usage: crash-soak.py --bin PATH [--cycles N] [--seed S] [--keep]

Every message carries a unique Message-ID. A ledger records, for every message, where it
must be (operations the server acknowledged), where it must not be (acknowledged
expunges, moves and POP3 deletions), and where it may or may not be (operations in
flight when the server died). After each restart the script reads every mailbox and
checks the invariants:
  - nothing acknowledged is lost (every definite location holds the message once);
  - nothing is duplicated (no Message-ID twice in one mailbox);
  - nothing is resurrected (no message where an acknowledged removal took it away);
  - no UID is reused (a UID of a mailbox, under one UIDVALIDITY, always names the same
    message);
  - a MOVE in flight leaves the message in exactly one of the two mailboxes (RFC 6851
    3.1), and an acknowledged MOVE in the target only;
  - a keyword an acknowledged STORE set is still set.
Then the ledger is set to what the server holds and the next cycle starts. Exits 1 on
any violation, printing each."""
import argparse, imaplib, poplib, random, re, shutil, signal, smtplib
import subprocess, sys, tempfile, threading, time

p = argparse.ArgumentParser()
p.add_argument("--bin", required=True)
p.add_argument("--cycles", type=int, default=5)
p.add_argument("--seed", type=int, default=None)
p.add_argument("--keep", action="store_true", help="keep the data directory")
a = p.parse_args()
seed = a.seed if a.seed is not None else random.randrange(1 << 30)
rnd = random.Random(seed)
print(f"crash-soak: {a.cycles} cycles, seed {seed}", flush=True)

data = tempfile.mkdtemp(prefix="mailroom-soak-")
PW = "soak-pass"
for user in ("u1", "u2"):
    subprocess.run([a.bin, "--data", data, "account", "add", user, "--password", PW],
                   check=True, stdout=subprocess.DEVNULL)

MAILBOXES = {"u1": ["INBOX", "A", "B", "C"], "u2": ["INBOX"]}


class Server:
    def __init__(self):
        args = [a.bin, "--data", data, "serve"]
        for proto in ("imap", "imaps", "pop3", "pop3s", "lmtp"):
            args += [f"--{proto}", "127.0.0.1:0"]
        args += ["--admin", "off"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.ports = {}
        while len(self.ports) < 5:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("server exited before listening")
            name, addr = line.split()
            self.ports[name] = int(addr.rsplit(":", 1)[1])

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Ledger:
    """Per Message-ID: `must` (locations it is in), `never` (locations it must not be
    in), `maybe` (in-flight additions), `move` ((from, to) of an in-flight move),
    `kw` (locations where an acknowledged STORE set $Soak)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.m = {}
        self.acked = 0
        self.counter = 0

    def new_id(self, kind):
        with self.lock:
            self.counter += 1
            mid = f"<{kind}-{self.counter}@soak>"
            self.m[mid] = {"must": set(), "never": set(), "maybe": set(), "move": None,
                           "kw": set()}
            return mid

    def update(self, mid, fn, acked=False):
        with self.lock:
            fn(self.m[mid])
            if acked:
                self.acked += 1


L = Ledger()


def message(mid, size):
    body = "".join(f"soak line {i} {'x' * rnd.randint(5, 60)}\r\n" for i in range(size))
    return (f"From: soak@example.org\r\nTo: u1@localhost\r\nSubject: soak {mid}\r\n"
            f"Message-ID: {mid}\r\n\r\n{body}").encode()


def imap(port, user):
    c = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    c.login(user, PW)
    return c


def set_must(loc):
    def f(e):
        e["maybe"].discard(loc)
        e["never"].discard(loc)
        e["must"].add(loc)
    return f


def set_gone(loc):
    def f(e):
        e["maybe"].discard(loc)
        e["must"].discard(loc)
        e["kw"].discard(loc)
        e["never"].add(loc)
    return f


def in_flight_removal(loc):
    def f(e):
        e["must"].discard(loc)
        e["maybe"].add(loc)
    return f


def worker_append(port, stop):
    """u1: APPEND into A, then COPY to B, MOVE to C, STORE $Soak, EXPUNGE at random."""
    c = imap(port, "u1")
    c.select("A")
    mine = []  # (mid, uid in A)
    copied = set()  # copied to B once already
    while not stop.is_set():
        op = rnd.random()
        if op < 0.4 or not mine:
            mid = L.new_id("ap")
            L.update(mid, lambda e: e["maybe"].add(("u1", "A")))
            typ, resp = c.append("A", None, None, message(mid, rnd.randint(1, 40)))
            if typ != "OK":
                raise RuntimeError(f"APPEND {resp}")
            uid = int(re.search(rb"APPENDUID \d+ (\d+)", resp[0]).group(1))
            L.update(mid, set_must(("u1", "A")), acked=True)
            mine.append((mid, uid))
            continue
        mid, uid = mine.pop(rnd.randrange(len(mine)))
        if op < 0.55 and mid not in copied:
            copied.add(mid)
            L.update(mid, lambda e: e["maybe"].add(("u1", "B")))
            typ, resp = c.uid("COPY", str(uid), "B")
            if typ != "OK":
                raise RuntimeError(f"COPY {resp}")
            L.update(mid, set_must(("u1", "B")), acked=True)
            mine.append((mid, uid))
        elif op < 0.75:
            def start(e):
                e["must"].discard(("u1", "A"))
                e["move"] = (("u1", "A"), ("u1", "C"))
            L.update(mid, start)
            typ, resp = c.uid("MOVE", str(uid), "C")
            if typ != "OK":
                raise RuntimeError(f"MOVE {resp}")

            def done(e):
                e["move"] = None
                e["never"].add(("u1", "A"))
                e["kw"].discard(("u1", "A"))
                e["must"].add(("u1", "C"))
            L.update(mid, done, acked=True)
        elif op < 0.88:
            typ, resp = c.uid("STORE", str(uid), "+FLAGS", "($Soak)")
            if typ != "OK":
                raise RuntimeError(f"STORE {resp}")
            L.update(mid, lambda e: e["kw"].add(("u1", "A")), acked=True)
            mine.append((mid, uid))
        else:
            L.update(mid, in_flight_removal(("u1", "A")))
            typ, resp = c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
            if typ != "OK":
                raise RuntimeError(f"STORE {resp}")
            typ, resp = c.uid("EXPUNGE", str(uid))
            if typ != "OK":
                raise RuntimeError(f"EXPUNGE {resp}")
            L.update(mid, set_gone(("u1", "A")), acked=True)


def worker_lmtp(port, stop):
    """Deliveries to u1 and u2 over LMTP (one reply per recipient, RFC 2033)."""
    c = smtplib.LMTP("127.0.0.1", port, timeout=10)
    c.ehlo("soak")
    while not stop.is_set():
        mid = L.new_id("lm")
        L.update(mid, lambda e: e["maybe"].update({("u1", "INBOX"), ("u2", "INBOX")}))
        c.mail("soak@example.org")
        for r in ("u1@localhost", "u2@localhost"):
            code, _ = c.rcpt(r)
            if code != 250:
                raise RuntimeError(f"RCPT {code}")
        c.putcmd("data")
        code, _ = c.getreply()
        if code != 354:
            raise RuntimeError(f"DATA {code}")
        body = message(mid, rnd.randint(1, 20)).replace(b"\r\n.", b"\r\n..")
        c.send(body + b"\r\n.\r\n")
        for user in ("u1", "u2"):
            code, _ = c.getreply()
            if code == 250:
                L.update(mid, set_must((user, "INBOX")), acked=True)
            else:
                raise RuntimeError(f"LMTP reply {code}")


def worker_inbox(port, stop):
    """u1: expunges and flags delivered messages in INBOX."""
    c = imap(port, "u1")
    c.select("INBOX")
    while not stop.is_set():
        time.sleep(0.02)
        typ, data_ = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = parse_fetch(data_)
        if not found:
            continue
        uid, mid, _ = rnd.choice(found)
        if mid not in L.m:
            continue
        if rnd.random() < 0.5:
            L.update(mid, in_flight_removal(("u1", "INBOX")))
            c.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
            typ, resp = c.uid("EXPUNGE", str(uid))
            if typ != "OK":
                raise RuntimeError(f"EXPUNGE {resp}")
            L.update(mid, set_gone(("u1", "INBOX")), acked=True)
        else:
            typ, resp = c.uid("STORE", str(uid), "+FLAGS", "($Soak)")
            if typ != "OK":
                raise RuntimeError(f"STORE {resp}")
            L.update(mid, lambda e: e["kw"].add(("u1", "INBOX")), acked=True)


def worker_pop3(port, stop):
    """u2: POP3 sessions that delete a few messages and QUIT (the UPDATE state)."""
    while not stop.is_set():
        time.sleep(0.05)
        c = poplib.POP3("127.0.0.1", port, timeout=10)
        c.user("u2")
        c.pass_(PW)
        n, _ = c.stat()
        victims = []
        for i in rnd.sample(range(1, n + 1), min(n, rnd.randint(1, 3))):
            head = b"\n".join(c.top(i, 0)[1])
            m = re.search(rb"(?im)^message-id:\s*(<[^>]+>)", head)
            if m and m.group(1).decode() in L.m:
                c.dele(i)
                victims.append(m.group(1).decode())
        for mid in victims:
            L.update(mid, in_flight_removal(("u2", "INBOX")))
        c.quit()
        for mid in victims:
            L.update(mid, set_gone(("u2", "INBOX")), acked=True)


def parse_fetch(resp):
    """[(uid, message-id, flags)] from a FETCH of UID FLAGS and the Message-ID header."""
    out = []
    for item in resp:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        u = re.search(rb"UID (\d+)", meta)
        f = re.search(rb"FLAGS \(([^)]*)\)", meta)
        m = re.search(rb"(?i)message-id:\s*(<[^>]+>)", body)
        if u and m:
            out.append((int(u.group(1)), m.group(1).decode(),
                        f.group(1).decode().split() if f else []))
    return out


stats = {"inflight": 0, "moves": 0}
seen_uids = {}  # (user, mailbox, uidvalidity, uid) -> message-id
violations = []


def check(srv, cycle):
    """Reads every mailbox; checks the ledger; resets it to what is there."""
    actual = {}  # mid -> {loc: [flags,...]}
    for user, boxes in MAILBOXES.items():
        c = imap(srv.ports["imap"], user)
        for box in boxes:
            typ, d = c.select(box, readonly=True)
            if typ != "OK":
                violations.append(f"cycle {cycle}: SELECT {user}/{box}: {d}")
                continue
            validity = int(re.search(rb"\d+", c.untagged_responses.get("UIDVALIDITY", [b"0"])[0]).group())
            n = int(d[0])
            if n == 0:
                continue
            typ, resp = c.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            rows = parse_fetch(resp)
            if len(rows) != n:
                violations.append(f"cycle {cycle}: {user}/{box}: {n} EXISTS but {len(rows)} read")
            for uid, mid, flags in rows:
                key = (user, box, validity, uid)
                if seen_uids.setdefault(key, mid) != mid:
                    violations.append(f"cycle {cycle}: UID reused: {key} was {seen_uids[key]}, now {mid}")
                loc = (user, box)
                actual.setdefault(mid, {}).setdefault(loc, []).append(flags)
        c.logout()
    inflight = sum(1 for e in L.m.values() if e["maybe"] or e["move"])
    moves = sum(1 for e in L.m.values() if e["move"])
    stats["inflight"] += inflight
    stats["moves"] += moves
    for mid, e in L.m.items():
        have = actual.get(mid, {})
        for loc, copies in have.items():
            if len(copies) > 1:
                violations.append(f"cycle {cycle}: {mid} {len(copies)} times in {loc}")
        for loc in e["must"]:
            if loc not in have:
                violations.append(f"cycle {cycle}: LOST {mid} from {loc} (acknowledged)")
        for loc in e["never"]:
            if loc in have:
                violations.append(f"cycle {cycle}: RESURRECTED {mid} in {loc}")
        if e["move"]:
            src, dst = e["move"]
            k = (src in have) + (dst in have)
            if k != 1:
                violations.append(f"cycle {cycle}: MOVE in flight left {mid} in {k} of {src}, {dst}")
        for loc in e["kw"]:
            if loc in have and not any("$Soak" in f for f in have[loc]):
                violations.append(f"cycle {cycle}: {mid} lost its acknowledged $Soak in {loc}")
        for loc in have:
            allowed = e["must"] | e["maybe"] | (set(e["move"]) if e["move"] else set())
            if loc not in allowed and loc not in e["never"]:
                violations.append(f"cycle {cycle}: {mid} appeared in {loc} unasked")
        # What is there now is the truth the next cycle starts from.
        prev = e["must"] | e["maybe"] | (set(e["move"]) if e["move"] else set())
        e["never"] = (e["never"] | {loc for loc in prev if loc not in have}) - set(have)
        e["must"] = set(have)
        e["maybe"] = set()
        e["move"] = None
        e["kw"] = {loc for loc in have if any("$Soak" in f for f in have[loc])}
    for mid in actual:
        if mid not in L.m:
            violations.append(f"cycle {cycle}: unknown message {mid}")


srv = Server()
c = imap(srv.ports["imap"], "u1")
for box in ("A", "B", "C"):
    c.create(box)
c.logout()
start = time.time()
restarts = []
for cycle in range(1, a.cycles + 1):
    stop = threading.Event()
    errors = []

    def run(fn, port):
        try:
            fn(port, stop)
        except Exception as e:  # the kill ends every session; anything else is noted
            errors.append(f"{fn.__name__}: {e!r}")

    threads = [threading.Thread(target=run, args=(fn, srv.ports[proto]), daemon=True)
               for fn, proto in ((worker_append, "imap"), (worker_append, "imap"),
                                 (worker_lmtp, "lmtp"),
                                 (worker_inbox, "imap"), (worker_pop3, "pop3"))]
    for t in threads:
        t.start()
    time.sleep(rnd.uniform(0.3, 1.5))
    srv.kill()
    stop.set()
    for t in threads:
        t.join(15)
    t0 = time.perf_counter()
    srv = Server()
    restarts.append(time.perf_counter() - t0)
    check(srv, cycle)
    print(f"cycle {cycle}: {L.acked} acknowledged operations so far, "
          f"{stats['inflight']} in flight at kills ({stats['moves']} moves), "
          f"{len(violations)} violations, restart {restarts[-1] * 1000:.0f} ms", flush=True)
srv.kill()
print(f"crash-soak: {a.cycles} kills, {L.acked} acknowledged operations, "
      f"{len(L.m)} messages, {stats['inflight']} operations in flight at a kill "
      f"({stats['moves']} of them moves), {len(violations)} violations, "
      f"max restart {max(restarts) * 1000:.0f} ms, {time.time() - start:.0f} s", flush=True)
for v in violations:
    print("VIOLATION", v)
if not a.keep:
    shutil.rmtree(data, ignore_errors=True)
else:
    print("data kept in", data)
sys.exit(1 if violations else 0)
