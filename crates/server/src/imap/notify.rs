//! NOTIFY (RFC 5465) in a session: what the client asked for ([`Notify`], kept behind an
//! `Option<Box<_>>` so that a session without NOTIFY pays one pointer), and the delivery
//! of its notifications, between commands (the session's read wait), during IDLE and at
//! the end of every command.
//!
//! How changes reach a session: the store announces every change of the account on the
//! change hub's account log ([`mailroom_store::AccountEvent`]): each mailbox's message
//! changes (the same `notify` that wakes IDLE), mailboxes created, deleted and renamed,
//! subscriptions, METADATA entries. One [`AccountWatch`] per NOTIFY session reads that
//! log. Message changes that another process makes (`mailroom deliver`, an MTA writing
//! Maildir files) reach the hub through the store's outside-change watcher, which
//! watches only mailboxes someone watches: so the session also holds a
//! [`MailboxWatch`] on every mailbox it reports message events for (never polled).
//!
//! For a watched mailbox other than the selected one the session keeps its last
//! counters ([`Mark`], 32 octets), so a change becomes the STATUS response of the
//! right event (RFC 5465 5.1 to 5.3) and nothing is sent for changes the client did not
//! ask for. Events this session caused itself are left out (RFC 5465 5; RFC 5464 4.4:
//! METADATA changes by a third party): the commands that make them say beforehand what
//! they will announce ([`own_events`]).
//!
//! Limits: at most [`MAX_WATCHED`] mailboxes with message events (NOTIFY is refused
//! with `NO [NOTIFICATIONOVERFLOW]` above it); a session that falls behind the hub's
//! account log ([`mailroom_store::hub::ACCOUNT_LOG`] events) gets
//! `* OK [NOTIFICATIONOVERFLOW]` and NOTIFY NONE (RFC 5465 5.8).
//! Only the user's own mailboxes are watched: names of other accounts' mailboxes
//! (`~account/...`) in SUBTREE or MAILBOXES are not (`cmd/notify.rs` answers those the
//! user may list but not read with `LIST (\NoAccess)`), and INBOXES is INBOX (the one
//! mailbox mailroom delivers to).

use crate::imap::session::Session;
use mailroom_proto::imap::command::{
    CommandBody, FetchAttribute, NotifyEvent, NotifyFilter, NotifyGroup,
};
use mailroom_proto::imap::encode::{mailbox_name_as, ResponseCode, Status};
use mailroom_proto::imap::types::{SeqNumber, SeqRange};
use mailroom_proto::imap::{Mailbox, SequenceSet};
use mailroom_store::{AccountEvent, AccountWatch, MailboxId, MailboxStatus, MailboxWatch, Uid};
use std::num::NonZeroU32;

/// The most mailboxes one session watches for message events.
pub(crate) const MAX_WATCHED: usize = 500;

/// A set of events (RFC 5465 5), one bit each.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Events(u8);

impl Events {
    pub const NEW: Events = Events(1);
    pub const EXPUNGE: Events = Events(2);
    pub const FLAGS: Events = Events(4);
    pub const ANNOTATION: Events = Events(8);
    pub const NAME: Events = Events(16);
    pub const SUBSCRIPTION: Events = Events(32);
    pub const MAILBOX_METADATA: Events = Events(64);
    pub const SERVER_METADATA: Events = Events(128);
    /// The message events.
    pub const MESSAGE: Events = Events(1 | 2 | 4 | 8);

    pub fn has(self, e: Events) -> bool {
        self.0 & e.0 != 0
    }
    pub fn with(self, e: Events) -> Events {
        Events(self.0 | e.0)
    }
    fn add(&mut self, e: Events) {
        self.0 |= e.0;
    }
    fn and(self, e: Events) -> Events {
        Events(self.0 & e.0)
    }
    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The events this server supports, as `BADEVENT` lists them (RFC 5465 3.1).
pub(crate) const SUPPORTED: &[&str] = &[
    "MessageNew",
    "MessageExpunge",
    "FlagChange",
    "AnnotationChange",
    "MailboxName",
    "SubscriptionChange",
    "MailboxMetadataChange",
    "ServerMetadataChange",
];

/// Which mailboxes a group watches (names as the store spells them).
pub(crate) enum Filter {
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<String>),
    Mailboxes(Vec<String>),
}

