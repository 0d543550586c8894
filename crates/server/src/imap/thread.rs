//! THREAD (RFC 5256 sections 4 and 5): ORDEREDSUBJECT and REFERENCES, rendered as
//! `thread-list`s.
//!
//! Input is one [`Msg`] per message that matched the search: its sequence number (or
//! UID, whichever the answer uses, in `id`), sequence number, sent date (the internal
//! date when there is no usable `Date:`), base subject and whether it is a reply, and its
//! Message-ID, In-Reply-To and References. Siblings and threads are ordered by sent date,
//! then by sequence number (section 4, step 6).

use std::collections::HashMap;

/// One message to thread.
#[derive(Debug, Clone)]
pub struct Msg {
    /// What the answer names it by (sequence number or UID).
    pub id: u32,
    pub seq: u32,
    /// Sent date, seconds.
    pub date: i64,
    /// Base subject, case-mapped (RFC 5256 2.1).
    pub subject: Vec<u8>,
    /// The subject had a reply or forward marker.
    pub reply: bool,
    pub message_id: Option<String>,
    /// References, then (when there are none) the first In-Reply-To id, oldest first.
    pub references: Vec<String>,
}

/// The message ids (`<...>`) in a header value, in order.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let id: String = rest[start + 1..start + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !id.is_empty() {
            out.push(id);
        }
        rest = &rest[start + len + 1..];
    }
    out
}

/// A node of a thread tree: a message, or a dummy that only holds children.
#[derive(Debug)]
struct Node {
    msg: Option<usize>,
    children: Vec<Node>,
}

/// The sort key of a node: its message's (date, seq), or its first child's for a dummy.
fn key(n: &Node, msgs: &[Msg]) -> (i64, u32) {
    match n.msg {
        Some(i) => (msgs[i].date, msgs[i].seq),
        None => n.children.first().map_or((0, 0), |c| key(c, msgs)),
    }
}

/// Sorts siblings at every level (children first, so a dummy's key is its first
/// child's after sorting).
fn sort_tree(nodes: &mut [Node], msgs: &[Msg]) {
    for n in nodes.iter_mut() {
        sort_tree(&mut n.children, msgs);
    }
    nodes.sort_by_key(|n| key(n, msgs));
}

/// `thread-members` / `thread-nested` for a node (without the outer parentheses): a
/// message and its only child continue one list (`1 2 3`), several children nest
/// (`1 (2)(3)`), a dummy nests its children.
fn render_node(n: &Node, msgs: &[Msg], out: &mut String) {
    let mut cur = n;
    if let Some(i) = cur.msg {
        out.push_str(&msgs[i].id.to_string());
        while cur.children.len() == 1 && cur.children[0].msg.is_some() {
            cur = &cur.children[0];
            if let Some(i) = cur.msg {
                out.push(' ');
                out.push_str(&msgs[i].id.to_string());
            }
        }
        if cur.children.is_empty() {
            return;
        }
        out.push(' ');
    }
    if cur.msg.is_none() && cur.children.len() == 1 {
        render_node(&cur.children[0], msgs, out);
        return;
    }
    for c in &cur.children {
        out.push('(');
        render_node(c, msgs, out);
        out.push(')');
    }
}

fn render(roots: &[Node], msgs: &[Msg]) -> String {
    let mut out = String::new();
    for r in roots {
        out.push('(');
        render_node(r, msgs, &mut out);
        out.push(')');
    }
    out
}

/// THREAD=ORDEREDSUBJECT (section 4): messages grouped by base subject; the first
/// (by date) of each group is the parent of the others.
pub fn ordered_subject(msgs: &[Msg]) -> String {
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_by(|&a, &b| {
        (&msgs[a].subject, msgs[a].date, msgs[a].seq).cmp(&(
            &msgs[b].subject,
            msgs[b].date,
            msgs[b].seq,
        ))
    });
    let mut roots: Vec<Node> = Vec::new();
    let mut last: Option<&[u8]> = None;
    for i in order {
        let same = last == Some(msgs[i].subject.as_slice());
        let leaf = Node {
            msg: Some(i),
            children: Vec::new(),
        };
        match roots.last_mut() {
            Some(r) if same => r.children.push(leaf),
            _ => roots.push(leaf),
        }
        last = Some(msgs[i].subject.as_slice());
    }
    sort_tree(&mut roots, msgs);
    render(&roots, msgs)
}

