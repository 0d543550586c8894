#!/usr/bin/env python3
"""Helper of scripts/import-dovecot.sh (stdlib only).

  fill --port P --users user1,user2     fill a Dovecot over IMAP: folders (nested, non-ASCII),
                                        messages with flags, keywords and dates, gaps in the
                                        UIDs (expunges), a large message, subscriptions
  dump --imap-port P --pop3-port Q --users ...   everything a client sees, as JSON on stdout:
                                        LIST, LSUB, per mailbox UIDVALIDITY, UIDNEXT, and per
                                        message UID, flags (without \\Recent), keywords,
                                        RFC822.SIZE, INTERNALDATE (epoch), SHA-256 of BODY[];
                                        POP3 UIDL and LIST
  compare BEFORE AFTER                  the same, with the mailboxes every new account gets
                                        (Drafts, Sent, Trash, Junk) allowed in AFTER only
"""
import argparse
import hashlib
import imaplib
import json
import poplib
import re
import sys
import time

PASSWORD = "pass"
DEFAULT_MAILBOXES = {"Drafts", "Sent", "Trash", "Junk"}


def message(user, n, big=False):
    body = f"message {n} of {user}\r\nsecond line\r\n"
    if big:
        body += ("0123456789abcdef" * 4 + "\r\n") * 40000  # about 2.6 MB
    return (
        f"From: sender{n}@example.org\r\nTo: {user}@example.org\r\n"
        f"Subject: test {n} for {user}\r\nMessage-ID: <{n}.{user}@example.org>\r\n"
        f"Date: Mon, 7 Dec 2026 10:{n % 60:02d}:00 +0000\r\n\r\n{body}"
    ).encode()


def check(typ, data, what):
    if typ != "OK":
        sys.exit(f"{what}: {typ} {data}")
    return data


def fill(a):
    for k, user in enumerate(a.users.split(",")):
        m = imaplib.IMAP4("127.0.0.1", a.port)
        check(*m.login(user, PASSWORD), "login")
        folders = ["INBOX", "Archive", "Archive/2024", "Entw&APw-rfe", "Sent"]
        for f in folders[1:]:
            check(*m.create(f), f"create {f}")
        for f in ["Archive/2024", "Entw&APw-rfe", "INBOX"]:
            check(*m.subscribe(f), f"subscribe {f}")
        n = 0
        flag_sets = ["", "\\Seen", "\\Seen \\Answered", "\\Flagged $Label1", "\\Draft",
                     "\\Seen $Forwarded Junk", "\\Deleted", "$Label1 $Label2 NonJunk"]
        for fi, f in enumerate(folders):
            count = 12 if f == "INBOX" else 4 + fi
            for i in range(count):
                n += 1
                flags = flag_sets[(i + k) % len(flag_sets)]
                date = imaplib.Time2Internaldate(1700000000 + n * 3600 + k)
                big = f == "INBOX" and i == 3
                check(*m.append(f, f"({flags})" if flags else None, date,
                                message(user, n, big)), f"append {f}")
            # Gaps: expunge a few messages (never the newest, then the newest too, so
            # UIDNEXT stays above the last UID in some folders).
            check(*m.select(f), f"select {f}")
            check(*m.uid("STORE", "2,5", "+FLAGS.SILENT", "(\\Deleted)"), "store")
            if f == "Archive":
                check(*m.uid("STORE", str(count), "+FLAGS.SILENT", "(\\Deleted)"), "store")
            typ, _ = m.expunge()
            check(typ, _, "expunge")
            # A flag change after the append, so that Dovecot renames the file.
            check(*m.uid("STORE", "1", "+FLAGS.SILENT", "(\\Flagged)"), "store")
        m.logout()


def parse_list(lines):
    out = []
    for line in lines:
        if line is None:
            continue
        s = line.decode() if isinstance(line, bytes) else line
        mm = re.match(r'\((.*?)\) (?:"(.)"|NIL) (.*)$', s)
        if not mm:
            sys.exit(f"cannot parse LIST line {s!r}")
        name = mm.group(3)
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out.append(name)
    return sorted(out)


