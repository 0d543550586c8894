//! [`MessageList`]: the messages of a mailbox at one moment, compact and shared.
//!
//! A backend keeps one list per open mailbox and hands out clones of it: a clone is two
//! reference counts, so a SELECT of a 1,000,000-message mailbox copies nothing, and every
//! session with the mailbox selected shares the same memory. A list changes copy-on-write
//! in chunks of [`CHUNK`] messages: changing one message's flags copies its chunk (about
//! 40 KiB) and the chunk table, not the mailbox; whoever still holds the old list keeps
//! seeing it unchanged.
//!
//! Each message is 40 octets: its keywords are an index into the list's keyword sets,
//! each distinct set stored once (most messages of a mailbox share a handful).
//!
//! Architecture invariant: messages are in strictly ascending UID order.

use crate::{Flags, MessageMeta, ModSeq, Uid};
use std::collections::HashMap;
use std::sync::Arc;

/// Messages per chunk: what one change copies.
pub const CHUNK: usize = 1024;

/// One message, packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    uid: Uid,
    kw: u32,
    modseq: ModSeq,
    date: i64,
    size: u64,
    tz: i32,
    flags: u8,
}

/// Distinct keyword sets, each stored once; only ever grows.
#[derive(Clone, Debug)]
struct KeywordSets {
    sets: Vec<Arc<[String]>>,
    index: HashMap<Arc<[String]>, u32>,
}

impl Default for KeywordSets {
    fn default() -> KeywordSets {
        let empty: Arc<[String]> = Arc::from(Vec::new());
        let mut index = HashMap::new();
        index.insert(Arc::clone(&empty), 0);
        KeywordSets {
            sets: vec![empty],
            index,
        }
    }
}

impl KeywordSets {
    fn find(&self, k: &[String]) -> Option<u32> {
        if k.is_empty() {
            return Some(0);
        }
        self.index.get(k).copied()
    }

    fn add(&mut self, k: Vec<String>) -> u32 {
        let i = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        let set: Arc<[String]> = Arc::from(k);
        self.sets.push(Arc::clone(&set));
        self.index.insert(set, i);
        i
    }

    fn get(&self, i: u32) -> &[String] {
        self.sets.get(i as usize).map(|s| &s[..]).unwrap_or(&[])
    }
}

/// The chunks and where each starts.
#[derive(Clone, Debug, Default)]
struct Chunks {
    chunks: Vec<Arc<Vec<Entry>>>,
    /// `starts[i]`: index of chunk i's first message.
    starts: Vec<usize>,
}

/// One message of a [`MessageList`], borrowed: the same fields as [`MessageMeta`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRef<'a> {
    pub uid: Uid,
    pub flags: Flags,
    pub keywords: &'a [String],
    pub modseq: ModSeq,
    pub internal_date: i64,
    pub internal_date_tz: i32,
    pub size: u64,
}

impl MessageRef<'_> {
    /// An owned copy.
    pub fn to_meta(&self) -> MessageMeta {
        MessageMeta {
            uid: self.uid,
            flags: self.flags,
            keywords: self.keywords.to_vec(),
            modseq: self.modseq,
            internal_date: self.internal_date,
            internal_date_tz: self.internal_date_tz,
            size: self.size,
        }
    }
}

impl MessageMeta {
    /// Borrowed as a list hands out its messages.
    pub fn to_ref(&self) -> MessageRef<'_> {
        MessageRef {
            uid: self.uid,
            flags: self.flags,
            keywords: &self.keywords,
            modseq: self.modseq,
            internal_date: self.internal_date,
            internal_date_tz: self.internal_date_tz,
            size: self.size,
        }
    }
}

/// The messages of a mailbox in ascending UID order; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct MessageList {
    chunks: Arc<Chunks>,
    kw: Arc<KeywordSets>,
    len: usize,
}

impl MessageList {
    pub fn new() -> MessageList {
        MessageList::default()
    }

