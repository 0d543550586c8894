//! Counters and latency histograms per command, their merge across clients, CPU
//! accounting from `/proc`, and the final report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The commands of the mix, one counter row each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Not a command: TCP connect until the server's greeting.
    Connect,
    Capability,
    Login,
    List,
    Status,
    Select,
    /// `UID FETCH 1:* (FLAGS)`: flags and UID of every message.
    FetchFlags,
    /// `FETCH set (UID ENVELOPE BODYSTRUCTURE BODY.PEEK[1])` for a few messages.
    FetchBody,
    /// `STORE n [+-]FLAGS (...)` of random flags and keywords.
    Store,
    /// `STORE set +FLAGS (\Deleted)`.
    StoreDeleted,
    Expunge,
    Append,
    /// `FETCH * (UID)` after APPEND when the server has no UIDPLUS.
    FetchUid,
    Logout,
}

impl Cmd {
    pub const ALL: [Cmd; 14] = [
        Cmd::Connect,
        Cmd::Capability,
        Cmd::Login,
        Cmd::List,
        Cmd::Status,
        Cmd::Select,
        Cmd::FetchFlags,
        Cmd::FetchBody,
        Cmd::Store,
        Cmd::StoreDeleted,
        Cmd::Expunge,
        Cmd::Append,
        Cmd::FetchUid,
        Cmd::Logout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cmd::Connect => "(connect)",
            Cmd::Capability => "CAPABILITY",
            Cmd::Login => "LOGIN",
            Cmd::List => "LIST",
            Cmd::Status => "STATUS",
            Cmd::Select => "SELECT",
            Cmd::FetchFlags => "FETCH flags",
            Cmd::FetchBody => "FETCH body",
            Cmd::Store => "STORE",
            Cmd::StoreDeleted => "STORE \\Deleted",
            Cmd::Expunge => "EXPUNGE",
            Cmd::Append => "APPEND",
            Cmd::FetchUid => "FETCH uid",
            Cmd::Logout => "LOGOUT",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Log-linear latency histogram in microseconds: 32 linear buckets per power of two
/// (about 3 % resolution), fixed size, mergeable.
#[derive(Clone)]
pub struct Hist {
    buckets: Vec<u64>,
    count: u64,
    sum_us: u64,
    max_us: u64,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const NBUCKETS: usize = (SUB as usize) * (64 - SUB_BITS as usize + 1);

impl Default for Hist {
    fn default() -> Self {
        Hist {
            buckets: vec![0; NBUCKETS],
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl Hist {
    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let e = 63 - v.leading_zeros(); // >= SUB_BITS
        let shift = e - SUB_BITS;
        let sub = (v >> shift) - SUB;
        (SUB + u64::from(shift) * SUB + sub) as usize
    }

    /// Midpoint of bucket `i`.
    fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB {
            return i;
        }
        let shift = (i - SUB) / SUB;
        let sub = (i - SUB) % SUB;
        let low = (SUB + sub) << shift;
        low + ((1u64 << shift) >> 1)
    }

    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Self::index(us)] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.count += o.count;
        self.sum_us = self.sum_us.saturating_add(o.sum_us);
        self.max_us = self.max_us.max(o.max_us);
    }

    /// The `q` quantile (0..=1) in microseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::value(i).min(self.max_us);
            }
        }
        self.max_us
    }

    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.count as f64
        }
    }
}

/// Figures of one command: completions (OK) timed, and NO / BAD answers.
#[derive(Clone, Default)]
pub struct CmdStats {
    pub hist: Hist,
    pub no: u64,
    pub bad: u64,
}

/// Everything one client counted; clients' stats are merged at the end.
#[derive(Clone)]
pub struct Stats {
    pub cmds: Vec<CmdStats>,
    /// Protocol violations by kind (state checks that failed, malformed answers).
    pub violations: BTreeMap<&'static str, u64>,
    /// Connection errors by kind (connect, EOF, timeout, BYE, ...).
    pub conn_errors: BTreeMap<&'static str, u64>,
    /// Facts about the server that change what the tool sends (no LITERAL+, ...).
    pub notes: BTreeMap<&'static str, u64>,
    pub rounds: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            cmds: vec![CmdStats::default(); Cmd::ALL.len()],
            violations: BTreeMap::new(),
            conn_errors: BTreeMap::new(),
            notes: BTreeMap::new(),
            rounds: 0,
        }
    }
}

impl Stats {
    pub fn cmd(&mut self, c: Cmd) -> &mut CmdStats {
        &mut self.cmds[c.index()]
    }

    pub fn violation(&mut self, kind: &'static str) {
        *self.violations.entry(kind).or_default() += 1;
    }

    pub fn conn_error(&mut self, kind: &'static str) {
        *self.conn_errors.entry(kind).or_default() += 1;
    }

    pub fn note(&mut self, what: &'static str) {
        *self.notes.entry(what).or_default() += 1;
    }

    pub fn merge(&mut self, o: &Stats) {
        for (a, b) in self.cmds.iter_mut().zip(&o.cmds) {
            a.hist.merge(&b.hist);
            a.no += b.no;
            a.bad += b.bad;
        }
        for (k, v) in &o.violations {
            *self.violations.entry(k).or_default() += v;
        }
        for (k, v) in &o.conn_errors {
            *self.conn_errors.entry(k).or_default() += v;
        }
        for (k, v) in &o.notes {
            *self.notes.entry(k).or_default() += v;
        }
        self.rounds += o.rounds;
    }
}

/// Linux reports /proc CPU times in USER_HZ ticks, which is 100 on every architecture
/// the kernel's ABI exposes (sysconf(_SC_CLK_TCK) would need `unsafe`).
const TICKS_PER_SEC: f64 = 100.0;