def dump_user(a, user):
    m = imaplib.IMAP4("127.0.0.1", a.imap_port)
    check(*m.login(user, PASSWORD), "login")
    boxes = parse_list(check(*m.list(), "LIST"))
    subs = parse_list(check(*m.lsub(), "LSUB"))
    out = {"list": boxes, "lsub": subs, "mailboxes": {}}
    for b in boxes:
        q = '"' + b + '"'
        st = check(*m.status(q, "(UIDVALIDITY UIDNEXT MESSAGES)"), "STATUS")[0].decode()
        uv = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))
        un = int(re.search(r"UIDNEXT (\d+)", st).group(1))
        check(*m.select(q, readonly=True), f"EXAMINE {b}")
        msgs = {}
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])")
        check(typ, data, "FETCH")
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = re.search(r"FLAGS \((.*?)\)", head).group(1).split()
            flags = sorted(f for f in flags if f != "\\Recent")
            size = int(re.search(r"RFC822.SIZE (\d+)", head).group(1))
            idate = time.mktime(imaplib.Internaldate2tuple(item[0]))
            msgs[str(uid)] = {
                "flags": flags,
                "size": size,
                "internaldate": idate,
                "sha256": hashlib.sha256(item[1]).hexdigest(),
                "octets": len(item[1]),
            }
        out["mailboxes"][b] = {"uidvalidity": uv, "uidnext": un, "messages": msgs}
    m.logout()
    p = poplib.POP3("127.0.0.1", a.pop3_port)
    p.user(user)
    p.pass_(PASSWORD)
    out["pop3_uidl"] = [x.decode() for x in p.uidl()[1]]
    out["pop3_list"] = [x.decode() for x in p.list()[1]]
    p.quit()
    return out


def dump(a):
    json.dump({u: dump_user(a, u) for u in a.users.split(",")}, sys.stdout, indent=1,
              sort_keys=True)


def compare(a):
    before = json.load(open(a.before))
    after = json.load(open(a.after))
    bad = []
    msgs = 0
    for user, b in before.items():
        x = after.get(user)
        if x is None:
            bad.append(f"{user}: missing after the import")
            continue
        extra = set(x["list"]) - set(b["list"])
        if not set(b["list"]) <= set(x["list"]) or not extra <= DEFAULT_MAILBOXES:
            bad.append(f"{user}: LIST {b['list']} became {x['list']}")
        if b["lsub"] != x["lsub"]:
            bad.append(f"{user}: LSUB {b['lsub']} became {x['lsub']}")
        for name, mb in b["mailboxes"].items():
            xm = x["mailboxes"].get(name)
            if xm is None:
                bad.append(f"{user} {name}: missing")
                continue
            for key in ["uidvalidity", "uidnext"]:
                if mb[key] != xm[key]:
                    bad.append(f"{user} {name}: {key} {mb[key]} became {xm[key]}")
            if sorted(mb["messages"]) != sorted(xm["messages"]):
                bad.append(f"{user} {name}: UIDs {sorted(mb['messages'], key=int)} "
                           f"became {sorted(xm['messages'], key=int)}")
            for uid, m in mb["messages"].items():
                msgs += 1
                if uid in xm["messages"] and m != xm["messages"][uid]:
                    bad.append(f"{user} {name} UID {uid}: {m} became {xm['messages'][uid]}")
        for key in ["pop3_uidl", "pop3_list"]:
            if b[key] != x[key]:
                bad.append(f"{user}: {key} {b[key]} became {x[key]}")
    for line in bad:
        print("DIFFERENT:", line)
    if bad:
        sys.exit(1)
    users = len(before)
    print(f"identical: {users} accounts, {msgs} messages (UID, flags, keywords, size, "
          "internal date, content), UIDVALIDITY/UIDNEXT, LIST, LSUB, POP3 UIDL and LIST")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fill")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--users", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--imap-port", type=int, required=True)
    d.add_argument("--pop3-port", type=int, required=True)
    d.add_argument("--users", required=True)
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    a = ap.parse_args()
    {"fill": fill, "dump": dump, "compare": compare}[a.cmd](a)


if __name__ == "__main__":
    main()
