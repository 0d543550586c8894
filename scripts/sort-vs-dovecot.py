#!/usr/bin/env python3
"""SORT and THREAD of mailroom compared with Dovecot's on the same mailbox.

  fill    --port P --user U --password PW --mbox FILE [--count N]
          appends the mbox's first N messages to U's INBOX, in order, each with its own
          internal date (so ARRIVAL has no ties), over IMAP (Python imaplib).
  compare --a NAME:PORT --b NAME:PORT --user U --password PW [--mbox FILE]
          runs every SORT key (each also REVERSE), a few multi-key orders, SORT=DISPLAY,
          THREAD ORDEREDSUBJECT/REFERENCES/REFS and some I18NLEVEL=1 SEARCHes on both and
          fails on any difference that is not a documented divergence (DIVERGENCES).

Both INBOXes must have been filled with the same messages in the same order (UIDs 1..N
in both: a fresh mailbox). Python 3 standard library only.
"""
import argparse
import email
import email.policy
import imaplib
import mailbox
import re
import sys
import time

SORT_KEYS = ["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"]
MULTI = ["SUBJECT DATE", "REVERSE DATE FROM", "FROM REVERSE SUBJECT", "CC TO SIZE",
         "DISPLAYFROM REVERSE ARRIVAL"]
THREADS = ["ORDEREDSUBJECT", "REFERENCES", "REFS"]
# i;unicode-casemap substring matches (RFC 5255 4.6): case, composition and compatibility
# forms fold together.
SEARCHES = ['SUBJECT "grüße"', 'SUBJECT "GRÜSSE"', 'SUBJECT "RÉUNION"', 'SUBJECT "réunion"',
            'SUBJECT "отчёт"', 'SUBJECT "ОТЧЁТ"', 'FROM "jürgen"', 'FROM "JÜRGEN"',
            'FROM "søren"', 'FROM "ångström"', 'FROM "ZOË"', 'SUBJECT "会议"',
            'SUBJECT "UNICODE"', 'SUBJECT "ünïcödé"', 'TO "łukasz"', 'CC "müller"']

# Differences that the RFCs allow, by command: a function that gets both answers and
# says whether they differ only in an allowed way. None so far: every command must give
# the same answer.
DIVERGENCES = {}


def login(port, user, password):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(user, password)
    return c


def fill(args):
    box = mailbox.mbox(args.mbox, create=False)
    c = login(args.port, args.user, args.password)
    base = 1_600_000_000
    n = 0
    for i, msg in enumerate(box):
        if n >= args.count:
            break
        raw = msg.as_bytes(policy=email.policy.compat32)
        raw = re.sub(rb"\r?\n", b"\r\n", raw)
        date = imaplib.Time2Internaldate(base + i * 3607)
        typ, data = c.append("INBOX", None, date, raw)
        if typ != "OK":
            sys.exit(f"APPEND {i} failed: {data}")
        n += 1
    c.logout()
    print(f"filled {n} messages on port {args.port}")


def run(c, *cmd):
    """One UID command; the untagged data of its kind, as one string."""
    typ, data = c.uid(*cmd)
    if typ != "OK":
        return f"{typ} {data}"
    return " ".join(d.decode() if isinstance(d, bytes) else str(d) for d in data if d is not None)


def subjects(c):
    """UID -> (Subject, From, Date) for explaining differences."""
    out = {}
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM DATE)])")
    for item in data:
        if isinstance(item, tuple):
            m = re.search(rb"UID (\d+)", item[0])
            if m:
                h = email.message_from_bytes(item[1])
                out[int(m.group(1))] = (h.get("Subject"), h.get("From"), h.get("Date"))
    return out


def first_difference(a, b):
    ta, tb = a.split(), b.split()
    for i, (x, y) in enumerate(zip(ta, tb)):
        if x != y:
            return i, x, y
    return min(len(ta), len(tb)), None, None


