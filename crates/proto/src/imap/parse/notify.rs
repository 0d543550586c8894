//! NOTIFY (RFC 5465 section 3.1, grammar in section 8).
//!
//! The rules the RFC makes the server answer with a tagged `BAD` are checked here, with
//! the grammar: one selected filter at most (6.1), only message events with it (6.1),
//! FETCH items only with it (8, `message-event`), MessageNew and MessageExpunge together,
//! and FlagChange or AnnotationChange only with both (5). Events the server does not
//! know are kept ([`NotifyEvent::Other`]): the server answers them `NO [BADEVENT]`.

use super::{Cursor, PResult};
use crate::imap::command::{CommandBody, NotifyEvent, NotifyFilter, NotifyGroup, NotifySet};
use crate::imap::types::Mailbox;

/// The most event groups in one NOTIFY.
pub const MAX_NOTIFY_GROUPS: usize = 64;
/// The most mailbox names in one NOTIFY (all SUBTREE and MAILBOXES lists together).
pub const MAX_NOTIFY_MAILBOXES: usize = 1000;
/// The most events in one group.
const MAX_EVENTS: usize = 32;

impl Cursor<'_> {
    /// ```text
    /// notify          = "NOTIFY" SP (notify-set / notify-none)
    /// notify-set      = "SET" [status-indicator] SP event-groups
    /// notify-none     = "NONE"
    /// status-indicator = SP "STATUS"
    /// event-groups    = event-group *(SP event-group)
    /// ```
    pub(crate) fn notify(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let w = self.word("SET or NONE")?;
        match w.as_str() {
            "NONE" => return Ok(CommandBody::Notify(None)),
            "SET" => {}
            _ => return Err(format!("NOTIFY {w}: expected SET or NONE")),
        }
        self.sp()?;
        let mut status = false;
        if self.peek() != Some(b'(') {
            let w = self.word("STATUS or an event group")?;
            if w != "STATUS" {
                return Err(format!("NOTIFY SET {w}: expected STATUS or an event group"));
            }
            status = true;
            self.sp()?;
        }
        let mut groups: Vec<NotifyGroup> = Vec::new();
        let mut names = 0usize;
        loop {
            if groups.len() >= MAX_NOTIFY_GROUPS {
                return Err(format!(
                    "too many event groups (at most {MAX_NOTIFY_GROUPS})"
                ));
            }
            groups.push(self.event_group(&mut names)?);
            if !self.try_byte(b' ') {
                break;
            }
        }
        if groups.iter().filter(|g| g.filter.is_selected()).count() > 1 {
            return Err("only one of SELECTED and SELECTED-DELAYED may be given".to_owned());
        }
        Ok(CommandBody::Notify(Some(NotifySet { status, groups })))
    }

    /// ```text
    /// event-group     = "(" filter-mailboxes SP events ")"
    /// filter-mailboxes = filter-mailboxes-selected / filter-mailboxes-other
    /// filter-mailboxes-other = "inboxes" / "personal" / "subscribed" /
    ///                 ( "subtree" SP one-or-more-mailbox ) /
    ///                 ( "mailboxes" SP one-or-more-mailbox )
    /// filter-mailboxes-selected = "selected" / "selected-delayed"
    /// events          = ( "(" event *(SP event) ")" ) / "NONE"
    /// ```
    /// RFC 5465's own example in 3.1 writes the events without parentheses
    /// (`(selected MessageNew (uid ...) MessageExpunge)`, `(subtree Lists MessageNew)`):
    /// bare events up to the group's end are accepted too.
    fn event_group(&mut self, names: &mut usize) -> PResult<NotifyGroup> {
        self.expect(b'(')?;
        let f = self.word("mailbox filter")?;
        let filter = match f.as_str() {
            "SELECTED" => NotifyFilter::Selected,
            "SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
            "INBOXES" => NotifyFilter::Inboxes,
            "PERSONAL" => NotifyFilter::Personal,
            "SUBSCRIBED" => NotifyFilter::Subscribed,
            "SUBTREE" => {
                self.sp()?;
                NotifyFilter::Subtree(self.one_or_more_mailbox(names)?)
            }
            "MAILBOXES" => {
                self.sp()?;
                NotifyFilter::Mailboxes(self.one_or_more_mailbox(names)?)
            }
            _ => return Err(format!("unknown mailbox filter {f}")),
        };
        self.sp()?;
        let mut events = Vec::new();
        if self.try_byte(b'(') {
            loop {
                if events.len() >= MAX_EVENTS {
                    return Err("too many events in one group".to_owned());
                }
                events.push(self.notify_event()?);
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            // Bare events up to the group's end (the RFC's examples in 3.1).
            loop {
                if events.len() >= MAX_EVENTS {
                    return Err("too many events in one group".to_owned());
                }
                events.push(self.notify_event()?);
                if self.peek() == Some(b')') {
                    break;
                }
                self.sp()?;
            }
            if events == [NotifyEvent::Other("NONE".to_owned())] {
                events.clear();
            }
        }
        self.expect(b')')?;
        check_group(&filter, &events)?;
        Ok(NotifyGroup { filter, events })
    }

    /// `one-or-more-mailbox = mailbox / many-mailboxes`,
    /// `many-mailboxes = "(" mailbox *(SP mailbox) ")"`.
    fn one_or_more_mailbox(&mut self, names: &mut usize) -> PResult<Vec<Mailbox>> {
        let mut out = Vec::new();
        let mut count = |out: &Vec<Mailbox>| {
            *names += 1;
            if *names > MAX_NOTIFY_MAILBOXES {
                return Err(format!(
                    "too many mailbox names (at most {MAX_NOTIFY_MAILBOXES})"
                ));
            }
            let _ = out;
            Ok(())
        };
        if self.try_byte(b'(') {
            loop {
                count(&out)?;
                out.push(self.mailbox()?);
                if self.try_byte(b')') {
                    return Ok(out);
                }
                self.sp()?;
            }
        }
        count(&out)?;
        out.push(self.mailbox()?);
        Ok(out)
    }

    /// ```text
    /// event         = message-event / mailbox-event / user-event / event-ext
    /// message-event = ( "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")" ] )
    ///                 / "MessageExpunge" / "FlagChange" / "AnnotationChange"
    /// mailbox-event = "MailboxName" / "SubscriptionChange" / "MailboxMetadataChange"
    /// user-event    = "ServerMetadataChange"
    /// event-ext     = atom
    /// ```
    fn notify_event(&mut self) -> PResult<NotifyEvent> {
        let w = self.word("event")?;
        Ok(match w.as_str() {
            "MESSAGENEW" => {
                let mut attrs = Vec::new();
                let at = self.pos;
                if self.try_byte(b' ') && self.try_byte(b'(') {
                    loop {
                        self.fetch_att(&mut attrs)?;
                        if self.try_byte(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                } else {
                    self.pos = at;
                }
                NotifyEvent::MessageNew(attrs)
            }
            "MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
            "FLAGCHANGE" => NotifyEvent::FlagChange,
            "ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
            "MAILBOXNAME" => NotifyEvent::MailboxName,
            "SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
            "MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
            "SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
            _ => NotifyEvent::Other(w),
        })
    }
}

/// The rules of RFC 5465 sections 5 and 6.1 that make a group a client error.
fn check_group(filter: &NotifyFilter, events: &[NotifyEvent]) -> PResult<()> {
    let has = |f: fn(&NotifyEvent) -> bool| events.iter().any(f);
    if filter.is_selected() {
        if let Some(e) = events
            .iter()
            .find(|e| !e.is_message_event() && !matches!(e, NotifyEvent::Other(_)))
        {
            return Err(format!(
                "{e:?} is not a message event: not allowed with SELECTED (RFC 5465 6.1)"
            ));
        }
    } else if has(|e| matches!(e, NotifyEvent::MessageNew(a) if !a.is_empty())) {
        return Err(
            "FETCH items after MessageNew only with SELECTED or SELECTED-DELAYED".to_owned(),
        );
    }
    let new = has(|e| matches!(e, NotifyEvent::MessageNew(_)));
    let expunge = has(|e| matches!(e, NotifyEvent::MessageExpunge));
    if has(|e| matches!(e, NotifyEvent::FlagChange | NotifyEvent::AnnotationChange))
        && !(new && expunge)
    {
        return Err(
            "FlagChange and AnnotationChange need MessageNew and MessageExpunge (RFC 5465 5)"
                .to_owned(),
        );
    }
    if new != expunge {
        return Err("MessageNew and MessageExpunge go together (RFC 5465 5)".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::imap::command::{
        CommandBody, FetchAttribute, NotifyEvent as E, NotifyFilter as F, NotifyGroup, NotifySet,
    };
    use crate::imap::parse::parse_wire;
    use crate::imap::types::Mailbox;

    fn body(s: &str) -> Result<CommandBody, String> {
        parse_wire(s.as_bytes())
            .map(|c| c.body)
            .map_err(|e| e.message)
    }

    #[test]
    fn rfc_examples_parse() {
        let b = body(
            "b notify set status (selected MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge) (subtree Lists MessageNew)",
        );
        // The RFC's example names MessageNew alone for the subtree, which its own
        // section 5 forbids: the two-event form is the valid one (bare event list).
        assert!(b.is_err(), "{b:?}");
        let b = body(
            "b notify set status (selected MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge) (subtree Lists MessageNew MessageExpunge)",
        )
        .expect("parses");
        let CommandBody::Notify(Some(NotifySet { status, groups })) = b else {
            panic!("not NOTIFY SET: {b:?}");
        };
        assert!(status);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].filter, F::Selected);
        assert!(
            matches!(&groups[0].events[0], E::MessageNew(a) if a.len() == 2 && a[0] == FetchAttribute::Uid)
        );
        assert_eq!(
            groups[1],
            NotifyGroup {
                filter: F::Subtree(vec![Mailbox::from_utf8("Lists".into())]),
                events: vec![E::MessageNew(vec![]), E::MessageExpunge],
            }
        );
        let b = body(
            "a notify set (mailboxes INBOX (Messagenew messageExpunge)) (personal (SubscriptionChange))",
        )
        .expect("parses");
        assert!(matches!(b, CommandBody::Notify(Some(_))));
        body("a notify set (selected (Messagenew (uid flags) messageExpunge)) (personal (MessageNew FlagChange MessageExpunge))")
            .expect("parses");
        assert_eq!(body("a NOTIFY NONE"), Ok(CommandBody::Notify(None)));
        let b = body("a NOTIFY SET (personal NONE) (mailboxes (a b \"c d\") (MailboxName))")
            .expect("parses");
        let CommandBody::Notify(Some(s)) = b else {
            panic!()
        };
        assert!(s.groups[0].events.is_empty());
        assert!(matches!(&s.groups[1].filter, F::Mailboxes(v) if v.len() == 3));
        // Unknown events are kept for the server's BADEVENT.
        let b = body("a NOTIFY SET (personal (MailboxName FooEvent))").expect("parses");
        let CommandBody::Notify(Some(s)) = b else {
            panic!()
        };
        assert_eq!(s.groups[0].events[1], E::Other("FOOEVENT".into()));
    }

    #[test]
    fn rule_breakers_are_refused() {
        for bad in [
            "a NOTIFY",
            "a NOTIFY SET",
            "a NOTIFY SET STATUS",
            "a NOTIFY MAYBE",
            "a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))",
            "a NOTIFY SET (selected (MailboxName))",
            "a NOTIFY SET (personal (MessageNew (uid) MessageExpunge))",
            "a NOTIFY SET (personal (FlagChange))",
            "a NOTIFY SET (personal (MessageNew FlagChange))",
            "a NOTIFY SET (personal (MessageExpunge))",
            "a NOTIFY SET (personal (MessageNew))",
            "a NOTIFY SET (nowhere (MailboxName))",
            "a NOTIFY SET (personal ())",
            "a NOTIFY SET (subtree (MailboxName))",
            "a NOTIFY SET (personal (MailboxName)) x",
            "a NOTIFY SET (selected (MessageNew (uid bogus) MessageExpunge))",
        ] {
            assert!(body(bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn fed_byte_by_byte_and_split() {
        let full = b"a NOTIFY SET STATUS (selected-delayed (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (inboxes (MessageNew MessageExpunge)) (subscribed (SubscriptionChange MailboxName MailboxMetadataChange ServerMetadataChange))\r\n";
        let want = parse_wire(full).expect("parses");
        for cut in 0..full.len() {
            // Any prefix is not a whole command: it is refused, never a panic.
            let _ = parse_wire(&full[..cut]);
        }
        assert!(matches!(want.body, CommandBody::Notify(Some(ref s)) if s.groups.len() == 3));
    }
}