/// Fields 14..=17 of `/proc/PID/stat`: utime, stime, cutime, cstime, and the ppid.
fn proc_stat(pid: u32) -> Option<(u32, [u64; 4])> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // after[0] is field 3 (state); field k is after[k - 3]
    let ppid = f.get(1)?.parse().ok()?;
    let mut t = [0u64; 4];
    for (i, slot) in t.iter_mut().enumerate() {
        *slot = f.get(11 + i)?.parse().ok()?;
    }
    Some((ppid, t))
}

/// CPU seconds (user + system) used so far by this process.
pub fn self_cpu() -> Option<f64> {
    let (_, t) = proc_stat(std::process::id())?;
    Some((t[0] + t[1]) as f64 / TICKS_PER_SEC)
}

/// CPU seconds of `root` and every live descendant (utime + stime + cutime + cstime of
/// each: children that exited and were reaped land in their parent's cutime/cstime).
pub fn tree_cpu(root: u32) -> Option<f64> {
    let mut parent = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((ppid, t)) = proc_stat(pid) {
            parent.push((pid, ppid, t.iter().sum::<u64>()));
        }
    }
    let mut inside = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, ppid, _) in &parent {
            if inside.contains(&ppid) && !inside.contains(&pid) {
                inside.push(pid);
                grew = true;
            }
        }
    }
    if !parent.iter().any(|&(pid, _, _)| pid == root) {
        return None;
    }
    let ticks: u64 = parent
        .iter()
        .filter(|(pid, _, _)| inside.contains(pid))
        .map(|&(_, _, t)| t)
        .sum();
    Some(ticks as f64 / TICKS_PER_SEC)
}

/// What the report needs beyond the merged stats.
pub struct RunInfo {
    pub header: String,
    pub secs: f64,
    pub self_cpu_s: Option<f64>,
    pub server_cpu_s: Option<f64>,
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// The final report as text.
pub fn report(s: &Stats, info: &RunInfo) -> String {
    let mut o = String::new();
    let secs = info.secs.max(1e-9);
    let total: u64 = Cmd::ALL
        .iter()
        .filter(|&&c| c != Cmd::Connect)
        .map(|&c| s.cmds[c.index()].hist.count)
        .sum();
    let _ = writeln!(o, "{}", info.header);
    let _ = writeln!(
        o,
        "{:<15} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "command", "ok", "cmds/s", "mean ms", "p50 ms", "p99 ms", "max ms", "NO", "BAD"
    );
    for c in Cmd::ALL {
        let st = &s.cmds[c.index()];
        if st.hist.count == 0 && st.no == 0 && st.bad == 0 {
            continue;
        }
        let h = &st.hist;
        let _ = writeln!(
            o,
            "{:<15} {:>9} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>6} {:>6}",
            c.name(),
            h.count,
            h.count as f64 / secs,
            ms(h.mean_us()),
            ms(h.quantile(0.5) as f64),
            ms(h.quantile(0.99) as f64),
            ms(h.max_us as f64),
            st.no,
            st.bad
        );
    }
    let (no, bad): (u64, u64) = s.cmds.iter().fold((0, 0), |a, c| (a.0 + c.no, a.1 + c.bad));
    let _ = writeln!(
        o,
        "{:<15} {:>9} {:>10.1} {:>49} {:>6} {:>6}",
        "total",
        total,
        total as f64 / secs,
        "",
        no,
        bad
    );
    let _ = writeln!(o, "rounds: {} ({:.1}/s)", s.rounds, s.rounds as f64 / secs);
    let list = |m: &BTreeMap<&'static str, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let nv: u64 = s.violations.values().sum();
    let nc: u64 = s.conn_errors.values().sum();
    let _ = writeln!(o, "protocol violations: {nv} ({})", list(&s.violations));
    let _ = writeln!(o, "connection errors: {nc} ({})", list(&s.conn_errors));
    for k in s.notes.keys() {
        let _ = writeln!(o, "note: {k}");
    }
    match info.self_cpu_s {
        Some(c) => {
            let _ = writeln!(
                o,
                "load tool CPU: {c:.2} s user+sys = {:.0} % of wall ({} cores)",
                100.0 * c / secs,
                std::thread::available_parallelism().map_or(0, |n| n.get())
            );
        }
        None => {
            let _ = writeln!(o, "load tool CPU: unavailable (/proc/self/stat)");
        }
    }
    if let Some(c) = info.server_cpu_s {
        let per = if total > 0 {
            c * 1e6 / total as f64
        } else {
            0.0
        };
        let _ = writeln!(
            o,
            "server CPU: {c:.2} s = {:.0} % of wall, {per:.0} us/command",
            100.0 * c / secs
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_round_trip() {
        for v in [
            0u64,
            1,
            31,
            32,
            33,
            63,
            64,
            100,
            1000,
            12_345,
            1 << 40,
            u64::MAX >> 1,
        ] {
            let i = Hist::index(v);
            assert!(i < NBUCKETS);
            let mid = Hist::value(i);
            assert!(mid.abs_diff(v) <= v / 16 + 1, "{v} -> {mid}");
        }
        let mut h = Hist::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        assert!(h.quantile(0.5).abs_diff(500) <= 20);
        assert!(h.quantile(0.99).abs_diff(990) <= 40);
        assert_eq!(h.quantile(1.0), 1000);
    }

    #[test]
    fn own_cpu_is_readable() {
        assert!(self_cpu().is_some());
        assert!(tree_cpu(std::process::id()).is_some());
    }
}