def compare(args):
    na, pa = args.a.split(":")
    nb, pb = args.b.split(":")
    ca = login(int(pa), args.user, args.password)
    cb = login(int(pb), args.user, args.password)
    for c in (ca, cb):
        typ, data = c.select("INBOX", readonly=True)
        if typ != "OK":
            sys.exit(f"SELECT failed: {data}")
    na_count = int(ca.select("INBOX", readonly=True)[1][0])
    nb_count = int(cb.select("INBOX", readonly=True)[1][0])
    if na_count != nb_count:
        sys.exit(f"FAIL {na} holds {na_count} messages, {nb} {nb_count}")
    commands = []
    for k in SORT_KEYS:
        commands.append(("SORT", f"({k})", "UTF-8", "ALL"))
        commands.append(("SORT", f"(REVERSE {k})", "UTF-8", "ALL"))
    for m in MULTI:
        commands.append(("SORT", f"({m})", "UTF-8", "ALL"))
    commands.append(("SORT", "(SUBJECT)", "UTF-8", "UNSEEN"))
    for t in THREADS:
        commands.append(("THREAD", t, "UTF-8", "ALL"))
    for s in SEARCHES:
        commands.append(("SEARCH", "CHARSET", "UTF-8", s.encode()))
    failed = 0
    info = None
    for cmd in commands:
        label = " ".join(x.decode() if isinstance(x, bytes) else x for x in cmd)
        ra, rb = run(ca, *cmd), run(cb, *cmd)
        if ra == rb:
            print(f"same  UID {label}: {len(ra.split())} items")
            continue
        allowed = DIVERGENCES.get(cmd[0] + " " + cmd[1])
        if allowed and allowed(ra, rb):
            print(f"allowed divergence UID {label}")
            continue
        failed += 1
        i, x, y = first_difference(ra, rb)
        print(f"DIFF  UID {label}: first difference at item {i}: {na} {x!r}, {nb} {y!r}")
        if info is None:
            info = subjects(ca)
        for tok in (x, y):
            if tok:
                for u in re.findall(r"\d+", tok)[:3]:
                    print(f"      uid {u}: {info.get(int(u))}")
        if args.verbose:
            print(f"      {na}: {ra}\n      {nb}: {rb}")
    for c in (ca, cb):
        c.logout()
    if failed:
        sys.exit(f"FAIL {failed} of {len(commands)} commands differ between {na} and {nb}")
    print(f"PASS {len(commands)} SORT/THREAD/SEARCH commands give the same answer on {na} and {nb}")


def timing(args):
    """Times one command on one server: the best of --repeat runs (warm)."""
    c = login(args.port, args.user, args.password)
    t0 = time.monotonic()
    typ, data = c.select("INBOX", readonly=True)
    sel = time.monotonic() - t0
    cmd = args.command.split(" ")
    times = []
    for _ in range(args.repeat):
        t0 = time.monotonic()
        typ, data = c.uid(*cmd)
        times.append(time.monotonic() - t0)
        if typ != "OK":
            sys.exit(f"{args.command}: {typ} {data}")
    n = len(data[0].split()) if data and data[0] else 0
    print(f"RESULT {args.name} messages={int(c.select('INBOX', readonly=True)[1][0])} "
          f"select={sel:.3f}s '{args.command}' first={times[0]:.3f}s "
          f"best={min(times):.3f}s items={n}")
    c.logout()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fill")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--user", required=True)
    f.add_argument("--password", required=True)
    f.add_argument("--mbox", required=True)
    f.add_argument("--count", type=int, default=10**9)
    c = sub.add_parser("compare")
    c.add_argument("--a", required=True)
    c.add_argument("--b", required=True)
    c.add_argument("--user", required=True)
    c.add_argument("--password", required=True)
    c.add_argument("--verbose", action="store_true")
    t = sub.add_parser("time")
    t.add_argument("--name", required=True)
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--user", required=True)
    t.add_argument("--password", required=True)
    t.add_argument("--command", required=True)
    t.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    {"fill": fill, "compare": compare, "time": timing}[args.cmd](args)


if __name__ == "__main__":
    main()
