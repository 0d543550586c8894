//! One simulated client: its connection, its view of the selected mailbox, the round
//! of commands it sends, and the state checks it makes on the answers.
//!
//! Architecture invariant: everything the server sends goes through [`Client::recv`],
//! which frames it ([`crate::reader`]), classifies it ([`crate::parse`]) and applies it
//! to the session view before any command logic looks at it. A malformed answer is
//! counted and skipped; only framing, I/O and time-out errors end the connection.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::parse::{self, Code, Fetch, Resp, Status};
use crate::reader::{self, Limits, ReadError};
use crate::stats::{Cmd, Stats};

/// Settings shared by all clients.
pub struct Shared {
    pub host: String,
    pub port: u16,
    pub pass: String,
    pub mailbox: String,
    pub cycle: bool,
    /// Commands completing before this are not counted (warm-up).
    pub measure_from: Instant,
    /// No round starts after this; commands completing later are not counted.
    pub end: Instant,
    /// Connections still busy at this point are dropped.
    pub hard_end: Instant,
    /// Longest wait for one response.
    pub timeout: Duration,
    /// Each client has a user of its own: cross-session checks are exact.
    pub own_user: bool,
    /// Sample messages for APPEND, CRLF line ends.
    pub messages: Vec<Vec<u8>>,
    pub limits: Limits,
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum SessErr {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("write: {0}")]
    Write(std::io::Error),
    #[error("no response within the time-out")]
    Timeout,
    #[error("the run is over")]
    Stopped,
    #[error("unexpected BYE")]
    Bye,
    #[error("greeting is not OK")]
    Greeting,
    #[error("LOGIN refused")]
    Login,
}

impl SessErr {
    fn kind(&self) -> &'static str {
        match self {
            SessErr::Connect(_) => "connect",
            SessErr::Read(ReadError::Eof) => "closed-by-server",
            SessErr::Read(ReadError::LineTooLong(_) | ReadError::LiteralTooLarge(_)) => {
                "response-too-large"
            }
            SessErr::Read(ReadError::Io(_)) | SessErr::Write(_) => "io",
            SessErr::Timeout => "timeout",
            SessErr::Stopped => "stopped",
            SessErr::Bye => "unexpected-bye",
            SessErr::Greeting => "bad-greeting",
            SessErr::Login => "login-refused",
        }
    }
}

// Flag bits. `\Recent` is ignored (it is per session); any flag outside this list
// sets OTHER.
const SEEN: u32 = 1;
const DELETED: u32 = 1 << 4;
const FLAG_NAMES: [&[u8]; 9] = [
    b"\\Seen",
    b"\\Answered",
    b"\\Flagged",
    b"\\Draft",
    b"\\Deleted",
    b"$lg0",
    b"$lg1",
    b"$lg2",
    b"$lg3",
];
const SYSTEM_RANDOM: u32 = 0b1111; // \Seen \Answered \Flagged \Draft
const KEYWORDS: u32 = 0b1111 << 5;
const OTHER: u32 = 1 << 31;

fn flag_mask(flags: &[&[u8]]) -> u32 {
    let mut m = 0;
    for f in flags {
        if f.eq_ignore_ascii_case(b"\\Recent") {
            continue;
        }
        match FLAG_NAMES.iter().position(|n| n.eq_ignore_ascii_case(f)) {
            Some(i) => m |= 1 << i,
            None => m |= OTHER,
        }
    }
    m
}