impl Filter {
    fn matches(&self, name: &str, subs: &[String]) -> bool {
        if name.starts_with('~') {
            return false;
        }
        match self {
            Filter::Inboxes => name == "INBOX",
            Filter::Personal => true,
            Filter::Subscribed => subs.iter().any(|s| s == name),
            Filter::Subtree(roots) => roots.iter().any(|r| {
                name == r
                    || (name.len() > r.len()
                        && name.starts_with(r.as_str())
                        && name.as_bytes().get(r.len()) == Some(&b'/'))
            }),
            Filter::Mailboxes(v) => v.iter().any(|n| n == name),
        }
    }
}

/// The SELECTED or SELECTED-DELAYED group.
pub(crate) struct SelectedSpec {
    /// SELECTED-DELAYED: expunges wait for a command that may announce them (6.1.2).
    pub delayed: bool,
    pub events: Events,
    /// The FETCH items of MessageNew (5.2).
    pub fetch: Vec<FetchAttribute>,
}

/// A watched mailbox other than the selected one, with the counters last reported.
pub(crate) struct Mark {
    pub id: MailboxId,
    pub uid_validity: u32,
    pub uid_next: Uid,
    pub messages: u32,
    pub unseen: u32,
    pub modseq: u64,
}

impl Mark {
    fn new(id: MailboxId, st: &MailboxStatus) -> Mark {
        Mark {
            id,
            uid_validity: st.uid_validity,
            uid_next: st.uid_next,
            messages: st.messages,
            unseen: st.unseen,
            modseq: st.highest_modseq,
        }
    }
}

/// An event this session is about to cause (left out when it comes back).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Own {
    Created(String),
    Deleted(String),
    Renamed(String, String),
    Subscription(String),
    Metadata(Vec<String>),
}

/// A session's NOTIFY state (RFC 5465 3.1: until the next NOTIFY or the end of the
/// connection).
pub(crate) struct Notify {
    pub selected: Option<SelectedSpec>,
    pub groups: Vec<(Filter, Events)>,
    pub watch: Box<dyn AccountWatch>,
    /// Watched mailboxes other than the selected one, by id.
    pub marks: Vec<Mark>,
    /// Keeps the store watching the marked mailboxes for other processes' changes.
    pub keep: Vec<Box<dyn MailboxWatch>>,
    /// Events the running command will cause.
    pub own: Vec<Own>,
    /// A NOTIFY SET is in force (not only `ENABLE METADATA`).
    pub set: bool,
    /// What `ENABLE METADATA` (mailbox and server entries) or `ENABLE METADATA-SERVER`
    /// (server entries) turned on (RFC 5464 4.4): kept through NOTIFY SET and NONE.
    pub metadata: Events,
}

impl Notify {
    /// A state with nothing asked for yet, reading the account's events.
    pub fn new(watch: Box<dyn AccountWatch>) -> Notify {
        Notify {
            selected: None,
            groups: Vec::new(),
            watch,
            marks: Vec::new(),
            keep: Vec::new(),
            own: Vec::new(),
            set: false,
            metadata: Events::default(),
        }
    }

    /// What is left after NOTIFY NONE (or an overflow): what ENABLE turned on, if any.
    pub fn after_none(mut self: Box<Self>) -> Option<Box<Notify>> {
        if self.metadata.is_empty() {
            return None;
        }
        self.selected = None;
        self.groups.clear();
        self.marks.clear();
        self.keep.clear();
        self.set = false;
        Some(self)
    }

    /// The events the groups ask for on a mailbox other than the selected one.
    fn events_for(&self, name: &str, subs: &[String]) -> Events {
        let mut e = Events::default();
        for (f, ev) in &self.groups {
            if f.matches(name, subs) {
                e.add(*ev);
            }
        }
        e
    }

    /// Whether any group asks for one of `e`.
    fn wants(&self, e: Events) -> bool {
        self.groups.iter().any(|(_, ev)| ev.has(e))
    }

    fn mark(&mut self, id: MailboxId) -> Option<&mut Mark> {
        self.marks.iter_mut().find(|m| m.id == id)
    }