    /// A list of `metas` (ascending UIDs).
    pub fn from_metas(metas: impl IntoIterator<Item = MessageMeta>) -> MessageList {
        let mut l = MessageList::new();
        for m in metas {
            l.push(m);
        }
        l
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether both are the same list in memory (a clone of each other, unchanged since).
    pub fn shares(&self, other: &MessageList) -> bool {
        Arc::ptr_eq(&self.chunks, &other.chunks) && Arc::ptr_eq(&self.kw, &other.kw)
    }

    /// (chunk, offset) of message `i` (< len).
    fn locate(&self, i: usize) -> (usize, usize) {
        let starts = &self.chunks.starts;
        let c = starts.partition_point(|&s| s <= i) - 1;
        (c, i - starts[c])
    }

    fn entry(&self, i: usize) -> Option<&Entry> {
        if i >= self.len {
            return None;
        }
        let (c, o) = self.locate(i);
        self.chunks.chunks[c].get(o)
    }

    fn view<'a>(&'a self, e: &Entry) -> MessageRef<'a> {
        MessageRef {
            uid: e.uid,
            flags: Flags(e.flags),
            keywords: self.kw.get(e.kw),
            modseq: e.modseq,
            internal_date: e.date,
            internal_date_tz: e.tz,
            size: e.size,
        }
    }

    /// Message `i` (0-based: its sequence number minus one).
    pub fn get(&self, i: usize) -> Option<MessageRef<'_>> {
        self.entry(i).map(|e| self.view(e))
    }

    /// The UID of message `i`.
    pub fn uid(&self, i: usize) -> Option<Uid> {
        self.entry(i).map(|e| e.uid)
    }

    pub fn last(&self) -> Option<MessageRef<'_>> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Every message, in order.
    pub fn iter(&self) -> impl Iterator<Item = MessageRef<'_>> + '_ {
        self.chunks
            .chunks
            .iter()
            .flat_map(|c| c.iter())
            .map(move |e| self.view(e))
    }

    /// The UIDs, in order.
    pub fn uids(&self) -> impl Iterator<Item = Uid> + '_ {
        self.chunks
            .chunks
            .iter()
            .flat_map(|c| c.iter())
            .map(|e| e.uid)
    }

    /// The UIDs from message `i` on, in order (without walking the ones before).
    pub fn uids_from(&self, i: usize) -> impl Iterator<Item = Uid> + '_ {
        let (c, o) = if i < self.len {
            self.locate(i)
        } else {
            (self.chunks.chunks.len(), 0)
        };
        self.chunks.chunks[c..]
            .iter()
            .flat_map(|ch| ch.iter())
            .skip(o)
            .map(|e| e.uid)
    }

    /// How many messages have a UID below `uid` (the index where it is or would be).
    pub fn rank(&self, uid: Uid) -> usize {
        let chunks = &self.chunks.chunks;
        // The first chunk whose last UID is at least `uid`.
        let c = chunks.partition_point(|ch| ch.last().is_some_and(|e| e.uid < uid));
        match chunks.get(c) {
            Some(ch) => self.chunks.starts[c] + ch.partition_point(|e| e.uid < uid),
            None => self.len,
        }
    }

    /// The index of `uid`, if present.
    pub fn position(&self, uid: Uid) -> Option<usize> {
        let i = self.rank(uid);
        (self.uid(i) == Some(uid)).then_some(i)
    }

    fn pack(&mut self, m: MessageMeta) -> Entry {
        let kw = match self.kw.find(&m.keywords) {
            Some(k) => k,
            None => Arc::make_mut(&mut self.kw).add(m.keywords),
        };
        Entry {
            uid: m.uid,
            kw,
            modseq: m.modseq,
            date: m.internal_date,
            size: m.size,
            tz: m.internal_date_tz,
            flags: m.flags.0,
        }
    }

    fn restart(chunks: &mut Chunks, from: usize) {
        let mut at = if from == 0 {
            0
        } else {
            chunks.starts[from - 1] + chunks.chunks[from - 1].len()
        };
        chunks.starts.truncate(from);
        for c in &chunks.chunks[from..] {
            chunks.starts.push(at);
            at += c.len();
        }
    }

    /// Adds a message whose UID is above every UID in the list.
    pub fn push(&mut self, m: MessageMeta) {
        debug_assert!(self.last().is_none_or(|l| l.uid < m.uid));
        let e = self.pack(m);
        let len = self.len;
        let chunks = Arc::make_mut(&mut self.chunks);
        match chunks.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => Arc::make_mut(c).push(e),
            _ => {
                let mut v = Vec::with_capacity(CHUNK.min(len.max(16)));
                v.push(e);
                chunks.chunks.push(Arc::new(v));
                chunks.starts.push(len);
            }
        }
        self.len += 1;
    }

    /// Puts a message in its place: replaces the message with its UID, or inserts it.
    /// Returns the replaced message.
    pub fn upsert(&mut self, m: MessageMeta) -> Option<MessageMeta> {
        let i = self.rank(m.uid);
        if self.uid(i) == Some(m.uid) {
            let old = self.get(i).map(|r| r.to_meta());
            self.set(i, m);
            return old;
        }
        if i == self.len {
            self.push(m);
            return None;
        }
        let e = self.pack(m);
        let (c, o) = self.locate(i);
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = Arc::make_mut(&mut chunks.chunks[c]);
        chunk.insert(o, e);
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            chunks.chunks.insert(c + 1, Arc::new(tail));
        }
        self.len += 1;
        MessageList::restart(chunks, c);
        None
    }

    /// Replaces message `i` (same UID).
    pub fn set(&mut self, i: usize, m: MessageMeta) {
        if i >= self.len {
            return;
        }
        let e = self.pack(m);
        let (c, o) = self.locate(i);
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = &mut chunks.chunks[c];
        if chunk[o] != e {
            Arc::make_mut(chunk)[o] = e;
        }
    }

    /// Keeps only the messages for which `keep` says true.
    pub fn retain(&mut self, mut keep: impl FnMut(Uid) -> bool) {
        let chunks = Arc::make_mut(&mut self.chunks);
        let mut first_changed = None;
        for (n, c) in chunks.chunks.iter_mut().enumerate() {
            if c.iter().all(|e| keep(e.uid)) {
                continue;
            }
            Arc::make_mut(c).retain(|e| keep(e.uid));
            first_changed.get_or_insert(n);
        }
        if first_changed.is_none() {
            return;
        }
        chunks.chunks.retain(|c| !c.is_empty());
        // Keep chunks from thinning out: merge a small chunk into its predecessor.
        let mut i = 1;
        while i < chunks.chunks.len() {
            if chunks.chunks[i - 1].len() + chunks.chunks[i].len() <= CHUNK {
                let next = chunks.chunks.remove(i);
                Arc::make_mut(&mut chunks.chunks[i - 1]).extend_from_slice(&next);
            } else {
                i += 1;
            }
        }
        MessageList::restart(chunks, 0);
        self.len = chunks.chunks.iter().map(|c| c.len()).sum();
    }

    /// Removes the message with `uid`; returns it.
    pub fn remove(&mut self, uid: Uid) -> Option<MessageMeta> {
        let i = self.position(uid)?;
        let old = self.get(i).map(|r| r.to_meta());
        let (c, o) = self.locate(i);
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = Arc::make_mut(&mut chunks.chunks[c]);
        chunk.remove(o);
        if chunk.is_empty() {
            chunks.chunks.remove(c);
        }
        self.len -= 1;
        MessageList::restart(chunks, c);
        old
    }

    /// Whether some message may carry keyword `k` (compared case-insensitively): false
    /// means none does. Answered from the distinct keyword sets, not the messages (a
    /// set stays known after its last message changed, so true may be stale).
    pub fn may_have_keyword(&self, k: &str) -> bool {
        self.kw
            .sets
            .iter()
            .any(|set| set.iter().any(|x| x.eq_ignore_ascii_case(k)))
    }

    /// Octets of memory this list holds (shared parts counted in full).
    pub fn heap_size(&self) -> usize {
        self.chunks.chunks.len() * (std::mem::size_of::<usize>() * 3)
            + self
                .chunks
                .chunks
                .iter()
                .map(|c| c.capacity() * std::mem::size_of::<Entry>())
                .sum::<usize>()
    }
}