fn flag_list(m: u32) -> Vec<u8> {
    let mut v = b"(".to_vec();
    for (i, n) in FLAG_NAMES.iter().enumerate() {
        if m & (1 << i) != 0 {
            if v.len() > 1 {
                v.push(b' ');
            }
            v.extend_from_slice(n);
        }
    }
    v.push(b')');
    v
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// A flag change we expect to see in the untagged FETCH that answers our STORE.
struct StoreCheck {
    cmd: Cmd,
    seq: u32,
    must_set: u32,
    must_clear: u32,
    /// The STORE changes the flags we know, so a FETCH answer is due.
    changes: bool,
    seen: bool,
}

/// The session's view of the selected mailbox, kept from untagged responses.
#[derive(Default)]
struct View {
    /// Between sending SELECT and its OK: responses about the old selection are ignored.
    selecting: bool,
    exists: u32,
    /// Index = sequence number - 1.
    uids: Vec<Option<u32>>,
    flags: Vec<Option<u32>>,
    uidnext: Option<u32>,
    uidvalidity: Option<u32>,
    new_keywords: bool,
    /// UIDs (if known) of the messages EXPUNGE responses removed, not yet checked.
    expunged: Vec<Option<u32>>,
    /// UIDs that carry \Deleted and must go at the next EXPUNGE.
    expect_expunge: Vec<u32>,
    store_checks: Vec<StoreCheck>,
    /// Sequence numbers whose ENVELOPE/BODYSTRUCTURE/BODY[1] are still due.
    body_due: Vec<u32>,
}

impl View {
    fn deleted_uids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .uids
            .iter()
            .zip(&self.flags)
            .filter_map(|(u, f)| match (u, f) {
                (Some(u), Some(f)) if f & DELETED != 0 => Some(*u),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v
    }
}

/// What a client remembers about its mailbox across sessions (cycle mode, reconnects).
#[derive(Default)]
struct Memory {
    uidvalidity: Option<u32>,
    /// Highest UID seen in any answer.
    max_uid: u32,
    expunged: HashSet<u32>,
    /// Flags of every message at the end of the last full FETCH (own-user mode).
    flags: std::collections::HashMap<u32, u32>,
    /// Mailbox size at the first SELECT, kept by deleting about one message a round.
    target: Option<u32>,
    last_append: Option<u32>,
    /// (LITERAL+, UIDPLUS) as found after the first LOGIN.
    caps: Option<(bool, bool)>,
}

struct Session {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    buf: Vec<u8>,
    tag: u32,
    caps: Option<Vec<u8>>,
    literal_plus: bool,
    uidplus: bool,
    bye: bool,
    view: View,
}

/// A command to send: its text after the tag, and an optional literal at its end.
struct Out<'m> {
    cmd: Cmd,
    text: Vec<u8>,
    literal: Option<&'m [u8]>,
}

impl Out<'_> {
    fn new(cmd: Cmd, text: impl Into<Vec<u8>>) -> Self {
        Out {
            cmd,
            text: text.into(),
            literal: None,
        }
    }
}

struct Pending {
    tag: String,
    cmd: Cmd,
    sent: Instant,
    status: Option<Status>,
    appenduid: Option<(u32, u32)>,
}

/// The outcome of one command.
struct Done {
    cmd: Cmd,
    status: Status,
}

enum Ev {
    Continue,
    Done(usize),
    Other,
}

pub struct Client {
    sh: Arc<Shared>,
    user: String,
    rng: StdRng,
    stats: Stats,
    mem: Memory,
}

impl Client {
    pub fn new(sh: Arc<Shared>, user: String, rng: StdRng) -> Self {
        Client {
            sh,
            user,
            rng,
            stats: Stats::default(),
            mem: Memory::default(),
        }
    }