    /// Takes back an expected own event; true when `ev` was one.
    fn is_own(&mut self, ev: &AccountEvent) -> bool {
        let found = self.own.iter().position(|o| match (o, ev) {
            (Own::Created(a), AccountEvent::Created(b)) => a == b,
            (Own::Created(a), AccountEvent::Renamed { to, .. }) => a == to,
            (Own::Deleted(a), AccountEvent::Deleted(b)) => a == b,
            (Own::Renamed(f, t), AccountEvent::Renamed { from, to }) => f == from && t == to,
            (Own::Subscription(a), AccountEvent::Subscription { name, .. }) => a == name,
            (Own::Metadata(a), AccountEvent::Metadata { entries, .. }) => a == entries,
            _ => false,
        });
        match found {
            Some(i) => {
                // Implicitly created parents of an own CREATE/RENAME are own too: the
                // expectation stays until the command ends.
                if !matches!(ev, AccountEvent::Created(_)) {
                    self.own.remove(i);
                }
                true
            }
            None => {
                // A parent made on the way (`CREATE a/b/c` makes `a` and `a/b`).
                if let AccountEvent::Created(p) = ev {
                    return self.own.iter().any(|o| match o {
                        Own::Created(n) | Own::Renamed(_, n) => {
                            n.starts_with(p.as_str()) && n.as_bytes().get(p.len()) == Some(&b'/')
                        }
                        _ => false,
                    });
                }
                false
            }
        }
    }
}

/// The non-selected groups of a NOTIFY SET: a filter and its events.
pub(crate) type Groups = Vec<(Filter, Events)>;

/// Why a parsed NOTIFY SET is refused: `Ok` a `NO` code (BADEVENT), `Err` a `BAD` text.
pub(crate) type Refusal = Result<ResponseCode, String>;

/// Turns a parsed NOTIFY SET into the session's state (without watches and marks).
/// `Err` is the `BADEVENT` answer for events the server does not support, or a `BAD`
/// text for FETCH items that would set `\Seen`.
pub(crate) fn from_groups(
    groups: Vec<NotifyGroup>,
) -> Result<(Option<SelectedSpec>, Groups), Refusal> {
    let mut selected = None;
    let mut out = Vec::new();
    for g in groups {
        let mut ev = Events::default();
        let mut fetch = Vec::new();
        for e in g.events {
            ev.add(match e {
                NotifyEvent::MessageNew(a) => {
                    if crate::imap::fetch::sets_seen(&a) {
                        return Err(Err(
                            "MessageNew FETCH items must not set \\Seen (use BODY.PEEK)".into(),
                        ));
                    }
                    fetch = a;
                    Events::NEW
                }
                NotifyEvent::MessageExpunge => Events::EXPUNGE,
                NotifyEvent::FlagChange => Events::FLAGS,
                NotifyEvent::AnnotationChange => Events::ANNOTATION,
                NotifyEvent::MailboxName => Events::NAME,
                NotifyEvent::SubscriptionChange => Events::SUBSCRIPTION,
                NotifyEvent::MailboxMetadataChange => Events::MAILBOX_METADATA,
                NotifyEvent::ServerMetadataChange => Events::SERVER_METADATA,
                NotifyEvent::Other(_) => {
                    return Err(Ok(ResponseCode::BadEvent(SUPPORTED.to_vec())));
                }
            });
        }
        let names = |v: Vec<Mailbox>| -> Vec<String> {
            v.into_iter()
                .map(|m| {
                    let s = m.as_str();
                    s.strip_suffix('/').unwrap_or(s).to_string()
                })
                .collect()
        };
        let filter = match g.filter {
            NotifyFilter::Selected | NotifyFilter::SelectedDelayed => {
                selected = Some(SelectedSpec {
                    delayed: g.filter == NotifyFilter::SelectedDelayed,
                    events: ev,
                    fetch,
                });
                continue;
            }
            NotifyFilter::Inboxes => Filter::Inboxes,
            NotifyFilter::Personal => Filter::Personal,
            NotifyFilter::Subscribed => Filter::Subscribed,
            NotifyFilter::Subtree(v) => Filter::Subtree(names(v)),
            NotifyFilter::Mailboxes(v) => Filter::Mailboxes(names(v)),
        };
        if !ev.is_empty() {
            out.push((filter, ev));
        }
    }
    Ok((selected, out))
}