impl PartialEq for MessageList {
    fn eq(&self, other: &MessageList) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(uid: Uid, flags: u8, kw: &[&str]) -> MessageMeta {
        MessageMeta {
            uid,
            flags: Flags(flags),
            keywords: kw.iter().map(|s| s.to_string()).collect(),
            modseq: u64::from(uid) + 7,
            internal_date: i64::from(uid) * 60,
            internal_date_tz: 60,
            size: u64::from(uid) * 3,
        }
    }

    #[test]
    fn entry_is_forty_octets() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    #[test]
    fn clones_share_until_changed() {
        let mut a = MessageList::from_metas((1..=3000).map(|u| meta(u, 0, &[])));
        let b = a.clone();
        assert!(a.shares(&b));
        a.set(2500, meta(2501, 8, &["$Junk"]));
        assert!(!a.shares(&b));
        assert_eq!(b.get(2500).map(|m| m.flags), Some(Flags(0)));
        assert_eq!(
            a.get(2500).map(|m| m.keywords),
            Some(&["$Junk".to_string()][..])
        );
        // The untouched chunks are still the same memory.
        assert!(Arc::ptr_eq(&a.chunks.chunks[0], &b.chunks.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks.chunks[2], &b.chunks.chunks[2]));
    }

    #[test]
    fn may_have_keyword() {
        let mut a = MessageList::from_metas((1..=3).map(|u| meta(u, 0, &["$Media"])));
        assert!(a.may_have_keyword("$media"));
        assert!(!a.may_have_keyword("$Service"));
        a.set(1, meta(2, 0, &["$Media", "$Service"]));
        assert!(a.may_have_keyword("$SERVICE"));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8, bool),
        Upsert(u32, u8),
        Remove(u32),
        Retain(u32),
        Set(u32, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<bool>()).prop_map(|(f, k)| Op::Push(f, k)),
            (0..5000u32, any::<u8>()).prop_map(|(u, f)| Op::Upsert(u, f)),
            (0..5000u32).prop_map(Op::Remove),
            (2..9u32).prop_map(Op::Retain),
            (0..5000u32, any::<u8>()).prop_map(|(i, f)| Op::Set(i, f)),
        ]
    }

    proptest! {
        /// Every operation agrees with a plain vector, and a clone taken before it does
        /// not change.
        #[test]
        fn behaves_like_a_vector(
            start in 0..3000u32,
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let mut model: Vec<MessageMeta> = (1..=start).map(|u| meta(u * 2, 0, &[])).collect();
            let mut list = MessageList::from_metas(model.clone());
            for op in ops {
                let before = list.clone();
                let frozen: Vec<MessageMeta> = model.clone();
                match op {
                    Op::Push(f, k) => {
                        let uid = model.last().map_or(1, |m| m.uid + 1 + u32::from(f % 3));
                        let m = meta(uid, f, if k { &["a", "b"] } else { &[] });
                        model.push(m.clone());
                        list.push(m);
                    }
                    Op::Upsert(u, f) => {
                        let m = meta(u + 1, f, &["x"]);
                        match model.binary_search_by_key(&m.uid, |x| x.uid) {
                            Ok(i) => model[i] = m.clone(),
                            Err(i) => model.insert(i, m.clone()),
                        }
                        list.upsert(m);
                    }
                    Op::Remove(u) => {
                        let a = model.binary_search_by_key(&u, |x| x.uid).ok().map(|i| model.remove(i));
                        prop_assert_eq!(list.remove(u), a);
                    }
                    Op::Retain(d) => {
                        model.retain(|m| m.uid % d != 0);
                        list.retain(|u| u % d != 0);
                    }
                    Op::Set(i, f) => {
                        if let Some(m) = model.get_mut(i as usize) {
                            m.flags = Flags(f);
                            let m = m.clone();
                            list.set(i as usize, m);
                        }
                    }
                }
                prop_assert_eq!(list.len(), model.len());
                let got: Vec<MessageMeta> = list.iter().map(|r| r.to_meta()).collect();
                prop_assert_eq!(&got, &model);
                for (i, m) in model.iter().enumerate().step_by(97) {
                    prop_assert_eq!(list.get(i).map(|r| r.to_meta()), Some(m.clone()));
                    prop_assert_eq!(list.position(m.uid), Some(i));
                    prop_assert_eq!(list.rank(m.uid + 1), i + 1);
                    prop_assert_eq!(list.uids_from(i).next(), Some(m.uid));
                    prop_assert_eq!(list.uids_from(i).count(), model.len() - i);
                }
                let old: Vec<MessageMeta> = before.iter().map(|r| r.to_meta()).collect();
                prop_assert_eq!(old, frozen);
            }
        }
    }
}
