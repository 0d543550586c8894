//! SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 4731 ESEARCH, RFC 7162 MODSEQ).
//!
//! Nesting (`OR`, `NOT`, parentheses) is parsed by bounded recursion:
//! [`MAX_SEARCH_DEPTH`] levels and [`MAX_SEARCH_KEYS`] keys per command, so a SEARCH
//! with 10,000 ORs is refused with BAD instead of exhausting the stack.

use std::borrow::Cow;

use super::{Cursor, PResult};
use crate::imap::command::{
    CommandBody, PartialRange, Search, SearchKey as K, SearchReturn, Sort, SortCriterion, SortKey,
    Thread, ThreadAlgorithm,
};

/// The most sort criteria in one SORT.
pub const MAX_SORT_CRITERIA: usize = 16;

/// The deepest nesting of `OR`/`NOT`/parentheses accepted.
pub const MAX_SEARCH_DEPTH: usize = 32;
/// The most search keys in one command.
pub const MAX_SEARCH_KEYS: usize = 1000;

impl Cursor<'_> {
    /// ```text
    /// search = "SEARCH" [search-return-opts] SP ["CHARSET" SP astring SP]
    ///          search-key *(SP search-key)
    /// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
    /// ```
    pub(crate) fn search(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let ret = self.search_return()?;
        let mut charset = None;
        if self.eat_keyword("CHARSET") {
            self.sp()?;
            let cs = self.astring()?;
            charset = Some(String::from_utf8_lossy(&cs).to_ascii_uppercase());
            self.sp()?;
        }
        let criteria = self.search_keys()?;
        Ok(CommandBody::Search(Search {
            uid,
            ret,
            charset,
            criteria,
        }))
    }

    /// ```text
    /// sort = ["UID" SP] "SORT" [SP sort-return-opts] SP sort-criteria SP search-criteria
    /// sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
    /// sort-criterion = ["REVERSE" SP] sort-key
    /// sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO" /
    ///            "DISPLAYFROM" / "DISPLAYTO"
    /// search-criteria = charset 1*(SP search-key)
    /// ```
    /// (RFC 5256 section 5, RFC 5267 section 3.2, RFC 5957 section 4.)
    pub(crate) fn sort(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let ret = self.search_return()?;
        // PARTIAL is CONTEXT=SORT's (RFC 5267 4.4); SAVE stays SEARCH's.
        if ret.is_some_and(|r| r.save) {
            return Err("the SAVE return option is for SEARCH only".to_owned());
        }
        self.expect(b'(')?;
        let mut criteria = Vec::new();
        loop {
            let mut reverse = false;
            let mut w = self.word("sort key")?;
            if w == "REVERSE" {
                reverse = true;
                self.sp()?;
                w = self.word("sort key")?;
            }
            let key = match w.as_str() {
                "ARRIVAL" => SortKey::Arrival,
                "CC" => SortKey::Cc,
                "DATE" => SortKey::Date,
                "FROM" => SortKey::From,
                "SIZE" => SortKey::Size,
                "SUBJECT" => SortKey::Subject,
                "TO" => SortKey::To,
                "DISPLAYFROM" => SortKey::DisplayFrom,
                "DISPLAYTO" => SortKey::DisplayTo,
                _ => return Err(format!("unknown sort key {w}")),
            };
            criteria.push(SortCriterion { reverse, key });
            if criteria.len() > MAX_SORT_CRITERIA {
                return Err(format!(
                    "too many sort criteria (limit {MAX_SORT_CRITERIA})"
                ));
            }
            if self.try_byte(b')') {
                break;
            }
            self.sp()?;
        }
        self.sp()?;
        let cs = self.astring()?;
        let charset = String::from_utf8_lossy(&cs).to_ascii_uppercase();
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Sort(Sort {
            uid,
            ret,
            criteria,
            charset,
            search,
        }))
    }

    /// ```text
    /// thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
    /// thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext
    /// ```
    /// (RFC 5256 section 5.)
    pub(crate) fn thread(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        // thread-alg-ext is an atom (RFC 5256 section 5).
        let w = self.atom()?.to_ascii_uppercase();
        let algorithm = match w.as_str() {
            "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
            "REFERENCES" => ThreadAlgorithm::References,
            "REFS" => ThreadAlgorithm::Refs,
            _ => return Err(format!("unknown threading algorithm {w}")),
        };
        self.sp()?;
        let cs = self.astring()?;
        let charset = String::from_utf8_lossy(&cs).to_ascii_uppercase();
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Thread(Thread {
            uid,
            algorithm,
            charset,
            search,
        }))
    }

    /// `1*search-key` separated by spaces: one key, or an AND of them.
    fn search_keys(&mut self) -> PResult<K> {
        let mut keys = vec![self.search_key(0)?];
        while self.try_byte(b' ') {
            keys.push(self.search_key(0)?);
        }
        Ok(if keys.len() == 1 {
            keys.pop().unwrap_or(K::All)
        } else {
            K::And(keys)
        })
    }

    /// `[SP "RETURN" SP "(" [option *(SP option)] ")"]` followed by SP, of SEARCH and
    /// SORT (RFC 4731, RFC 5267).
    fn search_return(&mut self) -> PResult<Option<SearchReturn>> {
        let mut ret = None;
        if self.eat_keyword("RETURN") {
            self.sp()?;
            self.expect(b'(')?;
            let mut r = SearchReturn::default();
            if !self.try_byte(b')') {
                loop {
                    let w = self.word("search return option")?;
                    match w.as_str() {
                        "MIN" => r.min = true,
                        "MAX" => r.max = true,
                        "ALL" => r.all = true,
                        "COUNT" => r.count = true,
                        // RFC 5182 SEARCHRES.
                        "SAVE" => r.save = true,
                        // RFC 5267 4.2, 4.3.
                        "CONTEXT" => r.context = true,
                        "UPDATE" => r.update = true,
                        // RFC 9394 3.1.
                        "PARTIAL" if r.partial.is_some() => {
                            return Err("duplicate PARTIAL".to_owned())
                        }
                        "PARTIAL" => {
                            self.sp()?;
                            r.partial = Some(self.partial_range()?);
                        }
                        _ => return Err(format!("unknown SEARCH return option {w}")),
                    }
                    if self.try_byte(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
            if r.all && r.partial.is_some() {
                return Err("PARTIAL and ALL cannot be used together".to_owned());
            }
            ret = Some(r);
            self.sp()?;
        }
        Ok(ret)
    }

    /// `partial-range = partial-range-first / partial-range-last` (RFC 9394 4).
    pub(crate) fn partial_range(&mut self) -> PResult<PartialRange> {
        let from_end = self.try_byte(b'-');
        let first = self.nz_number()?;
        self.expect(b':')?;
        if from_end {
            self.expect(b'-')?;
        }
        let second = self.nz_number()?;
        Ok(PartialRange {
            from_end,
            first,
            second,
        })
    }

    fn search_string(&mut self) -> PResult<Vec<u8>> {
        self.sp()?;
        self.astring().map(Cow::into_owned)
    }

    fn search_date(&mut self) -> PResult<crate::imap::types::Date> {
        self.sp()?;
        self.date()
    }

    /// `SP objectid`, `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 7), case
    /// kept (object ids are case-sensitive).
    fn objectid(&mut self) -> PResult<String> {
        self.sp()?;
        let id = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if id.is_empty()
            || id.len() > 255
            || self.peek().is_some_and(crate::imap::types::is_atom_char)
        {
            return Err("an object id is 1 to 255 letters, digits, _ and -".to_owned());
        }
        Ok(String::from_utf8_lossy(id).into_owned())
    }

    fn search_keyword(&mut self) -> PResult<String> {
        self.sp()?;
        Ok(self.atom()?.to_owned())
    }

    /// ```text
    /// search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date /
    ///   "BODY" SP astring / "CC" SP astring / "DELETED" / "FLAGGED" /
    ///   "FROM" SP astring / "KEYWORD" SP flag-keyword / "NEW" / "OLD" /
    ///   "ON" SP date / "RECENT" / "SEEN" / "SINCE" SP date /
    ///   "SUBJECT" SP astring / "TEXT" SP astring / "TO" SP astring /
    ///   "UNANSWERED" / "UNDELETED" / "UNFLAGGED" / "UNKEYWORD" SP flag-keyword /
    ///   "UNSEEN" / "DRAFT" / "HEADER" SP header-fld-name SP astring /
    ///   "LARGER" SP number / "NOT" SP search-key / "OR" SP search-key SP search-key /
    ///   "SENTBEFORE" SP date / "SENTON" SP date / "SENTSINCE" SP date /
    ///   "SMALLER" SP number / "UID" SP sequence-set / "UNDRAFT" / sequence-set /
    ///   "(" search-key *(SP search-key) ")" /
    ///   "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
    /// ```
    pub(crate) fn search_key(&mut self, depth: usize) -> PResult<K> {
        self.search_keys += 1;
        if self.search_keys > MAX_SEARCH_KEYS {
            return Err(format!("too many search keys (limit {MAX_SEARCH_KEYS})"));
        }
        if depth > MAX_SEARCH_DEPTH {
            return Err(format!(
                "search keys nested too deep (limit {MAX_SEARCH_DEPTH})"
            ));
        }
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut v = vec![self.search_key(depth + 1)?];
                while !self.try_byte(b')') {
                    self.sp()?;
                    v.push(self.search_key(depth + 1)?);
                }
                return Ok(K::And(v));
            }
            Some(b'*' | b'$' | b'0'..=b'9') => return Ok(K::SequenceSet(self.sequence_set()?)),
            _ => {}
        }
        let w = self.word("search key")?;
        Ok(match w.as_str() {
            "ALL" => K::All,
            "ANSWERED" => K::Answered,
            "DELETED" => K::Deleted,
            "DRAFT" => K::Draft,
            "FLAGGED" => K::Flagged,
            "NEW" => K::New,
            "OLD" => K::Old,
            "RECENT" => K::Recent,
            "SEEN" => K::Seen,
            "UNANSWERED" => K::Unanswered,
            "UNDELETED" => K::Undeleted,
            "UNDRAFT" => K::Undraft,
            "UNFLAGGED" => K::Unflagged,
            "UNSEEN" => K::Unseen,
            "BCC" => K::Bcc(self.search_string()?),
            "BODY" => K::Body(self.search_string()?),
            "CC" => K::Cc(self.search_string()?),
            "FROM" => K::From(self.search_string()?),
            "SUBJECT" => K::Subject(self.search_string()?),
            "TEXT" => K::Text(self.search_string()?),
            "TO" => K::To(self.search_string()?),
            "BEFORE" => K::Before(self.search_date()?),
            "ON" => K::On(self.search_date()?),
            "SINCE" => K::Since(self.search_date()?),
            "SENTBEFORE" => K::SentBefore(self.search_date()?),
            "SENTON" => K::SentOn(self.search_date()?),
            "SENTSINCE" => K::SentSince(self.search_date()?),
            // RFC 8514 SAVEDATE.
            "SAVEDBEFORE" => K::SavedBefore(self.search_date()?),
            "SAVEDON" => K::SavedOn(self.search_date()?),
            "SAVEDSINCE" => K::SavedSince(self.search_date()?),
            "SAVEDATESUPPORTED" => K::SaveDateSupported,
            // RFC 8474 6: `"EMAILID" SP objectid / "THREADID" SP objectid`.
            "EMAILID" => K::EmailId(self.objectid()?),
            "THREADID" => K::ThreadId(self.objectid()?),
            "KEYWORD" => K::Keyword(self.search_keyword()?),
            "UNKEYWORD" => K::Unkeyword(self.search_keyword()?),
            "HEADER" => {
                self.sp()?;
                let name = self.astring()?;
                if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
                    return Err("invalid header field name".to_owned());
                }
                let name = String::from_utf8_lossy(&name).into_owned();
                K::Header(name, self.search_string()?)
            }
            "LARGER" => {
                self.sp()?;
                K::Larger(self.number64()?)
            }
            "SMALLER" => {
                self.sp()?;
                K::Smaller(self.number64()?)
            }
            // RFC 5032: search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number
            "OLDER" => {
                self.sp()?;
                K::Older(self.nz_number()?)
            }
            "YOUNGER" => {
                self.sp()?;
                K::Younger(self.nz_number()?)
            }
            "UID" => {
                self.sp()?;
                K::Uid(self.sequence_set()?)
            }
            "NOT" => {
                self.sp()?;
                K::Not(Box::new(self.search_key(depth + 1)?))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key(depth + 1)?;
                self.sp()?;
                let b = self.search_key(depth + 1)?;
                K::Or(Box::new(a), Box::new(b))
            }
            "MODSEQ" => {
                self.sp()?;
                if self.peek() == Some(b'"') {
                    self.string()?;
                    self.sp()?;
                    let t = self.word("entry type")?;
                    if !matches!(t.as_str(), "PRIV" | "SHARED" | "ALL") {
                        return Err(format!("invalid entry type {t}"));
                    }
                    self.sp()?;
                }
                K::ModSeq(self.number64()?)
            }
            _ => return Err(format!("unknown search key {w}")),
        })
    }
}