/// What a command is about to announce on the hub itself (RFC 5465 5: "SHOULD omit
/// notifying the client if the event is caused by this client").
pub(crate) fn own_events(body: &CommandBody) -> Vec<Own> {
    let own_name = |m: &Mailbox| (!m.as_str().starts_with('~')).then(|| m.as_str().to_string());
    match body {
        CommandBody::Create { mailbox, .. } => own_name(mailbox)
            .map(|n| Own::Created(n.strip_suffix('/').unwrap_or(&n).to_string()))
            .into_iter()
            .collect(),
        CommandBody::Delete { mailbox } => {
            own_name(mailbox).map(Own::Deleted).into_iter().collect()
        }
        CommandBody::Rename { from, to } => match (own_name(from), own_name(to)) {
            (Some(f), Some(t)) => vec![Own::Renamed(f, t)],
            _ => Vec::new(),
        },
        CommandBody::Subscribe { mailbox } | CommandBody::Unsubscribe { mailbox } => {
            vec![Own::Subscription(mailbox.as_str().to_string())]
        }
        CommandBody::SetMetadata { entries, .. } => {
            vec![Own::Metadata(
                entries.iter().map(|(n, _)| n.clone()).collect(),
            )]
        }
        _ => Vec::new(),
    }
}

/// The STATUS items NOTIFY SET STATUS sends for a mailbox (RFC 5465 3.1).
fn initial_items(ev: Events) -> Vec<mailroom_proto::imap::command::StatusItem> {
    use mailroom_proto::imap::command::StatusItem as I;
    let mut v = Vec::new();
    if ev.has(Events::NEW) || ev.has(Events::FLAGS) || ev.has(Events::ANNOTATION) {
        v.push(I::UidValidity);
    }
    if ev.has(Events::NEW) {
        v.push(I::UidNext);
    }
    if ev.has(Events::NEW) || ev.has(Events::EXPUNGE) {
        v.push(I::Messages);
    }
    if ev.has(Events::FLAGS) || ev.has(Events::ANNOTATION) {
        // CONDSTORE is supported: UIDVALIDITY and HIGHESTMODSEQ (3.1).
        v.push(I::HighestModSeq);
    }
    v
}

impl Session {
    /// The user's own mailbox selected, if one is.
    fn own_selected(&self) -> Option<MailboxId> {
        let (user, sel) = (self.user.as_ref()?, self.selected.as_ref()?);
        (sel.account.key() == user.account.key()).then_some(sel.id)
    }