/// A container of the REFERENCES algorithm (section 4), in an arena.
#[derive(Debug, Default, Clone)]
struct Container {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Arena {
    c: Vec<Container>,
}

impl Arena {
    fn new_container(&mut self) -> usize {
        self.c.push(Container::default());
        self.c.len() - 1
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        let mut steps = 0;
        while let Some(x) = cur {
            if x == a {
                return true;
            }
            cur = self.c[x].parent;
            steps += 1;
            if steps > self.c.len() {
                return true; // a loop: treat as related
            }
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.c[child].parent.take() {
            self.c[p].children.retain(|&x| x != child);
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        self.c[child].parent = Some(parent);
        self.c[parent].children.push(child);
    }
}

/// Trees are cut at this depth (deeper messages become siblings at it), so that a
/// chain of 100,000 replies neither overflows the stack nor is lost.
const MAX_DEPTH: usize = 256;

/// Every message in the subtree of `c`, as leaves (a walk without recursion).
fn flat(a: &Arena, c: usize) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![c];
    let mut seen = 0;
    while let Some(x) = stack.pop() {
        seen += 1;
        if seen > a.c.len() {
            break;
        }
        if let Some(m) = a.c[x].msg {
            out.push(Node {
                msg: Some(m),
                children: Vec::new(),
            });
        }
        stack.extend(a.c[x].children.iter().rev());
    }
    out
}

/// THREAD=REFERENCES (section 4, steps 1 to 6).
pub fn references(msgs: &[Msg]) -> String {
    let tops = reference_trees(msgs);
    gather_subjects_and_render(tops, msgs)
}

/// THREAD=REFS (draft-ietf-morg-inthread, as Dovecot implements it): the trees of
/// REFERENCES steps 1 to 4, no gathering by subject (step 5), siblings by sent date then
/// sequence number as in step 6, and threads by their newest message (the latest sent
/// date of any message in the thread), then by the root's number (a dummy root first),
/// so the thread with the latest activity comes last.
pub fn refs(msgs: &[Msg]) -> String {
    let mut tops = reference_trees(msgs);
    for t in tops.iter_mut() {
        sort_tree(&mut t.children, msgs);
    }
    fn newest(n: &Node, msgs: &[Msg]) -> i64 {
        let own = n.msg.map_or(i64::MIN, |i| msgs[i].date);
        n.children
            .iter()
            .map(|c| newest(c, msgs))
            .fold(own, i64::max)
    }
    let mut keyed: Vec<((i64, u32), Node)> = tops
        .into_iter()
        .map(|t| ((newest(&t, msgs), t.msg.map_or(0, |i| msgs[i].seq)), t))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    let tops: Vec<Node> = keyed.into_iter().map(|(_, t)| t).collect();
    render(&tops, msgs)
}

/// REFERENCES steps 1 to 4: the thread trees, dummies pruned (unsorted).
fn reference_trees(msgs: &[Msg]) -> Vec<Node> {
    let mut a = Arena { c: Vec::new() };
    let mut ids: HashMap<String, usize> = HashMap::new();
    // (1) Containers by Message-ID; references linked in order; the message under its
    // last reference.
    for (i, m) in msgs.iter().enumerate() {
        let own = match m.message_id.as_deref() {
            Some(id) => match ids.get(id) {
                Some(&c) if a.c[c].msg.is_none() => c,
                // A duplicate Message-ID: this message gets a container of its own.
                Some(_) => a.new_container(),
                None => {
                    let c = a.new_container();
                    ids.insert(id.to_string(), c);
                    c
                }
            },
            None => a.new_container(),
        };
        a.c[own].msg = Some(i);
        let mut prev: Option<usize> = None;
        for r in &m.references {
            let c = match ids.get(r) {
                Some(&c) => c,
                None => {
                    let c = a.new_container();
                    ids.insert(r.clone(), c);
                    c
                }
            };
            if let Some(p) = prev {
                if a.c[c].parent.is_none() && !a.is_ancestor(c, p) {
                    a.link(p, c);
                }
            }
            prev = Some(c);
        }
        // The last reference becomes the parent (replacing an older guess), unless that
        // would make a loop; with no references the message becomes a root.
        match prev {
            Some(p) if !a.is_ancestor(own, p) => a.link(p, own),
            Some(_) => {}
            None => a.unlink(own),
        }
    }
    // (2) The root set.
    let roots: Vec<usize> = (0..a.c.len())
        .filter(|&c| a.c[c].parent.is_none())
        .collect();
    // (4) Prune dummies, building the trees.
    fn prune(a: &Arena, c: usize, root: bool, depth: usize) -> Vec<Node> {
        if depth >= MAX_DEPTH {
            return flat(a, c);
        }
        let mut kids: Vec<Node> = Vec::new();
        for &k in &a.c[c].children {
            kids.extend(prune(a, k, false, depth + 1));
        }
        match a.c[c].msg {
            Some(m) => vec![Node {
                msg: Some(m),
                children: kids,
            }],
            // (4A) an empty dummy goes; (4B) a dummy's children take its place, except
            // at the root when there are several of them.
            None if kids.is_empty() => Vec::new(),
            None if root && kids.len() > 1 => vec![Node {
                msg: None,
                children: kids,
            }],
            None => kids,
        }
    }
    let mut tops: Vec<Node> = Vec::new();
    for r in roots {
        tops.extend(prune(&a, r, true, 0));
    }
    tops
}

/// REFERENCES steps 5 and 6 over the trees of steps 1 to 4, rendered.
fn gather_subjects_and_render(mut tops: Vec<Node>, msgs: &[Msg]) -> String {
    // (5) Roots with the same base subject gathered.
    sort_tree(&mut tops, msgs);
    let subject_of = |n: &Node| -> Option<usize> {
        match n.msg {
            Some(i) => Some(i),
            None => n.children.first().and_then(|c| c.msg),
        }
    };
    let mut table: HashMap<Vec<u8>, usize> = HashMap::new();
    for (t, n) in tops.iter().enumerate() {
        let Some(i) = subject_of(n) else { continue };
        let subj = &msgs[i].subject;
        if subj.is_empty() {
            continue;
        }
        match table.get(subj) {
            None => {
                table.insert(subj.clone(), t);
            }
            Some(&old) => {
                let o = &tops[old];
                let old_reply = subject_of(o).is_some_and(|j| msgs[j].reply);
                if (n.msg.is_none() && o.msg.is_some())
                    || (old_reply && !msgs[i].reply && o.msg.is_some() && n.msg.is_some())
                {
                    table.insert(subj.clone(), t);
                }
            }
        }
    }
    let mut slots: Vec<Option<Node>> = tops.into_iter().map(Some).collect();
    for t in 0..slots.len() {
        let Some(n) = slots[t].as_ref() else { continue };
        let Some(i) = subject_of(n) else { continue };
        let subj = msgs[i].subject.clone();
        if subj.is_empty() {
            continue;
        }
        let Some(&keep) = table.get(&subj) else {
            continue;
        };
        if keep == t || slots[keep].is_none() {
            continue;
        }
        let Some(this) = slots[t].take() else {
            continue;
        };
        let Some(mut kept) = slots[keep].take() else {
            slots[t] = Some(this);
            continue;
        };
        let kept_reply = subject_of(&kept).is_some_and(|j| msgs[j].reply);
        let this_reply = msgs[i].reply;
        let merged = match (kept.msg.is_none(), this.msg.is_none()) {
            // Both dummies: this one's children join the kept one's.
            (true, true) => {
                kept.children.extend(this.children);
                kept
            }
            // One dummy: the message goes under it.
            (true, false) => {
                kept.children.push(this);
                kept
            }
            (false, true) => {
                let mut d = this;
                d.children.push(kept);
                d
            }
            // The kept one is not a reply and this one is: this one goes under it.
            (false, false) if !kept_reply && this_reply => {
                kept.children.push(this);
                kept
            }
            // Otherwise both become children of a new dummy.
            (false, false) => Node {
                msg: None,
                children: vec![kept, this],
            },
        };
        slots[keep] = Some(merged);
    }
    let mut tops: Vec<Node> = slots.into_iter().flatten().collect();
    // (6) Siblings and threads by date.
    sort_tree(&mut tops, msgs);
    render(&tops, msgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u32, date: i64, subject: &str, reply: bool, mid: &str, refs: &[&str]) -> Msg {
        Msg {
            id,
            seq: id,
            date,
            subject: subject.as_bytes().to_ascii_uppercase(),
            reply,
            message_id: (!mid.is_empty()).then(|| mid.to_string()),
            references: refs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn ids_from_headers() {
        assert_eq!(
            message_ids("<a@x> <b@y>\r\n <c @z>"),
            vec!["a@x", "b@y", "c@z"]
        );
        assert!(message_ids("none here").is_empty());
    }

    #[test]
    fn ordered_subject_groups_by_subject_then_date() {
        let msgs = vec![
            m(1, 30, "apples", false, "", &[]),
            m(2, 10, "bananas", false, "", &[]),
            m(3, 20, "apples", true, "", &[]),
            m(4, 40, "apples", true, "", &[]),
            m(5, 50, "bananas", true, "", &[]),
        ];
        // Threads by the date of their first message: bananas (10), apples (20).
        assert_eq!(ordered_subject(&msgs), "(2 5)(3 (1)(4))");
    }

    #[test]
    fn references_builds_trees_and_prunes_dummies() {
        let msgs = vec![
            m(1, 10, "a", false, "m1", &[]),
            m(2, 20, "a", true, "m2", &["m1"]),
            m(3, 30, "a", true, "m3", &["m1", "m2"]),
            m(4, 40, "a", true, "m4", &["m1"]),
            // Replies to a message we do not have: a dummy root with two children.
            m(5, 50, "b", true, "m5", &["gone"]),
            m(6, 60, "b", true, "m6", &["gone"]),
            m(7, 70, "c", false, "m7", &[]),
        ];
        assert_eq!(references(&msgs), "(1 (2 3)(4))((5)(6))(7)");
    }

    #[test]
    fn references_merges_roots_by_subject() {
        let msgs = vec![
            m(1, 10, "hello", false, "m1", &[]),
            // A reply whose references are lost: joined under the original by subject.
            m(2, 20, "hello", true, "m2", &[]),
            // Two non-replies with one subject: both under a new dummy.
            m(3, 30, "same", false, "m3", &[]),
            m(4, 40, "same", false, "m4", &[]),
        ];
        assert_eq!(references(&msgs), "(1 2)((3)(4))");
    }

    #[test]
    fn a_very_long_chain_is_cut_not_lost() {
        let msgs: Vec<Msg> = (1..=5000u32)
            .map(|i| {
                let refs: Vec<String> = if i > 1 {
                    vec![format!("m{}", i - 1)]
                } else {
                    vec![]
                };
                let mut x = m(i, i64::from(i), "long", i > 1, &format!("m{i}"), &[]);
                x.references = refs;
                x
            })
            .collect();
        let out = references(&msgs);
        assert_eq!(
            out.split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .count(),
            5000
        );
        assert!(out.starts_with("(1 2 3 "));
    }

    #[test]
    fn references_survives_loops_and_duplicates() {
        let msgs = vec![
            m(1, 10, "x", false, "m1", &["m2"]),
            m(2, 20, "x", true, "m2", &["m1"]),
            m(3, 30, "y", false, "m1", &[]),
        ];
        let out = references(&msgs);
        for id in ["1", "2", "3"] {
            assert!(out.contains(id), "{out}");
        }
    }
}
