#!/usr/bin/env python3
"""Writes N threaded sample messages into each given Maildir's new/ (as an MTA would), the
same files in each: varied senders, subjects (replies with "Re: "), sent dates over three
years in several zones, Message-ID, In-Reply-To and References chains (40 % replies to
one of the 2000 messages before them). Used by benches/sort-thread-scale.sh to time SORT
and THREAD on a large mailbox. Owner of the files: the owner of each MAILDIR's parent.

Usage: sort-thread-scale.py --n 100000 MAILDIR [MAILDIR ...]
"""
import argparse
import os
import random
import socket
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=100000)
p.add_argument("--seed", type=int, default=11)
p.add_argument("maildirs", nargs="+")
a = p.parse_args()

rnd = random.Random(a.seed)
NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Zoë", "José", "Jürgen", "Søren", "Łukasz"]
TOPICS = [f"topic {i} {w}" for i, w in enumerate(
    ["budget", "release", "meeting", "Réunion", "deploy", "invoice", "review", "Grüße"] * 250)]
ZONES = [timezone(timedelta(hours=h)) for h in (-8, -5, 0, 1, 2, 9)]
base = datetime(2023, 1, 1, tzinfo=timezone.utc)
host = socket.gethostname()
dirs = []
for m in a.maildirs:
    st = os.stat(os.path.dirname(m.rstrip("/")))
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(m, d), exist_ok=True)
        os.chown(os.path.join(m, d), st.st_uid, st.st_gid)
    os.chown(m, st.st_uid, st.st_gid)
    dirs.append((m, st.st_uid, st.st_gid))
msgs = []  # (message-id, references, subject)
t0 = int(time.time()) - a.n
for i in range(a.n):
    who = rnd.randrange(len(NAMES) * 50)
    name = NAMES[who % len(NAMES)]
    mid = f"m{i}@bench"
    if msgs and rnd.random() < 0.4:
        j = rnd.randrange(max(0, len(msgs) - 2000), len(msgs))
        pmid, prefs, psubj = msgs[j]
        refs = (prefs + [pmid])[-10:]
        subj = psubj if psubj.startswith("Re: ") else "Re: " + psubj
    else:
        refs = []
        subj = rnd.choice(TOPICS)
    msgs.append((mid, refs, subj))
    date = (base + timedelta(seconds=rnd.randrange(3 * 365 * 86400))).astimezone(rnd.choice(ZONES))
    head = (f"From: {name} <user{who}@example.org>\r\nTo: list{who % 7}@example.net\r\n"
            f"Subject: {subj}\r\nDate: {format_datetime(date)}\r\nMessage-ID: <{mid}>\r\n")
    if refs:
        head += f"In-Reply-To: <{refs[-1]}>\r\nReferences: " + " ".join(f"<{r}>" for r in refs) + "\r\n"
    body = ("text of the message %d\r\n" % i) * rnd.randint(2, 20)
    data = (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()
    fname = f"{t0 + i}.P{os.getpid()}Q{i}.{host}"
    for m, uid, gid in dirs:
        path = os.path.join(m, "new", fname)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, uid, gid)
print(f"wrote {a.n} messages into {len(dirs)} Maildirs")