    /// Runs rounds until the end of the run, reconnecting after connection errors.
    pub async fn run(mut self) -> Stats {
        let mut sess: Option<Session> = None;
        while Instant::now() < self.sh.end {
            let r = async {
                let s = match sess.as_mut() {
                    Some(s) => s,
                    None => sess.insert(self.connect().await?),
                };
                self.round(s).await?;
                if self.sh.cycle {
                    if let Some(mut s) = sess.take() {
                        self.logout(&mut s).await?;
                    }
                }
                Ok::<(), SessErr>(())
            }
            .await;
            match r {
                Ok(()) => {
                    if self.in_window(Instant::now()) {
                        self.stats.rounds += 1;
                    }
                }
                Err(SessErr::Stopped) => break,
                Err(e) => {
                    if Instant::now() < self.sh.end {
                        self.stats.conn_error(e.kind());
                    }
                    sess = None;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if let Some(mut s) = sess {
            let _ = self.logout(&mut s).await;
        }
        self.stats
    }

    fn in_window(&self, t: Instant) -> bool {
        t >= self.sh.measure_from && t <= self.sh.end
    }

    async fn connect(&mut self) -> Result<Session, SessErr> {
        let addr = (self.sh.host.as_str(), self.sh.port);
        let t0 = Instant::now();
        let stream = tokio::time::timeout(self.sh.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| SessErr::Timeout)?
            .map_err(SessErr::Connect)?;
        stream.set_nodelay(true).map_err(SessErr::Connect)?;
        let (rd, wr) = stream.into_split();
        let mut s = Session {
            rd: BufReader::with_capacity(64 * 1024, rd),
            wr,
            buf: Vec::with_capacity(64 * 1024),
            tag: 0,
            caps: None,
            literal_plus: false,
            uidplus: false,
            bye: false,
            view: View::default(),
        };
        self.read(&mut s).await?;
        let now = Instant::now();
        if self.in_window(now) {
            self.stats.cmd(Cmd::Connect).hist.record(now - t0);
        }
        match parse::response(&s.buf) {
            Ok(Resp::Cond {
                status: Status::Ok,
                code,
            }) => {
                if let Some(Code::Capability(c)) = code {
                    s.caps = Some(c.to_vec());
                }
            }
            _ => return Err(SessErr::Greeting),
        }
        // capabilities may change with LOGIN; only those seen after it count
        s.caps = None;
        let login = format!("LOGIN {} {}", quote(&self.user), quote(&self.sh.pass));
        let done = self.exec(&mut s, vec![Out::new(Cmd::Login, login)]).await?;
        if done.first().map(|d| d.status) != Some(Status::Ok) {
            return Err(SessErr::Login);
        }
        if self.mem.caps.is_none() {
            if s.caps.is_none() {
                self.exec(&mut s, vec![Out::new(Cmd::Capability, "CAPABILITY")])
                    .await?;
            }
            let caps = s.caps.take().unwrap_or_default();
            let lp = parse::has_cap(&caps, b"LITERAL+");
            let up = parse::has_cap(&caps, b"UIDPLUS");
            if !lp {
                self.stats
                    .note("no LITERAL+: APPEND waits for the continuation");
            }
            if !up {
                self.stats.note("no UIDPLUS: FETCH * (UID) after APPEND");
            }
            self.mem.caps = Some((lp, up));
        }
        if let Some((lp, up)) = self.mem.caps {
            s.literal_plus = lp;
            s.uidplus = up;
        }
        Ok(s)
    }

    async fn logout(&mut self, s: &mut Session) -> Result<(), SessErr> {
        match self.exec(s, vec![Out::new(Cmd::Logout, "LOGOUT")]).await {
            Ok(_) => Ok(()),
            Err(SessErr::Read(ReadError::Eof)) if s.bye => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One round of the mix (see the crate docs).
    async fn round(&mut self, s: &mut Session) -> Result<(), SessErr> {
        let sh = Arc::clone(&self.sh);
        let mbox = quote(&sh.mailbox);

        // 1: LIST (50 %), STATUS (50 %), SELECT, flags + UID of all messages, pipelined
        let mut outs = Vec::with_capacity(4);
        if self.rng.random_bool(0.5) {
            outs.push(Out::new(Cmd::List, "LIST \"\" \"*\""));
        }
        if self.rng.random_bool(0.5) {
            let t = format!("STATUS {mbox} (MESSAGES UIDNEXT UIDVALIDITY)");
            outs.push(Out::new(Cmd::Status, t));
        }
        outs.push(Out::new(Cmd::Select, format!("SELECT {mbox}")));
        outs.push(Out::new(Cmd::FetchFlags, "UID FETCH 1:* (FLAGS)"));
        s.view = View {
            selecting: true,
            ..View::default()
        };
        let done = self.exec(s, outs).await?;
        if !done
            .iter()
            .any(|d| d.cmd == Cmd::FetchFlags && d.status == Status::Ok)
        {
            // counted as NO/BAD; do not spin against a server that refuses
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(());
        }

        // 2: a few bodies, a flag change, about one deletion, pipelined
        let n = s.view.exists;
        let target = self.mem.target.unwrap_or(n);
        let ndel: u32 = match n.cmp(&target) {
            _ if n == 0 => 0,
            std::cmp::Ordering::Greater => 2,
            std::cmp::Ordering::Equal => 1,
            std::cmp::Ordering::Less => 0,
        };
        let nbody: u32 = if n > 0 {
            self.rng.random_range(1..=3)
        } else {
            0
        };
        let store = n > 0 && self.rng.random_bool(0.5);
        let want = (ndel + nbody + u32::from(store)).min(n);
        let mut picks: Vec<u32> =
            rand::seq::index::sample(&mut self.rng, n as usize, want as usize)
                .into_iter()
                .map(|i| i as u32 + 1)
                .collect();
        let del: Vec<u32> = picks.drain(..(ndel.min(want) as usize)).collect();
        let store_seq = if store { picks.pop() } else { None };
        let body = picks;

        let mut outs = Vec::with_capacity(5);
        if !body.is_empty() {
            let set = seq_set(&body);
            outs.push(Out::new(
                Cmd::FetchBody,
                format!("FETCH {set} (UID ENVELOPE BODYSTRUCTURE BODY.PEEK[1])"),
            ));
            s.view.body_due = body;
        }
        if let Some(seq) = store_seq {
            let allowed = SYSTEM_RANDOM | if s.view.new_keywords { KEYWORDS } else { 0 };
            let m = self.rng.random::<u32>() & allowed;
            let old = s.view.flags.get(seq as usize - 1).copied().flatten();
            let (op, must_set, must_clear) = match (self.rng.random_range(0..3), old) {
                (0, _) => ("FLAGS", m, !m & !OTHER),
                (1, _) => ("+FLAGS", m | old.unwrap_or(0), 0),
                (_, Some(o)) => ("-FLAGS", o & !m, m),
                (_, None) => ("-FLAGS", 0, m),
            };
            let mut t = format!("STORE {seq} {op} ").into_bytes();
            t.extend_from_slice(&flag_list(m));
            outs.push(Out::new(Cmd::Store, t));
            // a server need not answer a STORE that changes nothing with a FETCH
            let changes = old.is_some_and(|o| {
                let new = (o | must_set) & !must_clear;
                new != o
            });
            s.view.store_checks.push(StoreCheck {
                cmd: Cmd::Store,
                seq,
                must_set,
                must_clear,
                changes,
                seen: false,
            });
        }
        if !del.is_empty() {
            outs.push(Out::new(
                Cmd::StoreDeleted,
                format!("STORE {} +FLAGS (\\Deleted)", seq_set(&del)),
            ));
            for &seq in &del {
                let old = s.view.flags.get(seq as usize - 1).copied().flatten();
                s.view.store_checks.push(StoreCheck {
                    cmd: Cmd::StoreDeleted,
                    seq,
                    must_set: DELETED | old.unwrap_or(0),
                    must_clear: 0,
                    changes: old.is_some_and(|o| o & DELETED == 0),
                    seen: false,
                });
            }
        }
        if !outs.is_empty() {
            self.exec(s, outs).await?;
        }

        // 3: EXPUNGE and APPEND, pipelined; EXPUNGE depends on the STOREs' outcome, so it waits for them (RFC 3501
        // section 5.5: no pipelining where one command affects another's result)
        s.view.expect_expunge = s.view.deleted_uids();
        let mut outs = Vec::with_capacity(2);
        outs.push(Out::new(Cmd::Expunge, "EXPUNGE"));
        let msg_ix = self.rng.random_range(0..sh.messages.len());
        let msg = &sh.messages[msg_ix];
        outs.push(Out {
            cmd: Cmd::Append,
            text: [format!("APPEND {mbox} ").as_bytes(), &flag_list(SEEN)].concat(),
            literal: Some(msg),
        });
        let before_append = self.mem.max_uid;
        let done = self.exec(s, outs).await?;
        self.remember_flags(&s.view);
        let appended = done
            .iter()
            .any(|d| d.cmd == Cmd::Append && d.status == Status::Ok);
        if appended && !s.uidplus {
            let done = self
                .exec(s, vec![Out::new(Cmd::FetchUid, "FETCH * (UID)")])
                .await?;
            if done.first().map(|d| d.status) == Some(Status::Ok) {
                match s.view.uids.last().copied().flatten() {
                    Some(uid) => self.check_append_uid(uid, before_append),
                    None => self.stats.violation("fetch-missing-items"),
                }
            }
        }
        Ok(())
    }

    fn check_append_uid(&mut self, uid: u32, before: u32) {
        if uid <= before || self.mem.last_append.is_some_and(|l| uid <= l) {
            self.stats.violation("append-uid-not-increasing");
        }
        if self.mem.expunged.contains(&uid) {
            self.stats.violation("uid-reused");
        }
        self.mem.max_uid = self.mem.max_uid.max(uid);
        self.mem.last_append = Some(uid);
    }

    /// Sends `outs` pipelined (waiting for `+` only before a synchronizing literal) and
    /// reads until every one of them has its tagged answer.
    async fn exec(&mut self, s: &mut Session, outs: Vec<Out<'_>>) -> Result<Vec<Done>, SessErr> {
        let mut pending: Vec<Pending> = Vec::with_capacity(outs.len());
        let mut unsent = 0;
        let mut w: Vec<u8> = Vec::new();
        for out in outs {
            s.tag += 1;
            let tag = format!("a{}", s.tag);
            w.extend_from_slice(tag.as_bytes());
            w.push(b' ');
            w.extend_from_slice(&out.text);
            let idx = pending.len();
            pending.push(Pending {
                tag,
                cmd: out.cmd,
                sent: Instant::now(),
                status: None,
                appenduid: None,
            });
            match out.literal {
                None => w.extend_from_slice(b"\r\n"),
                Some(lit) if s.literal_plus => {
                    let _ = write!(w, " {{{}+}}\r\n", lit.len());
                    w.extend_from_slice(lit);
                    w.extend_from_slice(b"\r\n");
                }
                Some(lit) => {
                    let _ = write!(w, " {{{}}}\r\n", lit.len());
                    self.flush(s, &mut w, &mut pending, &mut unsent).await?;
                    let refused = loop {
                        match self.recv(s, &mut pending).await? {
                            Ev::Continue => break false,
                            Ev::Done(i) if i == idx => break true,
                            _ => {}
                        }
                    };
                    if !refused {
                        w.extend_from_slice(lit);
                        w.extend_from_slice(b"\r\n");
                    }
                }
            }
        }
        self.flush(s, &mut w, &mut pending, &mut unsent).await?;
        while pending.iter().any(|p| p.status.is_none()) {
            self.recv(s, &mut pending).await?;
        }
        Ok(pending
            .into_iter()
            .filter_map(|p| {
                Some(Done {
                    cmd: p.cmd,
                    status: p.status?,
                })
            })
            .collect())
    }

    async fn flush(
        &mut self,
        s: &mut Session,
        w: &mut Vec<u8>,
        pending: &mut [Pending],
        unsent: &mut usize,
    ) -> Result<(), SessErr> {
        if w.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        for p in &mut pending[*unsent..] {
            p.sent = now;
        }
        *unsent = pending.len();
        let left = self.sh.hard_end.saturating_duration_since(now);
        if left.is_zero() {
            return Err(SessErr::Stopped);
        }
        match tokio::time::timeout(self.sh.timeout.min(left), s.wr.write_all(w)).await {
            Err(_) if Instant::now() >= self.sh.hard_end => Err(SessErr::Stopped),
            Err(_) => Err(SessErr::Timeout),
            Ok(Err(e)) => Err(SessErr::Write(e)),
            Ok(Ok(())) => {
                w.clear();
                Ok(())
            }
        }
    }

    /// Reads one response into `s.buf`, bounded in size and time.
    async fn read(&mut self, s: &mut Session) -> Result<(), SessErr> {
        let left = self.sh.hard_end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SessErr::Stopped);
        }
        let lim = self.sh.limits;
        let r = reader::read_response(&mut s.rd, &mut s.buf, &lim);
        match tokio::time::timeout(self.sh.timeout.min(left), r).await {
            Err(_) if Instant::now() >= self.sh.hard_end => Err(SessErr::Stopped),
            Err(_) => Err(SessErr::Timeout),
            Ok(r) => Ok(r?),
        }
    }

    /// Reads and applies one response.
    async fn recv(&mut self, s: &mut Session, pending: &mut [Pending]) -> Result<Ev, SessErr> {
        self.read(s).await?;
        let buf = std::mem::take(&mut s.buf);
        let r = self.apply(s, &buf, pending);
        s.buf = buf;
        r
    }

    fn apply(
        &mut self,
        s: &mut Session,
        buf: &[u8],
        pending: &mut [Pending],
    ) -> Result<Ev, SessErr> {
        let resp = match parse::response(buf) {
            Ok(r) => r,
            Err(_) => {
                self.stats.violation("malformed-response");
                return Ok(Ev::Other);
            }
        };
        match resp {
            Resp::Continue => Ok(Ev::Continue),
            Resp::Tagged { tag, status, code } => {
                let Some(i) = pending
                    .iter()
                    .position(|p| p.status.is_none() && p.tag.as_bytes() == tag)
                else {
                    self.stats.violation("unknown-tag");
                    return Ok(Ev::Other);
                };
                let now = Instant::now();
                let p = &mut pending[i];
                p.status = Some(status);
                match code {
                    Some(Code::AppendUid { validity, uid }) => p.appenduid = Some((validity, uid)),
                    Some(Code::Capability(c)) => s.caps = Some(c.to_vec()),
                    _ => {}
                }
                let (cmd, sent, appenduid) = (p.cmd, p.sent, p.appenduid);
                if self.in_window(now) {
                    let st = self.stats.cmd(cmd);
                    match status {
                        Status::Ok => st.hist.record(now.saturating_duration_since(sent)),
                        Status::No => st.no += 1,
                        _ => st.bad += 1,
                    }
                }
                self.on_done(s, cmd, status, appenduid);
                Ok(Ev::Done(i))
            }
            Resp::Cond { status, code } => {
                match code {
                    Some(Code::UidNext(n)) => s.view.uidnext = Some(n),
                    Some(Code::UidValidity(n)) => s.view.uidvalidity = Some(n),
                    Some(Code::PermanentFlags { new_keywords }) => {
                        s.view.new_keywords = new_keywords;
                    }
                    Some(Code::Capability(c)) => s.caps = Some(c.to_vec()),
                    _ => {}
                }
                if status == Status::Bye {
                    s.bye = true;
                    if !pending.iter().any(|p| p.cmd == Cmd::Logout) {
                        return Err(SessErr::Bye);
                    }
                }
                Ok(Ev::Other)
            }
            Resp::Capability(c) => {
                s.caps = Some(c.to_vec());
                Ok(Ev::Other)
            }
            Resp::Status { uidnext } => {
                if uidnext.is_some_and(|u| u <= self.mem.max_uid) {
                    self.stats.violation("uidnext-not-above-known-uids");
                }
                Ok(Ev::Other)
            }
            Resp::Exists(n) => {
                let v = &mut s.view;
                if !v.selecting && n < v.exists {
                    self.stats.violation("exists-decreased");
                }
                v.exists = n;
                v.uids.resize(n as usize, None);
                v.flags.resize(n as usize, None);
                Ok(Ev::Other)
            }
            Resp::Expunge(n) => {
                let v = &mut s.view;
                if v.selecting {
                    return Ok(Ev::Other);
                }
                if n == 0 || n > v.exists {
                    self.stats.violation("expunge-past-exists");
                } else {
                    let i = n as usize - 1;
                    v.expunged.push(v.uids.remove(i));
                    v.flags.remove(i);
                    v.exists -= 1;
                }
                Ok(Ev::Other)
            }
            Resp::Fetch(seq, f) => {
                self.fetched(&mut s.view, seq, &f);
                Ok(Ev::Other)
            }
            Resp::Recent(_) | Resp::Other => Ok(Ev::Other),
        }
    }

    /// Applies and checks one untagged FETCH.
    fn fetched(&mut self, v: &mut View, seq: u32, f: &Fetch<'_>) {
        if v.selecting {
            return;
        }
        if seq == 0 || seq > v.exists {
            self.stats.violation("fetch-past-exists");
            return;
        }
        let i = seq as usize - 1;
        if let Some(uid) = f.uid {
            if self.mem.expunged.contains(&uid) {
                self.stats.violation("fetch-of-expunged-uid");
            }
            if v.uids[i].is_some_and(|u| u != uid) {
                self.stats.violation("uid-changed");
            }
            v.uids[i] = Some(uid);
            self.mem.max_uid = self.mem.max_uid.max(uid);
        }
        if let Some(fl) = &f.flags {
            let m = flag_mask(fl);
            v.flags[i] = Some(m);
            for c in v
                .store_checks
                .iter_mut()
                .filter(|c| c.seq == seq && !c.seen)
            {
                c.seen = true;
                if m & c.must_set != c.must_set || m & c.must_clear != 0 {
                    self.stats.violation("store-flags-not-as-set");
                }
            }
        }
        if f.envelope && f.bodystructure && f.body_part {
            v.body_due.retain(|&s| s != seq);
        }
    }

    /// Takes the view's flags as those the next session must find (own-user mode).
    fn remember_flags(&mut self, v: &View) {
        self.mem.flags.clear();
        for (u, f) in v.uids.iter().zip(&v.flags) {
            if let (Some(u), Some(f)) = (u, f) {
                self.mem.flags.insert(*u, *f);
            }
        }
    }

    /// Checks made when a command completes.
    fn on_done(
        &mut self,
        s: &mut Session,
        cmd: Cmd,
        status: Status,
        appenduid: Option<(u32, u32)>,
    ) {
        let ok = status == Status::Ok;
        let own = self.sh.own_user;
        let v = &mut s.view;
        match cmd {
            Cmd::Select if ok => {
                v.selecting = false;
                if let (Some(new), Some(old)) = (v.uidvalidity, self.mem.uidvalidity) {
                    if new != old {
                        self.stats.violation("uidvalidity-changed");
                        self.mem = Memory {
                            caps: self.mem.caps,
                            ..Memory::default()
                        };
                    }
                }
                self.mem.uidvalidity = v.uidvalidity;
                if v.uidnext.is_some_and(|u| u <= self.mem.max_uid) {
                    self.stats.violation("uidnext-not-above-known-uids");
                }
            }
            Cmd::FetchFlags if ok => {
                if v.uids.iter().any(Option::is_none) || v.flags.iter().any(Option::is_none) {
                    self.stats.violation("fetch-missing-items");
                }
                let mut last = 0;
                for u in v.uids.iter().flatten() {
                    if *u <= last {
                        self.stats.violation("uids-not-ascending");
                        break;
                    }
                    last = *u;
                }
                if own {
                    let kept = v.uids.iter().zip(&v.flags).all(|(u, f)| match (u, f) {
                        (Some(u), Some(f)) => self.mem.flags.get(u).is_none_or(|m| m == f),
                        _ => true,
                    });
                    if !kept {
                        self.stats.violation("flags-not-kept");
                    }
                    if let Some(a) = self.mem.last_append {
                        if !v.uids.contains(&Some(a)) && !self.mem.expunged.contains(&a) {
                            self.stats.violation("appended-uid-missing");
                        }
                    }
                }
                self.remember_flags(v);
                self.mem.target.get_or_insert(v.exists);
            }
            Cmd::FetchBody => {
                if ok && !v.body_due.is_empty() {
                    self.stats.violation("fetch-missing-items");
                }
                v.body_due.clear();
            }
            Cmd::Store | Cmd::StoreDeleted => {
                let missing = v
                    .store_checks
                    .iter()
                    .any(|c| c.cmd == cmd && c.changes && !c.seen);
                if ok && missing {
                    self.stats.violation("store-without-fetch");
                }
                v.store_checks.retain(|c| c.cmd != cmd);
            }
            Cmd::Expunge => {
                let gone: Vec<Option<u32>> = std::mem::take(&mut v.expunged);
                let expected = std::mem::take(&mut v.expect_expunge);
                let mut known: Vec<u32> = gone.iter().flatten().copied().collect();
                known.sort_unstable();
                if ok && own && (known != expected || known.len() != gone.len()) {
                    self.stats.violation("expunge-not-as-flagged");
                }
                for u in known {
                    self.mem.expunged.insert(u);
                    self.mem.flags.remove(&u);
                }
            }
            Cmd::Append if ok => {
                if let Some((validity, uid)) = appenduid {
                    if v.uidvalidity.is_some_and(|u| u != validity) {
                        self.stats.violation("appenduid-wrong-uidvalidity");
                    }
                    let before = self.mem.max_uid;
                    self.check_append_uid(uid, before);
                } else if s.uidplus {
                    self.stats.violation("append-without-appenduid");
                }
            }
            _ => {}
        }
    }
}

/// A sequence set `a,b,c` of the given numbers.
fn seq_set(seqs: &[u32]) -> String {
    let mut v = seqs.to_vec();
    v.sort_unstable();
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        let m = flag_mask(&[b"\\seen", b"\\Recent", b"$LG2", b"$other"]);
        assert_eq!(m, SEEN | (1 << 7) | OTHER);
        assert_eq!(flag_list(SEEN | (1 << 7)), b"(\\Seen $lg2)");
        assert_eq!(flag_list(0), b"()");
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(seq_set(&[5, 2, 9]), "2,5,9");
    }
}