    /// (Re)computes the watched mailboxes after NOTIFY SET or a change of names or
    /// subscriptions; counters of mailboxes already watched are kept. With `status`,
    /// writes the STATUS of each (NOTIFY SET STATUS). False when there are more than
    /// [`MAX_WATCHED`].
    pub(crate) async fn notify_rebuild(&mut self, status: bool) -> bool {
        let Some(user) = &self.user else {
            return true;
        };
        let account = user.account.clone();
        let Some(n) = self.notify.as_mut() else {
            return true;
        };
        if !n.wants(Events::MESSAGE) {
            n.marks.clear();
            n.keep.clear();
            return true;
        }
        let boxes = match account.list_mailboxes().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "NOTIFY: listing mailboxes failed");
                return true;
            }
        };
        let subs = account.subscriptions().await.unwrap_or_default();
        let mut wanted: Vec<(MailboxId, String, Events)> = Vec::new();
        for b in &boxes {
            let ev = n.events_for(&b.name, &subs).and(Events::MESSAGE);
            if !ev.is_empty() {
                wanted.push((b.id, b.name.clone(), ev));
            }
        }
        if wanted.len() > MAX_WATCHED {
            return false;
        }
        let mut old = std::mem::take(&mut n.marks);
        let hub = self.ctx.store.hub();
        let mut marks = Vec::with_capacity(wanted.len());
        let mut keep = Vec::with_capacity(wanted.len());
        for (id, _, _) in &wanted {
            match old.iter().position(|m| m.id == *id) {
                Some(i) => marks.push(old.swap_remove(i)),
                None => match account.status(*id).await {
                    Ok(st) => marks.push(Mark::new(*id, &st)),
                    Err(_) => continue,
                },
            }
            keep.push(hub.watch(account.key(), *id));
        }
        if let Some(n) = self.notify.as_mut() {
            n.marks = marks;
            n.keep = keep;
        }
        if status {
            let selected = self.own_selected();
            let hide = !self.service_view;
            let limit = crate::imap::cmd::capability::append_limit(self);
            let utf8 = self.utf8();
            let mut out = Vec::new();
            for (id, name, ev) in wanted {
                if Some(id) == selected {
                    continue;
                }
                let items = initial_items(ev);
                let _ = crate::imap::cmd::status::write_status(
                    &mut out, &account, id, &name, &items, hide, limit, utf8,
                )
                .await;
            }
            self.out.extend_from_slice(&out);
        }
        true
    }

    /// Takes the account's events and writes what the client asked for. With
    /// `selected = Some(allow_expunge)` the selected mailbox is brought up to date too
    /// (between commands and during IDLE; at a command's end the command does it).
    pub(crate) async fn notify_deliver(&mut self, selected: Option<bool>) {
        let Some(n) = self.notify.as_mut() else {
            return;
        };
        let mut evs = Vec::new();
        if n.watch.take(&mut evs).is_err() {
            // RFC 5465 5.8: say so, then behave as after NOTIFY NONE.
            self.notify = self.notify.take().and_then(Notify::after_none);
            self.line(
                None,
                Status::Ok,
                Some(&ResponseCode::NotificationOverflow),
                "too many changes to follow: NOTIFY is off, use NOTIFY SET again",
            );
            return;
        }
        let own_selected = self.own_selected();
        // A foreign selected mailbox is watched by its own watch only: any wake-up may be it.
        let mut selected_changed = self.selected.is_some() && own_selected.is_none();
        let mut names_changed = false;
        let mut listing: Option<(Vec<mailroom_store::MailboxInfo>, Vec<String>)> = None;
        let mut listed: Vec<String> = Vec::new();
        for ev in evs {
            let Some(n) = self.notify.as_mut() else {
                return;
            };
            if n.is_own(&ev) {
                if !matches!(
                    ev,
                    AccountEvent::Messages(_) | AccountEvent::Metadata { .. }
                ) {
                    names_changed = true;
                }
                continue;
            }
            match ev {
                AccountEvent::Messages(id) if Some(id) == own_selected => selected_changed = true,
                AccountEvent::Messages(id) => self.notify_status(id).await,
                AccountEvent::Created(name) => {
                    names_changed = true;
                    let parent = name.rsplit_once('/').map(|(p, _)| p.to_string());
                    self.notify_list(&name, None, &mut listing, &mut listed)
                        .await;
                    if let Some(p) = parent {
                        self.notify_list(&p, None, &mut listing, &mut listed).await;
                    }
                }
                AccountEvent::Deleted(name) => {
                    names_changed = true;
                    let parent = name.rsplit_once('/').map(|(p, _)| p.to_string());
                    self.notify_list(&name, None, &mut listing, &mut listed)
                        .await;
                    if let Some(p) = parent {
                        self.notify_list(&p, None, &mut listing, &mut listed).await;
                    }
                }
                AccountEvent::Renamed { from, to } => {
                    names_changed = true;
                    // RFC 5465 5.4: INBOX renamed is a new mailbox, with nothing for
                    // INBOX itself; the new name carries OLDNAME.
                    self.notify_list(&to, Some(&from), &mut listing, &mut listed)
                        .await;
                }
                AccountEvent::Subscription { name, .. } => {
                    names_changed = true;
                    self.notify_subscription(&name, &mut listing).await;
                }
                AccountEvent::Metadata { mailbox, entries } => {
                    self.notify_metadata(mailbox, &entries).await;
                }
            }
        }
        if names_changed && self.notify.is_some() && !self.notify_rebuild(false).await {
            self.notify_overflow();
            return;
        }
        if let (true, Some(allow)) = (selected_changed, selected) {
            self.notify_selected(allow).await;
        }
    }

    /// RFC 5465 5.8 after the watched set grew past [`MAX_WATCHED`].
    fn notify_overflow(&mut self) {
        self.notify = self.notify.take().and_then(Notify::after_none);
        self.line(
            None,
            Status::Ok,
            Some(&ResponseCode::NotificationOverflow),
            "too many mailboxes to watch: NOTIFY is off",
        );
    }

    /// The selected mailbox changed: its updates, when the client asked for them with
    /// SELECTED or SELECTED-DELAYED (6.1).
    async fn notify_selected(&mut self, allow_expunge: bool) {
        let Some(spec) = self.notify.as_ref().and_then(|n| n.selected.as_ref()) else {
            return;
        };
        if !spec.events.has(Events::NEW) && !spec.events.has(Events::FLAGS) {
            return;
        }
        let delayed = spec.delayed;
        let flags = spec.events.has(Events::FLAGS);
        if !flags {
            // Without FlagChange, only new or expunged messages make an update now.
            let Some(sel) = &self.selected else {
                return;
            };
            if let Ok(st) = sel.account.status(sel.id).await {
                if st.uid_next == sel.uid_next
                    && st.messages as usize + sel.gone.len() == sel.msgs.len()
                {
                    return;
                }
            }
        }
        let last = self.last_uid();
        self.refresh(allow_expunge || !delayed).await;
        self.notify_new_messages(last).await;
    }

    /// The largest UID of the selected mailbox's view (0 when none).
    pub(crate) fn last_uid(&self) -> Uid {
        self.selected
            .as_ref()
            .and_then(|s| s.msgs.last().map(|m| m.uid))
            .unwrap_or(0)
    }

    /// After the view took new messages above `last`: the FETCH of MessageNew's items
    /// for each (RFC 5465 5.2), after the EXISTS.
    pub(crate) async fn notify_new_messages(&mut self, last: Uid) {
        let Some(spec) = self.notify.as_ref().and_then(|n| n.selected.as_ref()) else {
            return;
        };
        if spec.fetch.is_empty() || !spec.events.has(Events::NEW) {
            return;
        }
        let attrs = spec.fetch.clone();
        let top = self.last_uid();
        let (Some(from), Some(to)) = (
            NonZeroU32::new(last.saturating_add(1)),
            NonZeroU32::new(top),
        ) else {
            return;
        };
        if top <= last {
            return;
        }
        let Some(set) = SequenceSet::new(vec![SeqRange {
            from: SeqNumber::Value(from),
            to: SeqNumber::Value(to),
        }]) else {
            return;
        };
        let r = crate::imap::cmd::fetch::run(self, true, set, attrs, None, None).await;
        if r.status != Status::Ok {
            tracing::debug!(text = %r.text, "NOTIFY MessageNew FETCH failed");
        }
    }

    /// A watched mailbox's messages changed: its STATUS, as the events asked (5.1-5.3).
    async fn notify_status(&mut self, id: MailboxId) {
        let Some(user) = &self.user else {
            return;
        };
        let account = user.account.clone();
        let condstore = self.condstore;
        let Some(n) = self.notify.as_mut() else {
            return;
        };
        if n.mark(id).is_none() {
            return;
        }
        let Ok(st) = account.status(id).await else {
            return;
        };
        // Which events: the groups' for the mailbox's current name.
        let name = match account.list_mailboxes().await {
            Ok(b) => match b.into_iter().find(|b| b.id == id) {
                Some(b) => b.name,
                None => return,
            },
            Err(_) => return,
        };
        let subs = account.subscriptions().await.unwrap_or_default();
        let Some(n) = self.notify.as_mut() else {
            return;
        };
        let ev = n.events_for(&name, &subs);
        let Some(mark) = n.mark(id) else {
            return;
        };
        use mailroom_proto::imap::command::StatusItem as I;
        let mut items: Vec<I> = Vec::new();
        let flag_events = ev.has(Events::FLAGS) || ev.has(Events::ANNOTATION);
        if st.uid_validity != mark.uid_validity {
            // 5.1: UIDVALIDITY changes are always told.
            items.extend([I::UidValidity, I::UidNext, I::Messages]);
            if condstore {
                items.push(I::HighestModSeq);
            }
        } else if (st.uid_next != mark.uid_next || st.messages != mark.messages)
            && (ev.has(Events::NEW) || ev.has(Events::EXPUNGE))
        {
            // 5.2, 5.3: STATUS (UIDNEXT MESSAGES), HIGHESTMODSEQ once CONDSTORE is on.
            items.extend([I::UidNext, I::Messages]);
            if condstore {
                items.push(I::HighestModSeq);
            }
        } else if flag_events {
            // 5.1: HIGHESTMODSEQ and UIDVALIDITY with CONDSTORE; UNSEEN when it moved.
            if condstore && st.highest_modseq != mark.modseq {
                items.extend([I::HighestModSeq, I::UidValidity]);
            }
            if st.unseen != mark.unseen {
                items.push(I::Unseen);
            }
        }
        *mark = Mark::new(id, &st);
        if items.is_empty() {
            return;
        }
        let hide = !self.service_view;
        let limit = crate::imap::cmd::capability::append_limit(self);
        let utf8 = self.utf8();
        let mut out = Vec::new();
        let _ = crate::imap::cmd::status::write_status(
            &mut out, &account, id, &name, &items, hide, limit, utf8,
        )
        .await;
        self.out.extend_from_slice(&out);
    }

    /// Loads the mailbox list and subscriptions once per delivery.
    async fn notify_listing<'a>(
        &self,
        listing: &'a mut Option<(Vec<mailroom_store::MailboxInfo>, Vec<String>)>,
    ) -> Option<&'a (Vec<mailroom_store::MailboxInfo>, Vec<String>)> {
        if listing.is_none() {
            let account = self.user.as_ref()?.account.clone();
            let boxes = account.list_mailboxes().await.ok()?;
            let subs = account.subscriptions().await.unwrap_or_default();
            *listing = Some((boxes, subs));
        }
        listing.as_ref()
    }

    /// MailboxName (5.4): `* LIST (attributes) "/" name [("OLDNAME" (old))]`, when a
    /// MailboxName group covers the name (or, for a rename, the old name).
    async fn notify_list(
        &mut self,
        name: &str,
        old: Option<&str>,
        listing: &mut Option<(Vec<mailroom_store::MailboxInfo>, Vec<String>)>,
        listed: &mut Vec<String>,
    ) {
        if listed.iter().any(|l| l == name) {
            return;
        }
        *listing = None;
        let Some((boxes, subs)) = self.notify_listing(listing).await else {
            return;
        };
        let Some(n) = self.notify.as_ref() else {
            return;
        };
        let covered = n.events_for(name, subs).has(Events::NAME)
            || old.is_some_and(|o| n.events_for(o, subs).has(Events::NAME));
        if !covered {
            return;
        }
        let line = list_line(name, old, boxes, subs, self.utf8());
        listed.push(name.to_string());
        self.out.extend_from_slice(&line);
    }

    /// SubscriptionChange (5.5): `* LIST` with `\Subscribed` when it is subscribed now.
    async fn notify_subscription(
        &mut self,
        name: &str,
        listing: &mut Option<(Vec<mailroom_store::MailboxInfo>, Vec<String>)>,
    ) {
        *listing = None;
        let Some((boxes, subs)) = self.notify_listing(listing).await else {
            return;
        };
        let Some(n) = self.notify.as_ref() else {
            return;
        };
        // Covered before or after the change (SUBSCRIBED itself changes with it).
        let mut with = subs.clone();
        with.push(name.to_string());
        if !n.events_for(name, &with).has(Events::SUBSCRIPTION) {
            return;
        }
        let line = list_line(name, None, boxes, subs, self.utf8());
        self.out.extend_from_slice(&line);
    }

    /// MailboxMetadataChange and ServerMetadataChange (5.6, 5.7; RFC 5464 4.4.2):
    /// `* METADATA mailbox entry ...`, names only.
    async fn notify_metadata(&mut self, mailbox: Option<MailboxId>, entries: &[String]) {
        let Some(user) = &self.user else {
            return;
        };
        let account = user.account.clone();
        let name = match mailbox {
            None => {
                if !self.notify.as_ref().is_some_and(|n| {
                    n.wants(Events::SERVER_METADATA) || n.metadata.has(Events::SERVER_METADATA)
                }) {
                    return;
                }
                String::new()
            }
            Some(id) => {
                let Ok(boxes) = account.list_mailboxes().await else {
                    return;
                };
                let Some(b) = boxes.into_iter().find(|b| b.id == id) else {
                    return;
                };
                let subs = account.subscriptions().await.unwrap_or_default();
                if !self.notify.as_ref().is_some_and(|n| {
                    n.metadata.has(Events::MAILBOX_METADATA)
                        || n.events_for(&b.name, &subs).has(Events::MAILBOX_METADATA)
                }) {
                    return;
                }
                b.name
            }
        };
        let utf8 = self.utf8();
        self.out.extend_from_slice(b"* METADATA ");
        mailbox_name_as(&mut self.out, &name, utf8);
        for e in entries {
            self.out.push(b' ');
            mailroom_proto::imap::encode::astring(&mut self.out, e.as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
    }
}

/// The LIST line of a name as it is now (RFC 5465 5.4, 5.5; RFC 5258 attributes):
/// `\NonExistent` when it is gone, children, `\Subscribed`, special use.
fn list_line(
    name: &str,
    old: Option<&str>,
    boxes: &[mailroom_store::MailboxInfo],
    subs: &[String],
    utf8: bool,
) -> Vec<u8> {
    let me = boxes.iter().find(|b| b.name == name);
    let children = boxes.iter().any(|b| {
        b.name.len() > name.len()
            && b.name.starts_with(name)
            && b.name.as_bytes().get(name.len()) == Some(&b'/')
    });
    let mut attrs: Vec<&str> = Vec::new();
    match me {
        None => {
            attrs.push("\\NonExistent");
            if children {
                attrs.push("\\HasChildren");
            }
        }
        Some(_) => attrs.push(if children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }),
    }
    if subs.iter().any(|s| s == name) {
        attrs.push("\\Subscribed");
    }
    if let Some(sp) = me.and_then(|b| b.special_use) {
        attrs.push(sp.as_imap());
    }
    let mut out = format!("* LIST ({}) \"/\" ", attrs.join(" ")).into_bytes();
    mailbox_name_as(&mut out, name, utf8);
    if let Some(o) = old {
        out.extend_from_slice(b" (\"OLDNAME\" (");
        mailbox_name_as(&mut out, o, utf8);
        out.extend_from_slice(b"))");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Waits until the session's NOTIFY has something (the account log, or a foreign
/// selected mailbox's watch when SELECTED asks for it). Never returns without NOTIFY.
pub(crate) async fn wait(
    notify: &mut Option<Box<Notify>>,
    selected: &mut Option<crate::imap::view::Selected>,
    own_account: Option<&mailroom_store::AccountKey>,
) {
    let Some(n) = notify.as_mut() else {
        return std::future::pending().await;
    };
    let foreign = selected
        .as_mut()
        .filter(|s| n.selected.is_some() && Some(s.account.key()) != own_account);
    match foreign {
        Some(sel) => {
            tokio::select! {
                _ = n.watch.changed() => {}
                _ = sel._watch.changed() => {}
            }
        }
        None => n.watch.changed().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session without NOTIFY pays one pointer; with it, the state is a few hundred
    /// octets plus its groups, counters and watches (the ~5 KiB target of an idle
    /// connection with NOTIFY).
    #[test]
    fn notify_state_is_small() {
        assert_eq!(std::mem::size_of::<Option<Box<Notify>>>(), 8);
        assert!(
            std::mem::size_of::<Notify>() <= 192,
            "{}",
            std::mem::size_of::<Notify>()
        );
        assert!(std::mem::size_of::<Mark>() <= 32);
        assert!(std::mem::size_of::<(Filter, Events)>() <= 40);
    }

    #[test]
    fn filters_match_as_rfc_5465_section_6_says() {
        let subs = vec!["Lists/a".to_string()];
        assert!(Filter::Inboxes.matches("INBOX", &subs));
        assert!(!Filter::Inboxes.matches("Sent", &subs));
        assert!(Filter::Personal.matches("Sent", &subs));
        assert!(!Filter::Personal.matches("~alice/x", &subs));
        assert!(Filter::Subscribed.matches("Lists/a", &subs));
        assert!(!Filter::Subscribed.matches("Lists", &subs));
        let t = Filter::Subtree(vec!["Lists".into()]);
        assert!(t.matches("Lists", &subs) && t.matches("Lists/a/b", &subs));
        assert!(!t.matches("Listserv", &subs));
        let m = Filter::Mailboxes(vec!["Pro*".into()]);
        assert!(m.matches("Pro*", &subs) && !m.matches("Projects", &subs));
    }
}
